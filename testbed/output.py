"""CF-conventions NetCDF outputs: variable table, the files' contents (:class:`CFData`), atomic writers.

A run writes its files with netCDF4 directly (no xarray or pandas in a run's process: docs/performance.md,
"Outputs written with netCDF4"); :meth:`CFData.to_xarray` gives the dataset ``xarray.open_dataset`` reads.

The variable table is the single place that names, documents and units every
output variable (docs/outputs.md is its prose version). Annual values are sums
of the daily fluxes and means of the end-of-day pools (sum x (1/365), as the
original computes them), or a variable's own rule (``OutputVar.annual``).
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import cftime
import numpy as np

from . import layout, provenance
from . import soil as soil_models
from .atomic import atomic_write
from .errors import InputError
from .nclock import netcdf_lock
from .soil.base import CYCLE_NAMES
from .variables import CN, OutputVar, pool_variable

if TYPE_CHECKING:  # only for analysis (to_xarray, to_grid): a run writes its files with netCDF4 alone
    import xarray as xr

FILL = np.float32(1.0e36)


_SN_FIX = "tendency_of_soil_and_vegetation_mass_content_of_nitrogen_compounds_expressed_as_nitrogen_due_to_fixation"
_SN_LEACH = (
    "mass_flux_of_nitrogen_compounds_expressed_as_nitrogen_out_of_vegetation_and_litter_and_soil_due_to_"
    "leaching_and_runoff"
)
_SN_NETMIN = (
    "mass_flux_of_nitrogen_compounds_expressed_as_nitrogen_out_of_litter_and_soil_due_to_immobilisation_"
    "and_remineralization"
)
_SN_RA = "surface_upward_mass_flux_of_carbon_dioxide_expressed_as_carbon_due_to_plant_respiration"
_SN_RH = "surface_upward_mass_flux_of_carbon_dioxide_expressed_as_carbon_due_to_heterotrophic_respiration"

#: output variables of every run besides the pools (the pools' own are derived from the descriptions)
HOST_VARIABLES: tuple[OutputVar, ...] = (
    OutputVar("cgpp", "gpp", "flux", standard_name="gross_primary_productivity_of_biomass_expressed_as_carbon"),
    OutputVar("cnpp", "npp", "flux", standard_name="net_primary_productivity_of_biomass_expressed_as_carbon"),
    OutputVar("cra", "ra", "flux", standard_name=_SN_RA),
    OutputVar("cresp", "rh", "flux", standard_name=_SN_RH),
    OutputVar("cnep", "nep", "flux", standard_name="net_ecosystem_production_expressed_as_carbon_per_unit_area"),
    OutputVar("lai", "lai", "mean", standard_name="leaf_area_index"),
    OutputVar("tairC", "tairc", "mean", standard_name="air_temperature"),
    OutputVar("tsoilC", "tsoilc", "mean", standard_name="soil_temperature"),
    OutputVar("cLitInptMet", "clitinpt_met", "flux"),
    OutputVar("cLitInptStruc", "clitinpt_str", "flux"),
    OutputVar("nLitInptMet", "nlitinpt_met", "flux", CN),
    OutputVar("nLitInptStruc", "nlitinpt_str", "flux", CN),
    OutputVar("nMinDep", "ndep", "flux", CN),
    OutputVar("nMinFix", "nfix", "flux", CN, standard_name=_SN_FIX),
    OutputVar("nMinUptake", "nuptake", "flux", CN),
    OutputVar("nMinLeach", "nleach", "flux", CN, standard_name=_SN_LEACH),
    OutputVar("nMinLoss", "nloss", "flux", CN),
    OutputVar("nLitMineralization", "nlittermin", "flux", CN),
    OutputVar("nSoilMineralization", "nsoilmin_gross", "flux", CN),
    OutputVar("nSoilImmob", "nsoilimmob", "flux", CN),
    OutputVar("nNetMineralization", "nnetmin", "flux", CN, standard_name=_SN_NETMIN),
    OutputVar("negPoolResets", "neg_pools", "flux"),
    OutputVar("xkNlimiting", "xknlimiting", "mean", CN),
    # moisture scenarios (seed_processes.md 2; docs/moisture_heterogeneity.md): only in runs with the option on
    OutputVar("psi", "psi", "mean", option="psi"),
    OutputVar("drySpell", "dry_spell", "mean", option="dry_spell"),
    OutputVar("dryWetter", "dry_wetter", "mean", option="dry_spell"),
    OutputVar("drySpellPsiEff", "dry_psi_eff", "mean", option="dry_spell"),
    # root exudation (docs/exudation.md), in runs with an exudation option
    OutputVar("cExudate", "cexudate", "flux", option="exudation"),
    OutputVar("nExudate", "nexudate", "flux", CN, option="exudation"),
    OutputVar("nExudateExternal", "nexudate_ext", "flux", CN, option="exudation"),
    OutputVar("cExudateCapped", "cexudate_capped", "flux", option="exudation"),
)


def _wanted(v: OutputVar, icycle: int, options: Collection[str]) -> bool:
    return icycle in v.cycles and (not v.option or v.option in options)


def soil_variables(soil_model: str, icycle: int, options: Collection[str] = ()) -> list[OutputVar]:
    """The output variables that belong to the soil model itself: its pools and its own outputs (those of a run
    option only when ``options`` has it, see ``Model.output_options``)."""
    soil = soil_models.get(soil_model)
    return [
        v for v in (*(pool_variable(p) for p in soil.own_pools(icycle)), *soil.outputs) if _wanted(v, icycle, options)
    ]


def variables_for(soil_model: str, icycle: int, options: Collection[str] = ()) -> list[OutputVar]:
    """The output variables of a run of ``soil_model`` and ``icycle``: pools, host variables, the soil model's;
    the variables of a run option (``OutputVar.option``) only when ``options`` has it."""
    soil = soil_models.get(soil_model)
    pools = [pool_variable(p) for p in soil.all_pools(icycle)]
    return [v for v in (*pools, *HOST_VARIABLES, *soil.outputs) if _wanted(v, icycle, options)]


@dataclass
class CellInfo:
    """Static per-cell coordinates written with every output."""

    lat: np.ndarray
    lon: np.ndarray
    area: np.ndarray  #: m2, 0 for inactive (ice/water) cells
    pft: np.ndarray
    cellid: np.ndarray
    #: further static per-cell fields, name -> (values, attributes), e.g. the van Genuchten parameters of a run
    #: with a water-potential option (Model.static_fields)
    static: dict[str, tuple[np.ndarray, dict]] = field(default_factory=dict)


CELL_MEASURES = "area: area"
TIME_UNITS, CALENDAR = "days since 0001-01-01 00:00:00", "noleap"


@dataclass
class CFData:
    """The contents of a CF output file as NumPy arrays: what :func:`write_cf` writes and :meth:`to_xarray` shows.

    ``variables`` maps each name to (dimensions, values, attributes) in the order written; ``time`` and
    ``time_bnds`` hold encoded values (days since 0001-01-01, noleap). ``coords`` names the auxiliary coordinates
    (lat, lon, area, ...), listed in the ``coordinates`` attribute of every data variable on their dimension.
    """

    variables: dict[str, tuple[tuple[str, ...], np.ndarray, dict]]
    coords: tuple[str, ...]
    attrs: dict

    def dims(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for dims, values, _ in self.variables.values():
            out.update(zip(dims, values.shape, strict=True))
        return out

    def data_vars(self) -> list[str]:
        """Variables that are neither coordinates nor dimension variables (what ``xarray`` calls data_vars)."""
        dims = self.dims()
        return [n for n in self.variables if n not in self.coords and n not in dims]

    def to_xarray(self) -> xr.Dataset:
        """The dataset ``xarray.open_dataset`` gives for the written file (times decoded to cftime)."""
        import xarray as xr

        dims = self.dims()
        variables = {n: xr.Variable(d, v, dict(a)) for n, (d, v, a) in self.variables.items()}
        coords = {n: variables.pop(n) for n in list(variables) if n in self.coords or n in dims}
        ds = xr.Dataset(variables, coords=coords, attrs=dict(self.attrs))
        return xr.decode_cf(ds, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True))


def _coords(cells: CellInfo) -> dict[str, tuple[tuple[str, ...], np.ndarray, dict]]:
    n = cells.lat.size
    return {
        "cell": (("cell",), np.arange(1, n + 1, dtype=np.int32), {"long_name": "cell index (met point order)"}),
        "lat": (
            ("cell",),
            cells.lat.astype(np.float64),
            {"units": "degrees_north", "standard_name": "latitude", "long_name": "latitude of the cell centre"},
        ),
        "lon": (
            ("cell",),
            cells.lon.astype(np.float64),
            {"units": "degrees_east", "standard_name": "longitude", "long_name": "longitude of the cell centre"},
        ),
        "area": (
            ("cell",),
            cells.area.astype(np.float64),
            {"units": "m2", "long_name": "land area (0 for ice/water cells)", "standard_name": "cell_area"},
        ),
        "pft": (("cell",), cells.pft.astype(np.int32), {"long_name": "IGBP plant functional type (1-18)"}),
        "cellid": (("cell",), cells.cellid.astype(np.int32), {"long_name": "met file cell id"}),
        **{name: (("cell",), values, dict(attrs)) for name, (values, attrs) in cells.static.items()},
    }


def _file(cells: CellInfo, times: list, bounds: list, variables: dict, attrs: dict) -> CFData:
    """A (time, cell) file: the cells' coordinates, ``time`` and ``time_bnds`` (encoded: float64 days since
    0001-01-01 in the noleap calendar), then ``variables``."""
    coords = _coords(cells)
    values, edges = (
        np.asarray(cftime.date2num(t, TIME_UNITS, CALENDAR) if t else [], dtype=np.float64) for t in (times, bounds)
    )
    time_attrs = {"standard_name": "time", "long_name": "time", "axis": "T", "bounds": "time_bnds"}
    time = {
        "time": (("time",), values, {**time_attrs, "units": TIME_UNITS, "calendar": CALENDAR}),
        "time_bnds": (("time", "nv"), edges.reshape(len(times), 2), {}),
    }
    aux = tuple(sorted(n for n in coords if n != "cell"))  # all but the dimension variable
    return CFData({**coords, **time, **variables}, aux, attrs)


def _attrs(soil_model: str, icycle: int, extra: dict | None) -> dict:
    prov = provenance.attributes()
    cycle = CYCLE_NAMES[icycle]
    attrs = {
        "Conventions": "CF-1.8",
        "title": f"testbed {soil_model.upper()}-{cycle.upper()} output",
        "source": provenance.describe(prov),
        "soil_model": soil_model,
        "cycle": cycle,
        "history": f"{_dt.datetime.now(_dt.UTC):%Y-%m-%dT%H:%M:%SZ} written by {provenance.describe(prov)}",
        **prov,
    }
    attrs.update(extra or {})
    return attrs


def _var_attrs(v: OutputVar, annual: bool) -> dict:
    a = {
        "units": v.annual_units() if annual else v.units,
        "long_name": v.long_name,
        "cell_methods": v.cell_methods(annual),
        "cell_measures": CELL_MEASURES,
    }
    if v.standard_name:
        a["standard_name"] = v.standard_name
    return a


def daily_columns(daily: np.ndarray, soil_model: str, icycle: int, options: Collection[str] = ()) -> np.ndarray:
    """The output variables' columns of kernel diagnostics (ncell, NDIAG, nday) as float32 (ncell, nvar, nday)."""
    cols = [layout.index("diag", v.diag) for v in variables_for(soil_model, icycle, options)]
    return daily[:, cols, :].astype(np.float32)


