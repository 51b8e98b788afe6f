"""CF 1.8 compliance of every file a run writes (IOOS compliance-checker), cf_xarray, open_mfdataset."""

from __future__ import annotations

import shutil
from pathlib import Path

import cf_units
import cf_xarray  # noqa: F401  (registers the .cf accessor)
import netCDF4
import numpy as np
import pytest
import xarray as xr
from compliance_checker.cf.util import StandardNameTable
from compliance_checker.runner import CheckSuite

import testbed.runner as runner
from testbed.cli import main
from testbed.output import to_grid, variables_for
from testbed.soil import REGISTRY

from .test_runner import write_namelist

CFTIME = xr.coders.CFDatetimeCoder(use_cftime=True)
KINDS = ("annual", "daily", "restart", "checkpoint")
#: runs with the optional processes on whose output variables exist only then (OutputVar.option)
OPTION_RUNS = {
    "casa-options": (
        "run.soil_model=casa",
        "moisture.fw_psi=true",
        "perturbation.dry_start=100",
        "heterogeneity.het_lin=true",
        "heterogeneity.cvc_slow=0.3",
        "heterogeneity.cvk_slow=0.4",
        "heterogeneity.rhokc_slow=-0.5",
    ),
    "mimics-options": (
        "run.soil_model=mimics",
        "perturbation.dry_start=100",
        "heterogeneity.het_mm=true",
        "heterogeneity.cv_micr=0.3",
        "heterogeneity.rho_r1=-0.5",
    ),
}


class AllOptions:
    """Contains every run option (variables_for with it lists every optional variable too)."""

    def __contains__(self, option: object) -> bool:
        return True


class Runs:
    """Small CASA-CN and MIMICS-CN runs (12 cells, 3 years, daily output, yearly checkpoints), made on first use.

    The runner deletes checkpoint.nc when the run ends; a copy of the last one it wrote is kept.
    """

    def __init__(self, root: Path) -> None:
        from testbed.forcing_tools.synthetic import make_synthetic_domain

        self.root = root
        make_synthetic_domain(
            root / "forcing", ncell=12, years=range(1901, 1904), seed=11, per_year=True, multi_year=True
        )
        self.done: dict[str, Path] = {}

    def __getitem__(self, model: str) -> Path:
        if model not in self.done:
            folder = self.root / model
            nml = write_namelist(
                folder,
                self.root,
                *OPTION_RUNS.get(model, (f"run.soil_model={model}",)),
                "run.cycles=1",
                "run.daily_output=true",
                "run.checkpoint_interval=1",
            )
            kept, original = folder / "checkpoint_copy.nc", runner.write_restart

            def keep(path, *args, **kwargs):
                original(path, *args, **kwargs)
                if Path(path).name == runner.CHECKPOINT:
                    shutil.copy(path, kept)

            with pytest.MonkeyPatch.context() as mp:
                mp.setattr(runner, "write_restart", keep)
                assert main(["run", str(nml), "--workers", "1", "-q"]) == 0
            self.done[model] = folder
        return self.done[model]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    return Runs(tmp_path_factory.mktemp("cf"))


def _file(run: Path, kind: str) -> Path:
    return {
        "annual": run / "out" / "annual.nc",
        "daily": sorted((run / "out").glob("daily_*.nc"))[0],
        "restart": run / "out" / "restart.nc",
        "checkpoint": run / "checkpoint_copy.nc",
    }[kind]


def cf_failures(path: Path) -> list[str]:
    """Every check of ``compliance-checker --test cf:1.8`` that does not pass fully, any priority."""
    cs = CheckSuite()
    cs.load_all_available_checkers()
    ds = cs.load_dataset(str(path))
    try:
        ((checker, (groups, errors)),) = cs.run_all(ds, ["cf:1.8"], [], []).items()
        assert not errors, f"checker raised: {errors}"
        report = cs.dict_output(checker, groups, str(path), 3)
    finally:
        ds.close()
    return [
        f"{prio}: {item['name']}: {item['msgs']}"
        for prio in ("high_priorities", "medium_priorities", "low_priorities")
        for item in report[prio]
        if item["value"][0] < item["value"][1]
    ]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("model", ["casa", pytest.param("mimics", marks=pytest.mark.slow)])
def test_cf_checker_reports_nothing(runs: Runs, model: str, kind: str) -> None:
    path = _file(runs[model], kind)
    assert path.is_file()
    assert cf_failures(path) == []


@pytest.mark.parametrize("kind", ["annual", "daily"])
@pytest.mark.parametrize("model", ["casa-options", pytest.param("mimics-options", marks=pytest.mark.slow)])
def test_cf_checker_with_the_optional_processes_on(runs: Runs, model: str, kind: str) -> None:
    path = _file(runs[model], kind)
    with netCDF4.Dataset(path) as ds:
        names = set(ds.variables)
    want = {"drySpell", "dryWetter", "drySpellPsiEff", "vg_alpha"}
    want |= {"psi", "het_phi_slow"} if model == "casa-options" else {"hetClamped"}
    assert want <= names
    assert cf_failures(path) == []


def test_the_checker_does_catch_non_udunits_units(runs: Runs, tmp_path: Path) -> None:
    bad = tmp_path / "bad.nc"
    shutil.copy(_file(runs["casa"], "restart"), bad)
    with netCDF4.Dataset(bad, "a") as ds:
        ds["cleaf"].units = "gC m-2"
    assert any("UDUNITS" in f for f in cf_failures(bad))


