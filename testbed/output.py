"""CF-conventions NetCDF outputs: variable table, xarray datasets, atomic writers.

The variable table is the single place that names, documents and units every
output variable (docs/outputs.md is its prose version). Annual values are sums
of the daily fluxes and means of the end-of-day pools (sum x (1/365), as the
original computes them).
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cftime
import numpy as np
import xarray as xr

from . import layout, provenance
from .errors import InputError
from .state import atomic_path

FILL = np.float32(1.0e36)
_UMASK = os.umask(0)
os.umask(_UMASK)


@dataclass(frozen=True)
class OutputVar:
    """One output variable: where it comes from and how it is described (CF 1.8, UDUNITS units).

    ``standard_name`` only where the CF standard-name table has one for exactly this quantity
    (tests/test_output_cf.py checks each against the table and its canonical units); the element
    of a C or N mass is named in ``long_name`` ("carbon", "nitrogen") since ``g m-2`` cannot carry it.
    """

    name: str            #: NetCDF variable name
    diag: str            #: kernel diagnostic column
    units: str           #: UDUNITS units of the daily value ("... d-1" for fluxes)
    long_name: str
    kind: str            #: "flux" (summed over a year) or "mean" (pools and scalars, averaged)
    models: tuple[str, ...] = ("casa", "mimics")
    cycles: tuple[int, ...] = (1, 2)
    standard_name: str | None = None

    def annual_units(self) -> str:
        return self.units.replace("d-1", "yr-1") if self.kind == "flux" else self.units

    def cell_methods(self, annual: bool) -> str:
        """Fluxes are mean rates over the time bounds (the day, or the year = sum of its days);
        pools are annual means of end-of-day values, or the end-of-day value in daily files."""
        return "time: point" if self.kind == "mean" and not annual else "time: mean"


CN = (2,)
CASA = ("casa",)
MIMICS = ("mimics",)
FLUX, POOL = "g m-2 d-1", "g m-2"  #: C or N mass per unit area (per day)
_SN_FIX = "tendency_of_soil_and_vegetation_mass_content_of_nitrogen_compounds_expressed_as_nitrogen_due_to_fixation"
_SN_LEACH = ("mass_flux_of_nitrogen_compounds_expressed_as_nitrogen_out_of_vegetation_and_litter_and_soil_due_to_"
             "leaching_and_runoff")
_SN_NETMIN = ("mass_flux_of_nitrogen_compounds_expressed_as_nitrogen_out_of_litter_and_soil_due_to_immobilisation_"
              "and_remineralization")
_SN_RA = "surface_upward_mass_flux_of_carbon_dioxide_expressed_as_carbon_due_to_plant_respiration"
_SN_RH = "surface_upward_mass_flux_of_carbon_dioxide_expressed_as_carbon_due_to_heterotrophic_respiration"

VARIABLES: tuple[OutputVar, ...] = (
    OutputVar("cgpp", "gpp", FLUX, "gross primary production of carbon (after root exudation)", "flux",
              standard_name="gross_primary_productivity_of_biomass_expressed_as_carbon"),
    OutputVar("cnpp", "npp", FLUX, "net primary production of carbon", "flux",
              standard_name="net_primary_productivity_of_biomass_expressed_as_carbon"),
    OutputVar("cra", "ra", FLUX, "autotrophic respiration carbon flux", "flux", standard_name=_SN_RA),
    OutputVar("cresp", "rh", FLUX, "heterotrophic respiration carbon flux", "flux", standard_name=_SN_RH),
    OutputVar("cnep", "nep", FLUX, "net ecosystem production of carbon (NPP - heterotrophic respiration)", "flux",
              standard_name="net_ecosystem_production_expressed_as_carbon_per_unit_area"),
    OutputVar("cleaf", "cleaf", POOL, "leaf carbon", "mean", standard_name="leaf_mass_content_of_carbon"),
    OutputVar("cwood", "cwood", POOL, "wood carbon (stems and coarse roots)", "mean",
              standard_name="stem_mass_content_of_carbon"),
    OutputVar("cfroot", "cfroot", POOL, "fine-root carbon", "mean", standard_name="root_mass_content_of_carbon"),
    OutputVar("clabile", "clabile", POOL, "labile carbon (N-limited excess C)", "mean"),
    OutputVar("clitmetb", "cmet", POOL, "metabolic litter carbon", "mean", models=CASA),
    OutputVar("clitstr", "cstr", POOL, "structural litter carbon", "mean", models=CASA),
    OutputVar("clitcwd", "ccwd", POOL, "coarse woody debris carbon", "mean",
              standard_name="wood_debris_mass_content_of_carbon"),
    OutputVar("csoilmic", "cmic", POOL, "microbial (fast) soil carbon", "mean", models=CASA,
              standard_name="fast_soil_pool_mass_content_of_carbon"),
    OutputVar("csoilslow", "cslow", POOL, "slow soil carbon", "mean", models=CASA,
              standard_name="medium_soil_pool_mass_content_of_carbon"),
    OutputVar("csoilpass", "cpass", POOL, "passive soil carbon", "mean", models=CASA,
              standard_name="slow_soil_pool_mass_content_of_carbon"),
    OutputVar("nleaf", "nleaf", POOL, "leaf nitrogen", "mean", cycles=CN,
              standard_name="leaf_mass_content_of_nitrogen"),
    OutputVar("nwood", "nwood", POOL, "wood nitrogen (stems and coarse roots)", "mean", cycles=CN,
              standard_name="stem_mass_content_of_nitrogen"),
    OutputVar("nfroot", "nfroot", POOL, "fine-root nitrogen", "mean", cycles=CN,
              standard_name="root_mass_content_of_nitrogen"),
    OutputVar("nlitmetb", "nmet", POOL, "metabolic litter nitrogen", "mean", models=CASA, cycles=CN),
    OutputVar("nlitstr", "nstr", POOL, "structural litter nitrogen", "mean", models=CASA, cycles=CN),
    OutputVar("nlitcwd", "ncwd", POOL, "coarse woody debris nitrogen", "mean", cycles=CN,
              standard_name="wood_debris_mass_content_of_nitrogen"),
    OutputVar("nsoilmic", "nmic", POOL, "microbial soil nitrogen", "mean", models=CASA, cycles=CN),
    OutputVar("nsoilslow", "nslow", POOL, "slow soil nitrogen", "mean", models=CASA, cycles=CN),
    OutputVar("nsoilpass", "npass", POOL, "passive soil nitrogen", "mean", models=CASA, cycles=CN),
    OutputVar("nMineral", "nsoilmin", POOL, "soil mineral nitrogen", "mean", cycles=CN,
              standard_name="soil_mass_content_of_inorganic_nitrogen_expressed_as_nitrogen"),
    OutputVar("lai", "lai", "m2 m-2", "leaf area index", "mean", standard_name="leaf_area_index"),
    OutputVar("tairC", "tairc", "degC", "air temperature", "mean", standard_name="air_temperature"),
    OutputVar("tsoilC", "tsoilc", "degC", "root-weighted soil temperature", "mean", standard_name="soil_temperature"),
    OutputVar("thetaLiq", "thetaliq", "1", "liquid soil water as a fraction of saturation (capped at field "
              "capacity before averaging)", "mean", models=CASA),
    OutputVar("fT", "ft", "1", "temperature modifier of decomposition", "mean", models=CASA),
    OutputVar("fW", "fw", "1", "moisture modifier of decomposition", "mean", models=CASA),
    OutputVar("cLitInptMet", "clitinpt_met", FLUX, "metabolic litter carbon input (incl. root exudate)", "flux"),
    OutputVar("cLitInptStruc", "clitinpt_str", FLUX, "structural litter carbon input (incl. CWD decay to SOM)",
              "flux"),
    OutputVar("cpassInpt", "cpassinpt", FLUX, "carbon input to the passive soil pool", "flux", models=CASA),
    OutputVar("nLitInptMet", "nlitinpt_met", FLUX, "metabolic litter nitrogen input", "flux", cycles=CN),
    OutputVar("nLitInptStruc", "nlitinpt_str", FLUX, "structural litter nitrogen input", "flux", cycles=CN),
    OutputVar("nMinDep", "ndep", FLUX, "nitrogen deposition", "flux", cycles=CN),
    OutputVar("nMinFix", "nfix", FLUX, "biological nitrogen fixation", "flux", cycles=CN, standard_name=_SN_FIX),
    OutputVar("nMinUptake", "nuptake", FLUX, "plant nitrogen uptake", "flux", cycles=CN),
    OutputVar("nMinLeach", "nleach", FLUX, "mineral nitrogen leaching", "flux", cycles=CN, standard_name=_SN_LEACH),
    OutputVar("nMinLoss", "nloss", FLUX, "gaseous nitrogen loss", "flux", cycles=CN),
    OutputVar("nLitMineralization", "nlittermin", FLUX, "gross nitrogen mineralisation from litter", "flux",
              cycles=CN),
    OutputVar("nSoilMineralization", "nsoilmin_gross", FLUX, "gross nitrogen mineralisation from soil organic "
              "matter", "flux", cycles=CN),
    OutputVar("nSoilImmob", "nsoilimmob", FLUX, "nitrogen immobilisation (negative)", "flux", cycles=CN),
    OutputVar("nNetMineralization", "nnetmin", FLUX, "net nitrogen mineralisation", "flux", cycles=CN,
              standard_name=_SN_NETMIN),
    OutputVar("negPoolResets", "neg_pools", "count d-1", "pools that went negative and were reset to 0 "
              "(casa.md Q13)", "flux"),
    OutputVar("xkNlimiting", "xknlimiting", "1", "N limitation factor (1 = no limitation)", "mean", cycles=CN),
    OutputVar("cLITm", "litm", POOL, "MIMICS metabolic litter carbon", "mean", models=MIMICS),
    OutputVar("cLITs", "lits", POOL, "MIMICS structural litter carbon", "mean", models=MIMICS),
    OutputVar("cMICr", "micr", POOL, "r-selected microbial carbon", "mean", models=MIMICS),
    OutputVar("cMICk", "mick", POOL, "K-selected microbial carbon", "mean", models=MIMICS),
    OutputVar("cSOMa", "soma", POOL, "available soil organic carbon", "mean", models=MIMICS),
    OutputVar("cSOMc", "somc", POOL, "chemically protected soil organic carbon", "mean", models=MIMICS),
    OutputVar("cSOMp", "somp", POOL, "physically protected soil organic carbon", "mean", models=MIMICS),
    OutputVar("nLITm", "litmn", POOL, "MIMICS metabolic litter nitrogen", "mean", models=MIMICS, cycles=CN),
    OutputVar("nLITs", "litsn", POOL, "MIMICS structural litter nitrogen", "mean", models=MIMICS, cycles=CN),
    OutputVar("nMICr", "micrn", POOL, "r-selected microbial nitrogen", "mean", models=MIMICS, cycles=CN),
    OutputVar("nMICk", "mickn", POOL, "K-selected microbial nitrogen", "mean", models=MIMICS, cycles=CN),
    OutputVar("nSOMa", "soman", POOL, "available soil organic nitrogen", "mean", models=MIMICS, cycles=CN),
    OutputVar("nSOMc", "somcn", POOL, "chemically protected soil organic nitrogen", "mean", models=MIMICS,
              cycles=CN),
    OutputVar("nSOMp", "sompn", POOL, "physically protected soil organic nitrogen", "mean", models=MIMICS,
              cycles=CN),
    OutputVar("DIN", "din", POOL, "mineral nitrogen seen by microbes (end of day)", "mean", models=MIMICS,
              cycles=CN),
    OutputVar("cHresp", "chresp", FLUX, "MIMICS heterotrophic respiration carbon flux incl. CWD decay", "flux",
              models=MIMICS, standard_name=_SN_RH),
    OutputVar("cSOMpIn", "csompin", FLUX, "carbon input to SOMp", "flux", models=MIMICS),
    OutputVar("cLitInput_metb", "clitinput_met", FLUX, "MIMICS metabolic litter carbon input", "flux",
              models=MIMICS),
    OutputVar("cLitInput_struc", "clitinput_str", FLUX, "MIMICS structural litter carbon input", "flux",
              models=MIMICS),
    OutputVar("cOverflow_r", "overflow_r", FLUX, "overflow respiration carbon flux of MICr", "flux",
              models=MIMICS, cycles=CN),
    OutputVar("cOverflow_k", "overflow_k", FLUX, "overflow respiration carbon flux of MICk", "flux",
              models=MIMICS, cycles=CN),
    OutputVar("nLitInput_metb", "nlitinput_met", FLUX, "MIMICS metabolic litter nitrogen input", "flux",
              models=MIMICS, cycles=CN),
    OutputVar("nLitInput_struc", "nlitinput_str", FLUX, "MIMICS structural litter nitrogen input", "flux",
              models=MIMICS, cycles=CN),
    OutputVar("thetaLiq", "thetaliq_mimics", "1", "liquid soil water as a fraction of saturation", "mean",
              models=MIMICS),
    OutputVar("thetaFrzn", "thetafrzn", "1", "frozen soil water as a fraction of saturation", "mean", models=MIMICS),
    OutputVar("fW", "fw_mimics", "1", "MIMICS moisture modifier", "mean", models=MIMICS),
)


def variables_for(soil_model: str, icycle: int) -> list[OutputVar]:
    """The output variables of a run of ``soil_model`` and ``icycle``."""
    return [v for v in VARIABLES if soil_model in v.models and icycle in v.cycles]


@dataclass
class CellInfo:
    """Static per-cell coordinates written with every output."""

    lat: np.ndarray
    lon: np.ndarray
    area: np.ndarray     #: m2, 0 for inactive (ice/water) cells
    pft: np.ndarray
    cellid: np.ndarray


CELL_MEASURES = "area: area"
TIME_UNITS, CALENDAR = "days since 0001-01-01 00:00:00", "noleap"


def _coords(cells: CellInfo) -> dict:
    n = cells.lat.size
    return {
        "cell": ("cell", np.arange(1, n + 1, dtype=np.int32), {"long_name": "cell index (met point order)"}),
        "lat": ("cell", cells.lat.astype(np.float64), {"units": "degrees_north", "standard_name": "latitude",
                                                         "long_name": "latitude of the cell centre"}),
        "lon": ("cell", cells.lon.astype(np.float64), {"units": "degrees_east", "standard_name": "longitude",
                                                         "long_name": "longitude of the cell centre"}),
        "area": ("cell", cells.area.astype(np.float64),
                 {"units": "m2", "long_name": "land area (0 for ice/water cells)", "standard_name": "cell_area"}),
        "pft": ("cell", cells.pft.astype(np.int32), {"long_name": "IGBP plant functional type (1-18)"}),
        "cellid": ("cell", cells.cellid.astype(np.int32), {"long_name": "met file cell id"}),
    }


def _time(times: list) -> dict:
    return {"time": ("time", times, {"standard_name": "time", "long_name": "time", "axis": "T",
                                     "bounds": "time_bnds"})}


def _attrs(soil_model: str, icycle: int, extra: dict | None) -> dict:
    prov = provenance.attributes()
    attrs = {"Conventions": "CF-1.8", "title": f"testbed {soil_model.upper()}-{'CN' if icycle == 2 else 'C'} output",
             "source": provenance.describe(prov), "soil_model": soil_model, "cycle": "cn" if icycle == 2 else "c",
             "history": f"{_dt.datetime.now(_dt.timezone.utc):%Y-%m-%dT%H:%M:%SZ} written by "
                        f"{provenance.describe(prov)}", **prov}
    attrs.update(extra or {})
    return attrs


def _var_attrs(v: OutputVar, annual: bool) -> dict:
    a = {"units": v.annual_units() if annual else v.units, "long_name": v.long_name,
         "cell_methods": v.cell_methods(annual), "cell_measures": CELL_MEASURES}
    if v.standard_name:
        a["standard_name"] = v.standard_name
    return a


def daily_columns(daily: np.ndarray, soil_model: str, icycle: int) -> np.ndarray:
    """The output variables' columns of kernel diagnostics (ncell, NDIAG, nday) as float32 (ncell, nvar, nday)."""
    cols = [layout.index("diag", v.diag) for v in variables_for(soil_model, icycle)]
    return daily[:, cols, :].astype(np.float32)


