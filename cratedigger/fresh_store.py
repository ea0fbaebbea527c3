"""The Fresh tray on disk: unkept loops survive a quit, a crash or a power cut.

A folder with, per loop `<n>`: `<n>.wav` (float32, exactly the audio shown), optionally
`<n>.whole.wav` (the uncut clip, for re-cutting) and `<n>.json` (name, tempo grid, curation,
provenance). Every file is written to a temp file and renamed into place; the JSON goes last, so
a loop is there only once its audio is complete, and a half-written loop is never read back.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cratedigger.library import files

log = logging.getLogger(__name__)

_NUMBER = re.compile(r"^(\d+)\.json$")


@dataclass(frozen=True, eq=False)
class FreshItem:
    number: int
    meta: dict[str, Any]
    audio: np.ndarray  # float32 [n] or [n, ch], as kept
    sample_rate: int
    whole: np.ndarray | None = None  # float32, as audio: the clip before it was cut


def default_folder() -> Path:
    import platformdirs

    return platformdirs.user_data_path("CrateDigger", appauthor=False) / "fresh"


class FreshStore:
    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)

    def _paths(self, number: int) -> tuple[Path, Path, Path]:
        base = self.folder / str(int(number))
        return base.with_suffix(".wav"), self.folder / f"{int(number)}.whole.wav", base.with_suffix(".json")

    def has(self, number: int) -> bool:
        return self._paths(number)[2].is_file()

    def save(self, number: int, meta: dict[str, Any], audio: np.ndarray, sample_rate: int,
             whole: np.ndarray | None = None) -> None:
        """Write (or replace) one loop: audio first, the JSON that makes it visible last."""
        wav, whole_wav, js = self._paths(number)
        self._write(wav, files.encode_wav(np.asarray(audio, dtype=np.float32), sample_rate=int(sample_rate)))
        if whole is not None:
            self._write(whole_wav, files.encode_wav(np.asarray(whole, dtype=np.float32), sample_rate=int(sample_rate)))
        else:
            files.remove_quietly(whole_wav)
        self.save_meta(number, meta)

    def save_meta(self, number: int, meta: dict[str, Any]) -> None:
        """Replace the JSON of a loop whose audio is already stored (a rename, a rating...)."""
        payload = json.dumps(meta, sort_keys=True, default=_plain).encode("utf-8")
        self._write(self._paths(number)[2], payload)

    def remove(self, number: int) -> None:
        """JSON first: once it is gone the loop is gone, whatever happens to the audio after."""
        wav, whole_wav, js = self._paths(number)
        for path in (js, wav, whole_wav):
            files.remove_quietly(path)

    def numbers(self) -> list[int]:
        if not self.folder.is_dir():
            return []
        found = (_NUMBER.match(p.name) for p in self.folder.iterdir())
        return sorted(int(m.group(1)) for m in found if m)

    def load_all(self) -> list[FreshItem]:
        """Every complete loop, oldest first; an unreadable one is logged and skipped."""
        import soundfile as sf

        out = []
        for number in self.numbers():
            wav, whole_wav, js = self._paths(number)
            try:
                meta = json.loads(js.read_text(encoding="utf-8"))
                audio, rate = sf.read(str(wav), dtype="float32")
                whole = sf.read(str(whole_wav), dtype="float32")[0] if whole_wav.is_file() else None
            except (OSError, ValueError, RuntimeError) as exc:
                log.warning("fresh loop %s in %s cannot be read (%s); left on disk", number, self.folder, exc)
                continue
            out.append(FreshItem(number, meta, np.ascontiguousarray(audio), int(rate), whole))
        return out

    def _write(self, path: Path, payload: bytes) -> None:
        files.guard_write(f"the Fresh tray file {path}", lambda: files.write_new_file(path, payload, overwrite=True))


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON data")


__all__ = ["FreshItem", "FreshStore", "default_folder"]
