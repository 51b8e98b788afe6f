"""The input formats, declared once: met NetCDF, gridinfo and soil CSV tables, soil layers, inactive cells.

Layout from ../shared/reference/MET_FORMAT.md and casa.md 2.2, 2.3, 2.7. The model's readers
(:mod:`testbed.forcing`, :mod:`testbed.domain`), the input checks (:mod:`testbed.inputcheck`) and
the forcing tools (:mod:`testbed.forcing_tools`) all take the format from here.

Valid ranges are physical bounds wide enough for any real climate, narrow enough to catch unit
mistakes (degC labelled K, per-second fluxes labelled per-day, fill values such as -9999):

* air temperature 180-340 K: the coldest (-89 degC, Vostok) and hottest (+57 degC) air temperatures
  measured are 184 K and 330 K;
* soil temperature 180-340 K: the top layer of ice-sheet and polar columns follows the coldest air (the
  synthetic global forcing reaches 199.96 K at 88 S); bare desert soil reaches ~345 K
  only at the very surface, not as a daily mean of the 2.2 cm top layer;
* GPP 0-100 gC m-2 d-1: the largest daily GPP measured by eddy covariance is ~30 gC m-2 d-1;
  GPP in gC m-2 s-1 multiplied by 86400 twice, or in mgC, is far above;
* N deposition 0-0.1 gN m-2 d-1 (36.5 gN m-2 yr-1, about four times the largest regional deposition);
* liquid and frozen soil water 0-1 m3 m-3 (volume fractions).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import layout
from .errors import InputError

DAYS_PER_YEAR = 365
NSOIL_LAYERS = layout.INT_CONSTANTS["NSOIL_LAYERS"]
#: Soil layer thicknesses assumed by the model (m), top to bottom (casa.md 2.7; MET_FORMAT.md), declared
#: with the kernel layout (testbed/layout.toml), from which the kernel's DZSOIL is generated.
LAYER_THICKNESS_M: tuple[float, ...] = layout.LAYER_THICKNESS_M
assert len(LAYER_THICKNESS_M) == NSOIL_LAYERS
#: Dimensions a met file must have, by name.
DIMENSIONS = ("lon", "lat", "time", "myear", "nsoilyrs")

#: Fill-value rule: a value is a fill (missing) value when its magnitude is at least FILL_THRESHOLD
#: (CLM writes 1e36), when it equals the variable's ``_FillValue`` or ``missing_value`` attribute, or when
#: it is one of FILL_SENTINELS. Active cells (cellMissing == 0) must have no fill value on any day.
FILL_THRESHOLD = 1.0e35
FILL_SENTINELS = (-9999.0, -99999.0, -999.0)
#: The value our writers put at cells with cellMissing /= 0.
FILL_VALUE = np.float32(1.0e36)


@dataclass(frozen=True)
class Range:
    """An interval of valid values; ``lo_open``/``hi_open`` exclude the bound itself."""

    lo: float = -math.inf
    hi: float = math.inf
    lo_open: bool = False
    hi_open: bool = False

    def ok(self, x: np.ndarray) -> np.ndarray:
        """True where ``x`` is finite and inside the range."""
        x = np.asarray(x, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            good = np.isfinite(x)
            good &= (x > self.lo) if self.lo_open else (x >= self.lo)
            good &= (x < self.hi) if self.hi_open else (x <= self.hi)
        return good

    def __str__(self) -> str:
        lo_inf, hi_inf = math.isinf(self.lo), math.isinf(self.hi)
        if lo_inf and hi_inf:
            return "finite"
        if hi_inf:
            return f"{'>' if self.lo_open else '>='} {self.lo:g}"
        if lo_inf:
            return f"{'<' if self.hi_open else '<='} {self.hi:g}"
        if not (self.lo_open or self.hi_open):
            return f"{self.lo:g} to {self.hi:g}"
        return f"in {'(' if self.lo_open else '['}{self.lo:g}, {self.hi:g}{')' if self.hi_open else ']'}"


FINITE = Range()
POSITIVE = Range(0.0, lo_open=True)
NON_NEGATIVE = Range(0.0)
FRACTION = Range(0.0, 1.0)


@dataclass(frozen=True)
class MetVariable:
    """One data variable of a met file (float32)."""

    name: str
    dims: tuple[str, ...]
    units: str  #: units written by our tools and shown in messages
    accepted_units: tuple[str, ...]  #: ``units`` attribute values accepted (after stripping blanks)
    label: str  #: short name in messages
    long_name: str
    valid: Range  #: valid values on active cells
    unit_hint: str  #: how to convert the usual wrong units
    range_hint: str  #: what an out-of-range value usually means

    @property
    def layered(self) -> bool:
        return "nsoilyrs" in self.dims


_SURFACE = ("time", "lat", "lon")
_LAYERED = ("time", "nsoilyrs", "lat", "lon")
_GC = ("gC/m2/day", "gC m-2 d-1", "gC m-2 day-1", "g C m-2 d-1", "gC/m2/d")
_GN = ("gN/m2/day", "gN m-2 d-1", "gN m-2 day-1", "g N m-2 d-1", "gN/m2/d")
_KELVIN = ("K", "k", "kelvin")
_WATER = ("m3/m3", "m3 m-3", "1", "fraction")
_CELSIUS = "if it is in degrees C, add 273.15"
_WATER_HINT = "convert kg m-2 of water in a layer to m3 m-3 with 0.001 / thickness (m)"

#: The data variables, in file order.
MET_VARIABLES: dict[str, MetVariable] = {
    v.name: v
    for v in (
        MetVariable(
            "xcgpp",
            _SURFACE,
            "gC m-2 day-1",
            _GC,
            "GPP",
            "daily gross primary production",
            Range(0.0, 100.0),
            "if it is per second, multiply by 86400",
            "larger values mean a unit error: per-second data multiplied by 86400 twice, or mgC",
        ),
        MetVariable(
            "xtairk",
            _SURFACE,
            "K",
            _KELVIN,
            "air temperature",
            "daily mean air temperature",
            Range(180.0, 340.0),
            _CELSIUS,
            _CELSIUS,
        ),
        MetVariable(
            "ndep",
            _SURFACE,
            "gN m-2 day-1",
            _GN,
            "N deposition",
            "daily atmospheric N deposition",
            Range(0.0, 0.1),
            "if it is per second, multiply by 86400; per year, divide by 365",
            "per-year values must be divided by 365, kgN ha-1 multiplied by 0.1",
        ),
        MetVariable(
            "xtsoil",
            _LAYERED,
            "K",
            _KELVIN,
            "soil temperature",
            "daily mean soil temperature by layer",
            Range(180.0, 340.0),
            _CELSIUS,
            _CELSIUS + "; -9999 and similar are fill values",
        ),
        MetVariable(
            "xmoist",
            _LAYERED,
            "m3 m-3",
            _WATER,
            "liquid soil water",
            "daily volumetric liquid soil water by layer",
            FRACTION,
            _WATER_HINT,
            _WATER_HINT,
        ),
        MetVariable(
            "xfrznmoist",
            _LAYERED,
            "m3 m-3",
            _WATER,
            "frozen soil water",
            "daily volumetric frozen soil water by layer",
            FRACTION,
            _WATER_HINT,
            _WATER_HINT,
        ),
    )
}
#: Grid variables: name -> (dims, dtype). lat and lon are float32 degrees, the two maps int32.
GRID_VARIABLES: dict[str, tuple[tuple[str, ...], str]] = {
    "lon": (("lon",), "float32"),
    "lat": (("lat",), "float32"),
    "cellMissing": (("lat", "lon"), "int32"),
    "cellid": (("lat", "lon"), "int32"),
}
#: met lat/lon must equal gridinfo lat/lon to this many degrees (gridinfo is written with 2 decimals)
COORD_TOLERANCE_DEG = 0.01


def met_cell_order(cell_missing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lat index, lon index), 0-based, of the active cells (cellMissing == 0) in model point order.

    Point order is longitude outer, latitude inner (MET_FORMAT.md).
    """
    ii, jj = np.nonzero(np.asarray(cell_missing).T == 0)  # rows of the transpose are longitudes
    return jj, ii


