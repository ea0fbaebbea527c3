"""Training checkpoints, written aside and renamed into place so an interrupted save never hides the
last good one.

    RUN_DIR/checkpoints/step-0000500/   model.safetensors, optimizer.bin (accelerate's), lr_schedule.json,
                                        ema.safetensors + ema.json, rng_state_<process>.safetensors,
                                        trainer_state.json (our step counter and run settings)

Resuming never runs code from a checkpoint: our own state is JSON and safetensors, and the one
torch pickle (optimizer.bin) is read with torch.load(weights_only=True), which refuses anything but
tensors and plain containers. Checkpoints written by earlier versions hold the LR schedule, the EMA
and the RNG states as accelerate's `custom_checkpoint_<n>.pkl` / `random_states_<n>.pkl`; those are
read with weights_only=True too (their contents are plain data), and a crafted one is refused.
"""

from __future__ import annotations

import json
import logging
import pickle
import random
import re
import shutil
from pathlib import Path

import numpy as np

from cratedigger.errors import BadParameterError

log = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"
STATE_FILE = "trainer_state.json"
LR_FILE = "lr_schedule.json"
EMA_TENSORS, EMA_FILE = "ema.safetensors", "ema.json"
RNG_FILE = "rng_state_{}.safetensors"
# How earlier versions (accelerate's register_for_checkpointing) named the same state.
LEGACY_LR, LEGACY_EMA = "custom_checkpoint_0.pkl", "custom_checkpoint_1.pkl"
LEGACY_RNG = "random_states_{}.pkl"
_NAME = re.compile(r"^step-(\d+)$")


