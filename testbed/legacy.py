"""Migration from the original testbed: its ``.lst`` run-control file, co2delta file and CSV restarts.

:func:`read_lst` parses a ``fcasacnp_clm_testbed.lst`` (casa.md 2.1) with paths
resolved relative to the file's folder. :func:`legacy_schedule` turns its run
mode (initcasa 0-3) into the year steps of :mod:`testbed.run`. The CSV writers
produce the original's restart files, for users who go back and forth.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import layout
from .atomic import write_text
from .errors import InputError
from .model import Model
from .run import Perturbation, YearStep, cycle_schedule, transient_schedule
from .soil import REGISTRY, SoilModel
from .soil.base import PoolCSV


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
    co2delta: Path
    point_index: int
    point_dir: Path
    nc_interval: int
    soil_params: Path | None = None  #: the soil model's own parameter file (its .lst line), if any
    soil_restart_in: Path | None = None  #: the soil model's own pool CSV to restart from (its .lst line), if any

    @property
    def soil_description(self) -> SoilModel:
        """The soil model of line 7 (isomModel)."""
        return next(m for m in REGISTRY.values() if m.legacy_isom == self.isom)

    @property
    def soil_model(self) -> str:
        return self.soil_description.name


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
                raise InputError(
                    "line 29 (netCDF output interval) is missing; the original needs it too (casa.md Q28)", path=path
                )
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
            raise InputError(
                f"line 6 must hold the first and last transient year: {line(6).strip()!r}", path=path
            ) from None
    run = LegacyRun(
        path=path,
        mp=integer(1, "mp"),
        mloop=integer(3, "mloop"),
        mdaily=integer(4, "mdaily"),
        initcasa=initcasa,
        tyear1=tyear1,
        tyear2=tyear2,
        isom=integer(7, "isomModel"),
        icycle=integer(8, "icycle"),
        gridinfo=file(9),
        casa_params=file(10),
        phenology=file(11),
        soil=file(12),
        met=file(13),
        casa_restart_in=file(14),
        casa_pool_out=file(15),
        casa_flux_out=file(16),
        casa_nc_out=file(17),
        co2delta=file(26),
        point_index=integer(27, "point index"),
        point_dir=file(28),
        nc_interval=integer(29, "interval"),
    )
    isoms = {m.legacy_isom: m for m in REGISTRY.values()}
    if run.isom not in isoms:
        supported = ", ".join(f"{k} ({m.name})" for k, m in sorted(isoms.items()))
        raise InputError(f"line 7: isomModel = {run.isom} is not supported; supported: {supported}", path=path)
    soil = isoms[run.isom]
    if soil.parameters:
        run.soil_params = file(soil.parameters.lst_line)
    if soil.legacy_csv:
        run.soil_restart_in = file(soil.legacy_csv.lst_line)
    if run.icycle not in (1, 2):
        raise InputError(
            f"icycle = {run.icycle}: only 1 (C) and 2 (C+N) are supported; the original's P cycle "
            "is broken (casa.md Appendix A)",
            path=path,
        )
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
        raise InputError(
            "line 2 must hold: co2 ppm, dtSoil, dtAir, start year count, NPP multiplier", path=path
        ) from None
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
    return transient_schedule(
        transient_pattern(run.met),
        run.tyear1,
        run.tyear2,
        repeats=repeats,
        output_interval=run.nc_interval,
        daily=daily,
        label_by_count=run.initcasa == 3,
    )


# ------------------------------------------------------------------------- pool CSVs (restarts)


def _casa_lead(model: Model, state: np.ndarray, c: int, year_count: int) -> str:
    d = model.domain
    lai, phase = state[c, layout.index("state", "lai")], state[c, layout.index("state", "phase")]
    head = [year_count, c + 1, int(d.pft[c]), 1, int(d.soil_order[c])]
    sla = model.casa["sla"][d.pft[c] - 1]
    return (
        ",  ".join(f"{v:6d}" for v in head)
        + ",  "
        + ",  ".join(f"{v:18.6f}" for v in (d.lat[c], d.lon[c], d.area[c] * 1e-9, lai, sla))
        + f",  {int(phase):6d},"
    )


#: the original's ``cnppool_end.csv`` (casa.md 6.2, 7.3): the host's pools, written for every soil model.
#: P pools and the cumulative balance columns are not written: the original never reads them for icycle <= 2.
HOST_CSV = PoolCSV(
    file_name="cnppool_end.csv",
    config_key="files.legacy_restart_casa",
    header="iYrCnt,npt,veg%iveg,soil%isoilm,casamet%isorder,casamet%lat,casamet%lon,casamet%areacell,casamet%glai,"
    "casabiome%sla(veg%iveg),phen%phase,casapool%clabile,casapool%cplant(LEAF),casapool%cplant(WOOD),"
    "casapool%cplant(FROOT),casapool%clitter(METB),casapool%clitter(STR),casapool%clitter(CWD),"
    "casapool%csoil(MIC),casapool%csoil(SLOW),casapool%csoil(PASS),casapool%nplant(LEAF),"
    "casapool%nplant(WOOD),casapool%nplant(FROOT),casapool%nlitter(METB),casapool%nlitter(STR),"
    "casapool%nlitter(CWD),casapool%nsoil(MIC),casapool%nsoil(SLOW),casapool%nsoil(PASS),casapool%nsoilmin",
    nlead=11,
    carbon=("clabile", "cleaf", "cwood", "cfroot", "cmet", "cstr", "ccwd", "cmic", "cslow", "cpass"),
    nitrogen=("nleaf", "nwood", "nfroot", "nmet", "nstr", "ncwd", "nmic", "nslow", "npass", "nsoilmin"),
    width=18,
    decimals=6,
    sep=",  ",
    lead=_casa_lead,
    lst_line=14,
    nitrogen_in_c_runs=True,
)
#: leading fields of the host CSV that a restart reads besides the pools (0-based field -> state column)
_HOST_LEAD_READ = {8: "lai", 10: "phase"}


def pool_csvs(soil: SoilModel) -> tuple[PoolCSV, ...]:
    """The original's pool CSVs of a run: the host's, then the soil model's own (if it has one)."""
    return (HOST_CSV,) + ((soil.legacy_csv,) if soil.legacy_csv else ())


