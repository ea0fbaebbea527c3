"""Requests -> candidate breaks: the denoising loop, schedulers, per-candidate seeds, masks.

One small loop serves plain generation, generation from audio (variations) and outpainting
(extension): start from noise, or from a source noised to `start_step`; optionally keep some
columns of the source, re-noised to each step, so the model continues what is there.
"""

from __future__ import annotations

import inspect
import logging
import math
import secrets
import time
import weakref
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

import numpy as np
import torch

from cratedigger.audio.dsp import peak_normalise
from cratedigger.cancel import CancelToken
from cratedigger.errors import BadParameterError
from cratedigger.feature_reuse import ReuseForward, check_interval
from cratedigger.mel import image_to_audio
from cratedigger.model.device import PRECISIONS, Precision, sampling_precision
from cratedigger.model.loading import LoadedModel
from cratedigger.sampling_backend import check_backend
from cratedigger.schedulers import SCHEDULERS, check_scheduler, default_steps
from cratedigger.schedulers import make_scheduler as _make_scheduler

log = logging.getLogger(__name__)

# The scheduler list lives in cratedigger.schedulers; these names stay for older imports.
DEFAULT_STEPS = {name: spec.default_steps for name, spec in SCHEDULERS.items() if spec.default_steps}
MAX_SEED = 2**32 - 1

# on_step(done, total): progress in candidate-steps (a step of a batch of 4 counts 4), so the total
# stays count * steps even when an out-of-memory retry changes the batch size.
StepCallback = Callable[[int, int], None]
# on_stage(text): a slow stage before the steps start, such as a backend converting the model once.
StageCallback = Callable[[str], None]


@dataclass(frozen=True)
class GenerationRequest:
    """What to generate. Seeds: one per candidate; random ones are drawn when not given.

    precision: "full" (the load dtype: fp32 on the CPU) or "fast" (bf16 + channels_last on CPUs
    with native bf16, fp16 on CUDA; see sampling_precision). reuse: feature-reuse interval, 1 = none.
    preset: the preset these values came from (recorded only; see cratedigger.presets).
    backend: what runs the UNet, "torch" or "openvino" (the CPU only, full steps only: feature
    reuse needs the torch UNet's blocks; see cratedigger.sampling_backend).
    """

    count: int = 1
    steps: int | None = None
    scheduler: str = "ddim"
    seeds: tuple[int, ...] | None = None
    eta: float = 0.0
    batch_size: int | None = None
    precision: str = "full"
    reuse: int = 1
    preset: str | None = None
    backend: str = "torch"

    def __post_init__(self) -> None:
        if isinstance(self.count, bool) or not isinstance(self.count, int) or not 1 <= self.count <= 1024:
            raise BadParameterError(f"count must be an integer from 1 to 1024, got {self.count!r}")
        check_scheduler(self.scheduler)
        if self.precision not in PRECISIONS:
            raise BadParameterError(f"unknown precision {self.precision!r} (choose from {', '.join(PRECISIONS)})")
        check_interval(self.reuse)
        check_backend(self.backend)
        if self.backend != "torch" and self.reuse > 1:
            raise BadParameterError(_reuse_needs_torch(self))
        if self.steps is not None and (not isinstance(self.steps, int) or not 1 <= self.steps <= 10000):
            raise BadParameterError(f"steps must be an integer from 1 to 10000, got {self.steps!r}")
        if self.seeds is not None:
            seeds = tuple(self.seeds)
            if len(seeds) != self.count:
                raise BadParameterError(f"{len(seeds)} seeds given for {self.count} candidates")
            if any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or not 0 <= s <= MAX_SEED for s in seeds):
                raise BadParameterError(f"seeds must be integers from 0 to {MAX_SEED}, got {seeds!r}")
            object.__setattr__(self, "seeds", tuple(int(s) for s in seeds))
        if not (isinstance(self.eta, (int, float)) and math.isfinite(self.eta) and 0.0 <= self.eta <= 1.0):
            raise BadParameterError(f"eta must be between 0 and 1, got {self.eta!r}")
        if self.batch_size is not None and (not isinstance(self.batch_size, int) or self.batch_size < 1):
            raise BadParameterError(f"batch_size must be a positive integer, got {self.batch_size!r}")

    def resolved(self, model: LoadedModel) -> "GenerationRequest":
        """Fill in the step count for the scheduler and draw random seeds where none were given."""
        steps = self.steps or default_steps(self.scheduler, model.train_timesteps)
        if steps > model.train_timesteps:
            raise BadParameterError(f"steps {steps} exceeds the model's {model.train_timesteps} train timesteps")
        seeds = self.seeds or tuple(secrets.randbelow(MAX_SEED + 1) for _ in range(self.count))
        return replace(self, steps=steps, seeds=seeds)


