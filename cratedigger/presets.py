"""Presets a producer understands: draft (browse fast), standard (fast, quality held), best (today's
50-step DDIM at full precision). Explicit steps or scheduler given with a preset override its values.
No torch at import: the CLI parser and the app's panel read these names at start-up.

Speeds come from benchmarks/fast_sampling.py (figures in the issue-16 notes): a reused step costs
0.38 of a full one on breaks-256, bf16 + channels_last 2.2x on native-bf16 CPUs. standard: 8 steps of
DPM-Solver++ 3M (order 3, as its paper advises for unconditional models) is 13 s a candidate there
(13x 50-step fp32 DDIM), 6.2x on a CPU without bf16. Its quality bar (as close to a 200-step DDIM
reference as 25-step DDIM) is still to be measured on the trained starter model: rerun the quality
part of the benchmark and revise these values if it misses.
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
        Preset("standard", "dpm++3", 8, "fast", 1, "fast; aims at the quality of 25-step DDIM"),
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
