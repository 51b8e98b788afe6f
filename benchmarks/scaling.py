"""Measurements behind docs/performance_scaling.md: fixed costs of a run, dask scheduler overhead, per-core rates.

    python benchmarks/scaling.py [--quick] [--out benchmarks/work/scaling.json]

1. Fixed costs of a 4,263-cell MIMICS-CN run (5 years) with 1 and 2 workers, step by step as
   testbed.runner.execute does them (interpreter start, imports, validation, LocalCluster start,
   met-value scan, scatter of the model, compute, output writing and merging, restart, cluster
   shut-down). Uses the runner's functions of the current commit; measurement only.
2. Scheduler overhead with more workers than cores (LocalCluster of 1 to 16 single-threaded worker
   processes): trivial tasks, and sleeping tasks that carry the data of a real 2,000-cell chunk task
   (the scattered model, the state in, the state and 5 years of annual sums out).
3. Per-core rates and sizes for the extrapolation: MIMICS-CN kernel cell-days/s, met read time and
   memory per cell-year, idle worker RSS.
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
t0 = time.perf_counter(); import testbed.runner; t['testbed.runner (xarray, netCDF4)'] = time.perf_counter() - t0
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
    """Each step of runner.execute for one segment run, timed in the driver (seconds)."""
    from dask.distributed import wait

    from testbed import runner
    from testbed.config import RunConfig
    from testbed.output import annual_dataset, write_dataset
    from testbed.runner import assembly, folder, segments
    from testbed.state import write_restart

    out = rb.WORK / f"fixed_w{workers}"
    cfg = RunConfig.read(rb.namelist(domain, nyears, "mimics", out, 0, workers))
    t: dict[str, float] = {}
    plan, t["validation (prepare)"] = _t(runner.prepare, cfg)
    model = plan.model
    parts = out / folder.PARTS
    parts.mkdir(parents=True, exist_ok=True)
    ctx = runner.dask_client(cfg, workers)
    client, t["LocalCluster + Client start"] = _t(ctx.__enter__)
    try:
        chunk_slices = runner.chunks(model.ncell, segments.auto_chunk(model.ncell, workers))
        t0 = time.perf_counter()
        client.gather([client.submit(segments.check_chunk, plan.met_files, cs, pure=False) for cs in chunk_slices])
        t["met-value scan"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        models = {cs.start: client.scatter(model.subset(cs), hash=False) for cs in chunk_slices}
        wait(list(models.values()))
        t["scatter of the model"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        attrs = assembly.output_attrs(plan)
        futs = [
            client.submit(
                runner.run_chunk,
                segments.ChunkJob(
                    cs,
                    plan.steps,
                    plan.perturbation,
                    True,
                    cfg.get("run.check_budgets"),
                    plan.restart_write_reset,
                    str(parts),
                ),
                models[cs.start],
                np.asfortranarray(plan.state[cs]),
                0,
                pure=False,
            )
            for cs in chunk_slices
        ]
        results = sorted(client.gather(futs), key=lambda r: r.cells.start)
        t["compute (all chunk tasks)"] = time.perf_counter() - t0
        t["slowest chunk task, inside the worker"] = max(r.seconds for r in results)
        t["sum of chunk tasks, inside the workers"] = sum(r.seconds for r in results)
        t["chunk tasks"] = len(results)
    finally:
        t0 = time.perf_counter()
        ctx.__exit__(None, None, None)
        t["cluster shut-down"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    state = np.zeros_like(plan.state, order="F")
    for r in results:
        state[r.cells] = r.state
    idx = [i for i, s in enumerate(plan.steps) if s.write_output]
    annuals = [np.concatenate([r.annual[i] for r in results]) for i in idx]
    info = assembly.cell_info(model.domain)
    ds = annual_dataset(annuals, [plan.steps[i].label for i in idx], info, model.soil_model, model.icycle, attrs)
    write_dataset(ds, parts / "annual_0000000.nc", overwrite=True)
    t["annual output of the segment (assemble, write part)"] = time.perf_counter() - t0
    _, t["merge of the annual parts (annual.nc)"] = _t(assembly.merge_annual, parts, out / folder.ANNUAL)
    info = assembly.restart_info(model, len(idx))
    _, t["restart file"] = _t(write_restart, out / folder.RESTART, state, info)
    _, t["checkpoint file (once per segment)"] = _t(write_restart, out / folder.CHECKPOINT, state, info)
    return t


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
    from testbed.runner import ChunkJob, build_model, prepare

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
SPINUP_YEARS = 20_000


def extrapolate(doc: dict, workers: tuple[int, ...] = (1, 16, 64, 256), met_years: int = 20) -> list[str]:
    """Markdown: time and memory of a global MIMICS-CN year and of the spin-up on N workers.

    Worker side: kernel + met read per cell-year, and the per-task cost measured with no more workers
    than cores (each worker of a real cluster has its own core). Driver side (serial): imports,
    validation, cluster start, the met-value scan (spread over the workers), writing the outputs.
    Spin-up: a ``met_years``-year met file cycled, checkpoint and output every 100 years (200 output records).
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
    scan = f1["met-value scan"] / cell_years  # core-seconds per cell-year (1 worker)
    out = (
        f1["annual output of the segment (assemble, write part)"] + f1["merge of the annual parts (annual.nc)"]
    ) / cell_years  # driver s per output cell-year
    ckpt = f1["checkpoint file (once per segment)"] / doc["cells"]
    startup = sum(doc["imports"].values()) + f1["validation (prepare)"] + start
    per_cell = r["pickled model subset bytes (chunk)"] / r["chunk cells"] + r["state bytes per cell"]
    lines = [
        f"Per cell-year on a worker: {365 / rate * 1e3:.2f} ms kernel + {read * 1e3:.3f} ms met read; "
        f"per task {ov * 1e3:.0f} ms (chunk-sized tasks, no more workers than cores); met-value scan "
        f"{scan * 1e3:.2f} ms per cell-year of the met file (spread over the workers); driver: start-up "
        f"{startup:.1f} s (imports, validation, cluster start), {out * 1e3:.3f} ms per output cell-year, "
        f"{ckpt * 1e3:.3f} ms per cell and checkpoint.",
        "",
        "| grid | cells | run | worker core-hours | "
        + " | ".join(f"wall, {n} worker{'s' * (n > 1)}" for n in workers)
        + " | driver memory | memory per worker (chunk 2,000) |",
        "|---|---:|---|---:|" + "---:|" * len(workers) + "---:|---:|",
    ]

    def fmt(sec: float) -> str:
        return f"{sec:.0f} s" if sec < 120 else f"{sec / 60:.0f} min" if sec < 7200 else f"{sec / 3600:.1f} h"

    for grid, cells in GRIDS.items():
        for run, years, myears in (("1 year", 1, 1), (f"{SPINUP_YEARS:,}-year spin-up", SPINUP_YEARS, met_years)):
            segments = max(1, years // 100)
            core = cells * years * core_s
            driver_s = startup + cells * (scan * myears + out * segments + ckpt * segments)
            walls = []
            for n in workers:
                chunk = min(2000, max(1, cells // (2 * n)))
                tasks = -(-cells // chunk) * segments
                walls.append(fmt(core / n + tasks * ov / n + driver_s + cells * scan * myears * (1 / n - 1)))
            # driver: state, and at the end every output year's annual records, loaded and concatenated by the
            # merge into annual.nc (runner.assembly.merge_annual: two copies)
            driver = cells * 2 * (r["state bytes per cell"] + r["annual record bytes per cell-year"] * segments)
            worker = (
                worker_gb
                + 2000
                * (
                    r["forcing bytes per cell-year (float32, in memory)"]
                    + per_cell
                    + r["annual record bytes per cell-year"]
                )
                / 1e9
            )
            lines.append(
                f"| {grid} | {cells:,} | {run} | {core / 3600:,.2f} | "
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
