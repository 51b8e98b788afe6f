"""Per-cell slow-mode extrapolation of steady drift (vector Aitken, MPE of order 1; docs/spinup.md "aitken").

A cell whose plain cycles change it along a fixed direction by increments shrinking at a steady ratio q < 1
approaches its fixed point along one slow mode: with d the last increment, the rest of the way is d q / (1 - q)
(the geometric series of the increments still to come). Per cell, in the columns the caller passes (weighed by
1/|Phi(x)|, pools below their floor weighed as if that size), two histories of plain increments are kept side by
side: blocks of one cycle and blocks of ``block`` cycles (a block's increment is the sum of its cycles'; noise of
single cycles, e.g. a period-2 jitter, averages out). For each, after ``RUN`` successive blocks:

* q = <d_k, d_{k-1}> / <d_{k-1}, d_{k-1}> (the least-squares ratio of the last two blocks);
* the cell *drifts steadily* when |cos| of the last two blocks' increments is at least ``COS`` (cos ~ 1: a
  monotone approach; cos ~ -1: a decaying oscillation), |q| < 1, and the predicted remaining length
  m = q / (1 - q) (in blocks) changed by less than ``STEADY`` (relative) from the previous pair's; and its weighted
  residual per cycle is at least ``tol`` (a settled cell is left alone);
* then it jumps (the one-cycle history first, if both are steady): x' = Phi(x) + t min(m, cap / block) d, where
  ``cap`` (cycles' worth; it starts at ``max_cycles``) bounds the jump and t <= 1 is the largest that keeps every
  pool within a factor ``max_factor`` of Phi(x) (the direction is kept, the step shortened). For an oscillation
  -1/2 < m < 0: the jump goes back part of the last increment.

The cycle after a jump verifies it, from the projection p = <f, d> / <d, d> of its increment f on the jumped
block's mean increment per cycle d (for a linear map, the fraction of the slow mode's distance left, with its
sign): p < -``UNDO`` (overshot by more than half the distance), or an increment grown more than ``GROWTH``-fold,
is a *failure*: the jump is undone (the cell goes back to the plain-cycled state it jumped from) and its cap
halved; a mild overshoot (-``UNDO`` <= p < 0) is kept but halves the cap; a good jump lets the cap grow back (x2,
up to ``max_cycles``). After ``fallback_after`` failures, or a non-finite value, the cell cycles plainly for good.
Both histories start afresh after a jump. Every other step is a plain cycle, exactly Phi(x). Nothing here runs
the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .memory import CellMemory
from .newton import bounded_step

#: successive plain increments needed before a jump (two ratios: q and its steadiness)
RUN = 3
#: the cosine of successive weighted increments must be at least this (one direction: one slow mode)
COS = 0.99
#: the predicted remaining length q / (1 - q) may change by at most this fraction between successive pairs
STEADY = 0.25
#: a jump overshot when the next increment points back by more than this fraction of the jump's increment
UNDO = 0.5
#: a jump failed when the next weighted increment is larger than this multiple of the jump's increment
GROWTH = 3.0


@dataclass
class Aitken(CellMemory):
    """The per-cell memory of the extrapolation for a block of cells (every array's first axis is the cell).

    Two histories side by side (axis 1): blocks of one cycle and blocks of ``block`` cycles."""

    d1: np.ndarray  #: (ncell, 2, n) the last block's plain increment (the sum of its cycles' Phi(x) - x)
    d2: np.ndarray  #: (ncell, 2, n) the block's before
    part: np.ndarray  #: (ncell, 2, n) the increments of the block under way
    npart: np.ndarray  #: (ncell, 2) cycles in the block under way
    run: np.ndarray  #: (ncell, 2) successive plain blocks held since the last jump (or the start)
    m_prev: np.ndarray  #: (ncell, 2) the previous pair's predicted remaining length q / (1 - q), blocks (nan: none)
    jumped: np.ndarray  #: (ncell,) bool: the last step was a jump
    d_jump: np.ndarray  #: (ncell, n) the mean increment per cycle of the block the last jump extrapolated
    undo: np.ndarray  #: (ncell, n) the plain-cycled state the last jump started from
    cap: np.ndarray  #: (ncell,) the largest jump, in cycles' worth of the increment
    failures: np.ndarray  #: (ncell,) failed (undone) jumps
    fallback: np.ndarray  #: (ncell,) bool: plain cycling for good
    jumps: np.ndarray  #: (ncell,) jumps taken
    fnorm_prev: np.ndarray  #: (ncell,) weighted RMS of the last increment (inf before the first)

    @classmethod
    def new(cls, ncell: int, n: int, max_cycles: float) -> Aitken:
        z = np.zeros
        return cls(
            z((ncell, 2, n)),
            z((ncell, 2, n)),
            z((ncell, 2, n)),
            z((ncell, 2), dtype=np.int64),
            z((ncell, 2), dtype=np.int64),
            np.full((ncell, 2), np.nan),
            z(ncell, dtype=bool),
            z((ncell, n)),
            z((ncell, n)),
            np.full(ncell, float(max_cycles)),
            z(ncell, dtype=np.int64),
            z(ncell, dtype=bool),
            z(ncell, dtype=np.int64),
            np.full(ncell, np.inf),
        )

    PROGRESS = "max_rel_residual"

    def progress(self) -> np.ndarray:
        """Weighted RMS of each cell's last increment (~ relative change of its pools per cycle)."""
        return np.where(np.isfinite(self.fnorm_prev), self.fnorm_prev, 0.0)

    def done(self, tol: float) -> np.ndarray:
        """Cells whose last increment was below ``tol`` or that fell back."""
        return (self.fnorm_prev < tol) | self.fallback

    def step(
        self,
        x: np.ndarray,
        phi: np.ndarray,
        floor: np.ndarray,
        *,
        max_cycles: float = 50.0,
        max_factor: float = 2.0,
        fallback_after: int = 4,
        tol: float = 0.0,
        block: int = 1,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The next iterate from x (ncell, n) and Phi(x); returns it and a per-cell mask of plain steps.

        ``floor`` (ncell, n): pool sizes below which changes do not matter (weighed as changes of that size).
        ``block``: the second history sums this many cycles' increments into one block, whose ratio q is that of
        successive blocks (the noise of single cycles averages out); the first has blocks of one cycle.
        """
        f = phi - x
        w = 1.0 / np.maximum(np.abs(phi), floor)
        fw = f * w
        fnorm = np.sqrt(np.mean(fw**2, axis=1))
        finite = np.isfinite(fnorm) & np.all(np.isfinite(phi), axis=1)
        self.fallback |= ~finite
        x_next = phi.copy()
        # verify the last jump from this cycle's increment
        dw = self.d_jump * w
        dd = np.sum(dw * dw, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            p = np.sum(fw * dw, axis=1) / dd
            grown = np.sqrt(np.sum(fw * fw, axis=1) / dd)
        j = self.jumped & finite
        failed = j & ((p < -UNDO) | (grown > GROWTH) | ~np.isfinite(p))
        over = j & ~failed & (p < 0)
        good = j & ~failed & ~over
        x_next[failed] = self.undo[failed]
        self.failures += failed
        self.fallback |= self.failures >= fallback_after
        self.cap[failed | over] = np.maximum(self.cap[failed | over] / 2, 1.0)
        self.cap[good] = np.minimum(self.cap[good] * 2, max_cycles)
        # the histories of plain increments: a jump (and the cycle after it) starts them afresh
        plain_before = ~self.jumped & finite
        self.part[plain_before] += f[plain_before][:, None, :]
        self.npart[plain_before] += 1
        restart = ~plain_before
        self.part[restart] = 0.0
        self.npart[restart] = 0
        self.run[restart] = 0
        self.m_prev[restart] = np.nan
        lengths = np.array([1, block])
        full = plain_before[:, None] & (self.npart >= lengths[None, :])  # (ncell, 2): a block is complete
        self.d2[full] = self.d1[full]
        self.d1[full] = self.part[full]
        self.run[full] += 1
        self.part[full] = 0.0
        self.npart[full] = 0
        # steady drift: one direction, a steady ratio |q| < 1
        d1w, d2w = self.d1 * w[:, None, :], self.d2 * w[:, None, :]
        n1, n2 = np.sqrt(np.sum(d1w**2, axis=2)), np.sqrt(np.sum(d2w**2, axis=2))
        dot = np.sum(d1w * d2w, axis=2)
        with np.errstate(divide="ignore", invalid="ignore"):
            q = dot / n2**2
            cos = dot / (n1 * n2)
            m = q / (1.0 - q)
        # one direction (cos ~ 1: monotone approach) or alternating along one (cos ~ -1: a decaying oscillation,
        # -1 < q < 0: the jump goes back part of the last increment)
        pair = (self.run >= 2) & (np.abs(cos) >= COS) & (np.abs(q) < 1)
        steady = full & pair & (self.run >= RUN) & (np.abs(m - self.m_prev) <= STEADY * np.abs(m))
        self.m_prev = np.where(full, np.where(pair, m, np.nan), self.m_prev)
        # the shortest steady history decides
        which = np.where(steady[:, 0], 0, 1)
        jump = np.any(steady, axis=1) & ~self.fallback & (fnorm >= tol)
        self.jumped[:] = False
        if np.any(jump):
            k = np.flatnonzero(jump)
            b = which[k]
            length = lengths[b]
            d = self.d1[k, b]
            # m blocks' worth, at most cap cycles' worth (m > -1/2: an oscillation's jump is short)
            step = np.minimum(m[k, b], self.cap[k] / length)[:, None] * d
            base = phi[k]
            lo = np.minimum(base / max_factor, base * max_factor)
            hi = np.maximum(base * max_factor, base / max_factor) + floor[k] * (max_factor - 1)
            new, _ = bounded_step(base, step, lo, hi)
            ok = np.all(np.isfinite(new), axis=1) & np.any(new != base, axis=1)
            k, new, d, length = k[ok], new[ok], d[ok], length[ok]
            x_next[k] = new
            self.undo[k] = phi[k]
            self.d_jump[k] = d / length[:, None]  # the block's mean increment per cycle
            self.jumped[k] = True
            self.jumps[k] += 1  # the histories start afresh at the next step (a jump is not a plain step)
        self.fnorm_prev = np.where(finite, fnorm, np.inf)
        return x_next, ~self.jumped & ~failed
