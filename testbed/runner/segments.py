"""The dask segment scheduler: chunks of cells advanced through segments of years on the workers.

The unit of parallel work is a chunk of cells over a segment of years (one checkpoint interval). Each
task advances its chunk through the segment's years -- one kernel call per year -- and returns the end
state and the output years' annual sums; daily output is written by the task itself, per chunk, as an
internal part file. Segments of the same chunk chain on the workers (a task takes the previous task's
result), and a few segments are submitted ahead, so workers never wait for the driver. Cells are
independent, so results do not depend on chunk size or worker count.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import layout
from ..atomic import atomic_write
from ..config import FIRST_PASS_MAX_YEARS, RunConfig
from ..forcing import MetFile, check_values
from ..model import Model
from ..output import annual_columns, daily_columns
from ..run import Perturbation, YearStep, run_years
from .plan import Plan

#: segments submitted ahead of the one being collected, so workers never wait for the driver
LOOKAHEAD = 2
#: worker deaths a task may survive (dask's allowed-failures) before the run stops with KilledWorker
ALLOWED_WORKER_DEATHS = 1
#: dask settings of the local cluster. A chunk whose worker dies is run once more on another worker; a second
#: death stops the run. The workers' statistical profiler (a stack sample of every thread each 10 ms, for the
#: dashboard) and the 20 ms event-loop tick are off: with the workers in this process they took about 5 % of a
#: core from the kernel for the whole run (docs/performance.md).
LOCAL_CLUSTER_CONFIG = {
    "distributed.scheduler.allowed-failures": ALLOWED_WORKER_DEATHS,
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
}
#: largest automatic chunk (cells): bounds a worker's memory to a few hundred MB per task (about 0.3 GB for 4,500
#: cells). Each task reads its cells' forcing from the whole grid, so fewer, larger tasks read less in total.
MAX_AUTO_CHUNK = 4500
#: task time of an inactive (ice/water) cell relative to a vegetated one, met read included, for an even split of
#: the work: 0.3-0.45 measured for CASA-CN and MIMICS-CN (docs/performance.md, "Chunks of equal work")
INACTIVE_CELL_COST = 0.4


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
    check_steps: tuple[int, ...] = ()  #: positions in ``steps`` whose met values are checked as they are read


@dataclass
class ChunkResult:
    cells: slice
    state: np.ndarray
    annual: dict[int, np.ndarray]  #: step index -> (nvar, ncell_chunk) output values of output years (annual_columns)
    daily_parts: dict[int, str]  #: step index -> part file of this chunk
    max_c_residual: float
    max_n_residual: float
    seconds: float
    negative_pools: dict[int, list[int]] = field(default_factory=dict)  #: cell -> simulation years with resets


def check_chunk(met_files: Sequence[Path], cells: slice) -> None:
    """Scan the met values of one chunk of cells in every file (runs on a dask worker).

    The chunk is scanned in one block, a year at a time (the memory of a year of its run): a year's read
    takes whole days of the grid, so every further block of cells would read the whole file again.
    """
    for path in met_files:
        met = MetFile.open(path)
        check_values(met, cells, block=max(1, len(range(*cells.indices(met.ncell)))))


def worst(a: float, b: float) -> float:
    """The larger of two residual magnitudes; NaN if either is NaN (a NaN is never dropped from a report)."""
    return float("nan") if a != a or b != b else max(a, b)


def _max_abs(a: np.ndarray | None) -> float:
    """Largest |value| (NaN if any value is NaN: np.max propagates it)."""
    return 0.0 if a is None or a.size == 0 else float(np.max(np.abs(a)))


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
    for k, res in enumerate(
        run_years(
            model,
            state,
            job.steps,
            perturbation=job.perturbation,
            first_year_of_run=job.first_year_of_run,
            cells=job.cells,
            check_budgets=job.check_budgets,
            restart_write_reset=job.restart_write_reset,
            check_forcing=job.check_steps,
        )
    ):
        index = first_step_index + k
        cmax = worst(cmax, _max_abs(res.c_residual))
        nmax = worst(nmax, _max_abs(res.n_residual))
        for c in np.flatnonzero(res.annual[:, neg_col] > 0):
            negative.setdefault(int(job.cells.start + c), []).append(res.step.count)
        if res.step.write_output:
            annual[index] = annual_columns(res.annual, model.soil_model, model.icycle, model.output_options)
        if res.daily is not None:
            # an internal part file (this chunk's output columns); the driver merges the chunks per year
            # written atomically: a chunk recomputed after a lost worker rewrites the same file while the
            # driver may be reading the first copy (identical values)
            path = Path(job.parts_dir) / f"daily_{index:07d}_{job.cells.start:07d}.npy"
            with atomic_write(path) as tmp, open(tmp, "wb") as f:
                np.save(f, daily_columns(res.daily, model.soil_model, model.icycle, model.output_options))
            parts[index] = str(path)
    return ChunkResult(job.cells, state, annual, parts, cmax, nmax, time.perf_counter() - t0, negative)


def auto_chunk(ncell: int, workers: int) -> int:
    """Cells per task when parallel.chunk_size = 0: an even split over the workers, at most MAX_AUTO_CHUNK."""
    per_worker = -(-ncell // max(1, workers))
    if per_worker <= MAX_AUTO_CHUNK:
        return per_worker
    tasks_per_worker = -(-per_worker // MAX_AUTO_CHUNK)
    return -(-ncell // (workers * tasks_per_worker))


def chunks(ncell: int, size: int) -> list[slice]:
    return [slice(i, min(i + size, ncell)) for i in range(0, ncell, size)]


def cell_chunks(inactive: np.ndarray, chunk_size: int, workers: int) -> list[slice]:
    """The chunks of cells of a run: ``chunk_size`` cells each (``parallel.chunk_size``), or, with 0, as many as
    :func:`auto_chunk` makes, of contiguous cells and about equal work (an inactive cell counts
    :data:`INACTIVE_CELL_COST` of a vegetated one) within its cap of cells."""
    ncell = inactive.size
    size = chunk_size or auto_chunk(ncell, workers)
    ntask = -(-ncell // size)
    if chunk_size or ntask == 1:
        return chunks(ncell, size)
    cost = np.cumsum(np.where(inactive, INACTIVE_CELL_COST, 1.0))
    ends = [*np.searchsorted(cost, cost[-1] * np.arange(1, ntask) / ntask) + 1, ncell]
    out = [slice(int(a), int(b)) for a, b in zip([0, *ends[:-1]], ends, strict=True) if b > a]
    if max(s.stop - s.start for s in out) > MAX_AUTO_CHUNK:
        return chunks(ncell, size)
    return out


@contextlib.contextmanager
def _workers_ignore_sigint() -> Iterator[None]:
    """Worker processes started inside inherit SIGINT ignored: Ctrl-C reaches the whole process group, and
    only the driver handles it (one sentence), instead of every worker printing a traceback."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def dask_client(cfg: RunConfig, workers: int | None = None, scheduler: str | None = None) -> Iterator:
    """A dask.distributed client: attach to ``parallel.scheduler`` or start a local cluster.

    The local cluster's workers are threads of this process (the kernel releases the GIL; met reads are
    serialised by :func:`~testbed.forcing.netcdf_lock`), or processes with ``parallel.processes``.
    """
    from dask.distributed import Client, LocalCluster

    address = scheduler if scheduler is not None else cfg.get("parallel.scheduler")
    if address:
        client = Client(address)
        try:
            yield client
        finally:
            client.close()
        return
    import dask

    n = workers if workers is not None else cfg.get("parallel.workers")
    n = n or os.cpu_count() or 1
    processes = cfg.get("parallel.processes")
    # distributed's loggers stay silent from before the cluster starts until both it and the client are gone: the
    # cluster restores the level it found when it closes, and a SIGTERM otherwise printed a 'Batched Comm Closed'
    # traceback during the teardown (a fault ends in one sentence, not logs)
    quiet = logging.getLogger("distributed")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        with dask.config.set(LOCAL_CLUSTER_CONFIG):
            with _workers_ignore_sigint():
                cluster = LocalCluster(
                    n_workers=n,
                    threads_per_worker=1,
                    processes=processes,
                    dashboard_address=":0",
                    silence_logs=logging.CRITICAL,
                    # worker threads share this process's memory: no per-worker memory monitor (worker processes
                    # keep it: it restarts a worker that outgrows its share of the memory)
                    memory_limit="auto" if processes else 0,
                )
            with cluster, Client(cluster) as client:
                yield client
    finally:
        quiet.setLevel(level)


