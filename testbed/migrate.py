"""``testbed import-legacy``: an original run-control file -> a testbed namelist and parameter sets."""

from __future__ import annotations

import os
from pathlib import Path

from .config import RunConfig, namelist_text
from .errors import InputError
from .legacy import LegacyRun, read_co2delta, read_lst, transient_pattern
from .params import read_casa_pft_csv, write_casa_namelist
from .soil.base import CYCLE_NAMES


def _rel(path: Path, base: Path) -> str:
    try:
        return os.path.relpath(path, base)
    except ValueError:  # another drive
        return str(path)


def config_from_legacy(run: LegacyRun, namelist_dir: Path, casa_params: Path, soil_params: Path | None) -> RunConfig:
    """The namelist equivalent of an original ``.lst`` (casa.md 2.1, 3.2)."""
    cfg = RunConfig.defaults()
    r, f = cfg.values["run"], cfg.values["files"]
    r["soil_model"] = run.soil_model
    r["cycle"] = CYCLE_NAMES[run.icycle]
    r["mode"] = "transient" if run.initcasa == 2 else "spinup"
    r["start"] = "cold" if run.initcasa == 0 else "restart"
    r["cycles"] = 1 if run.initcasa == 2 else run.mloop
    r["output_interval"] = run.nc_interval
    r["daily_output"] = run.mdaily == 1
    if run.initcasa >= 2:
        r["first_year"], r["last_year"] = run.tyear1, run.tyear2
        f["met"] = _rel(Path(transient_pattern(run.met)), namelist_dir)
    else:
        f["met"] = _rel(run.met, namelist_dir)
    f["gridinfo"] = _rel(run.gridinfo, namelist_dir)
    f["soil"] = _rel(run.soil, namelist_dir)
    f["phenology"] = _rel(run.phenology, namelist_dir)
    f["casa_params"] = _rel(casa_params, namelist_dir)
    soil = run.soil_description
    if soil.parameters and soil_params is not None:
        cfg.set(soil.parameters.config_key, _rel(soil_params, namelist_dir))
    if run.initcasa >= 1:
        f["legacy_restart_casa"] = _rel(run.casa_restart_in, namelist_dir)
        if soil.legacy_csv:
            cfg.set(soil.legacy_csv.config_key, _rel(run.soil_restart_in, namelist_dir))
    f["output_dir"] = "output"
    f["write_legacy_restart"] = True
    pert = read_co2delta(run.co2delta)
    p = cfg.values["perturbation"]
    p["dtair"], p["dtsoil"], p["npp_mult"], p["start_year_count"] = (
        pert.dtair,
        pert.dtsoil,
        pert.npp_mult,
        pert.start_year_count,
    )
    cfg.check()
    return cfg


def import_legacy(lst: str | Path, output: str | Path | None = None, *, overwrite: bool = False) -> Path:
    """Write ``run.nml`` (and ``params_casa.nml``, ``params_mimics.nml``) for an original ``.lst``.

    Returns the namelist path. Files that exist are not replaced unless ``overwrite``.
    """
    run = read_lst(lst)
    target = Path(output) if output else Path(lst).with_name("run.nml")
    folder = target.parent
    folder.mkdir(parents=True, exist_ok=True)
    casa_out = folder / "params_casa.nml"
    spec = run.soil_description.parameters
    soil_out = folder / f"params_{run.soil_model}.nml" if spec else None
    for path in [target, casa_out] + ([soil_out] if soil_out else []):
        if path.exists() and not overwrite:
            raise InputError("exists; pass --overwrite to replace it", path=path)
    write_casa_namelist(read_casa_pft_csv(run.casa_params), casa_out, title=f"imported from {run.casa_params.name}")
    if spec:
        spec.write(spec.load(run.soil_params), soil_out, f"imported from {run.soil_params.name}")
    cfg = config_from_legacy(run, folder.resolve(), casa_out.resolve(), soil_out.resolve() if soil_out else None)
    header = (
        f"! testbed run namelist imported from {Path(lst).resolve()}\n"
        "! The original's point CSV output (line 27) has no equivalent: use daily_output and select a cell.\n"
    )
    target.write_text(header + namelist_text(cfg))
    return target