def _rows(spec: PoolCSV, path: Path, ncell: int, icycle: int) -> np.ndarray:
    """The numeric fields of the first ``ncell`` rows, parsed strictly (every problem names row and column)."""
    if not path.is_file():
        raise InputError(f"restart file ({spec.file_name} format) not found", path=path)
    ncol = spec.nlead + len(spec.carbon) + (len(spec.nitrogen) if icycle >= 2 else 0)
    lines = path.read_text(errors="replace").replace("\r", "").split("\n")
    body = [(n + 2, ln) for n, ln in enumerate(lines[1:]) if ln.strip()]
    if len(body) < ncell:
        raise InputError(
            f"has {len(body)} cell rows but the run has {ncell} cells (truncated file?)", path=path, cell=len(body) + 1
        )
    rows = np.empty((ncell, ncol))
    for c, (lineno, line) in enumerate(body[:ncell]):
        fields = [t.strip() for t in line.split(",")]
        while fields and fields[-1] == "":  # the original ends rows with a separator
            fields.pop()
        if len(fields) < ncol:
            raise InputError(
                f"line {lineno} (cell {c + 1}) has {len(fields)} fields; a row of a "
                f"{'C+N' if icycle >= 2 else 'C-only'} run needs {ncol} (truncated file?)",
                path=path,
                cell=c + 1,
            )
        for k, text in enumerate(fields[:ncol]):
            try:
                rows[c, k] = float(text)
            except ValueError:
                what = "is blank" if not text else f"is not a number ({text!r})"
                raise InputError(
                    f"line {lineno} (cell {c + 1}), column {k + 1} {what}; every field must hold a "
                    "value (a blank field would shift the following columns)",
                    path=path,
                    cell=c + 1,
                ) from None
            if not np.isfinite(rows[c, k]):
                raise InputError(
                    f"line {lineno} (cell {c + 1}), column {k + 1} is not finite ({text!r})", path=path, cell=c + 1
                )
        if int(rows[c, spec.index_field]) != c + 1:
            raise InputError(
                f"line {lineno} holds cell {int(rows[c, spec.index_field])} where cell {c + 1} was expected: rows "
                "must be in the met file's cell order, one per cell",
                path=path,
                cell=c + 1,
            )
    pools = rows[:, spec.nlead :]
    bad = np.argwhere(pools < 0)
    if bad.size:
        c, k = bad[0]
        raise InputError(
            f"line {body[c][0]} (cell {c + 1}), column {spec.nlead + k + 1} holds a negative pool ({pools[c, k]!r})",
            path=path,
            cell=int(c) + 1,
        )
    return rows


def read_pool_csv(spec: PoolCSV, path: str | Path, ncell: int, icycle: int) -> dict[str, np.ndarray]:
    """State columns from one of the original's pool CSVs (rows in cell order; N pools for icycle >= 2)."""
    rows = _rows(spec, Path(path), ncell, icycle)
    names = spec.carbon + (spec.nitrogen if icycle >= 2 else ())
    values = {name: rows[:, spec.nlead + k] for k, name in enumerate(names)}
    if spec is HOST_CSV:
        for k, name in _HOST_LEAD_READ.items():
            values[name] = rows[:, k]
        values["phase"] = np.trunc(values["phase"])
    return values


def read_pool_csvs(soil: SoilModel, paths: Sequence[str | Path], ncell: int, icycle: int) -> dict[str, np.ndarray]:
    """State columns from a run's pool CSVs, ``paths`` in :func:`pool_csvs` order (host file first)."""
    specs = pool_csvs(soil)
    if len(paths) != len(specs):
        raise InputError(
            f"a {soil.name} restart from the original's CSVs needs {len(specs)} file(s): "
            + ", ".join(s.file_name for s in specs)
        )
    values: dict[str, np.ndarray] = {}
    for spec, path in zip(specs, paths, strict=True):
        values.update(read_pool_csv(spec, path, ncell, icycle))
    return values


def write_pool_csv(spec: PoolCSV, path: str | Path, state: np.ndarray, model: Model, year_count: int) -> None:
    """One of the original's pool CSVs of ``state`` (its fixed-width format), atomically."""
    names = spec.carbon + (spec.nitrogen if model.icycle >= 2 or spec.nitrogen_in_c_runs else ())
    cols = [state[:, layout.index("state", n)] for n in names]
    rows = [spec.header]
    for c in range(model.ncell):
        row = spec.lead(model, state, c, year_count) + "".join(
            f"{v[c]:{spec.width}.{spec.decimals}f}{spec.sep}" for v in cols
        )
        rows.append(row.rstrip())
    write_text(Path(path), "\n".join(rows) + "\n")
