"""Model state <-> files: NetCDF restarts (ours, full precision) and the original's CSV restarts.

Restart files are written atomically (temporary file in the same directory,
then rename) and carry what is needed to refuse a mismatched restart: soil
model, cycle, parameter-set hashes, cell ids and the simulated-year count.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import netCDF4
import numpy as np

from . import layout, provenance
from .errors import InputError

RESTART_FORMAT_VERSION = 1
log = logging.getLogger("testbed")

_G, _MG = "g m-2", "mg cm-3"
#: CF attributes (units, long_name) of every state column, layout.STATE order (casa.md 6, mimics.md 7)
STATE_ATTRS: dict[str, tuple[str, str]] = {
    "cleaf": (_G, "leaf carbon"), "cwood": (_G, "wood carbon"), "cfroot": (_G, "fine-root carbon"),
    "nleaf": (_G, "leaf nitrogen"), "nwood": (_G, "wood nitrogen"), "nfroot": (_G, "fine-root nitrogen"),
    "pleaf": (_G, "leaf phosphorus"), "pwood": (_G, "wood phosphorus"), "pfroot": (_G, "fine-root phosphorus"),
    "clabile": (_G, "labile carbon"), "cmet": (_G, "metabolic litter carbon"),
    "cstr": (_G, "structural litter carbon"), "ccwd": (_G, "coarse woody debris carbon"),
    "nmet": (_G, "metabolic litter nitrogen"), "nstr": (_G, "structural litter nitrogen"),
    "ncwd": (_G, "coarse woody debris nitrogen"), "cmic": (_G, "microbial soil carbon"),
    "cslow": (_G, "slow soil carbon"), "cpass": (_G, "passive soil carbon"), "nmic": (_G, "microbial soil nitrogen"),
    "nslow": (_G, "slow soil nitrogen"), "npass": (_G, "passive soil nitrogen"),
    "nsoilmin": (_G, "soil mineral nitrogen"), "lai": ("m2 m-2", "leaf area index"),
    "phase": ("1", "phenology phase (0 dormant, 1 green-up, 2 steady, 3 senescence)"),
    "litm": (_MG, "MIMICS metabolic litter carbon"), "lits": (_MG, "MIMICS structural litter carbon"),
    "micr": (_MG, "MIMICS r-selected microbial carbon"), "mick": (_MG, "MIMICS K-selected microbial carbon"),
    "soma": (_MG, "MIMICS available soil organic carbon"),
    "somc": (_MG, "MIMICS chemically protected soil organic carbon"),
    "somp": (_MG, "MIMICS physically protected soil organic carbon"),
    "litmn": (_MG, "MIMICS metabolic litter nitrogen"), "litsn": (_MG, "MIMICS structural litter nitrogen"),
    "micrn": (_MG, "MIMICS r-selected microbial nitrogen"), "mickn": (_MG, "MIMICS K-selected microbial nitrogen"),
    "soman": (_MG, "MIMICS available soil organic nitrogen"),
    "somcn": (_MG, "MIMICS chemically protected soil organic nitrogen"),
    "sompn": (_MG, "MIMICS physically protected soil organic nitrogen"),
    "npp_prev": ("g m-2 yr-1", "previous year's net primary production of carbon (below -99: not set)"),
}
_UMASK = os.umask(0)
os.umask(_UMASK)

#: state columns written by the original's cnppool_end.csv, in file order after the 11 leading fields
_CASA_CSV_C = ["clabile", "cleaf", "cwood", "cfroot", "cmet", "cstr", "ccwd", "cmic", "cslow", "cpass"]
_CASA_CSV_N = ["nleaf", "nwood", "nfroot", "nmet", "nstr", "ncwd", "nmic", "nslow", "npass", "nsoilmin"]
_MIMICS_CSV_C = ["litm", "lits", "micr", "mick", "soma", "somc", "somp"]
_MIMICS_CSV_N = ["litmn", "litsn", "micrn", "mickn", "soman", "somcn", "sompn"]


def _csv_rows(path: Path, ncol: int, ncell: int, what: str) -> np.ndarray:
    if not path.is_file():
        raise InputError(f"{what} restart file not found", path=path)
    lines = [ln for ln in path.read_text(errors="replace").replace("\r", "").split("\n")[1:] if ln.strip()]
    if len(lines) < ncell:
        raise InputError(f"has {len(lines)} cell rows but the run has {ncell} cells (truncated file?)", path=path,
                         cell=len(lines) + 1)
    rows = []
    for c, line in enumerate(lines[:ncell]):
        fields = [t.strip() for t in line.split(",") if t.strip() != ""]
        if len(fields) < ncol:
            raise InputError(f"row {c + 1} has {len(fields)} values, a {what} restart row needs {ncol} "
                             "(truncated file?)", path=path, cell=c + 1)
        try:
            rows.append([float(t) for t in fields[:ncol]])
        except ValueError as exc:
            raise InputError(f"row {c + 1}: {exc}", path=path, cell=c + 1) from None
    arr = np.array(rows)
    bad = np.argwhere(~np.isfinite(arr))
    if bad.size:
        raise InputError(f"non-finite value in column {bad[0][1] + 1}", path=path, cell=int(bad[0][0]) + 1)
    return arr


def read_casa_restart_csv(path: str | Path, ncell: int, icycle: int) -> dict[str, np.ndarray]:
    """State columns from the original's ``cnppool_end.csv`` (casa.md 6.2).

    Rows are taken in cell order (the original matches no ids). LAI and phase are
    read as they are; N pools only for icycle >= 2.
    """
    path = Path(path)
    ncol = 21 + (10 if icycle >= 2 else 0)
    rows = _csv_rows(path, ncol, ncell, "CASA")
    values = {"lai": rows[:, 8], "phase": np.trunc(rows[:, 10])}
    for k, name in enumerate(_CASA_CSV_C):
        values[name] = rows[:, 11 + k]
    if icycle >= 2:
        for k, name in enumerate(_CASA_CSV_N):
            values[name] = rows[:, 21 + k]
    return values


def read_mimics_restart_csv(path: str | Path, ncell: int, icycle: int) -> dict[str, np.ndarray]:
    """MIMICS pools (mg cm-3) from the original's ``mimicspool_end.csv`` (mimics.md 7.2)."""
    path = Path(path)
    ncol = 6 + 7 + (7 if icycle >= 2 else 0)
    rows = _csv_rows(path, ncol, ncell, "MIMICS")
    values = {name: rows[:, 6 + k] for k, name in enumerate(_MIMICS_CSV_C)}
    if icycle >= 2:
        values.update({name: rows[:, 13 + k] for k, name in enumerate(_MIMICS_CSV_N)})
    return values


