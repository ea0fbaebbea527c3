"""Real drum audio for tests: Debian's lmms-common breaks and hydrogen-drumkits hits (see install.sh)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

LMMS_BEATS = Path("/usr/share/lmms/samples/beats")
GM_ROCK_KIT = Path("/usr/share/hydrogen/data/drumkits/GMRockKit")


def _require(path: Path) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run install.sh (Debian packages lmms-common, hydrogen-drumkits)")
    return path


def load_mono(path: Path, sample_rate: int) -> np.ndarray:
    audio, sr = sf.read(str(_require(path)), dtype="float32", always_2d=True)
    mono = audio.mean(axis=1)
    if sr != sample_rate:
        mono = soxr.resample(mono, sr, sample_rate).astype(np.float32)
    return mono


def real_break(sample_rate: int, name: str = "break01.ogg", *, repeats: int = 1) -> np.ndarray:
    """A recorded drum break loop from lmms-common (break01 is one 1.44 s bar), mono float32 at
    `sample_rate`, looped `repeats` times."""
    return np.tile(load_mono(LMMS_BEATS / name, sample_rate), repeats)


def rock_pattern(*, bpm: float, bars: int, sample_rate: int) -> np.ndarray:
    """Kick on 1 and 3, snare on 2 and 4, closed hats on eighths, from recorded GMRockKit hits."""
    hits = {name: load_mono(GM_ROCK_KIT / f"{name}.wav", sample_rate) for name in ("Kick-Hard", "Snare-Hard", "HatClosed-Med")}
    beat = 60.0 / bpm
    n = int(round(bars * 4 * beat * sample_rate))
    out = np.zeros(n + sample_rate, dtype=np.float32)
    for eighth in range(bars * 8):
        at = int(round(eighth * beat / 2 * sample_rate))
        parts = ["HatClosed-Med"]
        if eighth % 8 in (0, 4):
            parts.append("Kick-Hard")
        if eighth % 8 in (2, 6):
            parts.append("Snare-Hard")
        for part in parts:
            hit = hits[part]
            out[at : at + hit.size] += hit[: out.size - at]
    out = out[:n]
    return (out / max(1e-9, float(np.abs(out).max())) * 0.9).astype(np.float32)