def is_fill(values: np.ndarray, declared: tuple[float, ...] = ()) -> np.ndarray:
    """The fill-value rule (see FILL_THRESHOLD): True where ``values`` is a fill value (NaN is not)."""
    v = np.asarray(values)
    with np.errstate(invalid="ignore"):
        fill = np.abs(v) >= FILL_THRESHOLD
        for f in (*declared, *FILL_SENTINELS):
            fill |= v == f
    return fill


# ---------------------------------------------------------------------------------- inactive cells

#: IGBP types whose vegetation class (ivt2) is 0 in the shipped parameter tables: wetland, urban,
#: snow/ice, water. Used where no parameter table is at hand (analysis of annual.nc).
INACTIVE_IGBP = (11, 13, 15, 17)


def inactive(pft: np.ndarray, veg_class: np.ndarray | None = None) -> np.ndarray:
    """True for cells that never evolve: their IGBP type has vegetation class 0 (ice, water, urban, wetland).

    ``pft``: IGBP type 1..18 per cell; ``veg_class``: the parameter table's ``ivt2`` per IGBP type (18
    values). Without a table, the shipped tables' classes (INACTIVE_IGBP) are used.
    """
    pft = np.asarray(pft).astype(int)
    if veg_class is None:
        return np.isin(pft, INACTIVE_IGBP)
    return np.asarray(veg_class)[pft - 1] == 0


