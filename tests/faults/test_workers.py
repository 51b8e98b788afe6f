"""A dask worker killed mid-run: once, the chunk runs again and the run ends bit-identical; repeatedly,
the run stops with the sentence."""

from __future__ import annotations

import contextlib
import re
import time
from pathlib import Path

import psutil
import pytest

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
@pytest.mark.xfail(
    reason="finding: after both workers are killed twice the run neither finishes nor stops "
    "(no KilledWorker within 90 s); not diagnosed yet",
    strict=False,
)
def test_worker_killed_repeatedly_stops_the_run_with_the_sentence(domain: Path, tmp_path: Path) -> None:
    nml = write_namelist(tmp_path, domain, *SETTINGS, *PROCESSES)
    out = tmp_path / "out"
    killed = 0
    with cleanup(start(nml)) as proc:
        assert wait_for(proc, lambda: checkpoint_step(out) >= 1)
        deadline = time.time() + 60
        while proc.poll() is None and time.time() < deadline:
            # kill every worker once it has run for a while (connected, tasks assigned): a worker killed
            # before it connects holds no task, and only deaths while running a task count
            ready = [w for w in workers_of(proc.pid) if time.time() - w.create_time() > 1.5]
            if len(ready) == 2:
                for w in ready:
                    with contextlib.suppress(psutil.Error):
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
