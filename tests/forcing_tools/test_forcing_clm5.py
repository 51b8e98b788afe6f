"""CLM5 -> met conversion, checked value by value against hand computations."""

from __future__ import annotations

from pathlib import Path

import netCDF4
import numpy as np
import pytest
import xarray as xr

from testbed.forcing_tools import clm5_to_met as c5
from testbed.forcing_tools.metfile import read_gridinfo, read_soil
from testbed.forcing_tools.validate import validate_met

SPD = 86400.0
# CLM5 default layer thicknesses (m) and node depths; testbed interfaces (m)
DZ = np.array(
    [
        0.02,
        0.04,
        0.06,
        0.08,
        0.12,
        0.16,
        0.20,
        0.24,
        0.28,
        0.32,
        0.36,
        0.40,
        0.44,
        0.54,
        0.64,
        0.74,
        0.84,
        0.94,
        1.04,
        1.14,
        2.39,
        4.676,
        7.635,
        11.140,
        15.115,
    ]
)
ZI = np.concatenate([[0.0], np.cumsum(DZ)])
ZNODE = 0.5 * (ZI[:-1] + ZI[1:])
TB_ZI = [0.0, 0.022, 0.080, 0.234, 0.643, 1.728, 4.600]
LAT = np.array([-10.0, 50.0, 70.0])
LON = np.array([0.0, 90.0])
# land fraction (lat, lon): cell (lat 50, lon 0) is ocean
LANDFRAC = np.array([[1.0, 0.5], [0.0, 1.0], [0.8, 1.0]])
FILLV = np.float32(1e36)


def _code(month: np.ndarray, day: np.ndarray) -> np.ndarray:
    return month * 100.0 + day  # e.g. 229 for Feb 29


def _cell_index() -> np.ndarray:
    """Cell number 0..5 laid out (lat, lon)."""
    return np.arange(6, dtype=np.float64).reshape(3, 2)


def _fields(month: np.ndarray, day: np.ndarray, nday: int) -> dict[str, np.ndarray]:
    """CLM-like fields with values that encode calendar day, cell and level."""
    c = _cell_index()[None]
    code = _code(month, day)[:, None, None]
    f: dict[str, np.ndarray] = {}
    f["GPP"] = (1e-8 * (code + 1000.0 * c)) * np.ones((nday, 3, 2))  # gC m-2 s-1
    f["TSA"] = 250.0 + 0.01 * code + c
    f["NDEP_TO_SMINN"] = 1e-9 * (c + 1.0) * np.ones((nday, 3, 2))  # gN m-2 s-1
    k25 = np.arange(25, dtype=np.float64)[None, :, None, None]
    f["TSOI"] = 260.0 + 0.5 * k25 + 0.001 * code[:, None] + c[:, None]
    k20 = np.arange(20, dtype=np.float64)[None, :, None, None]
    liq_vol = 0.20 + 0.005 * k20 + 0.01 * c[:, None] + 1e-5 * code[:, None]
    ice_vol = 0.02 + 0.001 * k20 + 0.0 * code[:, None]
    f["SOILLIQ"] = liq_vol * 1000.0 * DZ[:20][None, :, None, None]  # kg m-2
    f["SOILICE"] = ice_vol * 917.0 * DZ[:20][None, :, None, None]
    f["H2OSOI"] = liq_vol + ice_vol  # as CLM: liq/denh2o/dz + ice/denice/dz
    return f


