"""Train audio-diffusion models on your own breaks.

`build_dataset` slices a folder of audio into mel images (the models' conventions, from
cratedigger.mel) in a folder Hugging Face `datasets` loads; `train` runs accelerate on it (CPU, one
GPU, or several through `accelerate launch`) and writes a model folder that
cratedigger.model.load_model reads. Modules: dataset (builder and loader), config (TrainConfig),
setup (networks, from scratch or fine-tuned), checkpoints, samples, loop.
"""

from cratedigger.training.config import TrainConfig, parse_resolution
from cratedigger.training.dataset import DatasetReport, SkippedFile, build_dataset, load_image_dataset
from cratedigger.training.loop import TrainProgress, TrainResult, train

__all__ = [
    "DatasetReport",
    "SkippedFile",
    "TrainConfig",
    "TrainProgress",
    "TrainResult",
    "build_dataset",
    "load_image_dataset",
    "parse_resolution",
    "train",
]