def _reuse_needs_torch(request: GenerationRequest) -> str:
    """One line for reuse > 1 on a compiled backend: a compiled graph cannot run the UNet's blocks
    one by one. Presets that set reuse are refused too: without it they would be slower than on
    torch, which is not what the producer chose them for."""
    if request.preset is None:
        return f"feature reuse needs the torch backend: reuse {request.reuse} was asked for with backend {request.backend!r} (use reuse 1)"
    from cratedigger.presets import PRESETS

    whole = " or ".join(repr(p.name) for p in PRESETS.values() if p.reuse == 1)
    return (
        f"feature reuse needs the torch backend: preset {request.preset!r} reuses features every {request.reuse} steps "
        f"(with backend {request.backend!r} use preset {whole})"
    )


@dataclass(frozen=True, eq=False)
class Candidate:
    """One generated break: audio float32 [n_samples] at sample_rate (peak-normalised), its mel image
    uint8 [y_res, x_res], its seed and every parameter that made it."""

    index: int
    seed: int
    audio: np.ndarray
    image: np.ndarray
    sample_rate: int
    params: dict = field(default_factory=dict)
    seconds: float | None = None  # wall time of its batch (denoise, decode, inversion) / batch size

    @property
    def duration(self) -> float:
        return self.audio.shape[0] / self.sample_rate


def make_scheduler(model: LoadedModel, name: str):
    """A fresh scheduler (they are stateful) of the named kind, built from the model's config."""
    return _make_scheduler(model.scheduler_config, name)