def write_history(
    path: Path,
    dates: list[tuple[int, int, int]],
    *,
    calendar: str = "noleap",
    units: str = "days since 2001-01-01 00:00:00",
    first_value: float = 1.0,
    bounds: bool = True,
    lndgrid: bool = False,
) -> Path:
    """A CLM5 h1-style daily history file (values stamped at the end of each day)."""
    nday = len(dates)
    month = np.array([d[1] for d in dates], dtype=np.float64)
    day = np.array([d[2] for d in dates], dtype=np.float64)
    f = _fields(month, day, nday)
    land = LANDFRAC > 0
    ds = netCDF4.Dataset(path, "w", format="NETCDF4_CLASSIC")
    ds.createDimension("time", None)
    ds.createDimension("levgrnd", 25)
    ds.createDimension("levsoi", 20)
    ds.createDimension("hist_interval", 2)
    if lndgrid:
        ds.createDimension("lndgrid", 6)
        sd: tuple[str, ...] = ("lndgrid",)
    else:
        ds.createDimension("lat", 3)
        ds.createDimension("lon", 2)
        sd = ("lat", "lon")
    t = ds.createVariable("time", "f8", ("time",))
    t.units, t.calendar, t.long_name = units, calendar, "time"
    t.bounds = "time_bounds"
    tv = first_value + np.arange(nday, dtype=np.float64)
    t[:] = tv
    if bounds:
        tb = ds.createVariable("time_bounds", "f8", ("time", "hist_interval"))
        tb[:] = np.stack([tv - 1.0, tv], axis=1)
    else:
        del t.bounds
    lev = ds.createVariable("levgrnd", "f4", ("levgrnd",))
    lev.units, lev.long_name = "m", "coordinate soil levels"
    lev[:] = ZNODE
    if lndgrid:
        la = ds.createVariable("lat", "f4", ("lndgrid",))
        lo = ds.createVariable("lon", "f4", ("lndgrid",))
        la[:] = np.repeat(LAT, 2)
        lo[:] = np.tile(LON, 3)
    else:
        la = ds.createVariable("lat", "f4", ("lat",))
        lo = ds.createVariable("lon", "f4", ("lon",))
        la[:], lo[:] = LAT, LON
    la.units, lo.units = "degrees_north", "degrees_east"
    lf = ds.createVariable("landfrac", "f4", sd)
    lf[:] = LANDFRAC.reshape(-1) if lndgrid else LANDFRAC
    meta = {
        "GPP": ("gC/m^2/s", "gross primary production", ()),
        "TSA": ("K", "2m air temperature", ()),
        "NDEP_TO_SMINN": ("gN/m^2/s", "atmospheric N deposition to soil mineral N", ()),
        "TSOI": ("K", "soil temperature (natural vegetated and crop landunits only)", ("levgrnd",)),
        "SOILLIQ": ("kg/m2", "soil liquid water (natural vegetated and crop landunits only)", ("levsoi",)),
        "SOILICE": ("kg/m2", "soil ice (natural vegetated and crop landunits only)", ("levsoi",)),
        "H2OSOI": ("mm3/mm3", "volumetric soil water (natural vegetated and crop landunits only)", ("levsoi",)),
    }
    for name, (u, ln, lev_dims) in meta.items():
        v = ds.createVariable(name, "f4", ("time", *lev_dims, *sd), fill_value=FILLV)
        v.units, v.long_name, v.cell_methods = u, ln, "time: mean"
        v.missing_value = FILLV
        arr = np.where(land, f[name], FILLV).astype(np.float32)
        v[:] = arr.reshape(*arr.shape[:-2], 6) if lndgrid else arr
    ds.close()
    return path


# dominant natural PFT per cell (lat, lon) and landunit shares
NATPFT_DOM = np.array([[4, 13], [0, 7], [12, 2]])
GLACIER = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 60.0]])  # cell (70, 90): glacier wins
SAND = np.array([[30.0, 60.0], [40.0, 20.0], [50.0, 70.0]])
CLAY = np.array([[30.0, 10.0], [20.0, 40.0], [15.0, 8.0]])
AREA_KM2 = np.array([[12000.0, 12000.0], [8000.0, 8000.0], [4000.0, 4000.0]])


