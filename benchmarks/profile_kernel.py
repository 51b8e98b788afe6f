"""Kernel-only throughput (cell-days/s) of CASA-C, CASA-CN, MIMICS-C and MIMICS-CN on one core.

The domain is run_benchmarks.py's (4,263 real CLM land cells when ../shared/reference/global is
there, synthetic forcing). Every year's forcing is read into memory first; only the kernel calls
are timed, cold start, no daily output. Each configuration is run ``--repeat`` times and the best
(highest) rate is printed, per wall second and per CPU second of the calling thread (the latter is
less sensitive to other processes on a shared machine), with the load average.

``--save out.npz`` also writes the final state and the last year's annual sums of every
configuration, so that two builds can be compared bit for bit with ``--compare``. The kernel build is the
one ``testbed.kernel`` chose at import; ``TESTBED_KERNEL=baseline|avx2|avx512`` forces one.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
from run_benchmarks import make_domain, met_path, time_kernel

CONFIGS = (("casa", "c"), ("casa", "cn"), ("mimics", "c"), ("mimics", "cn"))


def load(domain: Path, soil_model: str, cycle: str, nyear: int):
    """The model and the first ``nyear`` years of forcing, in memory."""
    from testbed.config import RunConfig
    from testbed.forcing import MetFile
    from testbed.runner import build_model

    cfg = RunConfig.defaults()
    cfg.override(
        [
            f"run.soil_model={soil_model}",
            f"run.cycle={cycle}",
            f"files.gridinfo={domain / 'gridinfo_igbpz.csv'}",
            f"files.soil={domain / 'gridinfo_soil.csv'}",
            f"files.met={met_path(domain, 5)}",
        ]
    )
    model = build_model(cfg)
    met = MetFile.open(met_path(domain, 5))
    return model, [met.read_year(y) for y in range(min(nyear, met.nyear))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cells", type=int, default=4263)
    parser.add_argument("--years", type=int, default=5, help="years of the 5-year domain to run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", nargs="*", default=None, help="e.g. mimics-cn casa-c")
    parser.add_argument("--save", type=Path, help="write final states and annual sums (npz)")
    parser.add_argument("--compare", type=Path, help="compare with a --save file, bit for bit")
    args = parser.parse_args()

    domain = make_domain(args.cells, 5)
    saved = {}
    from testbed import kernel

    print(f"kernel build: {kernel.BUILD} (TESTBED_KERNEL chooses); load average before: {os.getloadavg()[0]:.2f}")
    for soil_model, cycle in CONFIGS:
        tag = f"{soil_model}-{cycle}"
        if args.only and tag not in args.only:
            continue
        model, forcings = load(domain, soil_model, cycle, args.years)
        cell_days = model.ncell * 365 * len(forcings)
        walls, cpus = [], []
        for _ in range(args.repeat):
            wall, cpu, state, annual = time_kernel(model, forcings)
            walls.append(cell_days / wall)
            cpus.append(cell_days / cpu)
        saved[f"{tag}/state"], saved[f"{tag}/annual"] = state, annual
        print(
            f"{tag.upper():10s} {model.ncell} cells x {len(forcings)} y: best {max(walls):12,.0f} cell-days/s wall, "
            f"{max(cpus):12,.0f} per CPU second (wall runs: {', '.join(f'{r:,.0f}' for r in walls)}; "
            f"load {os.getloadavg()[0]:.2f})",
            flush=True,
        )
    if args.save:
        np.savez(args.save, **saved)
    if args.compare:
        ref = np.load(args.compare)
        for key, value in saved.items():
            same = np.array_equal(value.view(np.uint64), ref[key].view(np.uint64))
            print(f"{key}: {'bit-identical' if same else 'DIFFERENT'}")


if __name__ == "__main__":
    main()
