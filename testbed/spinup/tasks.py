"""The dask task of a spin-up: one chunk of cells through one forcing cycle, then the method's update.

Phi (one pass over the forcing years) is evaluated by :func:`testbed.run.run_years` for the whole
chunk at once -- one kernel call per year, budgets checked every year -- and the acceleration
(:mod:`.anderson`) runs on the worker, so only the chunk's state, its method memory and
per-cell totals travel back to the driver.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import numpy as np

from .. import layout
from ..model import Model
from ..run import YearStep, cell_numbers, run_years
from .aitken import Aitken
from .anderson import GROWTH, Anderson
from .newton import SINGULAR, Newton
from .sasu import Sasu


@dataclass
class CycleJob:
    """One chunk of cells through one forcing cycle."""

    cells: slice | np.ndarray  #: a range of cells, or their indices (the cells a cycle still changes)
    steps: list[YearStep]
    method: str  #: cycle | anderson | sasu | newton | aitken
    first_year_of_run: bool  #: the pipeline's very first simulated year (MIMICS NPP start, Q10)
    check_budgets: bool
    options: dict = field(
        default_factory=dict
    )  #: anderson: depth, damping, max_factor, fallback_after; sasu: max_factor, tol


@dataclass
class CycleResult:
    cells: slice | np.ndarray
    phi: np.ndarray  #: state after the cycle, Phi(x)
    next: np.ndarray  #: state the next cycle starts from (Phi(x), or the accelerated iterate)
    memory: dict | None  #: the method's per-cell memory (arrays with the cell as first axis)
    before: dict[str, np.ndarray]  #: per-cell totals (g m-2) of x
    after: dict[str, np.ndarray]  #: per-cell totals of Phi(x)
    plain: np.ndarray  #: (ncell,) bool: the next state is plain Phi(x)
    max_c_residual: float
    max_n_residual: float
    seconds: float
    negative_cells: list[int] = field(default_factory=list)


def prognostic_indices(model: Model) -> np.ndarray:
    """State column indices a spin-up iterates, from the soil model's description."""
    return np.array([layout.index("state", c) for c in model.soil.prognostic_columns(model.icycle)])


#: host vegetation columns a Newton step leaves to plain cycling: the leaf and its labile store, whose turnover
#: switches with phenology and the LAI bounds (the cycle map is not differentiable in them: finite differences and
#: Newton corrections chase those switches; they re-equilibrate within a cycle)
NEWTON_PLAIN = ("cleaf", "clabile", "nleaf")


def newton_indices(model: Model) -> np.ndarray:
    """Positions among the prognostic columns that ``newton`` iterates: the mass pools but the host's leaf and
    labile pools and the soil model's non-mass prognostic columns (e.g. MIMICS' previous-year NPP, a memory of
    the vegetation)."""
    pools = {p.column for p in model.soil.all_pools(model.icycle)}
    return np.array(
        [k for k, c in enumerate(model.soil.prognostic_columns(model.icycle)) if c in pools and c not in NEWTON_PLAIN]
    )


def _columns(model: Model) -> list[tuple[str | None, np.ndarray]]:
    """Per prognostic column: its pool's element (None for a non-mass column) and the per-cell factor from its state
    units to g m-2 (1 for pools held in g m-2)."""
    pools = {p.column: p for p in model.soil.all_pools(model.icycle)}
    own = {p.column for p in model.soil.pools}
    to_gm2 = model.soil.state_to_gm2(model)
    return [
        (pools[c].element if c in pools else None, to_gm2 if c in own else np.ones(model.ncell))
        for c in model.soil.prognostic_columns(model.icycle)
    ]


def pool_floor(model: Model, carbon: float, nitrogen: float) -> np.ndarray:
    """(ncell, n) sizes in state units below which a prognostic column's changes do not matter:
    ``carbon`` g C m-2 and ``nitrogen`` g N m-2 (converted for pools held in other units), 1 for others."""
    sizes = {None: 1.0, "carbon": carbon}
    return np.stack([sizes.get(e, nitrogen) / u for e, u in _columns(model)], axis=1)


def mass_floor(model: Model, state: np.ndarray, fraction: float) -> np.ndarray:
    """(ncell, n) per prognostic column: ``fraction`` of the cell's total mass of the pool's element (every
    iterated pool of that element, in g m-2), in the pool's state units; 0 for non-mass columns. Weighing a pool
    as if it were at least this size makes a cell's weighted change follow its large pools (those the criteria's
    totals are made of), not the relative noise of its small fast ones (mineral N, microbes)."""
    cols = _columns(model)
    prog = model.soil.prognostic_columns(model.icycle)
    total: dict[str, np.ndarray] = {}
    for c, (e, u) in zip(prog, cols, strict=True):
        if e is not None:
            total[e] = total.get(e, 0.0) + np.abs(state[:, layout.index("state", c)]) * u
    return np.stack([fraction * total[e] / u if e is not None else np.zeros(model.ncell) for e, u in cols], axis=1)


