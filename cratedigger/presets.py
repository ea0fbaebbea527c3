"""Presets a producer understands: draft (browse fast), standard (fast, quality held), best (today's
50-step DDIM at full precision). Explicit steps or scheduler given with a preset override its values.
No torch at import: the CLI parser and the app's panel read these names at start-up.

Speeds come from benchmarks/fast_sampling.py (figures in the issue-16 notes): a reused step costs
0.38 of a full one on breaks-256, bf16 + channels_last ~2.2x on native-bf16 CPUs. On the starter
model (snapshot, 4 seeds) the DPM-Solver++/UniPC runs landed far from a 100-step DDIM reference (LSD
~25 dB at 8 steps) while 10-step DDIM was at 10.2 dB (25-step DDIM: 7.3), so standard is 10-step DDIM
at fast precision (5x 50-step fp32 DDIM in fp32; ~10x with native bf16) until the solvers are made to
match (the model's clip_sample is not applied by them: likely cause, unverified). It does not yet meet
the issue's bar (as close as 25-step DDIM); see the notes.
"""

from __future__ import annotations

from dataclasses import dataclass

from typing import TYPE_CHECKING

from cratedigger.errors import BadParameterError

if TYPE_CHECKING:
    from cratedigger.generate import GenerationRequest


@dataclass(frozen=True)
class Preset:
    name: str
    scheduler: str
    steps: int
    precision: str  # "fast" or "full" (cratedigger.model.device.sampling_precision)
    reuse: int  # feature reuse interval; 1 = none
    about: str


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("draft", "dpm++3", 6, "fast", 2, "fastest, for browsing: rougher transients"),
        Preset("standard", "ddim", 10, "fast", 1, "fast; the closest to many-step DDIM of the fast settings measured"),
        Preset("best", "ddim", 50, "full", 1, "50-step DDIM at full precision"),
    )
}
PRESET_NAMES = tuple(PRESETS)
DEFAULT_PRESET = "standard"


def get_preset(name: str) -> Preset:
    preset = PRESETS.get(name)
    if preset is None:
        raise BadParameterError(f"unknown preset {name!r} (choose from {', '.join(PRESETS)})")
    return preset


def preset_request(
    name: str,
    *,
    count: int = 1,
    seeds: tuple[int, ...] | None = None,
    steps: int | None = None,
    scheduler: str | None = None,
    eta: float = 0.0,
    batch_size: int | None = None,
    backend: str = "torch",
) -> "GenerationRequest":
    """The request for preset `name`; `steps` / `scheduler` when given replace the preset's."""
    from cratedigger.generate import GenerationRequest

    preset = get_preset(name)
    return GenerationRequest(
        count=count,
        steps=preset.steps if steps is None else steps,
        scheduler=preset.scheduler if scheduler is None else scheduler,
        seeds=seeds,
        eta=eta,
        batch_size=batch_size,
        precision=preset.precision,
        reuse=preset.reuse,
        preset=preset.name,
        backend=backend,
    )
