"""The process-wide lock around NetCDF library calls (netCDF-C and HDF5 are not thread-safe).

Local dask workers are threads of the run's process (``parallel.processes`` off): their met reads and
the driver's writes of outputs, restarts and checkpoints must never call the library at the same
time. Every NetCDF access of the package takes this lock: :mod:`testbed.forcing` (met reads),
:func:`testbed.output.write_cf` and :func:`~testbed.output.read_cf` (outputs and their merges) and
:mod:`testbed.state` (restarts). It is re-entrant and our own (not xarray's ``NETCDFC_LOCK``, which is not
re-entrant), so a whole write can be held under it.
"""

from __future__ import annotations

import threading

_LOCK = threading.RLock()


def netcdf_lock() -> threading.RLock:
    """The lock (use as ``with netcdf_lock(): ...``)."""
    return _LOCK
