"""The in-memory API: a few lines from tables and a met file to xarray datasets with units."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from testbed.api import load_model, simulate
from testbed.forcing_tools.synthetic import make_synthetic_domain


def test_simulate_returns_daily_and_annual_datasets_with_units(tmp_path: Path) -> None:
    paths = make_synthetic_domain(tmp_path, ncell=4, years=[1901, 1902], seed=5, per_year=False)
    model = load_model(paths["tables"][0], paths["tables"][1], soil_model="mimics", cycle="cn")
    daily, annual = simulate(model, paths["met_multi"][0], years=3)
    assert daily.sizes["time"] == 3 * 365 and daily.sizes["cell"] == 4
    assert annual["year"].values.tolist() == [1, 2, 3]
    assert daily["cMICr"].attrs["units"] == "g m-2" and annual["cnpp"].attrs["units"] == "g m-2 yr-1"
    # annual sums are the sums of the daily values (float32 outputs of float64 sums)
    np.testing.assert_allclose(
        annual["cnpp"].isel(time=0).values,
        daily["cnpp"].isel(time=slice(0, 365)).astype("f8").sum("time").values,
        rtol=1e-5,
    )
