"""`make bench`: our testbed and the original Fortran program side by side; writes benchmarks/results.md.

Every ratio in the results comes from numbers measured in the same invocation of this script, on
the same machine and the same input files, with the programs alternating (original, ours kernel
only, ours 1 worker, ours 2 workers; then again), so that a slow or busy spell hits every program.
Without the original, the results give absolute figures only and say that no ratio was measured.

The original is found through ``--original-bin`` or the environment variable TESTBED_ORIGINAL_BIN,
or built from a git directory of wwieder/biogeochem_testbed given by ``--original-mirror`` or
TESTBED_ORIGINAL_MIRROR, with ../shared/bench/original.sh, into a folder outside this repository.

Domain: 4,263 cells x 5 years of synthetic forcing (the real CLM 1.9x2.5 land cells on the full 96 x 144
grid when ../shared/reference/global holds the grid tables; --quick: 300 drawn cells on the compact
layout), cold start, C+N, annual output.
1. Side by side: wall time (best and median of the repeats), cell-days/s, peak RSS of all processes.
2. Kernel compute only: ours on one core with the forcing already in memory, against the original's
   wall time minus its wall time with mloop = 0 (read and set-up only), both from this run.
3. Forcing years: peak RSS with a 20-year met file against the 5-year one.
4. Peak RSS against chunk size and cell count; 5. the spin-up benchmark (benchmarks/spinup_bench.py), if present.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
REPO = HERE.parent
SHARED = Path(os.environ.get("TESTBED_SHARED_DIR", REPO.parent / "shared"))
ORIGINAL_SH = SHARED / "bench" / "original.sh"
FIRST_YEAR = 1901
CONFIGS = {"casa_cn": "casa", "mimics_cn": "mimics", "corpse_c": "corpse"}  # config -> our run.soil_model
#: the configurations ../shared/bench/original.sh can run (CORPSE is measured for ours only)
ORIGINAL_CONFIGS = ("casa_cn", "mimics_cn")


# ------------------------------------------------------------------------------------ inputs


def met_path(domain: Path, nyears: int) -> Path:
    return domain / f"met_{FIRST_YEAR}_{FIRST_YEAR + nyears - 1}.nc"


def make_domain(ncell: int, nyears: int, grid: str = "compact") -> Path:
    """Synthetic forcing for ``ncell`` cells over ``nyears`` years (cached in benchmarks/work).

    ``grid="full"`` (when ../shared/reference/global holds the CLM tables): the real land cells (all
    4,263, or ``ncell`` of them evenly spaced in the table) on the 96 x 144 CLM grid, every other point
    missing, as users' CLM5-derived files and the original's timing file; else the compact layout
    (nlat = ncell, nlon = 1) of drawn cells. Uncompressed 64-bit-offset classic NetCDF, which both
    programs read.
    """
    from testbed.forcing_tools.metfile import read_gridinfo, read_soil, write_gridinfo, write_soil
    from testbed.forcing_tools.synthetic import make_synthetic_domain

    ref = SHARED / "reference" / "global"
    tables = ref / "gridinfo_igbpz_CLM5_GSWP3.csv", ref / "gridinfo_soil_CLM5_GSWP3.csv"
    if grid == "full" and not tables[0].exists():
        print(f"note: {ref} has no CLM grid tables; compact layout instead of the full grid", flush=True)
        grid = "compact"
    out = WORK / f"domain_{ncell}_{nyears}y{'_grid' if grid == 'full' else ''}"
    if met_path(out, nyears).exists() and (out / "gridinfo_soil.csv").exists():
        return out
    kw: dict = {"grid": grid}
    if grid == "full":
        g, so = read_gridinfo(tables[0]), read_soil(tables[1])
        if ncell < len(g):  # evenly spaced rows of the global table (they stay in ilon, ilat order)
            rows = sorted({int(round(x)) for x in (k * (len(g) - 1) / max(ncell - 1, 1) for k in range(ncell))})
            src = out / "source"
            src.mkdir(parents=True, exist_ok=True)
            tables = (
                write_gridinfo(src / "gridinfo.csv", [g[r] for r in rows]),
                write_soil(src / "soil.csv", [so[r] for r in rows]),
            )
        kw |= {"gridinfo": tables[0], "soil": tables[1]}
    elif ncell == 4263 and tables[0].exists():  # the real cells, compact
        kw |= {"gridinfo": tables[0], "soil": tables[1]}
    make_synthetic_domain(
        out,
        ncell=ncell,
        years=range(FIRST_YEAR, FIRST_YEAR + nyears),
        seed=2024,
        per_year=False,
        multi_year=True,
        nc_format="NETCDF3_64BIT_OFFSET",
        **kw,
    )
    return out


def grid_text(met: Path) -> str:
    """The met file's layout, for the report."""
    import netCDF4

    with netCDF4.Dataset(met) as ds:
        nlat, nlon = ds.dimensions["lat"].size, ds.dimensions["lon"].size
    return "compact layout, ncell x 1 grid" if nlon == 1 else f"full {nlat} x {nlon} CLM grid, other points missing"


