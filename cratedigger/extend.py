"""Extend a loop by whole bars with outpainting (teticio's method, made bar-aligned).

Each round builds a mel image whose first columns are the last bars of what exists; those columns
are re-noised to every denoising step and overwrite the sample, so the model continues the groove.
The new bars are appended after a short equal-power crossfade that ends on the downbeat where the
source ends: the source is kept sample for sample except its last CROSSFADE_SECONDS (10 ms), which
fade into the new audio.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, field

import numpy as np

from cratedigger.audio.dsp import equal_power_crossfade
from cratedigger.audio.io import validate_audio
from cratedigger.audio.resample import resample, to_model_audio
from cratedigger.cancel import CancelToken
from cratedigger.errors import BadParameterError
from cratedigger.generate import MAX_SEED, DEFAULT_STEPS, GenerationRequest, StepCallback, decode_images, denoise, encode_images, _noise
from cratedigger.mel import audio_to_image, image_to_audio
from cratedigger.model.loading import LoadedModel

CROSSFADE_SECONDS = 0.010


@dataclass(frozen=True, eq=False)
class ExtendResult:
    """The extended loop: audio float32 ([n] or [n, ch], as the source) at the source's sample rate."""

    audio: np.ndarray
    sample_rate: int
    bpm: float
    bars_added: int
    source_samples: int
    seeds: tuple[int, ...]
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ExtendPlan:
    """How each round splits the model's slice (in samples at the model's rate)."""

    bar: float  # samples per bar
    keep: int  # samples of existing audio placed at the start of each slice
    bars_per_round: int
    rounds: int


