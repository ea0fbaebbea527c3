"""Variations of a loop: its mel image noised part-way and denoised again, each with its own seed.

Unlike the reference pipeline, which seeds only the first item of a batch from the audio, every
variation here starts from the source.
"""

from __future__ import annotations

import math
import re
from typing import Callable

import numpy as np

from cratedigger.audio.io import validate_audio
from cratedigger.audio.resample import to_model_audio
from cratedigger.cancel import CancelToken
from cratedigger.errors import AnalysisError, BadParameterError
from cratedigger.loop import SourceGrid
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


# -- what a variation inherits from its source, and what it is called -------------------------------

# "…_140bpm_2bar" in a source's file name: the source's claim, not its variation's.
_TEMPO_TOKENS = re.compile(r"(?i)[ _.-]*\d+(?:\.\d+)?[ _-]?bpm|[ _.-]*\d+[ _-]?bars?(?![a-z])")


def source_grid(audio: np.ndarray, *, sample_rate: int, name: str, bpm: float | None = None) -> SourceGrid:
    """The tempo grid variations of `audio` (float32 [n] or [n, ch] at sample_rate Hz, the part the model
    hears) are cut on: its loop as every tool counts it (regrid.loop_meter, slicing.suggest_loop), so
    the variation's bars start where the source's do. `bpm` (a producer's tempo) is trusted as 4/4 from
    the first sample. A source without a tempo gives a grid without one (variations are then analysed)."""
    from cratedigger.regrid import check_bpm

    if bpm is not None:
        return SourceGrid(name, None, check_bpm(bpm))
    try:
        from cratedigger.analysis import analyze
        from cratedigger.regrid import loop_meter
        from cratedigger.slicing import suggest_loop

        audio = validate_audio(audio, sample_rate=sample_rate, what="source audio")
        analysis = loop_meter(analyze(audio if audio.ndim == 1 else audio.mean(axis=1), sample_rate=sample_rate))
    except (AnalysisError, BadParameterError):
        return SourceGrid(name, None, None)
    if not analysis.bpm:
        return SourceGrid(name, None, None)
    bpb = analysis.beats_per_bar or 4
    plan = suggest_loop(analysis, sample_rate=sample_rate, n_samples=audio.shape[0], bars=8)
    if plan is not None:
        return SourceGrid(name, None, plan.bpm, plan.beats_per_bar, plan.start / sample_rate)
    return SourceGrid(name, None, float(analysis.bpm), bpb, analysis.downbeats[0] if analysis.downbeats else 0.0)


def parent_name(stem: str) -> str:
    """A source file's stem as a parent's name: without the tempo and bar count its name claims
    ("break02_140bpm_2bar" -> "break02"), which its variations need not share."""
    name = _TEMPO_TOKENS.sub("", str(stem)).strip(" _.-")
    return name or str(stem)


def variation_name(parent: str, index: int) -> str:
    """A variation named after its parent, as the app names it: "Dusty Amen · var 1"."""
    return f"{parent} · var {int(index)}"


def variation_file_stem(parent: str, index: int) -> str:
    """variation_name made a file stem safe on every OS: "Dusty_Amen_var_1"."""
    from cratedigger.library.naming import sanitise_stem

    return sanitise_stem(f"{parent} var {int(index)}", fallback=f"var_{int(index)}")
