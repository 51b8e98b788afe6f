"""Tests of testbed.analysis against hand-computed values on a 6-cell synthetic dataset.

Cells (lat, area m2, IGBP pft): 0 (-50, 1e12, 1), 1 (-47, 3e12, 2), 2 (10, 2e12, 6),
3 (12, 2e12, 11 wetland -> masked), 4 (80, 5e12, 15 ice -> masked), 5 (30, 0 m2, 7 -> masked).
Only cells 0-2 count: soil C 1000/2000/3000, microbial C 20/40/60, soil N 100/250/200,
microbial N 4/10/12, NPP 500/400/300 times 1, 2, 3, 4 in the years 1901-1904 (gC or gN m-2).
"""

from __future__ import annotations

import math

import cftime
import dask
import dask.array
import numpy as np
import pytest
import xarray as xr

import testbed.analysis as an

YEARS = (1901, 1902, 1903, 1904)
AREA = np.array([1e12, 3e12, 2e12, 2e12, 5e12, 0.0])
NPP_GROWTH = np.array([1.0, 2.0, 3.0, 4.0])


def _cells(active: list[float], masked: float) -> np.ndarray:
    """Values for the three active cells followed by a large value in the three masked ones."""
    return np.array(active + [masked] * 3, dtype=float)


def make_run(soil_model: str = "mimics", cycle: str = "cn", c_scale: float = 1.0, npp_scale: float = 1.0) -> xr.Dataset:
    time = [cftime.DatetimeNoLeap(y, 7, 2) for y in YEARS]
    bnds = [[cftime.DatetimeNoLeap(y, 1, 1), cftime.DatetimeNoLeap(y + 1, 1, 1)] for y in YEARS]
    ds = xr.Dataset(
        coords={
            "time": time,
            "lat": ("cell", [-50.0, -47.0, 10.0, 12.0, 80.0, 30.0]),
            "lon": ("cell", [0.0, 30.0, 60.0, 90.0, 120.0, 150.0]),
            "area": ("cell", AREA),
            "pft": ("cell", [1, 2, 6, 11, 15, 7]),
            "cellid": ("cell", np.arange(6) + 100),
        },
        attrs={"soil_model": soil_model, "cycle": cycle, "Conventions": "CF-1.8"},
    )
    ds["time_bnds"] = (("time", "nv"), np.array(bnds, dtype=object))

    def put(name: str, per_cell: np.ndarray, units: str, growth: np.ndarray | None = None) -> None:
        g = np.ones(len(YEARS)) if growth is None else growth
        ds[name] = (("time", "cell"), g[:, None] * per_cell[None, :], {"units": units})

    mic = _cells([10.0, 20.0, 30.0], 999.0) * c_scale  # each of the two microbial pools
    other = _cells([196.0, 392.0, 588.0], 999.0) * c_scale  # each of the five other pools
    mic_n = _cells([2.0, 5.0, 6.0], 1.0)
    other_n = _cells([19.2, 48.0, 37.6], 1.0)
    if soil_model == "mimics":
        for v in ("cMICr", "cMICk"):
            put(v, mic, "gC m-2")
        for v in ("cLITm", "cLITs", "cSOMa", "cSOMc", "cSOMp"):
            put(v, other, "gC m-2")
        if cycle == "cn":
            for v in ("nMICr", "nMICk"):
                put(v, mic_n, "gN m-2")
            for v in ("nLITm", "nLITs", "nSOMa", "nSOMc", "nSOMp"):
                put(v, other_n, "gN m-2")
    else:  # CASA: csoilmic holds all microbial C, the other 4 pools the rest
        put("csoilmic", 2 * mic, "gC m-2")
        for v in ("clitmetb", "clitstr", "csoilslow", "csoilpass"):
            put(v, other * 5 / 4, "gC m-2")
        if cycle == "cn":
            put("nsoilmic", 2 * mic_n, "gN m-2")
            for v in ("nlitmetb", "nlitstr", "nsoilslow", "nsoilpass"):
                put(v, other_n * 5 / 4, "gN m-2")
    put("clitcwd", _cells([5.0, 5.0, 5.0], 5.0), "gC m-2")
    put("cleaf", _cells([100.0, 200.0, 300.0], 1e4), "gC m-2")
    put("cwood", _cells([1000.0, 0.0, 0.0], 1e4), "gC m-2")
    put("cfroot", _cells([50.0, 50.0, 50.0], 1e4), "gC m-2")
    npp = _cells([500.0, 400.0, 300.0], 1e4) * npp_scale
    put("cnpp", npp, "gC m-2 yr-1", NPP_GROWTH)
    put("cgpp", 2 * npp, "gC m-2 yr-1", NPP_GROWTH)
    put("cresp", 0.5 * npp, "gC m-2 yr-1", NPP_GROWTH)
    put("cnep", 0.5 * npp, "gC m-2 yr-1", NPP_GROWTH)
    if cycle == "cn":
        put("nNetMineralization", _cells([10.0, 20.0, 30.0], 1e4), "gN m-2 yr-1")
    return ds


