"""Paints one loop row: waveform thumbnail, name, BPM and bars, tags, rating stars, favourite.

A thumbnail is drawn once into a pixmap and reused: the list repaints its rows whenever a
candidate lands or the selection moves, and rebuilding 160-point antialiased polygons for every
visible row each time was the GUI thread's longest stall while generating."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPen, QPixmap, QPolygonF
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from cratedigger_ui.models import ENTRY_ROLE

ROW_HEIGHT = 46
THUMB_WIDTH = 120
WAVE = QColor("#f0a830")
MUTED = QColor("#8d8a83")
TEXT = QColor("#e4e2dc")
KEPT = QColor("#7fd67f")
THUMB_BACKGROUND = QColor("#0e0f11")
THUMB_CACHE = 512  # rendered thumbnails kept (a few MB at most): more rows than a library page shows


def _star_path(cx: float, cy: float, r: float) -> QPainterPath:
    path = QPainterPath()
    for i in range(10):
        radius = r if i % 2 == 0 else r * 0.45
        a = -np.pi / 2 + i * np.pi / 5
        pt = QPointF(cx + radius * np.cos(a), cy + radius * np.sin(a))
        path.moveTo(pt) if i == 0 else path.lineTo(pt)
    path.closeSubpath()
    return path


class EntryDelegate(QStyledItemDelegate):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        # (entry key, width, height, device pixel ratio) -> (the overview it was drawn from, pixmap)
        self._thumbs: OrderedDict[tuple, tuple[np.ndarray, QPixmap]] = OrderedDict()

    def thumbnail(self, key: str, overview: np.ndarray, width: int, height: int, ratio: float) -> QPixmap:
        """The thumbnail of one loop at one size, drawn the first time and reused after; an entry
        whose overview changed (a re-cut) is drawn again (the cache holds the array it was drawn from)."""
        slot = (key, width, height, ratio)
        cached = self._thumbs.get(slot)
        if cached is not None and cached[0] is overview:
            self._thumbs.move_to_end(slot)
            return cached[1]
        pixmap = QPixmap(max(1, round(width * ratio)), max(1, round(height * ratio)))
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(THUMB_BACKGROUND)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        self._paint_wave(painter, QRectF(0, 0, width, height), overview)
        painter.end()
        self._thumbs[slot] = (overview, pixmap)
        while len(self._thumbs) > THUMB_CACHE:
            self._thumbs.popitem(last=False)
        return pixmap

    def sizeHint(self, option: QStyleOptionViewItem, index) -> QSize:
        # width 0: the view makes rows as wide as its viewport, never wider (no sideways scrolling)
        return QSize(0, ROW_HEIGHT)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index) -> None:
        entry = index.data(ENTRY_ROLE)
        if entry is None:
            return super().paint(painter, option, index)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        rect = option.rect
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(rect, QColor("#3b3222"))
        elif index.row() % 2:
            painter.fillRect(rect, QColor("#17181b"))
        thumb = QRectF(rect.left() + 4, rect.top() + 4, THUMB_WIDTH, rect.height() - 8)
        if entry.overview is not None and len(entry.overview):
            ratio = painter.device().devicePixelRatioF() if painter.device() is not None else 1.0
            pixmap = self.thumbnail(entry.key, entry.overview, int(thumb.width()), int(thumb.height()), ratio)
            painter.drawPixmap(thumb.topLeft(), pixmap)
        else:
            painter.fillRect(thumb, THUMB_BACKGROUND)
        x = thumb.right() + 10
        name_font = QFont(option.font)
        name_font.setBold(True)
        painter.setFont(name_font)
        painter.setPen(KEPT if entry.kept else TEXT)
        text_w = rect.right() - x - 110
        name = painter.fontMetrics().elidedText(entry.name, Qt.TextElideMode.ElideRight, int(max(40, text_w)))
        painter.drawText(QRectF(x, rect.top() + 4, text_w, rect.height() / 2 - 4), Qt.AlignmentFlag.AlignVCenter, name)
        painter.setFont(option.font)
        painter.setPen(MUTED)
        line = entry.summary()
        if entry.tags:
            line += "   #" + "  #".join(entry.tags)
        line = painter.fontMetrics().elidedText(line, Qt.TextElideMode.ElideRight, int(max(40, text_w)))
        painter.drawText(QRectF(x, rect.center().y(), text_w, rect.height() / 2 - 4), Qt.AlignmentFlag.AlignVCenter, line)
        self._paint_stars(painter, rect, entry.rating, entry.favourite)
        painter.restore()

    @staticmethod
    def _paint_wave(painter: QPainter, r: QRectF, overview: np.ndarray) -> None:
        n = overview.shape[0]
        peak = float(np.max(np.abs(overview))) or 1.0
        xs = r.left() + (np.arange(n) + 0.5) * r.width() / n
        mid, half = r.center().y(), r.height() / 2 - 1
        top = [QPointF(x, mid - half * v / peak) for x, v in zip(xs, overview[:, 1])]
        bottom = [QPointF(x, mid - half * v / peak) for x, v in zip(xs[::-1], overview[::-1, 0])]
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(WAVE)
        painter.drawPolygon(QPolygonF(top + bottom))

    @staticmethod
    def _paint_stars(painter: QPainter, rect, rating: int, favourite: bool) -> None:
        cy = rect.center().y()
        x = rect.right() - 100
        for i in range(5):
            path = _star_path(x + i * 16 + 7, cy, 6.5)
            if i < rating:
                painter.fillPath(path, WAVE)
            else:
                painter.setPen(QPen(QColor("#55534e"), 1))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawPath(path)
        if favourite:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor("#e0607e"))
            cx = rect.right() - 12
            heart = QPainterPath()
            heart.moveTo(cx, cy + 5)
            heart.cubicTo(cx - 9, cy - 1, cx - 4, cy - 8, cx, cy - 3)
            heart.cubicTo(cx + 4, cy - 8, cx + 9, cy - 1, cx, cy + 5)
            painter.drawPath(heart)
