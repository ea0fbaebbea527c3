"""Presets a producer understands: draft (browse fast), standard (fast, quality held), best (today's
50-step DDIM at full precision). Explicit steps or scheduler given with a preset override its values.
No torch at import: the CLI parser and the app's panel read these names at start-up.

The values come from benchmarks/fast_sampling.py (figures in docs and the issue notes): seconds per
breaks-256 candidate and distance to a many-step DDIM reference on trained weights.
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
        Preset("draft", "dpm++", 6, "fast", 2, "fastest, for browsing: rougher transients"),
        Preset("standard", "dpm++3", 10, "fast", 1, "fast with the quality of 25-step DDIM"),
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
    )
