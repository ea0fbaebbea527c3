"""Checks of plain arguments that many engine modules share, each failing with one clear line."""

from __future__ import annotations

import numpy as np

from cratedigger.errors import BadParameterError


def check_int(value: object, *, name: str, lo: int | None = None, hi: int | None = None) -> int:
    """`value` as an int within lo..hi (either end open when None), else BadParameterError.

    bool is refused although Python counts it as an int (`count=True` is a mistake, not 1);
    numpy integers are accepted (values read from arrays and JSON-decoded configs).
    """
    ok = not isinstance(value, bool) and isinstance(value, (int, np.integer))
    if ok and (lo is None or value >= lo) and (hi is None or value <= hi):
        return int(value)
    if lo is not None and hi is not None:
        want = f"an integer from {lo} to {hi}"
    elif lo == 1:
        want = "a positive integer"
    elif lo is not None:
        want = f"an integer >= {lo}"
    elif hi is not None:
        want = f"an integer <= {hi}"
    else:
        want = "an integer"
    raise BadParameterError(f"{name} must be {want}, got {value!r}")
