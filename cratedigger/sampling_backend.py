"""Which runtime runs the UNet: torch (always), or OpenVINO from the optional extra
(`pip install -e .[openvino]`; cratedigger.openvino_unet). Asking for a backend whose package is
missing says so plainly at request time rather than failing somewhere deep.
"""

from __future__ import annotations

import importlib.util

from cratedigger.errors import BadParameterError

BACKENDS = {"torch": "torch", "openvino": "openvino"}  # name -> the Python package it needs
BUILT = ("torch", "openvino")


def check_backend(name: str) -> str:
    if name not in BACKENDS:
        raise BadParameterError(f"unknown backend {name!r} (choose from {', '.join(BACKENDS)})")
    if importlib.util.find_spec(BACKENDS[name]) is None:
        raise BadParameterError(f"backend {name!r} is not installed (pip install -e .[{name}])")
    if name not in BUILT:
        raise BadParameterError(f"backend {name!r} is installed but this version of CrateDigger cannot use it yet")
    return name
