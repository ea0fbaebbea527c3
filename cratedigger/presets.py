"""Presets a producer understands: draft (browse fast), standard (fast, quality held), best (today's
50-step DDIM at full precision). Explicit steps or scheduler given with a preset override its values.
No torch at import: the CLI parser and the app's panel read these names at start-up.

Standard is the fastest setting measured that is as close to a many-step DDIM reference as 25-step
DDIM at full precision (the issue-16 quality bar): 30-step DDIM in the fast precision (bf16 where
the CPU has it) with the deep blocks recomputed every third step. On the starter model, 16 seeds,
log-spectral distance to 200-step fp32 DDIM (benchmarks/fast_sampling.py): 25-step fp32 DDIM 12.14
dB, standard 11.93, 30 steps with reuse 2 11.66, 25 steps bf16 12.23 (reuse 2: 12.46), 20 steps
13.1-13.4, 10-15 steps 14.9-16.4, DPM-Solver++ 3M at 6-8 steps 16.5-18.2. On a breaks-256 UNet a
reused step costs about half a full one, so standard is 5.7x 50-step fp32 DDIM where bf16 is native
(15 s a candidate on 2 cores) and about 2.4x in fp32 elsewhere; draft trades quality for another
4x and is for browsing.
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
        Preset("standard", "ddim", 30, "fast", 3, "as close to many-step DDIM as 25 full steps, 2.4-5.7x faster than best"),
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