@pytest.fixture
def run() -> xr.Dataset:
    return make_run()


def _raising_scheduler(*args: object, **kwargs: object) -> None:
    raise AssertionError("something was computed")


# ------------------------------------------------------------------ masks, weights, global sums
def test_active_mask_and_weights(run: xr.Dataset) -> None:
    assert an.active_mask(run).values.tolist() == [True, True, True, False, False, False]
    np.testing.assert_array_equal(an.cell_weights(run).values, [1e12, 3e12, 2e12, 0, 0, 0])


def test_global_sums_area_weighted_and_masked(run: xr.Dataset) -> None:
    # (1000*1e12 + 2000*3e12 + 3000*2e12) g = 13e15 g = 13 Pg
    np.testing.assert_allclose(run.testbed.total("soil_c").values, 13.0)
    np.testing.assert_allclose(run.testbed.total("mic_c").values, (20 + 120 + 120) * 1e-3)
    np.testing.assert_allclose(run.testbed.total("veg_c").values, (1150 + 750 + 700) * 1e-3)
    # NPP (500 + 1200 + 600) g m-2 * 1e12 m2 = 2.3 Pg C/yr, growing 1, 2, 3, 4
    np.testing.assert_allclose(run.testbed.total("npp").values, 2.3 * NPP_GROWTH)
    # N in Tg: (100*1 + 250*3 + 200*2) * 1e12 g = 1250 Tg N; net mineralisation 130 Tg N/yr
    np.testing.assert_allclose(run.testbed.total("soil_n").values, 1250.0)
    np.testing.assert_allclose(run.testbed.total("net_n_min").values, 130.0)
    np.testing.assert_allclose(run.testbed.global_sum("cleaf").values, (100 + 600 + 600) * 1e-3)
    assert run.testbed.total("soil_c").attrs["units"] == "Pg C"
    assert an.global_sum(run["cnpp"]).attrs["units"] == "Pg C yr-1"
    assert an.global_sum(run["nNetMineralization"], an.G_TO_TG).attrs["units"] == "Tg N yr-1"


def test_global_mean_skips_masked_and_nan(run: xr.Dataset) -> None:
    np.testing.assert_allclose(run.testbed.global_mean(run.testbed.soil_carbon()).values, 13e15 / 6e12)
    npp = run["cnpp"].isel(time=0).copy()
    npp[1] = np.nan  # the 3e12 m2 cell drops out of numerator and denominator
    np.testing.assert_allclose(an.global_mean(npp).values, (500 * 1 + 300 * 2) / 3)


def test_ratios_are_ratios_of_totals(run: xr.Dataset) -> None:
    np.testing.assert_allclose(run.testbed.total("rel_mic").values, 0.26 / 13 * 100)  # 2 %
    np.testing.assert_allclose(run.testbed.total("soil_cn").values, 13e15 / 1250e12)  # 10.4
    # microbial N (4*1 + 10*3 + 12*2) e12 = 58e12 g
    np.testing.assert_allclose(run.testbed.total("mic_cn").values, 260 / 58)
    np.testing.assert_allclose(run.testbed.soil_cn().isel(time=0, cell=[0, 1, 2]).values, [10, 8, 15])
    np.testing.assert_allclose(run.testbed.microbial_cn().isel(time=0, cell=[0, 1, 2]).values, [5, 4, 5])
    np.testing.assert_allclose(run.testbed.relative_microbial_biomass().isel(time=0, cell=[0, 1, 2]).values, [2, 2, 2])


def test_turnover_time(run: xr.Dataset) -> None:
    # per cell 1000/500, 2000/400, 3000/300 yr in 1901; global 13 Pg / 2.3 Pg/yr
    np.testing.assert_allclose(run.testbed.turnover_time().isel(time=0, cell=[0, 1, 2]).values, [2, 5, 10])
    np.testing.assert_allclose(run.testbed.total("turnover").values, 13 / (2.3 * NPP_GROWTH))
    neg = run.assign(cnpp=run["cnpp"] * 0 - 1)
    assert np.isnan(an.turnover_time(neg).values).all()
    # with CWD (5 gC m-2 in every cell): (1005, 2005, 3005) / NPP
    np.testing.assert_allclose(an.turnover_time(run, include_cwd=True).isel(time=0, cell=0), 1005 / 500)


