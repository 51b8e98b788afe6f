"""Plot commands on realistic-looking synthetic runs (~200 land cells on a 10-degree grid)."""

from __future__ import annotations

from pathlib import Path

import cftime
import numpy as np
import pytest
import xarray as xr

import testbed.analysis as an
import testbed.plots as tp

# crude continents (lon0, lon1, lat0, lat1) on a 10-degree grid; Greenland is ice (IGBP 15)
LAND = (
    (-165, -55, 15, 75),
    (-80, -35, -55, 12),
    (-10, 180, 35, 75),
    (-18, 50, -35, 35),
    (65, 125, 5, 35),
    (113, 153, -40, -12),
)
ICE = (-55, -20, 60, 80)


def make_grid() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lat2, lon2 = np.meshgrid(np.arange(-55.0, 86.0, 10.0), np.arange(-175.0, 176.0, 10.0), indexing="ij")
    lat, lon = lat2.ravel(), lon2.ravel()

    def inside(box: tuple[float, float, float, float]) -> np.ndarray:
        return (lon >= box[0]) & (lon <= box[1]) & (lat >= box[2]) & (lat <= box[3])

    land = np.zeros(lat.size, bool)
    for box in LAND:
        land |= inside(box)
    ice = inside(ICE)
    keep = land | ice
    pft = np.where(ice, 15, 0)[keep]
    return lat[keep], lon[keep], pft


def make_run(soil_model: str, cycle: str, years: range = range(1901, 1921), seed: int = 1) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    lat, lon, pft = make_grid()
    n, nt = lat.size, len(years)
    pft = np.where(pft == 15, 15, rng.choice([1, 2, 4, 5, 6, 7, 8, 9, 10, 12, 14, 16, 11, 17], n))
    area = 1.2e12 * np.cos(np.deg2rad(lat)) * rng.uniform(0.3, 1.0, n)
    area[rng.random(n) < 0.03] = 0.0
    t = [cftime.DatetimeNoLeap(y, 7, 2) for y in years]
    ds = xr.Dataset(
        coords={
            "time": t,
            "lat": ("cell", lat),
            "lon": ("cell", lon % 360),
            "area": ("cell", area),
            "pft": ("cell", pft),
            "cellid": ("cell", np.arange(n) + 1),
        },
        attrs={"soil_model": soil_model, "cycle": cycle, "Conventions": "CF-1.8"},
    )
    tsoil = 27.0 - 0.45 * np.abs(lat) + rng.normal(0, 1.5, n)
    trend = 1.0 + 0.003 * np.arange(nt)[:, None]
    nlim = 0.85 if cycle == "cn" else 1.0
    npp = nlim * np.clip(1000 * np.cos(np.deg2rad(lat)) ** 2 * rng.uniform(0.6, 1.1, n), 30, None) * trend
    tau = 12.0 * 2.0 ** ((15.0 - tsoil) / 10.0) * rng.uniform(0.7, 1.3, n)
    soil_c = npp[0] * tau * (1.0 + 0.002 * np.arange(nt)[:, None])
    mic_frac = 0.012 + 0.01 * np.clip(tsoil, 0, 30) / 30 * (1.4 if soil_model == "mimics" else 1.0)
    soil_cn = 11 + 0.08 * np.abs(lat) + rng.normal(0, 0.5, n)
    mic_cn = 6.5 + 0.03 * np.abs(lat)

    def put(name: str, values: np.ndarray, units: str) -> None:
        ds[name] = (("time", "cell"), np.broadcast_to(values, (nt, n)).copy(), {"units": units})

    rh = 0.97 * npp
    put("cnpp", npp, "gC m-2 yr-1")
    put("cgpp", 2.1 * npp, "gC m-2 yr-1")
    put("cresp", rh, "gC m-2 yr-1")
    put("cnep", npp - rh, "gC m-2 yr-1")
    put("cleaf", 0.05 * npp / nlim * 3, "gC m-2")
    put("cwood", 8.0 * npp / nlim, "gC m-2")
    put("cfroot", 0.4 * npp / nlim, "gC m-2")
    put("tsoilC", tsoil, "degC")
    mic = mic_frac * soil_c
    if soil_model == "mimics":
        fr = {"cLITm": 0.04, "cLITs": 0.10, "cSOMa": 0.30, "cSOMc": 0.20, "cSOMp": 0.36}
        for v, f in fr.items():
            put(v, f * (soil_c - mic), "gC m-2")
        put("cMICr", 0.6 * mic, "gC m-2")
        put("cMICk", 0.4 * mic, "gC m-2")
        if cycle == "cn":
            for v, f in fr.items():
                put("n" + v[1:], f * (soil_c - mic) / soil_cn, "gN m-2")
            put("nMICr", 0.6 * mic / mic_cn, "gN m-2")
            put("nMICk", 0.4 * mic / mic_cn, "gN m-2")
    else:
        fr = {"clitmetb": 0.04, "clitstr": 0.10, "csoilslow": 0.50, "csoilpass": 0.36}
        for v, f in fr.items():
            put(v, f * (soil_c - mic), "gC m-2")
        put("csoilmic", mic, "gC m-2")
        if cycle == "cn":
            for v, f in fr.items():
                put("n" + v[1:], f * (soil_c - mic) / soil_cn, "gN m-2")
            put("nsoilmic", mic / 8.0, "gN m-2")
    if cycle == "cn":
        put("nNetMineralization", npp / 45.0, "gN m-2 yr-1")
    return ds


