"""Validate met files (and their gridinfo/soil tables) against the layout the model reads.

Python API: :func:`validate_met` returns a list of :class:`Problem`. CLI: ``main(argv)``
(mounted as ``testbed forcing validate FILE...``), exit status 1 if any error is found.
The checks are those `testbed run` and `testbed validate` make (:mod:`testbed.inputcheck`,
formats and ranges in :mod:`testbed.metformat`); here every problem is listed, not only the first.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import netCDF4

from .. import inputcheck as ic
from .. import metformat as mf
from ..errors import InputError
from ..forcing import MetFile

Problem = ic.Problem


def validate_met(
    path: str | Path,
    gridinfo: str | Path | None = None,
    soil: str | Path | None = None,
    *,
    max_cells: int = 10,
    allow_missing_frozen: bool = False,
) -> list[Problem]:
    """Check one met file (and optionally its gridinfo and soil CSVs); return the problems.

    Checks: completeness of classic-format files, dimensions (time == 365*myear, nsoilyrs == 6),
    variables and their dimension order, dtypes (float32 data, int32 ids), units, per active cell NaN,
    infinite, fill values and physical ranges (testbed.metformat), cellid numbering, gridinfo and soil
    ranges, and agreement of met, gridinfo and soil (row count, ids, ilat/ilon, order, coordinates).
    ``max_cells``: per variable and check, at most this many cells are reported singly.
    """
    ck = ic.Checker(path, max_cells)
    old_cache = netCDF4.get_chunk_cache()
    netCDF4.set_chunk_cache(1 << 20, old_cache[1], old_cache[2])  # data are read once
    try:
        met = MetFile.inspect(path, ck, allow_missing_frozen=allow_missing_frozen)
        if met is None:
            return ck.problems
        ic.check_cellid(ck, met.cellid)
        try:
            met.scan(ck)
        except InputError as exc:
            ck.add(None, str(exc))
    finally:
        netCDF4.set_chunk_cache(*old_cache)
    tables: list[Problem] = []
    grid = soil_t = None
    if gridinfo is not None:
        gck = ic.Checker(gridinfo, max_cells)
        try:
            grid = mf.read_gridinfo(gridinfo)
            ic.check_gridinfo(gck, grid)
        except InputError as exc:
            gck.add(None, f"cannot be read ({exc})")
        tables += gck.problems
    if soil is not None:
        sck = ic.Checker(soil, max_cells)
        try:
            soil_t = mf.read_soil(soil)
            ic.check_soil(sck, soil_t)
        except InputError as exc:
            sck.add(None, f"cannot be read ({exc})")
        tables += sck.problems
    link = ic.Checker(path, max_cells)  # the met file's link to the tables
    if grid is not None:
        ic.check_met_grid(
            link,
            grid,
            Path(gridinfo).name,
            met.cellid,
            met.lat,
            met.lon,  # type: ignore[arg-type]
            met.active_j,
            met.active_i,
        )
    if soil_t is not None:
        sname = Path(soil).name  # type: ignore[arg-type]
        if len(soil_t["ijcam"]) != met.ncell:
            link.add(
                None,
                f"{met.ncell} active cells (cellMissing == 0) but {sname} has {len(soil_t['ijcam'])} "
                "rows; they must match one to one",
            )
        if grid is not None:
            ic.check_soil_matches_grid(link, soil_t, sname, grid, Path(gridinfo).name)  # type: ignore[arg-type]
    return ck.problems + tables + link.problems


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
    parser.add_argument(
        "--allow-missing-frozen",
        action="store_true",
        help="accept a file without xfrznmoist (frozen water taken as 0, namelist run.allow_missing_frozen)",
    )
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
        probs = validate_met(
            f, args.gridinfo, args.soil, max_cells=args.max_cells, allow_missing_frozen=args.allow_missing_frozen
        )
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