def test_casa_soil_and_microbial_pools() -> None:
    ds = make_run("casa")
    ds.attrs.pop("soil_model")  # detection from the variables
    assert an.soil_model(ds) == "casa"
    np.testing.assert_allclose(an.soil_carbon(ds).isel(time=0, cell=[0, 1, 2]).values, [1000, 2000, 3000])
    np.testing.assert_allclose(an.microbial_carbon(ds).isel(time=0, cell=[0, 1, 2]).values, [20, 40, 60])
    np.testing.assert_allclose(an.soil_carbon(ds, include_cwd=True).isel(time=0, cell=0).values, 1005)
    np.testing.assert_allclose(an.total(ds, "soil_cn").values, 10.4)


def test_c_only_run_has_no_n_quantities() -> None:
    ds = make_run(cycle="c")
    assert an.cycle(ds) == "c"
    with pytest.raises(an.MissingVariableError):
        an.soil_cn(ds)
    with pytest.raises(an.MissingVariableError):
        an.total(ds, "net_n_min")
    ds.attrs.pop("cycle")
    assert an.cycle(ds) == "c"


# ------------------------------------------------------------------ laziness
def test_everything_lazy_on_dask() -> None:
    ds = make_run().chunk({"cell": 2, "time": 2})
    c_only = make_run(cycle="c", npp_scale=1.25).chunk({"cell": 3})
    with dask.config.set(scheduler=_raising_scheduler):
        results = {name: ds.testbed.total(name) for name in an.QUANTITIES}
        results.update({f"zonal_{name}": ds.testbed.zonal(name) for name in ("soil_cn",)})
        results["field"] = ds.testbed.field("turnover")
        results["zonal_mean"] = ds.testbed.zonal_mean("cnpp", 10.0)
        results["global_mean"] = ds.testbed.global_mean("cnpp")
        results["period_change"] = an.period_change(ds["cnpp"], (1901, 1902), (1903, 1904))
        results["rr"] = ds.testbed.response_ratio(c_only, "npp")
        results["nlim"] = ds.testbed.n_limitation(c_only, relative=True, global_total=True)
        results["cum"] = an.cumulative_over_years(ds.testbed.total("nep"))
        pm = ds.testbed.period_mean((1901, 1902))
        results["period_mean"] = pm["cnpp"]
    for name, da in results.items():
        assert isinstance(da.data, dask.array.Array), name
    np.testing.assert_allclose(results["soil_c"].compute().values, 13.0)
    np.testing.assert_allclose(results["nlim"].compute().values, -20.0)
    np.testing.assert_allclose(results["period_change"].isel(cell=0).compute().values, 1000.0)


# ------------------------------------------------------------------ zonal means
def test_zonal_mean_weights_and_masks(run: xr.Dataset) -> None:
    z = run.testbed.zonal("soil_c").isel(time=0)  # 5-degree bands
    assert z.sizes["lat_band"] == 36
    # cells 0 (-50) and 1 (-47) share [-50, -45): (1000*1 + 2000*3) / 4
    np.testing.assert_allclose(z.sel(lat_band=-47.5).values, 1750.0)
    # [10, 15): cell 2 only, the wetland cell 3 is masked
    np.testing.assert_allclose(z.sel(lat_band=12.5).values, 3000.0)
    # ice (80 N) and zero-area (30 N) cells are masked -> NaN, as are empty bands
    assert np.isnan(z.sel(lat_band=[82.5, 32.5, 0.0 + 2.5]).values).all()
    assert int(z.notnull().sum()) == 2
    # ratios: ratio of zonal means, (1000 + 6000) / (100 + 750)
    np.testing.assert_allclose(run.testbed.zonal("soil_cn").isel(time=0).sel(lat_band=-47.5), 7000 / 850)
    z10 = run.testbed.zonal_mean("cnpp", width=10.0).isel(time=1)
    assert z10.sizes["lat_band"] == 18
    np.testing.assert_allclose(z10.sel(lat_band=-45.0), 2 * (500 + 1200) / 4)
    np.testing.assert_allclose(z10.sel(lat_band=15.0), 2 * 300)


def test_lat_bands_cover_globe() -> None:
    centres, bounds = an.lat_bands(5.0)
    assert centres[0] == -87.5 and centres[-1] == 87.5
    assert bounds[0, 0] == -90 and bounds[-1, 1] == 90
    centres7, bounds7 = an.lat_bands(7.0)
    assert bounds7[-1, 1] == 90.0 and centres7.size == 26