def ncell_of(domain: Path) -> int:
    return sum(1 for _ in (domain / "gridinfo_igbpz.csv").open()) - 1


def namelist(domain: Path, nyears: int, soil_model: str, out: Path, chunk: int, workers: int) -> Path:
    from testbed import soil
    from testbed.config import RunConfig, namelist_text

    cfg = RunConfig.defaults()
    cfg.override(
        [
            f"run.soil_model={soil_model}",
            f"run.cycle={'cn' if 2 in soil.get(soil_model).cycles else 'c'}",  # CORPSE is C only
            "run.cycles=1",
            "run.checkpoint_interval=5",
            f"files.gridinfo={domain / 'gridinfo_igbpz.csv'}",
            f"files.soil={domain / 'gridinfo_soil.csv'}",
            f"files.met={met_path(domain, nyears)}",
            f"files.output_dir={out}",
            f"parallel.chunk_size={chunk}",
            f"parallel.workers={workers}",
        ]
    )
    out.mkdir(parents=True, exist_ok=True)
    path = out.parent / f"{out.name}.nml"
    path.write_text(namelist_text(cfg))
    return path


# ------------------------------------------------------------------------------------ machine


def _cmd(*args: str) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def machine_info() -> dict:
    """CPU model, cores, memory, OS, git commit, compiler and library versions of this run."""
    import numpy

    from testbed import kernel_builds

    model = next(
        (line.split(":", 1)[1].strip() for line in _cmd("lscpu").splitlines() if line.startswith("Model name")),
        platform.processor() or platform.machine(),
    )
    mem_kb = next(
        (
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        0,
    )
    commit = _cmd("git", "-C", str(REPO), "rev-parse", "--short", "HEAD") or "unknown"
    if _cmd("git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"):
        commit += " (with uncommitted changes)"
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": mem_kb / 2**20,
        "os": f"{platform.system()} {platform.release()}",
        "commit": commit,
        "compiler": _cmd("gfortran", "--version").splitlines()[0] if shutil.which("gfortran") else "none",
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "kernel_build": kernel_builds.choose(),
    }


def load_average() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def cached_fraction(path: Path) -> float | None:
    """Fraction of ``path`` in the page cache (util-linux fincore), or None without fincore."""
    out = _cmd("fincore", "--bytes", "--noheadings", "--output", "RES", str(path))
    return int(out) / max(path.stat().st_size, 1) if out.isdigit() else None


def warm(path: Path) -> dict:
    """Read ``path`` once (so every timed run finds it in the page cache); cache state before and after."""
    before = cached_fraction(path)
    t0 = time.perf_counter()
    with path.open("rb", buffering=0) as f:
        while f.read(1 << 24):
            pass
    seconds = time.perf_counter() - t0
    return {
        "path": path,
        "file": path.name,
        "gb": path.stat().st_size / 1e9,
        "before": before,
        "read_s": seconds,
        "after": cached_fraction(path),
    }