def write_surface(path: Path, lndgrid: bool = False) -> Path:
    """A CLM5 surface dataset (surfdata) for the 3 x 2 grid."""
    ds = netCDF4.Dataset(path, "w", format="NETCDF4_CLASSIC")
    if lndgrid:
        ds.createDimension("gridcell", 6)
        sd: tuple[str, ...] = ("gridcell",)
    else:
        ds.createDimension("lsmlat", 3)
        ds.createDimension("lsmlon", 2)
        sd = ("lsmlat", "lsmlon")
    ds.createDimension("nlevsoi", 10)
    ds.createDimension("natpft", 15)
    ds.createDimension("numurbl", 3)

    def put(name: str, dims: tuple[str, ...], arr: np.ndarray, units: str) -> None:
        v = ds.createVariable(name, "f8", dims)
        v.units = units
        v[:] = arr.reshape(*arr.shape[:-2], 6) if lndgrid else arr

    k = np.arange(10, dtype=np.float64)[:, None, None]
    put("PCT_SAND", ("nlevsoi", *sd), SAND[None] + 0.5 * k, "unitless")  # percent by level
    put("PCT_CLAY", ("nlevsoi", *sd), CLAY[None] + 0.2 * k, "unitless")
    nat = np.zeros((15, 3, 2))
    for j in range(3):
        for i in range(2):
            nat[:, j, i] = 40.0 / 14
            nat[NATPFT_DOM[j, i], j, i] = 60.0
    put("PCT_NAT_PFT", ("natpft", *sd), nat, "unitless")
    put("PCT_NATVEG", sd, 100.0 - GLACIER, "unitless")
    put("PCT_CROP", sd, np.zeros((3, 2)), "unitless")
    put("PCT_GLACIER", sd, GLACIER, "unitless")
    put("PCT_LAKE", sd, np.zeros((3, 2)), "unitless")
    put("PCT_WETLAND", sd, np.zeros((3, 2)), "unitless")
    put("PCT_URBAN", ("numurbl", *sd), np.zeros((3, 3, 2)), "unitless")
    put("LANDFRAC_PFT", sd, LANDFRAC, "unitless")
    put("AREA", sd, AREA_KM2, "km^2")
    put("LATIXY", sd, np.repeat(LAT, 2).reshape(3, 2), "degrees north")
    put("LONGXY", sd, np.tile(LON, 3).reshape(3, 2), "degrees east")
    ds.close()
    return path


def noleap_dates(year: int) -> list[tuple[int, int, int]]:
    ml = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    return [(year, m + 1, d + 1) for m in range(12) for d in range(ml[m])]


