"""Direct reads of classic NetCDF met files (testbed/ncclassic.py) give exactly the NetCDF library's values."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import netCDF4
import numpy as np
import pytest

from testbed import ncclassic
from testbed.forcing import MetFile
from testbed.forcing_tools.synthetic import make_synthetic_domain


@pytest.mark.parametrize("nc_format", ["NETCDF3_CLASSIC", "NETCDF3_64BIT_OFFSET", "NETCDF3_64BIT_DATA"])
def test_classic_reads_equal_the_library_bit_for_bit(tmp_path: Path, nc_format: str) -> None:
    paths = make_synthetic_domain(tmp_path, ncell=9, years=[1901, 1902], seed=3, per_year=False, nc_format=nc_format)
    met = MetFile.open(paths["met_multi"][0])
    assert met.classic is not None and set(met.classic) >= {"xcgpp", "xtsoil", "xfrznmoist"}
    library = dataclasses.replace(met, classic=None)
    for cells in (slice(None), slice(0, 4), slice(4, 9), slice(7, 8)):
        for year in range(met.nyear):
            ours, theirs = met._read_raw(year, cells), library._read_raw(year, cells)
            assert ours.keys() == theirs.keys()
            for name, values in ours.items():
                assert values.dtype == np.float32 and values.flags.c_contiguous
                assert values.shape == theirs[name].shape
                assert np.array_equal(values.view(np.uint32), theirs[name].view(np.uint32)), name


def test_small_read_blocks_give_the_same_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = make_synthetic_domain(tmp_path, ncell=5, years=[1901], seed=4, nc_format="NETCDF3_64BIT_OFFSET")
    met = MetFile.open(paths["met_multi"][0])
    whole = met._read_raw(0, slice(None))
    monkeypatch.setattr(ncclassic, "READ_BYTES", 1000)  # a day or two per read
    for name, values in met._read_raw(0, slice(None)).items():
        assert np.array_equal(values, whole[name]), name


def test_netcdf4_and_record_variables_are_read_through_the_library(tmp_path: Path) -> None:
    paths = make_synthetic_domain(tmp_path / "nc4", ncell=4, years=[1901], seed=5, nc_format="NETCDF4")
    assert ncclassic.layout(paths["met_multi"][0]) is None
    assert MetFile.open(paths["met_multi"][0]).classic is None
    path = tmp_path / "records.nc"
    with netCDF4.Dataset(path, "w", format="NETCDF3_64BIT_OFFSET") as ds:
        ds.createDimension("time", None)
        ds.createDimension("cell", 3)
        v = ds.createVariable("x", "f4", ("time", "cell"))
        v.units = "K"
        v[0:2] = np.arange(6, dtype=np.float32).reshape(2, 3)
        ds.createVariable("y", "f8", ("cell",))[:] = [1.0, 2.0, 3.0]
    found = ncclassic.layout(path)
    assert found is not None and found["x"].record and not found["y"].record
    assert found["y"].shape == (3,) and found["y"].dtype == ">f8" and found["x"].attrs == {"units"}


def test_a_truncated_file_is_not_read_directly(tmp_path: Path) -> None:
    paths = make_synthetic_domain(tmp_path, ncell=4, years=[1901], seed=6, nc_format="NETCDF3_64BIT_OFFSET")
    src = paths["met_multi"][0]
    cut = tmp_path / "cut.nc"
    cut.write_bytes(src.read_bytes()[:-1000])
    assert ncclassic.layout(src) is not None
    assert ncclassic.layout(cut) is None