def _pct(x: float | None) -> str:
    return "unknown (no fincore)" if x is None else f"{100 * x:.0f} %"


# ------------------------------------------------------------------------------------ the original


def find_original(args: argparse.Namespace) -> tuple[Path | None, str]:
    """The original's binary, and how it was found (or why there is none)."""
    if args.no_original:
        return None, "skipped (--no-original)"
    given = args.original_bin or os.environ.get("TESTBED_ORIGINAL_BIN")
    if given:
        path = Path(given)
        if not os.access(path, os.X_OK):
            raise SystemExit(f"original binary not found or not executable: {path}")
        return path.resolve(), f"binary {path}"
    mirror = args.original_mirror or os.environ.get("TESTBED_ORIGINAL_MIRROR")
    if not mirror:
        return None, (
            "not available: set TESTBED_ORIGINAL_BIN (binary) or TESTBED_ORIGINAL_MIRROR "
            "(git directory of wwieder/biogeochem_testbed) to measure it side by side"
        )
    build = Path(args.original_build_dir).resolve()
    if build.is_relative_to(REPO):
        raise SystemExit(f"--original-build-dir must be outside the repository: {build}")
    binary = build / "SOURCE_CODE" / "casaclm_mimics-cn_corpse"
    if not binary.exists():
        print(f"building the original from {mirror} into {build} ...", flush=True)
        out = subprocess.run(["bash", str(ORIGINAL_SH), "build", mirror, str(build)], capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"building the original failed:\n{out.stdout}\n{out.stderr}")
        binary = Path(out.stdout.strip().splitlines()[-1])
    return binary, f"built by ../shared/bench/original.sh from {mirror} (commit 27ae1a0, -O2)"


def run_original(binary: Path, config: str, domain: Path, nyears: int, tag: str, mloop: int = 1) -> dict:
    """One run of the original (original.sh run): wall time, peak RSS of its process (/usr/bin/time)."""
    work = WORK / f"orig_{tag}"
    shutil.rmtree(work, ignore_errors=True)
    res = subprocess.run(
        [
            "bash",
            str(ORIGINAL_SH),
            "run",
            str(binary),
            config,
            str(domain / "gridinfo_igbpz.csv"),
            str(domain / "gridinfo_soil.csv"),
            str(met_path(domain, nyears)),
            str(work),
            str(mloop),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHON": sys.executable},
    )
    if res.returncode != 0:
        raise RuntimeError(f"the original failed ({config}, mloop={mloop}):\n{res.stdout[-2000:]}\n{res.stderr}")
    r = json.loads(res.stdout.strip().splitlines()[-1])
    return {
        "program": "original",
        "mloop": mloop,
        "seconds": r["wall_s"],
        "rss_gb": r["peak_rss_gb"],
        "cell_days": ncell_of(domain) * 365 * nyears * mloop,
    }


# ------------------------------------------------------------------------------------ ours


def time_kernel(model, forcings) -> tuple:
    """Run ``model`` from a cold start over the in-memory ``forcings`` (one per year): wall and CPU seconds
    (this thread) spent in the kernel, the final state and the last year's annual sums."""
    from testbed import kernel

    state = model.cold_state()
    wall = cpu = 0.0
    annual = kernel.new_annual(model.ncell)
    for k, f in enumerate(forcings):
        annual = kernel.new_annual(model.ncell)
        t0, c0 = time.perf_counter(), time.thread_time()
        kernel.advance(
            model.soil,
            state,
            model.params,
            model.sparams,
            f,
            icycle=model.icycle,
            fixes=model.fix_flags,
            annual=annual,
            first_year=k == 0,
        )
        wall += time.perf_counter() - t0
        cpu += time.thread_time() - c0
    return wall, cpu, state, annual


def kernel_benchmark(domain: Path, nyears: int, soil_model: str) -> dict:
    """Kernel-only time on one core (all forcing read beforehand), in this process."""
    import numpy as np

    from testbed.config import RunConfig
    from testbed.forcing import MetFile
    from testbed.runner import build_model

    out = WORK / f"kernel_{soil_model}"
    cfg = RunConfig.read(namelist(domain, nyears, soil_model, out, 10_000, 1))
    model = build_model(cfg)
    met = MetFile.open(cfg.resolve(cfg.get("files.met")))
    forcings = [met.read_year(y) for y in range(met.nyear)]
    seconds, _, state, _ = time_kernel(model, forcings)
    assert np.isfinite(state).all()
    return {
        "program": "kernel",
        "seconds": seconds,
        "cell_days": model.ncell * 365 * len(forcings),
        "rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
    }


def tree_rss(pid: int) -> float:
    """RSS (GB) of a process and all its descendants (driver, dask nanny and worker processes)."""
    import psutil

    try:
        p = psutil.Process(pid)
        procs = [p] + p.children(recursive=True)
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for q in procs:
        try:
            total += q.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 1024**3


def run_ours(domain: Path, nyears: int, soil_model: str, workers: int, tag: str, chunk: int = 0) -> dict:
    """Wall time and peak RSS (sum over the process tree, sampled every 0.1 s) of `testbed run`."""
    out = WORK / f"run_{tag}"
    nml = namelist(domain, nyears, soil_model, out, chunk, workers)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "testbed.cli", "run", str(nml), "--overwrite", "-q"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    peak = 0.0
    while proc.poll() is None:
        peak = max(peak, tree_rss(proc.pid))
        time.sleep(0.1)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"testbed run failed: {proc.stderr.read().decode()[-2000:]}")
    return {
        "program": f"ours_w{workers}",
        "workers": workers,
        "chunk": chunk,
        "seconds": seconds,
        "cell_days": ncell_of(domain) * 365 * nyears,
        "rss_gb": peak,
    }


