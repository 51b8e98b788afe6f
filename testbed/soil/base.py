"""The soil-model description: what a soil model is, as data the rest of the package loops over.

A :class:`SoilModel` names its pools (state columns, with element, groups, output name, CF
standard name and whether a spin-up iterates them), its parameter set, its kernel entry points,
its cold-start and restart rules and its legacy CSV files. The CASA-CNP vegetation (the host
model) and its pools are shared by every soil model: :func:`vegetation_pools`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ..model import Model
    from ..variables import OutputVar

CARBON, NITROGEN = "carbon", "nitrogen"
#: namelist value of run.cycle by the kernel's icycle
CYCLE_NAMES = {1: "c", 2: "cn"}


@dataclass(frozen=True)
class Pool:
    """One prognostic mass pool held in the kernel state.

    ``groups`` says which totals the pool belongs to: ``vegetation``, ``labile``, ``litter``, ``cwd``,
    ``soil`` (organic matter), ``microbial``, ``mineral``. ``output`` is its output variable name.
    """

    column: str  #: kernel state column (testbed/layout.toml, soil/<model>.toml)
    element: str  #: CARBON or NITROGEN
    output: str  #: output variable name (annual/daily files)
    groups: frozenset[str]
    standard_name: str | None = None  #: CF standard name of the output variable, where CF has one
    prognostic: bool = True  #: carried from year to year and iterated by a spin-up

    def in_cycle(self, icycle: int) -> bool:
        """Whether the pool is simulated in a C-only (1) or C+N (2) run."""
        return self.element == CARBON or icycle >= 2


def _pools(element: str, groups: str, *specs: tuple[str, str, str | None]) -> tuple[Pool, ...]:
    g = frozenset(groups.split())
    return tuple(Pool(col, element, out, g, std) for col, out, std in specs)


#: pools of the CASA-CNP vegetation shared by every soil model, with CWD and soil mineral N
VEGETATION_POOLS: tuple[Pool, ...] = (
    *_pools(
        CARBON,
        "vegetation",
        ("cleaf", "cleaf", "leaf_mass_content_of_carbon"),
        ("cwood", "cwood", "stem_mass_content_of_carbon"),
        ("cfroot", "cfroot", "root_mass_content_of_carbon"),
    ),
    *_pools(CARBON, "labile", ("clabile", "clabile", None)),
    *_pools(CARBON, "cwd", ("ccwd", "clitcwd", "wood_debris_mass_content_of_carbon")),
    *_pools(
        NITROGEN,
        "vegetation",
        ("nleaf", "nleaf", "leaf_mass_content_of_nitrogen"),
        ("nwood", "nwood", "stem_mass_content_of_nitrogen"),
        ("nfroot", "nfroot", "root_mass_content_of_nitrogen"),
    ),
    *_pools(NITROGEN, "cwd", ("ncwd", "nlitcwd", "wood_debris_mass_content_of_nitrogen")),
    *_pools(
        NITROGEN, "mineral", ("nsoilmin", "nMineral", "soil_mass_content_of_inorganic_nitrogen_expressed_as_nitrogen")
    ),
)


def vegetation_pools(icycle: int) -> tuple[Pool, ...]:
    """The shared vegetation pools simulated in a run of cycle ``icycle``."""
    return tuple(p for p in VEGETATION_POOLS if p.in_cycle(icycle))


@dataclass(frozen=True)
class ParameterSpec:
    """A soil model's own parameter set (CASA soil has none: it uses the CASA-CNP table)."""

    config_key: str  #: namelist key of its file, e.g. "files.mimics_params"
    shipped: str  #: the shipped default in namelists/, e.g. "params_mimics.nml"
    load: Callable[[Path], Any]  #: reads our namelist or the original's file; the set has .sha256
    table: str  #: layout table of its per-cell kernel array (testbed/soil/<model>.toml)
    #: per-cell kernel array (ncell, ncolumn) from the set and the cells' IGBP types (1-based)
    gather: Callable[[Any, np.ndarray], np.ndarray]
    write: Callable[[Any, Path, str], None]  #: writes the set as our documented namelist (set, path, title)
    lst_line: int  #: line of the original's .lst that names the file (import-legacy)


@dataclass(frozen=True)
class PoolCSV:
    """The original's end-of-run pool CSV of a soil model (read for restarts, written on request).

    Leading fields are written by ``lead`` (one row's text up to the pools); the pools follow in
    ``carbon`` then (C+N runs) ``nitrogen`` order, formatted ``{value:{width}.{decimals}f}`` + ``sep``.
    """

    file_name: str  #: e.g. "mimicspool_end.csv"
    config_key: str  #: namelist key of a file to restart from
    header: str
    nlead: int  #: number of leading fields before the pools
    carbon: tuple[str, ...]
    nitrogen: tuple[str, ...]
    width: int
    decimals: int
    sep: str
    lead: Callable[[Any, np.ndarray, int, int], str]  #: (model, state, cell, year count) -> a row's leading text
    lst_line: int  #: line of the original's .lst that names the file to restart from
    nitrogen_in_c_runs: bool = False  #: the original writes the N columns in C-only runs too
    index_field: int = 1  #: leading field that holds the 1-based cell index (checked on reading)


#: ``auto`` of a spin-up key (``spinup.<key>``) for a soil model that declares none: sasu where its decomposition is
#: linear in its pools (it declares them), anderson otherwise; the prespin and cycle stages cycle plainly; no cell
#: is frozen
SPINUP_AUTO: dict[str, Callable[[Any], Any]] = {
    "stages": lambda soil: "prespin accelerate cycle",
    "accelerate_method": lambda soil: "sasu" if soil.linear_pools else "anderson",
    "prespin_method": lambda soil: "cycle",
    "cycle_method": lambda soil: "cycle",
    "freeze_after": lambda soil: 0,
}


