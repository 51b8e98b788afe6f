"""Brute-force spin-up reference for the accuracy test of the accelerated methods (docs/spinup.md).

For each configuration (CASA-C, CASA-CN, MIMICS-C, MIMICS-CN) on the 64-cell synthetic domain of
:func:`reference_domain` (every vegetated IGBP type, a 5-year forcing cycle), cycles the forcing
from cold start -- in process, one kernel call per year for all cells, budgets checked every
year -- until criteria 10 times tighter than the defaults hold in every total (soil C, vegetation
C, microbial C, soil N), or ``--max-cycles``. Stores per cell the final totals (g m-2), the last
per-cycle changes (for the drift extrapolation of cells brute force cannot settle) and the
number of cycles in tests/data/spinup_reference.npz (compressed, small).

    .venv/bin/python benchmarks/spinup_reference.py [--max-cycles 4000] [--configs casa_c ...]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from forcing_tools.synthetic import make_synthetic_domain  # noqa: E402
from testbed.config import RunConfig  # noqa: E402
from testbed.spinup.criteria import diagnose  # noqa: E402
from testbed.spinup.stages import plan_spinup  # noqa: E402
from testbed.spinup.tasks import CycleJob, cycle_chunk  # noqa: E402

CONFIGS = {"casa_c": ("casa", "c"), "casa_cn": ("casa", "cn"), "mimics_c": ("mimics", "c"),
           "mimics_cn": ("mimics", "cn")}
NCELL, SEED, YEARS = 64, 7, range(1901, 1906)
TIGHTER = 10.0
OUTPUT = ROOT / "tests" / "data" / "spinup_reference.npz"


def reference_domain(folder: Path) -> Path:
    """The reference's synthetic domain (same arguments give identical files); returns the forcing folder."""
    forcing = folder / "forcing"
    if not (forcing / f"met_{YEARS[0]}_{YEARS[-1]}.nc").exists():
        make_synthetic_domain(forcing, ncell=NCELL, years=YEARS, seed=SEED, per_year=False, multi_year=True)
    return forcing


def reference_config(forcing: Path, tag: str, output_dir: Path) -> RunConfig:
    soil_model, cycle = CONFIGS[tag]
    variables = "soil_c veg_c mic_c" + (" soil_n" if cycle == "cn" else "")
    cfg = RunConfig.defaults()
    cfg.override([f"files.gridinfo={forcing / 'gridinfo_igbpz.csv'}", f"files.soil={forcing / 'gridinfo_soil.csv'}",
                  f"files.met={forcing / f'met_{YEARS[0]}_{YEARS[-1]}.nc'}", f"files.output_dir={output_dir}",
                  f"run.soil_model={soil_model}", f"run.cycle={cycle}", "spinup.stages=cycle",
                  f"spinup.criteria_variables={variables}"])
    return cfg


def brute_force(cfg: RunConfig, max_cycles: int, log_every: int = 100) -> dict[str, np.ndarray]:
    """Plain cycling from the configuration's start until the tighter criteria hold (in process)."""
    plan = plan_spinup(cfg)
    stage = plan.stages[0]
    model = stage.model
    crit = plan.criteria.tighter(TIGHTER)
    active = ~model.domain.inactive(model.casa)
    state = plan.state
    t0 = time.perf_counter()
    for k in range(max_cycles):
        job = CycleJob(slice(0, model.ncell), stage.steps, "cycle", k == 0, True)
        r = cycle_chunk(job, model, state, None)
        d = diagnose(r.before, r.after, model.domain.area, active, crit)
        state = r.phi
        if (k + 1) % log_every == 0 or d.met:
            print(f"  cycle {k + 1}: dSOC {d.global_delta['soil_c']:+.2e} Pg, settled "
                  + ", ".join(f"{n} {100 * v:.1f} %" for n, v in d.fraction_settled.items())
                  + f" ({time.perf_counter() - t0:.0f} s)", flush=True)
        if d.met:
            break
    out = {f"{n}": v for n, v in r.after.items()}
    out.update({f"delta_{n}": r.after[n] - r.before[n] for n in r.after})
    out["cycles"] = np.array(k + 1)
    out["years_per_cycle"] = np.array(len(stage.steps))
    out["met"] = np.array(bool(d.met))
    out["active"] = active
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--max-cycles", type=int, default=4000)
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    ap.add_argument("--work", type=Path, default=Path("/tmp/spinup_reference"))
    ap.add_argument("--output", type=Path, default=OUTPUT)
    args = ap.parse_args(argv)
    forcing = reference_domain(args.work)
    stored = dict(np.load(args.output)) if args.output.exists() else {}
    for tag in args.configs:
        print(f"{tag}: brute force to criteria {TIGHTER:g}x tighter than the defaults", flush=True)
        res = brute_force(reference_config(forcing, tag, args.work / tag), args.max_cycles)
        for k, v in res.items():
            stored[f"{tag}:{k}"] = v
        args.output.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(args.output, **stored)
        print(f"{tag}: {int(res['cycles'])} cycles ({int(res['cycles'] * res['years_per_cycle'])} years), "
              f"criteria {'met' if res['met'] else 'NOT met'}; stored in {args.output}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
