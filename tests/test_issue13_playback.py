"""Issue 13, playback: stereo stays stereo, clips are prepared off the GUI thread, the stream runs at
the device's rate, and a seek goes through the same handover as a load (never lost to the callback)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import tracemalloc

import numpy as np
import pytest

from cratedigger.playback import BLOCK_FRAMES, Player
from silent_stream import SilentStream

RATE = 22050


class DeviceStream(SilentStream):
    """A stand-in output device with its own format: records what the player opened it with."""

    default_samplerate = 48000
    max_output_channels = 2
    opened: list[dict] = []

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        DeviceStream.opened.append(kwargs)


class MonoDeviceStream(DeviceStream):
    max_output_channels = 1


def pull(player: Player, blocks: int, frames: int = BLOCK_FRAMES) -> np.ndarray:
    out = []
    for _ in range(blocks):
        buf = np.full((frames, player.channels), np.nan, np.float32)
        player._callback(buf, frames, None, None)
        out.append(buf)
    return np.concatenate(out)


def stereo(n: int) -> np.ndarray:
    """Left a rising ramp, right a different tone: any mixing or copying of one side shows."""
    t = np.arange(n, dtype=np.float32)
    return np.stack([t / n * 0.5, 0.3 * np.sin(t / 7.0)], axis=1).astype(np.float32)


# -- 1. stereo stays stereo, mono stays mono ------------------------------------------------------


def test_stereo_plays_as_stereo_and_mono_as_centred_mono():
    player = Player(stream_factory=DeviceStream, sample_rate=RATE, fade_ms=0.01)
    audio = stereo(4000)
    player.play(player.prepare(audio, sample_rate=RATE))
    out = pull(player, 4)
    np.testing.assert_allclose(out[1:2048], audio[1:2048], atol=1e-6)  # each side its own
    mono = player.prepare(audio[:, 1].copy(), sample_rate=RATE)
    player.play(mono)
    out = pull(player, 3)[BLOCK_FRAMES:]
    np.testing.assert_array_equal(out[:, 0], out[:, 1])


def test_a_mono_device_gets_the_average_of_both_sides():
    player = Player(stream_factory=MonoDeviceStream, sample_rate=RATE, fade_ms=0.01)
    audio = stereo(3000)
    clip = player.prepare(audio, sample_rate=RATE)
    player.play(clip)
    assert player._stream.kwargs["channels"] == 1 and clip.frames.shape == (3000, 1)
    np.testing.assert_allclose(pull(player, 2)[1:1024, 0], audio[1:1024].mean(axis=1), atol=1e-6)


def test_a_prepared_clip_owns_its_buffer():
    player = Player(stream_factory=DeviceStream, sample_rate=RATE)
    audio = stereo(1000)
    clip = player.prepare(audio, sample_rate=RATE)
    audio[:] = 0.0  # the caller reuses its array: the clip must not change under the callback
    assert np.abs(clip.frames).max() > 0.1


# -- 3. the stream runs at the device's rate -------------------------------------------------------


def test_the_stream_opens_at_the_devices_rate_not_the_first_clips():
    DeviceStream.opened.clear()
    player = Player(stream_factory=DeviceStream)
    tone = np.sin(2 * np.pi * 441.0 * np.arange(RATE) / RATE).astype(np.float32)
    clip = player.prepare(tone, sample_rate=RATE, loop=(0, RATE // 2))
    player.play(clip)
    assert DeviceStream.opened[-1]["samplerate"] == 48000 and clip.sample_rate == 48000
    assert clip.frames.shape[0] == 48000 and clip.region == (0, 24000)
    # the same tone, resampled: 441 Hz at 48 kHz is 441 cycles a second, not 960
    out = pull(player, 40)[2000:, 0]
    crossings = np.count_nonzero(np.diff(np.signbit(out).astype(np.int8)) != 0)
    assert crossings / 2 / (out.size / 48000) == pytest.approx(441.0, rel=0.02)
    other = player.prepare(np.zeros(44100, np.float32), sample_rate=44100)
    assert other.sample_rate == 48000 and abs(other.frames.shape[0] - 48000) <= 1


def test_resampling_goes_through_the_one_resampler(monkeypatch):
    import cratedigger.audio.resample as resample_module

    calls = []
    real = resample_module.resample

    def counted(audio, **kw):
        calls.append(kw)
        return real(audio, **kw)

    monkeypatch.setattr(resample_module, "resample", counted)
    player = Player(stream_factory=DeviceStream)
    player.prepare(np.zeros(RATE, np.float32), sample_rate=RATE)
    assert calls == [{"from_rate": RATE, "to_rate": 48000}]


def test_a_real_stream_on_the_null_device_runs_at_the_devices_rate(tmp_path):
    (tmp_path / ".asoundrc").write_text("pcm.!default { type null }\n")
    code = """
        import time, numpy as np, sounddevice as sd
        from cratedigger.playback import Player
        device_rate = int(sd.query_devices(kind="output")["default_samplerate"])
        p = Player()
        clip = p.prepare(np.zeros((22050, 2), np.float32), sample_rate=22050)
        p.play(clip)
        deadline = time.time() + 10
        while p.frames_written < device_rate // 4 and time.time() < deadline:
            time.sleep(0.01)
        print(device_rate, int(p._stream.samplerate), clip.sample_rate, p._stream.channels, p.frames_written > 0)
        p.close()
    """
    env = dict(os.environ, HOME=str(tmp_path))
    child = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True,
                           timeout=60)
    assert child.returncode == 0, child.stderr
    device_rate, stream_rate, clip_rate, channels, ran = child.stdout.split()
    assert device_rate != "22050"  # else this test would not tell the two apart
    assert stream_rate == device_rate == clip_rate and channels == "2" and ran == "True"


# -- 4. seek through the handover --------------------------------------------------------------------


def test_a_seek_made_while_the_callback_runs_is_not_lost():
    """The callback reads a clip's position, renders, then stores the new one. A seek stored into
    the clip between the two was overwritten; through the handover it is taken at the next block."""
    player = Player(stream_factory=DeviceStream, sample_rate=RATE, fade_ms=0.01)
    clip = player.prepare(np.arange(40000, dtype=np.float32), sample_rate=RATE)
    player.play(clip)
    pull(player, 1)
    seek_to = 30000

    import cratedigger.playback as playback

    real_render = playback._render

    def render_with_a_seek_in_the_middle(c, out, frames):
        real_render(c, out, frames)
        if c is clip and seek_to is not None:
            player.seek(clip, seek_to)  # the GUI thread, just before the callback stores its position

    playback._render = render_with_a_seek_in_the_middle
    try:
        pull(player, 1)
    finally:
        playback._render = real_render
    assert player.position_seconds() == pytest.approx(seek_to / RATE)  # shown at once
    out = pull(player, 1)[:, 0]
    assert out[0] == seek_to and clip.position == seek_to + BLOCK_FRAMES


def test_seeks_from_another_thread_all_land_and_the_callback_still_allocates_nothing():
    player = Player(stream_factory=DeviceStream, sample_rate=RATE, fade_ms=1.0)
    clip = player.prepare(np.arange(RATE * 2, dtype=np.float32), sample_rate=RATE)
    player.play(clip)
    out = np.zeros((BLOCK_FRAMES, 2), np.float32)
    player._callback(out, BLOCK_FRAMES, None, None)
    targets = [1000 + 97 * i for i in range(200)]
    lost = 0
    tracemalloc.start()
    peak = 0
    for target in targets:
        t = threading.Thread(target=player.seek, args=(clip, target))
        t.start()
        t.join()
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        player._callback(out, BLOCK_FRAMES, None, None)
        peak = max(peak, tracemalloc.get_traced_memory()[1] - base)
        lost += out[0, 0] != target
    tracemalloc.stop()
    assert lost == 0
    assert peak < 2048, f"callback allocated {peak} bytes at peak"


def test_seek_of_a_stopped_clip_is_a_plain_store():
    player = Player(stream_factory=DeviceStream, sample_rate=RATE)
    clip = player.prepare(np.zeros(5000, np.float32), sample_rate=RATE)
    player.seek(clip, 1234)
    assert clip.position == 1234 and player.current is None


# -- 2 and 4 through Audition (real Qt, offscreen) ---------------------------------------------------


@pytest.fixture
def audition(qtbot):
    from cratedigger_ui.audition import Audition

    made = Audition(lambda: Player(stream_factory=DeviceStream, sample_rate=RATE, fade_ms=0.01))
    yield made
    made.close()


def test_preparation_runs_off_the_gui_thread(audition, qtbot):
    threads = []
    player = audition._ensure_player()
    real = player.prepare

    def recording(*args, **kw):
        threads.append(threading.current_thread())
        return real(*args, **kw)

    player.prepare = recording
    audio = stereo(RATE)
    with qtbot.waitSignal(audition.ready, timeout=5000) as ready:
        audition.load("a", audio, RATE)
        assert audition.play()  # asked before the clip is ready: it plays when it lands
        assert audition.loaded_key() is None  # nothing was prepared on this thread
    assert ready.args == ["a"] and threads and threads[0] is not threading.main_thread()
    assert audition.is_playing() and audition.loaded_key() == "a"
    out = pull(audition.player, 3)
    np.testing.assert_allclose(out[1:1536], audio[1:1536], atol=1e-6)  # stereo, both sides


def test_a_newer_load_wins_over_one_still_being_prepared(audition, qtbot):
    gate = threading.Event()
    player = audition._ensure_player()
    real = player.prepare

    def slow_first(audio, **kw):
        if kw.get("tag") == "old":
            gate.wait(5)
        return real(audio, **kw)

    player.prepare = slow_first
    audition.load("old", np.full(2000, 0.5, np.float32), RATE)
    audition.play()
    with qtbot.waitSignal(audition.ready, timeout=5000) as ready:
        audition.load("new", np.full(2000, -0.5, np.float32), RATE)
        audition.play()
        gate.set()
    assert ready.args == ["new"]
    qtbot.wait(50)  # the old one's result, had it been kept, would land now
    assert audition.loaded_key() == "new" and audition.player.current is audition.clip
    assert (pull(audition.player, 2)[BLOCK_FRAMES:, 0] == -0.5).all()


def test_audition_seek_while_playing_uses_the_handover(audition, qtbot):
    with qtbot.waitSignal(audition.ready, timeout=5000):
        audition.load("a", np.arange(RATE, dtype=np.float32), RATE)
        audition.play()
    pull(audition.player, 1)
    audition.seek(0.5)
    clip = audition.clip
    clip.position = 77  # what the callback's store of its old position would do
    out = pull(audition.player, 1)[:, 0]
    assert out[0] == RATE // 2  # the seek was a request, taken at the block's start


def test_a_seek_and_region_made_while_preparing_apply_when_it_lands(audition, qtbot):
    with qtbot.waitSignal(audition.ready, timeout=5000):
        audition.load("a", np.arange(RATE, dtype=np.float32), RATE)
        audition.set_region(0.25, 0.75)
        audition.seek(0.5)
        audition.play()
    assert audition.region() == pytest.approx((0.25, 0.75), abs=1e-4)
    assert pull(audition.player, 1)[0, 0] == RATE // 2
