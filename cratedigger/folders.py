"""Swap a fully written folder into place (model folders, datasets)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def replace_folder(staging: Path, target: Path) -> None:
    """Move `staging` to `target`; an existing `target` is set aside first and removed only after the
    new folder is in place, so a crash leaves the old or the new folder, never a half-written one."""
    if target.exists():
        backup = target.with_name(f".{target.name}-old")
        shutil.rmtree(backup, ignore_errors=True)
        os.replace(target, backup)
        os.replace(staging, target)
        shutil.rmtree(backup, ignore_errors=True)
    else:
        os.replace(staging, target)
