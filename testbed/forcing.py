"""Met NetCDF reader and validator (layout in ../shared/reference/MET_FORMAT.md).

The original reads float32 data with no type conversion; we require the same
on-disk types so that a file gives identical forcing in both programs, and widen
to float64 exactly. Everything is validated before any compute: dimensions,
dtypes, units, NaN and fill values on active cells, and the link to gridinfo.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import netCDF4
import numpy as np

from .errors import InputError

DAYS_PER_YEAR = 365
NSOIL_LAYERS = 6

#: 2-D (time) and 3-D (time, layer) forcing variables, with accepted units
SURFACE_VARS = {"xcgpp": ("gC/m2/day", "gC m-2 d-1", "gC m-2 day-1", "g C m-2 d-1", "gC/m2/d"),
                "xtairk": ("K", "k", "kelvin"),
                "ndep": ("gN/m2/day", "gN m-2 d-1", "gN m-2 day-1", "g N m-2 d-1", "gN/m2/d")}
LAYER_VARS = {"xtsoil": ("K", "k", "kelvin"),
              "xmoist": ("m3/m3", "m3 m-3", "1", "fraction"),
              "xfrznmoist": ("m3/m3", "m3 m-3", "1", "fraction")}
OPTIONAL_VARS = ("xfrznmoist",)


@dataclass
class Forcing:
    """One year (or part) of daily forcing for a set of cells, as stored (float32), Fortran order.

    The kernel widens every value exactly to float64 before use.
    """

    gpp: np.ndarray    #: (ncell, nday) gC m-2 d-1
    tair: np.ndarray   #: (ncell, nday) K
    ndep: np.ndarray   #: (ncell, nday) gN m-2 d-1
    tsoil: np.ndarray  #: (ncell, 6, nday) K
    moist: np.ndarray  #: (ncell, 6, nday) m3 m-3 liquid water
    frzn: np.ndarray   #: (ncell, 6, nday) m3 m-3 frozen water

    @property
    def ncell(self) -> int:
        return self.gpp.shape[0]

    @property
    def nday(self) -> int:
        return self.gpp.shape[1]


@dataclass
class MetFile:
    """A validated met file: its grid and the positions of the active cells."""

    path: Path
    nyear: int
    lat: np.ndarray           #: (nlat,) float32 grid latitudes
    lon: np.ndarray           #: (nlon,) float32 grid longitudes
    cellid: np.ndarray        #: (nlat, nlon) int32
    active_j: np.ndarray      #: latitude index (0-based) of each model cell, met point order
    active_i: np.ndarray      #: longitude index (0-based) of each model cell
    has_frozen: bool

    @property
    def ncell(self) -> int:
        return int(self.active_j.size)

    @classmethod
    def open(cls, path: str | Path) -> MetFile:
        """Check a met file's structure and find its active cells (no data read)."""
        path = Path(path)
        if not path.is_file():
            raise InputError("met file not found", path=path,
                             hint="Check the met file pattern and the {year} substitution")
        try:
            ds = netCDF4.Dataset(path)
        except OSError as exc:
            raise InputError(f"cannot be opened as NetCDF ({exc})", path=path) from None
        with ds:
            for dim in ("lon", "lat", "time", "myear", "nsoilyrs"):
                if dim not in ds.dimensions:
                    raise InputError(f"dimension {dim!r} is missing (see MET_FORMAT.md)", path=path)
            nyear = len(ds.dimensions["myear"])
            ntime = len(ds.dimensions["time"])
            if ntime != DAYS_PER_YEAR * nyear:
                raise InputError(f"time has {ntime} days but myear = {nyear} needs {DAYS_PER_YEAR * nyear}: "
                                 "every year must have 365 days (remove leap days)", path=path, variable="time")
            nlay = len(ds.dimensions["nsoilyrs"])
            if nlay != NSOIL_LAYERS:
                raise InputError(f"nsoilyrs is {nlay}; the model needs {NSOIL_LAYERS} soil layers", path=path)
            for name in ("cellMissing", "cellid"):
                if name not in ds.variables:
                    raise InputError("is missing", path=path, variable=name)
                v = ds.variables[name]
                if v.dtype != np.int32 or v.dimensions != ("lat", "lon"):
                    raise InputError(f"must be int32 (lat, lon), found {v.dtype} {v.dimensions}", path=path,
                                     variable=name)
            for name, units in {**SURFACE_VARS, **LAYER_VARS}.items():
                if name not in ds.variables:
                    if name in OPTIONAL_VARS:
                        continue
                    raise InputError("is missing", path=path, variable=name,
                                     hint="The model needs xcgpp, xtairk, ndep, xtsoil and xmoist")
                v = ds.variables[name]
                want = ("time", "lat", "lon") if name in SURFACE_VARS else ("time", "nsoilyrs", "lat", "lon")
                if v.dimensions != want:
                    raise InputError(f"has dimensions {v.dimensions}, expected {want}", path=path, variable=name)
                if v.dtype != np.float32:
                    raise InputError(f"has dtype {v.dtype}; it must be float32 (the original reads raw bytes)",
                                     path=path, variable=name)
                if "units" in v.ncattrs():
                    u = str(v.getncattr("units")).strip()
                    if u not in units:
                        raise InputError(f"has units {u!r}, expected {units[0]!r}", path=path, variable=name)
            ds.set_auto_mask(False)
            missing = np.asarray(ds.variables["cellMissing"][:])
            cellid = np.asarray(ds.variables["cellid"][:])
            lat = np.asarray(ds.variables["lat"][:]) if "lat" in ds.variables else np.zeros(len(ds.dimensions["lat"]))
            lon = np.asarray(ds.variables["lon"][:]) if "lon" in ds.variables else np.zeros(len(ds.dimensions["lon"]))
            has_frozen = "xfrznmoist" in ds.variables
        # point order: longitude outer, latitude inner (MET_FORMAT.md)
        jj, ii = np.nonzero(missing.T == 0)  # rows of the transpose are longitudes
        return cls(path, nyear, lat, lon, cellid, active_j=ii, active_i=jj, has_frozen=has_frozen)

    def check_domain(self, cellid: np.ndarray, ilat: np.ndarray, ilon: np.ndarray, source: str = "") -> None:
        """The gridinfo must list exactly the met file's active cells, in its order."""
        if len(cellid) != self.ncell:
            raise InputError(f"the met file has {self.ncell} active cells (cellMissing == 0) but the gridinfo "
                             f"{source} has {len(cellid)} rows; they must match one to one", path=self.path)
        expect = self.cellid[self.active_j, self.active_i]
        bad = np.flatnonzero(expect != cellid)
        if bad.size:
            c = int(bad[0])
            raise InputError(f"gridinfo row {c + 1} has ijcam {cellid[c]} but the met file's cell {c + 1} in point "
                             f"order has cellid {expect[c]}", path=self.path, variable="cellid", cell=c + 1,
                             hint="Sort the gridinfo rows by ilon, then ilat")
        badpos = np.flatnonzero((ilat - 1 != self.active_j) | (ilon - 1 != self.active_i))
        if badpos.size:
            c = int(badpos[0])
            raise InputError(f"gridinfo row {c + 1} says (ilat, ilon) = ({ilat[c]}, {ilon[c]}) but the cell is at "
                             f"({self.active_j[c] + 1}, {self.active_i[c] + 1}) in the met grid", path=self.path,
                             cell=c + 1)

    def _read_raw(self, year_index: int, cells: slice) -> dict[str, np.ndarray]:
        """The file's float32 values of one year for ``cells``: (365, ncell) and (365, 6, ncell) arrays."""
        if not 0 <= year_index < self.nyear:
            raise InputError(f"year index {year_index} is outside the file's {self.nyear} years", path=self.path)
        jsel = self.active_j[cells]
        isel = self.active_i[cells]
        if jsel.size == 0:
            raise InputError("no cells selected", path=self.path)
        i0, i1 = int(isel.min()), int(isel.max()) + 1
        j0, j1 = int(jsel.min()), int(jsel.max()) + 1
        t0, t1 = year_index * DAYS_PER_YEAR, (year_index + 1) * DAYS_PER_YEAR
        # cells that fill one latitude run of a single longitude (compact grids, most chunks)
        # are a plain slice: no gather, and the arrays stay contiguous
        one_run = i1 - i0 == 1 and j1 - j0 == jsel.size and bool(np.all(np.diff(jsel) == 1))
        out = {}
        with netCDF4.Dataset(self.path) as ds:
            ds.set_auto_mask(False)
            for name in ("xcgpp", "xtairk", "ndep"):
                raw = ds.variables[name][t0:t1, j0:j1, i0:i1]       # (365, lat box, lon box)
                out[name] = raw[:, :, 0] if one_run else raw[:, jsel - j0, isel - i0]  # (365, ncell)
            for name in ("xtsoil", "xmoist", "xfrznmoist"):
                if name == "xfrznmoist" and not self.has_frozen:
                    out[name] = np.zeros((DAYS_PER_YEAR, NSOIL_LAYERS, jsel.size), dtype=np.float32)
                    continue
                raw = ds.variables[name][t0:t1, :, j0:j1, i0:i1]    # (365, 6, lat box, lon box)
                out[name] = raw[:, :, :, 0] if one_run else raw[:, :, jsel - j0, isel - i0]  # (365, 6, ncell)
        return out

    def _check_raw(self, out: dict[str, np.ndarray], year_index: int, first_cell: int) -> None:
        for name, arr in out.items():
            bad = ~(np.abs(arr) < 1e30)  # NaN, inf and fill values
            if bad.any():
                idx = np.argwhere(bad)[0]
                day, cell = int(idx[0]), int(idx[-1])
                raise InputError(f"NaN or fill value on day {day + 1} of year {year_index + 1}", path=self.path,
                                 variable=name, cell=first_cell + cell + 1,
                                 hint="Active cells (cellMissing == 0) need valid data every day")
        if (out["xcgpp"] < 0).any():
            idx = np.argwhere(out["xcgpp"] < 0)[0]
            raise InputError(f"negative GPP on day {idx[0] + 1} of year {year_index + 1}", path=self.path,
                             variable="xcgpp", cell=first_cell + int(idx[1]) + 1)

    def check_year(self, year_index: int, cells: slice = slice(None)) -> None:
        """Raise InputError at the first NaN, fill value or negative GPP of a year (no conversion)."""
        self._check_raw(self._read_raw(year_index, cells), year_index, cells.indices(self.ncell)[0])

    def read_year(self, year_index: int, cells: slice = slice(None), check: bool = True) -> Forcing:
        """Daily forcing of year ``year_index`` (0-based within the file) for model cells ``cells``.

        Reads only the box of the grid that holds the requested cells; values stay float32.
        """
        out = self._read_raw(year_index, cells)
        if check:
            self._check_raw(out, year_index, cells.indices(self.ncell)[0])

        def two_d(a: np.ndarray) -> np.ndarray:
            return np.asfortranarray(a.T)

        def three_d(a: np.ndarray) -> np.ndarray:
            return np.asfortranarray(a.transpose(2, 1, 0))

        return Forcing(gpp=two_d(out["xcgpp"]), tair=two_d(out["xtairk"]), ndep=two_d(out["ndep"]),
                       tsoil=three_d(out["xtsoil"]), moist=three_d(out["xmoist"]), frzn=three_d(out["xfrznmoist"]))


def check_values(met: MetFile, cells: slice = slice(None), block: int = 2000) -> None:
    """Scan every year of ``met`` for NaN, fill values and negative GPP.

    Reads ``block`` cells by one year at a time, so memory does not grow with the grid.
    """
    start, stop, _ = cells.indices(met.ncell)
    for first in range(start, stop, block):
        sub = slice(first, min(first + block, stop))
        for year_index in range(met.nyear):
            met.check_year(year_index, sub)


def met_path_for_year(pattern: str, year: int) -> Path:
    """Per-year met file name: ``{year}`` in ``pattern`` becomes the 4-digit year."""
    return Path(pattern.format(year=f"{year:04d}"))