def kernel_in_subprocess(domain: Path, nyears: int, soil_model: str) -> dict:
    """kernel_benchmark in a fresh process, so that its peak RSS is its own."""
    res = subprocess.run(
        [sys.executable, __file__, "--one-kernel", str(domain), str(nyears), soil_model],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(res.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------ measurement


def side_by_side(domain: Path, nyears: int, original: Path | None, repeats: int) -> dict[str, list[dict]]:
    """Every run of section 1 and 2, alternating programs within each repeat; config -> list of runs."""
    runs: dict[str, list[dict]] = {c: [] for c in CONFIGS}
    order: list[dict] = []
    for rep in range(repeats):
        for config, soil in CONFIGS.items():
            print(f"repeat {rep + 1}/{repeats}, {config}: ", end="", flush=True)
            batch: list[tuple] = []
            if original is not None and config in ORIGINAL_CONFIGS:
                batch += [
                    (run_original, original, config, domain, nyears, config, 1),
                    (run_original, original, config, domain, nyears, f"{config}_m0", 0),
                ]
            batch += [
                (kernel_in_subprocess, domain, nyears, soil),
                (run_ours, domain, nyears, soil, 1, f"{config}_w1"),
                (run_ours, domain, nyears, soil, 2, f"{config}_w2"),
            ]
            for func, *fargs in batch:
                r = func(*fargs) | {"repeat": rep + 1, "load": os.getloadavg()[0], "seq": len(order)}
                order.append(r)
                print(f"{label(r)} {r['seconds']:.1f} s; ", end="", flush=True)
                runs[config].append(r)
            print(flush=True)
    return runs


def label(r: dict) -> str:
    if r["program"] == "original":
        return "original" + (" mloop=0" if r["mloop"] == 0 else "")
    return "ours kernel only" if r["program"] == "kernel" else f"ours {_workers(r['workers'])}"


def _workers(n: int) -> str:
    return f"{n} worker" + ("s" if n > 1 else "")


def stats(runs: list[dict], program: str, mloop: int | None = None) -> dict | None:
    sel = [r for r in runs if r["program"] == program and (mloop is None or r.get("mloop") == mloop)]
    if not sel:
        return None
    secs = [r["seconds"] for r in sel]
    return {
        "best": min(secs),
        "median": statistics.median(secs),
        "n": len(secs),
        "cell_days": sel[0]["cell_days"],
        "rss_gb": max(r["rss_gb"] for r in sel),
    }


def forcing_years(
    domain_short: Path, short_years: int, domain_long: Path, long_years: int, original: Path | None
) -> list[dict]:
    """Peak RSS with the short and the long met file (same cells): ours CASA-CN 1 and 2 workers, original read."""
    rows = []
    for dom, ny in ((domain_short, short_years), (domain_long, long_years)):
        for w in (1, 2):
            print(f"{ny}-year met file: ours, {w} worker(s) ...", flush=True)
            rows.append(run_ours(dom, ny, "casa", w, f"years{ny}_w{w}") | {"years": ny})
    if original is not None:
        short_read = run_original(original, "casa_cn", domain_short, short_years, f"years{short_years}_m0", mloop=0)
        rows.append(short_read | {"years": short_years})
        need_gb = short_read["rss_gb"] * long_years / short_years * 1.3
        avail_gb = (
            next(
                int(line.split()[1])
                for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemAvailable")
            )
            / 2**20
        )
        if avail_gb > need_gb + 2:
            print(f"{long_years}-year met file: original, mloop=0 ...", flush=True)
            rows.append(
                run_original(original, "casa_cn", domain_long, long_years, f"years{long_years}_m0", mloop=0)
                | {"years": long_years}
            )
        else:
            rows.append(
                {
                    "program": "original",
                    "mloop": 0,
                    "years": long_years,
                    "skipped": f"needs about {need_gb:.1f} GB, {avail_gb:.1f} GB available",
                }
            )
    return rows


# ------------------------------------------------------------------------------------ spin-up hook


def spinup_section(lines: list[str], quick: bool) -> bool:
    """Hook for the spin-up benchmark: benchmarks/spinup_bench.py, maintained separately, adds its own
    Markdown lines to ``lines`` through ``run(lines)`` (``quick`` is passed if it takes it).
    Returns False if that module exists but failed."""
    if not (HERE / "spinup_bench.py").exists():
        return True
    sys.path.insert(0, str(HERE))
    try:
        mod = importlib.import_module("spinup_bench")
        kwargs = {"quick": quick} if "quick" in inspect.signature(mod.run).parameters else {}
        mod.run(lines, **kwargs)
        return True
    except Exception:
        traceback.print_exc()
        lines += [
            "",
            "## Spin-up",
            "",
            "The spin-up benchmark (benchmarks/spinup_bench.py) failed in this run; see the output of `make bench`.",
        ]
        return False


# ------------------------------------------------------------------------------------ report


def _gb(x: float) -> str:
    return f"{x:.2f}"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if a > 0 and b > 0 else "n/a"


def report(
    info: dict,
    caches: list[dict],
    runs: dict[str, list[dict]],
    years_rows: list[dict],
    mem: list[dict],
    orig_note: str,
    has_original: bool,
    args: argparse.Namespace,
    ncell: int,
    nyears: int,
    load_before: str,
    started: str,
) -> list[str]:
    cell_days = ncell * 365 * nyears
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` (benchmarks/run_benchmarks.py{' --quick' if args.quick else ''}), "
        f"started {started} UTC. Every figure and every ratio below was measured in this one run of the script; "
        "nothing is compared with another day's figures.",
        "",
        "| machine | |",
        "|---|---|",
        f"| CPU | {info['cpu']}, {info['cores']} cores (shared with other work; see load) |",
        f"| memory | {info['memory_gib']:.1f} GiB |",
        f"| OS | {info['os']} |",
        f"| testbed commit | {info['commit']} |",
        f"| compiler (both programs) | {info['compiler']} |",
        f"| Python, NumPy | {info['python']}, {info['numpy']} |",
        f"| testbed kernel build | {info['kernel_build']} (chosen for this CPU; `TESTBED_KERNEL` forces one) |",
        f"| load average (1/5/15 min) | before {load_before}; after {load_average()} |",
        f"| original program | {orig_note} |",
        "",
        f"Workload: {ncell:,} cells x {nyears} years ({cell_days:,} cell-days) of synthetic forcing in one "
        f"uncompressed 64-bit-offset NetCDF file ({grid_text(caches[0]['path'])}), read by "
        f"{'both programs' if has_original else 'the program'}; cold start, C+N (CORPSE: C only; "
        "../shared/bench/original.sh has no CORPSE configuration, so CORPSE is measured for ours only), "
        "annual output; the same parameter sets (the original's CSVs, ours converted from them). "
        f"{args.repeats} repeat{'s' * (args.repeats > 1)}, programs alternating within each repeat; "
        "wall time from start to exit.",
        "",
    ]
    busy = max(
        [float(load_before.split(" / ")[0]), os.getloadavg()[0]] + [r["load"] for rr in runs.values() for r in rr]
    )
    if busy > (info["cores"] or 1):
        lines += [
            f"**The machine was busy** (1-min load average up to {busy:.1f} on {info['cores']} cores): other "
            "jobs shared the CPUs, which slows every program and the 2-worker runs most. The ratios are "
            "still like for like (same run, alternating), but rerun on a quiet machine before quoting them.",
            "",
        ]
    for c in caches:
        lines.append(
            f"Page cache: `{c['file']}` ({c['gb']:.2f} GB) was {_pct(c['before'])} in the page cache "
            f"before this script read it once ({c['read_s']:.1f} s), {_pct(c['after'])} after; "
            f"{_pct(c.get('end'))} at the end of the run. Timed runs read it from memory, not from disk."
        )
    lines += ["", "## 1. Side by side, end to end", ""]
    if not has_original:
        lines += [
            "**No ratio was measured**: the original program was not measured in this run "
            f"({orig_note}). The figures below are absolute.",
            "",
        ]
    ratio_head = "| original's median wall / this median wall (best / best) " if has_original else ""
    lines += [
        "| configuration | program | wall s, best | wall s, median | cell-days/s (median) "
        f"{ratio_head}| peak RSS, all processes (GB, max) |",
        "|---|---|---:|---:|---:|" + ("---:|" if has_original else "") + "---:|",
    ]
    for config, rr in runs.items():
        o = stats(rr, "original", 1)
        for prog in ("original", "ours_w1", "ours_w2"):
            s = stats(rr, prog, 1 if prog == "original" else None)
            if s is None:
                continue
            ratio = f" {_ratio(o['median'], s['median'])} ({_ratio(o['best'], s['best'])}) |" if o else ""
            if has_original and not o:
                ratio = " n/a (original not run) |"
            name = "original (-O2, 1 process)" if prog == "original" else f"testbed, {_workers(int(prog[-1]))}"
            lines.append(
                f"| {config.replace('_', '-').upper()} | {name} | {s['best']:.1f} | {s['median']:.1f} | "
                f"{s['cell_days'] / s['median']:,.0f} |{ratio} {_gb(s['rss_gb'])} |"
            )
    scaling = []
    for config, rr in runs.items():
        w1, w2 = stats(rr, "ours_w1"), stats(rr, "ours_w2")
        if w1 and w2:
            scaling.append(
                f"{config.replace('_', '-').upper()} {_ratio(w1['median'], w2['median'])} "
                f"(best / best {_ratio(w1['best'], w2['best'])})"
            )
    lines += [
        "",
        "Ours: `testbed run` as a user runs it (start-up, validation, met values checked as the first segment "
        "reads them, a local dask cluster whose workers are threads of the run's process, outputs, "
        "checkpoints); its peak RSS is the sum over the process tree, sampled every 0.1 s. The original: its "
        "own peak RSS (`/usr/bin/time`).",
    ]
    if scaling:
        lines += ["", "Ours, 1 worker's median wall / 2 workers' median wall: " + "; ".join(scaling) + "."]
    lines += [
        "",
        "## 2. Kernel compute only, one core",
        "",
        "Ours: the kernel alone on one core, every year's forcing read beforehand. The original: its wall time "
        "minus its wall time with mloop = 0 (reads the met file and sets up, simulates no day), both medians "
        "(best: both bests) of this run.",
        "",
    ]
    if has_original:
        lines += [
            "| configuration | ours kernel s (best / median) | ours cell-days/s (median) | original mloop=0 s "
            "(best / median) | original compute s, median (best) | original cell-days/s | ours / original |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
    else:
        lines += ["| configuration | ours kernel s (best / median) | ours cell-days/s (median) |", "|---|---:|---:|"]
    for config, rr in runs.items():
        k = stats(rr, "kernel")
        row = (
            f"| {config.replace('_', '-').upper()} | {k['best']:.1f} / {k['median']:.1f} | "
            f"{k['cell_days'] / k['median']:,.0f} |"
        )
        o1, o0 = stats(rr, "original", 1), stats(rr, "original", 0)
        if o1 and o0:
            cmed, cbest = o1["median"] - o0["median"], o1["best"] - o0["best"]
            row += (
                f" {o0['best']:.1f} / {o0['median']:.1f} | {cmed:.1f} ({cbest:.1f}) | "
                f"{(k['cell_days'] / cmed) if cmed > 0 else float('nan'):,.0f} | "
                f"{_ratio(cmed, k['median'])} ({_ratio(cbest, k['best'])}) |"
            )
        elif has_original:
            row += " n/a | n/a | n/a | n/a |"
        lines.append(row)
    if has_original:
        lines += [
            "",
            "The original's compute-only figure is a difference of two noisy wall times; read its ratio "
            "as approximate.",
        ]
    lines += [
        "",
        "## 3. Forcing years and peak memory (CASA-CN)",
        "",
        "The same cells with a met file of more years (one cycle of each file). Ours reads the forcing one "
        "year at a time; the original reads the whole file into memory (its row: mloop = 0, the read only).",
        "",
        "| program | met file years | wall s | peak RSS (GB) |",
        "|---|---:|---:|---:|",
    ]
    for r in years_rows:
        name = "original, read only (mloop=0)" if r["program"] == "original" else f"testbed, {_workers(r['workers'])}"
        if "skipped" in r:
            lines.append(f"| {name} | {r['years']} | not run: {r['skipped']} | |")
        else:
            lines.append(f"| {name} | {r['years']} | {r['seconds']:.1f} | {_gb(r['rss_gb'])} |")
    if years_rows:
        ycells = years_rows[-1].get("cells", ncell)
        lines += [
            "",
            f"Cells in this section: {ycells:,}"
            + ("" if ycells == ncell else " (fewer than in section 1, to save time)")
            + ".",
        ]
    lines += [
        "",
        "## 4. Peak memory against chunk size and number of cells (CASA-CN, 1 worker)",
        "",
        "| cells | chunk size | wall s | peak RSS (GB) |",
        "|---:|---:|---:|---:|",
    ]
    for r in mem:
        lines.append(f"| {r['cells']:,} | {r['chunk'] or 'auto'} | {r['seconds']:.1f} | {_gb(r['rss_gb'])} |")
    lines += [
        "",
        "## Every timed run, in order",
        "",
        "| configuration | repeat | program | wall s | peak RSS (GB) | 1-min load at end |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for config, r in sorted(((c, r) for c, rr in runs.items() for r in rr), key=lambda cr: cr[1]["seq"]):
        lines.append(
            f"| {config} | {r['repeat']} | {label(r)} | {r['seconds']:.2f} | {_gb(r['rss_gb'])} | {r['load']:.2f} |"
        )
    return lines


# ------------------------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--one-kernel", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="300 cells x 2 years (8 in section 3), for a smoke test; writes benchmarks/work/"
        "results-quick.md unless --out is given",
    )
    parser.add_argument("--repeats", type=int, default=2, help="repeats of each program (default 2)")
    parser.add_argument("--original-bin", help="the original's binary (default: $TESTBED_ORIGINAL_BIN)")
    parser.add_argument(
        "--original-mirror",
        help="git directory of wwieder/biogeochem_testbed to build the original "
        "from (default: $TESTBED_ORIGINAL_MIRROR)",
    )
    parser.add_argument(
        "--original-build-dir",
        default=str(Path.home() / ".cache" / "testbed-original"),
        help="where to build the original; must be outside the repository (default ~/.cache/testbed-original)",
    )
    parser.add_argument("--no-original", action="store_true", help="measure ours only (no ratio)")
    parser.add_argument("--years-cells", type=int, help="cells in section 3 (default: as section 1)")
    parser.add_argument("--out", help="results file (default benchmarks/results.md)")
    parser.add_argument(
        "--spinup",
        action="store_true",
        help="also run the global MIMICS-CN spin-up benchmark (benchmarks/spinup_bench.py; long)",
    )
    args = parser.parse_args()
    if args.one_kernel:
        d, ny, soil = args.one_kernel
        print(json.dumps(kernel_benchmark(Path(d), int(ny), soil)))
        return
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    started = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    load_before = load_average()
    ncell, nyears, long_years = (300, 2, 8) if args.quick else (4263, 5, 20)
    out_md = Path(args.out) if args.out else (WORK / "results-quick.md" if args.quick else HERE / "results.md")
    WORK.mkdir(exist_ok=True)
    original, orig_note = find_original(args)
    info = machine_info()
    print(f"load average {load_before}; original: {orig_note}", flush=True)
    print(
        f"synthetic domains ({ncell} cells x {nyears} years, {args.years_cells or ncell} x {long_years}) ...",
        flush=True,
    )
    grid = "compact" if args.quick else "full"
    domain = make_domain(ncell, nyears, grid)
    ycells = args.years_cells or ncell
    domain_ys = domain if ycells == ncell else make_domain(ycells, nyears, grid)
    domain_yl = make_domain(ycells, long_years, grid)
    caches = [warm(met_path(domain, nyears))]
    runs = side_by_side(domain, nyears, original, args.repeats)
    caches.append(warm(met_path(domain_yl, long_years)))
    if domain_ys != domain:
        caches.append(warm(met_path(domain_ys, nyears)))
    years_rows = [r | {"cells": ycells} for r in forcing_years(domain_ys, nyears, domain_yl, long_years, original)]
    print("memory against chunk size and cells ...", flush=True)
    half = make_domain(ncell // 2, nyears, grid)
    mem = [
        run_ours(domain, nyears, "casa", 1, "mem_c250", chunk=250) | {"cells": ncell},
        run_ours(domain, nyears, "casa", 1, "mem_c1000", chunk=1000) | {"cells": ncell},
        run_ours(half, nyears, "casa", 1, "mem_half_c250", chunk=250) | {"cells": ncell // 2},
    ]
    for c in caches:
        c["end"] = cached_fraction(c["path"])
    lines = report(
        info, caches, runs, years_rows, mem, orig_note, original is not None, args, ncell, nyears, load_before, started
    )
    # ---- spin-up benchmark: benchmarks/spinup_bench.py (maintained separately) adds its own section here ----
    if args.spinup:
        ok = spinup_section(lines, args.quick)
    else:
        ok = True
        lines += [
            "",
            "## 5. Spin-up",
            "",
            "Not run in this run of the script (it takes long): "
            "`make bench BENCH_ARGS=--spinup`, or `.venv/bin/python benchmarks/spinup_bench.py` "
            "(writes benchmarks/spinup_results.md).",
        ]
    out_md.write_text("\n".join(lines) + "\n")
    raw = {
        "machine": info,
        "caches": [{k: v for k, v in c.items() if k != "path"} for c in caches],
        "runs": runs,
        "forcing_years": years_rows,
        "memory": mem,
    }
    (WORK / f"{out_md.stem}.json").write_text(json.dumps(raw, indent=1))
    print("\n".join(lines))
    print(f"\nwritten: {out_md}")
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
