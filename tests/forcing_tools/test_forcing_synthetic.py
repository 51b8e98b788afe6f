"""Synthetic domain generator: reproducible, physically consistent, accepted by the validator."""

from __future__ import annotations

import hashlib
from pathlib import Path

import netCDF4
import numpy as np
import pytest

from testbed.forcing_tools import synthetic
from testbed.forcing_tools.metfile import read_gridinfo, read_soil
from testbed.forcing_tools.validate import validate_met

VARS = ("xcgpp", "xtairk", "ndep", "xtsoil", "xmoist", "xfrznmoist")


def _read(path: Path) -> dict[str, np.ndarray]:
    with netCDF4.Dataset(path) as ds:
        ds.set_auto_mask(False)
        return {k: np.asarray(v[:]) for k, v in ds.variables.items()}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_seed_identical_files(tmp_path: Path) -> None:
    a = synthetic.make_synthetic_domain(tmp_path / "a", 30, range(1901, 1903), seed=5)
    b = synthetic.make_synthetic_domain(tmp_path / "b", 30, range(1901, 1903), seed=5)
    c = synthetic.make_synthetic_domain(tmp_path / "c", 30, range(1901, 1903), seed=6)
    names = sorted(p.name for grp in a.values() for p in grp)
    assert names == [
        "cells.csv",
        "gridinfo_igbpz.csv",
        "gridinfo_soil.csv",
        "met_1901_1901.nc",
        "met_1901_1902.nc",
        "met_1902_1902.nc",
    ]
    for grp in a:
        for pa, pb in zip(a[grp], b[grp], strict=True):
            assert _digest(pa) == _digest(pb), pa.name
    da, dc = _read(a["met_multi"][0]), _read(c["met_multi"][0])
    assert not np.array_equal(da["xcgpp"], dc["xcgpp"])


def test_domain_content_and_validator(tmp_path: Path) -> None:
    res = synthetic.make_synthetic_domain(tmp_path, 40, [1901, 1902], seed=11, warming=0.5, ndep_trend=0.01)
    gi, so = res["tables"][0], res["tables"][1]
    g, s = read_gridinfo(gi), read_soil(so)
    pft = np.array([r.ivt_igbp for r in g])
    assert set(pft.tolist()) == set(range(1, 19))  # all IGBP types incl. 15, 17, 18
    lat = np.array([r.lat for r in g])
    assert np.all(np.diff(lat) >= 0)  # compact grid sorted by latitude
    assert [r.ijcam for r in g] == list(range(1, 41)) == [r.ilat for r in g]
    assert {r.ilon for r in g} == {1} and [r.ijcam for r in s] == list(range(1, 41))
    for p in res["met_year"] + res["met_multi"]:
        assert [x for x in validate_met(p, gi, so) if x.severity == "error"] == []
    m = _read(res["met_multi"][0])
    with netCDF4.Dataset(res["met_multi"][0]) as ds:
        assert {v: ds[v].dtype for v in VARS} == {v: np.float32 for v in VARS}
        assert ds["cellid"].dtype == np.int32 and ds.dimensions["time"].size == 730
    assert m["lat"].tolist() == pytest.approx(lat, abs=0.006)
    # per-year files are the multi-year file's years
    for k, p in enumerate(res["met_year"]):
        y = _read(p)
        for v in VARS:
            assert np.array_equal(y[v], m[v][365 * k : 365 * (k + 1)])
    gpp, tsoil = m["xcgpp"][..., 0], m["xtsoil"][..., 0]
    liq, frz = m["xmoist"][..., 0], m["xfrznmoist"][..., 0]
    assert np.all(gpp[:, np.isin(pft, (11, 13, 15, 17))] == 0) and np.all(gpp >= 0)
    # frozen water only where the layer is below freezing; liquid + frozen <= saturation
    assert np.all(frz[tsoil >= 273.15] == 0)
    assert np.any(frz[tsoil < 272.0] > 0)
    wsat = np.array([r.wsat for r in s])
    assert np.all(liq + frz <= wsat[None, None, :] + 1e-6)
    # high-latitude winter soil freezes, tropics do not
    hi = np.abs(lat) > 60
    assert np.all(np.min(tsoil[:, 0, hi], axis=0) < 273.15)
    assert np.all(np.min(tsoil[:, 0, np.abs(lat) < 15], axis=0) > 280)
    # warming 0.5 K/yr and +1 %/yr ndep between the two years
    t1, t2 = m["xtairk"][:365, :, 0].mean(0), m["xtairk"][365:, :, 0].mean(0)
    assert 0.0 < np.mean(t2 - t1) < 1.0
    n1, n2 = m["ndep"][:365, :, 0].mean(0), m["ndep"][365:, :, 0].mean(0)
    np.testing.assert_allclose(n2 / n1, 1.01, rtol=1e-5)


def test_domain_from_tables_and_cli(tmp_path: Path) -> None:
    first = synthetic.make_synthetic_domain(tmp_path / "a", 25, [1950], seed=3, multi_year=False)
    g0 = read_gridinfo(first["tables"][0])
    rc = synthetic.main(
        [
            str(tmp_path / "b"),
            "--years",
            "1950:1951",
            "--seed",
            "4",
            "--gridinfo",
            str(first["tables"][0]),
            "--soil",
            str(first["tables"][1]),
            "--no-multi-year",
        ]
    )
    assert rc == 0
    g1 = read_gridinfo(tmp_path / "b" / "gridinfo_igbpz.csv")
    assert [(r.lat, r.ivt_igbp) for r in g1] == [(r.lat, r.ivt_igbp) for r in g0]
    assert sorted(p.name for p in (tmp_path / "b").glob("met_*.nc")) == ["met_1950_1950.nc", "met_1951_1951.nc"]
    assert (tmp_path / "b" / "cells.csv").read_text().splitlines()[1].startswith("1,1,1,1,1,")


