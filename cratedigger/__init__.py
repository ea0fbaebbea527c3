"""CrateDigger engine: a plain Python library (no Qt) that grows drum breaks with diffusion models."""

from cratedigger.errors import (
    AnalysisError,
    AudioFileError,
    BadParameterError,
    CancelledError,
    CrateDiggerError,
    LibraryError,
    ModelError,
)

__version__ = "0.1.0"

__all__ = [
    "AnalysisError",
    "AudioFileError",
    "BadParameterError",
    "CancelledError",
    "CrateDiggerError",
    "LibraryError",
    "ModelError",
    "__version__",
]
