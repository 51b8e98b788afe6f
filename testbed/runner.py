"""Runs from a namelist: validation, chunking across cells with dask, outputs, checkpoints and resume.

The unit of parallel work is a chunk of cells over a segment of years (one
checkpoint interval). Each dask task advances its chunk through the segment's
years -- one kernel call per year -- and returns the end state and the output
years' annual sums; daily output is written by the task itself, per chunk, and
merged per year by the driver. After each segment the driver writes a checkpoint,
so a killed run resumes from it and ends bit-identical to an uninterrupted one.
Cells are independent, so results do not depend on chunk size or worker count.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from . import layout
from .config import RunConfig
from .domain import Domain, PhenologyTable
from .errors import ConfigError, InputError
from .forcing import MetFile, check_values
from .legacy import write_casa_restart_csv, write_mimics_restart_csv
from .model import Model
from .output import CellInfo, annual_dataset, daily_columns, daily_dataset, write_dataset
from .params import load_casa_parameters, load_mimics_parameters
from .run import Perturbation, YearStep, cycle_schedule, run_years, transient_schedule
from .state import (
    RestartInfo,
    check_restart_matches,
    read_casa_restart_csv,
    read_mimics_restart_csv,
    read_restart,
    write_restart,
)

log = logging.getLogger("testbed")

CHECKPOINT = "checkpoint.nc"
RESTART = "restart.nc"
ANNUAL = "annual.nc"
PARTS = ".parts"


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
        return transient_schedule(pattern, r["first_year"], r["last_year"], repeats=r["cycles"],
                                  output_interval=interval, daily=daily, label_by_count=r["mode"] == "spinup")
    path = _file(cfg, "files.met", "met file")
    return cycle_schedule(path, r["cycles"], output_interval=interval, daily=daily)


def build_model(cfg: RunConfig) -> Model:
    """Read and cross-check the domain, parameter sets and phenology of a run."""
    domain = Domain.from_files(_file(cfg, "files.gridinfo", "grid-info table"),
                               _file(cfg, "files.soil", "soil table"))
    casa = load_casa_parameters(_file(cfg, "files.casa_params", "CASA parameter set"))
    soil_model = cfg.get("run.soil_model")
    mimics = load_mimics_parameters(_file(cfg, "files.mimics_params", "MIMICS parameter set")) \
        if soil_model == "mimics" else None
    phen = PhenologyTable.read(_file(cfg, "files.phenology", "phenology table"))
    fixes = {name: True for name in layout.FIXES if name != "reserved" and cfg.get(f"fixes.{name}")}
    return Model(domain, casa, phen, soil_model, cfg.icycle, mimics, fixes)


def initial_state(cfg: RunConfig, model: Model) -> np.ndarray:
    """Cold start, or restart from our NetCDF restart or the original's CSVs."""
    if cfg.get("run.start") == "cold":
        return model.cold_state()
    nc = cfg.get("files.restart_in")
    if nc:
        path = _file(cfg, "files.restart_in", "restart file")
        state, info = read_restart(path)
        check_restart_matches(info, path, soil_model=model.soil_model, icycle=model.icycle,
                              cellid=model.domain.cellid, casa_sha256=model.casa.sha256,
                              mimics_sha256=model.mimics.sha256 if model.mimics else "")
        values = {name: state[:, k] for k, name in enumerate(layout.STATE)}
        return model.restart_state(values)
    casa_csv = cfg.get("files.legacy_restart_casa")
    if not casa_csv:
        raise ConfigError("run.start = 'restart' needs files.restart_in or files.legacy_restart_casa")
    values = read_casa_restart_csv(_file(cfg, "files.legacy_restart_casa", "CASA restart CSV"), model.ncell,
                                   model.icycle)
    if model.soil_model == "mimics":
        values.update(read_mimics_restart_csv(_file(cfg, "files.legacy_restart_mimics", "MIMICS restart CSV"),
                                              model.ncell, model.icycle))
    return model.restart_state(values)


