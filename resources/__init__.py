"""The app's theme (QSS) and icons, loaded with importlib.resources (see cratedigger_ui.theme)."""
