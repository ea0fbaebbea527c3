"""What a training run is asked to do: one frozen, validated dataclass, stored as JSON with the run.

Defaults follow teticio's train_unet.py (which trained the published breaks models): AdamW lr 1e-4,
betas (0.95, 0.999), weight decay 1e-6, cosine schedule with warm-up, EMA with warm-up
(inv_gamma 1, power 3/4, max decay 0.9999), DDPM with 1000 linear-beta train steps.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from cratedigger.errors import BadParameterError

MIXED_PRECISION = ("no", "fp16", "bf16")
LR_SCHEDULERS = ("cosine", "linear", "constant", "constant_with_warmup")
BREAKS_CHANNELS = (128, 128, 256, 256, 512, 512)  # teticio's UNet for audio-diffusion-*-256 (113 M parameters)
# Images up to QUICK_MAX_SIDE get a small UNet unless channels are given: "a quick model" trains in
# minutes on a CPU instead of hours (about 4 M parameters instead of 113 M).
QUICK_CHANNELS = (32, 64, 128, 128)
QUICK_MAX_SIDE = 64


def default_channels(height: int, width: int) -> tuple[int, ...]:
    """The UNet's channels per level for a new model when none are given."""
    return QUICK_CHANNELS if max(height, width) <= QUICK_MAX_SIDE else BREAKS_CHANNELS


@dataclass(frozen=True)
class TrainConfig:
    """A training run. `dataset` is a folder from build_dataset; `out` the model folder to write.

    Steps count optimizer updates (each one gradient_accumulation_steps batches of batch_size per
    process). `resolution` is (x_res, y_res) and, when given, must match the dataset's images.
    """

    dataset: Path
    out: Path
    work_dir: Path | None = None  # checkpoints, samples, log; default: OUT.training next to OUT
    resolution: tuple[int, int] | None = None
    base_model: str | None = None  # --from: hub id or folder to fine-tune
    vae: str | None = None  # AutoencoderKL for a latent model trained from scratch
    max_steps: int | None = None
    epochs: int = 100  # used when max_steps is None
    batch_size: int = 16
    gradient_accumulation_steps: int = 1
    learning_rate: float = 1e-4
    lr_scheduler: str = "cosine"
    lr_warmup_steps: int | None = None  # default: min(500, a tenth of the run)
    adam_beta1: float = 0.95
    adam_beta2: float = 0.999
    adam_weight_decay: float = 1e-6
    adam_epsilon: float = 1e-8
    max_grad_norm: float = 1.0
    mixed_precision: str = "no"
    use_ema: bool = True
    ema_max_decay: float = 0.9999
    ema_inv_gamma: float = 1.0
    ema_power: float = 0.75
    checkpoint_every: int = 500
    checkpoints_keep: int = 3
    resume: str | None = None  # "latest" or a checkpoint folder
    sample_every: int = 1000  # 0: only at the end
    sample_count: int = 2
    sample_steps: int = 50
    seed: int = 0
    block_out_channels: tuple[int, ...] | None = None  # None: default_channels(image size)
    layers_per_block: int = 2
    train_timesteps: int = 1000
    dataloader_workers: int = 0
    cpu: bool = False  # train on the CPU even when a GPU is there
    cache_dir: Path | None = None  # where `datasets` caches the loaded dataset

    def __post_init__(self) -> None:
        object.__setattr__(self, "dataset", Path(self.dataset))
        object.__setattr__(self, "out", Path(self.out))
        for name in ("work_dir", "cache_dir"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, Path(value))
        if self.resolution is not None:
            object.__setattr__(self, "resolution", parse_resolution(self.resolution))
        if self.block_out_channels is not None:
            object.__setattr__(self, "block_out_channels", tuple(int(c) for c in self.block_out_channels))
        _positive_int(self, "epochs", "batch_size", "gradient_accumulation_steps", "checkpoints_keep",
                      "sample_count", "sample_steps", "layers_per_block", "train_timesteps")
        _non_negative_int(self, "checkpoint_every", "sample_every", "dataloader_workers", "seed")
        if self.max_steps is not None:
            _positive_int(self, "max_steps")
        if self.lr_warmup_steps is not None:
            _non_negative_int(self, "lr_warmup_steps")
        for name in ("learning_rate", "adam_epsilon", "max_grad_norm", "ema_inv_gamma", "ema_power"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise BadParameterError(f"{name} must be a positive number, got {value!r}")
        for name in ("adam_beta1", "adam_beta2", "ema_max_decay"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
                raise BadParameterError(f"{name} must be in [0, 1), got {value!r}")
        if not isinstance(self.adam_weight_decay, (int, float)) or self.adam_weight_decay < 0:
            raise BadParameterError(f"adam_weight_decay must be >= 0, got {self.adam_weight_decay!r}")
        if self.mixed_precision not in MIXED_PRECISION:
            choices = ", ".join(MIXED_PRECISION)
            raise BadParameterError(f"mixed_precision must be one of {choices}, got {self.mixed_precision!r}")
        if self.lr_scheduler not in LR_SCHEDULERS:
            raise BadParameterError(f"lr_scheduler must be one of {', '.join(LR_SCHEDULERS)}, got {self.lr_scheduler!r}")
        if self.block_out_channels is not None and (not self.block_out_channels or any(c <= 0 for c in self.block_out_channels)):
            raise BadParameterError(f"block_out_channels must be positive integers, got {self.block_out_channels!r}")
        if self.base_model is not None and self.vae is not None:
            raise BadParameterError("give --from or --vae, not both: a fine-tuned model keeps its own VAE (if it has one)")
        if self.resume is not None and not str(self.resume).strip():
            raise BadParameterError("resume must be 'latest' or a checkpoint folder")
        if self.out.resolve() == self.dataset.resolve():
            raise BadParameterError(f"{self.out}: the model cannot be written over the dataset")

    @property
    def run_dir(self) -> Path:
        return self.work_dir if self.work_dir is not None else self.out.with_name(self.out.name + ".training")

    def to_json(self) -> dict:
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, Path):
                data[key] = os.fspath(value)
            elif isinstance(value, tuple):
                data[key] = list(value)
        return data

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


def parse_resolution(value) -> tuple[int, int]:
    """'256', '256x128' (x_res x y_res: time frames x mel bands), 256 or (256, 128) -> (x_res, y_res)."""
    if isinstance(value, str):
        parts = value.lower().replace(",", "x").split("x")
        try:
            numbers = [int(p) for p in parts]
        except ValueError:
            raise BadParameterError(f"resolution must be N or WxH, got {value!r}") from None
    elif isinstance(value, int) and not isinstance(value, bool):
        numbers = [value]
    else:
        numbers = list(value)
    if len(numbers) == 1:
        numbers = numbers * 2
    if len(numbers) != 2 or any(isinstance(n, bool) or not isinstance(n, int) or n < 8 for n in numbers):
        raise BadParameterError(f"resolution must be one or two integers of at least 8, got {value!r}")
    return numbers[0], numbers[1]


def _positive_int(config, *names: str) -> None:
    for name in names:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise BadParameterError(f"{name} must be a positive integer, got {value!r}")


def _non_negative_int(config, *names: str) -> None:
    for name in names:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise BadParameterError(f"{name} must be an integer >= 0, got {value!r}")