# ------------------------------------------------------------------ periods and time
def test_period_mean_and_change(run: xr.Dataset) -> None:
    npp = run.testbed.total("npp")
    np.testing.assert_allclose(an.period_mean(npp, (1901, 1902)).values, 2.3 * 1.5)
    np.testing.assert_allclose(an.period_mean(npp).values, 2.3 * 2.5)
    np.testing.assert_allclose(an.period_change(npp, (1901, 1902), (1903, 1904)).values, 2.3 * 2)
    np.testing.assert_allclose(an.period_change(npp, (1901, 1902), (1903, 1904), relative=True).values, 100 * 2 / 1.5)
    pm = run.testbed.period_mean((1903, 1904))
    assert pm.attrs["soil_model"] == "mimics" and "time" not in pm.dims
    np.testing.assert_allclose(pm.testbed.total("npp").values, 2.3 * 3.5)
    with pytest.raises(ValueError):
        an.period_mean(npp, (2000, 2010))


def test_cumulative_over_irregular_records() -> None:
    time = [cftime.DatetimeNoLeap(y, 7, 2) for y in (1, 2, 5)]
    nep = xr.DataArray([1.0, 2.0, 3.0], dims="time", coords={"time": time})
    # record 3 stands for years 3-5
    np.testing.assert_allclose(an.cumulative_over_years(nep).values, [1.0, 3.0, 12.0])


# ------------------------------------------------------------------ comparisons
def test_response_ratio_aligns_on_time() -> None:
    t = [cftime.DatetimeNoLeap(y, 7, 2) for y in (1, 2, 3, 4)]
    a = xr.DataArray([1.0, math.e, math.e**2, -1.0], dims="time", coords={"time": t})
    b = xr.DataArray([1.0, 1.0, 1.0], dims="time", coords={"time": t[1:]})
    rr = an.response_ratio(a, b)
    assert rr.sizes["time"] == 3
    np.testing.assert_allclose(rr.values, [1.0, 2.0, np.nan])
    assert an.response_ratio(2.0, 1.0) == pytest.approx(math.log(2))
    assert math.isnan(an.response_ratio(0.0, 1.0))


def test_response_ratio_per_cell(run: xr.Dataset) -> None:
    twin = make_run(cycle="c", c_scale=1.5)
    rr = run.testbed.response_ratio(twin, "soil_c").isel(time=0, cell=[0, 1, 2])
    np.testing.assert_allclose(rr.values, math.log(1 / 1.5))


def test_n_limitation(run: xr.Dataset) -> None:
    twin = make_run(cycle="c", npp_scale=1.25)
    per_cell = an.n_limitation(run, twin).isel(time=0, cell=[0, 1, 2])
    np.testing.assert_allclose(per_cell.values, [-125.0, -100.0, -75.0])
    np.testing.assert_allclose(an.n_limitation(run, twin, relative=True).isel(time=0, cell=0), -20.0)
    np.testing.assert_allclose(an.n_limitation(run, twin, global_total=True).values, -0.575 * NPP_GROWTH)


# ------------------------------------------------------------------ summary table
def _pair() -> dict[str, xr.Dataset]:
    return {
        "mimics_cn": make_run(),
        "mimics_c": make_run(cycle="c", c_scale=1.5, npp_scale=1.25),
        "casa_cn": make_run("casa"),
    }


def test_find_pairs() -> None:
    assert an.find_pairs(_pair()) == {"mimics_cn": "mimics_c"}
    runs = _pair() | {"mimics_c2": make_run(cycle="c")}
    assert an.find_pairs(runs) == {}  # ambiguous: two C-only MIMICS runs


