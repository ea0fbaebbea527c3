"""Audition on the Qt side: holds the Player, prepares clips, moves a smooth playhead from a timer.

The Player's callback only advances a frame counter; a ~60 Hz QTimer here reads it. Between the
callback's blocks (~23 ms at 22.05 kHz) the playhead is extrapolated by wall time, so it glides
instead of stepping.
"""

from __future__ import annotations

import logging
import time
from typing import Callable

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from cratedigger.errors import CrateDiggerError
from cratedigger.playback import BLOCK_FRAMES, AudioDeviceError, Clip, Player

log = logging.getLogger(__name__)

PLAYHEAD_HZ = 60


class Audition(QObject):
    position_changed = Signal(object)  # seconds (float) or None when stopped
    playing_changed = Signal(bool)
    unavailable = Signal(str)  # why audio cannot play; the app keeps working without it

    def __init__(self, player_factory: Callable[[], Player] = Player, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._player_factory = player_factory
        self.player: Player | None = None
        self.clip: Clip | None = None
        self.looping = True
        self.problem: str | None = None
        self._anchor: tuple[int, float] | None = None  # (frame position, monotonic time) of last change
        self._was_playing = False
        self._timer = QTimer(self)
        self._timer.setInterval(1000 // PLAYHEAD_HZ)
        self._timer.timeout.connect(self._tick)

    def _ensure_player(self) -> Player:
        if self.player is None:
            self.player = self._player_factory()
        return self.player

    def _prepare(self, key: str, audio: np.ndarray, sample_rate: int):
        """The player's clip for `audio`, or None after saying why it cannot play."""
        try:
            return self._ensure_player().prepare(audio, sample_rate=sample_rate, looping=self.looping, tag=key)
        except CrateDiggerError as exc:
            self._fail(str(exc))
            return None

    def load(self, key: str, audio: np.ndarray, sample_rate: int, region: tuple[float, float] | None = None) -> None:
        """Prepare `audio` (float32 mono) for playing; playing starts only with play()."""
        clip = self._prepare(key, audio, sample_rate)
        if clip is None:
            return
        if region is not None:
            clip.set_region_seconds(*region)
        self.clip = clip

    def switch(self, key: str, audio: np.ndarray, sample_rate: int) -> None:
        """Swap the playing loop for `audio` (the same loop at another tempo) at the same place in
        the loop, through the player's crossfade: no gap, no click. Plays the whole new loop."""
        old = self.clip
        clip = self._prepare(key, audio, sample_rate)
        if clip is None:
            return
        if old is not None and old.region[1] > old.region[0]:
            fraction = (old.position - old.region[0]) / (old.region[1] - old.region[0])
            clip.position = int(min(max(fraction, 0.0), 1.0) * (clip.frames.shape[0] - 1))
        self.clip = clip
        player = self.player  # made by _prepare
        if old is not None and player.current is old:
            try:
                player.play(clip, from_start=False)
            except CrateDiggerError as exc:
                self._fail(str(exc))

    def loaded_key(self) -> str | None:
        return None if self.clip is None else self.clip.tag

    def play(self) -> bool:
        if self.clip is None:
            return False
        player = self._ensure_player()
        self.clip.looping = self.looping
        try:
            player.play(self.clip)
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
        if self.player is not None:
            self.player.stop()
        self._timer.stop()
        self._set_playing(False)
        self.position_changed.emit(None)

    def toggle(self) -> None:
        if self.is_playing():
            self.stop()
        else:
            self.play()

    def is_playing(self) -> bool:
        return self.player is not None and self.player.playing and self.player.current is self.clip

    def set_looping(self, on: bool) -> None:
        self.looping = on
        if self.clip is not None:
            self.clip.looping = on

    def set_region(self, start: float, end: float) -> None:
        if self.clip is not None:
            self.clip.set_region_seconds(start, end)

    def region(self) -> tuple[float, float] | None:
        if self.clip is None:
            return None
        s, e = self.clip.region
        return s / self.clip.sample_rate, e / self.clip.sample_rate

    def seek(self, seconds: float) -> None:
        if self.clip is not None:
            self.clip.position = int(max(0.0, seconds) * self.clip.sample_rate)
            self.clip.finished = False

    def close(self) -> None:
        self._timer.stop()
        if self.player is not None:
            self.player.close()

    # -- playhead ------------------------------------------------------------------------------

    def _tick(self) -> None:
        player, clip = self.player, self.clip
        if player is None or clip is None or player.current is not clip or clip.finished:
            self._timer.stop()
            self._set_playing(False)
            self.position_changed.emit(None)
            return
        now = time.monotonic()
        pos = clip.position
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
