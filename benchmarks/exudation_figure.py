"""Paired exudation runs on the synthetic domain: the figure and numbers of docs/exudation.md.

MIMICS-CN on a synthetic latitude-gradient domain (testbed.forcing_tools.synthetic): a cold start is cycled over
the met years (``--spin`` years) without exudation; from that state the same ``--years`` years are run without
exudation and with plant-debited exudation (5 % of GPP, capped by NPP, route 1: direct microbial uptake) at
exudate C:N 10, 40 and 100. Per cell, the differences (on - off) of the end-of-period soil C and microbial C and
of the summed net N mineralisation are divided by the summed exudate C; the figure shows their zonal means.
Every year's C and N budgets are checked to 1e-12 (run_years). Usage:

    python benchmarks/exudation_figure.py [--cells 90] [--spin 60] [--years 10] [--out docs/images/exudation_zonal.png]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cells", type=int, default=90)
    parser.add_argument("--spin", type=int, default=60, help="spin-up years (cycling the met years)")
    parser.add_argument("--years", type=int, default=10, help="years of the paired runs")
    parser.add_argument("--frac", type=float, default=0.05)
    parser.add_argument("--out", type=Path, default=Path("docs/images/exudation_zonal.png"))
    args = parser.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from testbed import layout
    from testbed.config import RunConfig
    from testbed.exudation import Exudation
    from testbed.forcing_tools.synthetic import make_synthetic_domain
    from testbed.run import cycle_schedule, run_years
    from testbed.runner import build_model

    work = Path(tempfile.mkdtemp(prefix="exudation_pair_"))
    paths = make_synthetic_domain(
        work, ncell=args.cells, years=range(1901, 1901 + args.years), per_year=False, multi_year=True
    )
    gridinfo, soil, _ = paths["tables"]
    met = paths["met_multi"][0]
    cfg = RunConfig.defaults()
    cfg.override(
        [
            "run.soil_model=mimics",
            "run.cycle=cn",
            f"files.gridinfo={gridinfo}",
            f"files.soil={soil}",
            f"files.met={met}",
        ]
    )
    base = build_model(cfg)
    col = {n: layout.index("diag", n) for n in layout.DIAGNOSTICS}

    def run(model, state, years, keep: bool = True):
        steps = cycle_schedule(met, -(-years // args.years))[:years]
        annual, last = [], None
        for res in run_years(model, state, steps):
            if keep:
                annual.append(res.annual)
            last = res.state
        return (np.stack(annual) if keep else None), last

    _, spun = run(base, base.cold_state(), args.spin, keep=False)
    print(f"spun up {args.spin} years on {base.ncell} cells")

    def soil_c(a):  # annual mean of the MIMICS pools (g m-2): sum of daily values / 365, of the last year
        return sum(a[-1][:, col[n]] for n in ("litm", "lits", "micr", "mick", "soma", "somc", "somp")) / 365.0

    def mic_c(a):
        return (a[-1][:, col["micr"]] + a[-1][:, col["mick"]]) / 365.0

    off, _ = run(base, spun.copy(order="F"), args.years)
    results = {}
    for cn in (10.0, 40.0, 100.0):
        ex = Exudation(mode="plant", frac=args.frac, cn=cn, route_mimics=1)
        model = dataclasses.replace(base, exudation=ex)
        on, _ = run(model, spun.copy(order="F"), args.years)
        cex = on[:, :, col["cexudate"]].sum(axis=0)
        ok = cex > 0
        per = {
            "soil C": (soil_c(on) - soil_c(off)) / np.where(ok, cex, np.nan),
            "microbial C": (mic_c(on) - mic_c(off)) / np.where(ok, cex, np.nan),
            "net N mineralisation": (on[:, :, col["nnetmin"]].sum(0) - off[:, :, col["nnetmin"]].sum(0))
            / np.where(ok, cex, np.nan),
            "heterotrophic respiration": (on[:, :, col["rh"]].sum(0) - off[:, :, col["rh"]].sum(0))
            / np.where(ok, cex, np.nan),
        }
        results[cn] = per
        tot = cex[ok].sum()
        print(
            f"C:N {cn:5.0f}: sum Cex {tot:10.1f} g m-2 over {ok.sum()} cells; per unit exudate C (cell means): "
            + ", ".join(f"{k} {np.nanmean(v):+.3f}" for k, v in per.items())
        )

    lat = base.domain.lat
    bins = np.arange(-90, 91, 15)
    centre = 0.5 * (bins[1:] + bins[:-1])
    idx = np.digitize(lat, bins) - 1
    names = ("soil C", "microbial C", "net N mineralisation")
    fig, axes = plt.subplots(1, len(names), figsize=(11, 3.6), sharey=True, constrained_layout=True)
    for ax, name in zip(axes, names, strict=True):
        for cn, per in results.items():
            v = per[name]
            zm = np.array(
                [np.nanmean(v[idx == b]) if np.any((idx == b) & np.isfinite(v)) else np.nan for b in range(centre.size)]
            )
            ax.plot(zm, centre, marker="o", label=f"exudate C:N {cn:.0f}")
        ax.axvline(0.0, color="0.6", lw=0.8)
        unit = "g N per g exudate C" if "N" in name.split()[-2:] else "g C per g exudate C"
        ax.set_xlabel(f"Δ {name}\n({unit})")
        ax.set_title(name)
    axes[0].set_ylabel("latitude")
    axes[0].legend(fontsize=8)
    fig.suptitle(
        f"MIMICS-CN, synthetic domain ({base.ncell} cells): plant-debited exudation ({args.frac:.0%} of GPP, route 1) "
        f"minus none, years 1-{args.years} after a {args.spin}-year spin-up; zonal means per unit exudate C",
        fontsize=9,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"figure: {args.out}")


if __name__ == "__main__":
    main()
