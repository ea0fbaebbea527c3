"""The detail view: waveform with beat/downbeat grid, playhead and a bar-snapping loop region, and
the mel spectrogram under it on the same time axis. Plot items are made once and updated in place."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGraphicsItem, QVBoxLayout, QWidget

from cratedigger_ui.entries import Entry

WAVE_PEN = pg.mkPen("#f0a830", width=1)
BEAT_PEN = pg.mkPen((200, 200, 200, 60), width=1)
DOWNBEAT_PEN = pg.mkPen((240, 168, 48, 170), width=2)
PLAYHEAD_PEN = pg.mkPen("#ffffff", width=2)


def snap(value: float, grid: np.ndarray) -> float:
    """The grid point nearest to value (grid sorted, non-empty)."""
    i = int(np.clip(np.searchsorted(grid, value), 1, len(grid) - 1)) if len(grid) > 1 else 0
    if len(grid) == 1:
        return float(grid[0])
    return float(grid[i - 1] if abs(value - grid[i - 1]) <= abs(grid[i] - value) else grid[i])


class DetailView(QWidget):
    """Shows one Entry. `region_changed(start_s, end_s)` fires after the loop region snaps to bars."""

    region_changed = Signal(float, float)
    seek_requested = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.entry: Entry | None = None
        self._bars = np.zeros(0)
        self._duration = 0.0
        self._snapping = False

        self.canvas = pg.GraphicsLayoutWidget()
        self.canvas.setBackground("#111214")
        self.canvas.ci.setSpacing(2)
        self.wave_plot = self.canvas.addPlot(row=0, col=0)
        self.spec_plot = self.canvas.addPlot(row=1, col=0)
        self.canvas.ci.layout.setRowStretchFactor(0, 3)
        self.canvas.ci.layout.setRowStretchFactor(1, 2)
        for plot in (self.wave_plot, self.spec_plot):
            plot.setMenuEnabled(False)
            plot.hideButtons()
            plot.setMouseEnabled(x=True, y=False)
            plot.getAxis("left").setWidth(44)
        self.spec_plot.setXLink(self.wave_plot)
        self.wave_plot.hideAxis("bottom")
        self.wave_plot.setYRange(-1.05, 1.05, padding=0)
        self.wave_plot.getAxis("left").setTicks([[(-1, "-1"), (0, "0"), (1, "1")]])
        self.spec_plot.setLabel("bottom", "seconds")
        self.spec_plot.getAxis("bottom").enableAutoSIPrefix(False)
        # mel rows are labelled in Hz (a producer thinks "the hats are up at 8k"), no SI prefix
        self.spec_plot.getAxis("left").enableAutoSIPrefix(False)
        self.spec_plot.getAxis("left").setTicks([[]])
        self.hint = pg.TextItem("Select a loop to see its waveform, beat grid and spectrogram", color="#8d8a83",
                                anchor=(0.5, 0.5))
        self.wave_plot.addItem(self.hint)
        self.hint.setPos(0.5, 0.0)

        self.wave = pg.PlotDataItem(pen=WAVE_PEN)
        self.wave.setClipToView(True)
        self.beat_lines = pg.PlotDataItem(pen=BEAT_PEN, connect="pairs")
        self.downbeat_lines = pg.PlotDataItem(pen=DOWNBEAT_PEN, connect="pairs")
        self.region = pg.LinearRegionItem(values=(0, 1), brush=(240, 168, 48, 40), hoverBrush=(240, 168, 48, 70))
        self.region.setZValue(-5)
        self.playhead = pg.InfiniteLine(pos=0, angle=90, pen=PLAYHEAD_PEN, movable=False)
        self.spec_playhead = pg.InfiniteLine(pos=0, angle=90, pen=PLAYHEAD_PEN, movable=False)
        for item in (self.region, self.beat_lines, self.downbeat_lines, self.wave, self.playhead):
            self.wave_plot.addItem(item)
        # The playhead repaints its strip 60 times a second; cached as pixmaps, the waveform and
        # grid are blitted instead of re-stroked (~5 ms -> ~1 ms a frame for a 6 s loop).
        for item in (self.wave.curve, self.beat_lines.curve, self.downbeat_lines.curve):
            item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.spec_image = pg.ImageItem(axisOrder="row-major")
        self.spec_image.setColorMap(pg.colormap.get("inferno"))
        self.spec_image.setLevels((0, 255))
        self.spec_plot.addItem(self.spec_image)
        self.spec_plot.addItem(self.spec_playhead)
        self.playhead.hide()
        self.spec_playhead.hide()
        self.region.hide()
        self.region.sigRegionChangeFinished.connect(self._snap_region)
        self.wave_plot.scene().sigMouseClicked.connect(self._clicked)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas)

    # -- showing -------------------------------------------------------------------------------

    def clear(self) -> None:
        self.entry = None
        self.wave_plot.setXRange(0, 1, padding=0)
        self.hint.show()
        self.spec_plot.getAxis("left").setTicks([[]])
        self.wave.setData([], [])
        self.beat_lines.setData([], [])
        self.downbeat_lines.setData([], [])
        self.spec_image.clear()
        self.region.hide()
        self.set_playhead(None)

    def show_entry(self, entry: Entry) -> None:
        """Grid and region from the entry at once; audio and spectrogram follow via set_audio."""
        self.entry = entry
        self.hint.hide()
        self._duration = entry.duration
        self._show_grid(entry)
        if entry.audio is not None:
            self.set_audio(entry.audio, entry.sample_rate)
        else:
            self.wave.setData([], [])
        self.spec_image.clear()
        self.wave_plot.setXRange(0, max(entry.duration, 0.01), padding=0.01)
        self.set_region(0.0, float(self._bars[-1]) if len(self._bars) > 1 else entry.duration)
        self.region.show()
        self.set_playhead(None)

    def preview_grid(self, bpm: float, first_downbeat: float) -> None:
        """Draw the grid a tempo override would cut on, before it is applied."""
        if self.entry is None:
            return
        from cratedigger.regrid import steady_grid

        grid = steady_grid(bpm=bpm, duration=max(self._duration, 1e-3), first_downbeat=first_downbeat)
        self.beat_lines.setData(*_vertical_pairs(grid.beats))
        self.downbeat_lines.setData(*_vertical_pairs(grid.downbeats))
        # the loop region follows the new bars: as many bars as before, from the new beat 1
        bar_s = grid.beats_per_bar * 60.0 / grid.bpm
        bars = [t for t in grid.downbeats]
        if bars and bars[-1] + bar_s <= self._duration + 1e-3:
            bars.append(bars[-1] + bar_s)
        if len(bars) >= 2:
            old = self._bars
            start, end = self.region.getRegion()
            span = max(1, int(np.sum((old >= start - 1e-3) & (old <= end + 1e-3))) - 1) if old.size else 1
            self._bars = np.asarray(bars, dtype=np.float64)
            self.set_region(bars[0], bars[min(len(bars) - 1, span)])

    def _show_grid(self, entry: Entry) -> None:
        bars = list(entry.bar_times())
        if bars and bars[-1] < entry.duration - 1e-3 and entry.bar_seconds():
            bars.append(min(entry.duration, bars[-1] + entry.bar_seconds()))
        if not bars or bars[0] > 1e-3:
            bars.insert(0, 0.0)
        if bars[-1] < entry.duration - 1e-3 and not entry.bpm:
            bars.append(entry.duration)
        self._bars = np.asarray(bars, dtype=np.float64)
        beats = entry.beats
        if not beats and entry.bpm:  # a loop stored with its tempo only: the grid follows from it
            beats = tuple(np.arange(0.0, entry.duration - 1e-6, 60.0 / entry.bpm))
        self.beat_lines.setData(*_vertical_pairs(beats))
        self.downbeat_lines.setData(*_vertical_pairs(entry.downbeats or tuple(self._bars[:-1]) if entry.bpm else ()))

    def set_audio(self, audio: np.ndarray, sample_rate: int) -> None:
        t, y = waveform_points(audio, sample_rate)
        self.wave.setData(t, y)

    def set_spectrogram(self, image: np.ndarray, sample_rate: int | None = None) -> None:
        self.spec_image.setImage(image, autoLevels=False, levels=(0, 255))
        self.spec_image.setRect(0.0, 0.0, self._duration, float(image.shape[0]))
        self.spec_plot.setYRange(0, image.shape[0], padding=0)
        rate = sample_rate or (self.entry.sample_rate if self.entry is not None else 22050)
        self.spec_plot.getAxis("left").setTicks([hz_ticks(image.shape[0], rate)])

    def set_playhead(self, seconds: float | None) -> None:
        for line in (self.playhead, self.spec_playhead):
            if seconds is None:
                line.hide()
            else:
                line.setValue(seconds)
                line.show()

    # -- the loop region -----------------------------------------------------------------------

    def loop_region(self) -> tuple[float, float]:
        start, end = self.region.getRegion()
        return float(start), float(end)

    def set_region(self, start: float, end: float) -> None:
        self.region.setRegion((start, end))
        self._snap_region()

    def _snap_region(self) -> None:
        if self._snapping or self.entry is None:
            return
        start, end = self.region.getRegion()
        start = min(max(0.0, start), self._duration)
        end = min(max(0.0, end), self._duration)
        grid = self._bars
        if len(grid) >= 2:
            start, end = snap(start, grid), snap(end, grid)
            if end <= start:  # at least one bar: grow towards the end, or back from it
                i = int(np.searchsorted(grid, start))
                start, end = (grid[i], grid[i + 1]) if i + 1 < len(grid) else (grid[-2], grid[-1])
        elif end - start < 0.05:
            start, end = 0.0, self._duration
        self._snapping = True
        try:
            self.region.setRegion((start, end))
        finally:
            self._snapping = False
        self.region_changed.emit(float(start), float(end))

    def _clicked(self, event) -> None:
        if self.entry is None or event.double():
            return
        pos = self.wave_plot.vb.mapSceneToView(event.scenePos())
        if self.wave_plot.sceneBoundingRect().contains(event.scenePos()) or self.spec_plot.sceneBoundingRect().contains(event.scenePos()):
            self.seek_requested.emit(float(np.clip(pos.x(), 0.0, self._duration)))


TICK_HZ = (100, 500, 1000, 2000, 5000, 10000, 20000)


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (librosa's default, which the display spectrogram uses)."""
    f = np.asarray(f, dtype=np.float64)
    lin = f / (200.0 / 3)
    return np.where(f >= 1000.0, 15.0 + np.log(np.maximum(f, 1e-9) / 1000.0) / (np.log(6.4) / 27.0), lin)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), m * (200.0 / 3))


