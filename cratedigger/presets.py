"""Presets a producer understands: draft (browse fast), standard (fast, quality held), best (today's
50-step DDIM at full precision). Explicit steps or scheduler given with a preset override its values.
No torch at import: the CLI parser and the app's panel read these names at start-up.

Standard is the fastest setting measured that is as close to a many-step DDIM reference as 25-step
DDIM at full precision (the issue-16 quality bar): 30-step DDIM with the deep blocks reused every
other step. On the starter model (benchmarks/fast_sampling.py, log-spectral distance to 200-step
DDIM) 10-step DDIM and the multistep solvers at 6-10 steps stay well above 25-step DDIM's distance,
and 25 steps with reuse 2 or 3 just above it. On breaks-256 a reused step costs 0.38 of a full one,
so standard is 2.4x 50-step fp32 DDIM in fp32 (more where bf16 is native); draft trades quality for
another 5x and is for browsing.
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
        Preset("standard", "ddim", 30, "fast", 2, "as close to many-step DDIM as 25 full steps, at 2.4x the speed of 50"),
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