def default_batch_size(model: LoadedModel, count: int) -> int:
    """GPUs take big batches, capped by free memory (and halved on out-of-memory); on a CPU one at a
    time: batch 4 is no faster per item on two cores, and each candidate reaches the UI sooner."""
    if model.device.type == "cpu":
        return 1
    cap = 16
    if model.device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(model.device)
        cap = max(1, min(cap, int(free * 0.5 // estimate_item_bytes(model))))
    return max(1, min(count, cap))


def estimate_item_bytes(model: LoadedModel, dtype: torch.dtype | None = None) -> int:
    """Rough peak activation memory of one item in a UNet forward pass: about sixteen feature maps of
    the widest full-resolution block alive at once (measured on breaks-256: ~10-16)."""
    channels, height, width = model.sample_shape
    first_block = int(model.unet.config.block_out_channels[0])
    element = torch.finfo(dtype or model.dtype).bits // 8
    return 16 * height * width * max(first_block, channels) * element


# model.unet -> {Precision: the UNet in that precision}; dropped with the model.
_UNET_VARIANTS: "weakref.WeakKeyDictionary[torch.nn.Module, dict]" = weakref.WeakKeyDictionary()


def unet_for(model: LoadedModel, precision: Precision) -> torch.nn.Module:
    """The model's UNet in `precision`. The loaded one serves its own dtype (channels_last is set in
    place: same results for contiguous callers); another dtype is a cast copy, made once per model."""
    unet = model.unet
    if precision.dtype == model.dtype:
        if precision.channels_last:
            unet.to(memory_format=torch.channels_last)
        return unet
    variants = _UNET_VARIANTS.setdefault(unet, {})
    if precision not in variants:
        import copy

        log.info("casting the UNet to %s for fast sampling", precision.name)
        # nn.Module.to, not diffusers' override: that one warns on every cast about fp32-only modules
        # even when the model has none (UNet2DModel: []), and the warning reached the CLI's stderr.
        copied = torch.nn.Module.to(copy.deepcopy(unet), dtype=precision.dtype)
        if precision.channels_last:
            copied = copied.to(memory_format=torch.channels_last)
        variants[precision] = copied.eval().requires_grad_(False)
    return variants[precision]


def unet_forward(model: LoadedModel, precision: Precision, *, backend: str, reuse: int, on_stage=None):
    """forward(sample, t) -> prediction for one denoising run: the torch UNet (with feature reuse
    every `reuse` steps), or the OpenVINO-compiled one (converted once, then cached on disk)."""
    if backend == "torch":
        return ReuseForward(unet_for(model, precision), reuse)
    if reuse > 1:
        raise BadParameterError(f"feature reuse needs the torch backend, not {backend!r}")
    from cratedigger.openvino_unet import openvino_forward

    return openvino_forward(model, precision, on_stage=on_stage)


def generate(
    model: LoadedModel,
    request: GenerationRequest,
    *,
    on_batch: Callable[[list[Candidate]], None] | None = None,
    on_step: StepCallback | None = None,
    cancel: CancelToken | None = None,
    on_stage: StageCallback | None = None,
) -> list[Candidate]:
    """Generate request.count candidates from noise, in batches.

    Each finished batch goes to `on_batch` at once, so a UI can show it while the rest cook.
    `on_step(done, total)` is called after every denoising step; `cancel` stops within one step
    (raising CancelledError; batches already handed to on_batch stay delivered). `on_stage(text)`
    names a slow stage before the first step (the openvino backend converting the model, once).
    """
    request = request.resolved(model)
    sampler = BatchSampler(model, request, on_step=on_step, cancel=cancel, on_stage=on_stage)
    return sampler.run(lambda seeds, generators: _noise(model, generators), on_batch=on_batch)


def _noise(model: LoadedModel, generators: Sequence[torch.Generator]) -> torch.Tensor:
    """Initial noise [B, C, H, W], each item from its own CPU generator: same seed, same break, any device."""
    shape = model.sample_shape
    return torch.stack([torch.randn(shape, generator=g, dtype=torch.float32) for g in generators]).to(model.device)


class BatchSampler:
    """Runs a request batch by batch, keeping one step counter across batches for progress."""

    def __init__(self, model, request, *, on_step, cancel, start_step=0, extra_params=None, on_stage=None):
        self.model = model
        self.request = request
        self.on_step = on_step
        self.on_stage = on_stage
        self.cancel = cancel or CancelToken()
        self.start_step = start_step
        self.extra_params = extra_params or {}
        self.steps_per_batch = request.steps - start_step
        # "full" is whatever the model was loaded in (a caller may load fp32 on a GPU)
        self.precision = Precision(model.dtype) if request.precision == "full" else sampling_precision(model.device, "fast")
        self.done = 0

    def run(self, make_start, *, on_batch=None, source_for=None, keep_columns: int = 0) -> list[Candidate]:
        """make_start(seeds, generators) -> initial noise; source_for(indices) -> model-space source."""
        seeds = list(self.request.seeds)
        batch = self.request.batch_size or default_batch_size(self.model, len(seeds))
        self.total = len(seeds) * self.steps_per_batch
        # cast (or convert, for a compiled backend) before the first batch's clock starts
        unet_forward(self.model, self.precision, backend=self.request.backend, reuse=self.request.reuse, on_stage=self.on_stage)
        self.cancel.raise_if_cancelled()  # a conversion takes a minute and cannot stop midway
        results: list[Candidate] = []
        start = 0
        while start < len(seeds):
            indices = list(range(start, min(start + batch, len(seeds))))
            try:
                candidates = self._run_batch(indices, make_start, source_for, keep_columns)
            except torch.OutOfMemoryError:
                if batch == 1:
                    raise
                batch = max(1, batch // 2)
                log.warning("out of memory: retrying with batches of %d", batch)
                self._empty_cache()
                continue
            results.extend(candidates)
            if on_batch is not None:
                on_batch(candidates)
            start = indices[-1] + 1
        return results

    def _empty_cache(self) -> None:
        if self.model.device.type == "cuda":
            torch.cuda.empty_cache()

    def _run_batch(self, indices, make_start, source_for, keep_columns) -> list[Candidate]:
        seeds = [self.request.seeds[i] for i in indices]
        generators = [torch.Generator(device="cpu").manual_seed(s) for s in seeds]
        started = time.perf_counter()
        done_before = self.done
        self.current_batch = len(indices)
        noise = make_start(seeds, generators)
        source = source_for(indices) if source_for is not None else None
        try:
            latents = denoise(
                self.model,
                noise=noise,
                scheduler=self.request.scheduler,
                steps=self.request.steps,
                eta=self.request.eta,
                generators=generators,
                start_step=self.start_step,
                source=source,
                start_from_source=source is not None and keep_columns == 0,
                keep_columns=keep_columns,
                on_step=self._step,
                cancel=self.cancel,
                precision=self.precision,
                reuse=self.request.reuse,
                backend=self.request.backend,
            )
            images = decode_images(self.model, latents)
        except torch.OutOfMemoryError:
            self.done = done_before  # the batch will be retried smaller
            raise
        audio = image_to_audio(images, self.model.mel, device=self.model.device)
        images_np = images.cpu().numpy()
        seconds = (time.perf_counter() - started) / len(indices)
        out = []
        for row, (index, seed) in enumerate(zip(indices, seeds)):
            params = {
                "model": self.model.ref,
                "revision": self.model.revision,
                "scheduler": self.request.scheduler,
                "steps": self.request.steps,
                "eta": self.request.eta,
                "seed": seed,
                "device": str(self.model.device),
                "dtype": str(self.precision.dtype).removeprefix("torch."),
                "precision": self.precision.name,
                "reuse": self.request.reuse,
                "preset": self.request.preset,
                "backend": self.request.backend,
                "sample_rate": self.model.mel.sample_rate,
                **self.extra_params,
            }
            out.append(
                Candidate(
                    index=index,
                    seed=seed,
                    audio=peak_normalise(audio[row]),
                    image=images_np[row],
                    sample_rate=self.model.mel.sample_rate,
                    params=params,
                    seconds=seconds,
                )
            )
        return out

    def _step(self, _done_in_batch: int, _total_in_batch: int) -> None:
        self.done += self.current_batch
        if self.on_step is not None:
            self.on_step(self.done, self.total)


def _step_kwargs(scheduler, *, eta: float, generators) -> dict:
    """Pass eta and the per-item generators only to schedulers whose step() takes them."""
    accepted = inspect.signature(scheduler.step).parameters
    kwargs = {}
    if "eta" in accepted:
        kwargs["eta"] = eta
    if "generator" in accepted:
        kwargs["generator"] = list(generators)
    return kwargs


@torch.inference_mode()
def denoise(
    model: LoadedModel,
    *,
    noise: torch.Tensor,
    scheduler: str,
    steps: int,
    eta: float = 0.0,
    generators: Sequence[torch.Generator],
    start_step: int = 0,
    source: torch.Tensor | None = None,
    start_from_source: bool = False,
    keep_columns: int = 0,
    on_step: StepCallback | None = None,
    cancel: CancelToken | None = None,
    precision: Precision | None = None,
    reuse: int = 1,
    backend: str = "torch",
) -> torch.Tensor:
    """The denoising loop on model space [B, C, H, W] (pixels in [-1, 1], or scaled latents).

    start_from_source: start from `source` noised to the first remaining step, timesteps[start_step]
    (generation from audio: every item depends on the source, even at full strength).
    keep_columns > 0: the first columns of `source`, noised to each step, overwrite the sample after
    every step (outpainting), and are exactly the source at the end.
    precision: the UNet's dtype and layout (default: the model's load dtype, contiguous); the
    sample and the scheduler stay fp32 whatever it is. reuse: feature-reuse interval (1 = none).
    backend: "torch", or "openvino" (compiled for `precision` on first use; see openvino_unet).
    """
    sched = make_scheduler(model, scheduler)
    sched.set_timesteps(steps, device=model.device)
    timesteps = sched.timesteps[start_step:]
    if len(timesteps) == 0:
        raise BadParameterError(f"start_step {start_step} leaves no steps of {steps}")
    if (start_from_source or keep_columns > 0) and source is None:
        raise BadParameterError("start_from_source and keep_columns need a source")
    sample = noise.to(model.device, torch.float32)
    if source is not None:
        source = source.to(model.device, torch.float32).expand_as(sample)
    if start_from_source:
        sample = sched.add_noise(source, sample, timesteps[:1])
    else:
        sample = sample * sched.init_noise_sigma
    kwargs = _step_kwargs(sched, eta=eta, generators=generators)
    precision = precision or Precision(model.dtype)
    forward = unet_forward(model, precision, backend=backend, reuse=reuse)
    # a compiled backend takes fp32 in and applies its precision inside
    feed = precision if backend == "torch" else Precision(torch.float32)
    layout = torch.channels_last if feed.channels_last else torch.contiguous_format
    for i, t in enumerate(timesteps):
        if cancel is not None:
            cancel.raise_if_cancelled()
        model_input = sched.scale_model_input(sample, t).to(feed.dtype).contiguous(memory_format=layout)
        prediction = forward(model_input, t).to(torch.float32).contiguous()
        sample = sched.step(prediction, t, sample, **kwargs).prev_sample
        if keep_columns > 0:
            if i + 1 < len(timesteps):
                kept = sched.add_noise(source, noise.to(sample.device, torch.float32), timesteps[i + 1 : i + 2])
            else:
                kept = source
            sample[..., :keep_columns] = kept[..., :keep_columns]
        if on_step is not None:
            on_step(i + 1, len(timesteps))
    return sample


@torch.inference_mode()
def decode_images(model: LoadedModel, sample: torch.Tensor) -> torch.Tensor:
    """Model space [B, C, h, w] -> uint8 mel images [B, y_res, x_res] on the model's device."""
    if model.vqvae is not None:
        scale = float(getattr(model.vqvae.config, "scaling_factor", 1.0) or 1.0)
        sample = model.vqvae.decode((sample / scale).to(model.dtype)).sample.to(torch.float32)
    images = ((sample / 2 + 0.5).clamp(0, 1) * 255).round().to(torch.uint8)
    return images[:, 0]


@torch.inference_mode()
def encode_images(model: LoadedModel, images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 mel images [B, y_res, x_res] -> model space [B, C, h, w] (the VAE's mean for latents)."""
    pixels = torch.as_tensor(np.asarray(images)).to(model.device, torch.float32)
    pixels = (pixels / 255.0 * 2 - 1)[:, None]
    if model.vqvae is None:
        return pixels
    scale = float(getattr(model.vqvae.config, "scaling_factor", 1.0) or 1.0)
    latents = model.vqvae.encode(pixels.to(model.dtype)).latent_dist.mode().to(torch.float32)
    return latents * scale
