"""Direct reads of classic NetCDF met files (testbed/ncclassic.py) give exactly the NetCDF library's values."""

from __future__ import annotations

import dataclasses
import threading
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


def test_reused_year_buffers_give_the_same_values_in_the_same_memory(tmp_path: Path) -> None:
    """A chunk task reads its years into one set of arrays (forcing.YearBuffers): values bit-identical to fresh
    reads, every year and chunk, and the memory of the first year reused by the next."""
    from testbed.forcing import YearBuffers

    paths = make_synthetic_domain(tmp_path, ncell=7, years=[1901, 1902], seed=5, nc_format="NETCDF3_64BIT_OFFSET")
    met = MetFile.open(paths["met_multi"][0])
    buffers = YearBuffers()
    for cells in (slice(None), slice(2, 6), slice(None)):
        first = None
        for year in range(met.nyear):
            fresh = met.read_year(year, cells)
            reused = met.read_year(year, cells, buffers=buffers)
            for name in ("gpp", "tair", "ndep", "tsoil", "moist", "frzn"):
                a, b = getattr(fresh, name), getattr(reused, name)
                assert b.flags.f_contiguous and np.array_equal(a.view(np.uint32), b.view(np.uint32)), name
            if first is None:
                first = reused.tsoil.__array_interface__["data"][0]
            else:
                assert reused.tsoil.__array_interface__["data"][0] == first  # no fresh pages
    with pytest.raises(ValueError, match="C-contiguous"):
        var = met.classic["xcgpp"]
        ncclassic.gather(met.path, var, 0, 2, np.array([0]), np.empty((3, 1), dtype=var.dtype))


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


def _edge_tables(refdir: Path, out: Path) -> tuple[Path, Path]:
    """Cells of the global tables moved to the edges of the 96 x 144 CLM grid: the first and last latitude
    rows and longitude columns, and both sides of the 180th meridian (columns 72 and 73), several per column."""
    from testbed.forcing_tools.metfile import read_gridinfo, read_soil, write_gridinfo, write_soil

    lat, lon = np.linspace(-90.0, 90.0, 96), np.arange(144) * 2.5
    places = [(i, j) for i in (1, 2, 72, 73, 143, 144) for j in (1, 2, 40, 95, 96)]  # (ilon, ilat), model order
    g = read_gridinfo(refdir / "global" / "gridinfo_igbpz_CLM5_GSWP3.csv")[: len(places)]
    s = read_soil(refdir / "global" / "gridinfo_soil_CLM5_GSWP3.csv")[: len(places)]
    where = [
        dict(ijcam=(i - 1) * 96 + j, lat=round(float(lat[j - 1]), 2), lon=round(float(lon[i - 1]), 2))
        for i, j in places
    ]
    g = [dataclasses.replace(r, ilon=i, ilat=j, **w) for r, (i, j), w in zip(g, places, where, strict=True)]
    s = [dataclasses.replace(r, **w) for r, w in zip(s, where, strict=True)]
    out.mkdir()
    return write_gridinfo(out / "gridinfo.csv", g), write_soil(out / "soil.csv", s)


