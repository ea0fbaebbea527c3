"""Training checkpoints: accelerate's full state (model, optimizer, LR schedule, EMA, RNGs) plus our
step counter, written aside and renamed into place so an interrupted save never hides the last good one.

    RUN_DIR/checkpoints/step-0000500/   model.safetensors, optimizer.bin, custom_checkpoint_*.pkl,
                                        random_states_*.pkl, trainer_state.json
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path

from cratedigger.errors import BadParameterError

log = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"
STATE_FILE = "trainer_state.json"
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


def save_checkpoint(accelerator, run_dir: Path, *, step: int, state: dict, keep: int) -> Path:
    """Every process calls this (each saves its RNG state); the main process finishes and prunes."""
    final = checkpoint_dir(run_dir, step)
    staging = final.with_name(f".{final.name}.tmp")
    if accelerator.is_main_process:
        shutil.rmtree(staging, ignore_errors=True)
        staging.parent.mkdir(parents=True, exist_ok=True)
    accelerator.wait_for_everyone()
    try:
        accelerator.save_state(str(staging))
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
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