# ---------------------------------------------------------------------------------- CSV tables


@dataclass(frozen=True)
class Column:
    """One column of a CSV table: its name in our code, its header text and its valid range."""

    name: str
    header: str
    valid: Range = FINITE
    units: str = ""


#: gridinfo_igbpz.csv (the original's 19 columns; casa.md 2.2). Further columns are ignored.
GRIDINFO_COLUMNS: tuple[Column, ...] = (
    Column("ijcam", "ijcam", POSITIVE),
    Column("lat", "lat", Range(-90.0, 90.0), "degrees_north"),
    Column("lon", "lon", Range(-180.0, 360.0), "degrees_east"),
    Column("ivt_igbp", "ivt_igbp", Range(0.0, 18.0), "(IGBP type; 0 is read as 15)"),
    Column("ist", "ist"),
    Column("iso", "iso"),
    Column("landarea", "landarea", NON_NEGATIVE, "m2"),
    Column("ndep", "Ndep", units="gN m-2 yr-1 (not used: met ndep is)"),
    Column("nfix", "Nfix"),
    Column("pwea", "Pwea"),
    Column("pdust", "Pdust"),
    Column("doyp1", "doyP1"),
    Column("doyp2", "doyP2"),
    Column("doyp3", "doyP3"),
    Column("doyp4", "doyP4"),
    Column("phase", "Phase(1)"),
    Column("ivcasa", "ivcasa"),
    Column("ilat", "ilat", Range(1.0)),
    Column("ilon", "ilon", Range(1.0)),
)
#: gridinfo_soil.csv (9 columns; casa.md 2.3): texture fractions and water contents (m3 m-3).
SOIL_COLUMNS: tuple[Column, ...] = (
    Column("ijcam", "ijcam", POSITIVE),
    Column("lat", "lat", Range(-90.0, 90.0), "degrees_north"),
    Column("lon", "lon", Range(-180.0, 360.0), "degrees_east"),
    Column("sand", "sand", FRACTION),
    Column("clay", "clay", FRACTION),
    Column("silt", "silt", FRACTION),
    Column("wwilt", "wwilt", Range(0.0, 1.0, lo_open=True), "m3 m-3"),
    Column("wfield", "wfield", Range(0.0, 1.0, lo_open=True), "m3 m-3"),
    Column("wsat", "wsat", Range(0.0, 1.0, lo_open=True), "m3 m-3"),
)
GRIDINFO_HEADER = ",".join(c.header for c in GRIDINFO_COLUMNS)
SOIL_HEADER = ",".join(c.header for c in SOIL_COLUMNS)
#: sand + silt + clay must be 1 within this tolerance
TEXTURE_SUM_TOLERANCE = 0.02
#: gridinfo IGBP type 0 is read as this type (the original's rule)
IGBP_ZERO_AS = 15