@pytest.mark.slow
def test_chunks_at_the_grid_edges_read_the_library_values(
    tmp_path: Path, refdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Full 96 x 144 grid: single cells, single longitudes (first, last, either side of 180 E), chunks across
    the 180th meridian and across columns, the first and last rows, all cells; several read block sizes."""
    gi, so = _edge_tables(refdir, tmp_path / "src")
    paths = make_synthetic_domain(
        tmp_path / "met",
        years=[1901],
        seed=8,
        per_year=False,
        gridinfo=gi,
        soil=so,
        grid="full",
        nc_format="NETCDF3_64BIT_OFFSET",
    )
    met = MetFile.open(paths["met_multi"][0])
    assert met.classic is not None and met.ncell == 30 and met.lat.size == 96 and met.lon.size == 144
    assert set(zip(met.active_i[[0, 29]], met.active_j[[0, 29]], strict=True)) == {(0, 0), (143, 95)}
    library = dataclasses.replace(met, classic=None)
    theirs = library._read_raw(0, slice(None))
    column = {int(i): np.flatnonzero(met.active_i == i) for i in (0, 71, 72, 143)}
    chunks = [slice(k, k + 1) for k in (0, 1, 3, 4, 5, 14, 15, 24, 25, 28, 29)]  # single cells: corners, edges
    chunks += [slice(int(c[0]), int(c[-1]) + 1) for c in column.values()]  # one longitude each
    chunks += [slice(int(column[71][0]), int(column[72][-1]) + 1), slice(int(column[71][-1]), int(column[72][1]))]
    chunks += [slice(0, 7), slice(23, 30), slice(3, 27), slice(None)]  # across columns, the first and last rows
    for read_bytes, some in ((ncclassic.READ_BYTES, chunks), (96 * 144 * 4 * 6, chunks[-5:]), (1, chunks[-5:])):
        monkeypatch.setattr(ncclassic, "READ_BYTES", read_bytes)  # 1 MB; 6 planes; one plane at a time
        for cells in some:
            ours = met._read_raw(0, cells)
            assert ours.keys() == theirs.keys()
            for name, values in ours.items():
                assert values.dtype == np.float32 and values.flags.c_contiguous
                expected = theirs[name][..., cells]
                assert values.shape == expected.shape
                assert np.array_equal(values.view(np.uint32), expected.view(np.uint32)), (name, cells, read_bytes)
    for cells in chunks[11:17]:  # the library's own reads of one column and of the box across 180 E
        assert np.array_equal(library._read_raw(0, cells)["xtsoil"], theirs["xtsoil"][..., cells])
    # the same cells in a NetCDF-4/HDF5 file are read through the library, box by box: the same values
    nc4 = make_synthetic_domain(
        tmp_path / "nc4", years=[1901], seed=8, per_year=False, gridinfo=gi, soil=so, grid="full"
    )
    hdf = MetFile.open(nc4["met_multi"][0])
    assert hdf.classic is None
    for cells in chunks[11:]:
        for name, values in hdf._read_raw(0, cells).items():
            assert np.array_equal(values.view(np.uint32), theirs[name][..., cells].view(np.uint32)), (name, cells)


def test_the_read_buffer_stays_small(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A thread reads READ_BYTES of whole (lat, lon) planes at a time into its buffer, not a year: the block stays
    in a core's cache between the read and the gather, and a worker's memory does not grow with the years."""
    paths = make_synthetic_domain(tmp_path, ncell=7, years=[1901], seed=2, per_year=False, nc_format="NETCDF3_CLASSIC")
    met = MetFile.open(paths["met_multi"][0])
    layered_day = 6 * met.ncell * 4  # bytes of one day of xtsoil on the compact 7 x 1 grid
    read_bytes = 20 * met.ncell * 4 + 3  # 20 planes: blocks of xtsoil end inside a day
    monkeypatch.setattr(ncclassic, "READ_BYTES", read_bytes)
    whole = dataclasses.replace(met, classic=None)._read_raw(0, slice(None))  # the library's
    out: dict = {}

    def read() -> None:  # in a new thread: a new buffer
        out["values"] = met._read_raw(0, slice(None))
        out["buffer"] = ncclassic._local.buffer.nbytes

    thread = threading.Thread(target=read)
    thread.start()
    thread.join()
    assert out["buffer"] == read_bytes < 365 * layered_day
    for name, values in out["values"].items():
        assert np.array_equal(values, whole[name]), name


def test_grid_positions_outside_the_grid_are_refused(tmp_path: Path) -> None:
    """The gather clips nothing silently: a position outside the (lat, lon) grid is an error, not the edge value."""
    paths = make_synthetic_domain(tmp_path, ncell=4, years=[1901], seed=6, per_year=False, nc_format="NETCDF3_CLASSIC")
    met = MetFile.open(paths["met_multi"][0])
    var = met.classic["xcgpp"]
    npoint = var.shape[-2] * var.shape[-1]
    ok = ncclassic.gather(met.path, var, 0, 2, np.array([0, npoint - 1]))
    assert ok.dtype == np.float32 and ok.dtype.isnative and ok.shape == (2, 2)
    for bad in ([0, npoint], [-1, 0]):
        with pytest.raises(IndexError, match="outside"):
            ncclassic.gather(met.path, var, 0, 2, np.array(bad))
