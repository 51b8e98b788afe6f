"""Convert CLM5 daily history files and a CLM5 surface dataset to testbed met files,
gridinfo and soil tables.

CLI: ``main(argv)`` (mounted as ``testbed forcing from-clm5``). Python API:
:func:`convert_clm5`. See docs/forcing.md for the variable, unit, layer, PFT and
pedotransfer mappings. Work is streamed year by year in blocks of days, so memory is
bounded by one block of the largest history variable, not by the run length.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cftime
import netCDF4
import numpy as np
import xarray as xr

from .metfile import (
    DAYS_PER_YEAR,
    FILL,
    FILL_THRESHOLD,
    NSOIL,
    SECONDS_PER_DAY,
    TESTBED_ZI,
    GridRow,
    MetWriter,
    SoilRow,
    clm_watfc,
    clm_watsat,
    clm_wilting,
    met_name,
    original_wilting,
    write_gridinfo,
    write_soil,
)

#: HDF5 chunk cache per variable while converting (bytes).
CHUNK_CACHE_BYTES = 1 << 20

#: Density of water and ice (kg m-3), as in CLM (denh2o, denice).
DENH2O = 1000.0
DENICE = 917.0

#: CLM5 default soil layer thicknesses (m), 20 soil + 5 bedrock levels (levgrnd = 25).
CLM5_DZ = np.array(
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


def clm45_levels(nlev: int = 15) -> tuple[np.ndarray, np.ndarray]:
    """CLM4.5 node depths and thicknesses (m): z_j = 0.025 (exp(0.5 (j - 0.5)) - 1)."""
    j = np.arange(1, nlev + 1, dtype=np.float64)
    z = 0.025 * (np.exp(0.5 * (j - 0.5)) - 1.0)
    return z, midpoint_thickness(z)


def midpoint_thickness(z: np.ndarray) -> np.ndarray:
    """Thicknesses from node depths, interfaces half-way between nodes (first top at 0).

    This is how the original NetCDFTools derived ``levgrndthickness`` from ``levgrnd``.
    The last level is taken symmetric about its node.
    """
    z = np.asarray(z, dtype=np.float64)
    zi = np.empty(z.size + 1)
    zi[0] = 0.0
    zi[1:-1] = 0.5 * (z[:-1] + z[1:])
    zi[-1] = z[-1] + (z[-1] - zi[-2])
    return np.diff(zi)


#: Default dominant-CLM-PFT -> IGBP mapping (natural PFT index, or landunit name).
DEFAULT_PFT_MAP: dict[int | str, int] = {
    0: 16,  # not vegetated (bare)           -> barren
    1: 1,  # needleleaf evergreen temperate -> evergreen needleleaf forest
    2: 1,  # needleleaf evergreen boreal    -> evergreen needleleaf forest
    3: 3,  # needleleaf deciduous boreal    -> deciduous needleleaf forest
    4: 2,  # broadleaf evergreen tropical   -> evergreen broadleaf forest
    5: 2,  # broadleaf evergreen temperate  -> evergreen broadleaf forest
    6: 4,  # broadleaf deciduous tropical   -> deciduous broadleaf forest
    7: 4,  # broadleaf deciduous temperate  -> deciduous broadleaf forest
    8: 4,  # broadleaf deciduous boreal     -> deciduous broadleaf forest
    9: 6,  # broadleaf evergreen shrub temp -> closed shrubland
    10: 7,  # broadleaf deciduous shrub temp -> open shrubland
    11: 18,  # broadleaf deciduous shrub bor. -> tundra
    12: 18,  # C3 arctic grass                -> tundra
    13: 10,  # C3 grass                       -> grassland
    14: 10,  # C4 grass                       -> grassland
    15: 12,  # C3 crop (CLM4.5 natpft)        -> cropland
    16: 12,  # C3 irrigated (CLM4.5 natpft)   -> cropland
    "crop": 12,
    "glacier": 15,
    "lake": 17,
    "wetland": 11,
    "urban": 13,
}
LANDUNITS = ("natveg", "crop", "glacier", "lake", "wetland", "urban")
LANDUNIT_VARS = {
    "natveg": "PCT_NATVEG",
    "crop": "PCT_CROP",
    "glacier": "PCT_GLACIER",
    "lake": "PCT_LAKE",
    "wetland": "PCT_WETLAND",
    "urban": "PCT_URBAN",
}
#: CLM's texture for cells without data (mksurfdata default loam: 43 % sand, 18 % clay).
DEFAULT_TEXTURE = (43.0, 18.0)


class ConversionError(RuntimeError):
    """The CLM input cannot be converted (message says what to fix)."""


@dataclass
class ConversionResult:
    """Paths written by :func:`convert_clm5` and a few facts about the conversion."""

    met_year: list[Path] = field(default_factory=list)
    met_multi: list[Path] = field(default_factory=list)
    tables: list[Path] = field(default_factory=list)
    years: list[int] = field(default_factory=list)
    n_active: int = 0
    dropped_days: list[str] = field(default_factory=list)
    skipped_years: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------------------
# helpers: units
# ----------------------------------------------------------------------------------------
def _norm_units(u: str) -> str:
    return u.replace(" ", "").replace("^", "").replace("**", "").lower()


def per_day_factor(units: str | None, var: str) -> float:
    """Factor that turns a rate in ``units`` into a per-day rate (``gX/m2/s`` -> 86400)."""
    if units is None:
        raise ConversionError(f"variable {var} has no units attribute; expected a per-second rate")
    u = _norm_units(units)
    if u.endswith(("/s", "s-1", "/sec", "s1")):
        return SECONDS_PER_DAY
    if u.endswith(("/d", "/day", "d-1", "day-1")):
        return 1.0
    if u.endswith(("/yr", "/year", "yr-1", "year-1", "a-1")):
        return 1.0 / DAYS_PER_YEAR
    raise ConversionError(f"variable {var} has units {units!r}; expected a rate per s, day or year")


def kelvin_offset(units: str | None, var: str) -> float:
    """Offset to add to get K (0 for K, 273.15 for degrees Celsius; no units -> K)."""
    if units is None:
        return 0.0
    u = _norm_units(units)
    if u in ("k", "kelvin", "degk", "deg_k"):
        return 0.0
    if u in ("c", "degc", "deg_c", "celsius", "degreesc", "degree_celsius", "degrees_celsius"):
        return 273.15
    raise ConversionError(f"variable {var} has units {units!r}; expected K or degC")


# ----------------------------------------------------------------------------------------
# helpers: time
# ----------------------------------------------------------------------------------------
_CUM = np.cumsum([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
_HALF_DAY = {"day": 0.5, "hour": 12.0, "minute": 720.0, "second": 43200.0}


def _half_day(units: str) -> float:
    word = units.split()[0].lower().rstrip("s")
    if word not in _HALF_DAY:
        raise ConversionError(f"time units {units!r} not understood")
    return _HALF_DAY[word]


def record_dates(ds: xr.Dataset, time_position: str = "auto") -> tuple[np.ndarray, ...]:
    """Calendar (year, month, day) of each daily record of a history dataset.

    CLM stamps daily means at the *end* of the averaging interval (00:00 of the next day),
    so by default the interval bounds (``time.bounds``/``time_bounds``/``time_bnds``) are
    used when present (their midpoint), otherwise the stamp minus half a day
    (``time_position``: ``auto``/``bounds``/``end``, ``middle``, ``start``).
    """
    t = ds["time"]
    units = t.attrs.get("units")
    if units is None:
        raise ConversionError("the history file's time variable has no units")
    cal = str(t.attrs.get("calendar", "standard")).lower()
    if cal in ("360_day",):
        raise ConversionError(f"calendar {cal!r} is not supported (need 365-day or gregorian)")
    bname = t.attrs.get("bounds")
    if bname is None:
        bname = next((b for b in ("time_bounds", "time_bnds") if b in ds.variables), None)
    if time_position in ("auto", "bounds") and bname is not None and bname in ds.variables:
        b = np.asarray(ds[bname].values, dtype=np.float64)
        inst = 0.5 * (b[:, 0] + b[:, 1])
    elif time_position == "bounds":
        raise ConversionError("--time-position bounds given but the file has no time bounds")
    else:
        val = np.asarray(t.values, dtype=np.float64)
        h = _half_day(units)
        shift = {"auto": -h, "end": -h, "middle": 0.0, "start": h}[time_position]
        inst = val + shift
    dates = cftime.num2date(inst, units, calendar=cal)
    year = np.array([d.year for d in dates], dtype=np.int64)
    month = np.array([d.month for d in dates], dtype=np.int64)
    day = np.array([d.day for d in dates], dtype=np.int64)
    return year, month, day


# ----------------------------------------------------------------------------------------
# helpers: layers
# ----------------------------------------------------------------------------------------
def clm_thickness(ds: xr.Dataset, nlev: int, spatial_index: int | None = None) -> np.ndarray:
    """Thicknesses (m) of the first ``nlev`` CLM levels.

    Order of preference: ``DZSOI`` in the file (first active cell), CLM5 or CLM4.5 defaults
    when ``levgrnd`` matches them, else thicknesses from the ``levgrnd`` node depths with
    interfaces half-way between nodes (the original tools' rule).
    """
    if "DZSOI" in ds.variables:
        dz = ds["DZSOI"]
        lev = [d for d in dz.dims if d.startswith("lev")][0]
        arr = np.asarray(dz.transpose(lev, ...).values, dtype=np.float64).reshape(dz.sizes[lev], -1)
        ok = np.all(np.isfinite(arr) & (arr > 0) & (arr < FILL_THRESHOLD), axis=0)
        col = (
            spatial_index
            if spatial_index is not None and ok[spatial_index]
            else (int(np.flatnonzero(ok)[0]) if ok.any() else None)
        )
        if col is not None and arr.shape[0] >= nlev:
            return arr[:nlev, col]
    if "levgrnd" in ds.variables:
        z = np.asarray(ds["levgrnd"].values, dtype=np.float64)
        if z.size >= 20 and np.allclose(z[:20], np.cumsum(CLM5_DZ)[:20] - CLM5_DZ[:20] / 2, atol=2e-3):
            return CLM5_DZ[:nlev].copy()
        z45, dz45 = clm45_levels(z.size)
        if np.allclose(z, z45, rtol=1e-3, atol=1e-4):
            return dz45[:nlev]
        return midpoint_thickness(z)[:nlev]
    if nlev <= CLM5_DZ.size:
        return CLM5_DZ[:nlev].copy()
    raise ConversionError("cannot determine soil level thicknesses: no DZSOI and no levgrnd")


def layer_weights(dz: np.ndarray, method: str = "overlap") -> np.ndarray:
    """(6, nlev) weights mapping CLM levels of thickness ``dz`` onto the testbed layers.

    ``overlap``: each testbed layer (interfaces 0, 0.022, 0.080, 0.234, 0.643, 1.728,
    4.600 m) is the depth-overlap weighted mean of the CLM levels it intersects.
    ``original``: the NetCDFTools grouping, levels 1 | 2-3 | 4-5 | 6-7 | 8-9 | 10
    (1-based), thickness weighted. Rows are normalised to sum to 1.
    """
    dz = np.asarray(dz, dtype=np.float64)
    n = dz.size
    w = np.zeros((NSOIL, n))
    if method == "overlap":
        zi = np.concatenate([[0.0], np.cumsum(dz)])
        for layer in range(NSOIL):
            top, bot = TESTBED_ZI[layer], TESTBED_ZI[layer + 1]
            w[layer] = np.clip(np.minimum(zi[1:], bot) - np.maximum(zi[:-1], top), 0.0, None)
    elif method == "original":
        if n < 10:
            raise ConversionError(f"layer mapping 'original' needs 10 CLM levels, got {n}")
        for layer, levs in enumerate(((0,), (1, 2), (3, 4), (5, 6), (7, 8), (9,))):
            for k in levs:
                w[layer, k] = dz[k]
    else:
        raise ConversionError(f"unknown layer mapping {method!r} (use 'overlap' or 'original')")
    tot = w.sum(axis=1, keepdims=True)
    if np.any(tot <= 0):
        bad = int(np.flatnonzero(tot[:, 0] <= 0)[0]) + 1
        raise ConversionError(
            f"testbed layer {bad} ({TESTBED_ZI[bad - 1]:.3f}-{TESTBED_ZI[bad]:.3f} m) is below "
            f"the deepest CLM level given ({np.sum(dz):.3f} m); cannot map soil levels"
        )
    return w / tot


# ----------------------------------------------------------------------------------------
# helpers: grid
# ----------------------------------------------------------------------------------------
@dataclass
class _Grid:
    spatial_dims: tuple[str, ...]
    nlat: int
    nlon: int
    lat: np.ndarray  # (nlat,) for lat/lon grids, (n,) cell lats for lndgrid
    lon: np.ndarray
    structured: bool

    @property
    def ncell(self) -> int:
        return self.nlat * self.nlon

    def cell_lat(self) -> np.ndarray:
        """Latitude of every cell, flattened in (lat, lon) C order."""
        if self.structured:
            return np.repeat(self.lat, self.nlon)
        return self.lat

    def cell_lon(self) -> np.ndarray:
        if self.structured:
            return np.tile(self.lon, self.nlat)
        return self.lon


def _grid_of(ds: xr.Dataset, var: str) -> _Grid:
    dims = ds[var].dims
    if dims[-2:] == ("lat", "lon"):
        lat = np.asarray(ds["lat"].values, dtype=np.float64)
        lon = np.asarray(ds["lon"].values, dtype=np.float64)
        return _Grid(("lat", "lon"), lat.size, lon.size, lat, lon, True)
    for d in ("lndgrid", "gridcell"):
        if dims[-1] == d:
            n = ds.sizes[d]
            lat = np.asarray(ds["lat"].values, dtype=np.float64) if "lat" in ds else np.zeros(n)
            lon = np.asarray(ds["lon"].values, dtype=np.float64) if "lon" in ds else np.zeros(n)
            if lat.shape != (n,) or lon.shape != (n,):
                raise ConversionError(f"lat/lon of the history file do not have dimension {d}")
            return _Grid((d,), n, 1, lat, lon, False)
    raise ConversionError(f"variable {var} has dimensions {dims}; expected (..., lat, lon) or (..., lndgrid)")


def _spatial(da: xr.DataArray, grid: _Grid, sdims: tuple[str, ...]) -> np.ndarray:
    """Surface field -> (..., ncell) float64 in the history grid's flattened order."""
    other = [d for d in da.dims if d not in sdims]
    arr = np.asarray(da.transpose(*other, *sdims).values, dtype=np.float64)
    arr = arr.reshape(*arr.shape[: len(other)], -1)
    if arr.shape[-1] != grid.ncell:
        raise ConversionError(
            f"surface variable {da.name} has {arr.shape[-1]} cells, the history files "
            f"have {grid.ncell}; use the surface dataset of the same grid"
        )
    return arr


def _bad(a: np.ndarray) -> np.ndarray:
    return ~np.isfinite(a) | (np.abs(a) >= FILL_THRESHOLD)


# ----------------------------------------------------------------------------------------
# PFT mapping and soil
# ----------------------------------------------------------------------------------------
def read_pft_map(path: str | Path) -> dict[int | str, int]:
    """Read a CSV with columns ``clm_pft,igbp`` (clm_pft = natural PFT index or landunit
    name crop/glacier/lake/wetland/urban); entries override :data:`DEFAULT_PFT_MAP`."""
    out: dict[int | str, int] = {}
    with open(path, newline="") as fh:
        for rec in csv.DictReader(fh):
            key = rec["clm_pft"].strip()
            out[int(key) if key.lstrip("-").isdigit() else key.lower()] = int(rec["igbp"])
    return out


def dominant_igbp(
    pct_nat_pft: np.ndarray,
    landunits: Mapping[str, np.ndarray] | None = None,
    pft_map: Mapping[int | str, int] | None = None,
) -> np.ndarray:
    """IGBP type per cell from CLM surface fractions.

    ``pct_nat_pft``: (natpft, ncell) percent of the natural-vegetation landunit.
    ``landunits``: optional percent of the cell per landunit (keys of :data:`LANDUNITS`).
    The landunit with the largest share wins (ties: order natveg, crop, glacier, lake,
    wetland, urban); for natural vegetation the largest natural PFT is mapped.
    """
    m = dict(DEFAULT_PFT_MAP)
    m.update(pft_map or {})
    pct = np.where(_bad(pct_nat_pft), 0.0, pct_nat_pft)
    dom = np.argmax(pct, axis=0)
    missing = sorted({int(k) for k in np.unique(dom)} - {k for k in m if isinstance(k, int)})
    if missing:
        raise ConversionError(f"no IGBP type given for CLM natural PFT(s) {missing}; add them to the PFT mapping CSV")
    igbp = np.array([m[int(k)] for k in dom], dtype=np.int64)
    if landunits:
        shares = np.stack(
            [
                np.where(_bad(landunits[k]), 0.0, landunits[k]) if k in landunits else np.full(dom.shape, -1.0)
                for k in LANDUNITS
            ]
        )
        if "natveg" not in landunits:
            shares[0] = 100.0 - np.clip(shares[1:], 0.0, None).sum(axis=0)
        winner = np.argmax(shares, axis=0)
        for i, lu in enumerate(LANDUNITS[1:], start=1):
            igbp = np.where(winner == i, m[lu], igbp)
    return igbp


def _level_thickness_for_texture(nlev: int) -> np.ndarray:
    if nlev == 10:  # CLM4.5 and CLM5 surface datasets: texture on the CLM4.5 levels
        return clm45_levels(15)[1][:10]
    if nlev == 20:
        return CLM5_DZ[:20].copy()
    return np.ones(nlev)


def soil_table(
    sand_lev: np.ndarray,
    clay_lev: np.ndarray,
    *,
    wilting: str = "original",
    watsat_lev: np.ndarray | None = None,
    watfc_lev: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Soil columns for the soil CSV from per-level texture (percent), shape (nlev, ncell).

    As the original: sand, clay, wsat and wfield are thickness-weighted means over the
    texture levels; silt = 100 - sand - clay; wwilt from the mean texture and mean wfield.
    wsat/wfield per level are CLM's (Cosby porosity, WATFC) unless given.
    Returns fractions (0-1) and m3 m-3.
    """
    dz = _level_thickness_for_texture(sand_lev.shape[0])[:, None]
    wsat_l = clm_watsat(sand_lev) if watsat_lev is None else watsat_lev
    wfc_l = clm_watfc(sand_lev, clay_lev) if watfc_lev is None else watfc_lev
    tot = dz.sum()
    sand = (sand_lev * dz).sum(axis=0) / tot
    clay = (clay_lev * dz).sum(axis=0) / tot
    wsat = (wsat_l * dz).sum(axis=0) / tot
    wfield = (wfc_l * dz).sum(axis=0) / tot
    silt = 100.0 - sand - clay
    if wilting == "original":
        wwilt = original_wilting(sand, clay, silt, wfield)
    elif wilting == "clapp":
        wwilt = (clm_wilting(sand_lev, clay_lev) * dz).sum(axis=0) / tot
    else:
        raise ConversionError(f"unknown wilting-point method {wilting!r}")
    return {"sand": sand / 100, "clay": clay / 100, "silt": silt / 100, "wwilt": wwilt, "wfield": wfield, "wsat": wsat}


# ----------------------------------------------------------------------------------------
# the converter
# ----------------------------------------------------------------------------------------
class _History:
    """Index of daily records over many history files (year -> 365 (file, record))."""

    def __init__(self, paths: Sequence[str | Path], time_position: str) -> None:
        self.paths = [Path(p) for p in paths]
        if not self.paths:
            raise ConversionError("no history files given")
        self._open: dict[int, xr.Dataset] = {}
        self.days: dict[int, np.ndarray] = {}
        self.dropped: list[str] = []
        seen: dict[tuple[int, int], str] = {}
        for f, path in enumerate(self.paths):
            ds = self.dataset(f)
            year, month, day = record_dates(ds, time_position)
            for r in range(year.size):
                y, mo, d = int(year[r]), int(month[r]), int(day[r])
                if mo == 2 and d == 29:
                    self.dropped.append(f"{y:04d}-02-29 ({path.name} record {r})")
                    continue
                doy = int(_CUM[mo - 1]) + d - 1
                key = (y, doy)
                if key in seen:
                    raise ConversionError(
                        f"day {y:04d}-{mo:02d}-{d:02d} is in both {seen[key]} and {path.name}; give each day once"
                    )
                seen[key] = path.name
                arr = self.days.setdefault(y, np.full((DAYS_PER_YEAR, 2), -1, dtype=np.int64))
                arr[doy] = (f, r)
            if len(self._open) > 4:
                self.close(f)

    def dataset(self, f: int) -> xr.Dataset:
        if f not in self._open:
            self._open[f] = xr.open_dataset(self.paths[f], decode_times=False, cache=False, mask_and_scale=False)
        return self._open[f]

    def close(self, f: int | None = None) -> None:
        keys = list(self._open) if f is None else [f]
        for k in keys:
            ds = self._open.pop(k, None)
            if ds is not None:
                ds.close()

    def complete_years(self) -> tuple[list[int], list[int]]:
        full = sorted(y for y, a in self.days.items() if np.all(a[:, 0] >= 0))
        part = sorted(y for y, a in self.days.items() if np.any(a[:, 0] < 0))
        return full, part

    def has(self, var: str) -> bool:
        return var in self.dataset(0).variables

    def read(
        self,
        var: str,
        year: int,
        d0: int,
        d1: int,
        sdims: tuple[str, ...],
        cells: np.ndarray | None = None,
    ) -> np.ndarray:
        """Days d0..d1-1 of ``year`` as float32 (ndays, [nlev,] ncell); fill -> NaN.

        ``cells``: flat indices of the cells to keep (gathered before any copy is made).
        """
        recs = self.days[year][d0:d1]
        parts = []
        start = 0
        while start < len(recs):
            f = int(recs[start, 0])
            stop = start
            while stop < len(recs) and recs[stop, 0] == f:
                stop += 1
            ridx = recs[start:stop, 1]
            ds = self.dataset(f)
            if var not in ds.variables:
                raise ConversionError(f"{self.paths[f].name} has no variable {var}")
            da = ds[var]
            if np.all(np.diff(ridx) == 1):
                sub = da.isel(time=slice(int(ridx[0]), int(ridx[-1]) + 1))
            else:
                sub = da.isel(time=ridx)
            other = [d for d in sub.dims if d != "time" and d not in sdims]
            arr = np.asarray(sub.transpose("time", *other, *sdims).values)
            arr = arr.reshape(*arr.shape[: 1 + len(other)], -1)
            if cells is not None:
                arr = arr[..., cells]
            arr = arr.astype(np.float32, copy=False)
            fills = [da.attrs.get(a) for a in ("_FillValue", "missing_value")]
            for fv in fills:
                if fv is not None and np.isfinite(fv):
                    arr[arr == np.float32(fv)] = np.nan
            sf, ao = da.attrs.get("scale_factor"), da.attrs.get("add_offset")
            if sf is not None or ao is not None:
                arr = arr * np.float32(1.0 if sf is None else sf) + np.float32(0.0 if ao is None else ao)
            parts.append(arr)
            start = stop
            if len(self._open) > 4:
                for k in list(self._open):
                    if k != f:
                        self.close(k)
        out = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)
        out[np.abs(out) >= FILL_THRESHOLD] = np.nan
        return out


def _first(ds: xr.Dataset, names: Sequence[str]) -> str | None:
    return next((n for n in names if n in ds.variables), None)


def _convert_clm5(
    history: Sequence[str | Path],
    surface: str | Path,
    out_dir: str | Path,
    *,
    years: Sequence[int] | None = None,
    per_year: bool = True,
    multi_year: bool = False,
    grid: str = "auto",
    layer_mapping: str = "overlap",
    pft_map: Mapping[int | str, int] | None = None,
    wilting: str = "original",
    hydraulics: str = "texture",
    tair_var: str | None = None,
    min_landfrac: float = 0.0,
    time_position: str = "auto",
    block_days: int = 30,
    compress: int = 1,
    nc_format: str = "NETCDF4",
    gridinfo_name: str = "gridinfo_igbpz.csv",
    soil_name: str = "gridinfo_soil.csv",
    log=None,
) -> ConversionResult:
    """Convert CLM5 daily history files + surface dataset to testbed met files and tables.

    ``history``: CLM h-files with daily records (GPP gC m-2 s-1; TSA/TBOT K; TSOI K by
    levgrnd; SOILLIQ [+ SOILICE] kg m-2 and/or H2OSOI m3 m-3 by levsoi/levgrnd;
    NDEP_TO_SMINN gN m-2 s-1). ``surface``: CLM surface dataset (PCT_SAND, PCT_CLAY,
    PCT_NAT_PFT, landunit percentages, LANDFRAC_PFT/LANDFRAC, AREA km2).
    ``years``: subset of complete years to convert (default all complete years).
    ``grid``: ``full`` keeps the history lat/lon grid (ocean cellMissing = 1), ``compact``
    writes nlon = 1, nlat = active cells; ``auto`` = full for lat/lon, compact for lndgrid.
    ``layer_mapping``: ``overlap`` or ``original`` (see :func:`layer_weights`).
    Output: float32 met files (``met_YYYY_YYYY.nc`` per year if ``per_year``; one
    ``met_Y1_Y2.nc`` if ``multi_year``), gridinfo and soil CSVs in met point order.
    """
    say = log or (lambda msg: print(msg, file=sys.stderr))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    res = ConversionResult()
    hist = _History(history, time_position)
    res.dropped_days = list(hist.dropped)
    h0 = hist.dataset(0)
    for v in ("GPP", "TSOI", "NDEP_TO_SMINN"):
        if v not in h0.variables:
            raise ConversionError(
                f"{hist.paths[0].name} has no variable {v}, which the "
                "met file needs; add it to the CLM history (hist_fincl)"
            )
    tvar = tair_var or _first(h0, ("TSA", "TBOT"))
    if tvar is None and not all(v in h0.variables for v in ("TREFMNAV", "TREFMXAV")):
        raise ConversionError(f"{hist.paths[0].name} has no air temperature (TSA, TBOT or TREFMNAV+TREFMXAV)")
    if "SOILLIQ" not in h0.variables and "H2OSOI" not in h0.variables:
        raise ConversionError(f"{hist.paths[0].name} has neither SOILLIQ nor H2OSOI")
    full_years, partial = hist.complete_years()
    if years is not None:
        want = [int(y) for y in years]
        miss = [y for y in want if y not in full_years]
        if miss:
            raise ConversionError(
                f"year(s) {miss} are not complete (365 days after dropping "
                f"Feb 29) in the history files; complete years: {full_years}"
            )
        conv_years = want
    else:
        conv_years = full_years
        res.skipped_years = partial
        for y in partial:
            n = int(np.sum(hist.days[y][:, 0] >= 0))
            say(f"warning: year {y} has only {n} of 365 days in the history files; skipped")
    if not conv_years:
        raise ConversionError("no complete year (365 days after dropping Feb 29) in the history files")
    res.years = conv_years
    if res.dropped_days:
        say(
            f"dropped {len(res.dropped_days)} leap day(s) (Feb 29): "
            + ", ".join(d.split()[0] for d in res.dropped_days[:5])
            + (" ..." if len(res.dropped_days) > 5 else "")
        )

    g = _grid_of(h0, "GPP")
    sdims = g.spatial_dims

    # --- units ---------------------------------------------------------------------------
    f_gpp = per_day_factor(h0["GPP"].attrs.get("units"), "GPP")
    f_ndep = per_day_factor(h0["NDEP_TO_SMINN"].attrs.get("units"), "NDEP_TO_SMINN")
    if tvar is not None:
        off_air = kelvin_offset(h0[tvar].attrs.get("units"), tvar)
    else:
        off_air = kelvin_offset(h0["TREFMNAV"].attrs.get("units"), "TREFMNAV")
    off_soil = kelvin_offset(h0["TSOI"].attrs.get("units"), "TSOI")

    # --- surface dataset -------------------------------------------------------------------
    with xr.open_dataset(surface, decode_times=False) as sf:
        if g.structured:
            ssd = ("lsmlat", "lsmlon") if "lsmlat" in sf.dims else ("lat", "lon")
        else:
            ssd = ("gridcell",) if "gridcell" in sf.dims else ("lndgrid",)
        for v in ("PCT_SAND", "PCT_CLAY", "PCT_NAT_PFT"):
            if v not in sf.variables:
                raise ConversionError(f"surface dataset {Path(surface).name} has no {v}")
        lf_name = _first(sf, ("LANDFRAC_PFT", "LANDFRAC", "landfrac"))
        if lf_name is not None:
            landfrac = _spatial(sf[lf_name], g, ssd)
        elif "landfrac" in h0.variables:
            landfrac = _spatial(h0["landfrac"], g, sdims)
        else:
            raise ConversionError(
                "no land fraction: need LANDFRAC_PFT or LANDFRAC in the "
                "surface dataset, or landfrac in the history file"
            )
        if "AREA" in sf.variables:
            area = _spatial(sf["AREA"], g, ssd)
        elif "area" in h0.variables:
            area = _spatial(h0["area"], g, sdims)
        else:
            area = np.full(g.ncell, np.nan)
        if "LATIXY" in sf.variables:
            slat = _spatial(sf["LATIXY"], g, ssd)
            ok = ~_bad(slat)
            if np.any(np.abs(slat[ok] - g.cell_lat()[ok]) > 0.01):
                raise ConversionError(
                    "the surface dataset's LATIXY does not match the history "
                    "latitudes; use the surface dataset of the same grid"
                )
        sand_lev = _spatial(sf["PCT_SAND"], g, ssd)
        clay_lev = _spatial(sf["PCT_CLAY"], g, ssd)
        natpft = _spatial(sf["PCT_NAT_PFT"], g, ssd)
        lus = {}
        for lu, name in LANDUNIT_VARS.items():
            if name in sf.variables:
                a = _spatial(sf[name], g, ssd)
                lus[lu] = a.sum(axis=0) if a.ndim == 2 else a
        watsat_lev = watfc_lev = None
        if hydraulics == "file":
            src = sf if "WATSAT" in sf.variables else h0
            if "WATSAT" not in src.variables or "WATFC" not in src.variables:
                raise ConversionError(
                    "--hydraulics file needs WATSAT and WATFC in the surface dataset or the history file"
                )
            sd = ssd if src is sf else sdims
            watsat_lev = _spatial(src["WATSAT"], g, sd)[: sand_lev.shape[0]]
            watfc_lev = _spatial(src["WATFC"], g, sd)[: sand_lev.shape[0]]
        elif hydraulics != "texture":
            raise ConversionError(f"unknown hydraulics source {hydraulics!r}")
    if "landmask" in h0.variables:
        landfrac = np.where(_spatial(h0["landmask"], g, sdims) > 0, landfrac, 0.0)

    # --- soil water variables and layers -------------------------------------------------
    liq_var = "SOILLIQ" if hist.has("SOILLIQ") else None
    h2o_var = "H2OSOI" if hist.has("H2OSOI") else None
    ice_var = "SOILICE" if hist.has("SOILICE") else None
    wvar = liq_var or h2o_var
    assert wvar is not None
    lev_t = [d for d in h0["TSOI"].dims if d.startswith("lev")][0]
    lev_w = [d for d in h0[wvar].dims if d.startswith("lev")][0]
    nlev_t = h0.sizes[lev_t]
    nlev_w = h0.sizes[lev_w]
    if lev_w == "levgrnd" and nlev_w in (15, 25):
        nlev_w = 10 if nlev_w == 15 else 20  # only hydrologically active levels hold water
    dz_all = clm_thickness(h0, max(nlev_t, nlev_w))
    w_t = layer_weights(dz_all[:nlev_t], layer_mapping)
    w_w = layer_weights(dz_all[:nlev_w], layer_mapping)
    dz_w = dz_all[:nlev_w][:, None]
    if liq_var is None and ice_var is None:
        res.warnings.append("no SOILLIQ or SOILICE: xmoist = H2OSOI and xfrznmoist = 0")
    elif h2o_var is None and ice_var is None:
        res.warnings.append("no H2OSOI or SOILICE: xfrznmoist = 0")
    for wmsg in res.warnings:
        say("warning: " + wmsg)

    # --- active cells -------------------------------------------------------------------
    y0 = conv_years[0]
    probe = {
        "GPP": hist.read("GPP", y0, 0, 1, sdims),
        "NDEP_TO_SMINN": hist.read("NDEP_TO_SMINN", y0, 0, 1, sdims),
        "TSOI": hist.read("TSOI", y0, 0, 1, sdims)[:, :nlev_t],
    }
    probe[wvar] = hist.read(wvar, y0, 0, 1, sdims)[:, :nlev_w]
    if tvar is not None:
        probe[tvar] = hist.read(tvar, y0, 0, 1, sdims)
    land = ~_bad(landfrac) & (landfrac > min_landfrac)
    valid = land.copy()
    for arr in probe.values():
        valid &= ~np.any(np.isnan(arr.reshape(-1, g.ncell)), axis=0)
    n_nodata = int(np.sum(land & ~valid))
    if n_nodata:
        say(
            f"note: {n_nodata} land cell(s) have missing CLM values on the first day and are "
            "not simulated (cellMissing = 1)"
        )
    if not valid.any():
        raise ConversionError("no cell has land (LANDFRAC > threshold) and valid CLM data")
    # point order: longitude index outer, latitude index inner
    flat_all = np.flatnonzero(valid)
    j_idx, i_idx = np.divmod(flat_all, g.nlon)
    order = np.lexsort((j_idx, i_idx))
    flat = flat_all[order]
    pj, pi = j_idx[order], i_idx[order]
    nact = flat.size
    res.n_active = nact

    # --- output grid ----------------------------------------------------------------------
    mode = grid if grid != "auto" else ("full" if g.structured else "compact")
    if mode == "full" and not g.structured:
        raise ConversionError("--grid full needs lat/lon history files; use compact for lndgrid")
    cell_lat, cell_lon = g.cell_lat()[flat], g.cell_lon()[flat]
    if mode == "full":
        out_lat, out_lon = g.lat, g.lon
        missing = np.ones((g.nlat, g.nlon), dtype=np.int32)
        missing[pj, pi] = 0
        ii, jj = np.meshgrid(np.arange(g.nlon), np.arange(g.nlat))
        cellid = (ii * g.nlat + jj + 1).astype(np.int32)
        ijcam, ilat, ilon = cellid[pj, pi], pj + 1, pi + 1
        shape2 = (g.nlat, g.nlon)
    elif mode == "compact":
        out_lat, out_lon = cell_lat, np.zeros(1)
        missing = np.zeros((nact, 1), dtype=np.int32)
        cellid = np.arange(1, nact + 1, dtype=np.int32)[:, None]
        ijcam = ilat = np.arange(1, nact + 1)
        ilon = np.ones(nact, dtype=np.int64)
        shape2 = (nact, 1)
    else:
        raise ConversionError(f"unknown grid mode {grid!r} (auto, full or compact)")

    def to_out(a: np.ndarray) -> np.ndarray:
        """(t, [6,] nact) -> (t, [6,] nlat_out, nlon_out) float32 with fill elsewhere."""
        if mode == "compact":
            return a.astype(np.float32).reshape(*a.shape, 1)
        o = np.full((*a.shape[:-1], *shape2), FILL, dtype=np.float32)
        o[..., pj, pi] = a
        return o

    # --- write met files --------------------------------------------------------------------
    attrs = {
        "source": "testbed.forcing_tools.clm5_to_met from "
        + ", ".join(p.name for p in hist.paths[:3])
        + (" ..." if len(hist.paths) > 3 else ""),
        "title": "Daily forcing for the biogeochemical testbed converted from CLM history",
        "extra_attrs": {"layer_mapping": layer_mapping, "leap_days": "Feb 29 removed (365-day years)"},
    }
    # chunks that divide both the block and the 365-day year: every write fills whole chunks
    common = dict(compress=compress, nc_format=nc_format, time_chunk=math.gcd(block_days, DAYS_PER_YEAR))
    multi = None
    if multi_year:
        p = out / met_name(conv_years[0], conv_years[-1])
        multi = MetWriter(p, out_lat, out_lon, missing, cellid, conv_years, **common, **attrs)
        res.met_multi.append(p)
    ndep_sum = np.zeros(nact)
    try:
        for iy, year in enumerate(conv_years):
            say(f"converting {year}")
            writers = []
            if per_year and not (multi is not None and len(conv_years) == 1):
                p = out / met_name(year, year)
                writers.append(MetWriter(p, out_lat, out_lon, missing, cellid, [year], **common, **attrs))
                res.met_year.append(p)
            for d0 in range(0, DAYS_PER_YEAR, block_days):
                d1 = min(DAYS_PER_YEAR, d0 + block_days)
                blk = _convert_block(
                    hist,
                    year,
                    d0,
                    d1,
                    sdims,
                    flat,
                    tvar,
                    liq_var,
                    h2o_var,
                    ice_var,
                    nlev_t,
                    nlev_w,
                    dz_w,
                    w_t,
                    w_w,
                    f_gpp,
                    f_ndep,
                    off_air,
                    off_soil,
                )
                for name, arr in blk.items():
                    bad = np.isnan(arr)
                    if bad.any():
                        t, *_, c = np.unravel_index(int(np.flatnonzero(bad)[0]), arr.shape)
                        raise ConversionError(
                            f"{name}: missing CLM value in {year} day {d0 + int(t) + 1} at cell "
                            f"lat {cell_lat[c]:.2f} lon {cell_lon[c]:.2f}, which has data on the "
                            "first day; fix the history files or mask the cell"
                        )
                ndep_sum += blk["ndep"].astype(np.float64).sum(axis=0)
                for name, arr in blk.items():
                    o = to_out(arr)
                    for w in writers:
                        w.write_block(name, d0, o)
                    if multi is not None:
                        multi.write_block(name, iy * DAYS_PER_YEAR + d0, o)
            for w in writers:
                w.close()
    finally:
        if multi is not None:
            multi.close()
        hist.close()

    # --- gridinfo and soil ------------------------------------------------------------------
    sand_a, clay_a = sand_lev[:, flat], clay_lev[:, flat]
    badtex = np.any(_bad(sand_a) | _bad(clay_a), axis=0) | (sand_a.sum(axis=0) + clay_a.sum(axis=0) <= 0)
    if badtex.any():
        say(
            f"note: {int(badtex.sum())} active cell(s) have no texture in the surface dataset; "
            f"using CLM's default loam ({DEFAULT_TEXTURE[0]:.0f} % sand, "
            f"{DEFAULT_TEXTURE[1]:.0f} % clay)"
        )
        sand_a[:, badtex], clay_a[:, badtex] = DEFAULT_TEXTURE
    soil = soil_table(
        sand_a,
        clay_a,
        wilting=wilting,
        watsat_lev=None if watsat_lev is None else watsat_lev[:, flat],
        watfc_lev=None if watfc_lev is None else watfc_lev[:, flat],
    )
    igbp = dominant_igbp(natpft[:, flat], {k: v[flat] for k, v in lus.items()}, pft_map)
    landarea = np.where(_bad(area[flat]), 0.0, area[flat] * landfrac[flat] * 1.0e6)
    ndep_ann = ndep_sum / len(conv_years)
    grows, srows = [], []
    for k in range(nact):
        grows.append(
            GridRow(
                ijcam=int(ijcam[k]),
                lat=float(cell_lat[k]),
                lon=float(cell_lon[k]),
                ivt_igbp=int(igbp[k]),
                landarea=float(landarea[k]),
                ndep=float(ndep_ann[k]),
                ilat=int(ilat[k]),
                ilon=int(ilon[k]),
            )
        )
        srows.append(
            SoilRow(
                int(ijcam[k]),
                float(cell_lat[k]),
                float(cell_lon[k]),
                *(float(soil[c][k]) for c in ("sand", "clay", "silt", "wwilt", "wfield", "wsat")),
            )
        )
    res.tables.append(write_gridinfo(out / gridinfo_name, grows))
    res.tables.append(write_soil(out / soil_name, srows))
    if mode == "compact":
        src_id = flat + 1 if not g.structured else (flat % g.nlon) * g.nlat + flat // g.nlon + 1
        cells = out / "cells.csv"
        with open(cells, "w") as fh:
            fh.write("npt,ijcam_compact,ijcam_source,ilat_source,ilon_source,lat,lon,ivt_igbp\n")
            for k in range(nact):
                fh.write(
                    f"{k + 1},{k + 1},{int(src_id[k])},{int(pj[k]) + 1},{int(pi[k]) + 1},"
                    f"{cell_lat[k]:.2f},{cell_lon[k]:.2f},{int(igbp[k])}\n"
                )
        res.tables.append(cells)
    return res


def convert_clm5(
    history: Sequence[str | Path],
    surface: str | Path,
    out_dir: str | Path,
    **kwargs: Any,
) -> ConversionResult:
    """Convert CLM5 daily history files + surface dataset to testbed met files and tables.

    Keyword options are those of the CLI (see :func:`add_arguments`): ``years``,
    ``per_year``, ``multi_year``, ``grid``, ``layer_mapping``, ``pft_map``, ``wilting``,
    ``hydraulics``, ``tair_var``, ``min_landfrac``, ``time_position``, ``block_days``,
    ``compress``, ``nc_format``, ``gridinfo_name``, ``soil_name``, ``log``.
    The HDF5 chunk cache is kept small while converting (every chunk is read or written
    once), which bounds memory to about one block of days of the largest variable.
    """
    old = netCDF4.get_chunk_cache()
    netCDF4.set_chunk_cache(CHUNK_CACHE_BYTES, old[1], old[2])
    try:
        return _convert_clm5(history, surface, out_dir, **kwargs)
    finally:
        netCDF4.set_chunk_cache(*old)


def _convert_block(
    hist: _History,
    year: int,
    d0: int,
    d1: int,
    sdims: tuple[str, ...],
    flat: np.ndarray,
    tvar: str | None,
    liq_var: str | None,
    h2o_var: str | None,
    ice_var: str | None,
    nlev_t: int,
    nlev_w: int,
    dz_w: np.ndarray,
    w_t: np.ndarray,
    w_w: np.ndarray,
    f_gpp: float,
    f_ndep: float,
    off_air: float,
    off_soil: float,
) -> dict[str, np.ndarray]:
    """One block of days on the active cells: dict of (t, nact) / (t, 6, nact) float64."""

    def rd(v: str) -> np.ndarray:
        return hist.read(v, year, d0, d1, sdims, flat).astype(np.float64)

    out: dict[str, np.ndarray] = {}
    out["xcgpp"] = rd("GPP") * f_gpp
    if tvar is not None:
        out["xtairk"] = rd(tvar) + off_air
    else:
        out["xtairk"] = 0.5 * (rd("TREFMNAV") + rd("TREFMXAV")) + off_air
    out["ndep"] = rd("NDEP_TO_SMINN") * f_ndep
    tsoi = rd("TSOI")[:, :nlev_t] + off_soil
    out["xtsoil"] = np.einsum("lk,tkc->tlc", w_t, tsoi)
    del tsoi
    if liq_var is not None:
        liq = rd(liq_var)[:, :nlev_w] / (DENH2O * dz_w)
        if h2o_var is not None:
            frz = rd(h2o_var)[:, :nlev_w] - liq
        elif ice_var is not None:
            frz = rd(ice_var)[:, :nlev_w] / (DENICE * dz_w)
        else:
            frz = np.zeros_like(liq)
    else:
        tot = rd(h2o_var)[:, :nlev_w]  # type: ignore[arg-type]
        if ice_var is not None:
            frz = rd(ice_var)[:, :nlev_w] / (DENICE * dz_w)
            liq = tot - frz
        else:
            liq, frz = tot, np.zeros_like(tot)
    # float32 rounding of H2OSOI - liquid can give tiny negatives: clip at 0
    frz = np.where(frz < 0.0, 0.0, frz)
    out["xmoist"] = np.einsum("lk,tkc->tlc", w_w, liq)
    out["xfrznmoist"] = np.einsum("lk,tkc->tlc", w_w, frz)
    return out


# ----------------------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------------------
def _parse_years(text: str | None) -> list[int] | None:
    if not text:
        return None
    for sep in (":", "-"):
        if sep in text[1:]:
            a, b = text.split(sep, 1)
            return list(range(int(a), int(b) + 1))
    return [int(x) for x in text.split(",") if x]


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the converter's options to ``parser`` (for mounting as a subcommand)."""
    parser.add_argument("history", nargs="+", help="CLM daily history files (h1, any number)")
    parser.add_argument("--surface", required=True, help="CLM surface dataset (surfdata_*.nc)")
    parser.add_argument("-o", "--out-dir", required=True, help="output directory")
    parser.add_argument("--years", help="years to convert, '1901:1910' or '1901,1903' (default: every complete year)")
    parser.add_argument(
        "--no-per-year", dest="per_year", action="store_false", help="do not write met_YYYY_YYYY.nc per year"
    )
    parser.add_argument("--multi-year", action="store_true", help="also write one multi-year file met_Y1_Y2.nc")
    parser.add_argument(
        "--grid",
        choices=["auto", "full", "compact"],
        default="auto",
        help="full: keep the lat/lon grid; compact: nlon=1, nlat=active cells",
    )
    parser.add_argument(
        "--layer-mapping",
        choices=["overlap", "original"],
        default="overlap",
        help="CLM levels -> 6 testbed layers (default overlap; original = NetCDFTools grouping 1|2-3|4-5|6-7|8-9|10)",
    )
    parser.add_argument(
        "--pft-map", help="CSV with columns clm_pft,igbp overriding the default dominant-PFT -> IGBP mapping"
    )
    parser.add_argument(
        "--wilting",
        choices=["original", "clapp"],
        default="original",
        help="wilting point: original NetCDFTools regression or Clapp-Hornberger",
    )
    parser.add_argument(
        "--hydraulics",
        choices=["texture", "file"],
        default="texture",
        help="wsat/wfield from texture (CLM formulas) or WATSAT/WATFC in a file",
    )
    parser.add_argument(
        "--tair-var", help="air temperature variable (default TSA, else TBOT, else mean of TREFMNAV and TREFMXAV)"
    )
    parser.add_argument(
        "--min-landfrac", type=float, default=0.0, help="simulate cells with land fraction above this (default 0)"
    )
    parser.add_argument(
        "--time-position",
        choices=["auto", "bounds", "end", "middle", "start"],
        default="auto",
        help="where the time stamp sits in each daily interval (default: bounds if present, else end as CLM writes it)",
    )
    parser.add_argument(
        "--block-days", type=int, default=30, help="days processed at once (memory vs speed; default 30)"
    )
    parser.add_argument("--compress", type=int, default=1, help="zlib level (0 = none)")
    parser.add_argument(
        "--format", dest="nc_format", default="NETCDF4", choices=["NETCDF4", "NETCDF4_CLASSIC", "NETCDF3_64BIT_OFFSET"]
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    """Stand-alone parser (``python -m testbed.forcing_tools.clm5_to_met``)."""
    p = argparse.ArgumentParser(
        prog="testbed forcing from-clm5",
        description="Convert CLM5 daily history + surface data to testbed met files, gridinfo and soil CSVs.",
    )
    return add_arguments(p)


def run(args: argparse.Namespace) -> int:
    """Execute parsed arguments; returns the exit status."""
    try:
        res = convert_clm5(
            args.history,
            args.surface,
            args.out_dir,
            years=_parse_years(args.years),
            per_year=args.per_year,
            multi_year=args.multi_year,
            grid=args.grid,
            layer_mapping=args.layer_mapping,
            pft_map=read_pft_map(args.pft_map) if args.pft_map else None,
            wilting=args.wilting,
            hydraulics=args.hydraulics,
            tair_var=args.tair_var,
            min_landfrac=args.min_landfrac,
            time_position=args.time_position,
            block_days=args.block_days,
            compress=args.compress,
            nc_format=args.nc_format,
        )
    except (ConversionError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for p in res.met_year + res.met_multi + res.tables:
        print(p)
    print(f"{res.n_active} active cells, years {res.years[0]}-{res.years[-1]}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point."""
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