def daily_data(
    values: np.ndarray,
    year_label: int,
    cells: CellInfo,
    soil_model: str,
    icycle: int,
    attrs: dict | None = None,
    options: Collection[str] = (),
) -> CFData:
    """One year of daily output variables, ``values`` = :func:`daily_columns`, as a CF file (time, cell).

    ``time`` is the middle of each day, ``time_bnds`` the day; pools are end-of-day values.
    """
    nday = values.shape[2]
    start = cftime.DatetimeNoLeap(year_label, 1, 1)
    times = [start + _dt.timedelta(days=d, hours=12) for d in range(nday)]
    bounds = [[start + _dt.timedelta(days=d), start + _dt.timedelta(days=d + 1)] for d in range(nday)]
    data = {
        v.name: (("time", "cell"), values[:, k, :].T, _var_attrs(v, annual=False))
        for k, v in enumerate(variables_for(soil_model, icycle, options))
    }
    day = {"day": (("time",), np.arange(1, nday + 1, dtype=np.int32), {"long_name": "day of year (1-365)"})}
    return _file(cells, times, bounds, {**day, **data}, _attrs(soil_model, icycle, attrs))


def annual_columns(sums: np.ndarray, soil_model: str, icycle: int, options: Collection[str] = ()) -> np.ndarray:
    """The output variables' annual values (float32, (nvar, ncell)) from one year's sums of the daily diagnostics
    (ncell, NDIAG): :meth:`OutputVar.annual_value`, element by element (so a chunk task computes its cells' share,
    and the driver joins small float32 arrays instead of the (ncell, NDIAG) float64 sums)."""
    variables = variables_for(soil_model, icycle, options)
    out = np.empty((len(variables), sums.shape[0]), dtype=np.float32)
    for k, v in enumerate(variables):
        out[k] = v.annual_value(sums)
    return out


