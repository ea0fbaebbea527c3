"""Variations of a loop: its mel image noised part-way and denoised again, each with its own seed.

Unlike the reference pipeline, which seeds only the first item of a batch from the audio, every
variation here starts from the source.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from cratedigger.audio.io import validate_audio
from cratedigger.audio.resample import to_model_audio
from cratedigger.cancel import CancelToken
from cratedigger.errors import BadParameterError
from cratedigger.generate import BatchSampler, Candidate, GenerationRequest, StepCallback, _noise, encode_images
from cratedigger.mel import audio_to_image
from cratedigger.model.loading import LoadedModel


def start_step_for(strength: float, steps: int) -> int:
    """strength 1.0 denoises every step (from the source noised to the top); 0.1 only the last tenth."""
    if not (isinstance(strength, (int, float)) and math.isfinite(strength) and 0.0 < strength <= 1.0):
        raise BadParameterError(f"strength must be in (0, 1], got {strength!r}")
    return steps - max(1, round(strength * steps))


def source_frames_needed(model: LoadedModel, sample_rate: int) -> int:
    """Frames of the source (at sample_rate) that the first model slice covers, with a little margin
    for the resampler's edge."""
    return int(math.ceil(model.mel.slice_seconds * sample_rate)) + int(0.05 * sample_rate) + 16


def make_variations(
    model: LoadedModel,
    audio: np.ndarray,
    *,
    sample_rate: int,
    count: int,
    strength: float,
    seeds: tuple[int, ...] | None = None,
    steps: int | None = None,
    scheduler: str = "ddim",
    eta: float = 0.0,
    batch_size: int | None = None,
    on_batch: Callable[[list[Candidate]], None] | None = None,
    on_step: StepCallback | None = None,
    cancel: CancelToken | None = None,
) -> list[Candidate]:
    """`count` variations of the first slice of `audio` (float32 [n] or [n, ch] at sample_rate, any rate:
    it is downmixed and resampled to the model's rate for the model).

    Progress counts candidate-steps over the steps actually run (steps - start step).
    """
    audio = validate_audio(audio, sample_rate=sample_rate, what="source audio")
    request = GenerationRequest(
        count=count, steps=steps, scheduler=scheduler, seeds=seeds, eta=eta, batch_size=batch_size
    ).resolved(model)
    start_step = start_step_for(strength, request.steps)
    # Only the first slice is used: cut before resampling, so a long source costs one slice of memory.
    audio = audio[: source_frames_needed(model, sample_rate)]
    mono = to_model_audio(audio, sample_rate=sample_rate, model_rate=model.mel.sample_rate)
    image = audio_to_image(mono, model.mel)
    source = encode_images(model, image[None])  # [1, C, h, w], shared by every item
    sampler = BatchSampler(
        model,
        request,
        on_step=on_step,
        cancel=cancel,
        start_step=start_step,
        extra_params={"kind": "variation", "strength": float(strength), "start_step": start_step},
    )
    return sampler.run(
        lambda seeds_, generators: _noise(model, generators),
        on_batch=on_batch,
        source_for=lambda indices: source.expand(len(indices), *source.shape[1:]),
    )