def test_summary_table_rows() -> None:
    table = an.summary_table(_pair(), period=(1901, 1902))
    assert list(table.index) == [label for label, _ in an.SUMMARY_ROWS] + list(an.PAIR_ROWS)
    assert list(table.columns) == ["mimics_cn", "mimics_c", "casa_cn"]
    cn, c = table["mimics_cn"], table["mimics_c"]
    assert cn["GPP (Pg C yr-1)"] == pytest.approx(2 * 3.45)
    assert cn["NPP (Pg C yr-1)"] == pytest.approx(3.45)
    assert cn["HR (Pg C yr-1)"] == pytest.approx(3.45 / 2)
    assert cn["Soil C (Pg C)"] == pytest.approx(13.0)
    assert cn["Vegetation C (Pg C)"] == pytest.approx(2.6)
    assert cn["Microbial biomass (Pg C)"] == pytest.approx(0.26)
    assert cn["Relative microbial biomass (%)"] == pytest.approx(2.0)
    assert cn["Net N mineralisation (Tg N yr-1)"] == pytest.approx(130.0)
    assert cn["Soil C:N"] == pytest.approx(10.4)
    assert cn["Microbial C:N (MIMICS)"] == pytest.approx(260 / 58)
    assert cn["Soil C turnover time (yr)"] == pytest.approx(13 / 3.45)
    # pair rows: NPP_c = 1.25 * NPP_cn, soil and microbial C of the C-only twin * 1.5
    assert cn["N limitation of NPP (Pg C yr-1)"] == pytest.approx(3.45 - 1.25 * 3.45)
    assert cn["N limitation of NPP (%)"] == pytest.approx(-20.0)
    assert cn["ln(CN/C) NPP"] == pytest.approx(math.log(1 / 1.25))
    assert cn["ln(CN/C) soil C"] == pytest.approx(math.log(1 / 1.5))
    assert cn["ln(CN/C) microbial biomass"] == pytest.approx(math.log(1 / 1.5))
    # C-only twin: no N rows, no pair rows; CASA: no microbial C:N
    assert c[["Net N mineralisation (Tg N yr-1)", "Soil C:N", "Microbial C:N (MIMICS)"]].isna().all()
    assert c[list(an.PAIR_ROWS)].isna().all()
    assert c["Soil C (Pg C)"] == pytest.approx(19.5)
    assert np.isnan(table.loc["Microbial C:N (MIMICS)", "casa_cn"])
    assert table.loc["Soil C:N", "casa_cn"] == pytest.approx(10.4)


def test_summary_table_explicit_pairs_on_dask() -> None:
    runs = {k: v.chunk({"cell": 2}) for k, v in _pair().items()}
    table = an.summary_table(runs, pairs={"casa_cn": "mimics_c"})
    assert table.loc["N limitation of NPP (%)", "casa_cn"] == pytest.approx(-20.0)
    assert table["mimics_cn"][list(an.PAIR_ROWS)].isna().all()


def test_markdown_and_csv(tmp_path) -> None:
    table = an.summary_table(_pair())
    md = an.to_markdown(table)
    lines = md.splitlines()
    assert lines[0] == "| quantity | mimics_cn | mimics_c | casa_cn |"
    assert lines[1] == "|---|---:|---:|---:|"
    assert "| Soil C (Pg C) | 13.0 | 19.5 | 13.0 |" in lines
    assert "| Soil C:N | 10.4 | n/a | 10.4 |" in lines
    assert "`mimics_c`" in md
    csv, mdfile = an.write_summary(table, tmp_path / "out" / "summary")
    assert csv.name == "summary.csv" and mdfile.read_text() == md
    import pandas as pd

    back = pd.read_csv(csv, index_col=0)
    assert back.loc["Soil C (Pg C)", "mimics_c"] == pytest.approx(19.5)


def test_summary_command(tmp_path, capsys) -> None:
    dirs = []
    for name, ds in list(_pair().items())[:2]:
        d = tmp_path / name
        d.mkdir()
        ds.to_netcdf(d / "annual.nc")
        dirs.append(str(d))
    md = an.summary_command(dirs + [str(tmp_path / "mimics_cn") + "/"], str(tmp_path / "s"), period=(1903, 1904))
    assert "| quantity | mimics_cn | mimics_c | mimics_cn_2 |" in md
    assert "| NPP (Pg C yr-1) | 8.05 | 10.1 | 8.05 |" in md
    assert (tmp_path / "s.csv").is_file() and (tmp_path / "s.md").read_text() == md
    assert "Soil C:N" in capsys.readouterr().out
    with pytest.raises(FileNotFoundError):
        an.summary_command([str(tmp_path / "nope")], None)


def test_collapse_cells_preserves_totals(run: xr.Dataset) -> None:
    one = an.collapse_cells(run)
    assert one.sizes["cell"] == 1 and one.attrs["soil_model"] == "mimics"
    for name in an.QUANTITIES:
        np.testing.assert_allclose(an.total(one, name).values, an.total(run, name).values, err_msg=name)


def test_r_to_k_ratio_is_micr_over_mick(run: xr.Dataset) -> None:
    ratio = run.testbed.r_to_k_ratio()
    np.testing.assert_allclose(ratio.values, (run["cMICr"] / run["cMICk"].where(run["cMICk"] > 0)).values)
    with pytest.raises(an.MissingVariableError, match="needs a MIMICS run"):
        an.r_to_k_ratio(make_run("casa"))
