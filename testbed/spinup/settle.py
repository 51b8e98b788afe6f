"""The ``settle`` stage's rule: a cell is steady when its totals stand still over a window of years (docs/spinup.md
"Settle").

The criteria judge one cycle's change. A cell on a slow oscillation (MIMICS' barren cells: microbes and substrate
swing with a period of about 300 years) meets them at every turning point, and a slow mode meets them far from its
end (a cell contracting by lambda per cycle that changes by cell_abs per cycle is cell_abs / (1 - lambda) from its
limit). The settle stage cycles plainly and judges each vegetated cell over the last ``window`` cycles: the cell
retires when the range (largest minus smallest) of each of its totals' two-cycle means over the window is below
``rel`` times the total, or below ``abs`` (g m-2). Two-cycle means, so that a period-2 jitter (the leaf cap and the
phenology thresholds flip some cells between two states) is not read as drift. A retired cell is not simulated for
the rest of the stage: it ends where it retired. The stage ends when every vegetated cell has retired, or after its
budget of years.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Settle:
    """The retirement rule of a settle stage."""

    window: int  #: cycles over which a cell's totals must stand still
    rel: float  #: ... their range below this fraction of the total (1)
    abs: float  #: ... or below this (g m-2)

    @property
    def length(self) -> int:
        """Totals kept per cell: the state before and after each of ``window + 1`` cycles (window + 1 two-cycle
        means, spanning ``window`` cycles)."""
        return self.window + 2

    def new_history(self, nvar: int, ncell: int) -> np.ndarray:
        """(length, nvar, ncell) totals, NaN until the cell has been simulated long enough."""
        return np.full((self.length, nvar, ncell), np.nan)

    def retired(self, history: np.ndarray) -> np.ndarray:
        """(ncell,) bool: cells whose every total stood still over the window (``history`` full, oldest first).

        NaN anywhere in a cell's history (not yet simulated long enough, or a non-finite total) keeps it running.
        """
        pair = 0.5 * (history[1:] + history[:-1])
        span = np.max(pair, axis=0) - np.min(pair, axis=0)
        bound = np.maximum(self.rel * np.abs(np.mean(pair, axis=0)), self.abs)
        still = np.all(span <= bound, axis=0)
        return still & np.all(np.isfinite(history), axis=(0, 1))
