"""Helpers for the library tests: known-tempo audio, a RIFF reader written from the spec, the CLI.

The RIFF reader deliberately shares no code with cratedigger.library.riff: it is the independent
check the exporter is measured against (Microsoft RIFF/WAVE spec; ACID and smpl chunk layouts).
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class FakeAnalysis:
    """Shaped like cratedigger.analysis.AnalysisResult (the contract), with answers we choose."""

    bpm: float | None
    beats: tuple[float, ...] = ()
    downbeats: tuple[float, ...] = ()
    beat_positions: tuple[int, ...] = ()
    beats_per_bar: int | None = 4
    confidence: float = 0.9
    backend: str = "fake"
    duration: float = 0.0
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        out = asdict(self)
        out.pop("extra")
        return out


def click_loop(*, bpm: float, bars: int, sample_rate: int, channels: int = 1, seed: int = 440) -> np.ndarray:
    """Exactly `bars` bars of 4/4 at `bpm`: a decaying noise burst on every beat, louder on downbeats.
    float32 [n] (mono) or [n, channels]."""
    rng = np.random.default_rng(seed)
    beat = 60.0 / bpm
    n = int(round(bars * 4 * beat * sample_rate))
    out = np.zeros(n, dtype=np.float32)
    hit_len = int(0.05 * sample_rate)
    env = np.exp(-np.linspace(0.0, 8.0, hit_len)).astype(np.float32)
    for k in range(bars * 4):
        start = int(round(k * beat * sample_rate))
        length = min(hit_len, n - start)
        gain = 0.8 if k % 4 == 0 else 0.4
        out[start : start + length] += gain * env[:length] * rng.uniform(-1, 1, length).astype(np.float32)
    if channels == 1:
        return out
    return np.stack([out * (1.0 - 0.1 * c) for c in range(channels)], axis=1).astype(np.float32)


def analysis_for(audio: np.ndarray, *, bpm: float, sample_rate: int) -> FakeAnalysis:
    beat = 60.0 / bpm
    duration = audio.shape[0] / sample_rate
    beats = tuple(float(k * beat) for k in range(int(duration / beat + 1e-9)))
    positions = tuple(i % 4 + 1 for i in range(len(beats)))
    return FakeAnalysis(bpm=bpm, beats=beats, downbeats=beats[::4], beat_positions=positions, duration=duration)


# -- RIFF, from the spec -------------------------------------------------------------------------


@dataclass(frozen=True)
class Wav:
    chunk_order: tuple[str, ...]
    format_tag: int
    channels: int
    sample_rate: int
    bits: int
    data: bytes
    acid: dict | None
    smpl: dict | None


def parse_wav(path: Path) -> Wav:
    """Walk the RIFF chunks: 'RIFF' size 'WAVE', then (id, u32 size, body, pad to even)."""
    raw = Path(path).read_bytes()
    assert raw[:4] == b"RIFF" and raw[8:12] == b"WAVE", "not a RIFF/WAVE file"
    riff_size = struct.unpack_from("<I", raw, 4)[0]
    assert riff_size == len(raw) - 8, f"RIFF size {riff_size} != file size - 8 ({len(raw) - 8})"
    pos, order, chunks = 12, [], {}
    while pos < len(raw):
        assert pos + 8 <= len(raw), "truncated chunk header"
        cid = raw[pos : pos + 4].decode("ascii")
        size = struct.unpack_from("<I", raw, pos + 4)[0]
        body = raw[pos + 8 : pos + 8 + size]
        assert len(body) == size, f"chunk {cid!r} truncated"
        order.append(cid)
        chunks[cid] = body
        pos += 8 + size + (size & 1)
    assert pos == len(raw), "trailing bytes after the last chunk"
    fmt = chunks["fmt "]
    tag, channels, rate, byte_rate, align, bits = struct.unpack_from("<HHIIHH", fmt, 0)
    assert align == channels * bits // 8 and byte_rate == rate * align, "inconsistent fmt chunk"
    acid = smpl = None
    if "acid" in chunks:
        body = chunks["acid"]
        assert len(body) == 24, f"acid chunk must be 24 bytes, got {len(body)}"
        flags, root, _u1, _u2, beats, denom, numer, tempo = struct.unpack("<IHHfIHHf", body)
        acid = {"one_shot": bool(flags & 1), "flags": flags, "root_note": root, "beats": beats,
                "meter": (numer, denom), "tempo": tempo}
    if "smpl" in chunks:
        body = chunks["smpl"]
        fields = struct.unpack_from("<9I", body, 0)
        n_loops = fields[7]
        assert len(body) == 36 + 24 * n_loops + fields[8], "smpl size does not match its loop count"
        loops = [struct.unpack_from("<6I", body, 36 + 24 * i) for i in range(n_loops)]
        smpl = {"period_ns": fields[2], "unity_note": fields[3], "loops": [
            {"id": lp[0], "type": lp[1], "start": lp[2], "end": lp[3], "play_count": lp[5]} for lp in loops]}
    return Wav(tuple(order), tag, channels, rate, bits, chunks["data"], acid, smpl)


def sndfile_info(path: Path) -> str:
    return subprocess.run(["sndfile-info", str(path)], capture_output=True, text=True, check=True).stdout


# -- processes ----------------------------------------------------------------------------------


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    env.pop("CRATEDIGGER_LIBRARY", None)
    env.update(extra)
    return env


def run_cli(*args: str | os.PathLike, env: dict[str, str] | None = None, **kwargs) -> subprocess.CompletedProcess:
    """`python -m cratedigger ...` in a fresh process, as a user would run it."""
    return subprocess.run(
        [sys.executable, "-m", "cratedigger", *map(str, args)],
        capture_output=True, text=True, env=env or child_env(), timeout=120, **kwargs,
    )
