"""The one seed rule: a first seed and the ones after it, wrapping past the largest seed.

The app and the CLI both call `seed_run`, so `--seed 4294967295 --count 3` gives the same
three candidates as the app's seed box set to that value (before, the CLI failed there and the app
wrapped).
"""

from __future__ import annotations

import numpy as np

from cratedigger.errors import BadParameterError

MAX_SEED = 2**32 - 1  # torch.Generator.manual_seed takes any 64-bit value; stored seeds stay 32-bit


def check_seed(seed: object, *, what: str = "seed") -> int:
    """`seed` as an int in 0..MAX_SEED, or one BadParameterError naming it."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= MAX_SEED:
        raise BadParameterError(f"{what} must be an integer from 0 to {MAX_SEED}, got {seed!r}")
    return int(seed)


def seed_run(first: int, count: int, *, what: str = "seed") -> tuple[int, ...]:
    """first, first + 1, ... (count of them), wrapping to 0 after MAX_SEED."""
    first = check_seed(first, what=what)
    return tuple((first + i) % (MAX_SEED + 1) for i in range(max(int(count), 0)))
