"""Per-cell accuracy of a spin-up against a long brute-force run of the same domain (docs/spinup.md, "Against a
20,000-year brute force on every 8th global cell").

Both are `benchmarks/spinup_bench.py` runs under benchmarks/work: ACCELERATED any pipeline, BRUTE plain cycling
from cold start with ``--trajectory`` (e.g. ``--set spinup.stages=cycle --set spinup.cycle_max_cycles=1000``). The
brute-force run's per-cycle states become a reference in the format of `spinup_reference.py` (totals every
TRAJECTORY_EVERY cycles), and its acceptance logic judges every vegetated cell and total: within 0.5 % (or 1 g m-2)
of brute force's end state, or explained by brute force's monotone approach and geometric extrapolation.

    python benchmarks/spinup_against.py e8_base e8_brute20k
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import spinup_reference as sr  # noqa: E402

WORK = HERE / "work"
TAG = "run"


def _model_and_totals(name: str):
    from testbed.config import RunConfig
    from testbed.spinup.stages import plan_spinup
    from testbed.state import read_restart

    model = plan_spinup(RunConfig.read(WORK / f"{name}.nml")).stages[-1].model
    state, _ = read_restart(WORK / name / "restart.nc")
    return model, model.soil.totals(model, state)


def reference_from(name: str) -> dict[str, np.ndarray]:
    """The brute-force run ``name`` as a `spinup_reference.py` entry (tag ``run``)."""
    model, final = _model_and_totals(name)
    with np.load(WORK / name / "trajectory.npz") as z:
        years, states = z["years"], z["state"]
    ypc = int(years[1] - years[0])
    # the trajectory holds the state after every cycle but the last, whose state is restart.nc
    eq = list(csv.DictReader((WORK / name / "equilibrium.csv").open()))
    last = int(eq[-1]["years"]) // ypc
    cycles = np.append(years // ypc, last)
    keep = cycles % sr.TRAJECTORY_EVERY == 0
    samples = [
        final if c == last else model.soil.totals(model, np.asfortranarray(states[i]))
        for i, c in zip(np.flatnonzero(keep), cycles[keep], strict=True)
    ]
    ref: dict[str, np.ndarray] = {
        f"{TAG}:active": ~model.domain.inactive(model.casa),
        f"{TAG}:cycles": np.array(last),
        f"{TAG}:years_per_cycle": np.array(ypc),
        f"{TAG}:traj_cycles": cycles[keep],
    }
    rows = list(csv.DictReader((WORK / name / "cells.csv").open()))
    ref[f"{TAG}:lat"] = np.array([float(r["lat"]) for r in rows])
    ref[f"{TAG}:pft"] = np.array([int(r["igbp"]) for r in rows])
    for n, v in final.items():
        ref[f"{TAG}:{n}"] = v
        ref[f"{TAG}:traj_{n}"] = np.array([s[n] for s in samples])
    return ref


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("accelerated", help="run name under benchmarks/work")
    ap.add_argument("brute", help="brute-force run name under benchmarks/work (made with --trajectory)")
    args = ap.parse_args(argv)
    ref = reference_from(args.brute)
    _, totals = _model_and_totals(args.accelerated)
    active = ref[f"{TAG}:active"].astype(bool)
    print(
        f"{args.accelerated} against {args.brute}: {int(ref[f'{TAG}:cycles'])} brute-force cycles of "
        f"{int(ref[f'{TAG}:years_per_cycle'])} years, {active.sum()} vegetated cells"
    )
    for k, v in sr.compare(ref, TAG, totals).items():
        print(f"  {k}: {v:.4g}" if isinstance(v, float) else f"  {k}: {v}")
    for line in sr.failed_cells(ref, TAG, totals):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