def _global_subset(refdir: Path, out: Path, every: int = 107) -> tuple[Path, Path]:
    """Every ``every``-th cell of the global 4,263-cell CLM tables (rows keep their ilon, ilat order)."""
    from testbed.forcing_tools.metfile import write_gridinfo, write_soil

    g = read_gridinfo(refdir / "global" / "gridinfo_igbpz_CLM5_GSWP3.csv")[::every]
    s = read_soil(refdir / "global" / "gridinfo_soil_CLM5_GSWP3.csv")[::every]
    out.mkdir()
    return write_gridinfo(out / "gridinfo.csv", g), write_soil(out / "soil.csv", s)


def _source_ids(cells_csv: Path) -> np.ndarray:
    return np.loadtxt(cells_csv, delimiter=",", skiprows=1, usecols=4, dtype=np.int64)


def test_full_grid_same_cells_same_results(tmp_path: Path, refdir: Path) -> None:
    """40 global cells on the compact and the full 96 x 144 grid: same forcing per cell, same model results."""
    from testbed.api import load_model, simulate

    gi, so = _global_subset(refdir, tmp_path / "src")
    kw = dict(years=[1901], seed=9, per_year=False, gridinfo=gi, soil=so)
    comp = synthetic.make_synthetic_domain(tmp_path / "compact", **kw)
    full = synthetic.make_synthetic_domain(tmp_path / "full", grid="full", **kw)
    g = read_gridinfo(full["tables"][0])
    assert len(g) == 40
    # tables: rows in met point order (ilon outer, ilat inner), ijcam = (ilon-1)*96 + ilat = source ids
    assert [(r.ilon, r.ilat) for r in g] == sorted((r.ilon, r.ilat) for r in g)
    assert [r.ijcam for r in g] == [(r.ilon - 1) * 96 + r.ilat for r in g] == sorted(r.ijcam for r in read_gridinfo(gi))
    assert [r.ijcam for r in read_soil(full["tables"][1])] == [r.ijcam for r in g]
    for p in (*full["met_multi"], *comp["met_multi"]):
        tables = full["tables"] if p in full["met_multi"] else comp["tables"]
        assert [x for x in validate_met(p, tables[0], tables[1]) if x.severity == "error"] == []
    mf, mc = _read(full["met_multi"][0]), _read(comp["met_multi"][0])
    assert mf["xcgpp"].shape == (365, 96, 144) and mf["xtsoil"].shape == (365, 6, 96, 144)
    assert mf["cellid"][5, 2] == 2 * 96 + 6 and int((mf["cellMissing"] == 0).sum()) == 40
    np.testing.assert_allclose(mf["lat"][[0, 95]], [-90, 90])
    np.testing.assert_allclose(mf["lon"][[0, 143]], [0, 357.5])
    assert np.all(mf["xtairk"][:, mf["cellMissing"] == 1] == np.float32(1e36))
    # the same values per cell on both layouts
    ids_c, ids_f = _source_ids(comp["tables"][2]), _source_ids(full["tables"][2])
    pos = {int(i): k for k, i in enumerate(ids_c)}
    for r in g:
        k = pos[r.ijcam]
        for v in VARS:
            assert np.array_equal(mf[v][..., r.ilat - 1, r.ilon - 1], mc[v][..., k, 0]), (v, r.ijcam)
    # and bit-identical model results
    results = {}
    for name, res in (("compact", comp), ("full", full)):
        model = load_model(res["tables"][0], res["tables"][1], soil_model="mimics")
        results[name] = simulate(model, res["met_multi"][0], years=1)
    order = np.array([pos[int(i)] for i in ids_f])
    for dc, df in zip(results["compact"], results["full"], strict=True):
        assert set(dc.data_vars) == set(df.data_vars) and len(dc.data_vars) > 10
        assert np.count_nonzero(dc["cleaf"].values[-1]) > 10
        for v in dc.data_vars:
            a = dc[v].isel(cell=order) if "cell" in dc[v].dims else dc[v]
            np.testing.assert_array_equal(a.values, df[v].values, err_msg=v)


def test_full_grid_needs_grid_tables(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="gridinfo"):
        synthetic.make_synthetic_domain(tmp_path, 5, [1901], grid="full")


def test_full_grid_cli(tmp_path: Path, refdir: Path) -> None:
    gi, so = _global_subset(refdir, tmp_path / "src", every=500)
    argv = [str(tmp_path / "o"), "--years", "1901", "--gridinfo", str(gi), "--soil", str(so), "--grid", "full"]
    assert synthetic.main([*argv, "--format", "NETCDF3_64BIT_OFFSET", "--no-per-year"]) == 0
    with netCDF4.Dataset(tmp_path / "o" / "met_1901_1901.nc") as ds:
        assert ds.data_model == "NETCDF3_64BIT_OFFSET"
        assert (ds.dimensions["lat"].size, ds.dimensions["lon"].size) == (96, 144)
        assert int((ds["cellMissing"][:] == 0).sum()) == len(read_gridinfo(gi))
    assert (tmp_path / "o" / "cells.csv").read_text().startswith("npt,ijcam_full,ilat_full,ilon_full,ijcam_source,")