@dataclass
class Segment:
    """The results of one segment of years for every chunk, in cell order."""

    first: int  #: index of the segment's first year step
    steps: list[YearStep]
    results: list[ChunkResult]

    @property
    def end(self) -> int:
        return self.first + len(self.steps)

    def state(self, ncell: int) -> np.ndarray:
        out = np.zeros((ncell, layout.NSTATE), order="F")
        for r in self.results:
            out[r.cells] = r.state
        return out


def chunk_slices_for(client, plan: Plan) -> list[slice]:
    """The chunks of cells of a run on this cluster (:func:`cell_chunks` for its number of workers)."""
    nworkers = len(client.scheduler_info().get("workers", {})) or 1
    model = plan.model
    return cell_chunks(model.domain.inactive(model.casa), plan.config.get("parallel.chunk_size"), nworkers)


def identity(obj: object) -> object:
    """The object itself (a task that puts a chunk's model on the cluster; recomputed if its worker is lost)."""
    return obj


def check_met_values(client, plan: Plan, chunk_slices: list[slice]) -> None:
    """Scan every met value of the run in parallel on the workers; raises the first InputError."""
    checks = [client.submit(check_chunk, plan.met_files, cs, pure=False) for cs in chunk_slices]
    client.gather(checks)


def first_reads(steps: list[YearStep]) -> tuple[int, ...]:
    """Positions of the steps that read a met (file, year) for the first time."""
    seen, out = set(), []
    for k, s in enumerate(steps):
        if (s.met_path, s.year_index) not in seen:
            seen.add((s.met_path, s.year_index))
            out.append(k)
    return tuple(out)


