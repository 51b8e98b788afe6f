"""Migration from the original testbed: its ``.lst`` run-control file, co2delta file and CSV restarts.

:func:`read_lst` parses a ``fcasacnp_clm_testbed.lst`` (casa.md 2.1) with paths
resolved relative to the file's folder. :func:`legacy_schedule` turns its run
mode (initcasa 0-3) into the year steps of :mod:`testbed.run`. The CSV writers
produce the original's restart files, for users who go back and forth.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import layout
from .errors import InputError
from .model import Model
from .run import Perturbation, YearStep, cycle_schedule, transient_schedule
from .state import atomic_path


@dataclass
class LegacyRun:
    """The contents of an original ``.lst`` file (paths absolute)."""

    path: Path
    mp: int
    mloop: int
    mdaily: int
    initcasa: int
    tyear1: int
    tyear2: int
    isom: int
    icycle: int
    gridinfo: Path
    casa_params: Path
    phenology: Path
    soil: Path
    met: Path
    casa_restart_in: Path
    casa_pool_out: Path
    casa_flux_out: Path
    casa_nc_out: Path
    mimics_params: Path
    mimics_restart_in: Path
    mimics_pool_out: Path
    mimics_nc_out: Path
    co2delta: Path
    point_index: int
    point_dir: Path
    nc_interval: int

    @property
    def soil_model(self) -> str:
        return {1: "casa", 2: "mimics"}[self.isom]


def _first_token(line: str) -> str:
    text = line.split("!")[0].strip()
    return text.split()[0] if text.split() else ""


def read_lst(path: str | Path) -> LegacyRun:
    """Read an original run-control file; every check names the line it concerns."""
    path = Path(path)
    if not path.is_file():
        raise InputError("run-control (.lst) file not found", path=path)
    lines = path.read_text(errors="replace").replace("\r", "").split("\n")
    base = path.parent

    def line(n: int) -> str:
        if n > len(lines) or not lines[n - 1].strip():
            if n == 29:
                raise InputError("line 29 (netCDF output interval) is missing; the original needs it too (casa.md "
                                 "Q28)", path=path)
            raise InputError(f"line {n} is missing", path=path)
        return lines[n - 1]

    def integer(n: int, what: str) -> int:
        try:
            return int(_first_token(line(n)))
        except ValueError:
            raise InputError(f"line {n} ({what}) is not an integer: {line(n).strip()!r}", path=path) from None

    def file(n: int) -> Path:
        token = _first_token(line(n))
        return (base / token).resolve() if token else base

    initcasa = integer(5, "initcasa")
    years = _first_token(line(6)), (line(6).split("!")[0].split() + ["0", "0"])[1]
    try:
        tyear1, tyear2 = int(years[0]), int(years[1])
    except ValueError:
        tyear1 = tyear2 = 0
        if initcasa >= 2:
            raise InputError(f"line 6 must hold the first and last transient year: {line(6).strip()!r}",
                             path=path) from None
    run = LegacyRun(path=path, mp=integer(1, "mp"), mloop=integer(3, "mloop"), mdaily=integer(4, "mdaily"),
                    initcasa=initcasa, tyear1=tyear1, tyear2=tyear2, isom=integer(7, "isomModel"),
                    icycle=integer(8, "icycle"), gridinfo=file(9), casa_params=file(10), phenology=file(11),
                    soil=file(12), met=file(13), casa_restart_in=file(14), casa_pool_out=file(15),
                    casa_flux_out=file(16), casa_nc_out=file(17), mimics_params=file(18), mimics_restart_in=file(19),
                    mimics_pool_out=file(20), mimics_nc_out=file(21), co2delta=file(26),
                    point_index=integer(27, "point index"), point_dir=file(28), nc_interval=integer(29, "interval"))
    if run.isom not in (1, 2):
        raise InputError(f"isomModel = {run.isom}: only 1 (CASA) and 2 (MIMICS) are supported (CORPSE is not)",
                         path=path)
    if run.icycle not in (1, 2):
        raise InputError(f"icycle = {run.icycle}: only 1 (C) and 2 (C+N) are supported; the original's P cycle "
                         "is broken (casa.md Appendix A)", path=path)
    if run.initcasa not in (0, 1, 2, 3):
        raise InputError(f"initcasa = {run.initcasa} must be 0, 1, 2 or 3", path=path)
    run.nc_interval = max(1, run.nc_interval)
    return run


def read_co2delta(path: str | Path) -> Perturbation:
    """The perturbation file: header, then ``co2air deltsoil deltair deltYr nppMult`` (casa.md 2.1)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("perturbation (co2delta) file not found", path=path)
    lines = [ln for ln in path.read_text().replace("\r", "").split("\n")[1:] if ln.strip()]
    try:
        _co2, dtsoil, dtair, start, mult = (float(t) for t in lines[0].replace(",", " ").split()[:5])
    except (IndexError, ValueError):
        raise InputError("line 2 must hold: co2 ppm, dtSoil, dtAir, start year count, NPP multiplier",
                         path=path) from None
    return Perturbation(dtair=dtair, dtsoil=dtsoil, npp_mult=mult, start_year_count=int(start))