@dataclass(frozen=True)
class SoilModel:
    """Everything that differs between soil models."""

    name: str  #: namelist value of run.soil_model
    long_name: str
    legacy_isom: int  #: the original's isomModel (line 7 of its .lst)
    pools: tuple[Pool, ...]  #: the soil model's own pools
    kernel_advance: str  #: kernel entry point of one call (docs/kernel.md)
    kernel_initialise: str | None = None  #: soil initialisation after the host's (cold start, restart)
    parameters: ParameterSpec | None = None  #: its own parameter set, if any
    legacy_csv: PoolCSV | None = None  #: the original's pool CSV, if the model has its own
    #: per-cell factor from the state's units of this model's pools to g m-2 (1 where already g m-2)
    state_to_gm2: Callable[[Model], np.ndarray] = field(default=lambda model: np.ones(model.ncell))
    extra_prognostic: tuple[str, ...] = ()  #: non-mass state columns carried between years
    cycles: tuple[int, ...] = (1, 2)  #: supported cycles (1 = C, 2 = C+N)
    #: microbes are an explicit community with their own stoichiometry (microbial C:N is a result)
    explicit_microbes: bool = False
    unsupported_fixes: tuple[str, ...] = ()  #: fix options this model's kernel path does not implement
    outputs: tuple[OutputVar, ...] = ()  #: its output variables besides its pools (testbed.variables)
    #: moisture and heterogeneity switches it implements (namelist keys; docs/moisture_heterogeneity.md)
    scenario_options: tuple[str, ...] = ()
    #: whether its parameter set asks for the water-potential moisture scalar (needs van Genuchten columns)
    psi_scalar_in_params: Callable[[Any], bool] = field(default=lambda params: False)
    #: fills its own parameter array's moisture and heterogeneity columns (sparams, moisture, het, table)
    scenario_columns: Callable[..., None] | None = None
    #: semi-analytic spin-up (docs/spinup.md "sasu"): (carbon column, its nitrogen partner or None) of the
    #: pools whose daily outflux and transfers the kernel reports (diag sasu_out_<c>, sasu_<dest>_from_<src>):
    #: donor-controlled (CASA) or with flux-weighted effective rates (MIMICS); empty: no sasu
    linear_pools: tuple[tuple[str, str | None], ...] = ()
    #: the parameter column that a sasu stage sets to 1 so that the kernel reports those fluxes (None: always
    #: reported): a column of its own parameter set (sparams) or, for a soil model without one (CASA), of the host's
    #: parameters
    sasu_switch: str | None = None
    #: carbon columns of linear_pools that the steady-state solve includes but the step does not scale: fast pools
    #: that follow within the next cycle (MIMICS' microbes, hours to days)
    sasu_keep: tuple[str, ...] = ()
    #: what ``auto`` means in its spin-up keys (docs/spinup.md "Stages", "Methods", "Frozen cells"): ``(key, value in
    #: C runs, value in C+N runs)`` for the keys of :data:`SPINUP_AUTO` (the stages, their methods, ``freeze_after``);
    #: a key left out gets :data:`SPINUP_AUTO`'s
    spinup_auto: tuple[tuple[str, Any, Any], ...] = ()

    def auto_value(self, key: str, icycle: int) -> Any:
        """What ``auto`` stands for in ``spinup.<key>`` for this model and cycle (1 = C, 2 = C+N)."""
        for k, c_run, cn_run in self.spinup_auto:
            if k == key:
                return cn_run if icycle >= 2 else c_run
        return SPINUP_AUTO[key](self)

    def own_pools(self, icycle: int) -> tuple[Pool, ...]:
        return tuple(p for p in self.pools if p.in_cycle(icycle))

    def all_pools(self, icycle: int) -> tuple[Pool, ...]:
        """Vegetation pools then this model's pools, of the elements a run of ``icycle`` simulates."""
        return vegetation_pools(icycle) + self.own_pools(icycle)

    def prognostic_columns(self, icycle: int) -> tuple[str, ...]:
        """State columns a spin-up iterates: every simulated mass pool and the extra prognostic columns."""
        return tuple(p.column for p in self.all_pools(icycle) if p.prognostic) + self.extra_prognostic

    def group(self, group: str, element: str, icycle: int) -> tuple[Pool, ...]:
        return tuple(p for p in self.all_pools(icycle) if group in p.groups and p.element == element)

    def totals(self, model: Model, state: np.ndarray) -> dict[str, np.ndarray]:
        """Per-cell totals in g m-2 of a state (ncell, NSTATE).

        Keys: ``soil_c`` (litter + soil organic matter, CWD excluded), ``veg_c``, ``mic_c``,
        and for C+N runs ``soil_n``, ``mic_n``.
        """
        from .. import layout

        own = {p.column for p in self.pools}
        scale = self.state_to_gm2(model)

        def total(group: str, element: str) -> np.ndarray:
            out = np.zeros(state.shape[0])
            for p in self.group(group, element, model.icycle):
                out = out + state[:, layout.index("state", p.column)] * (scale if p.column in own else 1.0)
            return out

        out = {
            "soil_c": total("litter", CARBON) + total("soil", CARBON),
            "veg_c": total("vegetation", CARBON),
            "mic_c": total("microbial", CARBON),
        }
        if model.icycle >= 2:
            out["soil_n"] = total("litter", NITROGEN) + total("soil", NITROGEN)
            out["mic_n"] = total("microbial", NITROGEN)
        return out
