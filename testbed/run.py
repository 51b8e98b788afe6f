"""Year loops: which years to simulate, in what order, with which side effects.

A run is a list of :class:`YearStep` (built by :func:`cycle_schedule` for
spin-ups that cycle a multi-year met file, or :func:`transient_schedule` for
one met file per calendar year). :func:`run_years` advances a state through
them, one kernel call per year, checks the carbon and nitrogen budgets of every
cell every year, and yields the year's diagnostics to the caller, which writes
outputs. Nothing here does physics.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import kernel, layout, sharedread
from .errors import ConservationError
from .forcing import MetFile, YearBuffers, met_path_for_year
from .model import Model
from .soil.base import CARBON, NITROGEN

#: relative tolerance of the annual C and N budgets (inputs - outputs - d(storage))
BUDGET_RTOL = 1e-12


@dataclass
class Perturbation:
    """The original's co2delta file: offsets and NPP multiplier from simulation year ``start_year_count``."""

    dtair: float = 0.0  #: K added to air temperature
    dtsoil: float = 0.0  #: K added to every soil layer
    npp_mult: float = 1.0  #: multiplier of NPP (after autotrophic respiration)
    start_year_count: int = 10000  #: first simulation-year count (1-based) that is perturbed

    def active(self, count: int) -> bool:
        return count >= self.start_year_count


@dataclass
class YearStep:
    """One simulated year."""

    met_path: Path
    year_index: int  #: 0-based year within the met file
    count: int  #: simulation-year count (1-based, the original's iYrCnt)
    label: int  #: output year label (count for spin-ups, calendar year for transients)
    write_output: bool  #: an output year (the original's writeNc)
    restart_write: bool  #: the original writes its restart CSV at the end of this year (casa.md Q5)
    store_daily: bool = False


def cycle_schedule(
    met_path: str | Path, ncycles: int, *, output_interval: int = 1, daily: bool = False, met_years: int | None = None
) -> list[YearStep]:
    """Spin-up over a multi-year met file repeated ``ncycles`` times (initcasa 0/1)."""
    met_path = Path(met_path)
    nyear = met_years if met_years is not None else MetFile.open(met_path).nyear
    interval = max(1, output_interval)
    total = nyear * ncycles
    steps = []
    for count in range(1, total + 1):
        write_nc = count == 1 or count % interval == 0 or count == total
        write_csv = count % 100 == 0 or count == total
        steps.append(
            YearStep(met_path, (count - 1) % nyear, count, count, write_nc, write_csv and write_nc, daily and write_nc)
        )
    return steps


def transient_schedule(
    met_pattern: str,
    first_year: int,
    last_year: int,
    *,
    repeats: int = 1,
    output_interval: int = 1,
    daily: bool = False,
    label_by_count: bool = False,
) -> list[YearStep]:
    """One met file per calendar year (initcasa 2), optionally repeated (initcasa 3).

    ``met_pattern`` contains ``{year}``. The label is the calendar year unless
    ``label_by_count``, as in the original's repeated transient.
    """
    nyears = last_year - first_year + 1
    total = nyears * repeats
    interval = max(1, output_interval)
    steps = []
    for rep in range(repeats):
        for year in range(first_year, last_year + 1):
            count = rep * nyears + (year - first_year + 1)
            write_nc = count == 1 or count % interval == 0 or count == total
            write_csv = count % 100 == 0 or count == total
            steps.append(
                YearStep(
                    met_path_for_year(met_pattern, year),
                    0,
                    count,
                    count if label_by_count else year,
                    write_nc,
                    write_csv,
                    daily and write_nc,
                )
            )
    return steps


@dataclass
class YearResult:
    """What one simulated year produced for a set of cells."""

    step: YearStep
    annual: np.ndarray  #: (ncell, NDIAG) sums over the year's days
    daily: np.ndarray | None  #: (ncell, NDIAG, 365) when asked for
    state: np.ndarray  #: end-of-year state (after any restart-write reset)
    c_residual: np.ndarray  #: (ncell,) C budget residual, g m-2 yr-1
    n_residual: np.ndarray | None  #: (ncell,) N budget residual (C+N runs)
    notes: list[str] = field(default_factory=list)


def storage(model: Model, state: np.ndarray, element: str) -> np.ndarray:
    """Per-cell mass of ``element`` (testbed.soil CARBON or NITROGEN) held in the state's pools, g m-2."""
    soil = model.soil
    own = {p.column for p in soil.pools}
    scale = soil.state_to_gm2(model)
    total = np.zeros(state.shape[0])
    for p in soil.all_pools(model.icycle):
        if p.element == element:
            value = state[:, layout.index("state", p.column)]
            total = total + (value * scale if p.column in own else value)
    return total


def _col(a: np.ndarray, name: str) -> np.ndarray:
    return a[:, layout.index("diag", name)]


