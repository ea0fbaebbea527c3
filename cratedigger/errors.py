"""One error hierarchy for the engine; the CLI and the app turn these into readable messages."""

from __future__ import annotations


class CrateDiggerError(Exception):
    """Base of every error the engine raises on purpose."""


class BadParameterError(CrateDiggerError, ValueError):
    """A request or argument is out of range or malformed; the message names the bad value."""


class ModelError(CrateDiggerError):
    """A model folder or hub id cannot be found, read or used."""


class AudioFileError(CrateDiggerError):
    """An audio file cannot be read or written, or holds no usable audio."""


class LibraryError(CrateDiggerError):
    """The sample library cannot complete an operation; nothing was lost."""


class AnalysisError(CrateDiggerError):
    """Audio cannot be analysed (too short, silent, not finite)."""


class BadAudioError(AudioFileError, AnalysisError, BadParameterError):
    """Audio handed to the engine is unusable: wrong shape, empty, not numeric, NaN or infinite, or a
    bad sample rate. The one class every audio check raises (cratedigger.audio.validate); it is also
    an AudioFileError, AnalysisError and BadParameterError, so each handler written for the classes
    the separate checks used to raise still catches it."""


class CancelledError(CrateDiggerError):
    """Long work stopped because its cancel token was set."""