def test_table_units_and_standard_names_are_valid() -> None:
    table = StandardNameTable()
    every = {v for m in REGISTRY for c in (1, 2) for v in variables_for(m, c, AllOptions())}
    assert {"psi", "drySpell", "hetClamped"} <= {v.name for v in every}
    assert {"cExudate", "CUE_mic"} <= {v.name for v in every}
    for v in every:
        for units in (v.units, v.annual_units()):
            cf_units.Unit(units)  # raises on anything UDUNITS does not know
        if v.standard_name:
            entry = table._root.find(f"entry[@id='{v.standard_name}']")
            assert entry is not None, f"{v.name}: {v.standard_name} is not a CF standard name (or only an alias)"
            canonical = cf_units.Unit(entry.find("canonical_units").text)
            assert cf_units.Unit(v.annual_units()).is_convertible(canonical), (v.name, v.units, canonical)
        if v.units.startswith("g m-2"):  # mass of one element: the element is named once in long_name
            words = v.long_name.split()
            assert ("carbon" in words) != ("nitrogen" in words), v.name


def test_no_fill_value_on_coordinates_and_bounds(runs: Runs) -> None:
    for kind in ("annual", "daily"):
        with netCDF4.Dataset(_file(runs["casa"], kind)) as ds:
            for name in ("time", "time_bnds", "cell", "lat", "lon", "area", "pft", "cellid"):
                assert "_FillValue" not in ds[name].ncattrs(), f"{kind}: {name}"
            assert ds["time"].bounds == "time_bnds"
            assert ds["cnpp"].cell_measures == "area: area"
            assert set(ds["cnpp"].coordinates.split()) >= {"lat", "lon"}


@pytest.mark.parametrize("kind", ["annual", "daily"])
def test_cf_xarray_finds_lat_lon_area_and_bounds(runs: Runs, kind: str) -> None:
    ds = xr.open_dataset(_file(runs["casa"], kind), decode_times=CFTIME)
    assert ds.cf.coordinates["latitude"] == ["lat"] and ds.cf.coordinates["longitude"] == ["lon"]
    da = ds["csoilslow"]
    assert np.array_equal(da.cf["latitude"].values, ds["lat"].values)
    assert da.cf["longitude"].dims == ("cell",)
    assert ds.cf.cell_measures == {"area": ["area"]} and da.cf.cell_measures == {"area": ["area"]}
    assert ds.cf.bounds["time"] == ["time_bnds"]


def test_open_mfdataset_concatenates_daily_files_along_time(runs: Runs) -> None:
    files = sorted((runs["casa"] / "out").glob("daily_*.nc"))
    assert len(files) == 3
    with xr.open_mfdataset(files, decode_times=CFTIME) as ds:
        assert ds.sizes["time"] == 365 * len(files) and ds.sizes["cell"] == 12
        assert ds.indexes["time"].is_monotonic_increasing
        assert ds["time_bnds"].shape == (365 * len(files), 2)
        assert ds["lat"].dims == ("cell",)  # static coordinates are not repeated along time
        with xr.open_dataset(files[1], decode_times=CFTIME) as one:
            np.testing.assert_array_equal(ds["cnpp"].isel(time=slice(365, 730)).values, one["cnpp"].values)


def test_time_bounds_enclose_the_time_coordinate(runs: Runs) -> None:
    for kind in ("annual", "daily"):
        with xr.open_dataset(_file(runs["casa"], kind), decode_times=CFTIME) as ds:
            lo, hi = ds["time_bnds"].isel(nv=0).values, ds["time_bnds"].isel(nv=1).values
            assert all(lo <= ds["time"].values) and all(ds["time"].values < hi)
            assert all(lo[1:] == hi[:-1]) or kind == "annual"  # days tile the year


def test_to_grid_on_a_written_file(runs: Runs) -> None:
    with xr.open_dataset(_file(runs["casa"], "annual"), decode_times=CFTIME) as ds:
        lat, ilat = np.unique(ds["lat"].values, return_inverse=True)
        lon, ilon = np.unique(ds["lon"].values, return_inverse=True)
        grid = to_grid(ds, ilat + 1, ilon + 1, lat, lon)
        assert grid["cnpp"].dims == ("time", "lat", "lon")
        assert np.nansum(grid["cnpp"].values) == pytest.approx(float(ds["cnpp"].sum()), rel=1e-6)


def test_xarray_recipe_of_docs_matches_to_grid() -> None:
    """docs/outputs.md: set_index + unstack + reindex onto the met axes equals to_grid."""
    from testbed import layout
    from testbed.output import CellInfo, annual_columns, annual_data

    met_lat, met_lon = np.array([-30.0, 0.9424, 1.8848, 40.0]), np.array([0.0, 1.25, 2.5])
    ilat, ilon = np.array([1, 2, 2, 4, 3]), np.array([1, 1, 3, 2, 3])
    cells = CellInfo(
        lat=np.round(met_lat[ilat - 1], 2),
        lon=np.round(met_lon[ilon - 1], 2),
        area=np.ones(5),
        pft=np.ones(5, int),
        cellid=np.arange(1, 6),
    )
    annual = np.zeros((5, layout.NDIAG))
    annual[:, layout.index("diag", "npp")] = np.arange(1.0, 6.0)
    ds = annual_data([annual_columns(annual, "casa", 2)], [1901], cells, "casa", 2).to_xarray()
    grid = ds.drop_vars("cell").set_index(cell=["lat", "lon"]).unstack("cell")
    met = xr.Dataset(coords={"lat": met_lat, "lon": met_lon})
    tol = 0.5 * float(abs(met.lat.diff("lat")).min())
    grid = grid.reindex(lat=met.lat, lon=met.lon, method="nearest", tolerance=tol)
    ours = to_grid(ds, ilat, ilon, met_lat, met_lon)
    np.testing.assert_array_equal(grid["cnpp"].transpose("time", "lat", "lon").values, ours["cnpp"].values)
    assert int(np.isnan(ours["cnpp"].values).sum()) == 4 * 3 - 5