def checkpoint_dir(run_dir: Path, step: int) -> Path:
    return Path(run_dir) / CHECKPOINTS / f"step-{step:07d}"


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints, oldest first (a folder counts once its trainer_state.json is in)."""
    folder = Path(run_dir) / CHECKPOINTS
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.is_dir() and _NAME.match(p.name) and (p / STATE_FILE).is_file()]
    return sorted(found, key=lambda p: int(_NAME.match(p.name).group(1)))


def find_checkpoint(run_dir: Path, resume: str) -> Path | None:
    """'latest' -> the newest checkpoint of the run (None when there is none); else that folder."""
    if resume == "latest":
        found = list_checkpoints(run_dir)
        return found[-1] if found else None
    path = Path(resume)
    if not (path / STATE_FILE).is_file():
        raise BadParameterError(
            f"{path}: not a training checkpoint (no {STATE_FILE}); pass 'latest' or a checkpoints/step-N folder"
        )
    return path


def read_state(checkpoint: Path) -> dict:
    try:
        state = json.loads((Path(checkpoint) / STATE_FILE).read_text(encoding="utf-8"))
        int(state["step"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadParameterError(f"{checkpoint}: unreadable {STATE_FILE} ({exc})") from exc
    return state


def save_checkpoint(accelerator, run_dir: Path, *, step: int, state: dict, keep: int, lr_schedule=None,
                    ema=None) -> Path:
    """Every process calls this (each saves its RNG state); the main process finishes and prunes."""
    final = checkpoint_dir(run_dir, step)
    staging = final.with_name(f".{final.name}.tmp")
    if accelerator.is_main_process:
        shutil.rmtree(staging, ignore_errors=True)
        staging.parent.mkdir(parents=True, exist_ok=True)
    accelerator.wait_for_everyone()
    try:
        accelerator.save_state(str(staging))
        for legacy in staging.glob(LEGACY_RNG.format("*")):  # ours below replaces accelerate's pickle
            legacy.unlink(missing_ok=True)
        _save_rng(staging / RNG_FILE.format(accelerator.process_index), accelerator)
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            if lr_schedule is not None:
                (staging / LR_FILE).write_text(json.dumps(lr_schedule.state_dict()) + "\n", encoding="utf-8")
            if ema is not None:
                _save_ema(staging, ema)
            (staging / STATE_FILE).write_text(json.dumps({**state, "step": step}, indent=2) + "\n", encoding="utf-8")
            shutil.rmtree(final, ignore_errors=True)
            staging.rename(final)
            _prune(run_dir, keep)
    except BaseException:
        if accelerator.is_main_process:
            shutil.rmtree(staging, ignore_errors=True)
        raise
    accelerator.wait_for_everyone()
    log.info("checkpoint at step %d: %s", step, final)
    return final


def _prune(run_dir: Path, keep: int) -> None:
    for old in list_checkpoints(run_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


# -- our own state files --------------------------------------------------------------------------


def _save_rng(path: Path, accelerator) -> None:
    import torch
    from safetensors.torch import save_file

    tensors = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, st in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"cuda_{i}"] = st
    name, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss = random.getstate()
    meta = {"python": json.dumps([version, list(internal), gauss]),
            "numpy": json.dumps([name, [int(k) for k in keys], int(pos), int(has_gauss), float(cached)]),
            "accelerator_step": str(int(getattr(accelerator, "step", 0)))}
    save_file(tensors, str(path), metadata=meta)


def _save_ema(folder: Path, ema) -> None:
    from safetensors.torch import save_file

    state = ema.state_dict()
    shadow = state.pop("shadow_params")
    save_file({f"shadow.{i}": t.detach().contiguous().cpu() for i, t in enumerate(shadow)}, str(folder / EMA_TENSORS))
    (folder / EMA_FILE).write_text(json.dumps({**state, "count": len(shadow)}) + "\n", encoding="utf-8")


def _torch_load_safely(path: Path, *, numpy_ok: bool = False):
    """torch.load(weights_only=True): tensors and plain containers only; pickled code is refused."""
    import torch

    try:
        if numpy_ok:  # accelerate's RNG pickles hold numpy arrays: allow exactly numpy's array rebuild
            from accelerate.utils.other import TORCH_SAFE_GLOBALS

            with torch.serialization.safe_globals(TORCH_SAFE_GLOBALS):
                return torch.load(path, map_location="cpu", weights_only=True)
        return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, AttributeError, TypeError, ValueError) as exc:
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(exc))
        what = f"it asks to run {found.group(1)}" if found else type(exc).__name__
        raise BadParameterError(
            f"{path}: refused: a checkpoint may only hold tensors and plain data, and this file does not "
            f"load as such ({what}); nothing in it was run") from exc


def load_checkpoint(accelerator, checkpoint: Path, *, unet, optimizer, lr_schedule, ema) -> int:
    """Restore model, optimizer, LR schedule, EMA and RNG states from `checkpoint`; returns its step.

    Replaces accelerator.load_state, which unpickles custom state with weights_only=False.
    """
    import torch
    from safetensors.torch import load_file

    checkpoint = Path(checkpoint)
    step = int(read_state(checkpoint)["step"])
    model_file = checkpoint / "model.safetensors"
    if model_file.is_file():
        weights = load_file(str(model_file), device="cpu")
    else:
        weights = _torch_load_safely(checkpoint / "pytorch_model.bin")
    accelerator.unwrap_model(unet).load_state_dict(weights)
    optimizer.load_state_dict(_torch_load_safely(checkpoint / "optimizer.bin"))
    scaler = getattr(accelerator, "scaler", None)
    if scaler is not None and (checkpoint / "scaler.pt").is_file():
        scaler.load_state_dict(_torch_load_safely(checkpoint / "scaler.pt"))

    if (checkpoint / LR_FILE).is_file():
        lr_state = json.loads((checkpoint / LR_FILE).read_text(encoding="utf-8"))
    else:
        lr_state = _torch_load_safely(_require(checkpoint / LEGACY_LR))
    lr_schedule.load_state_dict(lr_state)

    if ema is not None:
        if (checkpoint / EMA_TENSORS).is_file():
            meta = json.loads((checkpoint / EMA_FILE).read_text(encoding="utf-8"))
            tensors = load_file(str(checkpoint / EMA_TENSORS), device="cpu")
            count = int(meta.pop("count"))
            ema_state = {**meta, "shadow_params": [tensors[f"shadow.{i}"] for i in range(count)]}
        else:
            ema_state = _torch_load_safely(_require(checkpoint / LEGACY_EMA))
        ema.load_state_dict(ema_state)

    index = accelerator.process_index
    rng_file = checkpoint / RNG_FILE.format(index)
    if rng_file.is_file():
        from safetensors import safe_open

        with safe_open(str(rng_file), framework="pt") as handle:
            meta = handle.metadata()
            tensors = {k: handle.get_tensor(k) for k in handle.keys()}
        version, internal, gauss = json.loads(meta["python"])
        random.setstate((version, tuple(internal), gauss))
        name, keys, pos, has_gauss, cached = json.loads(meta["numpy"])
        np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
        torch.set_rng_state(tensors["torch_cpu"])
        cuda = [tensors[f"cuda_{i}"] for i in range(len(tensors) - 1) if f"cuda_{i}" in tensors]
        if cuda and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(cuda)
        accelerator.step = int(meta.get("accelerator_step", 0))
    elif (checkpoint / LEGACY_RNG.format(index)).is_file():
        states = _torch_load_safely(checkpoint / LEGACY_RNG.format(index), numpy_ok=True)
        random.setstate(states["random_state"])
        np.random.set_state(states["numpy_random_seed"])
        torch.set_rng_state(states["torch_manual_seed"])
        if torch.cuda.is_available() and "torch_cuda_manual_seed" in states:
            torch.cuda.set_rng_state_all(states["torch_cuda_manual_seed"])
        accelerator.step = int(states.get("step", 0))
    else:
        log.warning("%s holds no RNG state: the resumed run continues, but not bit for bit", checkpoint)
    return step


def _require(path: Path) -> Path:
    if not path.is_file():
        raise BadParameterError(f"{path.parent}: incomplete checkpoint ({path.name} is missing)")
    return path
