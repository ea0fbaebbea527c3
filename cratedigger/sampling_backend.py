"""Which runtime runs the UNet: torch (always), or a compiled backend from an optional extra.

Only torch is built today; "openvino" is the named slot for issue 16's compiled backend, so that
asking for it says plainly whether the package is missing rather than failing somewhere deep.
"""

from __future__ import annotations

import importlib.util

from cratedigger.errors import BadParameterError

BACKENDS = {"torch": "torch", "openvino": "openvino"}  # name -> the Python package it needs
BUILT = ("torch",)


def check_backend(name: str) -> str:
    if name not in BACKENDS:
        raise BadParameterError(f"unknown backend {name!r} (choose from {', '.join(BACKENDS)})")
    if importlib.util.find_spec(BACKENDS[name]) is None:
        raise BadParameterError(f"backend {name!r} is not installed (pip install -e .[{name}])")
    if name not in BUILT:
        raise BadParameterError(f"backend {name!r} is installed but this version of CrateDigger cannot use it yet")
    return name
