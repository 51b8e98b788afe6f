"""Met NetCDF reader (format in :mod:`testbed.metformat`; checks in :mod:`testbed.inputcheck`).

The original reads float32 data with no type conversion; we require the same
on-disk types so that a file gives identical forcing in both programs, and widen
to float64 exactly. Everything is validated before any compute: completeness of
classic files, dimensions, dtypes, units, NaN, fill values and physical ranges on
active cells, and the link to gridinfo (ids, order and coordinates).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import netCDF4
import numpy as np

from . import inputcheck as ic
from . import ncclassic
from .errors import InputError
from .metformat import DAYS_PER_YEAR, MET_VARIABLES, NSOIL_LAYERS, met_cell_order
from .nclock import netcdf_lock

if TYPE_CHECKING:
    from .sharedread import Member

#: cells read at a time by the value scans
SCAN_BLOCK = 2000


@contextmanager
def _releasing(lock) -> Iterator[None]:
    """Release an acquired ``lock`` at the end of the block."""
    try:
        yield
    finally:
        lock.release()


class YearBuffers:
    """Arrays that one reader of successive years (a chunk task) reuses for every year it reads.

    A fresh array per variable and year costs a page fault per page that zeroes it (a 2 MB huge page at a time
    under NumPy's ``MADV_HUGEPAGE``): 13 % of a 2-worker MIMICS-CN run's CPU samples were that zeroing, 1.6 % with
    the buffers (docs/performance.md, "Met buffers reused").
    """

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """The buffer of ``name`` (uninitialised when new or when the shape or dtype changed)."""
        a = self._arrays.get(name)
        if a is None or a.shape != shape or a.dtype != dtype:
            a = self._arrays[name] = np.empty(shape, dtype)
        return a


@dataclass
class Forcing:
    """One year (or part) of daily forcing for a set of cells, as stored (float32), Fortran order.

    The kernel widens every value exactly to float64 before use.
    """

    gpp: np.ndarray  #: (ncell, nday) gC m-2 d-1
    tair: np.ndarray  #: (ncell, nday) K
    ndep: np.ndarray  #: (ncell, nday) gN m-2 d-1
    tsoil: np.ndarray  #: (ncell, 6, nday) K
    moist: np.ndarray  #: (ncell, 6, nday) m3 m-3 liquid water
    frzn: np.ndarray  #: (ncell, 6, nday) m3 m-3 frozen water

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
    lat: np.ndarray  #: (nlat,) grid latitudes, degrees north
    lon: np.ndarray  #: (nlon,) grid longitudes, degrees east
    cellid: np.ndarray  #: (nlat, nlon) int32
    active_j: np.ndarray  #: latitude index (0-based) of each model cell, met point order
    active_i: np.ndarray  #: longitude index (0-based) of each model cell
    has_frozen: bool
    fills: dict[str, tuple[float, ...]] = field(default_factory=dict)  #: declared _FillValue / missing_value
    #: where the met variables are stored when the file is classic NetCDF (read directly, :mod:`.ncclassic`)
    classic: dict[str, ncclassic.ClassicVar] | None = None

    @property
    def ncell(self) -> int:
        return int(self.active_j.size)

    @classmethod
    def open(cls, path: str | Path) -> MetFile:
        """Check a met file's completeness and structure and find its active cells (no data read).

        A missing xfrznmoist is accepted here; :meth:`check_domain` refuses it unless allowed.
        """
        ck = ic.Checker(path)
        met = cls.inspect(path, ck, allow_missing_frozen=True)
        ck.raise_errors()
        assert met is not None
        return met

    @classmethod
    def inspect(cls, path: str | Path, ck: ic.Checker, *, allow_missing_frozen: bool = False) -> MetFile | None:
        """Add the file's structural problems to ``ck``; the file, or None when it cannot be read."""
        path = Path(path)
        if not path.is_file():
            ck.add(None, "met file not found. Check the met file pattern and the {year} substitution")
            return None
        ic.check_complete(ck, path)
        lock = netcdf_lock()
        lock.acquire()
        try:
            ds = netCDF4.Dataset(path)
        except OSError as exc:
            lock.release()
            ck.add(
                None,
                f"cannot be opened as NetCDF ({exc}); the file is damaged, incomplete or not NetCDF. Copy "
                "or write it again",
            )
            return None
        with _releasing(lock), ds:
            ic.check_structure(ck, ds, allow_missing_frozen=allow_missing_frozen)
            if ck.errors:
                return None
            ds.set_auto_mask(False)
            missing = np.asarray(ds.variables["cellMissing"][:])
            cellid = np.asarray(ds.variables["cellid"][:])
            lat = np.asarray(ds.variables["lat"][:], dtype=np.float64)
            lon = np.asarray(ds.variables["lon"][:], dtype=np.float64)
            fills = {
                name: tuple(
                    float(np.asarray(ds.variables[name].getncattr(a)).ravel()[0])
                    for a in ("_FillValue", "missing_value")
                    if a in ds.variables[name].ncattrs()
                )
                for name in MET_VARIABLES
                if name in ds.variables
            }
            nyear = len(ds.dimensions["myear"])
            has_frozen = "xfrznmoist" in ds.variables
        jj, ii = met_cell_order(missing)
        if jj.size == 0:
            ck.add(
                "cellMissing", "has no active cell (cellMissing == 0 nowhere); the model would have nothing to simulate"
            )
            return None
        classic = _classic_met(path, lat.size, lon.size)
        return cls(path, nyear, lat, lon, cellid, jj, ii, has_frozen, fills, classic)

    def check_domain(
        self,
        cellid,
        ilat: np.ndarray | None = None,
        ilon: np.ndarray | None = None,
        source: str = "",
        *,
        allow_missing_frozen: bool = False,
    ) -> None:
        """The gridinfo must list exactly the met file's active cells, in its order and at its coordinates.

        ``cellid`` is a :class:`~testbed.domain.Domain` (ids, indices and lat/lon are compared), or the
        gridinfo's ijcam array with ``ilat`` and ``ilon`` (no coordinates). A missing xfrznmoist is an error
        unless ``allow_missing_frozen`` (namelist run.allow_missing_frozen).
        """
        if hasattr(cellid, "gridinfo_path"):
            d = cellid
            grid = {"ijcam": d.cellid, "ilat": d.ilat, "ilon": d.ilon, "lat": d.lat, "lon": d.lon}
            source = d.gridinfo_path
        else:
            grid = {"ijcam": np.asarray(cellid), "ilat": np.asarray(ilat), "ilon": np.asarray(ilon)}
            k = np.clip(grid["ilat"] - 1, 0, self.lat.size - 1), np.clip(grid["ilon"] - 1, 0, self.lon.size - 1)
            grid["lat"], grid["lon"] = self.lat[k[0]], self.lon[k[1]]
        ck = ic.Checker(self.path)
        if not self.has_frozen:
            ic.missing_frozen(ck, allow_missing_frozen)
        ic.check_met_grid(
            ck,
            grid,
            Path(source).name if source else "the gridinfo",
            self.cellid,
            self.lat,
            self.lon,
            self.active_j,
            self.active_i,
        )
        ck.raise_errors()

    def cells(self, cells: slice | np.ndarray) -> ic.Cells:
        """Point numbers, ids and coordinates of model cells ``cells`` (a slice or index array; for messages)."""
        pos = np.arange(self.ncell)[cells]
        j, i = self.active_j[pos], self.active_i[pos]
        return ic.Cells(pos + 1, self.cellid[j, i], self.lat[j], self.lon[i])

    def points(self, cells: slice | np.ndarray) -> np.ndarray:
        """Flattened (lat, lon) grid positions of model cells ``cells``."""
        return self.active_j[cells] * self.lon.size + self.active_i[cells]

    def _read_raw(
        self,
        year_index: int,
        cells: slice | np.ndarray,
        buffers: YearBuffers | None = None,
        share: Member | None = None,
    ) -> dict[str, np.ndarray]:
        """The file's float32 values of one year for ``cells``: (365, ncell) and (365, 6, ncell) arrays (in
        ``buffers`` where the file is classic NetCDF; read with the process's other chunk tasks of ``share``)."""
        if not 0 <= year_index < self.nyear:
            raise InputError(f"year index {year_index} is outside the file's {self.nyear} years", path=self.path)
        jsel = self.active_j[cells]
        isel = self.active_i[cells]
        if jsel.size == 0:
            raise InputError("no cells selected", path=self.path)
        if self.classic is not None:
            if share is not None:
                return share.read(self, year_index)
            return self.read_classic(year_index, self.points(cells), buffers)
        i0, i1 = int(isel.min()), int(isel.max()) + 1
        j0, j1 = int(jsel.min()), int(jsel.max()) + 1
        t0, t1 = year_index * DAYS_PER_YEAR, (year_index + 1) * DAYS_PER_YEAR
        # cells that fill one latitude run of a single longitude (compact grids, most chunks)
        # are a plain slice: no gather, and the arrays stay contiguous
        one_run = i1 - i0 == 1 and j1 - j0 == jsel.size and bool(np.all(np.diff(jsel) == 1))
        flat = (jsel - j0) * (i1 - i0) + (isel - i0)  # the cells' positions in the flattened (lat, lon) box

        def cells_of(raw: np.ndarray) -> np.ndarray:
            """(..., lat box, lon box) -> C-contiguous (..., ncell), one gather (``take``) per variable."""
            if one_run:
                return np.ascontiguousarray(raw[..., 0])
            lead = raw.shape[:-2]
            return raw.reshape(-1, raw.shape[-2] * raw.shape[-1]).take(flat, axis=1).reshape(*lead, flat.size)

        out = {}
        name = ""
        lock = netcdf_lock()  # held for each library call only: other threads read or write in between
        try:
            with lock:
                ds = netCDF4.Dataset(self.path)
            try:
                with lock:
                    ds.set_auto_mask(False)
                for name in ("xcgpp", "xtairk", "ndep"):
                    with lock:
                        raw = ds.variables[name][t0:t1, j0:j1, i0:i1]  # (365, lat box, lon box)
                    out[name] = cells_of(raw)  # (365, ncell)
                for name in ("xtsoil", "xmoist", "xfrznmoist"):
                    if name == "xfrznmoist" and not self.has_frozen:
                        out[name] = np.zeros((DAYS_PER_YEAR, NSOIL_LAYERS, jsel.size), dtype=np.float32)
                        continue
                    with lock:
                        raw = ds.variables[name][t0:t1, :, j0:j1, i0:i1]  # (365, 6, lat box, lon box)
                    out[name] = cells_of(raw)  # (365, 6, ncell)
            finally:
                with lock:
                    ds.close()
        except (OSError, RuntimeError) as exc:
            raise InputError(
                f"year {year_index + 1} of the file cannot be read ({exc}); the file is damaged or "
                "incomplete. Copy or write it again",
                path=self.path,
                variable=name or None,
            ) from None
        return out

    def read_classic(self, year_index: int, points: np.ndarray, buffers: YearBuffers | None) -> dict[str, np.ndarray]:
        """:meth:`_read_raw` of a classic file: each cell's values gathered from the file, not the grid box."""
        year = ClassicYear(self, year_index, [(points, buffers)])
        for unit in year.units:
            year.run(unit)
        return year.values(0)

    def _check_raw(
        self, out: dict[str, np.ndarray], year_index: int, cells: slice, ck: ic.Checker, seen: dict | None = None
    ) -> None:
        where = self.cells(cells)
        for name, arr in out.items():
            if name == "xfrznmoist" and not self.has_frozen:
                continue
            ic.check_values(
                ck, name, arr, year_index * DAYS_PER_YEAR, where, self.nyear, self.fills.get(name, ()), seen
            )

    def check_year(self, year_index: int, cells: slice = slice(None)) -> None:
        """Raise InputError at NaN, infinite, fill or out-of-range values of a year (metformat ranges)."""
        ck = ic.Checker(self.path)
        self._check_raw(self._read_raw(year_index, cells), year_index, cells, ck)
        ck.raise_errors()

    def scan(self, ck: ic.Checker, cells: slice = slice(None), block: int = SCAN_BLOCK) -> None:
        """Add the value problems of every year and of cells ``cells`` to ``ck`` (``block`` cells at a time)."""
        start, stop, _ = cells.indices(self.ncell)
        seen: dict = {}
        for first in range(start, stop, block):
            sub = slice(first, min(first + block, stop))
            for year_index in range(self.nyear):
                self._check_raw(self._read_raw(year_index, sub), year_index, sub, ck, seen)
        ic.summarize_values(ck, seen)

    def read_year(
        self,
        year_index: int,
        cells: slice | np.ndarray = slice(None),
        check: bool = True,
        buffers: YearBuffers | None = None,
        share: Member | None = None,
    ) -> Forcing:
        """Daily forcing of year ``year_index`` (0-based within the file) for model cells ``cells``.

        Reads only the box of the grid that holds the requested cells; values stay float32. With ``buffers``
        the forcing may be views of them: valid until the next read with the same buffers. With ``share`` (a
        classic file) the read is shared with the process's other chunk tasks (:mod:`testbed.sharedread`; the
        member's buffers are used and ``cells`` must be the member's).
        """
        out = self._read_raw(year_index, cells, buffers, share)
        if check:
            ck = ic.Checker(self.path)
            self._check_raw(out, year_index, cells, ck)
            ck.raise_errors()

        def two_d(a: np.ndarray) -> np.ndarray:
            return np.asfortranarray(a.T)

        def three_d(a: np.ndarray) -> np.ndarray:
            return np.asfortranarray(a.transpose(2, 1, 0))

        return Forcing(
            gpp=two_d(out["xcgpp"]),
            tair=two_d(out["xtairk"]),
            ndep=two_d(out["ndep"]),
            tsoil=three_d(out["xtsoil"]),
            moist=three_d(out["xmoist"]),
            frzn=three_d(out["xfrznmoist"]),
        )


class ClassicYear:
    """One year of a classic file's met variables for one or more sets of cells (``(points, buffers)`` targets),
    cut into units of planes that are read one at a time, each once for every target (:func:`ncclassic.gather_rows`):
    all of them by :meth:`MetFile.read_classic`, or shared between threads (:mod:`testbed.sharedread`).

    ``unit_planes``: (lat, lon) planes per unit (default: a whole variable).
    """

    def __init__(
        self,
        met: MetFile,
        year_index: int,
        targets: list[tuple[np.ndarray, YearBuffers | None]],
        unit_planes: int | None = None,
    ) -> None:
        assert met.classic is not None
        self.met, self.year_index = met, year_index
        self.points = [p for p, _ in targets]
        self.outs: dict[str, list[np.ndarray]] = {}
        self.units: list[tuple[str, int, int]] = []
        for name, var in met.classic.items():
            shape, dtype = (DAYS_PER_YEAR, *var.shape[1:-2]), np.dtype(var.dtype)
            into = [(p, b.get(name, (*shape, p.size), dtype) if b is not None else None) for p, b in targets]
            try:
                self.outs[name] = ncclassic.prepare(met.path, var, DAYS_PER_YEAR, into)
            except ValueError as exc:
                raise self._error(name, exc) from None
            nrow = ncclassic.rows_of(var, DAYS_PER_YEAR)
            step = unit_planes or nrow
            self.units += [(name, r, min(r + step, nrow)) for r in range(0, nrow, step)]

    def _error(self, name: str, exc: Exception) -> InputError:
        return InputError(
            f"year {self.year_index + 1} of the file cannot be read ({exc}); the file is damaged or "
            "incomplete. Copy or write it again",
            path=self.met.path,
            variable=name,
        )

    def run(self, unit: tuple[str, int, int]) -> None:
        """Read and gather one unit, for every target."""
        name, r0, r1 = unit
        var = self.met.classic[name]  # type: ignore[index]
        try:
            t0 = self.year_index * DAYS_PER_YEAR
            ncclassic.gather_rows(self.met.path, var, t0, DAYS_PER_YEAR, self.points, self.outs[name], r0, r1)
        except (OSError, ValueError) as exc:
            raise self._error(name, exc) from None

    def values(self, k: int) -> dict[str, np.ndarray]:
        """Target ``k``'s values once every unit has run: (365, ncell) and (365, 6, ncell) float32 arrays."""
        out = {name: ncclassic.native(arrays[k]) for name, arrays in self.outs.items()}
        if not self.met.has_frozen:
            out["xfrznmoist"] = np.zeros((DAYS_PER_YEAR, NSOIL_LAYERS, self.points[k].size), dtype=np.float32)
        return out


def _classic_met(path: Path, nlat: int, nlon: int) -> dict[str, ncclassic.ClassicVar] | None:
    """The met variables' storage when the file is classic NetCDF with plain float32 (time, [layer,] lat,
    lon) variables (no records, no scale_factor / add_offset); else None (read through the library)."""
    found = ncclassic.layout(path)
    if found is None:
        return None
    met = {name: found[name] for name in MET_VARIABLES if name in found}
    for var in met.values():
        if (
            var.record
            or var.dtype != ">f4"
            or var.shape[-2:] != (nlat, nlon)
            or var.attrs & {"scale_factor", "add_offset"}
        ):
            return None
    return met


def check_values(met: MetFile, cells: slice = slice(None), block: int = SCAN_BLOCK) -> None:
    """Scan every year of ``met`` for NaN, infinite and fill values and values outside the physical ranges.

    Reads ``block`` cells by one year at a time, so memory does not grow with the grid; raises the
    first problem of the first block that has one as an InputError (cell id, lat, lon, day and fix).
    """
    start, stop, _ = cells.indices(met.ncell)
    for first in range(start, stop, block):
        ck = ic.Checker(met.path)
        met.scan(ck, slice(first, min(first + block, stop)), block)
        ck.raise_errors()


def met_path_for_year(pattern: str, year: int) -> Path:
    """Per-year met file name: ``{year}`` in ``pattern`` becomes the 4-digit year."""
    return Path(pattern.format(year=f"{year:04d}"))
