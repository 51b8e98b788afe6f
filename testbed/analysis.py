"""Analysis of testbed outputs (layout: docs/outputs.md; formulas: docs/analysis.md).

Importing this module registers the ``ds.testbed`` Dataset accessor.  Every function
works lazily on dask-backed datasets: nothing is computed until the caller asks
(``summary_table`` is the exception; it returns numbers by design).

Units: per-cell pools g m-2, fluxes g m-2 yr-1 (annual files); global sums Pg C
(1 g = 1e-15 Pg) and Tg N (1 g = 1e-12 Tg); cell area in m2 from the ``area`` coordinate.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from .metformat import INACTIVE_IGBP, inactive
from .soil import REGISTRY as SOIL_MODELS
from .soil import SoilModel, vegetation_pools
from .soil.base import CARBON, NITROGEN

G_TO_PG = 1e-15
G_TO_TG = 1e-12
#: IGBP classes that the original treats as inactive (wetland, urban, snow/ice, water): metformat.INACTIVE_IGBP.
INACTIVE_PFTS = INACTIVE_IGBP

Period = tuple[int, int]


def _outputs(model: SoilModel, group: str, element: str) -> tuple[str, ...]:
    """Output variable names of a soil model's pools in ``group`` (vegetation pools included)."""
    return tuple(p.output for p in model.group(group, element, 2))


def soil_pool_names(model: SoilModel, element: str = CARBON) -> tuple[str, ...]:
    """The output variables that make up total soil C (or N): litter and soil organic matter, CWD excluded."""
    return _outputs(model, "litter", element) + _outputs(model, "soil", element)


def _vegetation(group: str, element: str) -> tuple[str, ...]:
    return tuple(p.output for p in vegetation_pools(2) if group in p.groups and p.element == element)


VEG_C = _vegetation("vegetation", CARBON)
(CWD_C,), (CWD_N,) = _vegetation("cwd", CARBON), _vegetation("cwd", NITROGEN)

#: every variable that the named quantities read (``subset`` keeps only these)
ANALYSIS_VARS = tuple(
    dict.fromkeys(
        tuple(n for m in SOIL_MODELS.values() for e in (CARBON, NITROGEN) for n in soil_pool_names(m, e))
        + VEG_C
        + (CWD_C, CWD_N, "cgpp", "cnpp", "cresp", "cnep", "nNetMineralization", "tsoilC", "tairC")
    )
)


class MissingVariableError(KeyError):
    """A quantity needs variables that the dataset does not have (or a CN run)."""


# ----------------------------------------------------------------------------- run metadata
def soil_model(ds: xr.Dataset) -> str:
    """The soil model of a run (testbed.soil): the ``soil_model`` attribute, else guessed from its pools."""
    model = str(ds.attrs.get("soil_model", "")).lower()
    if model in SOIL_MODELS:
        return model
    for name, m in SOIL_MODELS.items():
        if all(v in ds.data_vars for v in soil_pool_names(m)):
            return name
    raise MissingVariableError(
        "cannot tell the soil model: no soil_model attribute, and the soil C pools of "
        f"none of {', '.join(SOIL_MODELS)} are all present"
    )


def _soil(ds: xr.Dataset) -> SoilModel:
    return SOIL_MODELS[soil_model(ds)]


def cycle(ds: xr.Dataset) -> str:
    """``'c'`` or ``'cn'``: the ``cycle`` attribute, else ``'cn'`` if soil N pools are present."""
    cyc = str(ds.attrs.get("cycle", "")).lower()
    if cyc in ("c", "cn"):
        return cyc
    return "cn" if any(v in ds.data_vars for v in ("nsoilpass", "nSOMp", "nMineral")) else "c"


def _sum_vars(ds: xr.Dataset, names: tuple[str, ...], units: str, long_name: str) -> xr.DataArray:
    missing = [n for n in names if n not in ds.data_vars]
    if missing:
        raise MissingVariableError(f"{long_name} needs {missing}, absent from the dataset")
    out = ds[names[0]]
    for n in names[1:]:
        out = out + ds[n]
    return out.rename(long_name.replace(" ", "_")).assign_attrs(units=units, long_name=long_name)


def _need_cn(ds: xr.Dataset, what: str) -> None:
    if cycle(ds) != "cn":
        raise MissingVariableError(f"{what} needs a CN run (cycle='cn'); this run has cycle='c'")


def _ratio(num: xr.DataArray, den: xr.DataArray, factor: float = 1.0) -> xr.DataArray:
    """num / den * factor, NaN where den <= 0."""
    return num / den.where(den > 0) * factor


# ----------------------------------------------------------------------------- per-cell fields
def soil_carbon(ds: xr.Dataset, include_cwd: bool = False) -> xr.DataArray:
    """Total soil C per cell [gC m-2]: litter + SOM pools (docs/outputs.md), optionally + CWD."""
    names = soil_pool_names(_soil(ds), CARBON)
    if include_cwd:
        names = names + (CWD_C,)
    return _sum_vars(ds, names, "gC m-2", "soil carbon")


