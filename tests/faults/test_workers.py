"""A dask worker killed mid-run: once, the chunk runs again and the run ends bit-identical; repeatedly,
the run stops with the sentence."""

from __future__ import annotations

import contextlib
import io
import re
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

from testbed.cli import main
from testbed.forcing_tools.synthetic import make_synthetic_domain
from tests.test_runner import assert_same_outputs, write_namelist

from .conftest import SETTINGS, checkpoint_step, cleanup, finish, start, temporaries, wait_for, workers_of
from .test_signals import assert_one_sentence

#: workers that can be killed: processes (a local run's default workers are threads of the run's process)
PROCESSES = ("parallel.processes=true",)


@pytest.mark.slow
def test_worker_killed_once_the_run_finishes_bit_identical(domain: Path, reference: Path, tmp_path: Path) -> None:
    nml = write_namelist(tmp_path, domain, *SETTINGS, *PROCESSES)
    out = tmp_path / "out"
    with cleanup(start(nml)) as proc:
        assert wait_for(proc, lambda: checkpoint_step(out) >= 2 and len(workers_of(proc.pid)) == 2)
        victim = workers_of(proc.pid)[0]
        victim.kill()
        code, err = finish(proc, timeout=120)
    assert code == 0, err
    assert not victim.is_running()
    assert temporaries(out) == []
    assert_same_outputs(reference, out)


@pytest.mark.slow
def test_a_daily_part_is_never_seen_half_written(
    domain: Path, reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chunk recomputed after its worker died rewrites its daily part files while the driver may be reading the
    first copy (CI, 2026-12-03: "could only read 91136 elements"): every part appears under its name only whole.
    Each part is written in two halves here, and after the first half no part file under its final name may be
    short."""
    nml = write_namelist(tmp_path, domain, *SETTINGS)
    parts = tmp_path / "out" / ".parts"
    save, halfway = np.save, []

    def in_two_halves(file, arr, *args, **kwargs) -> None:
        buf = io.BytesIO()
        save(buf, arr, *args, **kwargs)
        data = buf.getvalue()
        with contextlib.ExitStack() as stack:
            f = file if hasattr(file, "write") else stack.enter_context(open(file, "wb"))
            f.write(data[: len(data) // 2])
            f.flush()
            halfway.append(sorted(p.name for p in parts.glob("daily_*.npy") if p.stat().st_size < len(data)))
            f.write(data[len(data) // 2 :])

    monkeypatch.setattr(np, "save", in_two_halves)
    assert main(["run", str(nml), "--workers", "1", "-q"]) == 0
    assert len(halfway) >= 3 and all(seen == [] for seen in halfway), halfway
    assert_same_outputs(reference, tmp_path / "out")


@pytest.fixture(scope="module")
def long_domain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """200 cells: a chunk of 100 MIMICS-CN cells takes seconds per 100-year segment, so that a kill lands while the
    chunk runs (the 12-cell domain's tasks take milliseconds: whether two kills hit the same running chunk was
    timing, and the run sometimes finished normally)."""
    out = tmp_path_factory.mktemp("faults_long_domain")
    make_synthetic_domain(out / "forcing", ncell=200, years=range(1901, 1904), seed=11, per_year=False, multi_year=True)
    return out


#: CPU seconds after which a worker process is computing a chunk (its start-up takes 1.5-2 s; a segment about 7)
BUSY_CPU_S = 3.0
#: 3 segments of 100 years, one checkpoint after each, 2 chunks of 100 cells on worker processes
LONG_TASKS = (
    "run.soil_model=mimics",
    "run.cycles=100",
    "run.checkpoint_interval=100",
    "run.output_interval=100",
    "parallel.chunk_size=100",
)


@pytest.mark.slow
def test_worker_killed_repeatedly_stops_the_run_with_the_sentence(long_domain: Path, tmp_path: Path) -> None:
    nml = write_namelist(tmp_path, long_domain, *LONG_TASKS, *PROCESSES)
    out = tmp_path / "out"
    killed = 0
    with cleanup(start(nml)) as proc:
        assert wait_for(proc, lambda: checkpoint_step(out) >= 1)
        deadline = time.time() + 90
        while proc.poll() is None and time.time() < deadline:
            # kill every worker once it computes: only deaths while running a task count, and a worker killed
            # before it connects holds none. Its CPU time says so whatever the machine's load (a worker's start-up
            # takes 1.5-2 s of CPU; a chunk's 100-year segment about 7): killing by age starved a loaded run of
            # workers that had never connected, until the test's deadline
            for w in workers_of(proc.pid):
                with contextlib.suppress(psutil.Error):
                    if sum(w.cpu_times()[:2]) > BUSY_CPU_S:
                        w.kill()
                        killed += 1
            time.sleep(0.05)
        code, err = finish(proc, timeout=30)
    assert killed >= 2
    assert code == 3, err
    assert_one_sentence(err)
    assert re.search(
        r"testbed: stopped: a dask worker died twice running the same chunk of cells .*; check its "
        r"memory\. kept: the checkpoint after simulated year \d+ .*Resume with: testbed run \S+ "
        r"--workers 2 --resume$",
        err.strip(),
    ), err
    assert temporaries(out) == []