@dataclass
class RestartInfo:
    """What a restart file says about the run that wrote it."""

    soil_model: str
    icycle: int
    years_simulated: int
    casa_sha256: str
    mimics_sha256: str
    cellid: np.ndarray
    extra: dict | None = None


def atomic_path(target: Path) -> Path:
    """A temporary path next to ``target`` (same file system, so the rename is atomic)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    return Path(tmp)


def write_restart(path: str | Path, state: np.ndarray, info: RestartInfo, extra: dict | None = None) -> None:
    """Write the full-precision state to a NetCDF restart file, atomically.

    ``extra`` global attributes (e.g. a checkpoint's next year and run hash) are stored as given.
    """
    path = Path(path)
    tmp = atomic_path(path)
    try:
        with netCDF4.Dataset(tmp, "w", format="NETCDF4") as ds:
            ds.Conventions = "CF-1.8"
            ds.title = "testbed restart"
            ds.setncatts({"source": provenance.describe(), **provenance.attributes()})
            ds.restart_format_version = RESTART_FORMAT_VERSION
            ds.soil_model = info.soil_model
            ds.icycle = np.int32(info.icycle)
            ds.years_simulated = np.int32(info.years_simulated)
            ds.casa_parameter_sha256 = info.casa_sha256
            ds.mimics_parameter_sha256 = info.mimics_sha256
            for name, value in (extra or {}).items():
                ds.setncattr(name, value)
            ds.createDimension("cell", state.shape[0])
            v = ds.createVariable("cellid", "i4", ("cell",))
            v.long_name = "met file cell id"
            v[:] = info.cellid
            for k, name in enumerate(layout.STATE):
                var = ds.createVariable(name, "f8", ("cell",), zlib=True, complevel=1)
                var.units, var.long_name = STATE_ATTRS[name]
                var[:] = state[:, k]
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def read_restart(path: str | Path) -> tuple[np.ndarray, RestartInfo]:
    """Read a restart written by :func:`write_restart`; a damaged file is a clear error.

    A restart written by another testbed version or commit is read, with a warning (logger ``testbed``).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("restart file not found", path=path)
    try:
        ds = netCDF4.Dataset(path)
    except OSError as exc:
        raise InputError(f"is not a readable NetCDF restart ({exc}); was the write interrupted?", path=path) from None
    with ds:
        try:
            ds.set_auto_mask(False)
            ncell = len(ds.dimensions["cell"])
            state = np.zeros((ncell, layout.NSTATE), order="F")
            for k, name in enumerate(layout.STATE):
                if name not in ds.variables:
                    raise InputError("is missing from the restart", path=path, variable=name)
                state[:, k] = ds.variables[name][:]
            known = {"title", "restart_format_version", "soil_model", "icycle", "years_simulated",
                     "casa_parameter_sha256", "mimics_parameter_sha256", "Conventions", "source"}
            differs = provenance.mismatch({a: ds.getncattr(a) for a in ds.ncattrs()})
            info = RestartInfo(str(ds.soil_model), int(ds.icycle), int(ds.years_simulated),
                               str(ds.casa_parameter_sha256), str(ds.mimics_parameter_sha256),
                               np.asarray(ds.variables["cellid"][:]),
                               {a: ds.getncattr(a) for a in ds.ncattrs() if a not in known})
        except (KeyError, AttributeError, RuntimeError, OSError) as exc:
            raise InputError(f"is not a complete testbed restart ({exc})", path=path) from None
    bad = np.argwhere(~np.isfinite(state))
    if bad.size:
        c, k = bad[0]
        raise InputError("holds a non-finite value", path=path, variable=layout.STATE[k], cell=int(c) + 1)
    if differs:
        log.warning("warning: restart %s was %s", path, differs)
    return state, info


def check_restart_matches(info: RestartInfo, path: str | Path, *, soil_model: str, icycle: int,
                          cellid: np.ndarray, casa_sha256: str, mimics_sha256: str) -> None:
    """Refuse a restart written by a different model, cycle, domain or parameter set."""
    if info.soil_model != soil_model:
        raise InputError(f"was written by a {info.soil_model.upper()} run; this run uses {soil_model.upper()}",
                         path=path)
    if info.icycle != icycle:
        names = {1: "C-only", 2: "C+N"}
        raise InputError(f"was written by a {names.get(info.icycle)} run; this run is {names.get(icycle)}", path=path)
    if info.cellid.shape != cellid.shape or np.any(info.cellid != cellid):
        raise InputError(f"holds {info.cellid.size} cells that do not match this run's {cellid.size} cells",
                         path=path)
    if info.casa_sha256 != casa_sha256 or (soil_model == "mimics" and info.mimics_sha256 != mimics_sha256):
        raise InputError("was written with a different parameter set", path=path,
                         hint="Use the parameter files of the run that wrote it")