def prepare(cfg: RunConfig, *, scan_met: bool = False) -> Plan:
    """Validate the inputs of a run (structure, grid consistency, parameters, restart) before any compute.

    The met values (NaN, fill values, negative GPP) are scanned here only with ``scan_met``; a run
    scans them in parallel on the workers (:func:`execute`) before the first year is computed.
    """
    model = build_model(cfg)
    present = np.unique(model.domain.pft)
    for name in ("sla", "laimax", "age_leaf"):
        vals = model.casa[name][present - 1]
        if not np.all(np.isfinite(vals)):
            raise InputError(f"parameter {name} is not set for IGBP types present in the grid: "
                             f"{present[~np.isfinite(vals)].tolist()}", path=model.casa.source)
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
    return Plan(cfg, model, state, steps, pert, met_files,
                restart_write_reset=not cfg.get("fixes.no_restart_write_reset"), values_checked=scan_met)


# --------------------------------------------------------------------------------- chunk task

@dataclass
class ChunkJob:
    """One dask task: a chunk of cells over a segment of years (the model and state come separately)."""

    cells: slice
    steps: list[YearStep]
    perturbation: Perturbation
    first_year_of_run: bool
    check_budgets: bool
    restart_write_reset: bool
    parts_dir: str
    cell_info: CellInfo
    attrs: dict


@dataclass
class ChunkResult:
    cells: slice
    state: np.ndarray
    annual: dict[int, np.ndarray]           #: step index -> (ncell_chunk, NDIAG) sums for output years
    daily_parts: dict[int, str]              #: step index -> part file of this chunk
    max_c_residual: float
    max_n_residual: float
    seconds: float
    negative_pools: dict[int, list[int]] = field(default_factory=dict)  #: cell -> simulation years with resets


def check_chunk(met_files: Sequence[Path], cells: slice) -> None:
    """Scan the met values of one chunk of cells in every file (runs on a dask worker)."""
    for path in met_files:
        check_values(MetFile.open(path), cells)


def run_chunk(job: ChunkJob, model: Model, start: np.ndarray | ChunkResult, first_step_index: int) -> ChunkResult:
    """Advance one chunk of cells through a segment (runs on a dask worker).

    ``start`` is the chunk's state, or the result of the same chunk's previous segment, so that
    consecutive segments chain on the workers without waiting for the driver.
    """
    t0 = time.perf_counter()
    state = np.asfortranarray((start.state if isinstance(start, ChunkResult) else start).copy())
    annual: dict[int, np.ndarray] = {}
    parts: dict[int, str] = {}
    cmax = nmax = 0.0
    negative: dict[int, list[int]] = {}
    neg_col = layout.index("diag", "neg_pools")
    for k, res in enumerate(run_years(model, state, job.steps, perturbation=job.perturbation,
                                      first_year_of_run=job.first_year_of_run, cells=job.cells,
                                      check_budgets=job.check_budgets,
                                      restart_write_reset=job.restart_write_reset, check_forcing=False)):
        index = first_step_index + k
        cmax = max(cmax, float(np.max(np.abs(res.c_residual), initial=0.0)))
        if res.n_residual is not None:
            nmax = max(nmax, float(np.max(np.abs(res.n_residual), initial=0.0)))
        for c in np.flatnonzero(res.annual[:, neg_col] > 0):
            negative.setdefault(int(job.cells.start + c), []).append(res.step.count)
        if res.step.write_output:
            annual[index] = res.annual
        if res.daily is not None:
            # an internal part file (this chunk's output columns); the driver merges the chunks per year
            path = Path(job.parts_dir) / f"daily_{index:07d}_{job.cells.start:07d}.npy"
            np.save(path, daily_columns(res.daily, model.soil_model, model.icycle))
            parts[index] = str(path)
    return ChunkResult(job.cells, state, annual, parts, cmax, nmax, time.perf_counter() - t0, negative)


