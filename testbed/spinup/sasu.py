"""Semi-analytic spin-up (SASU; Xia et al. 2012 GMD, Liao et al. 2023) of donor-controlled pools (docs/spinup.md).

The soil-model description names the pools (``SoilModel.linear_pools``: carbon columns and their nitrogen
partners) and the kernel reports, per day, each pool's carbon outflux and the transfer fluxes between them
(diag ``sasu_out_<c>``, ``sasu_<dest>_from_<src>``, g m-2 d-1): donor-controlled pools (CASA: k x of the
start-of-day pool) or pools whose rate the microbes set (MIMICS' reverse Michaelis-Menten fluxes, summed over
the hours). Over one forcing cycle of D days (sums over the cycle, per cell, in g m-2):

* S_j = sum of pool j's start-of-day values; O_j = its outflux; F_ij = transfer j -> i;
* effective rate k_j = O_j / S_j and transfer fraction a_ij = F_ij / O_j (flux-weighted cycle means);
* input U_j = (x_j(end) - x_j(start)) + O_j - sum_i F_ji (the budget of pool j: inputs from outside the
  declared pools, e.g. NPP allocation or root exudate);

The steady state of the cycle-mean system solves (I - A) K S* = U, i.e. M S* = U with
M_ij = delta_ij k_j - F_ij / S_j (one small dense solve per cell, batched). Every carbon pool is scaled
by r_j = S*_j / S_j at the end of the cycle, and its nitrogen partner by the same factor (its N:C kept).

At a fixed point of the cycle map the budgets close (U = O - F 1), so S* = S and r = 1: the fixed point
of this iteration is the cycle map's. Away from it, the cycle-mean rates and fractions and the inputs
(which depend on the state: N limitation, maintenance respiration, vegetation) change, hence a few
iterations, each from a simulated cycle. Nothing here runs the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .memory import CellMemory

#: a pool's change between two cycles must exceed this fraction of it to update its secant feedback estimate
SECANT_MIN = 1.0e-3
#: the feedback estimate rho_j is capped at this multiple of the pool's rate k_j
RHO_MAX = 10.0
#: smallest step exponent of the adaptive damping
BETA_MIN = 1.0 / 16.0
#: a step failed when the next cycle's relative change of the pools grew by more than this factor
GROWTH = 3.0
#: ... and only when that change is above this multiple of the convergence tolerance (near the fixed point the
#: change per cycle is noise: phenology, the leaf cap)
FAIL_LEVEL = 10.0
#: the pools' total is taken as at least this (g m-2) in that relative change
FLOOR = 1.0


@dataclass
class Sasu(CellMemory):
    """Per-cell memory of the iteration for a block of cells (every array's first axis is the cell)."""

    correction: np.ndarray  #: (ncell,) largest |r_j - 1| of the last cycle (inf before the first)
    fallback: np.ndarray  #: (ncell,) bool: plain cycling for good (non-finite or singular system)
    steps: np.ndarray  #: (ncell,) semi-analytic steps taken
    s_prev: np.ndarray  #: (ncell, p) S of the previous cycle (nan before the first)
    u_prev: np.ndarray  #: (ncell, p) U of the previous cycle
    rho: np.ndarray  #: (ncell, p) secant estimate of -dU_j/dS_j (>= 0), the feedback of a pool on its input
    beta: np.ndarray  #: (ncell, p) step exponent (r_j ** beta_j), halved when a pool's correction alternates in sign
    last_log: np.ndarray  #: (ncell, p) log r_j of the last step
    fnorm_prev: np.ndarray  #: (ncell,) RMS relative change of the pools over the last cycle (inf before the first)
    failures: np.ndarray  #: (ncell,) successive steps after which that change grew more than GROWTH-fold
    last_step: np.ndarray  #: (ncell,) bool: the last step was semi-analytic
    stalled: np.ndarray  #: (ncell,) bool: the last cycle left the substrate still and the solve its microbes low
    before: np.ndarray  #: (ncell, nstate) the end state of the cycle a step last scaled (NaN: none yet)

    @classmethod
    def new(cls, ncell: int, p: int, nstate: int = 0) -> Sasu:
        return cls(
            np.full(ncell, np.inf),
            np.zeros(ncell, dtype=bool),
            np.zeros(ncell, dtype=np.int64),
            np.full((ncell, p), np.nan),
            np.full((ncell, p), np.nan),
            np.zeros((ncell, p)),
            np.ones((ncell, p)),
            np.zeros((ncell, p)),
            np.full(ncell, np.inf),
            np.zeros(ncell, dtype=np.int64),
            np.zeros(ncell, dtype=bool),
            np.zeros(ncell, dtype=bool),
            np.full((ncell, nstate), np.nan),
        )

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], cells: slice = slice(None)) -> Sasu:
        """As :meth:`CellMemory.from_arrays`; a checkpoint written before ``stalled`` or ``before`` existed resumes
        with none."""
        n = len(arrays["correction"])
        if "stalled" not in arrays:
            arrays = {**arrays, "stalled": np.zeros(n, dtype=bool)}
        if "before" not in arrays:
            arrays = {**arrays, "before": np.full((n, 0), np.nan)}
        return super().from_arrays(arrays, cells)

    def step(
        self,
        x: np.ndarray,
        phi: np.ndarray,
        end_sum: np.ndarray,
        out: np.ndarray,
        transfer: np.ndarray,
        *,
        max_factor: float = 10.0,
        tol: float = 0.0,
        fallback_after: int = 4,
        abs_tol: np.ndarray | float = 0.0,
        keep: np.ndarray | None = None,
        substrate: np.ndarray | None = None,
        microbe_ratio: float = 0.0,
        still: float = 0.0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Scale factors r (ncell, p) of the carbon pools, and a per-cell mask of plain steps (r = 1).

        ``x``, ``phi``: (ncell, p) carbon pools at the start and end of the cycle; ``end_sum``: (ncell, p) sum
        of the end-of-day pools over the cycle; ``out``: (ncell, p) summed outflux; ``transfer``: (ncell, p, p)
        summed transfer fluxes, [c, i, j] from pool j to pool i. Pools with no outflux or no mass keep r = 1.
        Cells whose correction is below ``tol`` take a plain cycle; r is clipped to [1/max_factor, max_factor].
        ``abs_tol`` (scalar or (ncell, p), pool units): a correction that changes no pool by more than it counts
        as converged too (pools decaying to nothing, e.g. a cell whose vegetation sheds no litter). ``keep``
        ((p,) bool): pools that are part of the steady-state solve but keep r = 1 (fast pools that follow within
        the next cycle, e.g. MIMICS' microbes). ``microbe_ratio`` > 0 (with ``keep`` and ``substrate``, (p,) bool:
        the soil model's other pools): a cell whose substrate total changed by less than the fraction ``still`` over
        the cycle, while the solve puts its kept pools below ``microbe_ratio`` of their present total, takes a plain
        cycle. Its microbes cannot live on the substrate the solve would leave (too cold to grow, or barely
        holding on): the solve's rates, frozen at the present microbes, decompose substrate that the dying microbes
        will not, and emptied such soils where plain cycles leave them. Right after a semi-analytic step only the
        second such cycle in a row counts (the cycle answers the step). A caught cell stays caught while its
        substrate stays still, until the solve puts its kept pools at their present total at least.
        """
        ncell, p = x.shape
        # safeguard: a semi-analytic step after which the cycle changed the pools more than GROWTH times as much
        # as the cycle before failed; the cell takes a plain cycle, and after fallback_after failures it cycles
        # plainly for good
        # (the change of the pools over the cycle relative to their total: small, jittering litter pools do not
        # dominate it)
        fnorm = np.sqrt(np.sum((phi - x) ** 2, axis=1)) / np.maximum(np.sum(np.abs(phi), axis=1), FLOOR)
        failed = self.last_step & (fnorm > GROWTH * self.fnorm_prev) & (fnorm > FAIL_LEVEL * tol)
        # a failure halves the cell's step exponents; fallback_after failures of successive steps end the method
        self.failures = np.where(failed, self.failures + 1, np.where(self.last_step, 0, self.failures))
        self.beta[failed] = np.maximum(self.beta[failed] * 0.5, BETA_MIN)
        self.fallback |= self.failures >= fallback_after
        self.fnorm_prev = fnorm
        s = end_sum - phi + x  # sum of start-of-day pools
        used = (s > 0) & (out > 0)
        safe_s = np.where(used, s, 1.0)
        inflow = np.einsum("cji->cj", transfer)  # sum over sources i of F_ji
        u = (phi - x) + out - inflow
        eye = np.eye(p)[None]
        m = eye * np.where(used, out / safe_s, 1.0)[:, None, :] - np.where(
            used[:, None, :], transfer / safe_s[:, None, :], 0.0
        )
        m = np.where(used[:, :, None], m, eye)  # unused pools: S* = S
        # input feedback: U_j(S) ~ U_j - rho_j (S_j - S), rho from the last two cycles (secant, diagonal), where
        # S_j moved by more than SECANT_MIN relative; rho >= 0 (a pool that lowers its own input, e.g. by
        # maintenance respiration or N demand); the system becomes (M + diag(rho)) S* = U + rho S
        ds = s - self.s_prev
        moved = used & np.isfinite(ds) & (np.abs(ds) > SECANT_MIN * np.abs(s))
        est = -(u - self.u_prev) / np.where(moved, ds, 1.0)
        self.rho = np.where(moved, np.clip(est, 0.0, RHO_MAX * np.where(used, out / safe_s, 0.0)), self.rho)
        self.s_prev, self.u_prev = s.copy(), u.copy()
        rho = np.where(used, self.rho, 0.0)
        m = m + eye * rho[:, None, :]
        rhs = np.where(used, u + rho * s, s)
        finite = np.all(np.isfinite(m), axis=(1, 2)) & np.all(np.isfinite(rhs), axis=1)
        r = np.ones((ncell, p))
        kept_ratio = np.ones(ncell)  # the solve's steady state of the kept pools over their present total
        ok = finite & ~self.fallback
        if np.any(ok):
            try:
                sol = np.linalg.solve(m[ok], rhs[ok][:, :, None])[:, :, 0]
            except np.linalg.LinAlgError:
                sol = np.stack([_solve_or_nan(a, b) for a, b in zip(m[ok], rhs[ok], strict=True)])
            ratio = np.where(used[ok], sol / safe_s[ok], 1.0)
            good = np.all(np.isfinite(ratio), axis=1)  # a negative ratio is clipped to 1/max_factor below
            idx = np.flatnonzero(ok)
            r[idx[good]] = np.clip(ratio[good], 1.0 / max_factor, max_factor)
            if keep is not None and np.any(keep):
                kept = used[ok][:, keep]
                kept_ratio[idx] = np.sum(np.where(kept, sol[:, keep], 0.0), axis=1) / np.maximum(
                    np.sum(np.where(kept, safe_s[ok][:, keep], 0.0), axis=1), 1e-300
                )
            self.fallback[idx[~good]] = True
        self.fallback |= ~finite
        if keep is not None:
            r[:, keep] = 1.0
        # adaptive damping per pool: a correction that flips sign (a period-2 oscillation, e.g. N limitation of
        # litter decay switching) halves the pool's step exponent; one that keeps its sign lets it grow again
        lr = np.log(r)
        flip = (lr * self.last_log < 0) & (np.abs(lr) > tol)
        grow = ~flip & ~failed[:, None]  # (a failed cell's halving above stands)
        self.beta = np.where(
            flip, np.maximum(self.beta * 0.5, BETA_MIN), np.where(grow, np.minimum(self.beta * 1.5, 1.0), self.beta)
        )
        r = np.exp(self.beta * lr)
        self.last_log = lr
        corr = np.max(np.abs(r - 1.0), axis=1)
        corr[np.all(np.abs(r - 1.0) * np.abs(phi) <= abs_tol, axis=1)] = 0.0
        corr[self.fallback] = 0.0
        stalled = np.zeros(ncell, dtype=bool)
        if keep is not None and substrate is not None and microbe_ratio > 0:
            s0, s1 = np.sum(x[:, substrate], axis=1), np.sum(phi[:, substrate], axis=1)
            # hysteresis: as the microbes of a caught cell fade, the solve's ratio creeps up towards microbe_ratio
            # (from 0.2 to above 0.5 over a dozen cycles in a cell at 80.5 N, docs/spinup.md); the cell stays
            # caught while its substrate stands, until the solve puts its microbes back at their present amount
            stalled = (np.abs(s1 - s0) < still * s0) & (
                (kept_ratio < microbe_ratio) | (self.stalled & (kept_ratio < 1.0))
            )
        # right after a step the cycle answers the step: then only a second such cycle in a row counts
        skip = stalled & (self.stalled | ~self.last_step)
        self.stalled = stalled
        plain = self.fallback | (corr < tol) | failed | skip
        r[plain] = 1.0
        self.correction = corr
        self.steps += ~plain
        self.last_step = ~plain
        return r, plain

    def undo_collapsed(
        self, answered: np.ndarray, kept_x: np.ndarray, kept_phi: np.ndarray, factor: float
    ) -> np.ndarray:
        """(ncell,) bool: cells to return to :attr:`before` (the end state their last step scaled); they cycle
        plainly for the rest of the stage (:attr:`fallback`).

        ``answered``: the cycle answered a semi-analytic step (:attr:`last_step` before :meth:`step`); ``kept_x``,
        ``kept_phi``: (ncell, k) the kept pools (MIMICS' microbial groups) at the start and end of the cycle. A group
        that fell more than ``factor``-fold over such a cycle is dying out because of the step: the step put the
        substrates where it cannot live. Extinction is a trap: with a group gone its nitrogen stops turning over
        and its carbon decays to nothing for good (a barren cell whose K-strategists died ended at 2.7 times the
        soil C of a 20,000-year brute force, which never goes there; docs/spinup.md "Collapsing microbes").
        """
        fell = answered & np.any((kept_x > 0) & (kept_phi * factor < kept_x), axis=1)
        fell &= np.all(np.isfinite(self.before), axis=1) & (self.before.shape[1] > 0)
        self.fallback |= fell
        self.last_step &= ~fell
        self.correction[fell] = 0.0
        return fell

    def nitrogen(
        self,
        x: np.ndarray,
        phi: np.ndarray,
        end_sum: np.ndarray,
        out: np.ndarray,
        n_x: np.ndarray,
        n_phi: np.ndarray,
        n_end_sum: np.ndarray,
        r: np.ndarray,
        plain: np.ndarray,
        *,
        max_factor: float = 10.0,
        keep: np.ndarray | None = None,
    ) -> np.ndarray:
        """Scale factors of the nitrogen partners after :meth:`step` returned r and plain.

        A pool's N follows its C (factor r) and its N:C moves to that of its cycle's input: with the pool's
        flux-weighted rate k (from carbon) and the sums S, SN of its start-of-day C and N, the input N:C over
        the pool's mean N:C is f = (1 + dN / (k SN)) / (1 + dC / (k S)), exactly 1 at a fixed point (dN = dC = 0).
        CASA's litter and soil N decay at their carbon's rate, so f is their steady N:C; for the others it is an
        estimate the iteration corrects. f is damped like r and clipped to [1/max_factor, max_factor]; the
        cell's correction (:attr:`correction`) includes it.
        """
        s = end_sum - phi + x
        sn = n_end_sum - n_phi + n_x
        ok = (s > 0) & (sn > 0) & (out > 0)
        k = np.where(ok, out / np.where(ok, s, 1.0), 0.0)
        den = 1.0 + (phi - x) / np.where(ok, k * s, 1.0)
        num = 1.0 + (n_phi - n_x) / np.where(ok, k * sn, 1.0)
        f = np.where(ok & (den > 0) & (num > 0), num / np.where(ok & (den > 0), den, 1.0), 1.0)
        f = np.where(np.isfinite(f), np.clip(f, 1.0 / max_factor, max_factor), 1.0)
        f = np.exp(self.beta * np.log(f))
        f[plain] = 1.0
        if keep is not None:
            f[:, keep] = 1.0
        rn = r * f
        self.correction = np.maximum(self.correction, np.where(plain, 0.0, np.max(np.abs(rn - 1.0), axis=1)))
        return rn

    PROGRESS = "max_rel_correction"

    def progress(self) -> np.ndarray:
        """Each cell's largest relative correction |r_j - 1| of the last cycle."""
        return self.correction

    def done(self, tol: float) -> np.ndarray:
        """Cells whose last correction was below ``tol`` or that fell back."""
        return (self.correction < tol) | self.fallback


def _solve_or_nan(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(a, b[:, None])[:, 0]
    except np.linalg.LinAlgError:
        return np.full(b.shape, np.nan)
