"""WAV files with the RIFF chunks that DAWs and samplers read for tempo and loop points.

Layout written: RIFF/WAVE { fmt , acid, smpl, data }. Chunk bodies follow the Microsoft RIFF
specification (little-endian, word-aligned with a pad byte after odd-sized bodies); `acid` follows
Sonic Foundry's ACID layout as libsndfile reads it; `smpl` is the MIDI sampler chunk (end inclusive).
"""

from __future__ import annotations

import struct

import numpy as np

from cratedigger.errors import BadParameterError

WAVE_FORMAT_PCM = 0x0001
WAVE_FORMAT_IEEE_FLOAT = 0x0003
WAVE_FORMAT_EXTENSIBLE = 0xFFFE
# KSDATAFORMAT_SUBTYPE_PCM, little-endian GUID bytes.
_PCM_GUID = bytes.fromhex("0100000000001000800000aa00389b71")

ACID_ONE_SHOT = 0x01
ACID_ROOT_NOTE_SET = 0x02
ACID_STRETCH = 0x04
ACID_DISK_BASED = 0x08
MIDI_MIDDLE_C = 60
SUPPORTED_BITS = (16, 24)  # PCM
LOOP_BITS = (16, 24, 32)  # 32: IEEE float (what `slice --bits 32` writes)


def chunk(chunk_id: bytes, body: bytes) -> bytes:
    """One RIFF chunk: 4-byte id, little-endian size, body, pad byte when the size is odd."""
    if len(chunk_id) != 4:
        raise BadParameterError(f"RIFF chunk id must be 4 bytes, got {chunk_id!r}")
    pad = b"\x00" if len(body) % 2 else b""
    return chunk_id + struct.pack("<I", len(body)) + body + pad


def acid_chunk(*, beats: int, tempo: float, meter: tuple[int, int] = (4, 4), one_shot: bool = False) -> bytes:
    """The 24-byte ACID chunk: flags, root note, two reserved fields, beats, meter, tempo (BPM, float32)."""
    if beats < 1:
        raise BadParameterError(f"acid chunk needs at least one beat, got {beats}")
    if not (1.0 <= tempo <= 999.0):
        raise BadParameterError(f"acid tempo must be 1-999 BPM, got {tempo}")
    numerator, denominator = meter
    flags = ACID_STRETCH | (ACID_ONE_SHOT if one_shot else 0)
    # Reserved fields hold the values ACID itself writes (0x8000, 0.0); drum loops carry no root note.
    body = struct.pack("<IHHfIHHf", flags, MIDI_MIDDLE_C, 0x8000, 0.0, int(beats), denominator, numerator, float(tempo))
    return chunk(b"acid", body)


def smpl_chunk(*, sample_rate: int, loop_start: int, loop_end: int) -> bytes:
    """Sampler chunk with one forward loop; `loop_end` is the last frame inside the loop (inclusive)."""
    if not 0 <= loop_start <= loop_end:
        raise BadParameterError(f"smpl loop must satisfy 0 <= start <= end, got {loop_start}..{loop_end}")
    period_ns = int(round(1e9 / sample_rate))
    header = struct.pack("<9I", 0, 0, period_ns, MIDI_MIDDLE_C, 0, 0, 0, 1, 0)
    loop = struct.pack("<6I", 0, 0, int(loop_start), int(loop_end), 0, 0)  # id 0, forward, play forever
    return chunk(b"smpl", header + loop)


def fmt_chunk(*, sample_rate: int, channels: int, bits: int, float_samples: bool = False) -> bytes:
    """PCM (or IEEE float) format chunk; WAVE_FORMAT_EXTENSIBLE for more than two PCM channels."""
    block_align = channels * bits // 8
    tag = WAVE_FORMAT_IEEE_FLOAT if float_samples else WAVE_FORMAT_PCM
    base = struct.pack("<HHIIHH", tag, channels, sample_rate, sample_rate * block_align, block_align, bits)
    if float_samples:  # non-PCM formats carry cbSize (0 here)
        return chunk(b"fmt ", base + struct.pack("<H", 0))
    if channels <= 2:
        return chunk(b"fmt ", base)
    ext = struct.pack("<HHIIHH", WAVE_FORMAT_EXTENSIBLE, channels, sample_rate, sample_rate * block_align, block_align, bits)
    ext += struct.pack("<HHI", 22, bits, 0) + _PCM_GUID
    return chunk(b"fmt ", ext)


def quantise(audio: np.ndarray, *, bits: int) -> bytes:
    """float32 [n] or [n, ch] in [-1, 1) -> interleaved little-endian PCM bytes.

    Scales by 2**(bits-1), the inverse of how libsndfile and soundfile read PCM back, so a
    round trip is exact to half a step; values at or above full scale clip to the largest code.
    """
    if bits not in SUPPORTED_BITS:
        raise BadParameterError(f"bits must be one of {SUPPORTED_BITS}, got {bits}")
    full = float(1 << (bits - 1))
    data = np.asarray(audio, dtype=np.float64)
    ints = np.clip(np.rint(data * full), -full, full - 1).astype("<i4")
    if bits == 16:
        return ints.astype("<i2").tobytes()
    # 24-bit: keep the three low bytes of each little-endian int32.
    return ints.reshape(-1, 1).view(np.uint8)[:, :3].tobytes()


def build_loop_wav(
    audio: np.ndarray, *, sample_rate: int, bits: int, beats: int, tempo: float, meter: tuple[int, int] = (4, 4)
) -> bytes:
    """A whole WAV file in memory: PCM `bits` (32: IEEE float), an acid chunk (loop of `beats` at `tempo`) and a smpl
    loop over every frame. `audio`: float32 [n] or [n, ch]."""
    audio = np.asarray(audio, dtype=np.float32)
    channels = 1 if audio.ndim == 1 else int(audio.shape[1])
    frames = int(audio.shape[0])
    if bits == 32:  # float: kept as it is, a fact chunk as the spec asks of non-PCM data
        data = np.ascontiguousarray(audio, dtype="<f4").tobytes()
        head = fmt_chunk(sample_rate=int(sample_rate), channels=channels, bits=32, float_samples=True)
        head += chunk(b"fact", struct.pack("<I", frames))
    else:
        data = quantise(audio, bits=bits)
        head = fmt_chunk(sample_rate=int(sample_rate), channels=channels, bits=bits)
    chunks = (
        head
        + acid_chunk(beats=beats, tempo=tempo, meter=meter)
        + smpl_chunk(sample_rate=int(sample_rate), loop_start=0, loop_end=frames - 1)
        + chunk(b"data", data)
    )
    if len(chunks) + 4 > 0xFFFFFFFF:
        raise BadParameterError("loop is too long for a WAV file (over 4 GiB)")
    return b"RIFF" + struct.pack("<I", len(chunks) + 4) + b"WAVE" + chunks