def model_pft(ivt_igbp: np.ndarray) -> np.ndarray:
    """IGBP type used by the model: gridinfo ``ivt_igbp``, with 0 read as 15 (snow/ice)."""
    pft = np.asarray(ivt_igbp).astype(int)
    return np.where(pft == 0, IGBP_ZERO_AS, pft)


def read_table(path: str | Path, columns: tuple[Column, ...], what: str) -> dict[str, np.ndarray]:
    """Read a gridinfo or soil CSV: a header line, then one row per cell (float64 columns by name).

    Strict: a row with fewer fields, an empty field or a non-numeric one is an error naming the line and
    column. A trailing comma (the original writes one) and further columns are allowed; tabs count as commas.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} file not found", path=path)
    fast = _read_table_fast(path, len(columns))
    if fast is not None:
        return {c.name: fast[:, k] for k, c in enumerate(columns)}
    rows = []
    with path.open(errors="replace") as f:
        next(f, None)  # header
        for lineno, line in enumerate(f, start=2):
            if not line.strip():
                continue
            fields = [t.strip() for t in line.replace("\t", ",").rstrip("\r\n").split(",")]
            while fields and fields[-1] == "":
                fields.pop()
            if len(fields) < len(columns):
                raise InputError(
                    f"line {lineno} has {len(fields)} fields; a {what} row needs {len(columns)} "
                    f"({', '.join(c.header for c in columns)})",
                    path=path,
                    hint="Every row must have a value in every column",
                )
            row = []
            for k, col in enumerate(columns):
                try:
                    row.append(float(fields[k]))
                except ValueError:
                    text = "is empty" if fields[k] == "" else f"is {fields[k]!r}, not a number"
                    raise InputError(
                        f"line {lineno}, column {k + 1} ({col.header}) {text}",
                        path=path,
                        hint="Every row must have a number in every column",
                    ) from None
            rows.append(row)
    if not rows:
        raise InputError(f"no data rows in the {what} file", path=path)
    data = np.array(rows, dtype=np.float64)
    return {c.name: data[:, k] for k, c in enumerate(columns)}


def _read_table_fast(path: Path, ncol: int) -> np.ndarray | None:
    """The first ``ncol`` columns of a well-formed table (NumPy's C reader: the same correctly rounded
    values as ``float``, ten times faster), or None where anything is unusual: the strict reader then
    reads it and names the line and column of a problem."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # e.g. an empty file
            data = np.loadtxt(
                path, dtype=np.float64, delimiter=",", comments=None, skiprows=1, usecols=range(ncol), ndmin=2
            )
    except (ValueError, UnicodeDecodeError, UserWarning):
        return None
    return data if data.shape[0] else None


def read_gridinfo(path: str | Path) -> dict[str, np.ndarray]:
    """The one gridinfo reader: columns of GRIDINFO_COLUMNS by name (float64), one row per cell."""
    return read_table(path, GRIDINFO_COLUMNS, "gridinfo")


def read_soil(path: str | Path) -> dict[str, np.ndarray]:
    """The one soil-table reader: columns of SOIL_COLUMNS by name (float64), one row per cell."""
    return read_table(path, SOIL_COLUMNS, "soil")
