"""Wall time of a MIMICS-CN spin-up from cold start to the default criteria (docs/spinup.md "Benchmark").

The 4,263-cell synthetic global domain (the reference gridinfo and soil tables of
../shared/reference/global, as benchmarks/run_benchmarks.py), per-year met files 1901-1920 (the
published workflow's forcing cycle), `testbed spinup` with its default stages on 2 workers. Next
to it: the brute-force time, extrapolated from the measured time per plain cycle and the number
of cycles brute force needs (``--brute-cycles``, default 1000: the published workflow's 2 x 499
cycles of 1901-1920 after its prespin).

    .venv/bin/python benchmarks/spinup_bench.py                    # the full benchmark (~15+ min)
    .venv/bin/python benchmarks/spinup_bench.py --cells 200 --max-cycles 3   # a quick check that it works

Writes benchmarks/spinup_results.md (and the run folder under benchmarks/work/).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
WORK = REPO / "benchmarks" / "work"
YEARS = (1901, 1920)


def make_domain(ncell: int) -> Path:
    """Per-year synthetic met files 1901-1920 for ``ncell`` cells (global tables for 4,263; cached)."""
    from testbed.forcing_tools.synthetic import make_synthetic_domain

    out = WORK / f"spinup_domain_{ncell}"
    if (out / f"met_{YEARS[1]}_{YEARS[1]}.nc").exists():
        return out
    shared = Path(os.environ.get("TESTBED_REFERENCE_DIR", REPO.parent / "shared" / "reference"))
    kw = {}
    if ncell == 4263 and (shared / "global" / "gridinfo_igbpz_CLM5_GSWP3.csv").exists():
        kw = {
            "gridinfo": shared / "global" / "gridinfo_igbpz_CLM5_GSWP3.csv",
            "soil": shared / "global" / "gridinfo_soil_CLM5_GSWP3.csv",
        }
    make_synthetic_domain(
        out, ncell=ncell, years=range(YEARS[0], YEARS[1] + 1), seed=2024, per_year=True, multi_year=False, **kw
    )
    return out


def make_subset(domain: Path, every: int, offset: int = 0) -> Path:
    """Every ``every``-th cell of ``domain`` from cell ``offset`` (0-based; gridinfo, soil table and met files;
    cached): a cheaper domain with the same mix of latitudes and PFTs, for tuning."""
    import dataclasses

    import numpy as np
    from netCDF4 import Dataset

    from testbed.forcing_tools.metfile import read_gridinfo, read_soil, write_gridinfo, write_soil

    out = WORK / (f"{domain.name}_every{every}" + (f"_from{offset}" if offset else ""))
    if (out / f"met_{YEARS[1]}_{YEARS[1]}.nc").exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    grid, soil = read_gridinfo(domain / "gridinfo_igbpz.csv"), read_soil(domain / "gridinfo_soil.csv")
    keep = list(range(offset, len(grid), every))
    # ilat: the row's point in the subset met files (compact layout, one cell per lat)
    write_gridinfo(out / "gridinfo_igbpz.csv", [dataclasses.replace(grid[i], ilat=k + 1) for k, i in enumerate(keep)])
    write_soil(out / "gridinfo_soil.csv", [soil[i] for i in keep])
    for year in range(YEARS[0], YEARS[1] + 1):
        name = f"met_{year}_{year}.nc"
        with Dataset(domain / name) as src, Dataset(out / name, "w", format="NETCDF4") as dst:
            dst.setncatts(src.__dict__)
            for n, d in src.dimensions.items():
                dst.createDimension(n, len(keep) if n == "lat" else len(d))
            for n, v in src.variables.items():
                o = dst.createVariable(n, v.dtype, v.dimensions)
                o.setncatts(v.__dict__)
                o[:] = np.take(v[:], keep, axis=v.dimensions.index("lat")) if "lat" in v.dimensions else v[:]
    return out


def write_namelist(
    domain: Path,
    out: Path,
    workers: int,
    max_cycles: int | None,
    soil_model: str = "mimics",
    cycle: str = "cn",
    extra: tuple[str, ...] = (),
) -> Path:
    from testbed.config import RunConfig, namelist_text

    cfg = RunConfig.defaults()
    settings = [
        f"run.soil_model={soil_model}",
        f"run.cycle={cycle}",
        f"run.first_year={YEARS[0]}",
        f"run.last_year={YEARS[1]}",
        f"files.gridinfo={domain / 'gridinfo_igbpz.csv'}",
        f"files.soil={domain / 'gridinfo_soil.csv'}",
        f"files.met={domain / 'met_{year}_{year}.nc'}",
        f"files.output_dir={out}",
        f"parallel.workers={workers}",
    ]
    if max_cycles is not None:
        settings += [
            f"spinup.accelerate_max_cycles={max_cycles}",
            f"spinup.cycle_max_cycles={max_cycles}",
            f"spinup.prespin_cycles={max_cycles}",
        ]
    cfg.override(settings + list(extra))
    out.parent.mkdir(parents=True, exist_ok=True)
    path = out.parent / f"{out.name}.nml"
    path.write_text(namelist_text(cfg))
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cells", type=int, default=4263)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--max-cycles", type=int, default=None, help="cap every stage (a reduced check)")
    ap.add_argument(
        "--brute-cycles",
        type=int,
        default=1000,
        help="forcing cycles brute force needs, for the extrapolated brute-force time",
    )
    ap.add_argument(
        "--every",
        type=int,
        default=1,
        help="only every N-th cell of the domain (a subset with the same mix, for tuning)",
    )
    ap.add_argument("--offset", type=int, default=0, help="with --every: the subset starts at this cell (0-based)")
    ap.add_argument(
        "--set", action="append", default=[], metavar="GROUP.KEY=VALUE", help="more namelist settings (repeatable)"
    )
    ap.add_argument(
        "--save-prespin",
        type=Path,
        default=None,
        metavar="NPZ",
        help="also save the checkpoint at the end of the prespin here (variants then start from it: --from-prespin)",
    )
    ap.add_argument(
        "--save-at",
        type=int,
        default=1,
        help="--save-prespin saves the checkpoint at the start of this stage (1-based)",
    )
    ap.add_argument(
        "--from-prespin",
        type=Path,
        default=None,
        metavar="NPZ",
        help="start from a checkpoint saved by --save-prespin (its configuration's stages after the prespin must be "
        "the only difference: the checkpoint is re-signed for this run's configuration and resumed)",
    )
    ap.add_argument(
        "--trajectory",
        action="store_true",
        help="save the prognostic state of every cycle after the prespin (of every cycle without one) to "
        "trajectory.npz in the run folder",
    )
    ap.add_argument("--name", default=None, help="run folder name under benchmarks/work (default: from the options)")
    ap.add_argument("--soil-model", default="mimics")
    ap.add_argument("--cycle", default="cn", choices=("c", "cn"))
    ap.add_argument("--method", default=None, help="spinup.accelerate_method (default: the namelist default)")
    ap.add_argument(
        "--brute",
        type=int,
        default=0,
        metavar="MAX_CYCLES",
        help="also run brute force (plain cycling, at most MAX_CYCLES cycles) to the default criteria and compare "
        "simulated years and wall time; appends a section to spinup_results.md",
    )
    args = ap.parse_args(argv)
    if args.brute:
        return against_brute_force(args)
    from testbed.config import RunConfig
    from testbed.spinup import run_spinup
    from testbed.spinup.stages import stage_names

    domain = make_domain(args.cells)
    subset = args.every > 1 or args.offset > 0  # --every 1 --offset N: the cells from N on
    if subset:
        domain = make_subset(domain, args.every, args.offset)
    out = (
        WORK / f"spinup_mimics_cn_{args.cells}"
        if args.method is None
        else WORK / f"spinup_mimics_cn_{args.cells}_{args.method}"
    )
    if subset:
        out = out.with_name(f"{out.name}_every{args.every}" + (f"_from{args.offset}" if args.offset else ""))
    if args.name:
        out = WORK / args.name
    method = (() if args.method is None else (f"spinup.accelerate_method={args.method}",)) + tuple(args.set)
    nml = write_namelist(domain, out, args.workers, args.max_cycles, extra=method)
    cfg = RunConfig.read(nml)
    resume = args.from_prespin is not None
    if resume:
        _start_from(args.from_prespin, out, cfg.sha256())
    t0 = time.perf_counter()
    first = 1 if stage_names(cfg)[0] == "prespin" else 0  # the stages as the pipeline reads them (commas too)
    with _recording(out, args.save_prespin, args.trajectory, args.save_at, first):
        run_spinup(cfg, overwrite=not resume, resume=resume, workers=args.workers)
    wall = time.perf_counter() - t0
    rows = list(csv.DictReader((out / "equilibrium.csv").open()))
    full = [r for r in rows if r["stage"] == "cycle"] or [r for r in rows if r["stage"] == "accelerate"]
    per_cycle = sum(float(r["seconds"]) for r in full) / max(len(full), 1)
    years = int(rows[-1]["years"])
    met = rows[-1]["criteria_met"] == "1"
    brute = per_cycle * args.brute_cycles
    capped = "" if args.max_cycles is None else f", stages capped at {args.max_cycles} cycles"
    text = "\n".join(
        [
            "# Spin-up benchmark (benchmarks/spinup_bench.py)",
            "",
            f"MIMICS-CN, {args.cells} cells, per-year met files {YEARS[0]}-{YEARS[1]}, {args.workers} workers, "
            f"default stages and criteria{capped}; accelerate method {args.method or 'default (auto)'}.",
            "",
            "| quantity | value |",
            "|---|---:|",
            f"| wall time of `testbed spinup` (cold start to the end) | {wall:.0f} s ({wall / 60:.1f} min) |",
            f"| simulated years | {years} |",
            f"| criteria met | {'yes' if met else 'no'} |",
            f"| time per 20-year cycle (slowest chunk) | {per_cycle:.1f} s |",
            f"| brute force, {args.brute_cycles} cycles (extrapolated) | {brute:.0f} s ({brute / 3600:.1f} h) |",
            f"| simulated years, accelerated / brute force | {years / (20 * args.brute_cycles):.3f} |",
            "",
        ]
    )
    # a tuning run (a subset, or a variant from a saved prespin) keeps its summary in its run folder
    tuning = subset or resume or args.name is not None
    target = out / "summary.md" if tuning else REPO / "benchmarks" / "spinup_results.md"
    target.write_text(text)
    print(text)
    return 0


def _start_from(saved: Path, out: Path, sha: str) -> None:
    """Put the prespin checkpoint ``saved`` into the run folder ``out``, signed for the configuration ``sha``."""
    import json
    import shutil

    import numpy as np

    from testbed.spinup.pipeline import CHECKPOINT

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    with np.load(saved) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"]))
    meta["sha"] = sha
    arrays["meta"] = np.array(json.dumps(meta))
    with (out / CHECKPOINT).open("wb") as f:
        np.savez(f, **arrays)


class _recording:
    """Benchmark-only hooks on the driver's checkpoint writes: keep the one at the end of the prespin (stage 1,
    cycle 0) at ``save``, and the prognostic state of every cycle from stage ``first`` on (1: after the prespin; 0:
    every cycle, for a run without one) in ``out``/trajectory.npz."""

    def __init__(self, out: Path, save: Path | None, trajectory: bool, save_at: int = 1, first: int = 1) -> None:
        self.out, self.save, self.trajectory, self.save_at, self.first = out, save, trajectory, save_at, first
        self.years: list[int] = []
        self.states: list = []
        self.jumped: list = []
        self.failures: list = []

    def __enter__(self) -> _recording:
        import shutil

        import numpy as np

        from testbed.spinup import pipeline

        self.cls = pipeline._Checkpoint
        self.orig = self.cls.write
        rec = self

        def write(ck, **kw):
            rec.orig(ck, **kw)
            if rec.save is not None and kw["stage"] == rec.save_at and kw["cycle"] == 0:
                rec.save.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(ck.path, rec.save)
            if rec.trajectory and kw["stage"] >= rec.first and kw["cycle"] > 0:
                rec.years.append(kw["years"])
                rec.states.append(kw["state"].copy())
                mem = kw["memory"] or {}
                rec.jumped.append(mem["jumped"].copy() if "jumped" in mem else np.zeros(len(kw["state"]), bool))
                rec.failures.append(mem["failures"].copy() if "failures" in mem else np.zeros(len(kw["state"]), int))

        self.cls.write = write
        return self

    def __exit__(self, *exc) -> None:
        import numpy as np

        self.cls.write = self.orig
        if self.trajectory and self.states:
            np.savez_compressed(
                self.out / "trajectory.npz",
                years=np.array(self.years),
                state=np.stack(self.states),
                jumped=np.stack(self.jumped),
                failures=np.stack(self.failures),
            )


def _spinup(domain: Path, out: Path, args: argparse.Namespace, extra: tuple[str, ...]) -> tuple[float, int, bool]:
    """Wall time, simulated years and whether the criteria were met of one `testbed spinup`."""
    from testbed.config import RunConfig
    from testbed.spinup import run_spinup

    nml = write_namelist(domain, out, args.workers, None, args.soil_model, args.cycle, extra)
    t0 = time.perf_counter()
    run_spinup(RunConfig.read(nml), overwrite=True, workers=args.workers, progress=False)
    wall = time.perf_counter() - t0
    rows = list(csv.DictReader((out / "equilibrium.csv").open()))
    return wall, int(rows[-1]["years"]), rows[-1]["criteria_met"] == "1"


def against_brute_force(args: argparse.Namespace) -> int:
    """The accelerated pipeline and brute force (plain cycling from cold start), both to the default criteria."""
    domain = make_domain(args.cells)
    tag = f"{args.soil_model}_{args.cycle}_{args.cells}"
    method = () if args.method is None else (f"spinup.accelerate_method={args.method}",)
    acc = _spinup(domain, WORK / f"spinup_{tag}_accelerated", args, method)
    brute = _spinup(
        domain, WORK / f"spinup_{tag}_brute", args, ("spinup.stages=cycle", f"spinup.cycle_max_cycles={args.brute}")
    )
    name = f"{args.soil_model.upper()}-{args.cycle.upper()}"
    lines = [
        "",
        f"## {name}, {args.cells} cells: accelerated (`{args.method or 'default'}`) against brute force",
        "",
        f"`benchmarks/spinup_bench.py --soil-model {args.soil_model} --cycle {args.cycle} --cells {args.cells} "
        f"--workers {args.workers}{' --method ' + args.method if args.method else ''} --brute {args.brute}`: "
        f"synthetic domain, per-year met files {YEARS[0]}-{YEARS[1]}, default stages and criteria; brute force is "
        f"plain cycling from cold start (at most {args.brute} cycles).",
        "",
        "| | simulated years | wall time | criteria met |",
        "|---|---:|---:|---|",
        f"| accelerated | {acc[1]} | {acc[0]:.0f} s | {'yes' if acc[2] else 'no'} |",
        f"| brute force | {brute[1]} | {brute[0]:.0f} s | {'yes' if brute[2] else 'no (a lower bound)'} |",
        f"| ratio | {acc[1] / brute[1]:.3f} | {acc[0] / brute[0]:.3f} | |",
        "",
    ]
    text = "\n".join(lines)
    target = REPO / "benchmarks" / "spinup_results.md"
    target.write_text(target.read_text().rstrip("\n") + "\n" + text)
    print(text)
    return 0


def run(lines: list[str], quick: bool = False) -> None:
    """The hook of benchmarks/run_benchmarks.py (`make bench BENCH_ARGS=--spinup`): adds the results section."""
    main(["--cells", "200", "--max-cycles", "3"] if quick else [])
    text = (REPO / "benchmarks" / "spinup_results.md").read_text().splitlines()
    lines += ["", "## 5. Spin-up", ""] + text[1:]


if __name__ == "__main__":
    sys.exit(main())