def make_runs(casa: bool = True) -> dict[str, xr.Dataset]:
    runs = {"mimics_cn": make_run("mimics", "cn", seed=1), "mimics_c": make_run("mimics", "c", seed=1)}
    if casa:
        runs["casa_cn"] = make_run("casa", "cn", seed=2)
    return runs


@pytest.fixture(scope="module")
def run_dirs(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    root = tmp_path_factory.mktemp("runs")
    dirs = []
    for name, ds in make_runs(casa=False).items():  # two runs keep the test fast
        (root / name).mkdir()
        ds.to_netcdf(root / name / "annual.nc")
        dirs.append(str(root / name))
    return dirs


def test_synthetic_grid_is_realistic() -> None:
    lat, _, pft = make_grid()
    assert 150 <= lat.size <= 320 and (pft == 15).sum() > 3


@pytest.mark.parametrize("kind", tp.KINDS)
def test_plot_command_writes_pngs(run_dirs: list[str], kind: str, tmp_path: Path) -> None:
    period = (1911, 1920) if kind in ("zonal", "map") else None
    dirs = run_dirs[1:] if kind == "map" else run_dirs  # one map per run: one is enough here
    paths = tp.plot_command(dirs, kind, str(tmp_path / "figs"), period=period)
    assert len(paths) == 1
    for p in paths:
        assert p.is_file() and p.suffix == ".png"
        assert p.stat().st_size > 10_000, p
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if kind == "map":
        assert paths[0].name == "map_mimics_c.png"


def test_bad_kind(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        tp.plot_command([], "histogram", str(tmp_path))
    with pytest.raises(ValueError):
        tp.plot_runs({}, "histogram", tmp_path)


def test_matplotlib_imported_lazily() -> None:
    """No module-level matplotlib import in testbed.plots (importing testbed stays fast)."""
    import ast

    tree = ast.parse(Path(tp.__file__).read_text())
    for node in tree.body:
        if isinstance(node, ast.Import):
            assert not any(a.name.startswith("matplotlib") for a in node.names)
        if isinstance(node, ast.ImportFrom):
            assert not (node.module or "").startswith("matplotlib")


def test_realistic_summary_magnitudes() -> None:
    table = an.summary_table(make_runs())
    assert 20 < table.loc["NPP (Pg C yr-1)", "mimics_c"] < 200
    assert table.loc["N limitation of NPP (%)", "mimics_cn"] == pytest.approx(-15.0)