def gregorian_dates(year: int) -> list[tuple[int, int, int]]:
    ml = [31, 29 if year % 4 == 0 else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    return [(year, m + 1, d + 1) for m in range(12) for d in range(ml[m])]


def hand_layer_weights(n: int) -> np.ndarray:
    """Depth overlap of CLM5 levels 1..n with the testbed layers, by explicit loops."""
    w = np.zeros((6, n))
    for layer in range(6):
        for k in range(n):
            top, bot = max(ZI[k], TB_ZI[layer]), min(ZI[k + 1], TB_ZI[layer + 1])
            w[layer, k] = max(0.0, bot - top)
    return w / w.sum(axis=1, keepdims=True)


def read_met(path: Path) -> dict[str, np.ndarray]:
    with netCDF4.Dataset(path) as ds:
        ds.set_auto_mask(False)
        out = {name: np.asarray(v[:]) for name, v in ds.variables.items()}
        out["_dtypes"] = {name: v.dtype for name, v in ds.variables.items()}  # type: ignore
        out["_dims"] = {name: v.dimensions for name, v in ds.variables.items()}  # type: ignore
        out["_sizes"] = {name: len(d) for name, d in ds.dimensions.items()}  # type: ignore
    return out


# active cells in model point order (lon outer, lat inner): (j, i) pairs
ACTIVE = [(0, 0), (2, 0), (0, 1), (1, 1), (2, 1)]


def test_hand_weights_layer1_and_2() -> None:
    """The overlap weights for the top two layers, written out by hand."""
    w = c5.layer_weights(DZ[:20], "overlap")
    assert w[0, :2] == pytest.approx([0.02 / 0.022, 0.002 / 0.022])
    assert w[1, 1:3] == pytest.approx([0.038 / 0.058, 0.020 / 0.058])
    assert np.allclose(w, hand_layer_weights(20))
    wt = c5.layer_weights(DZ, "overlap")
    # layer 6 (1.728-4.6 m) takes levels 11-16: 0.152, 0.40, 0.44, 0.54, 0.64, 0.70 m
    assert wt[5, 10:16] == pytest.approx(np.array([0.152, 0.40, 0.44, 0.54, 0.64, 0.70]) / 2.872)


def test_original_grouping_and_thickness() -> None:
    """NetCDFTools grouping 1|2-3|4-5|6-7|8-9|10 with midpoint thicknesses."""
    z45, dz45 = c5.clm45_levels(15)
    assert z45[0] == pytest.approx(0.007100635, rel=1e-6)
    assert dz45[0] == pytest.approx(0.5 * (z45[0] + z45[1]))
    w = c5.layer_weights(dz45[:10], "original")
    assert w[0, 0] == 1.0 and w[5, 9] == 1.0
    assert w[1, 1] == pytest.approx(dz45[1] / (dz45[1] + dz45[2]))
    assert np.count_nonzero(w) == 10


def test_convert_noleap_values(tmp_path: Path) -> None:
    """Every converted value equals the hand computation (noleap, full grid, 2 years)."""
    h1 = write_history(tmp_path / "h1.2001.nc", noleap_dates(2001))
    h2 = write_history(tmp_path / "h1.2002.nc", noleap_dates(2002), first_value=366.0)
    sf = write_surface(tmp_path / "surfdata.nc")
    out = tmp_path / "out"
    res = c5.convert_clm5([h1, h2], sf, out, multi_year=True, compress=0, log=lambda m: None)
    assert res.years == [2001, 2002] and res.n_active == 5
    assert [p.name for p in res.met_year] == ["met_2001_2001.nc", "met_2002_2002.nc"]
    assert [p.name for p in res.met_multi] == ["met_2001_2002.nc"]
    m = read_met(out / "met_2001_2001.nc")
    assert m["_sizes"] == {"myear": 1, "lat": 3, "lon": 2, "time": 365, "nsoilyrs": 6}
    for v in ("xcgpp", "xtairk", "ndep", "xtsoil", "xmoist", "xfrznmoist", "lat", "lon"):
        assert m["_dtypes"][v] == np.float32, v
    assert m["_dtypes"]["cellMissing"] == np.int32 and m["_dtypes"]["cellid"] == np.int32
    assert m["_dims"]["xtsoil"] == ("time", "nsoilyrs", "lat", "lon")
    # masking: the ocean cell (lat 50, lon 0) is missing, with fill values
    assert m["cellMissing"].tolist() == [[0, 0], [1, 0], [0, 0]]
    assert m["cellid"].tolist() == [[1, 4], [2, 5], [3, 6]]  # (ilon-1)*nlat + ilat
    assert np.all(m["xcgpp"][:, 1, 0] == np.float32(1e36))
    # hand computation for each active cell and day
    dates = noleap_dates(2001)
    month = np.array([d[1] for d in dates], float)
    day = np.array([d[2] for d in dates], float)
    code = _code(month, day)
    wt, ww = hand_layer_weights(25), hand_layer_weights(20)
    raw = {
        k: v.astype(np.float32).astype(np.float64)  # what the file stores (float32)
        for k, v in _fields(month, day, 365).items()
    }
    for j, i in ACTIVE:
        c = 2 * j + i

        def close(actual: np.ndarray, expected: np.ndarray) -> None:
            np.testing.assert_allclose(actual, expected.astype(np.float32), rtol=1.2e-7, atol=1e-12)

        # GPP, NDEP: gX m-2 s-1 * 86400 s day-1;  air temperature: TSA as is (K)
        close(m["xcgpp"][:, j, i], raw["GPP"][:, j, i] * 86400.0)
        assert np.allclose(m["xcgpp"][:, j, i], 1e-8 * (code + 1000 * c) * SPD, rtol=2e-7)
        close(m["xtairk"][:, j, i], raw["TSA"][:, j, i])
        close(m["ndep"][:, j, i], raw["NDEP_TO_SMINN"][:, j, i] * 86400.0)
        # soil temperature: depth-overlap weighted mean of the 25 levgrnd levels
        close(m["xtsoil"][:, :, j, i], raw["TSOI"][:, :, j, i] @ wt.T)
        # liquid = SOILLIQ * 0.001 / dz; frozen = H2OSOI - liquid; then mapped on 20 levsoi
        liq = raw["SOILLIQ"][:, :, j, i] * 0.001 / DZ[:20]
        frz = raw["H2OSOI"][:, :, j, i] - liq
        close(m["xmoist"][:, :, j, i], liq @ ww.T)
        close(m["xfrznmoist"][:, :, j, i], frz @ ww.T)
        # and both are close to the volumetric values the fields were built from
        liq0 = 0.20 + 0.005 * np.arange(20)[None] + 0.01 * c + 1e-5 * code[:, None]
        ice0 = 0.02 + 0.001 * np.arange(20)[None] + 0 * code[:, None]
        assert np.allclose(m["xmoist"][:, :, j, i], liq0 @ ww.T, rtol=1e-5)
        assert np.allclose(m["xfrznmoist"][:, :, j, i], ice0 @ ww.T, rtol=1e-4, atol=2e-7)
    # explicit single values: cell (lat -10, lon 0), Jan 1 (code 101)
    assert m["xcgpp"][0, 0, 0] == pytest.approx(101e-8 * 86400, rel=1e-6)
    assert m["xtsoil"][0, 0, 0, 0] == pytest.approx((0.02 * (260 + 0.101) + 0.002 * (260.5 + 0.101)) / 0.022, rel=1e-7)
    # multi-year file == per-year files stacked
    mm = read_met(out / "met_2001_2002.nc")
    m2 = read_met(out / "met_2002_2002.nc")
    assert mm["_sizes"]["time"] == 730 and mm["_sizes"]["myear"] == 2
    for v in ("xcgpp", "xtsoil", "xmoist"):
        assert np.array_equal(mm[v][:365], m[v]) and np.array_equal(mm[v][365:], m2[v])
    assert mm["year"].tolist() == [2001, 2002]
    # the validator accepts the converted files with their tables
    gi, so = out / "gridinfo_igbpz.csv", out / "gridinfo_soil.csv"
    for p in (out / "met_2001_2001.nc", out / "met_2001_2002.nc"):
        errs = [p for p in validate_met(p, gi, so) if p.severity == "error"]
        assert errs == []


def test_tables_pft_area_soil(tmp_path: Path) -> None:
    """gridinfo/soil rows: point order, ids, IGBP mapping, landarea, Ndep, pedotransfer."""
    h1 = write_history(tmp_path / "h1.nc", noleap_dates(2001))
    sf = write_surface(tmp_path / "surf.nc")
    c5.convert_clm5([h1], sf, tmp_path, compress=0, log=lambda m: None)
    g = read_gridinfo(tmp_path / "gridinfo_igbpz.csv")
    s = read_soil(tmp_path / "gridinfo_soil.csv")
    assert [(r.ilat, r.ilon) for r in g] == [(j + 1, i + 1) for j, i in ACTIVE]
    assert [r.ijcam for r in g] == [i * 3 + j + 1 for j, i in ACTIVE]
    assert [r.ijcam for r in s] == [r.ijcam for r in g]
    # natpft 4 -> 2, 12 -> 18, 13 -> 10, 7 -> 4, glacier-dominated -> 15
    assert [r.ivt_igbp for r in g] == [2, 18, 10, 4, 15]
    for r, (j, i) in zip(g, ACTIVE, strict=True):
        assert r.lat == LAT[j] and r.lon == LON[i]
        assert r.landarea == pytest.approx(AREA_KM2[j, i] * LANDFRAC[j, i] * 1e6, rel=1e-9)
        c = 2 * j + i
        assert r.ndep == pytest.approx(round(1e-9 * (c + 1) * SPD * 365, 5), abs=1e-5)
    # pedotransfer by hand: CLM4.5 thickness weights over the 10 texture levels
    z = 0.025 * (np.exp(0.5 * (np.arange(1, 16) - 0.5)) - 1)
    zi = np.concatenate([[0], 0.5 * (z[:-1] + z[1:])])
    dz = np.diff(zi)[:10]
    for r, (j, i) in zip(s, ACTIVE, strict=True):
        sand_l = SAND[j, i] + 0.5 * np.arange(10)
        clay_l = CLAY[j, i] + 0.2 * np.arange(10)
        sand = np.sum(sand_l * dz) / dz.sum()
        clay = np.sum(clay_l * dz) / dz.sum()
        wsat = np.sum((0.489 - 0.00126 * sand_l) * dz) / dz.sum()
        b = 2.91 + 0.159 * clay_l
        ksat = 0.0070556 * 10 ** (-0.884 + 0.0153 * sand_l) * 86400
        wfc = np.sum((0.489 - 0.00126 * sand_l) * (0.1 / ksat) ** (1 / (2 * b + 3)) * dz) / dz.sum()
        silt = 100 - sand - clay
        ww = (
            -1.5722 * silt
            - 0.5423 * sand
            - 0.0072 * clay**2
            + 0.0072 * silt**2
            - 0.0059 * sand**2
            + 160.14591 / clay
            + 6.60011 / sand
            + 0.0022 * clay * silt
            - 0.0039 * clay * sand
            + 92.3851
        )
        if ww >= 100 * wfc or 100 * wfc - ww <= 5:
            ww = 100 * wfc - 5
        assert r.sand == pytest.approx(sand / 100, abs=6e-6)
        assert r.clay == pytest.approx(clay / 100, abs=6e-6)
        assert r.silt == pytest.approx(silt / 100, abs=6e-6)
        assert r.wsat == pytest.approx(wsat, abs=6e-6)
        assert r.wfield == pytest.approx(wfc, abs=6e-6)
        assert r.wwilt == pytest.approx(ww / 100, abs=6e-6)
    # the original format: fixed-width fields with a trailing comma
    line = (tmp_path / "gridinfo_igbpz.csv").read_text().splitlines()[1]
    assert line.startswith("     1, -10.00,   0.00,  2,  1,  1,") and line.endswith("   1,   1,")


def test_pft_map_override(tmp_path: Path) -> None:
    """A CSV overrides the default mapping (C3 grass -> savanna 9, glacier -> barren 16)."""
    csvp = tmp_path / "map.csv"
    csvp.write_text("clm_pft,igbp\n13,9\nglacier,16\n")
    m = c5.read_pft_map(csvp)
    assert m == {13: 9, "glacier": 16}
    nat = np.zeros((15, 2))
    nat[13, 0] = 100.0
    nat[1, 1] = 100.0
    lus = {"natveg": np.array([100.0, 40.0]), "glacier": np.array([0.0, 60.0])}
    assert c5.dominant_igbp(nat, lus).tolist() == [10, 15]
    assert c5.dominant_igbp(nat, lus, m).tolist() == [9, 16]


def test_gregorian_leap_day_dropped(tmp_path: Path) -> None:
    """A gregorian leap year (366 records) becomes 365 days; Feb 29 is the day removed."""
    dates = gregorian_dates(2000)
    assert len(dates) == 366
    h = write_history(
        tmp_path / "h1.2000.nc", dates, calendar="gregorian", units="days since 2000-01-01 00:00:00", bounds=False
    )
    sf = write_surface(tmp_path / "surf.nc")
    res = c5.convert_clm5([h], sf, tmp_path / "o", compress=0, log=lambda m: None)
    assert [d.split()[0] for d in res.dropped_days] == ["2000-02-29"]
    m = read_met(tmp_path / "o" / "met_2000_2000.nc")
    assert m["_sizes"]["time"] == 365
    code = (m["xcgpp"][:, 0, 0] / SPD / 1e-8).round().astype(int)  # cell 0: code only
    assert code[58] == 228 and code[59] == 301  # Feb 28 then Mar 1
    assert 229 not in code.tolist()
    assert code[0] == 101 and code[-1] == 1231
    # time stamped at the end of each day (CLM): first record (t = 1.0) is Jan 1
    assert code[30] == 131 and code[31] == 201


def test_split_files_partial_year_and_lndgrid(tmp_path: Path) -> None:
    """Years spread over several files are joined; incomplete years are skipped;
    unstructured (lndgrid) input gives a compact grid."""
    d01 = noleap_dates(2001)
    a = write_history(tmp_path / "a.nc", d01[:200], lndgrid=True)
    b = write_history(tmp_path / "b.nc", d01[200:] + noleap_dates(2002)[:10], lndgrid=True, first_value=201.0)
    sf = write_surface(tmp_path / "surf.nc", lndgrid=True)
    msgs: list[str] = []
    res = c5.convert_clm5([a, b], sf, tmp_path / "o", compress=0, log=msgs.append)
    assert res.years == [2001] and res.skipped_years == [2002]
    assert any("2002 has only 10 of 365 days" in m for m in msgs)
    m = read_met(tmp_path / "o" / "met_2001_2001.nc")
    assert m["_sizes"]["lat"] == 5 and m["_sizes"]["lon"] == 1
    assert m["cellid"][:, 0].tolist() == [1, 2, 3, 4, 5]
    assert m["cellMissing"].sum() == 0
    # lndgrid order is the source order (cells 0,1,3,4,5; cell 2 is ocean)
    src = [0, 1, 3, 4, 5]
    code = _code(np.array([d[1] for d in d01], float), np.array([d[2] for d in d01], float))
    for k, c in enumerate(src):
        np.testing.assert_allclose(m["xcgpp"][:, k, 0], 1e-8 * (code + 1000 * c) * SPD, rtol=2e-7)
    g = read_gridinfo(tmp_path / "o" / "gridinfo_igbpz.csv")
    assert [r.ijcam for r in g] == [1, 2, 3, 4, 5] and {r.ilon for r in g} == {1}
    assert [r.lat for r in g] == [-10.0, -10.0, 50.0, 70.0, 70.0]


def test_units_and_missing_variables(tmp_path: Path) -> None:
    assert c5.per_day_factor("gC/m^2/s", "GPP") == 86400.0
    assert c5.per_day_factor("gN m-2 s-1", "NDEP") == 86400.0
    assert c5.per_day_factor("gN/m2/yr", "NDEP") == pytest.approx(1 / 365)
    assert c5.kelvin_offset("degC", "TSA") == 273.15
    with pytest.raises(c5.ConversionError, match="units"):
        c5.per_day_factor("mol", "GPP")
    h = write_history(tmp_path / "h.nc", noleap_dates(2001)[:5])
    with netCDF4.Dataset(h, "a") as ds:
        ds.renameVariable("NDEP_TO_SMINN", "NDEP_OTHER")
    sf = write_surface(tmp_path / "s.nc")
    with pytest.raises(c5.ConversionError, match="NDEP_TO_SMINN"):
        c5.convert_clm5([h], sf, tmp_path / "o", log=lambda m: None)


def test_cli_main(tmp_path: Path) -> None:
    h = write_history(tmp_path / "h.nc", noleap_dates(2001))
    sf = write_surface(tmp_path / "s.nc")
    rc = c5.main(
        [
            str(h),
            "--surface",
            str(sf),
            "-o",
            str(tmp_path / "o"),
            "--grid",
            "compact",
            "--layer-mapping",
            "original",
            "--compress",
            "0",
        ]
    )
    assert rc == 0
    m = read_met(tmp_path / "o" / "met_2001_2001.nc")
    assert m["_sizes"]["lat"] == 5 and m["_sizes"]["lon"] == 1
    # original grouping: layer 2 = thickness-weighted mean of CLM levels 2 and 3 (midpoint dz)
    dzm = c5.midpoint_thickness(ZNODE)
    assert not np.allclose(dzm[:3], DZ[:3])  # CLM5 nodes: midpoint rule differs from DZSOI
    t2 = ((260.5 + 0.101) * DZ[1] + (261.0 + 0.101) * DZ[2]) / (DZ[1] + DZ[2])
    assert m["xtsoil"][0, 1, 0, 0] == pytest.approx(t2, rel=1e-7)
    assert (tmp_path / "o" / "cells.csv").exists()
    assert c5.main([str(h), "--surface", str(sf), "-o", str(tmp_path / "o2"), "--years", "1999"]) == 2


def test_landfrac_threshold_masks_cells(tmp_path: Path) -> None:
    """Cells with LANDFRAC <= --min-landfrac are not simulated (cellMissing = 1, fill 1e36)."""
    h = write_history(tmp_path / "h.nc", noleap_dates(2001))
    sf = write_surface(tmp_path / "s.nc")
    res = c5.convert_clm5([h], sf, tmp_path / "o", min_landfrac=0.6, compress=0, log=lambda m: None)
    assert res.n_active == 4
    m = read_met(tmp_path / "o" / "met_2001_2001.nc")
    assert m["cellMissing"].tolist() == [[0, 1], [1, 0], [0, 0]]  # landfrac 0.5 and ocean cells
    assert np.all(m["xtsoil"][:, :, 0, 1] == np.float32(1e36))
    g = read_gridinfo(tmp_path / "o" / "gridinfo_igbpz.csv")
    assert [(r.ilat, r.ilon) for r in g] == [(1, 1), (3, 1), (2, 2), (3, 2)]


def test_air_temperature_fallbacks(tmp_path: Path) -> None:
    """Without TSA: TBOT; without both: (TREFMNAV + TREFMXAV) / 2; degC is converted."""
    h = write_history(tmp_path / "h.nc", noleap_dates(2001))
    with netCDF4.Dataset(h, "a") as ds:
        ds.renameVariable("TSA", "TBOT")
    sf = write_surface(tmp_path / "s.nc")
    c5.convert_clm5([h], sf, tmp_path / "o1", compress=0, log=lambda m: None)
    ref = read_met(tmp_path / "o1" / "met_2001_2001.nc")["xtairk"]
    with netCDF4.Dataset(h, "a") as ds:
        ds.set_auto_mask(False)
        tb = ds["TBOT"][:]
        ds.renameVariable("TBOT", "TREFMNAV")
        v = ds.createVariable("TREFMXAV", "f4", ds["TREFMNAV"].dimensions, fill_value=FILLV)
        v.units = "K"
        v[:] = np.where(tb < 1e35, tb + 4.0, FILLV)
        ds["TREFMNAV"][:] = np.where(tb < 1e35, tb - 4.0, FILLV)
    c5.convert_clm5([h], sf, tmp_path / "o2", compress=0, log=lambda m: None)
    got = read_met(tmp_path / "o2" / "met_2001_2001.nc")["xtairk"]
    act = ref < 1e35
    np.testing.assert_allclose(got[act], ref[act], rtol=1e-6)


def test_converted_forcing_runs_in_the_model(tmp_path: Path) -> None:
    """The run system reads the converter's met files and tables and runs two years on them."""
    from testbed.cli import main as testbed_main
    from testbed.config import RunConfig, namelist_text

    h1 = write_history(tmp_path / "h1.2001.nc", noleap_dates(2001))
    h2 = write_history(tmp_path / "h1.2002.nc", noleap_dates(2002), first_value=366.0)
    res = c5.convert_clm5(
        [h1, h2], write_surface(tmp_path / "surfdata.nc"), tmp_path / "met", compress=0, log=lambda m: None
    )
    cfg = RunConfig.defaults()
    cfg.override(
        [
            "run.mode=transient",
            "run.first_year=2001",
            "run.last_year=2002",
            "run.soil_model=mimics",
            f"files.gridinfo={res.tables[0]}",
            f"files.soil={res.tables[1]}",
            f"files.met={tmp_path / 'met' / 'met_{year}_{year}.nc'}",
            f"files.output_dir={tmp_path / 'out'}",
        ]
    )
    (tmp_path / "run.nml").write_text(namelist_text(cfg))
    assert testbed_main(["run", str(tmp_path / "run.nml"), "--workers", "1", "-q"]) == 0
    annual = xr.open_dataset(tmp_path / "out" / "annual.nc", decode_times=xr.coders.CFDatetimeCoder(use_cftime=True))
    assert annual["year"].values.tolist() == [2001, 2002]
    assert annual.sizes["cell"] == res.n_active
    assert np.isfinite(annual["cnpp"].values).all()
