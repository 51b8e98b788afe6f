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


def test_write_dataset_takes_no_lock_of_an_active_dask_cluster(tmp_path, monkeypatch) -> None:
    """With a dask.distributed client active, xarray would guard each file access with a distributed lock (a
    scheduler round trip, ~500 per annual file); our writes are NumPy values from one process and need none."""
    import netCDF4
    from dask.distributed import Client, LocalCluster, Lock

    from testbed.output import write_dataset

    taken = []
    acquire = Lock.acquire
    monkeypatch.setattr(Lock, "acquire", lambda self, *a, **k: taken.append(1) or acquire(self, *a, **k))
    cells = CellInfo(np.array([10.0, 20.0]), np.array([0.0, 5.0]), np.ones(2), np.array([4, 10]), np.array([1, 2]))
    annual = np.zeros((2, layout.NDIAG))
    annual[:, layout.index("diag", "npp")] = [1.5, 2.5]
    ds = annual_dataset([annual], [1901], cells, "casa", 2)
    with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster, Client(cluster):
        write_dataset(ds, tmp_path / "annual.nc")
    assert not taken
    with netCDF4.Dataset(tmp_path / "annual.nc") as nc:
        assert nc["cnpp"][:].tolist() == [[1.5, 2.5]]
