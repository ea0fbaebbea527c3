"""Audition on the Qt side: holds the Player, prepares clips off the GUI thread, moves a smooth playhead.

Preparing a clip (checks, resampling to the device's rate, channel layout) costs ~35 ms for a 6 s
stereo loop, so it runs on this object's own one-thread pool; the GUI thread only hands the prepared
buffer to the player when it lands. A preparation that a newer load replaced is dropped by number.
`play()` before the clip is ready plays it as soon as it is.

The Player's callback only advances a frame counter; a ~60 Hz QTimer here reads it. Between the
callback's blocks (~23 ms at 22.05 kHz) the playhead is extrapolated by wall time, so it glides
instead of stepping.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal

from cratedigger.errors import CrateDiggerError
from cratedigger.playback import BLOCK_FRAMES, AudioDeviceError, Clip, Player

log = logging.getLogger(__name__)

PLAYHEAD_HZ = 60


@dataclass
class _Pending:
    """A clip being prepared, and what to do with it when it lands (GUI thread only)."""

    number: int
    key: str
    switch: bool  # True: take over from the playing clip at the same place in the loop
    region: tuple[float, float] | None = None
    seek: float | None = None


class _Relay(QObject):
    """Lives on the GUI thread; the pool thread emits on it, so the slot runs on the GUI thread."""

    prepared = Signal(int, object, str)  # number, Clip or None, why not


class _Prepare(QRunnable):
    def __init__(self, relay: _Relay, number: int, player: Player, audio: np.ndarray, sample_rate: int,
                 looping: bool, key: str) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._relay, self._number, self._player = relay, number, player
        self._audio, self._rate, self._looping, self._key = audio, sample_rate, looping, key

    def run(self) -> None:  # pool thread
        try:
            clip = self._player.prepare(self._audio, sample_rate=self._rate, looping=self._looping, tag=self._key)
        except AudioDeviceError as exc:
            self._relay.prepared.emit(self._number, None, f"Cannot play audio: {exc}")
        except CrateDiggerError as exc:
            self._relay.prepared.emit(self._number, None, str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug here must say so, not kill the pool thread
            log.exception("preparing audio for %s failed", self._key)
            self._relay.prepared.emit(self._number, None, f"unexpected {type(exc).__name__}: {exc}")
        else:
            self._relay.prepared.emit(self._number, clip, "")


class Audition(QObject):
    position_changed = Signal(object)  # seconds (float) or None when stopped
    playing_changed = Signal(bool)
    unavailable = Signal(str)  # why audio cannot play; the app keeps working without it
    ready = Signal(str)  # the key of a clip that was prepared and handed over

    def __init__(self, player_factory: Callable[[], Player] = Player, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._player_factory = player_factory
        self.player: Player | None = None
        self.clip: Clip | None = None  # the prepared clip: what plays, or would play
        self.looping = True
        self.problem: str | None = None
        self._pending: _Pending | None = None
        self._numbers = 0
        self._play_on_ready = False
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)  # in order; a newer load drops the queued older ones
        self._relay = _Relay(self)
        self._relay.prepared.connect(self._on_prepared)
        self._anchor: tuple[int, float] | None = None  # (frame position, monotonic time) of last change
        self._was_playing = False
        self._timer = QTimer(self)
        self._timer.setInterval(1000 // PLAYHEAD_HZ)
        self._timer.timeout.connect(self._tick)

    def _ensure_player(self) -> Player:
        if self.player is None:
            self.player = self._player_factory()
        return self.player

    def _submit(self, key: str, audio: np.ndarray, sample_rate: int, *, switch: bool,
                region: tuple[float, float] | None = None) -> None:
        self._numbers += 1
        self._pending = _Pending(self._numbers, key, switch, region)
        self._pool.clear()  # queued, not started: replaced by this one
        self._pool.start(_Prepare(self._relay, self._numbers, self._ensure_player(), audio, sample_rate,
                                  self.looping, key))

    def load(self, key: str, audio: np.ndarray, sample_rate: int, region: tuple[float, float] | None = None) -> None:
        """Prepare `audio` (float32 [n] or [n, channels]) off the GUI thread; playing starts with play()
        (which, called before the clip is ready, plays it when it is)."""
        self._play_on_ready = False
        self._submit(key, audio, sample_rate, switch=False, region=region)

    def switch(self, key: str, audio: np.ndarray, sample_rate: int) -> None:
        """Swap the playing loop for `audio` (the same loop at another tempo) at the same place in
        the loop, through the player's crossfade: no gap, no click. Plays the whole new loop."""
        self._submit(key, audio, sample_rate, switch=True)

    def _on_prepared(self, number: int, clip: Clip | None, message: str) -> None:
        pending = self._pending
        if pending is None or pending.number != number:
            return  # a newer load replaced this one while it was prepared
        self._pending = None
        if clip is None:
            self._play_on_ready = False
            self._fail(message)
            return
        clip.looping = self.looping  # the loop button may have changed while it was prepared
        old, player = self.clip, self.player
        if pending.switch:
            if old is not None and old.region[1] > old.region[0]:
                fraction = (old.position - old.region[0]) / (old.region[1] - old.region[0])
                clip.position = int(min(max(fraction, 0.0), 1.0) * (clip.frames.shape[0] - 1))
            self.clip = clip
            if old is not None and player.current is old:
                try:
                    player.play(clip, from_start=False)  # the position set above travels with it
                except CrateDiggerError as exc:
                    self._fail(str(exc))
            elif self._play_on_ready:
                self._play_now()
        else:
            if pending.region is not None:
                clip.set_region_seconds(*pending.region)
            self.clip = clip
            if pending.seek is not None:
                player.seek(clip, int(pending.seek * clip.sample_rate))
            if self._play_on_ready:
                self._play_now(from_start=pending.seek is None)
        self._play_on_ready = False
        self.ready.emit(pending.key)

    def loaded_key(self) -> str | None:
        """The key of the prepared clip (not of one still being prepared)."""
        return None if self.clip is None else self.clip.tag

    def is_ready(self) -> bool:
        """No preparation in flight: `clip` is the last thing loaded."""
        return self._pending is None

    def play(self) -> bool:
        """Play the loaded clip; while it is being prepared, ask for it to play when it lands."""
        if self._pending is not None:
            self._play_on_ready = True
            return True
        return self._play_now()

    def _play_now(self, *, from_start: bool = True) -> bool:
        if self.clip is None:
            return False
        player = self._ensure_player()
        self.clip.looping = self.looping
        try:
            player.play(self.clip, from_start=from_start)
        except AudioDeviceError as exc:
            self._fail(f"Cannot play audio: {exc}")
            return False
        except CrateDiggerError as exc:
            self._fail(str(exc))
            return False
        if self.problem:
            self.problem = None
            self.unavailable.emit("")
        self._anchor = None
        self._timer.start()
        self._set_playing(True)
        return True

    def stop(self) -> None:
        self._play_on_ready = False
        if self.player is not None:
            self.player.stop()
        self._timer.stop()
        self._set_playing(False)
        self.position_changed.emit(None)

    def toggle(self) -> None:
        if self.is_playing() or (self._pending is not None and self._play_on_ready):
            self.stop()
        else:
            self.play()

    def is_playing(self) -> bool:
        """The prepared clip is sounding (a clip still being prepared is not, even when asked to play)."""
        return self.player is not None and self.player.playing and self.player.current is self.clip

    def set_looping(self, on: bool) -> None:
        self.looping = on
        if self.clip is not None:
            self.clip.looping = on

    def set_region(self, start: float, end: float) -> None:
        pending = self._pending
        if pending is not None and not pending.switch:
            pending.region = (start, end)  # the region of the loop on its way in
        elif self.clip is not None:
            self.clip.set_region_seconds(start, end)

    def region(self) -> tuple[float, float] | None:
        if self.clip is None:
            return None
        s, e = self.clip.region
        return s / self.clip.sample_rate, e / self.clip.sample_rate

    def seek(self, seconds: float) -> None:
        """Move the playhead: handed to the player's callback like a load, so it is never lost."""
        pending = self._pending
        if pending is not None and not pending.switch:
            pending.seek = max(0.0, seconds)
        elif self.clip is not None and self.player is not None:
            self.player.seek(self.clip, int(max(0.0, seconds) * self.clip.sample_rate))
            self._anchor = None

    def close(self) -> None:
        self._timer.stop()
        self._pending = None
        self._pool.clear()
        self._pool.waitForDone(5000)
        if self.player is not None:
            self.player.close()

    # -- playhead ------------------------------------------------------------------------------

    def _tick(self) -> None:
        player, clip = self.player, self.clip
        if player is None or clip is None or player.current is not clip or not player.playing:
            self._timer.stop()
            self._set_playing(False)
            self.position_changed.emit(None)
            return
        now = time.monotonic()
        seconds = player.position_seconds()
        pos = int(round(seconds * clip.sample_rate)) if seconds is not None else clip.position
        if self._anchor is None or self._anchor[0] != pos:
            self._anchor = (pos, now)
        # Glide between callback blocks, never further than one block ahead of what was played.
        ahead = min((now - self._anchor[1]) * clip.sample_rate, BLOCK_FRAMES)
        start, end = clip.region
        frame = pos + ahead
        if frame >= end:
            frame = start + (frame - end) if clip.looping else end
        self.position_changed.emit(frame / clip.sample_rate)

    def _set_playing(self, playing: bool) -> None:
        if playing != self._was_playing:
            self._was_playing = playing
            self.playing_changed.emit(playing)

    def _fail(self, message: str) -> None:
        log.warning("audio: %s", message)
        self.problem = message
        self._set_playing(False)
        self.unavailable.emit(message)
