"""Provenance: package version and git state in every output, ``testbed --version``, restart warnings."""

from __future__ import annotations

import importlib.metadata
import json
import logging
import subprocess
from pathlib import Path

import netCDF4
import numpy as np
import pytest

from testbed import analysis as an
from testbed import kernel, layout, provenance
from testbed.cli import main
from testbed.output import CellInfo, annual_columns, annual_data, daily_data, variables_for
from testbed.state import RestartInfo, read_restart, write_restart

from .conftest import REPO
from .test_analysis import make_run


def _git(*args: str) -> str | None:
    try:
        return subprocess.run(
            ["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def _cells(n: int = 3) -> CellInfo:
    return CellInfo(
        lat=np.linspace(-10, 10, n), lon=np.zeros(n), area=np.ones(n), pft=np.ones(n, int), cellid=np.arange(1, n + 1)
    )


def test_version_comes_from_the_installed_package_and_git() -> None:
    attrs = provenance.attributes()
    assert attrs[provenance.VERSION] == importlib.metadata.version("testbed")
    assert attrs[provenance.KERNEL] == kernel.BUILD
    head = _git("rev-parse", "HEAD")
    if head is None or Path(_git("rev-parse", "--show-toplevel") or "").resolve() != REPO:
        pytest.skip("not running from a git checkout")
    assert attrs[provenance.COMMIT] == head
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    assert attrs[provenance.DIRTY] == ("true" if dirty else "false")


def test_outside_a_git_checkout_only_the_version_is_recorded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(provenance, "_SOURCE", tmp_path)
    provenance.git_state.cache_clear()
    try:
        assert provenance.git_state() is None
        assert set(provenance.attributes()) == {provenance.VERSION, provenance.KERNEL}
        assert provenance.describe() == f"testbed {provenance.version()}"
    finally:
        provenance.git_state.cache_clear()


def test_describe_and_mismatch() -> None:
    a = {provenance.VERSION: "1.2.3", provenance.COMMIT: "0123456789abcdef0123", provenance.DIRTY: "true"}
    assert provenance.describe(a) == "testbed 1.2.3 (git 0123456789ab, dirty)"
    assert provenance.describe(a, full=True) == "testbed 1.2.3 (git 0123456789abcdef0123, dirty)"
    assert provenance.mismatch(provenance.attributes()) is None
    assert "written by testbed 1.2.3" in provenance.mismatch(a)
    assert "without provenance" in provenance.mismatch({})
    ours = provenance.attributes()
    if provenance.COMMIT in ours:
        other_commit = {**ours, provenance.COMMIT: "f" * 40}
        assert provenance.mismatch(other_commit) is not None


def test_cli_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    out = capsys.readouterr().out.strip()
    assert out == provenance.describe(full=True) and provenance.version() in out
    if provenance.git_state():
        assert provenance.git_state()[0] in out


def test_datasets_carry_provenance() -> None:
    n = 3
    columns = [annual_columns(np.zeros((n, layout.NDIAG)), "casa", 2)]
    annual = annual_data(columns, [1901], _cells(n), "casa", 2).to_xarray()
    daily = daily_data(np.zeros((n, len(variables_for("casa", 2)), 2), np.float32), 1901, _cells(n), "casa", 2)
    daily = daily.to_xarray()
    for ds in (annual, daily):
        for k, v in provenance.attributes().items():
            assert ds.attrs[k] == v
        assert ds.attrs["source"] == provenance.describe()


def test_restart_records_provenance_and_warns_when_read_by_another_version(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "restart.nc"
    state = np.asfortranarray(np.ones((2, layout.NSTATE)))
    write_restart(path, state, RestartInfo("casa", 2, 1, "a" * 64, "b" * 64, np.arange(1, 3)))
    with netCDF4.Dataset(path) as ds:
        assert ds.getncattr(provenance.VERSION) == provenance.version()
    with caplog.at_level(logging.WARNING, logger="testbed"):
        read_restart(path)
    assert not caplog.records
    with netCDF4.Dataset(path, "a") as ds:
        ds.setncattr(provenance.VERSION, "0.0.1")
    with caplog.at_level(logging.WARNING, logger="testbed"):
        again, info = read_restart(path)
    assert np.array_equal(again, state)  # read all the same
    assert "written by testbed 0.0.1" in caplog.text and provenance.describe() in caplog.text
    assert info.extra[provenance.VERSION] == "0.0.1"


def test_summary_provenance_sidecar(tmp_path: Path) -> None:
    runs = {"mimics_cn": make_run("mimics", "cn"), "mimics_c": make_run("mimics", "c")}
    runs["mimics_cn"].attrs.update({provenance.VERSION: "9.9", provenance.COMMIT: "abc", provenance.DIRTY: "false"})
    csv, _ = an.write_summary(an.summary_table(runs), tmp_path / "summary")
    side = json.loads((tmp_path / "summary.provenance.json").read_text())
    assert side["table"] == csv.name and side["written_by"] == provenance.attributes()
    assert side["runs"] == {
        "mimics_cn": {provenance.VERSION: "9.9", provenance.COMMIT: "abc", provenance.DIRTY: "false"},
        "mimics_c": {},
    }
    assert not csv.read_text().startswith("#")  # the CSV itself stays plain
