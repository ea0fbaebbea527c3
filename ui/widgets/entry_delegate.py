"""Paints one loop row: waveform thumbnail, name, BPM and bars, tags, rating stars, favourite."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from cratedigger_ui.models import ENTRY_ROLE

ROW_HEIGHT = 46
THUMB_WIDTH = 120
WAVE = QColor("#f0a830")
MUTED = QColor("#8d8a83")
TEXT = QColor("#e4e2dc")
KEPT = QColor("#7fd67f")


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
        painter.fillRect(thumb, QColor("#0e0f11"))
        if entry.overview is not None and len(entry.overview):
            self._paint_wave(painter, thumb, entry.overview)
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
