"""Met-file reading and validation: every bad input is a clear error before compute."""

from __future__ import annotations

from pathlib import Path

import netCDF4
import numpy as np
import pytest

from testbed.domain import Domain
from testbed.errors import InputError
from testbed.forcing import MetFile, check_values
from testbed.forcing_tools.synthetic import make_synthetic_domain


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("synthetic")
    paths = make_synthetic_domain(out, ncell=6, years=[1901, 1902], seed=7)
    gridinfo, soil = paths["tables"][:2]
    return {"met": paths["met_multi"][0], "year": paths["met_year"][0], "gridinfo": gridinfo, "soil": soil}


def copy_met(src: Path, dst: Path, *, drop: str | None = None, cast: dict | None = None, edit=None) -> Path:
    """Copy a met file, optionally dropping a variable, changing dtypes, or editing values."""
    with netCDF4.Dataset(src) as a, netCDF4.Dataset(dst, "w") as b:
        a.set_auto_mask(False)
        for name, dim in a.dimensions.items():
            b.createDimension(name, len(dim))
        for name, v in a.variables.items():
            if name == drop:
                continue
            dtype = (cast or {}).get(name, v.dtype)
            w = b.createVariable(name, dtype, v.dimensions)
            w.setncatts({k: v.getncattr(k) for k in v.ncattrs() if k != "_FillValue"})
            data = v[:]
            if edit is not None:
                data = edit(name, data)
            w[:] = data
    return dst


def test_synthetic_met_file_reads_in_point_order(synthetic: dict[str, Path]) -> None:
    met = MetFile.open(synthetic["met"])
    dom = Domain.from_files(synthetic["gridinfo"], synthetic["soil"])
    met.check_domain(dom.cellid, dom.ilat, dom.ilon)
    f = met.read_year(1, slice(2, 5))
    assert f.gpp.shape == (3, 365) and f.tsoil.shape == (3, 6, 365)
    assert f.gpp.flags.f_contiguous and f.gpp.dtype == np.float32  # the kernel widens exactly
    with netCDF4.Dataset(synthetic["met"]) as ds:
        raw = ds.variables["xtsoil"][365 + 10, 4, 3, 0]
    assert f.tsoil[1, 4, 10] == np.float32(raw)


def test_missing_met_variable_is_named(synthetic: dict[str, Path], tmp_path: Path) -> None:
    bad = copy_met(synthetic["met"], tmp_path / "met_1901_1902.nc", drop="xtairk")
    with pytest.raises(InputError, match=r"met_1901_1902\.nc: variable xtairk is missing; the model reads it"):
        MetFile.open(bad)


def test_wrong_dtype_is_rejected(synthetic: dict[str, Path], tmp_path: Path) -> None:
    bad = copy_met(synthetic["met"], tmp_path / "met.nc", cast={"xcgpp": "f8"})
    with pytest.raises(InputError, match=r"variable xcgpp is float64, the model needs float32"):
        MetFile.open(bad)


def test_nan_in_gpp_names_variable_cell_and_day(synthetic: dict[str, Path], tmp_path: Path) -> None:
    def poison(name: str, data: np.ndarray) -> np.ndarray:
        if name == "xcgpp":
            data = data.copy()
            data[365 + 40, 3, 0] = np.nan  # year 2, day 41, cell 4
        return data

    bad = copy_met(synthetic["met"], tmp_path / "met.nc", edit=poison)
    met = MetFile.open(bad)  # structure is fine
    with pytest.raises(
        InputError,
        match=r"xcgpp is NaN \(nan\) at npt 4 \(lat .*, lon .*, cellid 4\) on day 406 "
        r"\(year 2 of the file, day 41\); "
        r"active cells \(cellMissing = 0\) need a value every day",
    ):
        check_values(met)


def test_negative_gpp_is_rejected(synthetic: dict[str, Path], tmp_path: Path) -> None:
    def negate(name: str, data: np.ndarray) -> np.ndarray:
        if name == "xcgpp":
            data = data.copy()
            data[5, 1, 0] = -1.0
        return data

    met = MetFile.open(copy_met(synthetic["met"], tmp_path / "met.nc", edit=negate))
    with pytest.raises(
        InputError,
        match=r"xcgpp is negative \(-1\) at npt 2 \(.*cellid 2\) on day 6 "
        r".*GPP must be >= 0",
    ):
        met.read_year(0)


def test_wrong_layer_count_and_leap_days_are_rejected(synthetic: dict[str, Path], tmp_path: Path) -> None:
    path = tmp_path / "met.nc"
    with netCDF4.Dataset(path, "w") as ds:
        for dim, n in [("lon", 1), ("lat", 2), ("time", 366), ("myear", 1), ("nsoilyrs", 6)]:
            ds.createDimension(dim, n)
    with pytest.raises(InputError, match="time has 366 days but myear is 1; the model stops unless time == 365"):
        MetFile.open(path)
    with netCDF4.Dataset(path, "w") as ds:
        for dim, n in [("lon", 1), ("lat", 2), ("time", 365), ("myear", 1), ("nsoilyrs", 5)]:
            ds.createDimension(dim, n)
    with pytest.raises(InputError, match="nsoilyrs is 5, the model needs 6 soil layers"):
        MetFile.open(path)


def test_wrong_units_are_rejected(synthetic: dict[str, Path], tmp_path: Path) -> None:
    bad = copy_met(synthetic["met"], tmp_path / "met.nc")
    with netCDF4.Dataset(bad, "a") as ds:
        ds.variables["xtairk"].units = "degC"
    with pytest.raises(
        InputError,
        match=r"variable xtairk has units 'degC', the model needs K "
        r"\(if it is in degrees C, add 273.15\)",
    ):
        MetFile.open(bad)


def test_more_met_cells_than_gridinfo_rows(synthetic: dict[str, Path], tmp_path: Path) -> None:
    rows = synthetic["gridinfo"].read_text().splitlines()
    (tmp_path / "gridinfo.csv").write_text("\n".join(rows[:-1]) + "\n")
    soil = synthetic["soil"].read_text().splitlines()
    (tmp_path / "soil.csv").write_text("\n".join(soil[:-1]) + "\n")
    dom = Domain.from_files(tmp_path / "gridinfo.csv", tmp_path / "soil.csv")
    met = MetFile.open(synthetic["met"])
    with pytest.raises(InputError, match=r"6 active cells \(cellMissing == 0\) but gridinfo.csv has 5 rows"):
        met.check_domain(dom.cellid, dom.ilat, dom.ilon, str(tmp_path / "gridinfo.csv"))


def test_gridinfo_rows_out_of_met_order(synthetic: dict[str, Path], tmp_path: Path) -> None:
    rows = synthetic["gridinfo"].read_text().splitlines()
    rows[2], rows[3] = rows[3], rows[2]
    (tmp_path / "gridinfo.csv").write_text("\n".join(rows) + "\n")
    soil = synthetic["soil"].read_text().splitlines()
    soil[2], soil[3] = soil[3], soil[2]
    (tmp_path / "soil.csv").write_text("\n".join(soil) + "\n")
    dom = Domain.from_files(tmp_path / "gridinfo.csv", tmp_path / "soil.csv")
    with pytest.raises(
        InputError,
        match=r"gridinfo row 2 \(ijcam 3\) points at ilat 3, ilon 1, "
        r"but the met file's active cell number 2 "
        r"is at ilat 2, ilon 1; sort the rows by ilon then ilat",
    ):
        MetFile.open(synthetic["met"]).check_domain(dom.cellid, dom.ilat, dom.ilon)