def hz_ticks(n_mels: int, sample_rate: int) -> list[tuple[float, str]]:
    """(row position, label) for round frequencies on a mel image of n_mels rows (fmin 0, fmax sr/2)."""
    edges = np.linspace(_hz_to_mel(0.0), _hz_to_mel(sample_rate / 2.0), n_mels + 2)
    centres = _mel_to_hz(edges[1:-1])
    ticks = []
    for f in TICK_HZ:
        if centres[0] <= f <= centres[-1]:
            row = float(np.interp(f, centres, np.arange(n_mels))) + 0.5
            ticks.append((row, f"{f // 1000}k" if f >= 1000 else str(f)))
    return ticks


SPECTROGRAM_MELS = 96
SPECTROGRAM_HOP = 256  # ~11.6 ms columns at 22.05 kHz
SPECTROGRAM_TOP_DB = 80
_AMIN = 1e-10  # librosa.power_to_db's floor, as in cratedigger.mel


def display_spectrogram(audio: np.ndarray, sample_rate: int, *, n_mels: int = SPECTROGRAM_MELS,
                        hop: int = SPECTROGRAM_HOP) -> np.ndarray:
    """The strip under the waveform: uint8 [n_mels, ceil(n / hop)], row 0 the lowest band.

    audio: float32 [n] or [n, channels] (shown as its mono mix) at sample_rate Hz. One STFT over the
    whole clip, dB relative to the clip's loudest bin: the model's 256-column images are each
    normalised to their own loudest bin, which made the brightness jump every 256 columns (~3 s)
    and dropped the clip's last partial image. Runs on a worker thread (~15 ms for 6 s).
    """
    import torch

    from cratedigger.audio.dsp import to_mono
    from cratedigger.errors import BadParameterError
    from cratedigger.mel import MelParams, mel_basis

    mono = np.ascontiguousarray(to_mono(audio), dtype=np.float32)
    if mono.ndim != 1 or mono.size == 0:
        raise BadParameterError(f"the spectrogram needs audio [n] or [n, channels] with n > 0, got shape {np.shape(audio)}")
    if not np.all(np.isfinite(mono)):
        raise BadParameterError("the spectrogram got NaN or infinite samples")
    n_fft = 1024
    params = MelParams(x_res=256, y_res=n_mels, sample_rate=int(sample_rate), n_fft=n_fft, hop_length=hop,
                       top_db=SPECTROGRAM_TOP_DB)
    x = torch.from_numpy(np.pad(mono, (0, max(0, n_fft - mono.size))))
    spec = torch.stft(x, n_fft=n_fft, hop_length=hop, window=torch.hann_window(n_fft), center=True,
                      pad_mode="constant", return_complex=True)
    mel = mel_basis(params) @ (spec.real.square() + spec.imag.square())  # [n_mels, frames]
    db = 10.0 * torch.log10(mel.clamp_min(_AMIN).double())
    db = torch.clamp(db - db.max(), min=-float(SPECTROGRAM_TOP_DB))
    image = ((db + SPECTROGRAM_TOP_DB) * (255.0 / SPECTROGRAM_TOP_DB) + 0.5).floor().clamp(0, 255)
    columns = -(-mono.size // hop)
    return image.to(torch.uint8).numpy()[:, :columns]


ENVELOPE_BINS = 3000  # min/max pairs: finer than any screen, ~1 ms of audio each for a 6 s loop


def waveform_points(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """(seconds, values) to draw for audio [n] or [n, channels]: the samples for short audio, else a
    min/max envelope.

    Stroking 130,000 samples costs ~35 ms on the GUI thread; 6,000 envelope points look the same
    at any zoom a producer uses and cost a few ms.
    """
    from cratedigger.audio.dsp import peak_overview, to_mono

    n = audio.shape[0]
    if n <= 2 * ENVELOPE_BINS:  # stereo is drawn as its mono mix, like the envelope below
        return np.arange(n, dtype=np.float64) / sample_rate, to_mono(audio)
    peaks = peak_overview(audio, n_bins=ENVELOPE_BINS)  # [bins, (min, max)], every sample in a bin
    edges = np.linspace(0.0, n, ENVELOPE_BINS + 1)
    t = np.empty(2 * ENVELOPE_BINS, dtype=np.float64)
    t[0::2] = edges[:-1]
    t[1::2] = (edges[:-1] + edges[1:]) / 2
    return t / sample_rate, peaks.reshape(-1)


def _vertical_pairs(times) -> tuple[np.ndarray, np.ndarray]:
    times = np.asarray(tuple(times), dtype=np.float64)
    if times.size == 0:
        return np.zeros(0), np.zeros(0)
    return np.repeat(times, 2), np.tile([-1.05, 1.05], times.size)
