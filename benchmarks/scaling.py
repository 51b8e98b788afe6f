"""Measurements behind docs/performance_scaling.md: fixed costs of a run, dask scheduler overhead, per-core rates.

    python benchmarks/scaling.py [--quick] [--out benchmarks/work/scaling.json]

1. Fixed costs of a 4,263-cell MIMICS-CN run (5 years) with 1 and 2 workers: a `testbed run` traced step by step
   by ``benchmarks/trace_run.py`` (interpreter start and imports in fresh processes; validation, cluster start,
   the chunk tasks' met reads, value checks and kernel calls, the outputs, checkpoint and final files).
2. Scheduler overhead with more workers than cores (LocalCluster of 1 to 16 single-threaded worker
   processes): trivial tasks, and sleeping tasks that carry the data of a real 2,000-cell chunk task
   (the scattered model, the state in, the state and 5 years of annual sums out).
3. Per-core rates and sizes for the extrapolation: MIMICS-CN kernel cell-days/s, met read time and
   memory per cell-year, idle worker RSS.
4. The extrapolation to 0.5 and 0.25 degree grids, for one year, the published 20,000-year brute-force spin-up and
   the accelerated `testbed spinup` (its measured cost per cell-year on the global domain, ``SPINUP_MEASURED``).
Prints a JSON document (also written to --out).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run_benchmarks as rb  # noqa: E402

CHUNK = 2000  # cells per task in a large run (runner.segments.MAX_AUTO_CHUNK)


def _t(f, *a, **k):
    t0 = time.perf_counter()
    r = f(*a, **k)
    return r, time.perf_counter() - t0


# ------------------------------------------------------------------------------ 1. fixed costs

IMPORTS = """
import json, time
t = {}
t0 = time.perf_counter(); import numpy; t['numpy'] = time.perf_counter() - t0
t0 = time.perf_counter(); import testbed.cli; t['testbed.cli'] = time.perf_counter() - t0
t0 = time.perf_counter(); import testbed.runner; t['testbed.runner (netCDF4)'] = time.perf_counter() - t0
t0 = time.perf_counter(); import dask.distributed; t['dask.distributed'] = time.perf_counter() - t0
print(json.dumps(t))
"""


def import_costs(repeats: int = 3) -> dict:
    """Interpreter start and the imports of `testbed run` in fresh processes (median of ``repeats``)."""
    starts, parts = [], []
    for _ in range(repeats):
        _, s = _t(subprocess.run, [sys.executable, "-c", "pass"], check=True)
        starts.append(s)
        out = subprocess.run([sys.executable, "-c", IMPORTS], capture_output=True, text=True, check=True)
        parts.append(json.loads(out.stdout))
    res = {"python start": statistics.median(starts)}
    for k in parts[0]:
        res[k] = statistics.median(p[k] for p in parts)
    return res


def fixed_costs(domain: Path, nyears: int, workers: int) -> dict:
    """A `testbed run` of the domain traced by trace_run.py (a fresh process): its driver steps and chunk tasks (s)."""
    out = rb.WORK / f"fixed_w{workers}"
    nml = rb.namelist(domain, nyears, "mimics", out, 0, workers)
    events = out.parent / f"fixed_w{workers}.json"
    subprocess.run(
        [sys.executable, str(HERE / "trace_run.py"), str(nml), "--json", str(events)],
        check=True,
        capture_output=True,
    )
    data = json.loads(events.read_text())
    ev = data["events"]
    t: dict[str, float] = {}
    for e in ev:
        if e["thread"] == "MainThread" and e["name"] in DRIVER_STEPS:
            t[e["name"]] = t.get(e["name"], 0.0) + e["t1"] - e["t0"]
    tasks = [e for e in ev if e["name"] == "task"]
    t["first chunk task starts"] = min(e["t0"] for e in tasks)
    t["compute (all chunk tasks)"] = max(e["t1"] for e in tasks) - min(e["t0"] for e in tasks)
    t["slowest chunk task, inside the worker"] = max(e["t1"] - e["t0"] for e in tasks)
    for name in ("met read", "value check", "kernel"):
        t[f"{name}, CPU of all tasks"] = sum(e["cpu"] for e in ev if e["name"] == name and e["thread"] != "MainThread")
    t["chunk tasks"] = len(tasks)
    t["`testbed.cli.main`, whole"] = data["main"]
    return t


DRIVER_STEPS = (
    "import testbed",
    "validation (prepare)",
    "cluster start",
    "separate value scan",
    "segment outputs",
    "checkpoint",
    "final outputs",
    "cluster stop",
)


# ------------------------------------------------------------------------------ 2. scheduler overhead


def noop(i: int) -> int:
    return i


def chunk_like(model: np.ndarray, state: np.ndarray, seconds: float, nyears: int) -> tuple:
    """Stands for run_chunk: sleeps (no CPU) and returns a chunk's state and annual sums."""
    time.sleep(seconds)
    ndiag = 105
    return state.copy(), {k: np.ones((state.shape[0], ndiag)) for k in range(nyears)}


