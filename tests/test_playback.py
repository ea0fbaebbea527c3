"""The playback engine: the real callback driven with numpy buffers, and a real stream on ALSA's null sink."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest

from cratedigger.errors import BadParameterError, CrateDiggerError
from cratedigger.playback import BLOCK_FRAMES, AudioDeviceError, Player

RATE = 22050


class FakeStream:
    """Stands in for sounddevice.OutputStream: records its arguments, never touches a device."""

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.started = self.closed = False

    def start(self):
        self.started = True

    def stop(self):
        self.started = False

    def close(self):
        self.closed = True


def pull(player: Player, blocks: int, frames: int = BLOCK_FRAMES) -> np.ndarray:
    """Run the callback `blocks` times, as PortAudio would, and return what it wrote [n, 2]."""
    out = []
    for _ in range(blocks):
        buf = np.full((frames, 2), np.nan, np.float32)  # NaN: any frame the callback skips shows up
        player._callback(buf, frames, None, None)
        out.append(buf)
    return np.concatenate(out)


def make_player(**kw) -> Player:
    return Player(stream_factory=FakeStream, **kw)


def test_loop_wraps_inside_the_region_gaplessly():
    player = make_player(fade_ms=0.01)
    audio = np.arange(1000, dtype=np.float32) / 1000
    clip = player.prepare(audio, sample_rate=RATE, loop=(100, 300))
    player.play(clip)
    out = pull(player, 4, frames=128)[:, 0]
    expected = np.concatenate([np.arange(100, 300)] * 3)[: out.size] / 1000
    # the first frame is the fade-in of a single sample; after it, every frame is exact
    np.testing.assert_allclose(out[1:], expected[1:].astype(np.float32), atol=1e-6)
    assert player.position_seconds() == pytest.approx((100 + 512 % 200) / RATE)


def test_play_once_zero_fills_the_tail_and_finishes():
    player = make_player()
    clip = player.prepare(np.ones(700, np.float32), sample_rate=RATE, looping=False)
    player.play(clip)
    out = pull(player, 2)
    assert np.isfinite(out).all()
    assert (out[200:700] == 1.0).all() and (out[700:] == 0.0).all()
    assert clip.finished and not player.playing


def test_mono_is_copied_to_both_channels_and_the_stream_is_opened_once():
    player = make_player()
    clip = player.prepare(np.linspace(-1, 1, 2048, dtype=np.float32), sample_rate=RATE)
    player.play(clip)
    player.play(clip)
    assert player._stream.kwargs["samplerate"] == RATE and player._stream.kwargs["channels"] == 2
    out = pull(player, 2)
    np.testing.assert_array_equal(out[:, 0], out[:, 1])


def test_switching_crossfades_without_a_click():
    player = make_player()
    loud = player.prepare(np.full(RATE, 0.9, np.float32), sample_rate=RATE)
    other = player.prepare(np.full(RATE, -0.9, np.float32), sample_rate=RATE)
    player.play(loud)
    before = pull(player, 3)
    player.play(other)
    after = pull(player, 3)
    signal = np.concatenate([before, after])[:, 0]
    jumps = np.abs(np.diff(signal[BLOCK_FRAMES:]))  # skip the very first fade-in from silence
    # A hard switch would jump 1.8 in one frame; an 8 ms equal-power crossfade moves ~0.01 per frame.
    assert jumps.max() < 0.02
    assert signal[-1] == pytest.approx(-0.9)
    assert player.current is other


def test_stop_fades_to_silence():
    player = make_player()
    player.play(player.prepare(np.full(RATE, 0.5, np.float32), sample_rate=RATE))
    pull(player, 2)
    player.stop()
    out = pull(player, 3)[:, 0]
    assert np.abs(np.diff(out)).max() < 0.01
    assert (out[-BLOCK_FRAMES:] == 0.0).all()
    assert player.position_seconds() is None


def test_region_moves_while_playing():
    player = make_player(fade_ms=0.01)
    clip = player.prepare(np.arange(4000, dtype=np.float32), sample_rate=RATE)
    player.play(clip)
    pull(player, 1, frames=100)
    clip.set_region_seconds(1000 / RATE, 1100 / RATE)
    out = pull(player, 1, frames=250)[:, 0]
    assert out.min() >= 1000 and out.max() < 1100


def test_callback_allocates_no_buffers():
    player = make_player()
    a = player.prepare(np.random.default_rng(440).standard_normal(RATE).astype(np.float32) * 0.1, sample_rate=RATE)
    b = player.prepare(np.zeros(RATE, np.float32), sample_rate=RATE, loop=(0, 3000))
    out = np.zeros((BLOCK_FRAMES, 2), np.float32)
    player.play(a)
    player._callback(out, BLOCK_FRAMES, None, None)
    tracemalloc.start()
    peak = 0
    for i in range(200):
        if i % 20 == 0:
            player.play(b if i % 40 else a)  # switches (with crossfades) happen inside the window too
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        player._callback(out, BLOCK_FRAMES, None, None)
        peak = max(peak, tracemalloc.get_traced_memory()[1] - base)
    tracemalloc.stop()
    # One block is 4 KiB; a copy or temporary array anywhere would push the peak past it.
    assert peak < 2048, f"callback allocated {peak} bytes at peak"


def test_bad_input_is_a_readable_error():
    player = make_player()
    with pytest.raises(BadParameterError, match="NaN"):
        player.prepare(np.array([0.0, np.nan], np.float32), sample_rate=RATE)
    with pytest.raises(BadParameterError, match="outside"):
        player.prepare(np.zeros(100, np.float32), sample_rate=RATE, loop=(50, 200))


def test_other_rates_are_resampled_to_the_stream_rate():
    player = make_player()
    player.prepare(np.zeros(RATE, np.float32), sample_rate=RATE)
    clip = player.prepare(np.zeros(44100, np.float32), sample_rate=44100)
    assert clip.sample_rate == RATE and abs(clip.frames.shape[0] - RATE) <= 1


def test_a_device_that_will_not_open_raises_audio_device_error():
    def broken(**kwargs):
        raise RuntimeError("Error opening OutputStream: Device unavailable [PaErrorCode -9985]")

    player = Player(stream_factory=broken)
    clip = player.prepare(np.zeros(100, np.float32), sample_rate=RATE)
    with pytest.raises(AudioDeviceError, match="could not be opened at 22050 Hz.*Device unavailable"):
        player.play(clip)
    assert issubclass(AudioDeviceError, CrateDiggerError)
    assert not player.is_open


def _run_child(code: str, home, extra_env=None) -> subprocess.CompletedProcess:
    env = dict(os.environ, HOME=str(home), **(extra_env or {}))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True, timeout=60)


def test_real_stream_on_the_alsa_null_device(tmp_path):
    # Our own ~/.asoundrc in a fresh HOME: ALSA's default is a null sink, no sound card involved.
    (tmp_path / ".asoundrc").write_text("pcm.!default { type null }\n")
    child = _run_child(
        """
        import time, numpy as np
        from cratedigger.playback import Player
        p = Player()
        clip = p.prepare(np.sin(np.arange(22050) / 10).astype(np.float32), sample_rate=22050, loop=(0, 11025))
        p.play(clip)
        deadline = time.time() + 10
        while p.frames_written < 22050 and time.time() < deadline:
            time.sleep(0.01)
        print(p.is_open, p.frames_written >= 22050, 0 <= p.position_seconds() < 0.5)
        p.close()
        """,
        tmp_path,
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.split() == ["True", "True", "True"]


def test_no_output_device_says_why(tmp_path):
    # A default PCM that points at a card that does not exist: PortAudio finds no usable output.
    (tmp_path / ".asoundrc").write_text('pcm.!default { type hw card 9 }\nctl.!default { type hw card 9 }\n')
    child = _run_child(
        """
        import numpy as np
        from cratedigger.playback import Player, AudioDeviceError
        p = Player()
        try:  # the device is asked for its rate when the first clip is prepared
            p.play(p.prepare(np.zeros(100, np.float32), sample_rate=22050))
        except AudioDeviceError as exc:
            print("ERR", exc)
        else:
            print("OPENED")
        """,
        tmp_path,
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.startswith("ERR "), child.stdout
    assert "audio" in child.stdout