# ------------------------------------------------------------------------------------ driver

#: segments submitted ahead of the one being collected, so workers never wait for the driver
LOOKAHEAD = 2
#: largest automatic chunk (cells): bounds a worker's memory to a few hundred MB per task
MAX_AUTO_CHUNK = 2000


def _auto_chunk(ncell: int, workers: int) -> int:
    """Cells per task when parallel.chunk_size = 0: an even split over the workers, at most MAX_AUTO_CHUNK."""
    per_worker = -(-ncell // max(1, workers))
    if per_worker <= MAX_AUTO_CHUNK:
        return per_worker
    tasks_per_worker = -(-per_worker // MAX_AUTO_CHUNK)
    return -(-ncell // (workers * tasks_per_worker))


def chunks(ncell: int, size: int) -> list[slice]:
    return [slice(i, min(i + size, ncell)) for i in range(0, ncell, size)]


@contextlib.contextmanager
def dask_client(cfg: RunConfig, workers: int | None = None, scheduler: str | None = None) -> Iterator:
    """A dask.distributed client: attach to ``parallel.scheduler`` or start a local cluster of processes."""
    from dask.distributed import Client, LocalCluster

    address = scheduler if scheduler is not None else cfg.get("parallel.scheduler")
    if address:
        client = Client(address)
        try:
            yield client
        finally:
            client.close()
        return
    n = workers if workers is not None else cfg.get("parallel.workers")
    n = n or os.cpu_count() or 1
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        yield client


def _cell_info(domain: Domain, cells: slice = slice(None)) -> CellInfo:
    d = domain.subset(cells)
    return CellInfo(d.lat, d.lon, d.area, d.pft, d.cellid)


def _attrs(plan: Plan) -> dict:
    m = plan.model
    return {"parameter_set_sha256": m.casa.sha256 + (f" {m.mimics.sha256}" if m.mimics else ""),
            "run_config_sha256": plan.config.sha256()}


def _merge_daily(parts: Sequence[str], target: Path, label: int, cells: CellInfo, model: Model, attrs: dict) -> None:
    values = np.concatenate([np.load(p) for p in parts], axis=0)
    write_dataset(daily_dataset(values, label, cells, model.soil_model, model.icycle, attrs), target, overwrite=True)
    for p in parts:
        Path(p).unlink(missing_ok=True)


def _merge_annual(parts_dir: Path, target: Path) -> None:
    files = sorted(parts_dir.glob("annual_*.nc"))
    if not files:
        return
    coder = xr.coders.CFDatetimeCoder(use_cftime=True)
    datasets = [xr.open_dataset(f, decode_times=coder) for f in files]
    try:
        merged = xr.concat(datasets, dim="time", data_vars="minimal", coords="minimal", compat="override")
        write_dataset(merged.load(), target, overwrite=True)
    finally:
        for d in datasets:
            d.close()


class RunLog:
    """run.log in the output folder: what the run did, appended as it goes."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, text: str) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        with self.path.open("a") as f:
            for line in text.splitlines():
                f.write(f"{stamp}  {line}\n")


def execute(plan: Plan, *, resume: bool = False, overwrite: bool = False, workers: int | None = None,
            scheduler: str | None = None, progress: bool = True) -> Path:
    """Run a validated plan; returns the output folder."""
    cfg, model = plan.config, plan.model
    out = plan.output_dir
    out.mkdir(parents=True, exist_ok=True)
    parts_dir = out / PARTS
    ckpt_path = out / CHECKPOINT
    existing = [p for p in (out / ANNUAL, out / RESTART) if p.exists()]
    start_index = 0
    state = plan.state
    if resume:
        if not ckpt_path.exists():
            raise InputError("no checkpoint to resume from; run without --resume", path=ckpt_path)
        state, info = read_restart(ckpt_path)
        if info.extra.get("run_config_sha256") != cfg.sha256():
            raise InputError("was written by a run with a different configuration; it cannot be resumed",
                             path=ckpt_path)
        start_index = int(info.extra["next_step"])
        for f in parts_dir.glob("annual_*.nc"):
            if int(f.stem.split("_")[1]) >= start_index:
                f.unlink()
    else:
        if existing and not overwrite:
            raise InputError(f"output folder already holds {', '.join(p.name for p in existing)}; "
                             "pass --overwrite to replace them, or --resume to continue", path=out)
        if parts_dir.exists():
            for f in parts_dir.iterdir():
                f.unlink()
        ckpt_path.unlink(missing_ok=True)
    parts_dir.mkdir(exist_ok=True)
    runlog = RunLog(out / "run.log")
    if not resume:
        (out / "run.log").unlink(missing_ok=True)
    cfg.write(out / "namelist.nml")
    runlog.write(f"testbed run: {model.soil_model.upper()}-{'CN' if model.icycle == 2 else 'C'}, "
                 f"{model.ncell} cells, {len(plan.steps)} simulated years"
                 + (f", resuming at year {start_index + 1}" if resume else ""))
    for path in plan.met_files[:3]:
        runlog.write(f"met: {path}")
    attrs = _attrs(plan)
    info_all = _cell_info(model.domain)
    interval = cfg.get("run.checkpoint_interval")
    total_cell_years = model.ncell * (len(plan.steps) - start_index)
    from tqdm import tqdm

    bar = tqdm(total=total_cell_years * 365, unit="cell-day", unit_scale=True, disable=not progress,
               desc=f"{model.soil_model}-{'cn' if model.icycle == 2 else 'c'}", dynamic_ncols=True)
    t_start = time.perf_counter()
    with dask_client(cfg, workers, scheduler) as client:
        nworkers = len(client.scheduler_info().get("workers", {})) or 1
        chunk_slices = chunks(model.ncell, cfg.get("parallel.chunk_size") or _auto_chunk(model.ncell, nworkers))
        if not plan.values_checked:
            checks = [client.submit(check_chunk, plan.met_files, cs, pure=False) for cs in chunk_slices]
            client.gather(checks)  # raises the first InputError, before any year is computed
            runlog.write(f"met values checked: {len(plan.met_files)} file(s), {model.ncell} cells")
        from dask.distributed import as_completed

        # every chunk's model is sent to the cluster once; segments chain per chunk on the workers
        models = {cs.start: client.scatter(model.subset(cs), hash=False) for cs in chunk_slices}
        previous: dict[int, object] = {cs.start: np.asfortranarray(state[cs]) for cs in chunk_slices}
        seg_starts = list(range(start_index, len(plan.steps), interval))
        pending: dict[int, list] = {}

        def submit(k: int) -> None:
            first = seg_starts[k]
            seg = plan.steps[first:first + interval]
            futures = []
            for cs in chunk_slices:
                job = ChunkJob(cs, seg, plan.perturbation, first_year_of_run=(first == 0),
                               check_budgets=cfg.get("run.check_budgets"),
                               restart_write_reset=plan.restart_write_reset, parts_dir=str(parts_dir),
                               cell_info=_cell_info(model.domain, cs), attrs=attrs)
                fut = client.submit(run_chunk, job, models[cs.start], previous[cs.start], first, pure=False)
                previous[cs.start] = fut
                futures.append(fut)
            pending[k] = futures

        for k in range(min(LOOKAHEAD + 1, len(seg_starts))):
            submit(k)
        for k, index in enumerate(seg_starts):
            seg = plan.steps[index:index + interval]
            results: list[ChunkResult] = []
            for fut in as_completed(pending.pop(k)):
                res = fut.result()
                results.append(res)
                bar.update((res.cells.stop - res.cells.start) * len(seg) * 365)
            if k + LOOKAHEAD + 1 < len(seg_starts):
                submit(k + LOOKAHEAD + 1)
            results.sort(key=lambda r: r.cells.start)
            new_state = np.zeros_like(state, order="F")
            for res in results:
                new_state[res.cells] = res.state
            state = new_state
            # outputs of this segment
            out_steps = [i for i in range(index, index + len(seg)) if plan.steps[i].write_output]
            if out_steps:
                annuals = [np.concatenate([r.annual[i] for r in results]) for i in out_steps]
                ds = annual_dataset(annuals, [plan.steps[i].label for i in out_steps], info_all, model.soil_model,
                                    model.icycle, attrs)
                write_dataset(ds, parts_dir / f"annual_{index:07d}.nc", overwrite=True)
            for i in range(index, index + len(seg)):
                parts = [r.daily_parts[i] for r in results if i in r.daily_parts]
                if parts:
                    _merge_daily(parts, out / f"daily_{plan.steps[i].label:04d}.nc", plan.steps[i].label, info_all,
                                 model, attrs)
            done = index + len(seg)
            _log_negative_pools(runlog, model.domain, results)
            cmax = max(r.max_c_residual for r in results)
            nmax = max(r.max_n_residual for r in results)
            elapsed = time.perf_counter() - t_start
            rate = model.ncell * (done - start_index) * 365 / max(elapsed, 1e-9)
            runlog.write(f"years {plan.steps[index].count}-{plan.steps[done - 1].count} done: "
                         f"max |C budget residual| {cmax:.2e}, max |N budget residual| {nmax:.2e} g m-2 yr-1; "
                         f"{rate:,.0f} cell-days/s; slowest chunk {max(r.seconds for r in results):.1f} s")
            bar.set_postfix_str(f"year {plan.steps[done - 1].count}/{plan.steps[-1].count}")
            write_restart(ckpt_path, state, _restart_info(plan, done),
                          extra={"next_step": np.int32(done), "run_config_sha256": cfg.sha256()})
    bar.close()
    _merge_annual(parts_dir, out / ANNUAL)
    for f in parts_dir.glob("*"):
        f.unlink()
    parts_dir.rmdir()
    write_restart(out / RESTART, state, _restart_info(plan, len(plan.steps)))
    if cfg.get("files.write_legacy_restart"):
        write_casa_restart_csv(out / "cnppool_end.csv", state, model, plan.steps[-1].count)
        if model.soil_model == "mimics":
            write_mimics_restart_csv(out / "mimicspool_end.csv", state, model, plan.steps[-1].count)
    ckpt_path.unlink(missing_ok=True)
    elapsed = time.perf_counter() - t_start
    runlog.write(f"finished in {elapsed:.1f} s ({model.ncell * (len(plan.steps) - start_index) * 365 / elapsed:,.0f} "
                 "cell-days/s); outputs: annual.nc, restart.nc" + (", daily_*.nc" if cfg.get("run.daily_output")
                                                                    else ""))
    return out


def _log_negative_pools(runlog: RunLog, domain: Domain, results: Sequence[ChunkResult]) -> None:
    """One line per cell in which pools went negative and were reset to 0 (casa.md Q13)."""
    for res in results:
        for cell, years in sorted(res.negative_pools.items()):
            span = f"year {years[0]}" if len(years) == 1 else f"{len(years)} years from {years[0]} to {years[-1]}"
            runlog.write(f"negative pools reset to 0 in cell {cell + 1} (cellid {domain.cellid[cell]}, "
                         f"lat {domain.lat[cell]:.2f}, lon {domain.lon[cell]:.2f}, IGBP {domain.pft[cell]}): {span}; "
                         "see negPoolResets in annual.nc")


def _restart_info(plan: Plan, years_done: int) -> RestartInfo:
    m = plan.model
    return RestartInfo(m.soil_model, m.icycle, years_done, m.casa.sha256, m.mimics.sha256 if m.mimics else "",
                       m.domain.cellid)