def first_pass_end(plan: Plan, start_index: int, interval: int) -> int | None:
    """Where the first segment ends when its tasks are to check every met value as they read it.

    The step after which every met (file, year) the run reads has been read once (at least the checkpoint
    interval), when that is at most FIRST_PASS_MAX_YEARS years; else None (the values are then scanned before
    any compute, and every value is read twice). Nothing is written before the first segment ends, so a bad
    value still stops the run before any output or checkpoint.
    """
    needed = {(s.met_path, s.year_index) for s in plan.steps}
    seen: set = set()
    for k in range(start_index, len(plan.steps)):
        seen.add((plan.steps[k].met_path, plan.steps[k].year_index))
        if len(seen) == len(needed):
            end = max(k + 1, min(start_index + interval, len(plan.steps)))
            return end if end - start_index <= max(interval, FIRST_PASS_MAX_YEARS) else None
    return None


def run_segments(
    client,
    plan: Plan,
    state: np.ndarray,
    start_index: int,
    interval: int,
    parts_dir: Path,
    chunk_slices: list[slice],
    *,
    first_end: int | None = None,
    on_chunk_done: Callable[[ChunkResult, int], None] | None = None,
) -> Iterator[Segment]:
    """Submit every chunk's segments (chained per chunk, LOOKAHEAD ahead) and yield each finished segment.

    Segments are ``interval`` years long. With ``first_end`` (:func:`first_pass_end`) the first segment ends
    there and its tasks check every met value as they first read it, so no separate scan is needed; a bad
    value raises its InputError from the first segment, before the driver writes anything.
    """
    from dask.distributed import as_completed

    model, cfg = plan.model, plan.config
    # every chunk's model is sent to the cluster once, as a task (not scattered data, which a lost worker
    # takes with it: a task is recomputed); segments chain per chunk on the workers
    models = {cs.start: client.submit(identity, model.subset(cs), pure=False) for cs in chunk_slices}
    previous: dict[int, object] = {cs.start: np.asfortranarray(state[cs]) for cs in chunk_slices}
    second = start_index + interval if first_end is None else first_end
    seg_starts = [start_index, *range(second, len(plan.steps), interval)] if start_index < len(plan.steps) else []
    seg_ends = [*seg_starts[1:], len(plan.steps)]
    pending: dict[int, list] = {}

    def submit(k: int) -> None:
        first = seg_starts[k]
        seg = plan.steps[first : seg_ends[k]]
        futures = []
        for cs in chunk_slices:
            job = ChunkJob(
                cs,
                seg,
                plan.perturbation,
                first_year_of_run=(first == 0),
                check_budgets=cfg.get("run.check_budgets"),
                restart_write_reset=plan.restart_write_reset,
                parts_dir=str(parts_dir),
                check_steps=first_reads(seg) if first_end is not None and k == 0 else (),
            )
            fut = client.submit(run_chunk, job, models[cs.start], previous[cs.start], first, pure=False)
            previous[cs.start] = fut
            futures.append(fut)
        pending[k] = futures

    for k in range(min(LOOKAHEAD + 1, len(seg_starts))):
        submit(k)
    for k, first in enumerate(seg_starts):
        seg = plan.steps[first : seg_ends[k]]
        results: list[ChunkResult] = []
        for fut in as_completed(pending.pop(k)):
            res = fut.result()
            results.append(res)
            if on_chunk_done:
                on_chunk_done(res, len(seg))
        if k + LOOKAHEAD + 1 < len(seg_starts):
            submit(k + LOOKAHEAD + 1)
        results.sort(key=lambda r: r.cells.start)
        yield Segment(first, seg, results)
