"""A run's validated inputs: the model, the initial state and the years to simulate (before any compute)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import layout
from ..config import RunConfig
from ..domain import Domain, PhenologyTable
from ..errors import ConfigError, InputError
from ..exudation import options_from_config as exudation_options
from ..exudation import read_cn_table
from ..forcing import MetFile, check_values
from ..legacy import pool_csvs, read_pool_csv
from ..model import Model
from ..params import load_casa_parameters
from ..run import Perturbation, YearStep, cycle_schedule, transient_schedule
from ..scenarios import options_from_config, read_heterogeneity_table, read_vg_table
from ..soil import get as get_soil
from ..state import check_restart_matches, read_restart


@dataclass
class Plan:
    """A validated run: the model, the initial state and the years to simulate."""

    config: RunConfig
    model: Model
    state: np.ndarray
    steps: list[YearStep]
    perturbation: Perturbation
    met_files: list[Path]
    restart_write_reset: bool = True
    values_checked: bool = False

    @property
    def output_dir(self) -> Path:
        return self.config.resolve(self.config.get("files.output_dir"))


def _file(cfg: RunConfig, key: str, what: str) -> Path:
    value = cfg.get(key)
    if not value:
        raise ConfigError(f"{key} is not set: the run needs the {what}")
    path = cfg.resolve(value)
    if not path.is_file():
        raise InputError(f"{what} not found (set by {key})", path=path)
    return path


def schedule(cfg: RunConfig) -> list[YearStep]:
    """The years of a run, in order (see config keys run.mode, cycles, first_year, last_year)."""
    r = cfg.values["run"]
    met = cfg.get("files.met")
    if not met:
        raise ConfigError("files.met is not set: the run needs met forcing")
    daily, interval = r["daily_output"], r["output_interval"]
    if r["first_year"] or r["last_year"]:
        pattern = str(cfg.resolve(met))
        return transient_schedule(
            pattern,
            r["first_year"],
            r["last_year"],
            repeats=r["cycles"],
            output_interval=interval,
            daily=daily,
            label_by_count=r["mode"] == "spinup",
        )
    path = _file(cfg, "files.met", "met file")
    return cycle_schedule(path, r["cycles"], output_interval=interval, daily=daily)


def build_model(cfg: RunConfig) -> Model:
    """Read and cross-check the domain, parameter sets and phenology of a run."""
    domain = Domain.from_files(_file(cfg, "files.gridinfo", "grid-info table"), _file(cfg, "files.soil", "soil table"))
    casa = load_casa_parameters(_file(cfg, "files.casa_params", "CASA parameter set"))
    soil = get_soil(cfg.get("run.soil_model"))
    spec = soil.parameters
    soil_params = spec.load(_file(cfg, spec.config_key, f"{soil.name} parameter set")) if spec else None
    phen = PhenologyTable.read(_file(cfg, "files.phenology", "phenology table"))
    fixes = {name: True for name in layout.FIXES if name != "reserved" and cfg.get(f"fixes.{name}")}
    moisture, dry_spell, het = options_from_config(cfg)
    vg = read_vg_table(_file(cfg, "files.vg_table", "van Genuchten table")) if cfg.get("files.vg_table") else None
    het_table = (
        read_heterogeneity_table(_file(cfg, "files.heterogeneity_table", "heterogeneity table"))
        if cfg.get("files.heterogeneity_table")
        else None
    )
    exudation = exudation_options(cfg)
    exudate_cn = (
        read_cn_table(_file(cfg, "files.exudate_cn", "exudate C:N table"), domain.ncell)
        if cfg.get("files.exudate_cn")
        else None
    )
    return Model(
        domain,
        casa,
        phen,
        soil.name,
        cfg.icycle,
        soil_params,
        fixes,
        moisture,
        dry_spell,
        het,
        vg,
        het_table,
        exudation,
        exudate_cn,
    )


def initial_state(cfg: RunConfig, model: Model) -> np.ndarray:
    """Cold start, or restart from our NetCDF restart or the original's CSVs."""
    if cfg.get("run.start") == "cold":
        return model.cold_state()
    if cfg.get("files.restart_in"):
        path = _file(cfg, "files.restart_in", "restart file")
        state, info = read_restart(path)
        check_restart_matches(
            info,
            path,
            soil_model=model.soil_model,
            icycle=model.icycle,
            cellid=model.domain.cellid,
            casa_sha256=model.casa.sha256,
            soil_sha256=model.soil_params.sha256 if model.soil.parameters else "",
        )
        return model.restart_state({name: state[:, k] for k, name in enumerate(layout.STATE)})
    specs = pool_csvs(model.soil)
    if not cfg.get(specs[0].config_key):
        raise ConfigError(f"run.start = 'restart' needs files.restart_in or {specs[0].config_key}")
    values: dict[str, np.ndarray] = {}
    for spec in specs:
        values.update(
            read_pool_csv(
                spec, _file(cfg, spec.config_key, f"restart CSV ({spec.file_name})"), model.ncell, model.icycle
            )
        )
    return model.restart_state(values)


def prepare(cfg: RunConfig, *, scan_met: bool = False) -> Plan:
    """Validate the inputs of a run (structure, grid consistency, parameters, restart) before any compute.

    The met values (NaN, fill values, negative GPP) are scanned here only with ``scan_met``; a run
    scans them in parallel on the workers before the first year is computed.
    """
    model = build_model(cfg)
    present = np.unique(model.domain.pft)
    for name in ("sla", "laimax", "age_leaf"):
        vals = model.casa[name][present - 1]
        if not np.all(np.isfinite(vals)):
            raise InputError(
                f"parameter {name} is not set for IGBP types present in the grid: "
                f"{present[~np.isfinite(vals)].tolist()}",
                path=model.casa.source,
            )
    steps = schedule(cfg)
    met_files = sorted({s.met_path for s in steps})
    for path in met_files:
        met = MetFile.open(path)
        met.check_domain(model.domain, allow_missing_frozen=cfg.get("run.allow_missing_frozen"))
        if scan_met:
            check_values(met)
    state = initial_state(cfg, model)
    p = cfg.values["perturbation"]
    pert = Perturbation(p["dtair"], p["dtsoil"], p["npp_mult"], p["start_year_count"])
    return Plan(
        cfg,
        model,
        state,
        steps,
        pert,
        met_files,
        restart_write_reset=not cfg.get("fixes.no_restart_write_reset"),
        values_checked=scan_met,
    )
