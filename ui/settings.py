"""What the app remembers between runs, over QSettings (passed in, so tests use their own file)."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings


def make_settings(path: str | None = None) -> QSettings:
    """The user's settings, or an INI file at `path` (tests, portable setups)."""
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings("CrateDigger", "CrateDigger")


class AppSettings:
    """Typed access to the few values we keep."""

    def __init__(self, qsettings: QSettings) -> None:
        self.q = qsettings

    def _get(self, key: str, default, kind):
        value = self.q.value(key, default)
        if value is None:
            return default
        if kind is bool:
            return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
        try:
            return kind(value)
        except (TypeError, ValueError):
            return default

    def get_str(self, key: str, default: str = "") -> str:
        return self._get(key, default, str)

    def get_int(self, key: str, default: int) -> int:
        return self._get(key, default, int)

    def get_float(self, key: str, default: float) -> float:
        return self._get(key, default, float)

    def get_bool(self, key: str, default: bool) -> bool:
        return self._get(key, default, bool)

    def get_list(self, key: str) -> list[str]:
        value = self.q.value(key, [])
        if isinstance(value, str):
            return [value] if value else []
        return [str(v) for v in (value or [])]

    def get_bytes(self, key: str) -> QByteArray | None:
        value = self.q.value(key)
        return value if isinstance(value, QByteArray) else None

    def set(self, key: str, value) -> None:
        self.q.setValue(key, value)

    def sync(self) -> None:
        self.q.sync()
