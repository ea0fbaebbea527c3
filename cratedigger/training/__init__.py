"""Train audio-diffusion models on your own breaks.

`build_dataset` slices a folder of audio into mel images (the models' conventions, from
cratedigger.mel) in a folder Hugging Face `datasets` loads; `train` runs accelerate on it (CPU, one
GPU, or several through `accelerate launch`) and writes a model folder that
cratedigger.model.load_model reads. Modules: dataset (builder and loader), config (TrainConfig),
setup (networks, from scratch or fine-tuned), checkpoints, samples, loop.
"""

import importlib

# Loaded on first use (PEP 562): building the CLI parser reads only `config`, and must not pay
# for importing torch, diffusers and datasets.
_EXPORTS = {
    "TrainConfig": "config",
    "parse_resolution": "config",
    "DatasetReport": "dataset",
    "SkippedFile": "dataset",
    "build_dataset": "dataset",
    "load_image_dataset": "dataset",
    "TrainProgress": "loop",
    "TrainResult": "loop",
    "train": "loop",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