def soil_nitrogen(ds: xr.Dataset, include_cwd: bool = False) -> xr.DataArray:
    """Total soil N per cell [gN m-2], the N pools matching ``soil_carbon`` (CN runs)."""
    _need_cn(ds, "soil N")
    names = soil_pool_names(_soil(ds), NITROGEN)
    if include_cwd:
        names = names + (CWD_N,)
    return _sum_vars(ds, names, "gN m-2", "soil nitrogen")


def vegetation_carbon(ds: xr.Dataset) -> xr.DataArray:
    """Vegetation C per cell [gC m-2] = cleaf + cwood + cfroot (labile store excluded)."""
    return _sum_vars(ds, VEG_C, "gC m-2", "vegetation carbon")


def microbial_carbon(ds: xr.Dataset) -> xr.DataArray:
    """Microbial biomass C [gC m-2]: MIMICS cMICr + cMICk; CASA csoilmic."""
    names = _outputs(_soil(ds), "microbial", CARBON)
    return _sum_vars(ds, names, "gC m-2", "microbial carbon")


def microbial_nitrogen(ds: xr.Dataset) -> xr.DataArray:
    """Microbial biomass N [gN m-2]: MIMICS nMICr + nMICk; CASA nsoilmic (CN runs)."""
    _need_cn(ds, "microbial N")
    names = _outputs(_soil(ds), "microbial", NITROGEN)
    return _sum_vars(ds, names, "gN m-2", "microbial nitrogen")


def relative_microbial_biomass(ds: xr.Dataset) -> xr.DataArray:
    """Microbial C as a share of soil C per cell [%] = 100 * microbial C / soil C."""
    out = _ratio(microbial_carbon(ds), soil_carbon(ds), 100.0)
    return out.rename("relative_microbial_biomass").assign_attrs(units="%")


def soil_cn(ds: xr.Dataset) -> xr.DataArray:
    """Soil C:N per cell [g g-1] = soil C / soil N."""
    return _ratio(soil_carbon(ds), soil_nitrogen(ds)).rename("soil_cn").assign_attrs(units="1")


def microbial_cn(ds: xr.Dataset) -> xr.DataArray:
    """Microbial C:N per cell [g g-1] = microbial C / microbial N (MIMICS: (cMICr+cMICk)/(nMICr+nMICk))."""
    return _ratio(microbial_carbon(ds), microbial_nitrogen(ds)).rename("microbial_cn").assign_attrs(units="1")


def r_to_k_ratio(ds: xr.Dataset) -> xr.DataArray:
    """MIMICS ratio of r- to K-selected microbial C per cell [g g-1] = cMICr / cMICk."""
    if not {"cMICr", "cMICk"} <= set(ds.data_vars):
        raise MissingVariableError("the MICr:MICk ratio needs a MIMICS run (cMICr, cMICk)")
    return _ratio(ds["cMICr"], ds["cMICk"]).rename("mic_r_to_k").assign_attrs(units="1")


def turnover_time(ds: xr.Dataset, include_cwd: bool = False) -> xr.DataArray:
    """Inferred soil C turnover time per cell [yr] = soil C / annual NPP (NaN where NPP <= 0).

    Needs an annual file (``cnpp`` is the annual sum, gC m-2 yr-1).
    """
    out = _ratio(soil_carbon(ds, include_cwd), ds["cnpp"])
    return out.rename("turnover_time").assign_attrs(units="yr")


def subset(ds: xr.Dataset, extra: tuple[str, ...] = ()) -> xr.Dataset:
    """The dataset reduced to ``ANALYSIS_VARS`` (+ ``extra``) that it has; coords and attrs kept."""
    return ds[[v for v in ANALYSIS_VARS + extra if v in ds.data_vars]]


# ----------------------------------------------------------------------------- masks and weights
def active_mask(obj: xr.Dataset | xr.DataArray) -> xr.DataArray:
    """True for cells that count: area > 0 and not inactive (metformat.inactive: IGBP 11, 13, 15, 17)."""
    area = obj.coords["area"] if "area" in obj.coords else obj["area"]
    mask = area.fillna(0) > 0
    if "pft" in obj.coords or (isinstance(obj, xr.Dataset) and "pft" in obj):
        pft = obj["pft"]
        mask = mask & ~xr.apply_ufunc(inactive, pft.fillna(0), dask="parallelized", output_dtypes=[bool])
    return mask.rename("active")


def cell_weights(obj: xr.Dataset | xr.DataArray) -> xr.DataArray:
    """Cell area [m2] for active cells, 0 for masked ones."""
    area = obj.coords["area"] if "area" in obj.coords else obj["area"]
    return area.fillna(0).where(active_mask(obj), 0.0).rename("weight")


