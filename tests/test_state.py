"""Restart files: ours (NetCDF, full precision). The original's CSVs: tests/test_legacy.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from testbed import layout
from testbed.errors import InputError
from testbed.state import (
    RestartInfo,
    check_restart_matches,
    read_restart,
    write_restart,
)


def _info(ncell: int, soil_model: str = "casa", icycle: int = 2) -> RestartInfo:
    return RestartInfo(soil_model, icycle, 17, "a" * 64, "b" * 64, np.arange(1, ncell + 1))


def test_restart_round_trip_is_bit_identical(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    state = np.asfortranarray(rng.random((5, layout.NSTATE)) * 1e3 + 1.0 / 3.0)
    write_restart(tmp_path / "restart.nc", state, _info(5))
    again, info = read_restart(tmp_path / "restart.nc")
    assert np.array_equal(again, state)
    assert info.years_simulated == 17 and info.soil_model == "casa" and info.icycle == 2
    assert not list(tmp_path.glob(".*tmp")), "temporary file left behind"


def test_corrupt_restart_file_is_a_clear_error(tmp_path: Path) -> None:
    state = np.asfortranarray(np.ones((3, layout.NSTATE)))
    path = tmp_path / "restart.nc"
    write_restart(path, state, _info(3))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # a write cut short
    with pytest.raises(InputError, match=r"restart\.nc: is not a .*restart"):
        read_restart(path)


def test_restart_from_another_model_or_cycle_is_refused(tmp_path: Path) -> None:
    info = _info(3, "mimics", 2)
    kw = dict(cellid=np.arange(1, 4), casa_sha256="a" * 64, soil_sha256="b" * 64)
    with pytest.raises(InputError, match="was written by a MIMICS run; this run uses CASA"):
        check_restart_matches(info, "r.nc", soil_model="casa", icycle=2, **kw)
    with pytest.raises(InputError, match="was written by a C\\+N run; this run is C-only"):
        check_restart_matches(info, "r.nc", soil_model="mimics", icycle=1, **kw)
    with pytest.raises(InputError, match="different parameter set"):
        check_restart_matches(
            info,
            "r.nc",
            soil_model="mimics",
            icycle=2,
            cellid=np.arange(1, 4),
            casa_sha256="c" * 64,
            soil_sha256="b" * 64,
        )
    with pytest.raises(InputError, match="cells that do not match"):
        check_restart_matches(
            info,
            "r.nc",
            soil_model="mimics",
            icycle=2,
            cellid=np.arange(2, 5),
            casa_sha256="a" * 64,
            soil_sha256="b" * 64,
        )
    check_restart_matches(info, "r.nc", soil_model="mimics", icycle=2, **kw)