def annual_data(
    columns: Sequence[np.ndarray],
    year_labels: Sequence[int],
    cells: CellInfo,
    soil_model: str,
    icycle: int,
    attrs: dict | None = None,
    options: Collection[str] = (),
) -> CFData:
    """Annual records (sums of fluxes, means of pools) for the given years as a CF file (time, cell), from each
    year's output values (:func:`annual_columns`)."""
    times = [cftime.DatetimeNoLeap(y, 7, 2, 12) for y in year_labels]
    bounds = [[cftime.DatetimeNoLeap(y, 1, 1), cftime.DatetimeNoLeap(y + 1, 1, 1)] for y in year_labels]
    variables = variables_for(soil_model, icycle, options)
    stack = np.stack(columns) if columns else np.zeros((0, len(variables), cells.lat.size), dtype=np.float32)
    data = {
        v.name: (("time", "cell"), np.ascontiguousarray(stack[:, k, :]), _var_attrs(v, annual=True))
        for k, v in enumerate(variables)
    }
    year = {"year": (("time",), np.asarray(year_labels, dtype=np.int32), {"long_name": "year label"})}
    return _file(cells, times, bounds, {**year, **data}, _attrs(soil_model, icycle, attrs))


def write_cf(data: CFData, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write ``data`` to NetCDF-4 atomically (temporary file, then rename), with netCDF4 directly.

    Float32 data variables are zlib-compressed (level 4, shuffled) with the fill value :data:`FILL`; nothing else
    has a fill value. Data variables name the auxiliary coordinates on their dimensions (``coordinates``), so
    ``xarray.open_dataset`` and CF tools see lat, lon, area, ... as coordinates.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise InputError("exists; pass --overwrite to replace it", path=path)
    import netCDF4

    dims = data.dims()
    data_vars = set(data.data_vars())
    # worker threads may be reading met files meanwhile: our lock serialises the NetCDF library
    with atomic_write(path) as tmp, netcdf_lock(), netCDF4.Dataset(tmp, "w", format="NETCDF4") as nc:
        nc.setncatts(data.attrs)
        for name, size in dims.items():
            nc.createDimension(name, size)
        for name, (vdims, values, attrs) in data.variables.items():
            packed = name in data_vars and values.dtype == np.float32
            var = nc.createVariable(
                name, values.dtype, vdims, zlib=packed, complevel=4, shuffle=packed, fill_value=FILL if packed else None
            )
            var.set_auto_maskandscale(False)
            aux = [c for c in data.coords if name in data_vars and set(data.variables[c][0]) <= set(vdims)]
            var.setncatts({**attrs, **({"coordinates": " ".join(aux)} if aux else {})})
            var[...] = values
    return path


def read_cf(path: str | os.PathLike) -> CFData:
    """A file written by :func:`write_cf`, as it was given to it (values as stored)."""
    import netCDF4

    with netcdf_lock(), netCDF4.Dataset(path) as nc:
        nc.set_auto_maskandscale(False)
        skip = ("_FillValue", "coordinates")  # what write_cf adds
        variables = {
            name: (v.dimensions, v[...], {k: v.getncattr(k) for k in v.ncattrs() if k not in skip})
            for name, v in nc.variables.items()
        }
        coords = {c for v in nc.variables.values() if "coordinates" in v.ncattrs() for c in v.coordinates.split()}
        return CFData(variables, tuple(sorted(coords)), {k: nc.getncattr(k) for k in nc.ncattrs()})


def concat_time(parts: Sequence[CFData]) -> CFData:
    """Files of successive years joined along ``time`` (everything else, global attributes too, from the first)."""
    first = parts[0]
    variables = {}
    for name, (dims, values, attrs) in first.variables.items():
        if "time" in dims:
            axis = dims.index("time")
            values = np.concatenate([p.variables[name][1] for p in parts], axis=axis)
        variables[name] = (dims, values, attrs)
    return CFData(variables, first.coords, first.attrs)


def to_grid(ds: xr.Dataset, ilat: np.ndarray, ilon: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> xr.Dataset:
    """Put a (…, cell) dataset back on a (…, lat, lon) grid (missing cells are NaN)."""
    import xarray as xr

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
