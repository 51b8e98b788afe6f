"""Batched per-cell Anderson acceleration of the cycle map x -> Phi(x) (docs/spinup.md "anderson").

Each cell is its own fixed-point problem x* = Phi(x*) in the n prognostic columns of its state.
With f = Phi(x) - x the change over one cycle, the type-II Anderson step over the last m pairs
(dx, df) of the cell's history is

    gamma = argmin ||W (f - dF gamma)||,   x' = x + beta f - (dX + beta dF) gamma

solved for all cells at once (numpy; one small m x m system per cell). W = 1/|Phi(x)| weighs every
pool by its size (pools span 1e-2 to 1e5 g m-2). For a linear cycle map (CASA-C is nearly linear)
and m >= n this finds the fixed point in about n + 1 cycles, like GMRES. Safeguards, per cell:

* projection: every pool stays within a factor ``max_factor`` of its plain-cycled value
  (so pools stay positive);
* restart: when an accelerated step makes the weighted residual grow (by more than GROWTH), the cell's
  history is cleared and it restarts from the best point so far (Phi of the iterate with the smallest
  residual); after ``fallback_after`` such failures, or a non-finite value, the cell falls back to
  plain cycling for good;
* cells taking a plain cycle get exactly Phi(x), bit for bit.

Nothing here runs the model: :meth:`Anderson.step` takes x and Phi(x) from the caller.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .memory import CellMemory

#: Tikhonov regularisation of the least-squares problem, relative to its largest diagonal element
RIDGE = 1.0e-12
#: pools smaller than this fraction of the cell's mean pool are weighed as if they were that size
WEIGHT_FLOOR = 1.0e-6
#: an accelerated step failed when it made the weighted residual grow by more than this factor
GROWTH = 3.0


@dataclass
class Anderson(CellMemory):
    """The per-cell memory of the iteration, for a block of cells (every array's first axis is the cell)."""

    dx: np.ndarray  #: (ncell, m, n) differences of successive iterates
    df: np.ndarray  #: (ncell, m, n) differences of successive residuals
    nhist: np.ndarray  #: (ncell,) pairs held (<= m)
    x_prev: np.ndarray  #: (ncell, n) previous iterate
    f_prev: np.ndarray  #: (ncell, n) previous residual
    fnorm_prev: np.ndarray  #: (ncell,) weighted RMS of the previous residual (inf before the first step)
    failures: np.ndarray  #: (ncell,) failed steps so far
    fallback: np.ndarray  #: (ncell,) bool: plain cycling for good
    steps: np.ndarray  #: (ncell,) accelerated steps taken
    last_accel: np.ndarray  #: (ncell,) bool: the last step was accelerated
    best_phi: np.ndarray  #: (ncell, n) Phi of the iterate with the smallest residual so far
    best_fnorm: np.ndarray  #: (ncell,) that residual

    @classmethod
    def new(cls, ncell: int, n: int, m: int) -> Anderson:
        return cls(
            np.zeros((ncell, m, n)),
            np.zeros((ncell, m, n)),
            np.zeros(ncell, dtype=np.int64),
            np.zeros((ncell, n)),
            np.zeros((ncell, n)),
            np.full(ncell, np.inf),
            np.zeros(ncell, dtype=np.int64),
            np.zeros(ncell, dtype=bool),
            np.zeros(ncell, dtype=np.int64),
            np.zeros(ncell, dtype=bool),
            np.zeros((ncell, n)),
            np.full(ncell, np.inf),
        )

    def step(
        self,
        x: np.ndarray,
        phi: np.ndarray,
        *,
        beta: float = 1.0,
        max_factor: float = 10.0,
        fallback_after: int = 4,
        growth: float = GROWTH,
        tol: float = 0.0,
        floor: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The next iterate from x (ncell, n) and Phi(x); returns it and a per-cell mask of plain steps.

        ``tol``: cells whose weighted residual is below it take a plain cycle (no extrapolation).
        ``floor`` (ncell, n): pool sizes below which changes do not matter (they are weighed as changes of a
        pool of that size), so that nearly empty pools (mineral N, labile C) do not dominate the fit.
        """
        f = phi - x
        scale = np.abs(phi)
        scale = np.maximum(scale, WEIGHT_FLOOR * np.mean(scale, axis=1, keepdims=True) + 1e-300)
        if floor is not None:
            scale = np.maximum(scale, floor)
        w = 1.0 / scale
        fnorm = np.sqrt(np.mean((w * f) ** 2, axis=1))
        finite = np.isfinite(fnorm) & np.all(np.isfinite(phi), axis=1)
        self.fallback |= ~finite
        fprev = np.sqrt(np.mean((w * self.f_prev) ** 2, axis=1))
        started = np.isfinite(self.fnorm_prev)
        failed = started & self.last_accel & ~(fnorm <= growth * fprev)
        self.failures += failed
        self.fallback |= self.failures >= fallback_after
        # new pair (x - x_prev, f - f_prev) for cells whose step did not fail; failed cells start afresh
        m = self.dx.shape[1]
        add = started & ~failed & ~self.fallback
        if m and np.any(add):
            self.dx[add] = np.roll(self.dx[add], 1, axis=1)
            self.df[add] = np.roll(self.df[add], 1, axis=1)
            self.dx[add, 0] = x[add] - self.x_prev[add]
            self.df[add, 0] = f[add] - self.f_prev[add]
            self.nhist[add] = np.minimum(self.nhist[add] + 1, m)
        self.nhist[failed | self.fallback] = 0
        # cells already within tol per cycle take plain cycles: near the fixed point the cycle map of some
        # cells jitters (leaf cap, phenology thresholds) and secant steps would chase the noise
        accel = (self.nhist > 0) & ~self.fallback & finite & ~(fnorm < tol)
        # a failed step restarts from the best point so far: Phi of the iterate with the smallest residual
        better = fnorm < self.best_fnorm
        self.best_phi[better] = phi[better]
        self.best_fnorm[better] = fnorm[better]
        x_next = phi.copy()
        back = (failed | ~finite) & np.isfinite(self.best_fnorm) & ~better
        x_next[back] = self.best_phi[back]
        if np.any(accel):
            wa = w[accel][:, None, :]
            dx, df, fa = self.dx[accel], self.df[accel], f[accel]
            used = np.arange(m)[None, :] < self.nhist[accel][:, None]  # (k, m)
            dfw = np.where(used[:, :, None], df * wa, 0.0)
            a = np.einsum("kin,kjn->kij", dfw, dfw)
            b = np.einsum("kin,kn->ki", dfw, fa * wa[:, 0])
            diag = np.einsum("kii->ki", a)
            ridge = RIDGE * np.maximum(diag.max(axis=1), 1e-300)
            a = a + np.where(used, ridge[:, None], 1.0)[:, :, None] * np.eye(m)[None]
            gamma = np.where(used, np.linalg.solve(a, b[:, :, None])[:, :, 0], 0.0)
            step = (
                x[accel] + beta * fa - np.einsum("kin,ki->kn", np.where(used[:, :, None], dx + beta * df, 0.0), gamma)
            )
            pa = np.abs(phi[accel])
            step = np.clip(step, pa / max_factor, pa * max_factor)
            ok = np.all(np.isfinite(step), axis=1)
            idx = np.flatnonzero(accel)
            x_next[idx[ok]] = step[ok]
            accel[idx[~ok]] = False
        self.steps += accel
        self.last_accel = accel
        self.x_prev, self.f_prev, self.fnorm_prev = x.copy(), f, fnorm
        return x_next, ~accel & ~back

    PROGRESS = "max_rel_residual"

    def progress(self) -> np.ndarray:
        """Weighted RMS of each cell's last residual (~ relative change of its pools per cycle)."""
        return self.fnorm_prev

    def done(self, tol: float) -> np.ndarray:
        """Cells whose last residual was below ``tol`` or that fell back."""
        return (self.fnorm_prev < tol) | self.fallback
