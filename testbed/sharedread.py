"""Chunk tasks of one process share each read of a met year (classic files, :mod:`testbed.ncclassic`).

A chunk's cells are a range of longitudes spread over every latitude row, so every task reads every page of every
(lat, lon) plane of the year it needs: two worker threads of one process copied each year from the page cache twice
(docs/performance.md, "Each task's share of the met read"). Here the first task to need a (file, year) opens a
*job* for it, for itself and for every other task of the process whose next read is the same and who is not in
another job. The job (a :class:`~testbed.forcing.ClassicYear`) is cut into units (a variable's planes,
:data:`PLANES_PER_UNIT` at a time); each unit is read once and gathered for every task of the job. Every task of the
job that arrives works off units until none is left, then waits for the units under way; so the copy is made once
and its work is split between the tasks that need it, and a task that arrives late finds its values ready. The
values are the file's, bit for bit, whoever reads them.

Tasks in other processes (worker processes, a cluster) read for themselves, as before.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np

from .forcing import ClassicYear, YearBuffers
from .metformat import DAYS_PER_YEAR

if TYPE_CHECKING:
    from .forcing import MetFile

#: planes of the file per unit of work (a 2-D variable's year is one unit, a layered one six)
PLANES_PER_UNIT = DAYS_PER_YEAR

_cond = threading.Condition()
_members: list[Member] = []


class _Job(ClassicYear):
    """One read of a (file, year) for several tasks, and who takes part: ``entries`` = (task, its buffer set)."""

    def __init__(self, met: MetFile, year_index: int, entries: list[tuple[Member, int]]) -> None:
        targets = [(met.points(m.cells), m.sets[s]) for m, s in entries]
        super().__init__(met, year_index, targets, PLANES_PER_UNIT)
        self.entries = entries
        self.taken = self.finished = 0
        self.failed = False

    def values_of(self, member: Member) -> dict[str, np.ndarray]:
        return self.values(next(k for k, (m, _) in enumerate(self.entries) if m is member))

    @property
    def done(self) -> bool:
        return self.finished == len(self.units)


class Member:
    """One chunk task's reads: its cells and the (file, year) of each read to come, in order."""

    def __init__(self, cells: slice | np.ndarray, items: Sequence[tuple[str, int]], buffers: YearBuffers) -> None:
        self.cells = cells
        self.items = list(items)
        self.pos = 0  #: index in ``items`` of the next read
        self.sets = [buffers, YearBuffers()]  #: the current year's buffers and the spare ones (allocated when used)
        self.cur = 0
        self.job: _Job | None = None  #: the job that reads this task's next item
        self.busy = False  #: in :meth:`read` (its buffers are spoken for)
        self.shared = 0  #: reads whose job another task opened (for tests and traces)

    def _free_for(self, item: tuple[str, int]) -> bool:
        return not self.busy and self.job is None and self.pos < len(self.items) and self.items[self.pos] == item

    def read(self, met: MetFile, year_index: int) -> dict[str, np.ndarray]:
        """The year's raw values for this task's cells (as :meth:`MetFile._read_raw` returns them)."""
        item = (str(met.path), year_index)
        with _cond:
            self.busy = True
            try:
                job = self._work(met, item)
                if job is not None:
                    self.cur = next(s for m, s in job.entries if m is self)
                    self.pos += 1
                    return job.values_of(self)
                self.items = self.items[: self.pos]  # another task's unit failed: read alone from here on
            finally:
                self.busy = False
        return met.read_classic(year_index, met.points(self.cells), self.sets[self.cur])

    def _work(self, met: MetFile, item: tuple[str, int]) -> _Job | None:
        """Open or join the job of ``item``, work off its units and wait for it (holding the lock, except while
        a unit is read); the job, or None when another task's unit failed."""
        job, self.job = self.job, None
        if job is not None and (str(job.met.path), job.year_index) != item:
            job = None  # a read out of the announced order: read alone from here on
            self.items = self.items[: self.pos]
        if job is None:
            # this task's values go into its current buffers (its kernel is not using them: it is here); the
            # others' into their spare ones (their kernels may be using the current ones)
            others = [m for m in _members if m is not self and m._free_for(item)]
            job = _Job(met, item[1], [(self, self.cur)] + [(m, m.cur ^ 1) for m in others])
            for m in others:
                m.job = job
        else:
            self.shared += 1
        while not job.failed and job.taken < len(job.units):
            unit = job.units[job.taken]
            job.taken += 1
            _cond.release()
            try:
                job.run(unit)
            except BaseException:
                job.failed = True
                raise
            finally:
                _cond.acquire()
                job.finished += 1
                _cond.notify_all()
        while not (job.failed or job.done):
            _cond.wait()
        return None if job.failed else job


@contextmanager
def member(cells: slice | np.ndarray, items: Sequence[tuple[str, int]], buffers: YearBuffers) -> Iterator[Member]:
    """This task's membership for the reads ``items`` ((met path, year index) in order) of cells ``cells``."""
    m = Member(cells, items, buffers)
    with _cond:
        _members.append(m)
    try:
        yield m
    finally:
        with _cond:
            _members.remove(m)