def plan_extension(*, slice_samples: int, bar_samples: float, bars_to_add: int, existing: int,
                   sample_rate: int | None = None) -> ExtendPlan:
    """Keep whole bars, at least one where it fits and at most half a slice; add whole bars each round.
    All lengths in samples at the model's rate (`sample_rate`, for the message)."""
    if bar_samples >= slice_samples * 0.9:
        if sample_rate:
            bar, window = f"{bar_samples / sample_rate:.2f} s", f"{slice_samples / sample_rate:.2f} s"
        else:
            bar, window = f"{bar_samples:.0f} samples", f"{slice_samples} samples"
        raise BadParameterError(
            f"one bar of this loop lasts {bar}, but this model's window is {window}: extending needs a bar "
            "that fits in the window with room to spare (a model with a longer window, or a faster loop)"
        )
    keep_bars = int((slice_samples / 2) // bar_samples)
    if keep_bars >= 1:
        keep = keep_bars * bar_samples
    else:  # a bar is more than half a slice: keep what leaves room for one new bar
        keep = slice_samples - bar_samples
    keep = int(min(keep, existing))
    bars_per_round = max(1, int((slice_samples - keep) // bar_samples))
    return ExtendPlan(bar=bar_samples, keep=keep, bars_per_round=bars_per_round, rounds=math.ceil(bars_to_add / bars_per_round))


def extend_loop(
    model: LoadedModel,
    audio: np.ndarray,
    *,
    sample_rate: int,
    bpm: float,
    bars_to_add: int,
    beats_per_bar: int = 4,
    seed: int | None = None,
    steps: int | None = None,
    scheduler: str = "ddim",
    eta: float = 0.0,
    on_step: StepCallback | None = None,
    cancel: CancelToken | None = None,
) -> ExtendResult:
    """Add `bars_to_add` bars at `bpm` after the end of `audio` (which should end on a downbeat).

    The result holds len(audio) + round(bars_to_add * bar seconds * sample_rate) samples; its first
    samples up to the crossfade are the source's exactly. Progress counts steps over all rounds.
    """
    audio = validate_audio(audio, sample_rate=sample_rate, what="source audio")
    if not (isinstance(bpm, (int, float)) and math.isfinite(bpm) and 20 <= bpm <= 400):
        raise BadParameterError(f"bpm must be between 20 and 400, got {bpm!r}")
    if isinstance(bars_to_add, bool) or not isinstance(bars_to_add, int) or not 1 <= bars_to_add <= 64:
        raise BadParameterError(f"bars_to_add must be an integer from 1 to 64, got {bars_to_add!r}")
    if isinstance(beats_per_bar, bool) or not isinstance(beats_per_bar, int) or not 1 <= beats_per_bar <= 16:
        raise BadParameterError(f"beats_per_bar must be an integer from 1 to 16, got {beats_per_bar!r}")
    request = GenerationRequest(count=1, steps=steps, scheduler=scheduler, seeds=None if seed is None else (seed,), eta=eta)
    steps = request.resolved(model).steps
    mel = model.mel
    bar_seconds = beats_per_bar * 60.0 / bpm
    context = to_model_audio(audio, sample_rate=sample_rate, model_rate=mel.sample_rate)
    plan = plan_extension(
        slice_samples=mel.slice_samples,
        bar_samples=bar_seconds * mel.sample_rate,
        bars_to_add=bars_to_add,
        existing=context.size,
        sample_rate=mel.sample_rate,
    )
    first_seed = seed if seed is not None else secrets.randbelow(MAX_SEED + 1)
    seeds = tuple((first_seed + i) % (MAX_SEED + 1) for i in range(plan.rounds))
    crossfade = max(1, round(CROSSFADE_SECONDS * sample_rate))
    crossfade_model = max(1, round(CROSSFADE_SECONDS * mel.sample_rate))
    total_steps = plan.rounds * steps
    result, added = audio, 0
    for round_index, round_seed in enumerate(seeds):
        n_bars = min(plan.bars_per_round, bars_to_add - added)

        def round_progress(done: int, _total: int, base=round_index * steps) -> None:
            if on_step is not None:
                on_step(base + done, total_steps)

        generated = _outpaint_slice(
            model, context, keep=plan.keep, seed=round_seed, steps=steps, scheduler=scheduler, eta=eta,
            on_step=round_progress, cancel=cancel,
        )
        # New audio in this round: from the end of what exists to the end of n_bars more bars.
        start_model = plan.keep
        end_model = plan.keep + round((added + n_bars) * plan.bar) - round(added * plan.bar)
        fresh_model = generated[start_model:end_model]
        context = np.concatenate([context, fresh_model])
        # The same span at the source's rate and channels, with a crossfade's worth of pre-roll.
        n_new = round((added + n_bars) * bar_seconds * sample_rate) - round(added * bar_seconds * sample_rate)
        segment = resample(generated[start_model - crossfade_model : end_model], from_rate=mel.sample_rate, to_rate=sample_rate)
        segment = _fit_length(segment, crossfade + n_new)
        if audio.ndim == 2:
            segment = np.repeat(segment[:, None], audio.shape[1], axis=1)
        result = equal_power_crossfade(result, segment, overlap=crossfade)
        added += n_bars
    params = {
        "kind": "extension",
        "model": model.ref,
        "revision": model.revision,
        "scheduler": scheduler,
        "steps": steps,
        "eta": eta,
        "seeds": list(seeds),
        "bpm": float(bpm),
        "bars_added": bars_to_add,
        "beats_per_bar": beats_per_bar,
        "keep_seconds": plan.keep / mel.sample_rate,
    }
    return ExtendResult(
        audio=result.astype(np.float32), sample_rate=sample_rate, bpm=float(bpm), bars_added=bars_to_add,
        source_samples=audio.shape[0], seeds=seeds, params=params,
    )


def fit_extension_pcm(result: ExtendResult) -> tuple[np.ndarray, float]:
    """The extended audio made to fit PCM the way export does (turned down, never clipped), without
    touching a source that fits: only the new audio (from the crossfade on) is turned down then.
    A source that itself peaks above full scale cannot be kept in PCM, so all of it is turned down.
    Returns (audio, gain applied to the part that was turned down, 1.0 for none)."""
    from cratedigger.audio.io import MAX_PCM_PEAK, fit_pcm

    audio = result.audio
    cut = max(0, result.source_samples - max(1, round(CROSSFADE_SECONDS * result.sample_rate)))
    if float(np.max(np.abs(audio[:cut]), initial=0.0)) > MAX_PCM_PEAK:
        return fit_pcm(audio)
    tail, gain = fit_pcm(audio[cut:])
    if gain == 1.0:
        return audio, 1.0
    return np.concatenate([audio[:cut], tail]).astype(np.float32), gain


def _fit_length(segment: np.ndarray, n: int) -> np.ndarray:
    if segment.shape[0] >= n:
        return segment[:n]
    return np.pad(segment, (0, n - segment.shape[0]))


def _outpaint_slice(model, context, *, keep, seed, steps, scheduler, eta, on_step, cancel) -> np.ndarray:
    """One slice whose first `keep` samples continue `context`; returns its audio at the model's rate,
    levelled so the kept part is as loud as the context's."""
    import torch

    mel = model.mel
    window = context[context.size - keep :]
    image = audio_to_image(window, mel)  # the kept bars, then silence the model will fill
    source = encode_images(model, image[None])
    keep_columns = keep // mel.hop_length
    if model.is_latent:  # mask in latent space: scale columns by the latent width
        keep_columns = keep_columns * model.sample_shape[2] // mel.x_res
    generator = torch.Generator(device="cpu").manual_seed(seed)
    sample = denoise(
        model, noise=_noise(model, [generator]), scheduler=scheduler, steps=steps, eta=eta, generators=[generator],
        source=source, keep_columns=keep_columns, on_step=on_step, cancel=cancel,
    )
    generated = image_to_audio(decode_images(model, sample), mel, device=model.device)[0]
    # Mel images are level-relative: match the kept region's loudness to the context's.
    reference = _rms(window)
    made = _rms(generated[:keep])
    gain = float(np.clip(reference / made, 0.1, 10.0)) if made > 1e-9 and reference > 1e-9 else 1.0
    return (generated * gain).astype(np.float32)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0
