"""Run configuration: one namelist per run, every key declared once with its type, default, units and help.

The declaration (:data:`KEYS`) drives everything else: reading and writing
namelists (f90nml), validation with "did you mean" hints, ``-s group.key=value``
overrides, ``testbed namelist show``, the CLI help and docs/namelist.md.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import f90nml

from .errors import ConfigError
from .layout import TABLES
from .soil import REGISTRY as SOIL_MODELS
from .soil import auto_summary
from .soil.base import CYCLE_NAMES


@dataclass(frozen=True)
class Key:
    """One namelist key."""

    group: str
    name: str
    type: type
    default: Any
    units: str
    help: str
    choices: tuple | None = None

    @property
    def path(self) -> str:
        return f"{self.group}.{self.name}"


#: fixes that are not kernel columns (the fix columns and their help are declared in the layout files)
_DRIVER_FIXES = {
    "no_restart_write_reset": "the original's restart-file write changes the state (casa.md Q5); skip that",
}

#: a key whose default is this may be set to it: the soil model's description decides (SoilModel.spinup_auto)
AUTO = "auto"

#: choices of the spin-up method keys (accelerate_method, prespin_method; docs/spinup.md "Methods")
SPINUP_METHODS = (AUTO, "cycle", "anderson", "sasu", "newton", "aitken")

#: longest first segment of a run (years) that is stretched to read every met year once, so that its tasks check
#: the values as they read them (runner.segments.first_pass_end): a 20-year forcing cycle with checkpoints every
#: 10 years then reads (and checks) each value once, and its first checkpoint comes after 20 years
FIRST_PASS_MAX_YEARS = 25

KEYS: tuple[Key, ...] = (
    # &run
    Key(
        "run",
        "mode",
        str,
        "spinup",
        "",
        "spinup: cycle the met years `cycles` times (counting years 1, 2, ...); transient: one met file per "
        "calendar year from first_year to last_year",
        ("spinup", "transient"),
    ),
    Key("run", "soil_model", str, "casa", "", "soil model coupled to CASA-CNP vegetation", tuple(SOIL_MODELS)),
    Key("run", "cycle", str, "cn", "", "c: carbon only; cn: carbon and nitrogen", ("c", "cn")),
    Key(
        "run",
        "start",
        str,
        "cold",
        "",
        "cold: start from the parameter table's initial pools; restart: from files.restart_in (or the "
        "original's CSV restarts in files.legacy_restart_casa and the soil model's own, e.g. "
        "legacy_restart_mimics)",
        ("cold", "restart"),
    ),
    Key("run", "cycles", int, 1, "", "how many times the met years are run (spin-up) or the transient repeated"),
    Key(
        "run",
        "first_year",
        int,
        0,
        "yr",
        "first calendar year of per-year met files (0: files.met is one multi-year file)",
    ),
    Key("run", "last_year", int, 0, "yr", "last calendar year of per-year met files"),
    Key(
        "run",
        "output_interval",
        int,
        1,
        "yr",
        "write outputs every N simulated years, and always for the first and the last year",
    ),
    Key("run", "daily_output", bool, False, "", "also write daily_YYYY.nc files for the output years"),
    Key(
        "run",
        "checkpoint_interval",
        int,
        10,
        "yr",
        "write a checkpoint every N simulated years; `testbed run --resume` continues from the last one. The first "
        "comes after the first pass over the met years when that is longer (at most "
        f"{FIRST_PASS_MAX_YEARS} years): it checks the met values as it reads them",
    ),
    Key("run", "check_budgets", bool, True, "", "stop when a cell's annual C or N budget does not close to 1e-12"),
    Key(
        "run",
        "allow_missing_frozen",
        bool,
        False,
        "",
        "accept met files without xfrznmoist and take frozen soil water as 0, as the original does; otherwise a "
        "missing xfrznmoist is an error",
    ),
    # &files
    Key("files", "gridinfo", str, "", "", "grid-info CSV (the original's 19-column format), in met point order"),
    Key("files", "soil", str, "", "", "soil-texture CSV (the original's 9-column format), same order"),
    Key(
        "files",
        "phenology",
        str,
        "@namelists/phenology_modis_igbp.csv",
        "",
        "phenology table: ours (CSV) or the original's modis_phenology*.txt",
    ),
    Key(
        "files",
        "casa_params",
        str,
        "@namelists/params_casa_igbp.nml",
        "",
        "CASA parameter set: our namelist, or the original's pftlookup CSV (@namelists/ = shipped sets)",
    ),
    *(
        Key(
            "files",
            m.parameters.config_key.split(".")[1],
            str,
            f"@namelists/{m.parameters.shipped}",
            "",
            f"{m.name} soil parameter set (run.soil_model = {m.name}): our namelist, or the original's file",
        )
        for m in SOIL_MODELS.values()
        if m.parameters
    ),
    Key(
        "files",
        "met",
        str,
        "",
        "",
        "met NetCDF file; with first_year/last_year a pattern containing {year}, e.g. met/met_{year}_{year}.nc",
    ),
    Key("files", "restart_in", str, "", "", "restart NetCDF written by testbed (run.start = restart)"),
    Key(
        "files",
        "exudate_cn",
        str,
        "",
        "",
        "per-cell exudate C:N (CSV with a header and a column cn, one row per cell in the soil table's order; "
        "inf: N-free); overrides exudation.cn and cn_pft (docs/exudation.md)",
    ),
    Key("files", "legacy_restart_casa", str, "", "", "the original's cnppool_end.csv to start from"),
    *(
        Key(
            "files",
            m.legacy_csv.config_key.split(".")[1],
            str,
            "",
            "",
            f"the original's {m.legacy_csv.file_name} to start from (run.soil_model = {m.name})",
        )
        for m in SOIL_MODELS.values()
        if m.legacy_csv
    ),
    Key(
        "files",
        "vg_table",
        str,
        "",
        "",
        "CSV of per-cell van Genuchten parameters (header theta_r,alpha,n; alpha in cm-1), one row per cell in the "
        "soil table's order; empty: Carsel & Parrish class means from the texture (docs/moisture_heterogeneity.md)",
    ),
    Key(
        "files",
        "heterogeneity_table",
        str,
        "",
        "",
        "CSV of per-cell coefficients of variation and correlations (header: &heterogeneity key names such as "
        "cv_micr, rho_r1, cvc_slow), one row per cell in the soil table's order; its columns override the namelist",
    ),
    Key("files", "output_dir", str, "output", "", "folder for annual.nc, daily_YYYY.nc, restart.nc, run.log"),
    Key(
        "files",
        "write_legacy_restart",
        bool,
        False,
        "",
        "also write the original's cnppool_end.csv (and the soil model's own, e.g. mimicspool_end.csv) at the end",
    ),
    # &parallel
    Key(
        "parallel",
        "chunk_size",
        int,
        0,
        "cells",
        "cells per dask task (0: split the work evenly over the workers, an ice/water cell counting 0.4 of a "
        "vegetated one, at most 4500 cells per task); results do not depend on it, memory per worker grows with it",
    ),
    Key(
        "parallel",
        "workers",
        int,
        0,
        "",
        "local workers (0: one per core; threads, or processes with parallel.processes)",
    ),
    Key(
        "parallel",
        "scheduler",
        str,
        "",
        "",
        "address of a running dask.distributed scheduler (e.g. from dask-jobqueue); empty: a local cluster",
    ),
    Key(
        "parallel",
        "processes",
        bool,
        False,
        "",
        "local cluster of worker processes instead of threads of this process (threads: faster start, one copy "
        "of the inputs, the kernel runs without the GIL; processes: a crashed or killed worker is replaced and "
        "its chunk runs again)",
    ),
    # &perturbation
    Key("perturbation", "dtair", float, 0.0, "K", "added to air temperature from start_year_count on"),
    Key("perturbation", "dtsoil", float, 0.0, "K", "added to every soil layer's temperature"),
    Key("perturbation", "npp_mult", float, 1.0, "", "multiplies NPP (after autotrophic respiration)"),
    Key(
        "perturbation",
        "start_year_count",
        int,
        10000,
        "",
        "first simulated year (1-based count within this run) that is perturbed",
    ),
    Key(
        "perturbation",
        "dry_start",
        int,
        0,
        "d",
        "first day of year of a dry spell (seed_processes.md 2.1); 0: no dry spell",
    ),
    Key("perturbation", "dry_days", int, 7, "d", "length of the dry spell"),
    Key(
        "perturbation",
        "dry_psi",
        float,
        -450.0,
        "hPa",
        "soil water potential held in every layer during the dry spell (water content theta(psi) per cell)",
    ),
    Key("perturbation", "dry_dtsoil", float, 0.0, "K", "added to every soil layer's temperature during the spell"),
    Key(
        "perturbation",
        "dry_years",
        str,
        "",
        "",
        "comma-separated simulation-year counts (1-based) with the dry spell; empty: every year",
    ),
    # &moisture
    Key(
        "moisture",
        "fw_psi",
        bool,
        False,
        "",
        "CASA soil: the water-potential moisture scalar max(fw_min, f_psi) for litter and soil decay "
        "(seed_processes.md 2.3); MIMICS: set fw_function = 4 in its parameters",
    ),
    Key("moisture", "fw_min", float, 0.05, "", "floor of the water-potential moisture scalar"),
    Key(
        "moisture",
        "fw_on_tau",
        bool,
        True,
        "",
        "MIMICS fw_function 4: also scale microbial turnover by fW (false: as S001, rates only)",
    ),
    # &heterogeneity
    Key(
        "heterogeneity",
        "het_mm",
        bool,
        False,
        "",
        "MIMICS: second-order sub-grid heterogeneity factor on the Michaelis-Menten fluxes and turnover "
        "(seed_processes.md 3)",
    ),
    Key(
        "heterogeneity",
        "het_lin",
        bool,
        False,
        "",
        "CASA soil: heterogeneity factor 1 + rho CVk CVC on the litter and soil decay rates",
    ),
    Key("heterogeneity", "phi_min", float, 0.0, "", "lower clamp of the heterogeneity factor (clamps are counted)"),
    *(
        Key("heterogeneity", f"cv_{p}", float, 0.0, "", f"MIMICS: coefficient of variation of {p.upper()}")
        for p in ("litm", "lits", "micr", "mick", "soma", "somc", "somp")
    ),
    Key("heterogeneity", "cvk_desorp", float, 0.0, "", "MIMICS: coefficient of variation of the desorption rate"),
    Key("heterogeneity", "rho_desorp", float, 0.0, "", "MIMICS: correlation of the desorption rate and SOMp"),
    *(
        Key("heterogeneity", f"rho_{r}", float, 0.0, "", f"MIMICS: correlation of substrate and microbe, {help}")
        for r, help in (
            ("r1", "LITm-MICr"),
            ("r2", "LITs-MICr"),
            ("r3", "SOMa-MICr"),
            ("k1", "LITm-MICk"),
            ("k2", "LITs-MICk"),
            ("k3", "SOMa-MICk"),
            ("ox_r", "SOMc-MICr (OXIDAT)"),
            ("ox_k", "SOMc-MICk (OXIDAT)"),
        )
    ),
    *(
        Key("heterogeneity", f"{kind}_{p}", float, 0.0, "", f"CASA: {help} of the {p} pool")
        for p in ("met", "str", "cwd", "mic", "slow", "pass")
        for kind, help in (
            ("cvc", "coefficient of variation of the carbon"),
            ("cvk", "coefficient of variation of the decay rate"),
            ("rhokc", "correlation of decay rate and carbon"),
        )
    ),
    # &exudation (seed_processes.md 1; docs/exudation.md)
    Key(
        "exudation",
        "mode",
        str,
        "legacy",
        "",
        "legacy: the original's hook (fracrootexud x GPP taken from GPP after NPP, so C is created; no N); "
        "plant: debited from NPP and fine-root N (conserving); prescribed: the external flux `flux`",
        ("legacy", "plant", "prescribed"),
    ),
    Key("exudation", "frac", float, -1.0, "1", "fraction of GPP exuded (legacy, plant); < 0: the table's fracrootexud"),
    Key("exudation", "cn", float, 40.0, "g g-1", "exudate C:N (plant, prescribed); must be > 0"),
    Key("exudation", "n_free", bool, False, "", "N-free exudate (infinite C:N)"),
    Key("exudation", "cn_pft", str, "", "g g-1", "per-PFT exudate C:N, 18 comma-separated values; overrides cn"),
    Key("exudation", "flux", float, 0.0, "g m-2 d-1", "prescribed exudate carbon flux (mode prescribed)"),
    Key("exudation", "route_mimics", int, 0, "", "MIMICS: 0 into LITm, 1 direct uptake by MICr and MICk (C+N)"),
    Key("exudation", "route_casa", int, 0, "", "CASA soil: 0 metabolic litter, 1 microbial pool with CUE `cue`"),
    Key("exudation", "fhmw", float, 0.0, "1", "MIMICS route 1: share sent to LITm (high-molecular-weight exudate)"),
    Key("exudation", "mge_r", float, 0.5, "1", "MIMICS route 1: growth efficiency of MICr on exudate"),
    Key("exudation", "mge_k", float, 0.7, "1", "MIMICS route 1: growth efficiency of MICk on exudate"),
    Key("exudation", "nue", float, 0.85, "1", "MIMICS route 1: N use efficiency of exudate uptake"),
    Key("exudation", "cue", float, 0.45, "1", "CASA route 1: carbon-use efficiency of exudate uptake"),
    Key(
        "exudation",
        "schedule",
        str,
        "continuous",
        "",
        "continuous, or pulses on days pulse_start + i pulse_period + j (i < pulse_number, j < pulse_length)",
        ("continuous", "pulses"),
    ),
    Key("exudation", "pulse_start", int, 200, "", "day of year of the first pulse"),
    Key("exudation", "pulse_number", int, 1, "", "number of pulses per year"),
    Key("exudation", "pulse_period", int, 365, "d", "days from one pulse's start to the next"),
    Key("exudation", "pulse_length", int, 1, "d", "length of a pulse"),
    Key(
        "exudation",
        "pulse_amplitude",
        float,
        -1.0,
        "1",
        "schedule factor on pulse days; -1: pulse_period / pulse_length (mass-matched to continuous exudation)",
    ),
    Key("exudation", "pulse_background", float, 0.0, "1", "schedule factor on the other days"),
    Key(
        "exudation",
        "diagnostics",
        bool,
        False,
        "",
        "MIMICS microbial diagnostics (uptake, respiration, CUE, necromass) also without an exudation option",
    ),
    Key(
        "heterogeneity",
        "cv_vmax",
        float,
        0.0,
        "",
        "MIMICS: coefficient of variation of Vmax, all six uptakes and OXIDAT (S002 Eq. 16; 0 = off)",
    ),
    Key("heterogeneity", "rho_vmax_s", float, 0.0, "", "MIMICS: correlation of Vmax and the substrate"),
    Key("heterogeneity", "rho_vmax_m", float, 0.0, "", "MIMICS: correlation of Vmax and the microbe"),
    # &fixes
    *(Key("fixes", c.name, bool, False, "", c.long_name) for c in TABLES["fix"].columns if c.name != "reserved"),
    *(Key("fixes", name, bool, False, "", help) for name, help in _DRIVER_FIXES.items()),
    # &spinup (testbed spinup; docs/spinup.md)
    Key(
        "spinup",
        "stages",
        str,
        "auto",
        "",
        "stages run in order by `testbed spinup`, separated by spaces: prespin (cycle one met year), accelerate "
        "(accelerate_method), cycle (cycle_method until the criteria hold), settle (plain cycles per cell until its "
        f"totals stand still over settle_window years); each at most once (auto: {auto_summary('stages')})",
    ),
    Key(
        "spinup",
        "prespin_cycles",
        int,
        10,
        "",
        "prespin with prespin_method = cycle: how many times its one met year is run (no early stop)",
    ),
    Key(
        "spinup",
        "prespin_year",
        int,
        0,
        "yr",
        "prespin: calendar year of per-year met files, or 1-based year of a multi-year file (0: the first)",
    ),
    Key(
        "spinup",
        "prespin_set",
        str,
        "",
        "",
        "prespin: group.key=value settings for this stage only, space-separated (e.g. files.casa_params=x.nml)",
    ),
    Key(
        "spinup",
        "accelerate_method",
        str,
        "auto",
        "",
        f"accelerate: auto (what the soil model declares: {auto_summary('accelerate_method')}), cycle (plain "
        "cycling), anderson (per-cell Anderson acceleration of the cycle map), "
        "sasu (semi-analytic), "
        "newton (per-cell Newton with a finite-difference Jacobian, batched across cells), aitken (plain cycling "
        "with per-cell slow-mode extrapolation)",
        SPINUP_METHODS,
    ),
    Key("spinup", "accelerate_max_cycles", int, 60, "", "accelerate: at most this many forcing cycles"),
    Key("spinup", "accelerate_set", str, "", "", "accelerate: group.key=value settings for this stage only"),
    Key("spinup", "cycle_max_cycles", int, 200, "", "cycle: at most this many forcing cycles"),
    Key("spinup", "cycle_set", str, "", "", "cycle: group.key=value settings for this stage only"),
    Key(
        "spinup",
        "settle_window",
        int,
        100,
        "yr",
        "settle: a vegetated cell retires when each of its totals stood still over this many simulated years (at "
        "least two forcing cycles) ...",
    ),
    Key(
        "spinup",
        "settle_rel",
        float,
        5.0e-4,
        "1",
        "settle: ... its range over them (of two-cycle means) below this fraction of the total (5e-4 = 0.05 %) ...",
    ),
    Key("spinup", "settle_abs", float, 0.1, "g m-2", "settle: ... or below this"),
    Key(
        "spinup",
        "settle_max_years",
        int,
        2000,
        "yr",
        "settle: at most this many simulated years (whole forcing cycles); cells still running then are listed",
    ),
    Key("spinup", "settle_set", str, "", "", "settle: group.key=value settings for this stage only"),
    Key(
        "spinup",
        "freeze_after",
        int,
        "auto",
        "",
        "a vegetated cell that took plain cycles meeting the cell criteria this many cycles in a row is not simulated "
        "until the next full cycle; its last change stands in for it (0: every cell every cycle; auto: what the soil "
        f"model declares: {auto_summary('freeze_after')})",
    ),
    Key(
        "spinup",
        "full_every",
        int,
        10,
        "",
        "with freeze_after: every this many cycles of a stage all cells are simulated, and a stage ends only on such "
        "a full cycle (one follows as soon as the criteria hold)",
    ),
    Key(
        "spinup",
        "soc_global",
        float,
        0.01,
        "Pg",
        "criterion: |global change of total soil C| per forcing cycle below this (Pg C per cycle)",
    ),
    Key(
        "spinup",
        "cell_abs",
        float,
        1.0,
        "g m-2",
        "criterion: a cell is settled when its total changes by less than this per cycle (g m-2 per cycle) ...",
    ),
    Key("spinup", "cell_rel", float, 0.001, "1", "... and by less than this fraction per cycle (0.001 = 0.1 %)"),
    Key(
        "spinup",
        "cell_fraction",
        float,
        0.98,
        "1",
        "criterion: at least this fraction of vegetated cells settled in every criteria variable",
    ),
    Key(
        "spinup",
        "criteria_variables",
        str,
        "soil_c",
        "",
        "totals the cell criterion applies to, space-separated: soil_c, veg_c, mic_c, soil_n, mic_n (N: C+N only)",
    ),
    Key("spinup", "anderson_depth", int, 5, "", "anderson: history length m (previous cycles remembered)"),
    Key("spinup", "anderson_damping", float, 1.0, "", "anderson: damping beta in (0, 1]"),
    Key(
        "spinup",
        "anderson_max_factor",
        float,
        10.0,
        "",
        "anderson: a pool may differ from its plain-cycled value by at most this factor per step",
    ),
    Key(
        "spinup",
        "anderson_fallback_after",
        int,
        4,
        "",
        "anderson, sasu: failed steps (residual grew) after which a cell falls back to plain cycling",
    ),
    Key(
        "spinup",
        "sasu_max_factor",
        float,
        2.0,
        "",
        "sasu: a pool may be scaled by at most this factor (or 1/factor) per semi-analytic step",
    ),
    Key(
        "spinup",
        "sasu_microbe_ratio",
        float,
        0.5,
        "",
        "sasu, soil models that keep their microbes out of the step (MIMICS): a cell whose soil substrate stays "
        "within 0.5 % over a forcing cycle while the semi-analytic solve would leave its microbes below this fraction "
        "of their present amount takes a plain cycle instead of a step (its microbes cannot live on what the step "
        "would leave, and such steps emptied cold soils; 0: never)",
    ),
    Key(
        "spinup",
        "sasu_collapse",
        float,
        100.0,
        "",
        "sasu, soil models that keep their microbes out of the step (MIMICS): a cell in which a microbial group fell "
        "more than this factor over the cycle after a step returns to its state before the step and cycles plainly "
        "for the rest of the stage (a group that dies out never comes back; 0: never)",
    ),
    Key(
        "spinup",
        "newton_max_factor",
        float,
        4.0,
        "",
        "newton: a pool may differ from its plain-cycled value by at most this factor per Newton step",
    ),
    Key(
        "spinup",
        "transient_first_year",
        int,
        0,
        "yr",
        "first year of the transient run written for the user (0: run.first_year)",
    ),
    Key("spinup", "transient_last_year", int, 0, "yr", "last year of that transient run (0: run.last_year)"),
    Key(
        "spinup",
        "transient_output_dir",
        str,
        "",
        "",
        "output folder of that transient run (empty: the spin-up's output_dir + '_transient')",
    ),
    # &spinup: an accelerated prespin (iterating the fixed point of the one-year map; docs/spinup.md "Stages")
    Key(
        "spinup",
        "prespin_method",
        str,
        "auto",
        "",
        f"prespin: auto (what the soil model declares: {auto_summary('prespin_method')}), "
        "cycle (prespin_cycles plain cycles of the one met year), or anderson, sasu, newton: "
        "that method on the one-year map until its criteria, scaled to the forcing cycle's length, hold (at most "
        "prespin_max_cycles)",
        SPINUP_METHODS,
    ),
    Key(
        "spinup",
        "prespin_max_cycles",
        int,
        400,
        "",
        "prespin with an accelerated prespin_method: at most this many cycles of its one met year",
    ),
    # &spinup: periodic steady states (docs/spinup.md "Criteria")
    Key(
        "spinup",
        "cell_period2",
        bool,
        False,
        "",
        "criterion: a change that alternates in sign from the previous plain cycle is judged by half the change "
        "over the two cycles (a period-2 cycle of the state counts as settled; also the global dSOC)",
    ),
    # &spinup: the cycle stage's method and the slow-mode extrapolation (docs/spinup.md "aitken")
    Key(
        "spinup",
        "cycle_method",
        str,
        "auto",
        "",
        f"cycle: auto (what the soil model declares: {auto_summary('cycle_method')}), cycle (plain "
        "cycling), aitken (plain cycling with "
        "per-cell slow-mode extrapolation of steady drift), or anderson, sasu, newton (started afresh: cells the "
        "accelerate stage sent to plain cycling are accelerated again)",
        SPINUP_METHODS,
    ),
    Key(
        "spinup",
        "aitken_max_cycles",
        float,
        50.0,
        "",
        "aitken: a jump extrapolates a cell's steady drift by at most this many cycles' worth of its last increment",
    ),
    Key(
        "spinup",
        "aitken_max_factor",
        float,
        2.0,
        "",
        "aitken: a jump may move a pool by at most this factor (or 1/factor) from its plain-cycled value",
    ),
    Key(
        "spinup",
        "aitken_block",
        int,
        4,
        "",
        "aitken: beside single cycles, blocks of this many cycles, whose summed increments give q as the ratio of "
        "successive blocks (the noise of single cycles averages out)",
    ),
)

GROUPS = ("run", "files", "parallel", "perturbation", "moisture", "heterogeneity", "exudation", "fixes", "spinup")
_BY_PATH = {k.path: k for k in KEYS}


def key(path: str) -> Key:
    """The declaration of ``group.name``, or a ConfigError with a hint."""
    if path in _BY_PATH:
        return _BY_PATH[path]
    raise ConfigError(f"unknown key {path!r}" + _hint(path, _BY_PATH))


def _hint(name: str, choices) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _coerce(k: Key, value: Any, where: str) -> Any:
    if k.default == AUTO and isinstance(value, str) and value.strip().lower() == AUTO:
        return AUTO  # resolved from the soil model's description (SoilModel.spinup_auto)
    if k.type is bool:
        if isinstance(value, bool):
            out = value
        elif isinstance(value, str) and value.strip().lower().strip(".") in (
            "true",
            "t",
            "yes",
            "1",
            "false",
            "f",
            "no",
            "0",
        ):
            out = value.strip().lower().strip(".") in ("true", "t", "yes", "1")
        else:
            raise ConfigError(f"{where}: {k.path} must be true or false, not {value!r}")
    elif k.type is int:
        what = "a whole number" + (" or auto" if k.default == AUTO else "")
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ConfigError(f"{where}: {k.path} must be {what}, not {value!r}")
        try:
            out = int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: {k.path} must be {what}, not {value!r}") from None
    elif k.type is float:
        try:
            out = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: {k.path} must be a number, not {value!r}") from None
    else:
        out = "" if value is None else str(value)
    if k.choices and out not in k.choices:
        raise ConfigError(
            f"{where}: {k.path} = {out!r} is not one of {', '.join(map(str, k.choices))}" + _hint(str(out), k.choices)
        )
    return out


@dataclass
class RunConfig:
    """A validated run configuration: ``values[group][name]`` for every declared key."""

    values: dict[str, dict[str, Any]]
    source: Path | None = None

    @classmethod
    def defaults(cls) -> RunConfig:
        values: dict[str, dict[str, Any]] = {g: {} for g in GROUPS}
        for k in KEYS:
            values[k.group][k.name] = k.default
        return cls(values)

    @classmethod
    def from_mapping(cls, mapping: dict, where: str = "namelist", source: Path | None = None) -> RunConfig:
        cfg = cls.defaults()
        cfg.source = source
        for group, entries in mapping.items():
            g = group.lower()
            if g not in GROUPS:
                raise ConfigError(f"{where}: unknown group &{group}" + _hint(g, GROUPS))
            for name, value in dict(entries).items():
                k = key(f"{g}.{name.lower()}") if f"{g}.{name.lower()}" in _BY_PATH else None
                if k is None:
                    raise ConfigError(
                        f"{where}: unknown key {name!r} in &{g}"
                        + _hint(name.lower(), [kk.name for kk in KEYS if kk.group == g])
                    )
                cfg.values[g][k.name] = _coerce(k, value, where)
        cfg.check()
        return cfg

    @classmethod
    def read(cls, path: str | Path) -> RunConfig:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"namelist {path} not found")
        try:
            nml = f90nml.read(str(path))
        except Exception as exc:  # f90nml raises plain ValueErrors with little context
            raise ConfigError(f"{path}: not a valid namelist ({exc})") from None
        return cls.from_mapping({g: dict(v) for g, v in nml.items()}, where=str(path), source=path)

    def get(self, path: str) -> Any:
        k = key(path)
        return self.values[k.group][k.name]

    def set(self, path: str, value: Any) -> None:
        k = key(path)
        self.values[k.group][k.name] = _coerce(k, value, "override")

    def override(self, assignments: list[str]) -> None:
        """Apply ``group.key=value`` strings (the CLI's ``-s``)."""
        for a in assignments:
            if "=" not in a:
                raise ConfigError(f"override {a!r} must look like group.key=value")
            path, value = a.split("=", 1)
            self.set(path.strip(), value.strip())
        self.check()

    def check(self) -> None:
        """Consistency between keys (file existence is checked by `testbed validate` / before a run)."""
        r = self.values["run"]
        if r["cycles"] < 1:
            raise ConfigError("run.cycles must be >= 1")
        if r["output_interval"] < 1 or r["checkpoint_interval"] < 1:
            raise ConfigError("run.output_interval and run.checkpoint_interval must be >= 1")
        per_year = r["first_year"] != 0 or r["last_year"] != 0
        if per_year and r["last_year"] < r["first_year"]:
            raise ConfigError(f"run.last_year ({r['last_year']}) is before run.first_year ({r['first_year']})")
        if r["mode"] == "transient" and not per_year:
            raise ConfigError("a transient run needs run.first_year and run.last_year (one met file per year)")
        met = self.values["files"]["met"]
        if per_year and met and "{year}" not in met:
            raise ConfigError(f"files.met = {met!r} must contain {{year}} when first_year/last_year are set")
        if self.values["parallel"]["chunk_size"] < 0:
            raise ConfigError("parallel.chunk_size must be >= 0 (0: automatic)")
        from .scenarios import options_from_config

        for opt in options_from_config(self):
            opt.check()
        from .exudation import options_from_config as exudation_options

        exudation_options(self).check(self.icycle)

    @property
    def icycle(self) -> int:
        return {v: k for k, v in CYCLE_NAMES.items()}[self.values["run"]["cycle"]]

    def to_namelist(self, only_changed: bool = False) -> f90nml.Namelist:
        nml = f90nml.Namelist()
        for g in GROUPS:
            group = {}
            for k in KEYS:
                if k.group != g:
                    continue
                v = self.values[g][k.name]
                if only_changed and v == k.default:
                    continue
                group[k.name] = v
            if group or not only_changed:
                nml[g] = group
        return nml

    def write(self, path: str | Path, only_changed: bool = False) -> None:
        path = Path(path)
        text = namelist_text(self, only_changed)
        path.write_text(text)

    def file_keys(self) -> list[str]:
        """The keys that name files or folders (group files, string values)."""
        return [k.path for k in KEYS if k.group == "files" and k.type is str]

    def absolute(self) -> RunConfig:
        """A copy whose file paths are absolute (``@namelists/`` kept), valid from any folder."""
        copy = RunConfig({g: dict(v) for g, v in self.values.items()}, source=self.source)
        for path in self.file_keys():
            value = self.get(path)
            if value and not value.startswith("@namelists/"):
                copy.set(path, str(self.resolve(value).resolve()))
        return copy

    def sha256(self) -> str:
        """Hash of every value that affects the simulation, except file paths, output and parallel settings.

        The files themselves are identified by their content (testbed/fingerprint.py, checked on resume),
        so the same run configured from another folder (e.g. the copy of the namelist, with absolute
        paths, in the output folder) has the same hash.
        """
        skip = {
            "parallel.chunk_size",
            "parallel.workers",
            "parallel.scheduler",
            "parallel.processes",
            "run.checkpoint_interval",
            *self.file_keys(),
        }
        data = {k.path: self.values[k.group][k.name] for k in KEYS if k.path not in skip}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()

    def resolve(self, path_value: str) -> Path:
        """A file key's path: ``@namelists/`` is the shipped folder; relative paths are relative to the namelist."""
        if path_value.startswith("@namelists/"):
            return shipped_namelists() / path_value[len("@namelists/") :]
        p = Path(path_value)
        if not p.is_absolute() and self.source is not None:
            p = self.source.parent / p
        return p


def shipped_namelists() -> Path:
    """The folder of shipped namelists and parameter sets (inside the package when installed)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "namelists", here.parent / "namelists"):
        if candidate.is_dir():
            return candidate
    raise ConfigError("the shipped namelists folder was not found; reinstall testbed")


def _format(v: Any) -> str:
    if isinstance(v, bool):
        return ".true." if v else ".false."
    if isinstance(v, str):
        return "'" + v.replace("'", "''") + "'"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def help_line(k: Key) -> str:
    """The comment line that precedes key ``k`` in a written namelist: its help, units and default."""
    units = f" [{k.units}]" if k.units else ""
    return f"  ! {k.name}{units}: {k.help} (default {_format(k.default)})"


def namelist_text(cfg: RunConfig, only_changed: bool = False, with_help: bool = True) -> str:
    """The namelist as text, each key preceded by its help line (units and default)."""
    lines = []
    for g in GROUPS:
        entries = [k for k in KEYS if k.group == g and not (only_changed and cfg.values[g][k.name] == k.default)]
        if not entries and only_changed:
            continue
        lines.append(f"&{g}")
        for k in entries:
            if with_help:
                lines.append(help_line(k))
            lines.append(f"  {k.name} = {_format(cfg.values[g][k.name])}")
        lines.append("/")
        lines.append("")
    return "\n".join(lines)


def diff(a: RunConfig, b: RunConfig) -> list[tuple[str, Any, Any]]:
    """Keys whose values differ: (group.key, value in a, value in b)."""
    return [
        (k.path, a.values[k.group][k.name], b.values[k.group][k.name])
        for k in KEYS
        if a.values[k.group][k.name] != b.values[k.group][k.name]
    ]


def markdown_reference() -> str:
    """docs/namelist.md: every key with type, default, units and meaning."""
    out = ["# Namelist reference", "", "Generated from `testbed/config.py` (`testbed namelist doc`).", ""]
    for g in GROUPS:
        out += [f"## &{g}", "", "| key | type | default | units | meaning |", "|---|---|---|---|---|"]
        for k in KEYS:
            if k.group == g:
                choices = f" One of: {', '.join(k.choices)}." if k.choices else ""
                out.append(
                    f"| `{k.name}` | {k.type.__name__} | `{_format(k.default)}` | {k.units} | {k.help}.{choices} |"
                )
        out.append("")
    return "\n".join(out)
