"""Figure of docs/moisture_heterogeneity.md: the response of HR and net N mineralisation to a dry spell.

Synthetic domain (60 cells, 1901-1903), cold start, CASA-CN with the psi scalar and MIMICS-CN with fWFunction 4;
a 7-day spell at -450 hPa from day 160 of year 3 against the same runs without it. Domain means.
Run: .venv/bin/python docs/images/dry_spell.py  (about a minute).
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
from testbed.scenarios import DrySpell, MoistureOptions  # noqa: E402

D0, NDAYS, YEARS = 160, 7, 3


def series(model, met: Path) -> dict[str, np.ndarray]:
    steps = cycle_schedule(met, 1, daily=True)[:YEARS]
    last = None
    for res in run_years(model, model.cold_state(), steps):
        last = res.daily
    act = ~model.domain.inactive(model.casa)
    return {n: last[act, layout.index("diag", n), :].mean(axis=0) for n in ("rh", "nnetmin", "moistavg")}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        make_synthetic_domain(tmp, ncell=60, years=range(1901, 1901 + YEARS), per_year=False, multi_year=True)
        met = next(tmp.glob("met_*.nc"))
        grid, soil = tmp / "gridinfo_igbpz.csv", tmp / "gridinfo_soil.csv"
        spell = DrySpell(start=D0, days=NDAYS, psi=-450.0, years=(YEARS,))
        runs = {}
        casa = load_model(grid, soil, soil_model="casa")
        casa = dataclasses.replace(casa, moisture=MoistureOptions(fw_psi=True))
        runs["CASA-CN"] = (series(casa, met), series(dataclasses.replace(casa, dry_spell=spell), met))
        mim = load_model(grid, soil, soil_model="mimics")
        mim.soil_params.fw_function = 4
        mim = dataclasses.replace(mim)
        runs["MIMICS-CN"] = (series(mim, met), series(dataclasses.replace(mim, dry_spell=spell), met))
    days = np.arange(1, 366)
    win = (days >= D0 - 20) & (days <= D0 + 40)
    fig, axes = plt.subplots(2, 2, figsize=(9, 5.5), sharex=True)
    for col, (name, (base, dry)) in enumerate(runs.items()):
        for row, (var, label) in enumerate((("rh", "HR (g C m-2 d-1)"), ("nnetmin", "net N min. (g N m-2 d-1)"))):
            ax = axes[row, col]
            ax.plot(days[win], base[var][win], label="no dry spell")
            ax.plot(days[win], dry[var][win], label=f"dry spell, -450 hPa, days {D0}-{D0 + NDAYS - 1}")
            ax.axvspan(D0, D0 + NDAYS, color="0.9")
            ax.set_ylabel(label)
            if row == 0:
                ax.set_title(name)
            if row == 1:
                ax.set_xlabel("day of year (year 3)")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    out = Path(__file__).with_name("dry_spell.png")
    fig.savefig(out, dpi=110)
    print(out)


if __name__ == "__main__":
    main()