def _strip_cell_coords(da: xr.DataArray) -> xr.DataArray:
    drop = [c for c in da.coords if "cell" in da[c].dims and c != "cell"]
    return da.drop_vars(drop)


def _align_pair(a: xr.DataArray, b: xr.DataArray) -> tuple[xr.DataArray, xr.DataArray]:
    """Inner-join a and b on their indexes; b loses the non-index coords it shares with a
    (comparing two runs' dask-backed lat/area coords would force a compute)."""
    b = b.drop_vars([c for c in b.coords if c in a.coords and c not in b.indexes])
    return xr.align(a, b, join="inner")


def global_sum(da: xr.DataArray, scale: float = G_TO_PG, weights: xr.DataArray | None = None) -> xr.DataArray:
    """Area-weighted global sum over active cells: sum(da * area) * scale.

    For g m-2 inputs the default ``scale`` gives Pg (use ``G_TO_TG`` for Tg N). NaN cells are skipped.
    """
    w = cell_weights(da) if weights is None else weights
    out = (_strip_cell_coords(da) * _strip_cell_coords(w)).sum("cell", skipna=True) * scale
    units = _scaled_units(da.attrs.get("units", ""), scale, da.attrs.get("long_name", ""))
    return out.assign_attrs(da.attrs).assign_attrs(units=units)


def collapse_cells(ds: xr.Dataset) -> xr.Dataset:
    """All active cells summed (area-weighted, in g) into one pseudo-cell of area 1 m2.

    ``total(collapse_cells(ds), q) == total(ds, q)`` for every named quantity (sums are
    linear and ratios are ratios of sums), so a caller can reduce a large dataset once.
    """
    w = _strip_cell_coords(cell_weights(ds))
    data = _strip_cell_coords(ds.drop_vars([v for v in ds.data_vars if "cell" not in ds[v].dims]))
    summed = (data * w).sum("cell", skipna=True, keep_attrs=True).expand_dims(cell=1, axis=-1)
    coords = {"lat": ("cell", [0.0]), "lon": ("cell", [0.0]), "area": ("cell", [1.0]), "pft": ("cell", [0])}
    return summed.assign_coords(coords).assign_attrs(ds.attrs)


def global_mean(da: xr.DataArray, weights: xr.DataArray | None = None) -> xr.DataArray:
    """Area-weighted global mean over active, non-NaN cells (same units as ``da``)."""
    w = _strip_cell_coords(cell_weights(da) if weights is None else weights)
    d = _strip_cell_coords(da)
    num = (d * w).sum("cell", skipna=True)
    den = w.where(d.notnull(), 0.0).sum("cell")
    return (num / den.where(den > 0)).assign_attrs(da.attrs)


def _scaled_units(units: str, scale: float, long_name: str = "") -> str:
    """Units of a global sum: ``g m-2 yr-1`` of a carbon variable -> ``Pg C yr-1``.

    The element comes from older files' ``gC m-2`` units or, for CF units ``g m-2``, from the
    word carbon/nitrogen in ``long_name`` (docs/outputs.md); without it the units are ``Pg yr-1``.
    """
    prefix = {G_TO_PG: "Pg", G_TO_TG: "Tg"}.get(scale)
    if prefix is None:
        return units
    if units.startswith(("gC m-2", "gN m-2")):
        return prefix + " " + units[1] + units[len("gC m-2") :]
    if not units.startswith("g m-2"):
        return units
    words = long_name.lower().split()
    element = "C" if "carbon" in words else "N" if "nitrogen" in words else ""
    return " ".join(filter(None, [prefix, element, units[len("g m-2") :].strip()]))


