"""Issue 14: exporting a loop cut from an imported long record reads only the loop from the
library's file, not the record (a 2-hour record would be 2.5 GB of float32)."""

from __future__ import annotations

import tracemalloc

import numpy as np
import soundfile as sf

from cratedigger.library import Library, export_sample
from cratedigger.library.store import LONG_IMPORT_S
from drum_audio import real_break
from library_helpers import parse_wav

SR = 44100


def _write_record(path, seconds: float) -> int:
    """A stereo 16-bit record of a real break repeated, written block by block. Returns its frames."""
    loop = real_break(SR, repeats=4)
    block = np.stack([loop, loop * 0.9], axis=1)
    frames = int(seconds * SR)
    with sf.SoundFile(str(path), "w", SR, 2, subtype="PCM_16") as out:
        done = 0
        while done < frames:
            part = block[: frames - done]
            out.write(part)
            done += part.shape[0]
    return frames


def test_a_loop_exported_from_a_long_record_reads_only_the_loop(tmp_path):
    record = tmp_path / "record.wav"
    frames = _write_record(record, LONG_IMPORT_S + 30.0)
    whole_bytes = frames * 2 * 4  # the record as float32, what reading it whole allocates
    with Library.open(tmp_path / "lib") as library:
        sample = library.import_file(record)
        assert sample.bpm and not sample.bars  # a record, not a loop: export cuts one
        tracemalloc.start()
        try:
            path = export_sample(library, sample.id, tmp_path / "out", bars=4)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    wav = parse_wav(path)
    assert wav.acid["beats"] == 16 and wav.channels == 2
    loop_frames = sf.info(path).frames
    assert loop_frames < SR * 15  # 4 bars of the break, not the record
    # the loop passes through a few copies (cut, level fit, PCM conversion, RIFF bytes); the record never does
    assert peak < min(whole_bytes / 3, loop_frames * 2 * 4 * 10), \
        f"export allocated {peak / 1e6:.1f} MB for a {loop_frames / SR:.1f} s loop of a {whole_bytes / 1e6:.0f} MB record"
