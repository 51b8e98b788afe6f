"""Model state <-> NetCDF restarts (ours, full precision); the original's CSV restarts are in legacy.py.

Restart files are written atomically (temporary file in the same directory,
then rename) and carry what is needed to refuse a mismatched restart: soil
model, cycle, parameter-set hashes, cell ids and the simulated-year count.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import netCDF4
import numpy as np

from . import layout, provenance
from .atomic import atomic_write
from .errors import InputError
from .nclock import netcdf_lock

#: 2: the soil model's parameter hash is soil_parameter_sha256 (version 1 wrote mimics_parameter_sha256)
RESTART_FORMAT_VERSION = 2
log = logging.getLogger("testbed")


@dataclass
class RestartInfo:
    """What a restart file says about the run that wrote it."""

    soil_model: str
    icycle: int
    years_simulated: int
    casa_sha256: str
    soil_sha256: str  #: hash of the soil model's own parameter set ("" if it has none)
    cellid: np.ndarray
    extra: dict | None = None


def write_restart(path: str | Path, state: np.ndarray, info: RestartInfo, extra: dict | None = None) -> None:
    """Write the full-precision state to a NetCDF restart file, atomically.

    ``extra`` global attributes (e.g. a checkpoint's next year and run hash) are stored as given.
    """
    with atomic_write(path) as tmp, netcdf_lock(), netCDF4.Dataset(tmp, "w", format="NETCDF4") as ds:
        ds.Conventions = "CF-1.8"
        ds.title = "testbed restart"
        ds.setncatts({"source": provenance.describe(), **provenance.attributes()})
        ds.restart_format_version = RESTART_FORMAT_VERSION
        ds.soil_model = info.soil_model
        ds.icycle = np.int32(info.icycle)
        ds.years_simulated = np.int32(info.years_simulated)
        ds.casa_parameter_sha256 = info.casa_sha256
        ds.soil_parameter_sha256 = info.soil_sha256
        for name, value in (extra or {}).items():
            ds.setncattr(name, value)
        ds.createDimension("cell", state.shape[0])
        v = ds.createVariable("cellid", "i4", ("cell",))
        v.long_name = "met file cell id"
        v[:] = info.cellid
        for k, col in enumerate(layout.TABLES["state"].columns):
            var = ds.createVariable(col.name, "f8", ("cell",), zlib=True, complevel=1)
            var.units, var.long_name = col.units, col.long_name
            var[:] = state[:, k]


def read_restart(path: str | Path) -> tuple[np.ndarray, RestartInfo]:
    """Read a restart written by :func:`write_restart`; a damaged file is a clear error.

    A restart written by another testbed version or commit is read, with a warning (logger ``testbed``).
    """
    with netcdf_lock():  # worker threads may be reading met files meanwhile
        return _read_restart(Path(path))


def _read_restart(path: Path) -> tuple[np.ndarray, RestartInfo]:
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
            known = {
                "title",
                "restart_format_version",
                "soil_model",
                "icycle",
                "years_simulated",
                "casa_parameter_sha256",
                "soil_parameter_sha256",
                "mimics_parameter_sha256",
                "Conventions",
                "source",
            }
            differs = provenance.mismatch({a: ds.getncattr(a) for a in ds.ncattrs()})
            soil_sha = (
                ds.soil_parameter_sha256 if "soil_parameter_sha256" in ds.ncattrs() else ds.mimics_parameter_sha256
            )
            info = RestartInfo(
                str(ds.soil_model),
                int(ds.icycle),
                int(ds.years_simulated),
                str(ds.casa_parameter_sha256),
                str(soil_sha),
                np.asarray(ds.variables["cellid"][:]),
                {a: ds.getncattr(a) for a in ds.ncattrs() if a not in known},
            )
        except (KeyError, AttributeError, RuntimeError, OSError) as exc:
            raise InputError(f"is not a complete testbed restart ({exc})", path=path) from None
    bad = np.argwhere(~np.isfinite(state))
    if bad.size:
        c, k = bad[0]
        raise InputError("holds a non-finite value", path=path, variable=layout.STATE[k], cell=int(c) + 1)
    if differs:
        log.warning("warning: restart %s was %s", path, differs)
    return state, info


def check_restart_matches(
    info: RestartInfo,
    path: str | Path,
    *,
    soil_model: str,
    icycle: int,
    cellid: np.ndarray,
    casa_sha256: str,
    soil_sha256: str,
) -> None:
    """Refuse a restart written by a different model, cycle, domain or parameter set."""
    if info.soil_model != soil_model:
        raise InputError(
            f"was written by a {info.soil_model.upper()} run; this run uses {soil_model.upper()}", path=path
        )
    if info.icycle != icycle:
        names = {1: "C-only", 2: "C+N"}
        raise InputError(f"was written by a {names.get(info.icycle)} run; this run is {names.get(icycle)}", path=path)
    if info.cellid.shape != cellid.shape or np.any(info.cellid != cellid):
        raise InputError(f"holds {info.cellid.size} cells that do not match this run's {cellid.size} cells", path=path)
    if info.casa_sha256 != casa_sha256 or info.soil_sha256 != soil_sha256:
        raise InputError(
            "was written with a different parameter set",
            path=path,
            hint="Use the parameter files of the run that wrote it",
        )
