"""Validate met files (and their gridinfo/soil tables) against the layout the model reads.

Python API: :func:`validate_met` returns a list of :class:`Problem`. CLI: ``main(argv)``
(mounted as ``testbed forcing validate FILE...``), exit status 1 if any error is found.
Rules come from MET_FORMAT.md and spec casa.md 2.2, 2.3 and 2.6.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import netCDF4
import numpy as np

from .metfile import (
    DAYS_PER_YEAR,
    FILL_THRESHOLD,
    NSOIL,
    GridRow,
    SoilRow,
    read_gridinfo,
    read_soil,
)

#: Expected dimensions of each variable (ncdump order) and whether it is required.
EXPECTED_DIMS: dict[str, tuple[tuple[str, ...], bool]] = {
    "lon": (("lon",), True),
    "lat": (("lat",), True),
    "cellMissing": (("lat", "lon"), True),
    "cellid": (("lat", "lon"), True),
    "xcgpp": (("time", "lat", "lon"), True),
    "xtairk": (("time", "lat", "lon"), True),
    "ndep": (("time", "lat", "lon"), True),
    "xtsoil": (("time", "nsoilyrs", "lat", "lon"), True),
    "xmoist": (("time", "nsoilyrs", "lat", "lon"), True),
    "xfrznmoist": (("time", "nsoilyrs", "lat", "lon"), False),
}
DATA_VARS = ("xcgpp", "xtairk", "ndep", "xtsoil", "xmoist", "xfrznmoist")

#: Accepted spellings of units (after removing blanks, '^' and '**', lower case).
#: Units strings the testbed's met reader accepts (exact, after stripping blanks at the ends).
_ACCEPTED_UNITS: dict[str, tuple[str, ...]] = {
    "xcgpp": ("gC/m2/day", "gC m-2 d-1", "gC m-2 day-1", "g C m-2 d-1", "gC/m2/d"),
    "xtairk": ("K", "k", "kelvin"),
    "ndep": ("gN/m2/day", "gN m-2 d-1", "gN m-2 day-1", "g N m-2 d-1", "gN/m2/d"),
    "xtsoil": ("K", "k", "kelvin"),
    "xmoist": ("m3/m3", "m3 m-3", "1", "fraction"),
    "xfrznmoist": ("m3/m3", "m3 m-3", "1", "fraction"),
}
try:  # one source of truth when the testbed package is importable
    from testbed.forcing import LAYER_VARS as _TB_LAYER
    from testbed.forcing import SURFACE_VARS as _TB_SURFACE

    _ACCEPTED_UNITS = {**_ACCEPTED_UNITS, **_TB_SURFACE, **_TB_LAYER}
except ImportError:  # pragma: no cover - forcing_tools used on its own
    pass

#: Accepted units per variable and the spelling used in messages.
_NICE_UNITS = {
    "xcgpp": "gC m-2 day-1",
    "xtairk": "K",
    "ndep": "gN m-2 day-1",
    "xtsoil": "K",
    "xmoist": "m3 m-3",
    "xfrznmoist": "m3 m-3",
}
UNITS_OK: dict[str, tuple[set[str], str]] = {
    name: (set(_ACCEPTED_UNITS[name]), nice) for name, nice in _NICE_UNITS.items()
}
UNIT_HINTS = {
    "xcgpp": "if it is per second, multiply by 86400",
    "ndep": "if it is per second, multiply by 86400; per year, divide by 365",
    "xtairk": "if it is in degrees C, add 273.15",
    "xtsoil": "if it is in degrees C, add 273.15",
    "xmoist": "convert kg m-2 of water to m3 m-3 with 0.001/thickness",
    "xfrznmoist": "convert kg m-2 of water to m3 m-3 with 0.001/thickness",
}
#: Allowed ranges on active cells (inclusive) and the quantity's name in messages.
RANGES: dict[str, tuple[float, float, str]] = {
    "xcgpp": (0.0, 100.0, "GPP"),
    "xtairk": (150.0, 350.0, "air temperature"),
    "ndep": (0.0, 1.0, "N deposition"),
    "xtsoil": (150.0, 350.0, "soil temperature"),
    "xmoist": (0.0, 1.0, "liquid soil water"),
    "xfrznmoist": (0.0, 1.0, "frozen soil water"),
}


@dataclass
class Problem:
    """One finding. ``severity`` is ``error`` (the model would fail or be wrong) or
    ``warning`` (suspicious but accepted). Cell (npt 1-based, lat, lon) and day (1-based
    within the file) are filled in when the problem is local."""

    file: str
    variable: str | None
    message: str
    severity: str = "error"
    npt: int | None = None
    lat: float | None = None
    lon: float | None = None
    day: int | None = None

    def __str__(self) -> str:
        return f"{self.severity}: {self.message}"


class _Checker:
    def __init__(self, path: Path, max_cells: int) -> None:
        self.path = path
        self.name = path.name
        self.max_cells = max_cells
        self.problems: list[Problem] = []

    def add(self, variable: str | None, message: str, severity: str = "error", **kw) -> None:
        self.problems.append(Problem(self.name, variable, f"{self.name}: {message}", severity, **kw))


def _day_text(day: int, myear: int) -> str:
    if myear > 1:
        y, d = divmod(day - 1, DAYS_PER_YEAR)
        return f"day {day} (year {y + 1} of the file, day {d + 1})"
    return f"day {day}"


def validate_met(
    path: str | Path,
    gridinfo: str | Path | None = None,
    soil: str | Path | None = None,
    *,
    max_cells: int = 10,
    block_days: int = 73,
) -> list[Problem]:
    """Check one met file (and optionally its gridinfo and soil CSVs); return the problems.

    Checks: dimensions (time == 365*myear, nsoilyrs == 6), variables and their dimension
    order, dtypes (float32 data, int32 ids), units attributes, per active cell NaN / fill /
    range (GPP >= 0, temperatures 150-350 K, water 0-1 m3 m-3, ndep >= 0), cellid
    numbering, and agreement of met, gridinfo and soil (row count, ids, ilat/ilon, order).
    ``max_cells``: per variable and check, at most this many cells are reported singly.
    """
    path = Path(path)
    ck = _Checker(path, max_cells)
    old_cache = netCDF4.get_chunk_cache()
    netCDF4.set_chunk_cache(1 << 20, old_cache[1], old_cache[2])  # data are read once
    try:
        ds = netCDF4.Dataset(path)
    except OSError as exc:
        ck.add(None, f"cannot be opened as NetCDF ({exc})")
        return ck.problems
    finally:
        netCDF4.set_chunk_cache(*old_cache)
    with ds:
        ds.set_auto_mask(False)
        ds.set_auto_scale(False)
        _check_structure(ck, ds)
        if any(
            p.severity == "error" and p.variable in (None, "cellMissing", "cellid", "lat", "lon") for p in ck.problems
        ):
            return ck.problems
        missing = np.asarray(ds["cellMissing"][:])
        cellid = np.asarray(ds["cellid"][:])
        lat = np.asarray(ds["lat"][:], dtype=np.float64)
        lon = np.asarray(ds["lon"][:], dtype=np.float64)
        nlat, nlon = missing.shape
        # active cells in model point order: longitude index outer, latitude index inner
        jj, ii = np.nonzero(missing == 0)
        order = np.lexsort((jj, ii))
        pj, pi = jj[order], ii[order]
        if pj.size == 0:
            ck.add(
                "cellMissing", "has no active cell (cellMissing == 0 nowhere); the model would have nothing to simulate"
            )
            return ck.problems
        expect = np.arange(nlon)[None, :] * nlat + np.arange(nlat)[:, None] + 1
        bad_id = cellid != expect
        if bad_id.any():
            j, i = (int(x[0]) for x in np.nonzero(bad_id))
            ck.add(
                "cellid",
                f"cellid at ilat {j + 1}, ilon {i + 1} is {int(cellid[j, i])}, "
                f"expected (ilon-1)*nlat+ilat = {int(expect[j, i])} ({int(bad_id.sum())} "
                "cell(s) differ); the model prints 'Data alignment problem'",
                "warning",
            )
        myear = len(ds.dimensions["myear"]) if "myear" in ds.dimensions else 1
        cell_lat = lat[pj] if lat.size == nlat else np.full(pj.size, np.nan)
        cell_lon = lon[pi] if lon.size == nlon else np.full(pi.size, np.nan)
        _check_values(ck, ds, pj, pi, cell_lat, cell_lon, myear, block_days)
        grows = srows = None
        if gridinfo is not None:
            try:
                grows = read_gridinfo(gridinfo)
            except (OSError, ValueError) as exc:
                ck.add(None, f"gridinfo {Path(gridinfo).name} cannot be read ({exc})")
        if soil is not None:
            try:
                srows = read_soil(soil)
            except (OSError, ValueError) as exc:
                ck.add(None, f"soil table {Path(soil).name} cannot be read ({exc})")
        if grows is not None:
            _check_gridinfo(ck, Path(gridinfo), grows, pj, pi, cellid, cell_lat)  # type: ignore[arg-type]
        if srows is not None:
            _check_soil(ck, Path(soil), srows, pj.size, grows)  # type: ignore[arg-type]
    return ck.problems


def _check_structure(ck: _Checker, ds: netCDF4.Dataset) -> None:
    dims = ds.dimensions
    for d in ("lon", "lat", "time", "myear", "nsoilyrs"):
        if d not in dims:
            ck.add(None, f"dimension {d} is missing; the model needs dimensions lon, lat, time, myear and nsoilyrs")
    if "nsoilyrs" in dims and len(dims["nsoilyrs"]) != NSOIL:
        ck.add(
            "nsoilyrs",
            f"dimension nsoilyrs is {len(dims['nsoilyrs'])}, the model needs "
            f"{NSOIL} soil layers (0.022, 0.058, 0.154, 0.409, 1.085, 2.872 m)",
        )
    if "time" in dims and "myear" in dims:
        nt, ny = len(dims["time"]), len(dims["myear"])
        if nt != DAYS_PER_YEAR * ny:
            ck.add(
                "time",
                f"time has {nt} days but myear is {ny}; the model stops unless "
                f"time == 365*myear = {DAYS_PER_YEAR * ny} (no leap days; drop Feb 29)",
            )
    for name, (edims, required) in EXPECTED_DIMS.items():
        if name not in ds.variables:
            if required:
                ck.add(name, f"variable {name} is missing; the model reads it")
            else:
                ck.add(
                    name,
                    f"variable {name} is missing; the model warns and uses 0 (frozen water has no effect in CASA)",
                    "warning",
                )
            continue
        v = ds.variables[name]
        if v.dimensions != edims:
            if len(v.dimensions) == len(edims) and "nsoilyrs" in edims and v.dimensions[1] != "nsoilyrs":
                ck.add(
                    name,
                    f"variable {name} has dimensions {v.dimensions}; the model needs "
                    f"{edims} (layer dimension named nsoilyrs, second)",
                )
            else:
                ck.add(name, f"variable {name} has dimensions {v.dimensions}; the model needs {edims} in this order")
        want = np.int32 if name in ("cellMissing", "cellid") else np.float32
        if v.dtype != want:
            kind = "int32 (NF_INT)" if want is np.int32 else "float32 (NF_FLOAT)"
            ck.add(
                name,
                f"variable {name} is {v.dtype}, the model needs {kind}: it copies the "
                "raw bytes without conversion, so other types are read as garbage",
            )
        if name in UNITS_OK and "units" in v.ncattrs():
            ok, nice = UNITS_OK[name]
            if str(v.getncattr("units")).strip() not in ok:
                ck.add(
                    name,
                    f"variable {name} has units '{v.getncattr('units')}', the model needs {nice} ({UNIT_HINTS[name]})",
                )
    for name in ("xtsoil", "xmoist", "xfrznmoist"):
        if "nsoilyrs" in dims and len(dims["nsoilyrs"]) != NSOIL and name in ds.variables:
            v = ds.variables[name]
            if "nsoilyrs" in v.dimensions:
                n = v.shape[v.dimensions.index("nsoilyrs")]
                ck.add(name, f"variable {name} has {n} layers, the model needs {NSOIL} (nsoilyrs)")
    for name in ("cellMissing", "cellid"):
        if name in ds.variables and ds.variables[name].ndim != 2:
            ck.add(name, f"variable {name} must be 2-D (lat, lon)")


def _report_cells(
    ck: _Checker,
    name: str,
    what: str,
    bad: np.ndarray,
    vals: np.ndarray,
    day0: int,
    pj_lat: np.ndarray,
    pj_lon: np.ndarray,
    myear: int,
    state: dict,
    fix: str,
    layers: bool,
) -> None:
    """bad/vals: (t, [6,] ncell). One problem per cell (first day), up to max_cells."""
    if not bad.any():
        return
    cells_bad = np.any(bad.reshape(bad.shape[0], -1, bad.shape[-1]), axis=(0, 1))
    key = (name, what)
    reported = state.setdefault(key, set())
    for c in np.flatnonzero(cells_bad):
        state.setdefault((name, what, "count"), set()).add(int(c))
        if int(c) in reported or len(reported) >= ck.max_cells:
            continue
        sub = bad[..., c].reshape(bad.shape[0], -1)
        t, lay = (int(x[0]) for x in np.nonzero(sub))
        v = vals[..., c].reshape(bad.shape[0], -1)[t, lay]
        day = day0 + t + 1
        ltxt = f" layer {lay + 1}" if layers else ""
        ck.add(
            name,
            f"{name}{ltxt} is {what} ({v:g}) at npt {c + 1} (lat {pj_lat[c]:.2f}, lon "
            f"{pj_lon[c]:.2f}) on {_day_text(day, myear)}; {fix}",
            npt=int(c) + 1,
            lat=float(pj_lat[c]),
            lon=float(pj_lon[c]),
            day=day,
        )
        reported.add(int(c))


def _check_values(
    ck: _Checker,
    ds: netCDF4.Dataset,
    pj: np.ndarray,
    pi: np.ndarray,
    cell_lat: np.ndarray,
    cell_lon: np.ndarray,
    myear: int,
    block_days: int,
) -> None:
    state: dict = {}
    for name in DATA_VARS:
        if name not in ds.variables:
            continue
        v = ds.variables[name]
        if v.dimensions != EXPECTED_DIMS[name][0] or v.ndim not in (3, 4):
            continue
        if v.ndim == 4 and v.shape[1] != NSOIL:
            continue
        lo, hi, label = RANGES[name]
        layers = v.ndim == 4
        fills = []
        for a in ("_FillValue", "missing_value"):
            if a in v.ncattrs():
                fills.append(float(np.asarray(v.getncattr(a)).ravel()[0]))
        nt = v.shape[0]
        for d0 in range(0, nt, block_days):
            blk = np.asarray(v[d0 : min(nt, d0 + block_days)])[..., pj, pi].astype(np.float64)
            nan = np.isnan(blk)
            fill = ~nan & (np.abs(blk) >= FILL_THRESHOLD)
            for f in fills:
                fill |= blk == f
            _report_cells(
                ck,
                name,
                "NaN",
                nan,
                blk,
                d0,
                cell_lat,
                cell_lon,
                myear,
                state,
                "active cells (cellMissing = 0) need a value every day",
                layers,
            )
            _report_cells(
                ck,
                name,
                "a fill value",
                fill,
                blk,
                d0,
                cell_lat,
                cell_lon,
                myear,
                state,
                "active cells (cellMissing = 0) need a value every day; set cellMissing = 1 to skip the cell",
                layers,
            )
            good = ~nan & ~fill
            with np.errstate(invalid="ignore"):
                low = good & (blk < lo)
                high = good & (blk > hi)
            if name in ("xcgpp", "ndep"):
                what_lo = "negative"
                fix_lo = f"{label} must be >= 0"
            else:
                what_lo = f"below {lo:g}"
                fix_lo = f"{label} must be within {lo:g}-{hi:g} {_unit(name)}"
            _report_cells(ck, name, what_lo, low, blk, d0, cell_lat, cell_lon, myear, state, fix_lo, layers)
            if name in ("xcgpp", "ndep"):
                fix_hi = f"{label} above {hi:g} {_unit(name)} per day is implausible; check the unit conversion"
            else:
                fix_hi = f"{label} must be within {lo:g}-{hi:g} {_unit(name)}"
            _report_cells(ck, name, f"above {hi:g}", high, blk, d0, cell_lat, cell_lon, myear, state, fix_hi, layers)
    for key, cells in state.items():
        if len(key) == 3 and len(cells) > ck.max_cells:
            name, what, _ = key
            ck.add(
                name,
                f"{name} is {what} on {len(cells)} active cells in total (only the first {ck.max_cells} are listed)",
            )


def _unit(name: str) -> str:
    return UNITS_OK[name][1]


def _check_gridinfo(
    ck: _Checker,
    gpath: Path,
    rows: list[GridRow],
    pj: np.ndarray,
    pi: np.ndarray,
    cellid: np.ndarray,
    cell_lat: np.ndarray,
) -> None:
    gname = gpath.name
    nact = pj.size
    nlat, nlon = cellid.shape
    if len(rows) != nact:
        ck.add(
            "cellMissing",
            f"{nact} active cells (cellMissing == 0) but {gname} has "
            f"{len(rows)} rows; they must match one to one (and .lst line 1, mp)",
        )
    nbad = 0
    for k, r in enumerate(rows[:nact]):
        npt = k + 1
        where = dict(npt=npt, lat=r.lat, lon=r.lon)
        if not (1 <= r.ilat <= nlat and 1 <= r.ilon <= nlon):
            ck.add(
                "cellid",
                f"{gname} row {npt} (ijcam {r.ijcam}) has ilat {r.ilat}, ilon "
                f"{r.ilon} outside the met grid ({nlat} x {nlon})",
                **where,
            )
            nbad += 1
        elif (r.ilat - 1, r.ilon - 1) != (int(pj[k]), int(pi[k])):
            ck.add(
                "cellid",
                f"{gname} row {npt} (ijcam {r.ijcam}) points at ilat {r.ilat}, "
                f"ilon {r.ilon}, but the met file's active cell number {npt} is at ilat "
                f"{int(pj[k]) + 1}, ilon {int(pi[k]) + 1}; sort the rows by ilon then ilat "
                "and keep only active cells",
                **where,
            )
            nbad += 1
        elif int(cellid[r.ilat - 1, r.ilon - 1]) != r.ijcam:
            ck.add(
                "cellid",
                f"{gname} row {npt} has ijcam {r.ijcam} but the met cellid at "
                f"ilat {r.ilat}, ilon {r.ilon} is {int(cellid[r.ilat - 1, r.ilon - 1])}; "
                "the model stops when it writes NetCDF output",
                **where,
            )
            nbad += 1
        elif np.isfinite(cell_lat[k]) and abs(cell_lat[k] - r.lat) > 0.01:
            ck.add(
                "lat",
                f"{gname} row {npt} has lat {r.lat:.2f} but the met latitude of its cell is {cell_lat[k]:.2f}",
                "warning",
                **where,
            )
        if not (0 <= r.ivt_igbp <= 18):
            ck.add(None, f"{gname} row {npt} has ivt_igbp {r.ivt_igbp}; it must be 1-18 (0 is read as 15)", **where)
        if nbad >= ck.max_cells:
            ck.add("cellid", f"{gname}: further row checks stopped after {nbad} mismatches")
            break


def _check_soil(ck: _Checker, spath: Path, rows: list[SoilRow], nact: int, grows: list[GridRow] | None) -> None:
    sname = spath.name
    if len(rows) != nact:
        ck.add(
            None, f"{nact} active cells (cellMissing == 0) but {sname} has {len(rows)} rows; they must match one to one"
        )
    nrep = 0
    for k, r in enumerate(rows[:nact]):
        npt = k + 1
        where = dict(npt=npt, lat=r.lat, lon=r.lon)
        msgs = []
        if grows is not None and k < len(grows):
            g = grows[k]
            if r.ijcam != g.ijcam or abs(r.lat - g.lat) > 0.01 or abs(r.lon - g.lon) > 0.01:
                msgs.append(
                    f"row {npt} is cell {r.ijcam} at ({r.lat:.2f}, {r.lon:.2f}) but "
                    f"gridinfo row {npt} is cell {g.ijcam} at ({g.lat:.2f}, "
                    f"{g.lon:.2f}); both tables must be in the same (met point) order"
                )
        for col in ("sand", "clay", "silt", "wwilt", "wfield", "wsat"):
            val = getattr(r, col)
            if not (0.0 <= val <= 1.0):
                msgs.append(f"row {npt} has {col} = {val:g}; fractions must be within 0-1")
        if not (r.wwilt < r.wfield <= r.wsat):
            msgs.append(
                f"row {npt} has wwilt {r.wwilt:g}, wfield {r.wfield:g}, wsat "
                f"{r.wsat:g}; the model needs wwilt < wfield <= wsat (it divides by "
                "wfield - wwilt)"
            )
        for m in msgs:
            ck.add(None, f"{sname} {m}", **where)
            nrep += 1
        if nrep >= ck.max_cells:
            ck.add(None, f"{sname}: further row checks stopped after {nrep} problems")
            break


# ----------------------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the validator's options to ``parser`` (for mounting as a subcommand)."""
    parser.add_argument("files", nargs="+", help="met NetCDF files")
    parser.add_argument("--gridinfo", help="gridinfo CSV to check against every file")
    parser.add_argument("--soil", help="soil CSV to check against every file")
    parser.add_argument("--max-cells", type=int, default=10, help="cells listed per variable and check (default 10)")
    parser.add_argument("--strict", action="store_true", help="warnings also fail")
    parser.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    return parser


def build_parser() -> argparse.ArgumentParser:
    """Stand-alone parser (``python -m testbed.forcing_tools.validate``)."""
    p = argparse.ArgumentParser(
        prog="testbed forcing validate", description="Check met files (and gridinfo/soil) for the model."
    )
    return add_arguments(p)


def run(args: argparse.Namespace) -> int:
    """Execute parsed arguments; exit status 1 if an error (or, with --strict, a warning)."""
    failed = False
    for f in args.files:
        probs = validate_met(f, args.gridinfo, args.soil, max_cells=args.max_cells)
        for p in probs:
            if p.severity == "error" or not args.quiet:
                print(str(p), file=sys.stderr if p.severity == "error" else sys.stdout)
        if any(p.severity == "error" or args.strict for p in probs):
            failed = True
        elif not args.quiet:
            print(f"ok: {Path(f).name}")
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point."""
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