def transient_pattern(met: Path) -> str:
    """The per-year met file pattern of a transient run: ``..._YYYY_YYYY.nc`` -> ``..._{year}_{year}.nc``."""
    name = str(met)
    if not re.search(r".{4}_.{4}\.nc$", name):
        raise InputError("a transient run needs a met file name ending in YYYY_YYYY.nc", path=met)
    return name[:-12] + "{year}_{year}.nc"


def legacy_schedule(run: LegacyRun) -> list[YearStep]:
    """The years the original would simulate for this ``.lst`` (casa.md 3.2, 3.3)."""
    daily = run.mdaily == 1
    if run.initcasa < 2:
        return cycle_schedule(run.met, run.mloop, output_interval=run.nc_interval, daily=daily)
    repeats = 1 if run.initcasa == 2 else run.mloop
    return transient_schedule(transient_pattern(run.met), run.tyear1, run.tyear2, repeats=repeats,
                              output_interval=run.nc_interval, daily=daily, label_by_count=run.initcasa == 3)


# ------------------------------------------------------------------------------ CSV writers

def _write_text(path: Path, text: str) -> None:
    tmp = atomic_path(path)
    try:
        tmp.write_text(text)
        tmp.chmod(0o644)
        tmp.replace(path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _col(state: np.ndarray, name: str) -> np.ndarray:
    return state[:, layout.index("state", name)]


CASA_POOL_HEADER = (
    "iYrCnt,npt,veg%iveg,soil%isoilm,casamet%isorder,casamet%lat,casamet%lon,casamet%areacell,casamet%glai,"
    "casabiome%sla(veg%iveg),phen%phase,casapool%clabile,casapool%cplant(LEAF),casapool%cplant(WOOD),"
    "casapool%cplant(FROOT),casapool%clitter(METB),casapool%clitter(STR),casapool%clitter(CWD),"
    "casapool%csoil(MIC),casapool%csoil(SLOW),casapool%csoil(PASS),casapool%nplant(LEAF),casapool%nplant(WOOD),"
    "casapool%nplant(FROOT),casapool%nlitter(METB),casapool%nlitter(STR),casapool%nlitter(CWD),"
    "casapool%nsoil(MIC),casapool%nsoil(SLOW),casapool%nsoil(PASS),casapool%nsoilmin")


def write_casa_restart_csv(path: str | Path, state: np.ndarray, model: Model, year_count: int) -> None:
    """The original's ``cnppool_end.csv`` (6 decimals) for the C and N pools (casa.md 7.3).

    P pools and the cumulative balance columns of the original are not written:
    the original never reads them back for icycle <= 2.
    """
    d = model.domain
    sla = model.casa["sla"][d.pft - 1]
    rows = [CASA_POOL_HEADER]
    names = ["clabile", "cleaf", "cwood", "cfroot", "cmet", "cstr", "ccwd", "cmic", "cslow", "cpass",
             "nleaf", "nwood", "nfroot", "nmet", "nstr", "ncwd", "nmic", "nslow", "npass", "nsoilmin"]
    for c in range(d.ncell):
        head = [year_count, c + 1, int(d.pft[c]), 1, int(d.soil_order[c])]
        row = ",  ".join(f"{v:6d}" for v in head) + ",  "
        row += ",  ".join(f"{v:18.6f}" for v in (d.lat[c], d.lon[c], d.area[c] * 1e-9, _col(state, "lai")[c],
                                                 sla[c])) + ",  "
        row += f"{int(_col(state, 'phase')[c]):6d},"
        row += "".join(f"{_col(state, n)[c]:18.6f},  " for n in names)
        rows.append(row.rstrip())
    _write_text(Path(path), "\n".join(rows) + "\n")


MIMICS_POOL_HEADER = ("iYrCnt,npt,veg%iveg,casamet%lat,casamet%lon,casamet%areacell,mimicspool%LITm,mimicspool%LITs,"
                      "mimicspool%MICr,mimicspool%MICk,mimicspool%SOMa,mimicspool%SOMc,mimicspool%SOMp,"
                      "mimicspool%LITmN,mimicspool%LITsN,mimicspool%MICrN,mimicspool%MICkN,mimicspool%SOMaN,"
                      "mimicspool%SOMcN,mimicspool%SOMpN")


def write_mimics_restart_csv(path: str | Path, state: np.ndarray, model: Model, year_count: int) -> None:
    """The original's ``mimicspool_end.csv`` (10 decimals, mg cm-3; mimics.md 7.2)."""
    d = model.domain
    names = ["litm", "lits", "micr", "mick", "soma", "somc", "somp"]
    if model.icycle == 2:
        names += ["litmn", "litsn", "micrn", "mickn", "soman", "somcn", "sompn"]
    rows = [MIMICS_POOL_HEADER]
    for c in range(d.ncell):
        row = f"{year_count:6d},{c + 1:7d},{int(d.pft[c]):7d},"
        row += "".join(f"{v:19.10f}," for v in (d.lat[c], d.lon[c], d.area[c] * 1e-9))
        row += "".join(f"{_col(state, n)[c]:19.10f}," for n in names)
        rows.append(row)
    _write_text(Path(path), "\n".join(rows) + "\n")
