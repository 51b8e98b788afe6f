"""Per-cell Newton iteration on the cycle map's residual Phi(x) - x (docs/spinup.md "newton").

Each cell is a small problem (the prognostic columns of the soil model's description, 10-25 unknowns).
Its Jacobian dPhi/dx is taken by finite differences, one column per forcing cycle: the cycle after a
base point x evaluates Phi(x + h_j e_j) for column j -- for every cell of a chunk at once, so a whole
Jacobian costs n + 1 simulated cycles for all cells together. Then per cell

    x <- x + (I - J)^-1 (Phi(x) - x)            (one small dense solve per cell, batched)

and the Jacobian is reused (chord) and refreshed by a Broyden secant update from each new iterate, until
the iteration stops contracting (the residual fell by less than ``REFRESH``), when it is taken again by
finite differences. Safeguards per cell: every pool stays within ``max_factor`` of its plain-cycled
value (so pools stay positive); a Newton step that makes the weighted residual grow more than
``growth``-fold is a failure: the cell restarts from the plain-cycled value of its best iterate so far with
a fresh Jacobian; after ``fallback_after`` failures, a non-finite value or a (nearly) singular system it falls
back to plain cycling for good. Pools the cycle leaves exactly as they are are left out of the system. A cell
takes its first Jacobian only once its residual is below ``start`` or its plain cycles contract steadily (far
from the fixed point the map is too nonlinear). A cell whose Newton correction (the distance to the fixed
point it predicts, relative per pool) is below ``tol``, or that is noise-limited (the correction stopped
halving within ``STALL`` x ``tol``), takes plain cycles; a plain cycle gives exactly Phi(x), bit for bit.
Nothing here runs the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .memory import CellMemory

#: finite-difference step, relative to the pool (or to its floor, for nearly empty pools)
FD_STEP = 1.0e-5
#: the Jacobian is taken afresh when a Newton step reduced the weighted residual by less than this factor
REFRESH = 0.5
#: a cell whose Newton correction stopped shrinking from one Jacobian to the next within this multiple of the
#: convergence tolerance is noise-limited (its cycle map jitters) and takes plain cycles
STALL = 10.0
#: (I - J) is singular when its smallest singular value is below this fraction of its largest
SINGULAR = 1.0e-4
#: plain cycles contract steadily when the ratio of successive residuals changes by less than this
STEADY = 0.01
#: a Newton step failed when it made the weighted residual grow by more than this factor
GROWTH = 3.0


@dataclass
class Newton(CellMemory):
    """The per-cell memory of the iteration for a block of cells (every array's first axis is the cell)."""

    phase: np.ndarray  #: (ncell,) 0: the evaluated point is an iterate; j > 0: base + h_j e_j of column j - 1
    base_x: np.ndarray  #: (ncell, n) the iterate the Jacobian is taken at
    base_phi: np.ndarray  #: (ncell, n) Phi of it
    jac: np.ndarray  #: (ncell, n, n) dPhi/dx
    has_jac: np.ndarray  #: (ncell,) bool
    x_prev: np.ndarray  #: (ncell, n) the last iterate (phase 0)
    phi_prev: np.ndarray  #: (ncell, n) Phi of it
    fnorm_prev: np.ndarray  #: (ncell,) weighted RMS residual of the last iterate (inf before the first)
    last_newton: np.ndarray  #: (ncell,) bool: the last iterate was a Newton step
    correction: np.ndarray  #: (ncell,) largest weighted |Newton correction| at the last iterate (inf before)
    failures: np.ndarray  #: (ncell,) failed Newton steps so far
    fallback: np.ndarray  #: (ncell,) bool: plain cycling for good
    steps: np.ndarray  #: (ncell,) Newton steps taken
    jacobians: np.ndarray  #: (ncell,) Jacobians taken (each n cycles)
    best_phi: np.ndarray  #: (ncell, n) Phi of the iterate with the smallest residual so far
    best_fnorm: np.ndarray  #: (ncell,) that residual
    #: (ncell, nstate) the whole kernel state of the base point and of Phi of it: a Jacobian column perturbs one
    #: column of the base state, every other state column (also those not iterated) as at the base point
    base_state: np.ndarray
    base_phi_state: np.ndarray
    ratio_prev: np.ndarray  #: (ncell,) contraction fnorm / fnorm_prev of the last plain cycle (nan: none)
    length: np.ndarray  #: (ncell,) the last Newton step's length t in (0, 1] (shortened to keep pools in bounds)
    jac_correction: np.ndarray  #: (ncell,) the correction of the first step from the last fresh Jacobian (inf)
    stalled: np.ndarray  #: (ncell,) bool: noise-limited -- a fresh Jacobian no longer halves a correction < STALL tol

    @classmethod
    def new(cls, ncell: int, n: int, nstate: int = 0) -> Newton:
        z = np.zeros
        return cls(
            z(ncell, dtype=np.int64),
            z((ncell, n)),
            z((ncell, n)),
            z((ncell, n, n)),
            z(ncell, dtype=bool),
            z((ncell, n)),
            z((ncell, n)),
            np.full(ncell, np.inf),
            z(ncell, dtype=bool),
            np.full(ncell, np.inf),
            z(ncell, dtype=np.int64),
            z(ncell, dtype=bool),
            z(ncell, dtype=np.int64),
            z(ncell, dtype=np.int64),
            z((ncell, n)),
            np.full(ncell, np.inf),
            z((ncell, nstate)),
            z((ncell, nstate)),
            np.full(ncell, np.nan),
            np.ones(ncell),
            np.full(ncell, np.inf),
            z(ncell, dtype=bool),
        )

    @classmethod
    def chord_from(cls, arrays: dict[str, np.ndarray], power: int) -> dict[str, np.ndarray]:
        """The memory a Newton iteration of a cycle map ``power`` times as long starts from, given the memory of one
        on the shorter map in the same columns (an accelerated prespin's one-year map; docs/spinup.md "newton"):
        every cell with a usable Jacobian J of the short map starts with J^power as its Jacobian of the long map
        (exact for a periodic linear map; for the slow pools, whose rates vary little from year to year, close),
        so its first step is a chord step and no finite-difference Jacobian of the long map is needed while steps
        contract; the other cells (none taken, fell back, not finite) start afresh."""
        old = cls.from_arrays(arrays)
        ncell, n = old.base_x.shape
        new = cls.new(ncell, n, old.base_state.shape[1])
        ok = old.has_jac & ~old.fallback & np.all(np.isfinite(old.jac), axis=(1, 2))
        if np.any(ok):
            new.jac[ok] = np.linalg.matrix_power(old.jac[ok], power)
        new.has_jac[ok] = np.all(np.isfinite(new.jac[ok]), axis=(1, 2))
        return new.arrays()

    PROGRESS = "max_rel_correction"

    def progress(self) -> np.ndarray:
        """Each cell's last relative Newton correction (0 where none was finite)."""
        return np.where(np.isfinite(self.correction), self.correction, 0.0)

    def done(self, tol: float) -> np.ndarray:
        """Cells that have converged (Newton correction below ``tol``), stalled near it or fell back."""
        return (self.correction < tol) | self.stalled | self.fallback

    def step(
        self,
        x: np.ndarray,
        phi: np.ndarray,
        floor: np.ndarray,
        *,
        max_factor: float = 10.0,
        fallback_after: int = 4,
        growth: float = GROWTH,
        tol: float = 0.0,
        start: float = np.inf,
        singular: float = SINGULAR,
        fd: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The point to evaluate next from the evaluated x (ncell, n) and Phi(x); returns it and a per-cell mask
        of plain steps (next = Phi(x) exactly). ``floor`` (ncell, n): pool sizes below which changes do not
        matter (weights and finite-difference steps use at least these). ``singular``: (I - J) is singular below
        this ratio of its smallest to its largest singular value (a shorter cycle map needs a smaller one: its slow
        modes' 1 - eigenvalue shrinks with the cycle's length). ``fd`` = False: no finite-difference Jacobians (a
        chord iteration from the Jacobians the memory holds, see :meth:`chord_from`, updated by Broyden): a cell
        without one, or whose step failed, takes plain cycles, and a step that contracts little is still taken."""
        ncell, n = x.shape
        x_next = phi.copy()
        plain = np.ones(ncell, dtype=bool)
        self.fallback |= ~np.all(np.isfinite(phi), axis=1)
        f = phi - x
        fnorm = _wrms(f, phi, floor)
        # ---- cells that evaluated a Jacobian column: store it, then the next column or the Newton step
        col = (self.phase > 0) & ~self.fallback
        for c in np.flatnonzero(col):
            j = self.phase[c] - 1
            self.jac[c, :, j] = (phi[c] - self.base_phi[c]) / (x[c, j] - self.base_x[c, j])
        more = col & (self.phase < n)
        for c in np.flatnonzero(more):
            x_next[c] = self.base_x[c]
            x_next[c, self.phase[c]] += _fd_step(self.base_x[c, self.phase[c]], floor[c, self.phase[c]])
            self.phase[c] += 1
        plain &= ~more
        ready = col & ~more
        self.phase[ready] = 0
        self.has_jac |= ready
        self.jacobians += ready
        # ---- cells whose evaluated point is an iterate
        it = (self.phase == 0) & ~col & ~self.fallback
        failed = it & self.last_newton & ~(fnorm <= growth * self.fnorm_prev)
        self.failures += failed
        self.fallback |= self.failures >= fallback_after
        it &= ~self.fallback
        failed &= ~self.fallback
        upd = it & self.has_jac & self.last_newton & ~failed
        if np.any(upd):  # Broyden secant update from the last iterate to this one, in scaled variables
            w = 1.0 / np.maximum(np.abs(phi[upd]), floor[upd])
            s = (x[upd] - self.x_prev[upd]) * w
            y = (phi[upd] - self.phi_prev[upd]) * w
            js = self.jac[upd] * w[:, :, None] / w[:, None, :]
            r = y - np.einsum("kij,kj->ki", js, s)
            ss = np.maximum(np.einsum("ki,ki->k", s, s), 1e-300)
            js += np.einsum("ki,kj->kij", r, s) / ss[:, None, None]
            self.jac[upd] = js / w[:, :, None] * w[:, None, :]
        better = it & (fnorm < self.best_fnorm)
        self.best_phi[better] = phi[better]
        self.best_fnorm[better] = fnorm[better]
        # a failed step restarts from Phi of the best iterate so far, with a fresh Jacobian
        x_next[failed] = self.best_phi[failed]
        plain &= ~failed
        self.has_jac[failed] = False
        self.correction[failed] = np.inf
        # a Jacobian at this iterate (none yet, or the last Newton step contracted too little)
        # (a step shortened to t < 1 can reduce the residual by 1 - t at best: the chord goes on)
        slow = it & self.last_newton & ~failed & (fnorm > np.maximum(REFRESH, 1 - 0.5 * self.length) * self.fnorm_prev)
        # ... once the cell is near its fixed point (residual below ``start``) or its plain cycles contract steadily
        # (the transient of the fast pools is over: the ratio of successive residuals changed by < STEADY)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = fnorm / self.fnorm_prev
        steady = (ratio < 1) & (np.abs(ratio - self.ratio_prev) < STEADY)
        self.ratio_prev = np.where(it & ~self.last_newton, ratio, np.nan)
        fresh = it & ~failed & (~self.has_jac | slow) & ((fnorm < start) | steady | self.has_jac) & fd
        slow &= fd  # without finite differences the chord goes on however little it contracts
        for c in np.flatnonzero(fresh):
            self.base_x[c], self.base_phi[c] = x[c], phi[c]
            x_next[c] = x[c]
            x_next[c, 0] += _fd_step(x[c, 0], floor[c, 0])
            self.phase[c] = 1
        plain &= ~fresh
        # ---- the Newton step: from the base point of a finished Jacobian, or from the evaluated iterate
        self.last_newton[:] = False
        nt = ready | (it & ~failed & ~fresh & self.has_jac & ~slow)
        if np.any(nt):
            bx = np.where(ready[:, None], self.base_x, x)[nt]
            bp = np.where(ready[:, None], self.base_phi, phi)[nt]
            fl = floor[nt]
            # in variables scaled by the pools' sizes; a (nearly) singular system -- a pool the cycle neither
            # changes nor lets depend on anything (a frozen cell: every state is a fixed point) -- falls back
            sc = np.maximum(np.abs(bp), fl)
            a = np.eye(n)[None] - self.jac[nt] * sc[:, None, :] / sc[:, :, None]
            # pools the cycle leaves exactly as they are, whatever the state (no residual, their Jacobian column
            # that of the identity: e.g. pools a soil model does not use) are left out of the system
            inert = (bp == bx) & np.all(a == 0.0, axis=1)
            a = np.where(inert[:, :, None] | inert[:, None, :], np.eye(n)[None], a)
            with np.errstate(all="ignore"):
                sv = np.linalg.svd(np.where(np.isfinite(a), a, 0.0), compute_uv=False)
            singular = ~np.all(np.isfinite(a), axis=(1, 2)) | (sv[:, -1] < singular * sv[:, 0])
            delta = _solve(np.where(singular[:, None, None], np.eye(n)[None], a), (bp - bx) / sc) * sc
            delta[singular] = np.nan
            corr = np.max(np.abs(delta) / np.maximum(np.abs(bp), fl), axis=1)
            idx = np.flatnonzero(nt)
            bad = ~np.isfinite(corr)
            self.correction[idx] = np.where(bad, np.inf, corr)
            self.fallback[idx[bad]] = True
            # noise-limited: the first step from a fresh Jacobian is no smaller than half the one from the Jacobian
            # before, and already within STALL x tol (the cycle map's jitter, not its slow modes, sets the step)
            fj = ready[idx] & ~bad
            stall = fj & (corr > 0.5 * self.jac_correction[idx]) & (corr < STALL * tol)
            self.stalled[idx[stall]] = True
            self.jac_correction[idx[fj]] = corr[fj]
            go = ~bad & ~(corr < tol) & ~self.stalled[idx]
            step, t = bounded_step(bx, delta, np.abs(bp) / max_factor, np.abs(bp) * max_factor)
            self.length[idx] = t
            x_next[idx[go]] = step[go]
            plain[idx[go]] = False
            self.last_newton[idx[go]] = True
            self.steps[idx[go]] += 1
            # converged: on from Phi of the base point (a simulated state; Phi(x) itself for an iterate)
            conv = ~bad & ~go
            x_next[idx[conv]] = bp[conv]
            plain[idx[conv]] = ~ready[idx[conv]]
            self.x_prev[idx], self.phi_prev[idx] = bx, bp
            self.fnorm_prev[idx] = _wrms(bp - bx, bp, fl)
        waiting = it & ~failed & ~fresh & ~nt
        self.fnorm_prev[waiting] = fnorm[waiting]
        # cells that fell back cycle plainly from the state just simulated
        x_next[self.fallback] = phi[self.fallback]
        plain[self.fallback] = True
        self.phase[self.fallback] = 0
        self.last_newton[self.fallback] = False
        return x_next, plain

    def step_state(
        self, x: np.ndarray, phi: np.ndarray, cols: np.ndarray, floor: np.ndarray, **options
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`step` on whole kernel states (ncell, nstate) iterating columns ``cols``: returns the next state
        (a Jacobian column: the base state with one column perturbed; after a Jacobian: Phi of the base state with
        the Newton step in ``cols``; else Phi(x) with the step) and the plain-step mask."""
        n = cols.size
        phase0 = self.phase.copy()
        x_next, plain = self.step(x[:, cols], phi[:, cols], floor, **options)
        fresh = (self.phase == 1) & (phase0 == 0)
        self.base_state[fresh] = x[fresh]
        self.base_phi_state[fresh] = phi[fresh]
        nxt = phi.copy(order="F")
        pert = self.phase >= 1
        nxt[pert] = self.base_state[pert]
        ready = (phase0 == n) & (self.phase == 0) & ~self.fallback
        nxt[ready] = self.base_phi_state[ready]
        nxt[:, cols] = x_next
        nxt[plain] = phi[plain]
        return nxt, plain


def bounded_step(x: np.ndarray, delta: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x + t delta with the largest t <= 1 (per cell) that keeps every pool within [lo, hi], and t: the direction
    is kept, only shortened (clipping single pools would turn it). Newton's and Aitken's steps."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # tiny delta: t is inf, not taken
        tj = np.where(delta < 0, (lo - x) / delta, np.where(delta > 0, (hi - x) / delta, np.inf))
    t = np.minimum(1.0, np.min(np.where(np.isnan(tj), np.inf, np.maximum(tj, 0.0)), axis=1))
    return np.clip(x + t[:, None] * delta, lo, hi), t


def _fd_step(v: float, floor: float) -> float:
    return FD_STEP * max(abs(v), floor)


def _wrms(f: np.ndarray, phi: np.ndarray, floor: np.ndarray) -> np.ndarray:
    return np.sqrt(np.mean((f / np.maximum(np.abs(phi), floor)) ** 2, axis=1))


def _solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Batched solve of a (k, n, n) delta = b (k, n); nan rows where a cell's system is singular."""
    try:
        return np.linalg.solve(a, b[:, :, None])[:, :, 0]
    except np.linalg.LinAlgError:
        out = np.full(b.shape, np.nan)
        for k in range(a.shape[0]):
            try:
                out[k] = np.linalg.solve(a[k], b[k])
            except np.linalg.LinAlgError:
                pass
        return out
