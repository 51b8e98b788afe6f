"""Restart files: ours (NetCDF, full precision) and the original's CSVs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from testbed import layout
from testbed.errors import InputError
from testbed.state import (
    RestartInfo,
    check_restart_matches,
    read_casa_restart_csv,
    read_mimics_restart_csv,
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
    kw = dict(cellid=np.arange(1, 4), casa_sha256="a" * 64, mimics_sha256="b" * 64)
    with pytest.raises(InputError, match="was written by a MIMICS run; this run uses CASA"):
        check_restart_matches(info, "r.nc", soil_model="casa", icycle=2, **kw)
    with pytest.raises(InputError, match="was written by a C\\+N run; this run is C-only"):
        check_restart_matches(info, "r.nc", soil_model="mimics", icycle=1, **kw)
    with pytest.raises(InputError, match="different parameter set"):
        check_restart_matches(info, "r.nc", soil_model="mimics", icycle=2, cellid=np.arange(1, 4),
                              casa_sha256="c" * 64, mimics_sha256="b" * 64)
    with pytest.raises(InputError, match="cells that do not match"):
        check_restart_matches(info, "r.nc", soil_model="mimics", icycle=2, cellid=np.arange(2, 5),
                              casa_sha256="a" * 64, mimics_sha256="b" * 64)
    check_restart_matches(info, "r.nc", soil_model="mimics", icycle=2, **kw)


def test_original_casa_restart_csv(setA: Path) -> None:
    values = read_casa_restart_csv(setA / "casa_cn" / "cold" / "cnppool_end.csv", 12, 2)
    assert values["cwood"][1] == 531.910302 and values["lai"][1] == 0.1 and values["phase"][1] == 0
    assert "nsoilmin" in values
    assert "nsoilmin" not in read_casa_restart_csv(setA / "casa_c" / "cold" / "cnppool_end.csv", 12, 1)


def test_truncated_restart_csv_names_the_row(setA: Path, tmp_path: Path) -> None:
    lines = (setA / "casa_cn" / "cold" / "cnppool_end.csv").read_text().splitlines()
    lines[5] = lines[5][:200]  # row of cell 5 cut mid-line
    (tmp_path / "cnppool_end.csv").write_text("\n".join(lines[:9]) + "\n")
    with pytest.raises(InputError, match=r"has 8 cell rows but the run has 12 cells \(truncated file\?\) \(cell 9\)"):
        read_casa_restart_csv(tmp_path / "cnppool_end.csv", 12, 2)
    with pytest.raises(InputError, match=r"row 5 has \d+ values, a CASA restart row needs 31 .*\(cell 5\)"):
        read_casa_restart_csv(tmp_path / "cnppool_end.csv", 8, 2)


def test_original_mimics_restart_csv(setA: Path) -> None:
    v = read_mimics_restart_csv(setA / "mimics_cn" / "cold" / "mimicspool_end.csv", 12, 2)
    assert v["litm"][1] == 0.2722621915 and v["sompn"][1] == 0.1020292906