@dataclass(frozen=True)
class LinearPools:
    """Layout indices of a soil model's donor-controlled pools (``SoilModel.linear_pools``) for :mod:`.sasu`."""

    carbon: np.ndarray  #: (p,) state columns of the carbon pools
    nitrogen: np.ndarray  #: (p,) state columns of their nitrogen partners (-1: none, or a C-only run)
    pool_diag: np.ndarray  #: (p,) diag columns of the end-of-day pools
    n_pool_diag: np.ndarray  #: (p,) diag columns of the end-of-day nitrogen partners (-1: none)
    out_diag: np.ndarray  #: (p,) diag columns of the outfluxes
    transfers: tuple[tuple[int, int, int], ...]  #: (dest i, source j, diag column) of the declared transfers
    columns: tuple[str, ...] = ()  #: (p,) names of the carbon columns

    @classmethod
    def of(cls, model: Model) -> LinearPools:
        pairs = model.soil.linear_pools
        if not pairs:
            raise ValueError(f"soil model {model.soil.name!r} declares no linear (donor-controlled) pools")
        carbon = [c for c, _ in pairs]
        diag = set(layout.DIAGNOSTICS)
        transfers = tuple(
            (i, j, layout.index("diag", f"sasu_{ci}_from_{cj}"))
            for i, ci in enumerate(carbon)
            for j, cj in enumerate(carbon)
            if f"sasu_{ci}_from_{cj}" in diag
        )
        return cls(
            np.array([layout.index("state", c) for c in carbon]),
            np.array([layout.index("state", n) if n and model.icycle >= 2 else -1 for _, n in pairs]),
            np.array([layout.index("diag", c) for c in carbon]),
            np.array([layout.index("diag", n) if n and model.icycle >= 2 else -1 for _, n in pairs]),
            np.array([layout.index("diag", f"sasu_out_{c}") for c in carbon]),
            transfers,
            tuple(carbon),
        )


def _positions(model: Model, columns: np.ndarray) -> np.ndarray:
    """Positions of state columns among the prognostic columns (the order of :func:`pool_floor`)."""
    prog = list(prognostic_indices(model))
    return np.array([prog.index(c) for c in columns])


def sasu_update(
    model: Model, x: np.ndarray, phi: np.ndarray, cycle_sum: np.ndarray, memory: dict | None, options: dict
) -> tuple[np.ndarray, np.ndarray, dict]:
    """The semi-analytic step after one cycle: next state, plain-step mask and the method's memory."""
    lp = LinearPools.of(model)
    p = lp.carbon.size
    acc = Sasu.from_arrays(memory) if memory else Sasu.new(model.ncell, p, x.shape[1])
    if acc.before.shape[1] != x.shape[1]:  # a checkpoint from before the collapse rule: no step to undo yet
        acc.before = np.full(x.shape, np.nan)
    answered = acc.last_step.copy()
    transfer = np.zeros((model.ncell, p, p))
    for i, j, col in lp.transfers:
        transfer[:, i, j] = cycle_sum[:, col]
    # the kernel's sums are in g m-2 (d-1); the pools in the state's units: one per-cell factor per pool
    own = np.isin(lp.columns, [pool.column for pool in model.soil.pools])  # the soil model's pools, not the host's
    unit = np.where(own[None, :], model.soil.state_to_gm2(model)[:, None], 1.0)
    keep = np.isin(lp.columns, model.soil.sasu_keep)
    r, plain = acc.step(
        x[:, lp.carbon] * unit,
        phi[:, lp.carbon] * unit,
        cycle_sum[:, lp.pool_diag],
        cycle_sum[:, lp.out_diag],
        transfer,
        max_factor=options.get("max_factor", 10.0),
        tol=options.get("tol", 0.0),
        fallback_after=options.get("fallback_after", 4),
        abs_tol=pool_floor(model, options.get("abs_c", 0.0), 0.0)[:, _positions(model, lp.carbon)] * unit,
        keep=keep,
        substrate=own & ~keep,
        microbe_ratio=options.get("microbe_ratio", 0.0),
        still=options.get("still", 0.0),
    )
    nxt = phi.copy(order="F")
    nxt[:, lp.carbon] = phi[:, lp.carbon] * r
    has_n = lp.nitrogen >= 0
    if np.any(has_n):
        c, n = lp.carbon[has_n], lp.nitrogen[has_n]
        un = unit[:, has_n]
        rn = acc.nitrogen(
            x[:, c] * un,
            phi[:, c] * un,
            cycle_sum[:, lp.pool_diag[has_n]],
            cycle_sum[:, lp.out_diag[has_n]],
            x[:, n] * un,
            phi[:, n] * un,
            cycle_sum[:, lp.n_pool_diag[has_n]],
            r[:, has_n],
            plain,
            max_factor=options.get("max_factor", 10.0),
            keep=keep[has_n],
        )
        nxt[:, n] = phi[:, n] * rn
    nxt[plain] = phi[plain]
    collapse = options.get("collapse", 0.0)
    if collapse > 0 and np.any(keep):
        kept = lp.carbon[keep]
        undone = acc.undo_collapsed(answered, x[:, kept], phi[:, kept], collapse)
        nxt[undone] = acc.before[undone]
        plain = plain | undone
        acc.before = np.where(plain[:, None], acc.before, phi)  # what a step scaled: the cycle's end state
    return nxt, plain, acc.arrays()