def budget_residuals(
    model: Model, before: np.ndarray, after: np.ndarray, annual: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Per-cell C and N budget residuals and storages of one year (docs/kernel.md "Budgets")."""
    c0, c1 = storage(model, before, CARBON), storage(model, after, CARBON)
    c_in = _col(annual, "gpp") + _col(annual, "cexudate") + _col(annual, "c_quirk_source")
    c_out = _col(annual, "ra") + _col(annual, "clabloss") + _col(annual, "rh")
    c_res = (c1 - c0) - (c_in - c_out)
    c_scale = np.maximum(np.abs(c0), np.abs(c1))
    if model.icycle < 2:
        return c_res, c_scale, None, None
    n0, n1 = storage(model, before, NITROGEN), storage(model, after, NITROGEN)
    n_in = (_col(annual, "ndep") + _col(annual, "nfix") + _col(annual, "n_quirk_source")) + _col(annual, "nexudate_ext")
    n_out = _col(annual, "nleach") + _col(annual, "nloss")
    n_res = (n1 - n0) - (n_in - n_out)
    n_scale = np.maximum(np.abs(n0), np.abs(n1))
    return c_res, c_scale, n_res, n_scale


def cell_numbers(cells: slice | np.ndarray, ncell: int) -> np.ndarray:
    """1-based numbers, among the met files' active cells, of a model that covers ``cells`` (a slice from its
    start, or an index array) and has ``ncell`` cells."""
    if isinstance(cells, slice):
        return np.arange(ncell) + (cells.start or 0) + 1
    return np.asarray(cells) + 1


def _check_budget(
    kind: str, residual: np.ndarray, scale: np.ndarray, step: YearStep, numbers: np.ndarray, cellid: np.ndarray
) -> None:
    bad = np.flatnonzero(~(np.abs(residual) <= BUDGET_RTOL * scale))
    if bad.size:
        c = int(bad[np.argmax(np.abs(residual[bad]) / np.maximum(scale[bad], 1e-300))])
        raise ConservationError(
            f"{kind} budget does not close in simulation year {step.count} (label {step.label}) for "
            f"{bad.size} cell(s); worst: cell {numbers[c]} (cellid {cellid[c]}): residual "
            f"{residual[c]:.3e} g m-2 yr-1 against storage {scale[c]:.6g} g m-2 "
            f"(tolerance {BUDGET_RTOL:g} relative)"
        )


def run_years(
    model: Model,
    state: np.ndarray,
    steps: Sequence[YearStep],
    *,
    perturbation: Perturbation | None = None,
    first_year_of_run: bool = True,
    cells: slice | np.ndarray = slice(None),
    check_budgets: bool = True,
    restart_write_reset: bool = True,
    check_forcing: bool | Collection[int] = True,
) -> Iterator[YearResult]:
    """Advance ``state`` (in place) through ``steps``, yielding each year's result.

    ``model`` and ``state`` cover the cells ``cells`` of the met files' active
    cells. ``restart_write_reset=False`` switches off the original's
    restart-write side effects (casa.md Q5) -- a documented fix option. ``check_forcing=False``
    skips the per-year checks of the forcing values when the caller has scanned them already; a
    collection of positions in ``steps`` checks the years at those positions only.
    """
    pert = perturbation or Perturbation()
    met_cache: dict[Path, MetFile] = {}
    numbers = cell_numbers(cells, model.ncell)
    buffers = YearBuffers()  # the forcing of a year is used up before the next year is read into them
    # other chunk tasks of this process reading the same years share each read (threaded workers)
    with sharedread.member(cells, [(str(s.met_path), s.year_index) for s in steps], buffers) as share:
        for k, step in enumerate(steps):
            met = met_cache.get(step.met_path)
            if met is None:
                met = met_cache[step.met_path] = MetFile.open(step.met_path)
                met_cache = {step.met_path: met}
            check = check_forcing if isinstance(check_forcing, bool) else k in check_forcing
            forcing = met.read_year(step.year_index, cells, check=check, share=share)
            before = state.copy(order="F")
            annual = kernel.new_annual(model.ncell)
            on = pert.active(step.count)
            daily = kernel.advance(
                model.soil,
                state,
                model.params_for_year(step.count),
                model.sparams,
                forcing,
                icycle=model.icycle,
                fixes=model.fix_flags,
                annual=annual,
                dtair=pert.dtair if on else 0.0,
                dtsoil=pert.dtsoil if on else 0.0,
                npp_scalar=pert.npp_mult if on else 1.0,
                store_daily=step.store_daily,
                first_year=first_year_of_run and k == 0,
            )
            c_res, c_scale, n_res, n_scale = budget_residuals(model, before, state, annual)
            if check_budgets:
                _check_budget("carbon", c_res, c_scale, step, numbers, model.domain.cellid)
                if n_res is not None:
                    _check_budget("nitrogen", n_res, n_scale, step, numbers, model.domain.cellid)
            if step.restart_write and restart_write_reset:
                kernel.restart_write_reset(state, model.params, model.icycle)
            yield YearResult(step, annual, daily, state.copy(order="F"), c_res, n_res)
