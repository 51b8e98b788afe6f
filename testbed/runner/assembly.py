"""Output assembly: the annual and daily CF files, the restart and the original's CSV restarts.

Tasks return annual sums and write daily part files; the driver merges them per segment (annual parts,
one daily file per output year) and, at the end, into ``annual.nc`` and ``restart.nc``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .. import layout
from ..atomic import atomic_write
from ..domain import Domain
from ..legacy import pool_csvs, write_pool_csv
from ..model import Model
from ..output import CellInfo, annual_data, concat_time, daily_data, read_cf, variables_for, write_cf
from ..state import RestartInfo, write_restart
from .folder import OutputFolder, RunLog
from .plan import Plan
from .segments import ChunkResult, Segment


def cell_info(domain: Domain, model: Model | None = None) -> CellInfo:
    """The static per-cell fields of the outputs (with ``model``, also its optional ones)."""
    static = model.static_fields() if model is not None else {}
    return CellInfo(domain.lat, domain.lon, domain.area, domain.pft, domain.cellid, static)


def input_files(plan: Plan) -> dict[str, Path]:
    """The run's input files other than met, by the namelist key that names them."""
    cfg = plan.config
    keys = [
        "files.gridinfo",
        "files.soil",
        "files.phenology",
        "files.casa_params",
        "files.restart_in",
        *(spec.config_key for spec in pool_csvs(plan.model.soil)),
    ]
    if plan.model.soil.parameters:
        keys.append(plan.model.soil.parameters.config_key)
    out = {}
    for key in keys:
        value = cfg.get(key)
        if value and (key != "files.restart_in" or cfg.get("run.start") == "restart"):
            path = cfg.resolve(value)
            if path.is_file():
                out[key] = path
    return out


def output_attrs(plan: Plan, command: str = "", fingerprints: dict[str, str] | None = None) -> dict:
    """Global attributes that tie every output to its command, parameter sets, configuration and inputs."""
    attrs = {
        "parameter_set_sha256": " ".join(plan.model.parameter_hashes.values()),
        "run_config_sha256": plan.config.sha256(),
    }
    if command:
        attrs["command_line"] = command
    if fingerprints:
        attrs["input_fingerprints"] = json.dumps(fingerprints, sort_keys=True)
    return attrs


def expected_output_bytes(plan: Plan) -> int:
    """An upper bound of what the run writes (uncompressed float32 outputs, daily parts, restarts)."""
    model = plan.model
    nvar = len(variables_for(model.soil_model, model.icycle, model.output_options))
    years_out = sum(1 for s in plan.steps if s.write_output)
    years_daily = sum(1 for s in plan.steps if s.store_daily)
    per_year = model.ncell * nvar * 4
    restarts = 3 * model.ncell * layout.NSTATE * 8
    return 2 * years_out * per_year + 2 * 365 * years_daily * per_year + restarts


def restart_info(model: Model, years_done: int) -> RestartInfo:
    return RestartInfo(
        model.soil_model,
        model.icycle,
        years_done,
        model.casa.sha256,
        model.soil_params.sha256 if model.soil.parameters else "",
        model.domain.cellid,
    )


def _merge_daily(parts: Sequence[str], target: Path, label: int, cells: CellInfo, model: Model, attrs: dict) -> None:
    values = np.concatenate([np.load(p) for p in parts], axis=0)
    write_cf(
        daily_data(values, label, cells, model.soil_model, model.icycle, attrs, model.output_options),
        target,
        overwrite=True,
    )
    for p in parts:
        Path(p).unlink(missing_ok=True)


def write_segment(folder: OutputFolder, plan: Plan, seg: Segment, cells: CellInfo, attrs: dict) -> None:
    """The segment's annual records (an internal part file) and its daily files (one per output year)."""
    model = plan.model
    out_steps = [i for i in range(seg.first, seg.end) if plan.steps[i].write_output]
    if out_steps:
        columns = [np.concatenate([r.annual[i] for r in seg.results], axis=1) for i in out_steps]
        data = annual_data(
            columns,
            [plan.steps[i].label for i in out_steps],
            cells,
            model.soil_model,
            model.icycle,
            attrs,
            model.output_options,
        )
        write_cf(data, folder.parts / f"annual_{seg.first:07d}.nc", overwrite=True)
    for i in range(seg.first, seg.end):
        parts = [r.daily_parts[i] for r in seg.results if i in r.daily_parts]
        if parts:
            _merge_daily(parts, folder.daily(plan.steps[i].label), plan.steps[i].label, cells, model, attrs)


def merge_annual(parts_dir: Path, target: Path) -> None:
    """Concatenate the annual part files into ``annual.nc`` (a single part is copied as it is)."""
    files = sorted(parts_dir.glob("annual_*.nc"))
    if not files:
        return
    if len(files) == 1:  # written by write_cf like the merged file: no need to read and write it again
        with atomic_write(target) as tmp:
            shutil.copyfile(files[0], tmp)
        return
    write_cf(concat_time([read_cf(f) for f in files]), target, overwrite=True)


def finish(folder: OutputFolder, plan: Plan, state: np.ndarray, attrs: dict | None = None) -> list[str]:
    """The final outputs: annual.nc, restart.nc and, on request, the original's CSV restarts; returns names."""
    model = plan.model
    merge_annual(folder.parts, folder.annual)
    write_restart(
        folder.restart,
        state,
        restart_info(model, len(plan.steps)),
        extra={k: v for k, v in (attrs or {}).items() if k in ("command_line", "input_fingerprints")},
    )
    written = [folder.annual.name, folder.restart.name]
    if plan.config.get("files.write_legacy_restart"):
        for spec in pool_csvs(model.soil):
            write_pool_csv(spec, folder.root / spec.file_name, state, model, plan.steps[-1].count)
            written.append(spec.file_name)
    return written


def log_negative_pools(runlog: RunLog, domain: Domain, results: Sequence[ChunkResult]) -> None:
    """One line per cell in which pools went negative and were reset to 0 (casa.md Q13)."""
    for res in results:
        for cell, years in sorted(res.negative_pools.items()):
            span = f"year {years[0]}" if len(years) == 1 else f"{len(years)} years from {years[0]} to {years[-1]}"
            runlog.write(
                f"negative pools reset to 0 in cell {cell + 1} (cellid {domain.cellid[cell]}, "
                f"lat {domain.lat[cell]:.2f}, lon {domain.lon[cell]:.2f}, IGBP {domain.pft[cell]}): {span}; "
                "see negPoolResets in annual.nc"
            )
