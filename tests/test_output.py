"""Output datasets and the regridding helper."""

from __future__ import annotations

import numpy as np

from testbed import layout
from testbed.output import CellInfo, annual_dataset, to_grid, variables_for


def test_annual_dataset_units_and_to_grid() -> None:
    cells = CellInfo(
        lat=np.array([10.0, 20.0, 10.0]),
        lon=np.array([0.0, 0.0, 5.0]),
        area=np.ones(3),
        pft=np.array([4, 10, 1]),
        cellid=np.array([1, 2, 3]),
    )
    annual = np.zeros((3, layout.NDIAG))
    annual[:, layout.index("diag", "npp")] = [1.0, 2.0, 3.0]
    annual[:, layout.index("diag", "cleaf")] = 365.0
    ds = annual_dataset([annual], [1901], cells, "casa", 2)
    assert ds["cnpp"].attrs["units"] == "g m-2 yr-1" and ds["cleaf"].attrs["cell_methods"] == "time: mean"
    assert ds["cleaf"].values.tolist() == [[1.0, 1.0, 1.0]]  # annual mean = sum / 365
    assert "cLITm" not in ds and len(ds.data_vars) >= len(variables_for("casa", 2))
    grid = to_grid(
        ds, ilat=np.array([1, 2, 1]), ilon=np.array([1, 1, 2]), lat=np.array([10.0, 20.0]), lon=np.array([0.0, 5.0])
    )
    npp = grid["cnpp"].isel(time=0).values
    assert npp[0, 0] == 1.0 and npp[1, 0] == 2.0 and npp[0, 1] == 3.0 and np.isnan(npp[1, 1])
