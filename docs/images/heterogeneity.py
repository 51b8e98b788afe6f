"""Figure of docs/moisture_heterogeneity.md: soil C after a long MIMICS-CN run with the heterogeneity correction
against the same run without it, by latitude band.

Synthetic domain (120 cells, 3 met years cycled for 300 years from the cold start; not checked to be at steady state),
CV = 0.3 for every MIMICS pool and rho = -0.3, 0 or +0.3 for every substrate-microbe pair.
Run: .venv/bin/python docs/images/heterogeneity.py  (a few minutes).
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from testbed import layout  # noqa: E402
from testbed.api import load_model  # noqa: E402
from testbed.forcing_tools.synthetic import make_synthetic_domain  # noqa: E402
from testbed.run import cycle_schedule, run_years  # noqa: E402
from testbed.scenarios import MIMICS_CV_POOLS, MIMICS_RHO, Heterogeneity  # noqa: E402

NYEAR = 300
SOIL_C = ("litm", "lits", "micr", "mick", "soma", "somc", "somp")


def soil_carbon(model, met: Path) -> np.ndarray:
    """g C m-2 of the MIMICS pools at the end of the run."""
    state = model.cold_state()
    steps = cycle_schedule(met, NYEAR // 3)
    for _ in run_years(model, state, steps):
        pass
    conv = model.soil.state_to_gm2(model)
    return sum(state[:, layout.index("state", p)] for p in SOIL_C) * conv


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        make_synthetic_domain(tmp, ncell=120, years=range(1901, 1904), per_year=False, multi_year=True)
        met = next(tmp.glob("met_*.nc"))
        base = load_model(tmp / "gridinfo_igbpz.csv", tmp / "gridinfo_soil.csv", soil_model="mimics")
        act = ~base.domain.inactive(base.casa)
        c0 = soil_carbon(base, met)
        out = {}
        for rho in (-0.3, 0.0, 0.3):
            het = Heterogeneity(
                het_mm=True,
                cv=dict.fromkeys(MIMICS_CV_POOLS, 0.3),
                rho={**dict.fromkeys(MIMICS_RHO, rho), "ox_r": rho, "ox_k": rho},
            )
            out[rho] = soil_carbon(dataclasses.replace(base, heterogeneity=het), met)
    lat = base.domain.lat
    edges = np.arange(-90, 91, 30)
    mid = (edges[:-1] + edges[1:]) / 2
    fig, ax = plt.subplots(figsize=(6, 4))
    for rho, c in out.items():
        ratio = [
            np.sum(c[act & (lat >= a) & (lat < b)]) / np.sum(c0[act & (lat >= a) & (lat < b)])
            if np.any(act & (lat >= a) & (lat < b))
            else np.nan
            for a, b in zip(edges[:-1], edges[1:], strict=True)
        ]
        ax.plot(mid, 100 * (np.array(ratio) - 1), "o-", label=f"rho = {rho:+.1f}")
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set_xlabel("latitude band centre (degrees north)")
    ax.set_ylabel("change of MIMICS soil C (%)")
    ax.set_title(f"heterogeneity correction, CV = 0.3, after {NYEAR} years")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(__file__).with_name("heterogeneity.png")
    fig.savefig(path, dpi=110)
    print(path)


if __name__ == "__main__":
    main()