def cycle_chunk(job: CycleJob, model: Model, start: np.ndarray, memory: dict | None) -> CycleResult:
    """Run one forcing cycle for a chunk of cells and apply the method (runs on a dask worker)."""
    t0 = time.perf_counter()
    x = np.asfortranarray(start.copy())
    state = x.copy(order="F")
    cmax = nmax = 0.0
    negative: set[int] = set()
    neg_col = layout.index("diag", "neg_pools")
    numbers = cell_numbers(job.cells, model.ncell)
    cycle_sum = np.zeros((model.ncell, layout.NDIAG)) if job.method == "sasu" else None
    if job.method == "sasu" and model.soil.sasu_switch:
        model = copy.copy(model)  # the kernel reports the fluxes while this task runs; the shared model is untouched
        if model.soil.parameters:  # a column of the soil model's own parameter set
            model.sparams = model.sparams.copy(order="F")
            model.sparams[:, layout.index(model.soil_model, model.soil.sasu_switch)] = 1.0
        else:  # a soil model without one (CASA): a column of the host's parameters
            model.params = model.params.copy(order="F")
            model.params[:, layout.index("casa", model.soil.sasu_switch)] = 1.0
    for res in run_years(
        model,
        state,
        job.steps,
        first_year_of_run=job.first_year_of_run,
        cells=job.cells,
        check_budgets=job.check_budgets,
        restart_write_reset=False,
        check_forcing=False,
    ):
        cmax = max(cmax, float(np.max(np.abs(res.c_residual), initial=0.0)))
        if res.n_residual is not None:
            nmax = max(nmax, float(np.max(np.abs(res.n_residual), initial=0.0)))
        negative.update(int(numbers[c]) - 1 for c in np.flatnonzero(res.annual[:, neg_col] > 0))
        if cycle_sum is not None:
            cycle_sum += res.annual
    before, after = model.soil.totals(model, x), model.soil.totals(model, state)
    nxt, plain, mem = state, np.ones(model.ncell, dtype=bool), None
    if job.method == "anderson":
        opts = job.options
        cols = prognostic_indices(model)
        acc = Anderson.from_arrays(memory) if memory else Anderson.new(model.ncell, cols.size, opts["depth"])
        x_next, plain = acc.step(
            x[:, cols],
            state[:, cols],
            beta=opts["damping"],
            max_factor=opts["max_factor"],
            fallback_after=opts["fallback_after"],
            growth=opts.get("growth", GROWTH),
            tol=opts.get("tol", 0.0),
            floor=pool_floor(model, opts.get("floor_c", 1.0), opts.get("floor_n", 0.1)),
        )
        nxt = state.copy(order="F")
        nxt[:, cols] = x_next
        mem = acc.arrays()
    elif job.method == "newton":
        opts = job.options
        pos = newton_indices(model)
        cols = prognostic_indices(model)[pos]
        acc = Newton.from_arrays(memory) if memory else Newton.new(model.ncell, cols.size, state.shape[1])
        nxt, plain = acc.step_state(
            x,
            state,
            cols,
            pool_floor(model, opts.get("floor_c", 1.0), opts.get("floor_n", 0.1))[:, pos],
            max_factor=opts["max_factor"],
            fallback_after=opts["fallback_after"],
            tol=opts.get("tol", 0.0),
            start=opts.get("start", np.inf),
            singular=opts.get("singular", SINGULAR),
            fd=opts.get("fd", True),
        )
        nxt = np.asfortranarray(nxt)
        mem = acc.arrays()
    elif job.method == "aitken":
        opts = job.options
        pos = newton_indices(model)  # the mass pools but the leaf and labile ones (they follow, plain-cycled)
        cols = prognostic_indices(model)[pos]
        acc = Aitken.from_arrays(memory) if memory else Aitken.new(model.ncell, cols.size, opts["max_cycles"])
        x_next, plain = acc.step(
            x[:, cols],
            state[:, cols],
            np.maximum(
                pool_floor(model, opts.get("floor_c", 1.0), opts.get("floor_n", 0.1)),
                mass_floor(model, state, opts.get("mass_floor", 0.0)),
            )[:, pos],
            max_cycles=opts["max_cycles"],
            max_factor=opts["max_factor"],
            fallback_after=opts["fallback_after"],
            tol=opts.get("tol", 0.0),
            block=opts.get("block", 1),
        )
        nxt = state.copy(order="F")
        nxt[:, cols] = x_next
        mem = acc.arrays()
    elif job.method == "sasu":
        assert cycle_sum is not None
        nxt, plain, mem = sasu_update(model, x, state, cycle_sum, memory, job.options)
    return CycleResult(
        job.cells, state, nxt, mem, before, after, plain, cmax, nmax, time.perf_counter() - t0, sorted(negative)
    )