def worker_rss(client) -> float:
    """Summed RSS (GB) of the worker processes and their nannies."""
    import psutil

    pids = client.run(os.getpid)
    total = 0
    for pid in pids.values():
        p = psutil.Process(pid)
        total += p.memory_info().rss + p.parent().memory_info().rss
    return total / 1024**3


def scheduler_overhead(nworkers: int, model_bytes: int, ntrivial: int, sleep: float) -> dict:
    from dask.distributed import Client, LocalCluster, wait

    res: dict[str, float] = {"workers": nworkers}
    t0 = time.perf_counter()
    cluster = LocalCluster(
        n_workers=nworkers, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=40
    )
    client = Client(cluster)
    res["cluster start s"] = time.perf_counter() - t0
    try:
        client.run(lambda: __import__("testbed.runner"))
        res["idle RSS of workers+nannies, testbed imported (GB)"] = worker_rss(client)
        client.gather(client.map(noop, range(nworkers * 4)))  # warm up
        t0 = time.perf_counter()
        client.gather(client.map(noop, range(ntrivial)))
        res["trivial tasks: ms per task (throughput)"] = 1e3 * (time.perf_counter() - t0) / ntrivial
        lat = []
        for i in range(20):
            t0 = time.perf_counter()
            client.submit(noop, i, pure=False).result()
            lat.append(time.perf_counter() - t0)
        res["trivial task round trip ms (median)"] = 1e3 * statistics.median(lat)
        # chunk-sized tasks: one scattered model per chunk, state in, state + 5 annual records out
        ntasks = 4 * nworkers
        models = [client.scatter(np.ones(model_bytes // 8), hash=False) for _ in range(ntasks)]
        wait(models)
        state = np.ones((CHUNK, 40), order="F")
        t0 = time.perf_counter()
        futs = [client.submit(chunk_like, m, state, sleep, 5, pure=False) for m in models]
        client.gather(futs)
        wall = time.perf_counter() - t0
        res["chunk-sized tasks"] = ntasks
        res["chunk-sized tasks: wall s"] = wall
        res["chunk-sized tasks: ideal s"] = ntasks * sleep / nworkers
        res["chunk-sized tasks: lost worker-ms per task"] = 1e3 * (wall * nworkers - ntasks * sleep) / ntasks
    finally:
        t0 = time.perf_counter()
        client.close()
        cluster.close()
        res["cluster close s"] = time.perf_counter() - t0
    return res


# ------------------------------------------------------------------------------ 3. rates and sizes


def rates(domain: Path, nyears: int) -> dict:
    from testbed import kernel
    from testbed.config import RunConfig
    from testbed.forcing import MetFile
    from testbed.output import variables_for
    from testbed.runner import build_model, prepare
    from testbed.runner.segments import ChunkJob

    cfg = RunConfig.read(rb.namelist(domain, nyears, "mimics", rb.WORK / "rates", 0, 1))
    model = build_model(cfg)
    met = MetFile.open(cfg.resolve(cfg.get("files.met")))
    n = min(CHUNK, model.ncell)
    cells = slice(0, n)
    reads = [_t(met.read_year, y, cells)[1] for y in range(nyears)]
    sub = model.subset(cells)
    state = sub.cold_state()
    secs = 0.0
    for y in range(nyears):  # every year of the file: the cost per year changes as the pools build up
        f = met.read_year(y, cells)
        annual = kernel.new_annual(n)
        secs += _t(
            kernel.advance,
            sub.soil,
            state,
            sub.params,
            sub.sparams,
            f,
            icycle=2,
            fixes=sub.fix_flags,
            annual=annual,
            first_year=y == 0,
        )[1]
    plan = prepare(cfg)
    job = ChunkJob(cells, plan.steps, plan.perturbation, True, True, True, "")
    forcing_bytes = sum(a.nbytes for a in (f.gpp, f.tair, f.ndep, f.tsoil, f.moist, f.frzn))
    return {
        "chunk cells": n,
        "MIMICS-CN kernel cell-days/s, one core (chunk, every year of the file)": n * 365 * nyears / secs,
        "met read s per cell-year (chunk of cells, page cache)": statistics.median(reads) / n,
        "forcing bytes per cell-year (float32, in memory)": forcing_bytes / n,
        "state bytes per cell": state.nbytes / n,
        "annual record bytes per cell-year": annual.nbytes / n,
        "annual output bytes per cell-year (float32 variables)": 4.0 * len(variables_for("mimics", 2)),
        "pickled model subset bytes (chunk)": len(pickle.dumps(sub)),
        "pickled ChunkJob bytes (chunk, 5 years)": len(pickle.dumps(job)),
    }


def tables_md(doc: dict) -> list[str]:
    """Markdown tables of the fixed costs (1 and 2 workers) and of the scheduler overhead."""
    lines = [
        f"Measured {doc['started']} UTC, commit {doc['machine']['commit']}, {doc['machine']['cpu']}, "
        f"{doc['machine']['cores']} cores; load average {doc['load_before']} before, {doc['load_after']} after.",
        "",
        f"| step ({doc['cells']:,} cells x {doc['years']} years, MIMICS-CN) | 1 worker, s | 2 workers, s |",
        "|---|---:|---:|",
    ]
    for k, v in doc.get("imports", {}).items():
        lines.append(f"| {'import ' + k if k != 'python start' else 'Python interpreter start'} | {v:.2f} | {v:.2f} |")
    f1, f2 = doc.get("fixed_w1", {}), doc.get("fixed_w2", {})
    for k in f1:
        v1, v2 = f1[k], f2.get(k, float("nan"))
        lines.append(f"| {k} | {v1:.0f} | {v2:.0f} |" if k == "chunk tasks" else f"| {k} | {v1:.2f} | {v2:.2f} |")
    if "testbed_run_w1_s" in doc:
        lines.append(
            f"| whole `testbed run` (separate process, for comparison) | {doc['testbed_run_w1_s']:.1f} | "
            f"{doc['testbed_run_w2_s']:.1f} |"
        )
    if doc.get("overhead"):
        keys = [k for k in doc["overhead"][0] if k != "workers"]
        lines += ["", "| workers (1 thread each) | " + " | ".join(keys) + " |", "|---:|" + "---:|" * len(keys)]
        for o in doc["overhead"]:
            lines.append(f"| {o['workers']} | " + " | ".join(f"{o[k]:.3g}" for k in keys) + " |")
    return lines


# ------------------------------------------------------------------------------ 4. extrapolation

GRIDS = {"0.5 deg": 60_000, "0.25 deg": 240_000}  # land cells
SPINUP_YEARS = 20_000  # the published brute-force workflow
#: the accelerated MIMICS-CN spin-up measured on the 4,263-cell global domain (benchmarks/spinup_results.md,
#: ``spinup_bench.py --name global_kernel2``): simulated years, wall seconds, workers, cells, forcing cycle (years)
SPINUP_MEASURED = (830, 687.0, 2, 4263, 20)
#: bytes per cell the spin-up driver holds besides the state: the method's memory (sasu: 5 arrays of the ~20
#: prognostic pools) and the equilibrium diagnostics
SPINUP_MEMORY_PER_CELL = 1000


def extrapolate(
    doc: dict, workers: tuple[int, ...] = (1, 16, 64, 256), met_years: int = 20, spinup=SPINUP_MEASURED
) -> list[str]:
    """Markdown: time and memory of a global MIMICS-CN year and of the spin-ups on N workers.

    Worker side: kernel + met read per cell-year (+ the value checks of the first read of each met year), and the
    per-task cost measured with no more workers than cores (each worker of a real cluster has its own core).
    Driver side (serial): interpreter, imports, validation, cluster start, writing the outputs. Brute-force
    spin-up: a ``met_years``-year met file cycled, checkpoint and output every 100 years (200 output records),
    every part written once and merged once. Accelerated spin-up: ``spinup`` (years, wall s, workers, cells,
    cycle years) as measured on this machine, taken as core-seconds per cell-year of the whole pipeline (kernel,
    reads, the semi-analytic solves, the driver's checkpoints), one task per chunk and cycle.
    """
    r, f1, cores = doc["rates"], doc["fixed_w1"], doc["machine"]["cores"]
    rate = r["MIMICS-CN kernel cell-days/s, one core (chunk, every year of the file)"]
    read = r["met read s per cell-year (chunk of cells, page cache)"]
    core_s = 365 / rate + read  # core-seconds per cell-year on a worker
    own = [o for o in doc["overhead"] if o["workers"] <= cores]
    ov = max(o["chunk-sized tasks: lost worker-ms per task"] for o in own) / 1e3
    start = max(o["cluster start s"] for o in own)
    worker_gb = max(o["idle RSS of workers+nannies, testbed imported (GB)"] / o["workers"] for o in doc["overhead"])
    cell_years = doc["cells"] * doc["years"]
    check = f1["value check, CPU of all tasks"] / cell_years  # core-s per cell-year, first read of each met year
    out = 2 * f1["segment outputs"] / cell_years  # driver s per output cell-year: the part, then the merge
    ckpt = f1["checkpoint"] / doc["cells"]
    startup = sum(doc["imports"].values()) + f1["validation (prepare)"] + start
    per_cell = r["pickled model subset bytes (chunk)"] / r["chunk cells"] + r["state bytes per cell"]
    sp_years, sp_wall, sp_workers, sp_cells, sp_cycle = spinup
    sp_core_s = sp_wall * sp_workers / (sp_cells * sp_years)  # whole pipeline, core-s per cell-year
    lines = [
        f"Per cell-year on a worker: {365 / rate * 1e3:.3f} ms kernel + {read * 1e3:.3f} ms met read "
        f"(+ {check * 1e3:.3f} ms of value checks on the first read of each met year); per task {ov * 1e3:.0f} ms "
        f"(chunk-sized tasks, worker processes, no more workers than cores); driver: start-up {startup:.1f} s "
        f"(interpreter, imports, validation, cluster start), {out * 1e3:.4f} ms per output cell-year, "
        f"{ckpt * 1e3:.4f} ms per cell and checkpoint. Accelerated spin-up: {sp_years} simulated years in "
        f"{sp_wall:.0f} s on {sp_workers} workers for {sp_cells:,} cells (benchmarks/spinup_results.md), i.e. "
        f"{sp_core_s * 1e3:.3f} ms of a core per cell-year for the whole pipeline.",
        "",
        "| grid | cells | run | simulated years | worker core-hours | "
        + " | ".join(f"wall, {n} worker{'s' * (n > 1)}" for n in workers)
        + " | driver memory | memory per worker (chunk 2,000) |",
        "|---|---:|---|---:|---:|" + "---:|" * len(workers) + "---:|---:|",
    ]

    def fmt(sec: float) -> str:
        return f"{sec:.0f} s" if sec < 120 else f"{sec / 60:.0f} min" if sec < 7200 else f"{sec / 3600:.1f} h"

    worker = (
        worker_gb
        + 2000
        * (r["forcing bytes per cell-year (float32, in memory)"] + per_cell + r["annual record bytes per cell-year"])
        / 1e9
    )
    runs = (
        ("1 year", 1, 1, "plain"),
        (f"brute-force spin-up ({met_years}-year met file cycled)", SPINUP_YEARS, met_years, "plain"),
        (f"`testbed spinup` (measured cost per cell-year, {sp_cycle}-year cycle)", sp_years, sp_cycle, "spinup"),
    )
    for grid, cells in GRIDS.items():
        for run, years, myears, kind in runs:
            walls = []
            if kind == "plain":
                segments = max(1, years // 100)
                core = cells * years * core_s + cells * check * myears
                driver_s = startup + cells * (out * segments + ckpt * segments)
                # driver: the state (two copies), a segment's annual sums (one output year per segment), and at the
                # end every output year's variables, loaded and concatenated by the merge into annual.nc
                # (runner.assembly.merge_annual: two copies)
                driver = cells * (
                    2 * r["state bytes per cell"]
                    + r["annual record bytes per cell-year"]
                    + 2 * r["annual output bytes per cell-year (float32 variables)"] * segments
                )
            else:
                segments = -(-years // myears)  # one task per chunk and cycle
                core = cells * years * sp_core_s
                driver_s = startup + cells * ckpt * segments
                driver = cells * (2 * r["state bytes per cell"] + SPINUP_MEMORY_PER_CELL)
            for n in workers:
                chunk = min(2000, max(1, cells // (2 * n)))
                tasks = -(-cells // chunk) * segments
                walls.append(fmt(core / n + tasks * ov / n + driver_s))
            lines.append(
                f"| {grid} | {cells:,} | {run} | {years:,} | {core / 3600:,.2f} | "
                + " | ".join(walls)
                + f" | {driver / 1e9:.2f} GB + interpreter | {worker:.2f} GB |"
            )
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="300 cells, workers 1/2/4, fewer tasks")
    p.add_argument("--out", default=str(rb.WORK / "scaling.json"))
    p.add_argument("--part", choices=["fixed", "overhead", "rates", "all"], default="all")
    args = p.parse_args()
    rb.WORK.mkdir(exist_ok=True)
    ncell, nyears = (300, 2) if args.quick else (4263, 5)
    domain = rb.make_domain(ncell, nyears)
    rb.warm(rb.met_path(domain, nyears))
    doc: dict = {
        "started": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "load_before": rb.load_average(),
        "machine": rb.machine_info(),
        "cells": ncell,
        "years": nyears,
    }
    if args.part in ("rates", "all"):
        doc["rates"] = rates(domain, nyears)
        print(json.dumps(doc["rates"], indent=1), flush=True)
    if args.part in ("fixed", "all"):
        doc["imports"] = import_costs()
        print(json.dumps(doc["imports"], indent=1), flush=True)
        for w in (1, 2):
            doc[f"fixed_w{w}"] = fixed_costs(domain, nyears, w)
            print(w, json.dumps(doc[f"fixed_w{w}"], indent=1), flush=True)
            doc[f"testbed_run_w{w}_s"] = rb.run_ours(domain, nyears, "mimics", w, f"fixed_run_w{w}")["seconds"]
            print("testbed run wall", doc[f"testbed_run_w{w}_s"], flush=True)
    if args.part in ("overhead", "all"):
        model_bytes = doc.get("rates", {}).get("pickled model subset bytes (chunk)", 2_000_000)
        doc["overhead"] = []
        for n in (1, 2, 4) if args.quick else (1, 2, 8, 16):
            r = scheduler_overhead(n, model_bytes, 200 if args.quick else 2000, 0.5)
            doc["overhead"].append(r)
            print(json.dumps(r), flush=True)
    if "rates" in doc and "overhead" in doc:
        doc["extrapolation_md"] = extrapolate(doc)
        print("\n".join(doc["extrapolation_md"]))
    doc["load_after"] = rb.load_average()
    doc["tables_md"] = tables_md(doc)
    print("\n".join(doc["tables_md"]))
    Path(args.out).write_text(json.dumps(doc, indent=1))
    print(f"written: {args.out}; load {doc['load_before']} -> {doc['load_after']}")


if __name__ == "__main__":
    main()
