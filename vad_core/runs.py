"""Runs of consecutive true flags: the one place frames become (start, end) runs, for segments and for labels.

runs = flag_runs(np.array([0, 1, 1, 0, 1], bool))   # [(1, 2), (4, 4)], inclusive
"""

from __future__ import annotations

import numpy as np


def flag_runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs of true values as inclusive (start, end) pairs, in order."""
    edges = np.diff(np.concatenate([[0], np.asarray(flags, dtype=np.int8), [0]]))
    return [(int(s), int(e)) for s, e in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1, strict=True)]
