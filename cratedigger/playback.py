"""Loop playback through sounddevice: prepared buffers, a callback that only copies, click-free switching.

The audio callback runs on PortAudio's thread with a hard deadline. It only copies from a prepared
float32 buffer into `outdata`, wraps at the loop end, zero-fills what is left and advances a frame
counter. Everything that costs time (resampling, channel layout, fade ramps, scratch space) is done
by `prepare()` on the caller's thread, before the buffer is handed over with one attribute store.

    player = Player()                       # opens nothing yet
    clip = player.prepare(audio, sample_rate=22050, loop=(0, 88200))
    player.play(clip)                        # raises AudioDeviceError when there is no output device
    player.position_seconds()                # read by a GUI timer to move the playhead
    player.stop()

No Qt here: the app polls `position_seconds()` from a timer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from cratedigger.errors import BadParameterError, CrateDiggerError

log = logging.getLogger(__name__)

FADE_MS = 8.0  # long enough to hide a waveform jump, short enough to feel instant
BLOCK_FRAMES = 512  # fixed block size: the callback's scratch space is sized from it once
MAX_BLOCK_FRAMES = 16384  # PortAudio may hand bigger blocks on some hosts; scratch covers up to this
CHANNELS = 2


class AudioDeviceError(CrateDiggerError):
    """Audio cannot be played: PortAudio is missing, there is no output device, or it refused to open."""


@dataclass(eq=False)
class Clip:
    """A buffer ready for the callback: float32 [n_frames, channels] at the stream's rate.

    `region` (start, end) in frames is replaced as a whole tuple so the callback never sees half an
    update; `looping` False plays to the region end once and then goes silent.
    """

    frames: np.ndarray
    sample_rate: int
    region: tuple[int, int]
    looping: bool = True
    position: int = 0
    finished: bool = False
    source_rate: int = 0  # rate of the audio given to prepare(); positions are reported in its seconds
    tag: Any = field(default=None)  # the caller's key for what this clip is (e.g. a sample id)

    def set_region_seconds(self, start: float, end: float) -> None:
        n = self.frames.shape[0]
        s = int(round(max(0.0, start) * self.sample_rate))
        e = int(round(min(n / self.sample_rate, end) * self.sample_rate))
        s = min(s, n - 1)
        e = max(s + 1, min(e, n))
        self.region = (s, e)


def _import_sounddevice():
    try:
        import sounddevice
    except OSError as exc:  # sounddevice raises OSError when libportaudio cannot be loaded
        raise AudioDeviceError(f"the PortAudio library is not installed ({exc}); install libportaudio2") from exc
    return sounddevice


class Player:
    """One output stream, opened on first play at the first clip's rate, then reused.

    stream_factory: builds the stream (default `sounddevice.OutputStream`); tests pass their own.
    """

    def __init__(
        self,
        *,
        device: int | str | None = None,
        sample_rate: int | None = None,
        stream_factory: Callable[..., Any] | None = None,
        fade_ms: float = FADE_MS,
    ) -> None:
        self.device = device
        self.sample_rate = sample_rate
        self._stream_factory = stream_factory
        self._stream = None
        self._fade_ms = fade_ms
        self._fade_len = 0
        self._fade_in = np.zeros((0, CHANNELS), np.float32)
        self._fade_out = np.zeros((0, CHANNELS), np.float32)
        self._scratch = np.zeros((MAX_BLOCK_FRAMES, CHANNELS), np.float32)
        # What the callback reads: `_next` is handed over by the caller, the callback takes it.
        self._current: Clip | None = None
        self._fading: Clip | None = None
        self._fade_done = 0
        self._next: Clip | None = None
        self._switch_pending = False
        self.frames_written = 0  # every frame the callback has produced, silence included
        self.underruns = 0

    # -- preparing (caller's thread) ----------------------------------------------------------

    def _ramps_for(self, rate: int) -> None:
        n = max(1, int(rate * self._fade_ms / 1000.0))
        if n == self._fade_len:
            return
        t = (np.arange(n, dtype=np.float64) + 0.5) / n
        # Equal-power ramps: the old and new sound keep the loudness steady through the switch.
        # Stored [n, channels]: same shape as the audio, so the callback's in-place multiplies need
        # no broadcasting (numpy's broadcasting iterator allocates).
        self._fade_in = np.repeat(np.sin(t * np.pi / 2).astype(np.float32)[:, None], CHANNELS, axis=1)
        self._fade_out = np.repeat(np.cos(t * np.pi / 2).astype(np.float32)[:, None], CHANNELS, axis=1)
        self._fade_len = n

    def prepare(
        self, audio: np.ndarray, *, sample_rate: int, loop: tuple[int, int] | None = None, looping: bool = True, tag: Any = None
    ) -> Clip:
        """Make a Clip from audio float32 [n] or [n, ch] at sample_rate Hz; loop in source frames.

        Resamples (soxr) to the stream's rate when it differs; the stream's rate is fixed by the
        first clip prepared.
        """
        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim == 1:
            audio = audio[:, None]
        if audio.ndim != 2 or audio.shape[0] == 0:
            raise BadParameterError(f"playback audio must be [n] or [n, channels] with n > 0, got shape {audio.shape}")
        if not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
            raise BadParameterError(f"sample_rate must be a positive integer, got {sample_rate!r}")
        if not np.all(np.isfinite(audio)):
            raise BadParameterError("playback audio holds NaN or infinite values")
        if self.sample_rate is None:
            self.sample_rate = int(sample_rate)
        rate = self.sample_rate
        src_n = audio.shape[0]
        if sample_rate != rate:
            import soxr

            audio = soxr.resample(audio, int(sample_rate), rate, quality="HQ").astype(np.float32)
        if audio.shape[1] == 1:
            frames = np.repeat(audio, CHANNELS, axis=1)
        else:
            frames = audio[:, :CHANNELS] if audio.shape[1] >= CHANNELS else np.repeat(audio[:, :1], CHANNELS, axis=1)
        frames = np.ascontiguousarray(frames, dtype=np.float32)
        self._ramps_for(rate)
        clip = Clip(frames, rate, (0, frames.shape[0]), looping=looping, source_rate=int(sample_rate), tag=tag)
        if loop is not None:
            start, end = loop
            if not 0 <= start < end <= src_n:
                raise BadParameterError(f"loop ({start}, {end}) is outside the audio's {src_n} frames")
            clip.set_region_seconds(start / sample_rate, end / sample_rate)
        return clip

    # -- control (caller's thread) ------------------------------------------------------------

    def open(self) -> None:
        """Open and start the stream (done by play() when needed). Raises AudioDeviceError."""
        if self._stream is not None:
            return
        if self.sample_rate is None:
            raise AudioDeviceError("nothing has been prepared yet, so the stream rate is unknown")
        factory = self._stream_factory
        if factory is None:
            sd = _import_sounddevice()
            factory = sd.OutputStream
            try:
                sd.query_devices(self.device, kind="output")
            except Exception as exc:  # PortAudioError, ValueError: no default output, bad device name
                raise AudioDeviceError(f"no audio output device available ({exc})") from exc
        try:
            stream = factory(
                samplerate=self.sample_rate,
                channels=CHANNELS,
                dtype="float32",
                blocksize=BLOCK_FRAMES,
                device=self.device,
                callback=self._callback,
            )
            stream.start()
        except Exception as exc:  # whatever the host API says, the producer needs one clear message
            raise AudioDeviceError(f"the audio output could not be opened at {self.sample_rate} Hz ({exc})") from exc
        self._stream = stream
        log.info("audio stream open: device=%r, %d Hz, %d channels", self.device, self.sample_rate, CHANNELS)

    def close(self) -> None:
        stream, self._stream = self._stream, None
        self._next, self._switch_pending = None, False
        self._current = self._fading = None
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception as exc:  # closing a broken device must not stop the app from quitting
                log.warning("closing the audio stream failed: %s", exc)

    def play(self, clip: Clip, *, from_start: bool = True) -> None:
        """Switch to `clip` (with a short crossfade from whatever plays now)."""
        if clip.sample_rate != self.sample_rate:
            raise BadParameterError(f"clip is at {clip.sample_rate} Hz but the stream runs at {self.sample_rate} Hz")
        self.open()  # first: a device that will not open must leave nothing queued as "playing"
        if from_start:
            clip.position = clip.region[0]
            clip.finished = False
        self._handover(clip)

    def stop(self) -> None:
        """Fade out whatever plays (the stream stays open for the next play)."""
        self._handover(None)

    def _handover(self, clip: Clip | None) -> None:
        # Two plain attribute stores; the callback takes `_next` only once the flag is set.
        self._next = clip
        self._switch_pending = True

    @property
    def is_open(self) -> bool:
        return self._stream is not None

    @property
    def current(self) -> Clip | None:
        """The clip the callback is playing (or will play from its next block)."""
        return self._next if self._switch_pending else self._current

    @property
    def playing(self) -> bool:
        clip = self.current
        return clip is not None and not clip.finished

    def position_seconds(self) -> float | None:
        """Where the current clip is, in seconds of its own audio, or None when nothing plays."""
        clip = self.current
        if clip is None:
            return None
        return clip.position / clip.sample_rate

    # -- the audio thread ---------------------------------------------------------------------

    def _callback(self, outdata: np.ndarray, frames: int, time: Any, status: Any) -> None:
        """PortAudio's callback: copy, wrap, zero-fill, count. No allocation of buffers, no locks,
        no logging, no signals."""
        if status:
            self.underruns += 1
        if self._switch_pending:
            self._switch_pending = False
            old = self._current
            self._current = self._next
            # An old clip that still sounds fades out over the next few blocks under the new one.
            self._fading = old if old is not None and old is not self._current and not old.finished else None
            self._fade_done = 0
        current = self._current
        if current is None:
            outdata.fill(0.0)
        else:
            _render(current, outdata, frames)
        fading = self._fading
        if fading is not None:
            done = self._fade_done
            n = min(frames, self._fade_len - done, self._scratch.shape[0])
            if n > 0:
                scratch = self._scratch[:n]
                _render(fading, scratch, n)
                np.multiply(scratch, self._fade_out[done : done + n], out=scratch)
                if current is not None:
                    head = outdata[:n]
                    np.multiply(head, self._fade_in[done : done + n], out=head)
                    np.add(head, scratch, out=head)
                else:
                    outdata[:n] = scratch
                self._fade_done = done + n
            if self._fade_done >= self._fade_len or n <= 0:
                self._fading = None
        self.frames_written += frames


def _render(clip: Clip, out: np.ndarray, frames: int) -> None:
    """Fill out[:frames] from clip at its position: wrap inside the region, or play once and go silent."""
    if clip.finished:
        out[:frames] = 0.0
        return
    buf = clip.frames
    start, end = clip.region
    pos = clip.position
    if pos < start or pos >= end:
        pos = start if clip.looping or pos < start else end
    written = 0
    while written < frames:
        if pos >= end:
            if not clip.looping:
                out[written:frames] = 0.0
                clip.finished = True
                break
            pos = start
        n = min(frames - written, end - pos)
        out[written : written + n] = buf[pos : pos + n]
        written += n
        pos += n
    clip.position = pos


def list_output_devices() -> list[str]:
    """Names of output devices PortAudio knows (empty when none). Raises AudioDeviceError without PortAudio."""
    sd = _import_sounddevice()
    try:
        return [d["name"] for d in sd.query_devices() if d.get("max_output_channels", 0) > 0]
    except sd.PortAudioError as exc:
        raise AudioDeviceError(f"cannot list audio devices ({exc})") from exc


__all__ = ["AudioDeviceError", "Clip", "Player", "list_output_devices"]
