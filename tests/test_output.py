"""Output datasets and the regridding helper."""

from __future__ import annotations

import numpy as np
import pytest

from testbed import layout
from testbed.errors import InputError
from testbed.output import (
    FILL,
    CellInfo,
    annual_columns,
    annual_data,
    concat_time,
    daily_data,
    read_cf,
    to_grid,
    variables_for,
    write_cf,
)


def test_annual_data_units_and_to_grid() -> None:
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
    ds = annual_data([annual_columns(annual, "casa", 2)], [1901], cells, "casa", 2).to_xarray()
    assert ds["cnpp"].attrs["units"] == "g m-2 yr-1" and ds["cleaf"].attrs["cell_methods"] == "time: mean"
    assert ds["cleaf"].values.tolist() == [[1.0, 1.0, 1.0]]  # annual mean = sum / 365
    assert "cLITm" not in ds and len(ds.data_vars) >= len(variables_for("casa", 2))
    grid = to_grid(
        ds, ilat=np.array([1, 2, 1]), ilon=np.array([1, 1, 2]), lat=np.array([10.0, 20.0]), lon=np.array([0.0, 5.0])
    )
    npp = grid["cnpp"].isel(time=0).values
    assert npp[0, 0] == 1.0 and npp[1, 0] == 2.0 and npp[0, 1] == 3.0 and np.isnan(npp[1, 1])


def _cells(n: int, static: bool = False) -> CellInfo:
    extra = {"vg_n": (np.linspace(1.1, 1.5, n), {"units": "1", "long_name": "van Genuchten n"})} if static else {}
    return CellInfo(
        np.linspace(-60, 70, n), np.linspace(0, 350, n), np.ones(n), np.arange(n) % 18 + 1, np.arange(n) + 10, extra
    )


def test_written_files_read_back_as_the_datasets_they_show(tmp_path) -> None:
    """write_cf (netCDF4 alone) against to_xarray: xarray reads the file as the same dataset, coordinates, encoded
    and decoded times, attributes and values included; data are compressed float32 with the fill value."""
    import netCDF4
    import xarray as xr

    rng = np.random.default_rng(1)
    n = 5
    nvar = len(variables_for("mimics", 2))
    for data in (
        annual_data(
            [annual_columns(rng.random((n, layout.NDIAG)), "casa", 2) for _ in range(3)],
            [1901, 1902, 1903],
            _cells(n, True),
            "casa",
            2,
        ),
        daily_data(rng.random((n, nvar, 4)).astype(np.float32), 1850, _cells(n), "mimics", 2, {"command_line": "x"}),
    ):
        write_cf(data, tmp_path / "f.nc", overwrite=True)
        shown = data.to_xarray()
        coder = xr.coders.CFDatetimeCoder(use_cftime=True)
        with xr.open_dataset(tmp_path / "f.nc", decode_times=coder) as read:
            xr.testing.assert_identical(read.load(), shown)
        assert {"lat", "lon", "area", "pft", "cellid"} <= set(shown.coords)
        assert "time_bnds" in shown.data_vars and shown["time"].values[0].year in (1850, 1901)
        with netCDF4.Dataset(tmp_path / "f.nc") as nc:
            var = nc["cleaf"]
            assert var.dtype == np.float32 and var.filters()["zlib"] and var.getncattr("_FillValue") == FILL
            assert "_FillValue" not in nc["lat"].ncattrs() and nc["time"].units == "days since 0001-01-01 00:00:00"
        with pytest.raises(InputError, match="exists"):
            write_cf(data, tmp_path / "f.nc")


def test_annual_files_of_successive_segments_join_into_the_file_of_all_years(tmp_path) -> None:
    rng = np.random.default_rng(2)
    years = [annual_columns(rng.random((4, layout.NDIAG)), "casa", 2) for _ in range(5)]
    cells = _cells(4)
    write_cf(annual_data(years[:2], [1, 2], cells, "casa", 2), tmp_path / "a.nc")
    write_cf(annual_data(years[2:], [3, 4, 5], cells, "casa", 2), tmp_path / "b.nc")
    joined = concat_time([read_cf(tmp_path / "a.nc"), read_cf(tmp_path / "b.nc")])
    whole = annual_data(years, [1, 2, 3, 4, 5], cells, "casa", 2)
    assert list(joined.variables) == list(whole.variables) and joined.coords == whole.coords
    for name, (dims, values, attrs) in whole.variables.items():
        assert joined.variables[name][0] == dims and joined.variables[name][2] == attrs, name
        np.testing.assert_array_equal(joined.variables[name][1], values, err_msg=name)