def daily_dataset(values: np.ndarray, year_label: int, cells: CellInfo, soil_model: str, icycle: int,
                  attrs: dict | None = None) -> xr.Dataset:
    """One year of daily output variables, ``values`` = :func:`daily_columns`, as a CF dataset (time, cell).

    ``time`` is the middle of each day, ``time_bnds`` the day; pools are end-of-day values.
    """
    nday = values.shape[2]
    start = cftime.DatetimeNoLeap(year_label, 1, 1)
    times = [start + _dt.timedelta(days=d, hours=12) for d in range(nday)]
    bounds = np.array([[start + _dt.timedelta(days=d), start + _dt.timedelta(days=d + 1)] for d in range(nday)])
    data = {v.name: (("time", "cell"), values[:, k, :].T, _var_attrs(v, annual=False))
            for k, v in enumerate(variables_for(soil_model, icycle))}
    ds = xr.Dataset(data, coords={**_coords(cells), **_time(times)}, attrs=_attrs(soil_model, icycle, attrs))
    ds["time_bnds"] = (("time", "nv"), bounds)
    ds["day"] = ("time", np.arange(1, nday + 1, dtype=np.int32), {"long_name": "day of year (1-365)"})
    return ds


def annual_dataset(annuals: Sequence[np.ndarray], year_labels: Sequence[int], cells: CellInfo, soil_model: str,
                   icycle: int, attrs: dict | None = None) -> xr.Dataset:
    """Annual records (sums of fluxes, means of pools) for the given years as a CF dataset."""
    times = [cftime.DatetimeNoLeap(y, 7, 2, 12) for y in year_labels]
    bounds = np.array([[cftime.DatetimeNoLeap(y, 1, 1), cftime.DatetimeNoLeap(y + 1, 1, 1)] for y in year_labels])
    stack = np.stack(annuals) if annuals else np.zeros((0, cells.lat.size, layout.NDIAG))
    data = {}
    for v in variables_for(soil_model, icycle):
        col = stack[:, :, layout.index("diag", v.diag)]
        if v.kind == "mean":
            col = col * (1.0 / 365.0)
        data[v.name] = (("time", "cell"), col.astype(np.float32), _var_attrs(v, annual=True))
    ds = xr.Dataset(data, coords={**_coords(cells), **_time(times)}, attrs=_attrs(soil_model, icycle, attrs))
    ds["time_bnds"] = (("time", "nv"), bounds.reshape(len(times), 2))
    ds["year"] = ("time", np.asarray(year_labels, dtype=np.int32), {"long_name": "year label"})
    return ds


