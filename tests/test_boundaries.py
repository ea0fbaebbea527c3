"""The shape of the code: the engine never loads Qt, and packaging lists every package folder."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_engine_imports_without_qt():
    modules = [
        "cratedigger", "cratedigger.mel", "cratedigger.model", "cratedigger.generate", "cratedigger.extend",
        "cratedigger.variations", "cratedigger.cli", "cratedigger.audio.io", "cratedigger.audio.dsp",
    ]
    modules += [
        f"cratedigger.{p.stem}" if p.parent.name == "cratedigger" else f"cratedigger.{p.parent.name}.{p.stem}"
        for p in sorted((ROOT / "cratedigger").rglob("*.py"))
        if p.stem not in ("__init__", "__main__") and p.parent.name != "__pycache__"
    ]
    code = "import importlib, sys\n" + "".join(f"importlib.import_module({m!r})\n" for m in modules)
    code += "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_every_package_folder_is_packaged():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "cratedigger").rglob("__init__.py")}
    found |= {".".join(("cratedigger_ui", *p.parent.relative_to(ROOT / "ui").parts)) for p in (ROOT / "ui").rglob("__init__.py")}
    assert found <= listed, f"add to pyproject [tool.setuptools] packages: {sorted(found - listed)}"
    assert config["package-dir"]["cratedigger_ui"] == "ui"  # never installed as a bare `ui`


def test_cli_help_lists_every_command():
    result = subprocess.run([sys.executable, "-m", "cratedigger", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    for command in ("generate", "extend", "vary"):
        assert command in result.stdout
