"""The one list of samplers: names users type -> diffusers scheduler classes and settings.

Every scheduler is built `from_config` of the model's own (DDPM) scheduler config, so betas and
train steps always come from the model folder; the entries only add solver settings. The CLI's
`--scheduler` choices and the app's scheduler box both read SCHEDULERS.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cratedigger.errors import BadParameterError


@dataclass(frozen=True)
class SchedulerSpec:
    class_name: str
    settings: dict = field(default_factory=dict)
    default_steps: int | None = None  # None: the model's train timesteps (ancestral DDPM)
    about: str = ""


# The DPM-Solver++ and UniPC papers (and diffusers' docs) advise solver order 3 for unconditional
# models (order 2 is for guided sampling); lower_order_final keeps short runs (< 15 steps) stable.
SCHEDULERS: dict[str, SchedulerSpec] = {
    "ddim": SchedulerSpec("DDIMScheduler", {}, 50, "DDIM (deterministic at eta 0)"),
    "ddpm": SchedulerSpec("DDPMScheduler", {}, None, "ancestral DDPM, one step per train timestep"),
    # order 2 as before, so seeds stored with "dpm++" still give the same break
    "dpm++": SchedulerSpec(
        "DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++", "solver_order": 2}, 20, "DPM-Solver++ 2M"
    ),
    "dpm++3": SchedulerSpec(
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "dpmsolver++", "solver_order": 3, "lower_order_final": True},
        15,
        "DPM-Solver++ 3M (order 3: for unconditional models)",
    ),
    "unipc": SchedulerSpec(
        "UniPCMultistepScheduler",
        {"solver_order": 3, "solver_type": "bh2", "lower_order_final": True},
        15,
        "UniPC order 3 (predictor-corrector)",
    ),
}
SCHEDULER_NAMES = tuple(SCHEDULERS)


def check_scheduler(name: str) -> SchedulerSpec:
    spec = SCHEDULERS.get(name)
    if spec is None:
        raise BadParameterError(f"unknown scheduler {name!r} (choose from {', '.join(SCHEDULERS)})")
    return spec


def default_steps(name: str, train_timesteps: int) -> int:
    steps = check_scheduler(name).default_steps
    return train_timesteps if steps is None else steps


def make_scheduler(scheduler_config: dict, name: str):
    """A fresh scheduler (they are stateful) of the named kind, from the model's scheduler config."""
    import diffusers

    spec = check_scheduler(name)
    cls = getattr(diffusers, spec.class_name)
    return cls.from_config(dict(scheduler_config), **spec.settings, **_clip_as_threshold(cls, scheduler_config))


def _clip_as_threshold(cls, scheduler_config: dict) -> dict:
    """The model's `clip_sample` for solvers that only know thresholding.

    DDPM and DDIM clip each step's x0 prediction to the clip range when the model's config says so;
    the multistep solvers ignore `clip_sample` and offer thresholding instead. Thresholding at ratio 1
    with a maximum of the clip range is that same clip (s = max|x0| clamped to [1, range] = range).
    Without it DPM-Solver++ and UniPC land far from DDIM on a clipped model (benchmarks/fast_sampling.py).
    """
    params = _init_params(cls)
    if not scheduler_config.get("clip_sample") or "clip_sample" in params or "thresholding" not in params:
        return {}
    limit = float(scheduler_config.get("clip_sample_range", 1.0))
    return {"thresholding": True, "dynamic_thresholding_ratio": 1.0, "sample_max_value": limit}


def _init_params(cls) -> frozenset[str]:
    import inspect

    return frozenset(inspect.signature(cls.__init__).parameters)
