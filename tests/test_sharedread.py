"""Chunk tasks of one process share each read of a met year (testbed/sharedread.py): every task gets exactly the
values of its own read, whatever the timing, and a failed or out-of-order read never gives another task's values."""

from __future__ import annotations

import random
import threading
import time

import numpy as np
import pytest

from testbed import ncclassic, sharedread
from testbed.errors import InputError
from testbed.forcing import MetFile, YearBuffers
from testbed.forcing_tools.synthetic import make_synthetic_domain


@pytest.fixture(scope="module")
def met(tmp_path_factory: pytest.TempPathFactory) -> MetFile:
    tmp = tmp_path_factory.mktemp("shared")
    paths = make_synthetic_domain(tmp, ncell=12, years=[1901, 1902, 1903], seed=8, nc_format="NETCDF3_64BIT_OFFSET")
    return MetFile.open(paths["met_multi"][0])


def _same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k].view(np.uint32), b[k].view(np.uint32)) for k in a)


def _task(met: MetFile, cells: slice, years: list[int], seed: int, got: list, errors: list) -> None:
    rnd = random.Random(seed)
    try:
        items = [(str(met.path), y) for y in years]
        with sharedread.member(cells, items, YearBuffers()) as m:
            for y in years:
                time.sleep(rnd.random() * 0.004)  # the kernel of the previous year
                raw = met._read_raw(y, cells, share=m)
                got.append((cells, y, {k: v.copy() for k, v in raw.items()}))
                time.sleep(rnd.random() * 0.004)
            got.append(("shared", m.shared))
    except BaseException as exc:  # noqa: BLE001 - reported by the test
        errors.append(exc)


@pytest.mark.parametrize("seed", range(4))
def test_tasks_reading_the_same_years_get_their_own_values_and_share_reads(
    met: MetFile, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    monkeypatch.setattr(sharedread, "PLANES_PER_UNIT", 200)  # several units per variable
    years = [0, 1, 2, 0, 1, 2]  # two cycles of the file, as a spin-up's tasks read it
    chunks = [slice(0, 4), slice(4, 9), slice(9, 12)]
    got: list = []
    errors: list = []
    threads = [
        threading.Thread(target=_task, args=(met, c, years, seed * 10 + k, got, errors)) for k, c in enumerate(chunks)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a task never finished its reads"
    assert not errors, errors
    reads = [g for g in got if g[0] != "shared"]
    assert len(reads) == len(chunks) * len(years)
    for cells, y, raw in reads:
        assert _same(raw, met._read_raw(y, cells)), (cells, y)
    assert not sharedread._members  # every task left


def test_lockstep_tasks_share_most_reads(met: MetFile) -> None:
    """Two tasks that reach each year together: one read per year serves both (what the 2-worker run gains)."""
    years = [0, 1, 2]
    barrier = threading.Barrier(2)
    shared = []

    def task(cells: slice) -> None:
        with sharedread.member(cells, [(str(met.path), y) for y in years], YearBuffers()) as m:
            for y in years:
                barrier.wait()
                met._read_raw(y, cells, share=m)
            shared.append(m.shared)

    threads = [threading.Thread(target=task, args=(c,)) for c in (slice(0, 6), slice(6, 12))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sum(shared) == len(years)  # each year: one task opened the job, the other joined it


def test_a_failed_unit_fails_its_task_and_the_other_reads_alone(met: MetFile, monkeypatch: pytest.MonkeyPatch) -> None:
    real = ncclassic.gather_rows
    started = threading.Event()
    calls = {"n": 0}

    def flaky(path, var, first, count, points, outs, r0, r1):
        calls["n"] += 1
        if calls["n"] == 1:
            started.set()
            time.sleep(0.05)  # the other task joins meanwhile
            raise OSError("simulated read error")
        return real(path, var, first, count, points, outs, r0, r1)

    monkeypatch.setattr(ncclassic, "gather_rows", flaky)
    results: dict = {}

    def first() -> None:
        with sharedread.member(slice(0, 6), [(str(met.path), 1)], YearBuffers()) as m:
            try:
                met._read_raw(1, slice(0, 6), share=m)
            except InputError as exc:
                results["first"] = exc

    def second(m: sharedread.Member) -> None:
        started.wait(5)
        results["second"] = met._read_raw(1, slice(6, 12), share=m)

    with sharedread.member(slice(6, 12), [(str(met.path), 1)], YearBuffers()) as m2:
        t1 = threading.Thread(target=first)
        t1.start()
        t2 = threading.Thread(target=second, args=(m2,))
        t2.start()
        t1.join(30)
        t2.join(30)
    assert "simulated read error" in str(results["first"]) and "year 2" in str(results["first"])
    assert _same(results["second"], met._read_raw(1, slice(6, 12)))


def test_a_read_out_of_the_announced_order_reads_alone(met: MetFile) -> None:
    with (
        sharedread.member(slice(0, 6), [(str(met.path), 0), (str(met.path), 1)], YearBuffers()) as a,
        sharedread.member(slice(6, 12), [(str(met.path), 0), (str(met.path), 1)], YearBuffers()) as b,
    ):
        assert _same(met._read_raw(0, slice(0, 6), share=a), met._read_raw(0, slice(0, 6)))
        assert b.job is not None  # a read b's year 0 for it
        assert _same(met._read_raw(2, slice(6, 12), share=b), met._read_raw(2, slice(6, 12)))  # not year 0
        assert _same(met._read_raw(1, slice(0, 6), share=a), met._read_raw(1, slice(0, 6)))
        assert _same(met._read_raw(1, slice(6, 12), share=b), met._read_raw(1, slice(6, 12)))