# ----------------------------------------------------------------------------- zonal means
def lat_bands(width: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
    """Band centres and bounds (nband, 2) [degrees_north] covering -90..90 with ``width``."""
    nb = int(math.ceil(180.0 / width))
    lower = -90.0 + width * np.arange(nb)
    upper = np.minimum(lower + width, 90.0)
    return 0.5 * (lower + upper), np.stack([lower, upper], axis=1)


def _band_matrix(obj: xr.DataArray, width: float) -> xr.DataArray:
    centres, _ = lat_bands(width)
    nb = centres.size
    lat = _strip_cell_coords(obj.coords["lat"])
    idx = np.floor((lat + 90.0) / width).clip(0, nb - 1)
    band = xr.DataArray(np.arange(nb), dims="lat_band", coords={"lat_band": centres})
    return (idx == band).astype(float)


def zonal_mean(da: xr.DataArray, width: float = 5.0, weights: xr.DataArray | None = None) -> xr.DataArray:
    """Area-weighted mean over active cells in latitude bands of ``width`` degrees.

    Returns dim ``lat_band`` (band centres, all bands from -90 to 90; empty bands are NaN).
    Same units as ``da``.
    """
    m = _band_matrix(da, width)
    w = _strip_cell_coords(cell_weights(da) if weights is None else weights)
    d = _strip_cell_coords(da)
    num = xr.dot(d.fillna(0.0) * w, m, dim="cell")
    den = xr.dot(w.where(d.notnull(), 0.0), m, dim="cell")
    out = (num / den.where(den > 0)).assign_attrs(da.attrs).rename(da.name)
    out.coords["lat_band"].attrs.update(units="degrees_north", long_name=f"centre of {width:g} degree band")
    return out


# ----------------------------------------------------------------------------- time handling
def years(obj: xr.Dataset | xr.DataArray) -> xr.DataArray:
    """Year label of each time record (from the cftime axis)."""
    return obj["time"].dt.year


def select_period(obj: xr.Dataset | xr.DataArray, period: Period | None) -> xr.Dataset | xr.DataArray:
    """Records whose year is in [start, end] (inclusive); all records if ``period`` is None."""
    if period is None:
        return obj
    start, end = period
    yr = years(obj)
    sel = obj.isel(time=((yr >= start) & (yr <= end)).to_numpy())
    if sel.sizes["time"] == 0:
        raise ValueError(f"no records in years {start}-{end}")
    return sel


def period_mean(obj: xr.Dataset | xr.DataArray, period: Period | None = None) -> xr.Dataset | xr.DataArray:
    """Mean over the records of ``period`` (years inclusive; None = all records). Keeps attrs."""
    sel = select_period(obj, period)
    if isinstance(sel, xr.Dataset):
        drop = [v for v in sel.data_vars if "time" in sel[v].dims and not np.issubdtype(sel[v].dtype, np.number)]
        sel = sel.drop_vars(drop)
    return sel.mean("time", keep_attrs=True)


def period_change(
    obj: xr.Dataset | xr.DataArray, p1: Period, p2: Period, relative: bool = False
) -> xr.Dataset | xr.DataArray:
    """mean(p2) - mean(p1); with ``relative`` 100 * (mean(p2) - mean(p1)) / mean(p1) [%]."""
    m1, m2 = period_mean(obj, p1), period_mean(obj, p2)
    diff = m2 - m1
    if relative:
        return diff / m1.where(m1 != 0) * 100.0
    return diff


def cumulative_over_years(da: xr.DataArray) -> xr.DataArray:
    """Running total of an annual flux over years [flux units * yr], e.g. cumulative NEP.

    Each record stands for the years since the previous record (the first for one year),
    so files written every ``output_interval`` years are integrated; exact for interval 1.
    """
    yr = years(da).to_numpy()
    dt = np.diff(yr, prepend=yr[0] - 1).astype(float) if yr.size else yr.astype(float)
    step = xr.DataArray(dt, dims="time", coords={"time": da["time"]})
    return (da * step).cumsum("time").assign_attrs(da.attrs)


# ----------------------------------------------------------------------------- comparisons
def response_ratio(a: xr.DataArray | float, b: xr.DataArray | float) -> xr.DataArray | float:
    """ln(a / b), aligned on the shared ``cell``/``time`` labels (inner join); NaN unless a, b > 0."""
    if isinstance(a, xr.DataArray) and isinstance(b, xr.DataArray):
        a, b = _align_pair(a, b)
        out = np.log((a / b).where((a > 0) & (b > 0)))
        return out.rename("response_ratio").assign_attrs(units="1", long_name="ln(a/b)")
    a_f, b_f = float(a), float(b)
    return math.log(a_f / b_f) if a_f > 0 and b_f > 0 else float("nan")


def n_limitation(cn: xr.Dataset, c: xr.Dataset, relative: bool = False, global_total: bool = False) -> xr.DataArray:
    """N limitation of NPP: NPP(CN run) - NPP(C-only twin).

    Per cell [gC m-2 yr-1] or, with ``global_total``, global [Pg C yr-1]; with ``relative``
    100 * (NPP_cn - NPP_c) / NPP_c [%] (negative = N limits NPP).
    """
    if global_total:
        a, b = total(cn, "npp"), total(c, "npp")
    else:
        a, b = cn["cnpp"], c["cnpp"]
    a, b = _align_pair(a, b)
    diff = a - b
    if relative:
        return (diff / b.where(b > 0) * 100.0).rename("n_limitation").assign_attrs(units="%")
    return diff.rename("n_limitation").assign_attrs(units=a.attrs.get("units", ""))


# ----------------------------------------------------------------------------- named quantities
@dataclass(frozen=True)
class Quantity:
    """A named analysis quantity: an extensive field (summed globally) or a ratio of two."""

    label: str
    units: str  #: per-cell units
    total_units: str  #: global units
    numerator: Callable[[xr.Dataset], xr.DataArray]
    denominator: Callable[[xr.Dataset], xr.DataArray] | None = None
    factor: float = 1.0  #: applied to ratios (100 for %)
    scale: float = G_TO_PG  #: g -> Pg or Tg for global sums


def _var(name: str, cn_only: bool = False) -> Callable[[xr.Dataset], xr.DataArray]:
    def get(ds: xr.Dataset) -> xr.DataArray:
        if cn_only:
            _need_cn(ds, name)
        if name not in ds.data_vars:
            raise MissingVariableError(f"{name} is absent from the dataset")
        return ds[name]

    return get


QUANTITIES: dict[str, Quantity] = {
    "gpp": Quantity("GPP", "gC m-2 yr-1", "Pg C yr-1", _var("cgpp")),
    "npp": Quantity("NPP", "gC m-2 yr-1", "Pg C yr-1", _var("cnpp")),
    "rh": Quantity("Rh", "gC m-2 yr-1", "Pg C yr-1", _var("cresp")),
    "nep": Quantity("NEP", "gC m-2 yr-1", "Pg C yr-1", _var("cnep")),
    "net_n_min": Quantity(
        "Net N mineralisation", "gN m-2 yr-1", "Tg N yr-1", _var("nNetMineralization", True), scale=G_TO_TG
    ),
    "soil_c": Quantity("Soil C", "gC m-2", "Pg C", soil_carbon),
    "veg_c": Quantity("Vegetation C", "gC m-2", "Pg C", vegetation_carbon),
    "mic_c": Quantity("Microbial C", "gC m-2", "Pg C", microbial_carbon),
    "soil_n": Quantity("Soil N", "gN m-2", "Tg N", soil_nitrogen, scale=G_TO_TG),
    "mic_n": Quantity("Microbial N", "gN m-2", "Tg N", microbial_nitrogen, scale=G_TO_TG),
    "rel_mic": Quantity("Relative microbial C", "%", "%", microbial_carbon, soil_carbon, 100.0),
    "soil_cn": Quantity("Soil C:N", "1", "1", soil_carbon, soil_nitrogen),
    "mic_cn": Quantity("Microbial C:N", "1", "1", microbial_carbon, microbial_nitrogen),
    "turnover": Quantity("Soil C turnover time", "yr", "yr", soil_carbon, _var("cnpp")),
}


def _quantity(name: str) -> Quantity:
    try:
        return QUANTITIES[name]
    except KeyError:
        raise KeyError(f"unknown quantity {name!r}; known: {sorted(QUANTITIES)}") from None


def field(ds: xr.Dataset, name: str) -> xr.DataArray:
    """Per-cell value of a named quantity (see ``QUANTITIES``), in its per-cell units."""
    q = _quantity(name)
    num = q.numerator(ds)
    out = num if q.denominator is None else _ratio(num, q.denominator(ds), q.factor)
    return out.rename(name).assign_attrs(units=q.units, long_name=q.label)


def total(ds: xr.Dataset, name: str) -> xr.DataArray:
    """Global value of a named quantity: area-weighted sum (Pg C / Tg N), or for ratios
    the ratio of the global sums (e.g. global soil C:N = total soil C / total soil N)."""
    q = _quantity(name)
    if q.denominator is None:
        out = global_sum(q.numerator(ds), q.scale)
    else:
        out = _ratio(global_sum(q.numerator(ds)), global_sum(q.denominator(ds)), q.factor)
    return out.rename(name).assign_attrs(units=q.total_units, long_name=q.label)


def zonal(ds: xr.Dataset, name: str, width: float = 5.0) -> xr.DataArray:
    """Zonal (area-weighted) mean of a named quantity; ratios are ratios of zonal means."""
    q = _quantity(name)
    num = zonal_mean(q.numerator(ds), width)
    out = num if q.denominator is None else _ratio(num, zonal_mean(q.denominator(ds), width), q.factor)
    return out.rename(name).assign_attrs(units=q.units, long_name=q.label)


# ----------------------------------------------------------------------------- accessor
@xr.register_dataset_accessor("testbed")
class TestbedAccessor:
    """``ds.testbed``: the functions of ``testbed.analysis`` bound to a run's dataset."""

    def __init__(self, ds: xr.Dataset) -> None:
        self._ds = ds

    def _da(self, var: str | xr.DataArray) -> xr.DataArray:
        return self._ds[var] if isinstance(var, str) else var

    @property
    def soil_model(self) -> str:
        return soil_model(self._ds)

    @property
    def cycle(self) -> str:
        return cycle(self._ds)

    @property
    def active(self) -> xr.DataArray:
        return active_mask(self._ds)

    @property
    def weights(self) -> xr.DataArray:
        return cell_weights(self._ds)

    def soil_carbon(self, include_cwd: bool = False) -> xr.DataArray:
        return soil_carbon(self._ds, include_cwd)

    def soil_nitrogen(self, include_cwd: bool = False) -> xr.DataArray:
        return soil_nitrogen(self._ds, include_cwd)

    def vegetation_carbon(self) -> xr.DataArray:
        return vegetation_carbon(self._ds)

    def microbial_carbon(self) -> xr.DataArray:
        return microbial_carbon(self._ds)

    def microbial_nitrogen(self) -> xr.DataArray:
        return microbial_nitrogen(self._ds)

    def relative_microbial_biomass(self) -> xr.DataArray:
        return relative_microbial_biomass(self._ds)

    def soil_cn(self) -> xr.DataArray:
        return soil_cn(self._ds)

    def microbial_cn(self) -> xr.DataArray:
        return microbial_cn(self._ds)

    def r_to_k_ratio(self) -> xr.DataArray:
        return r_to_k_ratio(self._ds)

    def turnover_time(self, include_cwd: bool = False) -> xr.DataArray:
        return turnover_time(self._ds, include_cwd)

    def field(self, name: str) -> xr.DataArray:
        return field(self._ds, name)

    def total(self, name: str) -> xr.DataArray:
        return total(self._ds, name)

    def zonal(self, name: str, width: float = 5.0) -> xr.DataArray:
        return zonal(self._ds, name, width)

    def global_sum(self, var: str | xr.DataArray, scale: float = G_TO_PG) -> xr.DataArray:
        return global_sum(self._da(var), scale)

    def global_mean(self, var: str | xr.DataArray) -> xr.DataArray:
        return global_mean(self._da(var))

    def zonal_mean(self, var: str | xr.DataArray, width: float = 5.0) -> xr.DataArray:
        return zonal_mean(self._da(var), width)

    def period_mean(self, period: Period | None = None) -> xr.Dataset:
        return period_mean(self._ds, period)

    def period_change(self, p1: Period, p2: Period, relative: bool = False) -> xr.Dataset:
        return period_change(self._ds, p1, p2, relative)

    def response_ratio(self, other: xr.Dataset, name: str) -> xr.DataArray:
        """ln(self / other) of a named quantity per cell."""
        return response_ratio(field(self._ds, name), field(other, name))

    def n_limitation(self, c_only: xr.Dataset, relative: bool = False, global_total: bool = False) -> xr.DataArray:
        """N limitation of NPP, this dataset being the CN run and ``c_only`` its C-only twin."""
        return n_limitation(self._ds, c_only, relative, global_total)


# ----------------------------------------------------------------------------- summary table
SUMMARY_ROWS: tuple[tuple[str, str], ...] = (
    ("GPP (Pg C yr-1)", "gpp"),
    ("NPP (Pg C yr-1)", "npp"),
    ("HR (Pg C yr-1)", "rh"),
    ("Soil C (Pg C)", "soil_c"),
    ("Vegetation C (Pg C)", "veg_c"),
    ("Microbial biomass (Pg C)", "mic_c"),
    ("Relative microbial biomass (%)", "rel_mic"),
    ("Net N mineralisation (Tg N yr-1)", "net_n_min"),
    ("Soil C:N", "soil_cn"),
    ("Microbial C:N (MIMICS)", "mic_cn"),
    ("Soil C turnover time (yr)", "turnover"),
)
PAIR_ROWS: tuple[str, ...] = (
    "N limitation of NPP (Pg C yr-1)",
    "N limitation of NPP (%)",
    "ln(CN/C) NPP",
    "ln(CN/C) soil C",
    "ln(CN/C) microbial biomass",
)


#: rows of a run with root exudation against its twin without (docs/exudation.md): differences of the period
#: means per unit exudate C; a stock difference per exudate C flux is in years of exudation
EXUDATION_ROWS: tuple[str, ...] = (
    "Exudate C (Pg C yr-1)",
    "dHR / exudate C",
    "dNet N mineralisation / exudate C (g N g-1 C)",
    "dMicrobial necromass formation / exudate C",
    "dSoil C / exudate C flux (yr)",
    "dMicrobial biomass / exudate C flux (yr)",
)
#: the exudation variables the summary reads (testbed.output, soil descriptions)
EXUDATION_VARS: tuple[str, ...] = ("cExudate", "cNecromass_SOMp", "cNecromass_SOMc", "cNecromass_SOMa")


def find_exudation_pairs(runs: Mapping[str, xr.Dataset]) -> dict[str, str]:
    """Run with exudation (it has ``cExudate``) -> its twin without: the single run of the same soil_model and
    cycle without ``cExudate``."""
    pairs = {}
    for name, ds in runs.items():
        if "cExudate" not in ds.data_vars:
            continue
        twins = [
            o
            for o, ods in runs.items()
            if "cExudate" not in ods.data_vars and cycle(ods) == cycle(ds) and soil_model(ods) == soil_model(ds)
        ]
        if len(twins) == 1:
            pairs[name] = twins[0]
    return pairs


def _exudation_rows(means: Mapping[str, xr.Dataset], values: dict, pairs: Mapping[str, str]) -> dict:
    """EXUDATION_ROWS of each run with exudation against its twin (``values``: the SUMMARY_ROWS values)."""
    out: dict[tuple[str, str], float] = {}

    def necromass(ds: xr.Dataset) -> float:
        names = [n for n in EXUDATION_VARS[1:] if n in ds.data_vars]
        return float(sum(global_sum(ds[n]) for n in names)) if len(names) == 3 else float("nan")

    for on, off in pairs.items():
        cex = float(global_sum(means[on]["cExudate"]))
        out[(EXUDATION_ROWS[0], on)] = cex
        if cex <= 0:
            continue
        for row, label, factor in (
            (EXUDATION_ROWS[1], "HR (Pg C yr-1)", 1.0),
            (EXUDATION_ROWS[2], "Net N mineralisation (Tg N yr-1)", G_TO_PG / G_TO_TG),
            (EXUDATION_ROWS[4], "Soil C (Pg C)", 1.0),
            (EXUDATION_ROWS[5], "Microbial biomass (Pg C)", 1.0),
        ):
            a, b = values.get((label, on), float("nan")), values.get((label, off), float("nan"))
            out[(row, on)] = (a - b) / factor / cex
        out[(EXUDATION_ROWS[3], on)] = (necromass(means[on]) - necromass(means[off])) / cex
    return out


def find_pairs(runs: Mapping[str, xr.Dataset]) -> dict[str, str]:
    """CN run name -> its C-only twin: the single run with the same soil_model and cycle 'c'."""
    pairs = {}
    for name, ds in runs.items():
        if cycle(ds) != "cn":
            continue
        twins = [o for o, ods in runs.items() if cycle(ods) == "c" and soil_model(ods) == soil_model(ds)]
        if len(twins) == 1:
            pairs[name] = twins[0]
    return pairs


def summary_table(
    runs: Mapping[str, xr.Dataset], period: Period | None = None, pairs: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """Paper-style global summary, one column per run (time mean over ``period``, None = all records).

    Rows: ``SUMMARY_ROWS`` (NaN where a run lacks the quantity, e.g. N rows of C-only runs;
    microbial C:N only for MIMICS) and, for each CN run paired with its C-only twin
    (``pairs`` cn -> c, default ``find_pairs``), ``PAIR_ROWS`` in the CN run's column.
    Ratios are ratios of global totals; turnover = soil C / NPP of the period means.
    """
    import dask

    pairs = dict(find_pairs(runs) if pairs is None else pairs)
    # one compute of the (small, ncell-long) period means of every run, then plain numpy
    names = list(runs)
    means = dict(
        zip(
            names,
            dask.compute(*[period_mean(subset(runs[n], EXUDATION_VARS), period) for n in names]),
            strict=True,
        )
    )
    values: dict[tuple[str, str], float] = {}
    # a time mean skips NaN too: look for them in every record of the period
    nan = {n: c for n in names if (c := nan_cells(select_period(subset(runs[n]), period)))}
    for name, ds in means.items():
        for label, q in SUMMARY_ROWS:
            if q == "mic_cn" and not _soil(ds).explicit_microbes:
                continue
            try:
                values[(label, name)] = float(total(ds, q))
            except MissingVariableError:
                pass

    def get(label: str, name: str) -> float:
        return values.get((label, name), float("nan"))

    exud_pairs = find_exudation_pairs(runs)
    exud = _exudation_rows(means, values, exud_pairs)
    rows = (
        [label for label, _ in SUMMARY_ROWS]
        + (list(PAIR_ROWS) if pairs else [])
        + (list(EXUDATION_ROWS) if exud_pairs else [])
    )
    table = pd.DataFrame(np.nan, index=pd.Index(rows, name="quantity"), columns=list(runs), dtype=float)
    for label, _ in SUMMARY_ROWS:
        for name in runs:
            table.loc[label, name] = get(label, name)
    for cn_name, c_name in pairs.items():
        npp_cn, npp_c = get("NPP (Pg C yr-1)", cn_name), get("NPP (Pg C yr-1)", c_name)
        table.loc[PAIR_ROWS[0], cn_name] = npp_cn - npp_c
        table.loc[PAIR_ROWS[1], cn_name] = 100.0 * (npp_cn - npp_c) / npp_c if npp_c > 0 else np.nan
        for row, label in zip(
            PAIR_ROWS[2:], ("NPP (Pg C yr-1)", "Soil C (Pg C)", "Microbial biomass (Pg C)"), strict=True
        ):
            table.loc[row, cn_name] = response_ratio(get(label, cn_name), get(label, c_name))
    for (row, name), v in exud.items():
        table.loc[row, name] = v
    table.attrs["pairs"] = pairs
    table.attrs["exudation_pairs"] = exud_pairs
    table.attrs["period"] = period
    table.attrs["nan_cells"] = nan
    table.attrs["provenance"] = {name: run_provenance(runs[name]) for name in names}
    return table


def nan_cells(ds: xr.Dataset) -> list[int]:
    """cellid (or position) of the active cells with a NaN in any summary variable of ``ds`` (any record).

    The global sums skip NaN, so the summary reports these cells instead of silently leaving them out.
    """
    bad = xr.zeros_like(active_mask(ds), dtype=bool)
    for name in subset(ds).data_vars:
        v = ds[name]
        if "cell" in v.dims:
            bad = bad | v.isnull().any([d for d in v.dims if d != "cell"])
    bad = np.asarray(bad & active_mask(ds))
    ids = ds["cellid"].values if "cellid" in ds.variables else np.arange(bad.size)
    return [int(i) for i in np.asarray(ids)[bad]]


def nan_warnings(table: pd.DataFrame) -> list[str]:
    """One line per run whose summary leaves out cells with NaN values."""
    out = []
    for name, cells in table.attrs.get("nan_cells", {}).items():
        shown = ", ".join(str(c) for c in cells[:10]) + (", ..." if len(cells) > 10 else "")
        out.append(
            f"run {name}: {len(cells)} active cell(s) with NaN values (cellid {shown}); the table's "
            "sums and means skip those values"
        )
    return out


def run_provenance(ds: xr.Dataset) -> dict[str, str]:
    """The provenance attributes (testbed version, git commit, dirty flag) that a run's file records."""
    from . import provenance

    keys = (provenance.VERSION, provenance.COMMIT, provenance.DIRTY)
    return {k: str(ds.attrs[k]) for k in keys if k in ds.attrs}


def _fmt(v: float) -> str:
    if v is None or not np.isfinite(v):
        return "n/a"
    a = abs(v)
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def to_markdown(table: pd.DataFrame) -> str:
    """A GitHub Markdown table (no tabulate needed), numbers rounded for reading, plus notes."""
    head = [table.index.name or ""] + [str(c) for c in table.columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * len(table.columns)) + "|"]
    for idx, row in table.iterrows():
        lines.append("| " + " | ".join([str(idx)] + [_fmt(v) for v in row.to_numpy(dtype=float)]) + " |")
    notes = []
    period = table.attrs.get("period")
    notes.append(f"Means over years {period[0]}-{period[1]}." if period else "Means over all records.")
    for cn_name, c_name in table.attrs.get("pairs", {}).items():
        notes.append(f"N limitation and ln(CN/C) rows of `{cn_name}`: against its C-only twin `{c_name}`.")
    for on, off in table.attrs.get("exudation_pairs", {}).items():
        notes.append(f"Exudation rows of `{on}`: differences against `{off}` per unit exudate C (docs/exudation.md).")
    notes += [f"Warning: {line}." for line in nan_warnings(table)]
    return "\n".join(lines) + "\n\n" + "\n".join(notes) + "\n"


def write_summary(table: pd.DataFrame, out_prefix: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write ``<out_prefix>.csv`` (full precision) and ``<out_prefix>.md``; return both paths.

    Provenance goes to the sidecar ``<out_prefix>.provenance.json`` (the CSV stays plain for
    any CSV reader): the testbed that wrote the table and what each run's annual.nc records.
    """
    import json

    from . import provenance

    prefix = Path(out_prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    csv, md = prefix.with_name(prefix.name + ".csv"), prefix.with_name(prefix.name + ".md")
    table.to_csv(csv, float_format="%.6g")
    md.write_text(to_markdown(table))
    side = {"table": csv.name, "written_by": provenance.attributes(), "runs": table.attrs.get("provenance", {})}
    prefix.with_name(prefix.name + ".provenance.json").write_text(json.dumps(side, indent=2) + "\n")
    return csv, md


def run_names(run_dirs: list[str]) -> list[str]:
    """Column names for run directories: their basenames, made unique with a suffix if needed."""
    names: list[str] = []
    for d in run_dirs:
        base = os.path.basename(os.path.normpath(d)) or str(d)
        name, k = base, 2
        while name in names:
            name, k = f"{base}_{k}", k + 1
        names.append(name)
    return names


def open_run(run_dir: str | os.PathLike[str], file: str = "annual.nc") -> xr.Dataset:
    """Open ``<run_dir>/<file>`` lazily (dask chunks, cftime time axis)."""
    path = Path(run_dir) / file
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found")
    return xr.open_dataset(path, chunks={}, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True))


def summary_command(run_dirs: list[str], out_prefix: str | None, period: Period | None = None) -> str:
    """CLI entry: summary of ``<run_dir>/annual.nc`` of each run; prints and returns the Markdown,
    writes ``<out_prefix>.csv`` and ``<out_prefix>.md`` when ``out_prefix`` is given."""
    runs = {name: open_run(d) for name, d in zip(run_names(run_dirs), run_dirs, strict=True)}
    try:
        table = summary_table(runs, period)
    finally:
        for ds in runs.values():
            ds.close()
    md = to_markdown(table)
    if out_prefix:
        write_summary(table, out_prefix)
    print(md)
    for line in nan_warnings(table):
        print(f"testbed: warning: {line}", file=sys.stderr)
    return md