def _encoding(ds: xr.Dataset) -> dict[str, dict]:
    """zlib float32 data with a fill value; no ``_FillValue`` on anything else (coordinates, bounds, labels)."""
    enc: dict[str, dict] = {}
    for name, v in ds.variables.items():
        if name in ds.data_vars and v.dtype == np.float32:
            enc[name] = {"zlib": True, "complevel": 4, "_FillValue": FILL}
        else:
            enc[name] = {"_FillValue": None}
    for name in ("time", "time_bnds"):
        if name in ds.variables:
            enc[name].update(units=TIME_UNITS, calendar=CALENDAR, dtype="f8")
    return enc


def write_dataset(ds: xr.Dataset, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write ``ds`` to NetCDF-4 with zlib compression, atomically (temporary file, then rename)."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise InputError("exists; pass --overwrite to replace it", path=path)
    encoding = _encoding(ds)
    tmp = atomic_path(path)
    try:
        ds.to_netcdf(tmp, format="NETCDF4", encoding=encoding)
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def to_grid(ds: xr.Dataset, ilat: np.ndarray, ilon: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> xr.Dataset:
    """Put a (…, cell) dataset back on a (…, lat, lon) grid (missing cells are NaN)."""
    nlat, nlon = lat.size, lon.size
    out = {}
    for name, v in ds.data_vars.items():
        if "cell" not in v.dims:
            continue
        other = [d for d in v.dims if d != "cell"]
        shape = [ds.sizes[d] for d in other] + [nlat, nlon]
        grid = np.full(shape, np.nan, dtype=np.float64)
        grid[..., ilat - 1, ilon - 1] = v.transpose(*other, "cell").values
        out[name] = ((*other, "lat", "lon"), grid, v.attrs)
    coords = {"lat": ("lat", lat, {"units": "degrees_north"}), "lon": ("lon", lon, {"units": "degrees_east"})}
    if "time" in ds.coords:
        coords["time"] = ds["time"]
    return xr.Dataset(out, coords=coords, attrs=ds.attrs)
