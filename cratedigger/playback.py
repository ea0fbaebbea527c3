"""Loop playback through sounddevice: prepared buffers, a callback that only copies, click-free switching.

The audio callback runs on PortAudio's thread with a hard deadline. It only copies from a prepared
float32 buffer into `outdata`, wraps at the loop end, zero-fills what is left and advances a frame
counter. Everything that costs time (resampling, channel layout, fade ramps, scratch space) is done
by `prepare()`, which is safe to call from a worker thread; `play()`, `seek()` and `stop()` hand a
request over with one attribute store that the callback takes at its next block.

The stream runs at the output device's own rate and with its channels (stereo, or mono on a mono
device): a clip at another rate is resampled when prepared, stereo stays stereo, mono is copied to
both sides.

    player = Player()                       # opens nothing yet
    clip = player.prepare(audio, sample_rate=22050, loop=(0, 88200))   # any thread
    player.play(clip)                        # raises AudioDeviceError when there is no output device
    player.seek(clip, 44100)                 # frames at the stream's rate
    player.position_seconds()                # read by a GUI timer to move the playhead
    player.stop()

No Qt here: the app polls `position_seconds()` from a timer.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from cratedigger.errors import BadParameterError, CrateDiggerError

log = logging.getLogger(__name__)

FADE_MS = 8.0  # long enough to hide a waveform jump, short enough to feel instant
BLOCK_FRAMES = 512  # fixed block size: the callback's scratch space is sized from it once
MAX_BLOCK_FRAMES = 16384  # PortAudio may hand bigger blocks on some hosts; scratch covers up to this
CHANNELS = 2  # what the stream asks for unless the device has fewer


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
    """One output stream at the device's rate, opened on first play, then reused.

    sample_rate / channels: force the stream's format; by default they are asked of the output
    device (its default rate; stereo, or mono when the device has one channel).
    stream_factory: builds the stream (default `sounddevice.OutputStream`); tests pass their own.
    A stand-in factory has no device to ask: its `default_samplerate` attribute, when it has one,
    is the device's rate, else the first clip's rate is taken (nothing to resample for).
    """

    def __init__(
        self,
        *,
        device: int | str | None = None,
        sample_rate: int | None = None,
        channels: int | None = None,
        stream_factory: Callable[..., Any] | None = None,
        fade_ms: float = FADE_MS,
    ) -> None:
        if channels is not None and channels not in (1, 2):
            raise BadParameterError(f"channels must be 1 or 2, got {channels!r}")
        self.device = device
        self.sample_rate = sample_rate
        self.channels = channels
        self._stream_factory = stream_factory
        self._stream = None
        self._fade_ms = fade_ms
        self._format_lock = threading.Lock()  # prepare() may run on several threads; never the callback's
        self._formatted = False
        self._fade_len = 0
        self._fade_in = self._fade_out = self._scratch = np.zeros((0, CHANNELS), np.float32)
        # What the callback reads. A request is one tuple (number, clip or None, start frame or -1),
        # replaced whole by play/seek/stop and taken by the callback when its number is new: a
        # newer request can overwrite an older one before it is taken, but never be half-seen or lost.
        self._request: tuple[int, Clip | None, int] = (0, None, -1)
        self._requests = 0
        self._taken = 0
        self._current: Clip | None = None
        self._fading: Clip | None = None
        self._fade_done = 0
        self.frames_written = 0  # every frame the callback has produced, silence included
        self.underruns = 0

    # -- the stream's format (any thread but the callback's) ---------------------------------

    def _device_format(self) -> tuple[int | None, int]:
        """(default rate or None, channels) of the output device, asked once before the stream exists."""
        factory = self._stream_factory
        if factory is not None:
            rate = getattr(factory, "default_samplerate", None)
            return (int(rate) if rate else None), int(getattr(factory, "max_output_channels", CHANNELS))
        sd = _import_sounddevice()
        try:
            info = sd.query_devices(self.device, kind="output")
        except Exception as exc:  # PortAudioError, ValueError: no default output, bad device name
            raise AudioDeviceError(f"no audio output device available ({exc})") from exc
        return int(round(float(info["default_samplerate"]))), int(info["max_output_channels"])

    def _ensure_format(self, first_rate: int) -> None:
        with self._format_lock:
            if self._formatted:
                return
            if self.sample_rate is None or self.channels is None:
                rate, device_channels = self._device_format()
                if self.sample_rate is None:
                    self.sample_rate = rate or int(first_rate)
                if self.channels is None:
                    self.channels = 1 if device_channels == 1 else CHANNELS
            n = max(1, int(self.sample_rate * self._fade_ms / 1000.0))
            t = (np.arange(n, dtype=np.float64) + 0.5) / n
            # Equal-power ramps: the old and new sound keep the loudness steady through the switch.
            # Stored [n, channels]: same shape as the audio, so the callback's in-place multiplies
            # need no broadcasting (numpy's broadcasting iterator allocates).
            ch = self.channels
            self._fade_in = np.repeat(np.sin(t * np.pi / 2).astype(np.float32)[:, None], ch, axis=1)
            self._fade_out = np.repeat(np.cos(t * np.pi / 2).astype(np.float32)[:, None], ch, axis=1)
            self._fade_len = n
            self._scratch = np.zeros((MAX_BLOCK_FRAMES, ch), np.float32)
            self._formatted = True

    # -- preparing (any thread) ---------------------------------------------------------------

    def prepare(
        self, audio: np.ndarray, *, sample_rate: int, loop: tuple[int, int] | None = None, looping: bool = True, tag: Any = None
    ) -> Clip:
        """Make a Clip from audio float32 [n] or [n, ch] at sample_rate Hz; loop in source frames.

        Safe on a worker thread. Resamples (audio.resample) to the stream's rate when it differs;
        stereo keeps its two sides, mono is copied to both (or both sides are averaged for a mono
        device). The clip owns its buffer: later changes to `audio` do not reach it.
        Raises BadParameterError for bad audio, AudioDeviceError when the device cannot be asked.
        """
        source = audio
        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim == 1:
            audio = audio[:, None]
        if audio.ndim != 2 or audio.shape[0] == 0 or audio.shape[1] == 0:
            raise BadParameterError(f"playback audio must be [n] or [n, channels] with n > 0, got shape {audio.shape}")
        if not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
            raise BadParameterError(f"sample_rate must be a positive integer, got {sample_rate!r}")
        if not np.all(np.isfinite(audio)):
            raise BadParameterError("playback audio holds NaN or infinite values")
        src_n = audio.shape[0]
        if loop is not None:
            start, end = loop
            if not 0 <= start < end <= src_n:
                raise BadParameterError(f"loop ({start}, {end}) is outside the audio's {src_n} frames")
        self._ensure_format(int(sample_rate))
        rate, channels = self.sample_rate, self.channels
        # Channels first (fewer to resample when a mono device averages), then the rate.
        if channels == 1:
            audio = audio if audio.shape[1] == 1 else audio.mean(axis=1, keepdims=True, dtype=np.float32)
        elif audio.shape[1] == 1:
            audio = np.repeat(audio, CHANNELS, axis=1)
        else:
            audio = audio[:, :CHANNELS]
        if sample_rate != rate:
            from cratedigger.audio.resample import resample

            audio = resample(audio, from_rate=int(sample_rate), to_rate=rate)
        frames = np.ascontiguousarray(audio, dtype=np.float32)
        if np.shares_memory(frames, np.asarray(source)):
            frames = frames.copy()
        clip = Clip(frames, rate, (0, frames.shape[0]), looping=looping, source_rate=int(sample_rate), tag=tag)
        if loop is not None:
            clip.set_region_seconds(loop[0] / sample_rate, loop[1] / sample_rate)
        return clip

    # -- control (caller's thread) ------------------------------------------------------------

    def open(self) -> None:
        """Open and start the stream (done by play() when needed). Raises AudioDeviceError."""
        if self._stream is not None:
            return
        if not self._formatted:
            raise AudioDeviceError("nothing has been prepared yet, so the stream's format is unknown")
        factory = self._stream_factory
        if factory is None:
            factory = _import_sounddevice().OutputStream
        try:
            stream = factory(
                samplerate=self.sample_rate,
                channels=self.channels,
                dtype="float32",
                blocksize=BLOCK_FRAMES,
                device=self.device,
                callback=self._callback,
            )
            stream.start()
        except Exception as exc:  # whatever the host API says, the producer needs one clear message
            raise AudioDeviceError(f"the audio output could not be opened at {self.sample_rate} Hz ({exc})") from exc
        self._stream = stream
        log.info("audio stream open: device=%r, %d Hz, %d channels", self.device, self.sample_rate, self.channels)

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception as exc:  # closing a broken device must not stop the app from quitting
                log.warning("closing the audio stream failed: %s", exc)
        # The callback has stopped: nothing is pending, nothing plays.
        self._requests += 1
        self._request = (self._requests, None, -1)
        self._taken = self._requests
        self._current = self._fading = None

    def play(self, clip: Clip, *, from_start: bool = True) -> None:
        """Switch to `clip` (with a short crossfade from whatever plays now): from its region's
        start, or with from_start=False from the clip's own position (set before handing it over)."""
        if clip.sample_rate != self.sample_rate or clip.frames.shape[1] != self.channels:
            raise BadParameterError(
                f"clip is {clip.frames.shape[1]} channels at {clip.sample_rate} Hz but the stream runs "
                f"{self.channels} channels at {self.sample_rate} Hz")
        self.open()  # first: a device that will not open must leave nothing queued as "playing"
        self._handover(clip, clip.region[0] if from_start else -1)

    def seek(self, clip: Clip, frame: int) -> None:
        """Move `clip` to `frame` (at the stream's rate). While it plays, the move goes to the
        callback as a request, like play(), so the callback's own position update cannot undo it."""
        frame = int(min(max(frame, 0), clip.frames.shape[0] - 1))
        if clip is self.current:
            self._handover(clip, frame)
        else:  # the callback does not play it: a plain store is safe
            clip.position = frame
            clip.finished = False

    def stop(self) -> None:
        """Fade out whatever plays (the stream stays open for the next play)."""
        self._handover(None, -1)

    def _handover(self, clip: Clip | None, frame: int) -> None:
        # One attribute store of a whole tuple: the callback sees the old request or the new one.
        self._requests += 1
        self._request = (self._requests, clip, frame)

    def _pending(self) -> tuple[int, Clip | None, int] | None:
        request = self._request
        return request if request[0] != self._taken else None

    @property
    def is_open(self) -> bool:
        return self._stream is not None

    @property
    def current(self) -> Clip | None:
        """The clip the callback is playing (or will play from its next block)."""
        pending = self._pending()
        return pending[1] if pending is not None else self._current

    @property
    def playing(self) -> bool:
        pending = self._pending()
        if pending is not None and pending[1] is not None and pending[2] >= 0:
            return True  # a play or seek not yet taken restarts the clip
        clip = self.current
        return clip is not None and not clip.finished

    def position_seconds(self) -> float | None:
        """Where the current clip is, in seconds, or None when nothing plays. A seek not yet taken
        by the callback already shows."""
        pending = self._pending()
        clip = self.current
        if clip is None:
            return None
        frame = pending[2] if pending is not None and pending[2] >= 0 else clip.position
        return frame / clip.sample_rate

    # -- the audio thread ---------------------------------------------------------------------

    def _callback(self, outdata: np.ndarray, frames: int, time: Any, status: Any) -> None:
        """PortAudio's callback: take a request, copy, wrap, zero-fill, count. No allocation of
        buffers, no locks, no logging, no signals."""
        if status:
            self.underruns += 1
        request = self._request  # read once: the caller may replace it at any moment
        if request[0] != self._taken:
            self._taken = request[0]
            clip, frame = request[1], request[2]
            old = self._current
            if clip is not old:
                self._current = clip
                # An old clip that still sounds fades out over the next few blocks under the new one.
                self._fading = old if old is not None and not old.finished else None
                self._fade_done = 0
            if clip is not None and frame >= 0:
                clip.position = frame
                clip.finished = False
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
