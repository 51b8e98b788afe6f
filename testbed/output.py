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

from . import layout
from .atomic import atomic_write
from .errors import InputError

FILL = np.float32(1.0e36)


@dataclass(frozen=True)
class OutputVar:
    """One output variable: where it comes from and how it is described."""

    name: str            #: NetCDF variable name
    diag: str            #: kernel diagnostic column
    units: str           #: units of the daily value ("... d-1" for fluxes)
    long_name: str
    kind: str            #: "flux" (summed over a year) or "mean" (pools and scalars, averaged)
    models: tuple[str, ...] = ("casa", "mimics")
    cycles: tuple[int, ...] = (1, 2)
    standard_name: str | None = None

    def annual_units(self) -> str:
        return self.units.replace("d-1", "yr-1") if self.kind == "flux" else self.units


CN = (2,)
CASA = ("casa",)
MIMICS = ("mimics",)

VARIABLES: tuple[OutputVar, ...] = (
    OutputVar("cgpp", "gpp", "gC m-2 d-1", "gross primary production (after root exudation)", "flux",
              standard_name="gross_primary_productivity_of_biomass_expressed_as_carbon"),
    OutputVar("cnpp", "npp", "gC m-2 d-1", "net primary production", "flux",
              standard_name="net_primary_productivity_of_biomass_expressed_as_carbon"),
    OutputVar("cra", "ra", "gC m-2 d-1", "autotrophic respiration", "flux",
              standard_name="plant_respiration_carbon_flux"),
    OutputVar("cresp", "rh", "gC m-2 d-1", "heterotrophic respiration", "flux",
              standard_name="heterotrophic_respiration_carbon_flux"),
    OutputVar("cnep", "nep", "gC m-2 d-1", "net ecosystem production (NPP - heterotrophic respiration)", "flux"),
    OutputVar("cleaf", "cleaf", "gC m-2", "leaf carbon", "mean"),
    OutputVar("cwood", "cwood", "gC m-2", "wood carbon", "mean"),
    OutputVar("cfroot", "cfroot", "gC m-2", "fine-root carbon", "mean"),
    OutputVar("clabile", "clabile", "gC m-2", "labile carbon (N-limited excess C)", "mean"),
    OutputVar("clitmetb", "cmet", "gC m-2", "metabolic litter carbon", "mean", models=CASA),
    OutputVar("clitstr", "cstr", "gC m-2", "structural litter carbon", "mean", models=CASA),
    OutputVar("clitcwd", "ccwd", "gC m-2", "coarse woody debris carbon", "mean"),
    OutputVar("csoilmic", "cmic", "gC m-2", "microbial (fast) soil carbon", "mean", models=CASA),
    OutputVar("csoilslow", "cslow", "gC m-2", "slow soil carbon", "mean", models=CASA),
    OutputVar("csoilpass", "cpass", "gC m-2", "passive soil carbon", "mean", models=CASA),
    OutputVar("nleaf", "nleaf", "gN m-2", "leaf nitrogen", "mean", cycles=CN),
    OutputVar("nwood", "nwood", "gN m-2", "wood nitrogen", "mean", cycles=CN),
    OutputVar("nfroot", "nfroot", "gN m-2", "fine-root nitrogen", "mean", cycles=CN),
    OutputVar("nlitmetb", "nmet", "gN m-2", "metabolic litter nitrogen", "mean", models=CASA, cycles=CN),
    OutputVar("nlitstr", "nstr", "gN m-2", "structural litter nitrogen", "mean", models=CASA, cycles=CN),
    OutputVar("nlitcwd", "ncwd", "gN m-2", "coarse woody debris nitrogen", "mean", cycles=CN),
    OutputVar("nsoilmic", "nmic", "gN m-2", "microbial soil nitrogen", "mean", models=CASA, cycles=CN),
    OutputVar("nsoilslow", "nslow", "gN m-2", "slow soil nitrogen", "mean", models=CASA, cycles=CN),
    OutputVar("nsoilpass", "npass", "gN m-2", "passive soil nitrogen", "mean", models=CASA, cycles=CN),
    OutputVar("nMineral", "nsoilmin", "gN m-2", "soil mineral nitrogen", "mean", cycles=CN),
    OutputVar("lai", "lai", "m2 m-2", "leaf area index", "mean", standard_name="leaf_area_index"),
    OutputVar("tairC", "tairc", "degC", "air temperature", "mean"),
    OutputVar("tsoilC", "tsoilc", "degC", "root-weighted soil temperature", "mean"),
    OutputVar("thetaLiq", "thetaliq", "1", "liquid soil water as a fraction of saturation (capped at field "
              "capacity before averaging)", "mean", models=CASA),
    OutputVar("fT", "ft", "1", "temperature modifier of decomposition", "mean", models=CASA),
    OutputVar("fW", "fw", "1", "moisture modifier of decomposition", "mean", models=CASA),
    OutputVar("cLitInptMet", "clitinpt_met", "gC m-2 d-1", "metabolic litter input (incl. root exudate)", "flux"),
    OutputVar("cLitInptStruc", "clitinpt_str", "gC m-2 d-1", "structural litter input (incl. CWD decay to SOM)",
              "flux"),
    OutputVar("cpassInpt", "cpassinpt", "gC m-2 d-1", "carbon input to the passive soil pool", "flux", models=CASA),
    OutputVar("nLitInptMet", "nlitinpt_met", "gN m-2 d-1", "metabolic litter N input", "flux", cycles=CN),
    OutputVar("nLitInptStruc", "nlitinpt_str", "gN m-2 d-1", "structural litter N input", "flux", cycles=CN),
    OutputVar("nMinDep", "ndep", "gN m-2 d-1", "N deposition", "flux", cycles=CN),
    OutputVar("nMinFix", "nfix", "gN m-2 d-1", "biological N fixation", "flux", cycles=CN),
    OutputVar("nMinUptake", "nuptake", "gN m-2 d-1", "plant N uptake", "flux", cycles=CN),
    OutputVar("nMinLeach", "nleach", "gN m-2 d-1", "mineral N leaching", "flux", cycles=CN),
    OutputVar("nMinLoss", "nloss", "gN m-2 d-1", "gaseous N loss", "flux", cycles=CN),
    OutputVar("nLitMineralization", "nlittermin", "gN m-2 d-1", "gross N mineralisation from litter", "flux",
              cycles=CN),
    OutputVar("nSoilMineralization", "nsoilmin_gross", "gN m-2 d-1", "gross N mineralisation from soil organic "
              "matter", "flux", cycles=CN),
    OutputVar("nSoilImmob", "nsoilimmob", "gN m-2 d-1", "N immobilisation (negative)", "flux", cycles=CN),
    OutputVar("nNetMineralization", "nnetmin", "gN m-2 d-1", "net N mineralisation", "flux", cycles=CN),
    OutputVar("negPoolResets", "neg_pools", "count d-1", "pools that went negative and were reset to 0 "
              "(casa.md Q13)", "flux"),
    OutputVar("xkNlimiting", "xknlimiting", "1", "N limitation factor (1 = no limitation)", "mean", cycles=CN),
    OutputVar("cLITm", "litm", "gC m-2", "MIMICS metabolic litter carbon", "mean", models=MIMICS),
    OutputVar("cLITs", "lits", "gC m-2", "MIMICS structural litter carbon", "mean", models=MIMICS),
    OutputVar("cMICr", "micr", "gC m-2", "r-selected microbial carbon", "mean", models=MIMICS),
    OutputVar("cMICk", "mick", "gC m-2", "K-selected microbial carbon", "mean", models=MIMICS),
    OutputVar("cSOMa", "soma", "gC m-2", "available soil organic carbon", "mean", models=MIMICS),
    OutputVar("cSOMc", "somc", "gC m-2", "chemically protected soil organic carbon", "mean", models=MIMICS),
    OutputVar("cSOMp", "somp", "gC m-2", "physically protected soil organic carbon", "mean", models=MIMICS),
    OutputVar("nLITm", "litmn", "gN m-2", "MIMICS metabolic litter nitrogen", "mean", models=MIMICS, cycles=CN),
    OutputVar("nLITs", "litsn", "gN m-2", "MIMICS structural litter nitrogen", "mean", models=MIMICS, cycles=CN),
    OutputVar("nMICr", "micrn", "gN m-2", "r-selected microbial nitrogen", "mean", models=MIMICS, cycles=CN),
    OutputVar("nMICk", "mickn", "gN m-2", "K-selected microbial nitrogen", "mean", models=MIMICS, cycles=CN),
    OutputVar("nSOMa", "soman", "gN m-2", "available soil organic nitrogen", "mean", models=MIMICS, cycles=CN),
    OutputVar("nSOMc", "somcn", "gN m-2", "chemically protected soil organic nitrogen", "mean", models=MIMICS,
              cycles=CN),
    OutputVar("nSOMp", "sompn", "gN m-2", "physically protected soil organic nitrogen", "mean", models=MIMICS,
              cycles=CN),
    OutputVar("DIN", "din", "gN m-2", "mineral N seen by microbes (end of day)", "mean", models=MIMICS, cycles=CN),
    OutputVar("cHresp", "chresp", "gC m-2 d-1", "MIMICS heterotrophic respiration incl. CWD decay", "flux",
              models=MIMICS),
    OutputVar("cSOMpIn", "csompin", "gC m-2 d-1", "carbon input to SOMp", "flux", models=MIMICS),
    OutputVar("cLitInput_metb", "clitinput_met", "gC m-2 d-1", "MIMICS metabolic litter input", "flux",
              models=MIMICS),
    OutputVar("cLitInput_struc", "clitinput_str", "gC m-2 d-1", "MIMICS structural litter input", "flux",
              models=MIMICS),
    OutputVar("cOverflow_r", "overflow_r", "gC m-2 d-1", "overflow respiration of MICr", "flux", models=MIMICS,
              cycles=CN),
    OutputVar("cOverflow_k", "overflow_k", "gC m-2 d-1", "overflow respiration of MICk", "flux", models=MIMICS,
              cycles=CN),
    OutputVar("nLitInput_metb", "nlitinput_met", "gN m-2 d-1", "MIMICS metabolic litter N input", "flux",
              models=MIMICS, cycles=CN),
    OutputVar("nLitInput_struc", "nlitinput_str", "gN m-2 d-1", "MIMICS structural litter N input", "flux",
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


def _coords(cells: CellInfo) -> dict:
    n = cells.lat.size
    return {
        "cell": ("cell", np.arange(1, n + 1, dtype=np.int32), {"long_name": "cell index (met point order)"}),
        "lat": ("cell", cells.lat.astype(np.float64), {"units": "degrees_north", "standard_name": "latitude"}),
        "lon": ("cell", cells.lon.astype(np.float64), {"units": "degrees_east", "standard_name": "longitude"}),
        "area": ("cell", cells.area.astype(np.float64),
                 {"units": "m2", "long_name": "land area (0 for ice/water cells)", "standard_name": "cell_area"}),
        "pft": ("cell", cells.pft.astype(np.int32), {"long_name": "IGBP plant functional type (1-18)"}),
        "cellid": ("cell", cells.cellid.astype(np.int32), {"long_name": "met file cell id"}),
    }


def _attrs(soil_model: str, icycle: int, extra: dict | None) -> dict:
    attrs = {"Conventions": "CF-1.8", "title": f"testbed {soil_model.upper()}-{'CN' if icycle == 2 else 'C'} output",
             "soil_model": soil_model, "cycle": "cn" if icycle == 2 else "c",
             "history": f"{_dt.datetime.now(_dt.UTC):%Y-%m-%dT%H:%M:%SZ} written by testbed"}
    attrs.update(extra or {})
    return attrs


def daily_columns(daily: np.ndarray, soil_model: str, icycle: int) -> np.ndarray:
    """The output variables' columns of kernel diagnostics (ncell, NDIAG, nday) as float32 (ncell, nvar, nday)."""
    cols = [layout.index("diag", v.diag) for v in variables_for(soil_model, icycle)]
    return daily[:, cols, :].astype(np.float32)


def daily_dataset(values: np.ndarray, year_label: int, cells: CellInfo, soil_model: str, icycle: int,
                  attrs: dict | None = None) -> xr.Dataset:
    """One year of daily output variables, ``values`` = :func:`daily_columns`, as a CF dataset (time, cell)."""
    nday = values.shape[2]
    times = [cftime.DatetimeNoLeap(year_label, 1, 1, 12) + _dt.timedelta(days=d) for d in range(nday)]
    data = {}
    for k, v in enumerate(variables_for(soil_model, icycle)):
        a = {"units": v.units, "long_name": v.long_name,
             "cell_methods": "time: sum" if v.kind == "flux" else "time: point"}
        if v.standard_name:
            a["standard_name"] = v.standard_name
        data[v.name] = (("time", "cell"), values[:, k, :].T, a)
    ds = xr.Dataset(data, coords={**_coords(cells), "time": ("time", times, {"long_name": "time"})},
                    attrs=_attrs(soil_model, icycle, attrs))
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
        a = {"units": v.annual_units(), "long_name": v.long_name,
             "cell_methods": "time: sum" if v.kind == "flux" else "time: mean"}
        if v.standard_name:
            a["standard_name"] = v.standard_name
        data[v.name] = (("time", "cell"), col.astype(np.float32), a)
    ds = xr.Dataset(data, coords={**_coords(cells),
                                  "time": ("time", times, {"long_name": "time", "bounds": "time_bnds"})},
                    attrs=_attrs(soil_model, icycle, attrs))
    ds["time_bnds"] = (("time", "nv"), bounds)
    ds["year"] = ("time", np.asarray(year_labels, dtype=np.int32), {"long_name": "year label"})
    return ds


def write_dataset(ds: xr.Dataset, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write ``ds`` to NetCDF-4 with zlib compression, atomically (temporary file, then rename)."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise InputError("exists; pass --overwrite to replace it", path=path)
    encoding: dict[str, dict] = {name: {"zlib": True, "complevel": 4, "_FillValue": FILL}
                                 for name, v in ds.data_vars.items() if v.dtype == np.float32}
    for name in ("time", "time_bnds"):
        if name in ds.variables:
            encoding[name] = {"units": "days since 0001-01-01 00:00:00", "calendar": "noleap", "dtype": "f8"}
    with atomic_write(path) as tmp:
        ds.to_netcdf(tmp, format="NETCDF4", encoding=encoding)
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
