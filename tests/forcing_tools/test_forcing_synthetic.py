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
