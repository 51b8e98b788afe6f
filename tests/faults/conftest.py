"""Shared pieces of the fault-injection tests: a small domain, a reference run, runs in a subprocess."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from testbed.cli import main
from testbed.forcing_tools.synthetic import make_synthetic_domain
from testbed.state import read_restart
from tests.test_runner import write_namelist

#: a run of 9 simulated years, a checkpoint and a daily file after each, two chunks on two workers
SETTINGS = ("run.cycles=3", "run.checkpoint_interval=1", "run.daily_output=true", "parallel.chunk_size=6")
WORKERS = ("--workers", "2", "-q")
#: seed of every random choice of a fault's moment (the tests print the draws they used)
SEED = 20261201


@pytest.fixture(scope="session")
def domain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("faults_domain")
    make_synthetic_domain(out / "forcing", ncell=12, years=range(1901, 1904), seed=11, per_year=True, multi_year=True)
    return out


@pytest.fixture(scope="session")
def reference(domain: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output folder of the uninterrupted run every resumed run must equal bit for bit."""
    folder = tmp_path_factory.mktemp("faults_reference")
    assert main(["run", str(write_namelist(folder, domain, *SETTINGS)), *WORKERS]) == 0
    return folder / "out"


def start(nml: Path, *args: str) -> subprocess.Popen:
    """``testbed run NML`` in its own process group (so a test can signal it and its workers)."""
    return subprocess.Popen(
        [sys.executable, "-m", "testbed.cli", "run", str(nml), *WORKERS, *args],
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def checkpoint_step(out: Path) -> int:
    """Years done according to the checkpoint (0 when there is none or it is being replaced)."""
    try:
        _, info = read_restart(out / "checkpoint.nc")
        return int(info.extra["next_step"])
    except Exception:  # absent, or replaced this instant
        return 0


def wait_for(proc: subprocess.Popen, condition, timeout: float = 120.0) -> bool:
    """Poll ``condition()`` until it holds (True) or the process ends or the time is up (False)."""
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if condition():
            return True
        time.sleep(0.02)
    return False


def finish(proc: subprocess.Popen, timeout: float = 60.0) -> tuple[int, str]:
    """Wait for the process; returns its exit code and stderr. Kills its group if it hangs."""
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
        pytest.fail(f"the run did not stop within {timeout} s: {err[-2000:]}")
    return proc.returncode, err


@contextlib.contextmanager
def cleanup(proc: subprocess.Popen) -> Iterator[subprocess.Popen]:
    """Never leave a run or its workers behind, whatever the test does."""
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def workers_of(pid: int) -> list[psutil.Process]:
    """The dask worker processes of a run (children started by multiprocessing's spawn)."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    out = []
    for p in children:
        with contextlib.suppress(psutil.Error):
            if "spawn_main" in " ".join(p.cmdline()):
                out.append(p)
    return out


def temporaries(out: Path) -> list[Path]:
    return sorted(out.glob(".*.tmp"))
