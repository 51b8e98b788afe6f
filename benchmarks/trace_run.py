"""Where a `testbed run` spends its wall time, per thread: a timeline of its steps and of every chunk task.

    .venv/bin/python benchmarks/trace_run.py NAMELIST [--workers N] [--json OUT]

Runs ``testbed run NAMELIST --overwrite -q`` in this process with time stamps (wall start and end,
``time.thread_time`` CPU) around the driver's steps (imports, validation, cluster start, output writes,
checkpoint, final outputs) and, in each chunk task, around its met reads, value checks, kernel calls and
budget checks. For each task it also reads the thread's scheduler statistics (/proc/self/task/TID/schedstat):
time running, time runnable but waiting for a CPU, and the rest of its wall time, blocked (on the GIL, a lock
or I/O). It also counts the acquisitions of the NetCDF lock per thread and gives the CPU of every thread
during the run. docs/performance.md quotes it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import threading
import time
from collections import defaultdict

T0 = time.perf_counter()
EVENTS: list[dict] = []
_LOCK = threading.Lock()


def record(name: str, t0: float, c0: float, **extra) -> None:
    with _LOCK:
        EVENTS.append(
            {
                "name": name,
                "thread": threading.current_thread().name,
                "t0": t0 - T0,
                "t1": time.perf_counter() - T0,
                "cpu": time.thread_time() - c0,
                **extra,
            }
        )


def schedstat(tid: int | None = None) -> tuple[float, float]:
    """Seconds a thread has run, and waited runnable for a CPU (Linux schedstat)."""
    with open(f"/proc/self/task/{tid or threading.get_native_id()}/schedstat") as f:
        run, wait, _ = f.read().split()
    return int(run) / 1e9, int(wait) / 1e9


def threads() -> dict[str, tuple[float, float]]:
    out = {}
    for t in threading.enumerate():
        with contextlib.suppress(OSError, TypeError):
            out[t.name] = schedstat(t.native_id)
    return out


def timed(obj, attr: str, name: str, classmethod_: bool = False) -> None:
    func = getattr(obj, attr)
    func = func.__func__ if classmethod_ else func

    def wrapper(*args, **kwargs):
        t0, c0 = time.perf_counter(), time.thread_time()
        try:
            return func(*args, **kwargs)
        finally:
            record(name, t0, c0)

    setattr(obj, attr, classmethod(wrapper) if classmethod_ else wrapper)


_RUN_CHUNK = None


def _traced_chunk(*args, **kwargs):
    s0 = schedstat()
    t0, c0 = time.perf_counter(), time.thread_time()
    try:
        return _RUN_CHUNK(*args, **kwargs)
    finally:
        s1 = schedstat()
        record("task", t0, c0, run=s1[0] - s0[0], wait=s1[1] - s0[1])


def traced_chunk(*args, **kwargs):
    """The chunk task (looked up at call time: dask pickles the task by value and this module is __main__)."""
    import sys

    return sys.modules["__main__"]._traced_chunk(*args, **kwargs)


def instrument() -> None:
    global _RUN_CHUNK
    t0, c0 = time.perf_counter(), time.thread_time()
    import testbed.cli  # noqa: F401
    import testbed.forcing as forcing
    import testbed.kernel as kernel
    import testbed.run as run
    import testbed.runner as runner
    import testbed.runner.segments as segments
    from testbed import nclock

    record("import testbed", t0, c0)
    timed(forcing.MetFile, "open", "met open", classmethod_=True)
    timed(forcing.MetFile, "_read_raw", "met read")
    timed(forcing.MetFile, "_check_raw", "value check")
    timed(kernel, "advance", "kernel")
    timed(run, "budget_residuals", "budget")
    for attr, name in (
        ("prepare", "validation (prepare)"),
        ("write_segment", "segment outputs"),
        ("write_restart", "checkpoint"),
        ("finish", "final outputs"),
        ("check_met_values", "separate value scan"),
    ):
        timed(runner, attr, name)
    _RUN_CHUNK, segments.run_chunk = segments.run_chunk, traced_chunk

    client = runner.dask_client

    @contextlib.contextmanager
    def dask_client(*args, **kwargs):
        t0, c0 = time.perf_counter(), time.thread_time()
        with client(*args, **kwargs) as c:
            record("cluster start", t0, c0)
            before = threads()
            yield c
            record("run phase", T0, 0.0, before=before, after=threads())
            t0, c0 = time.perf_counter(), time.thread_time()
        record("cluster stop", t0, c0)

    runner.dask_client = dask_client
    real = nclock._LOCK

    class CountedLock:
        def acquire(self, *args, **kwargs):
            t0 = time.perf_counter()
            ok = real.acquire(*args, **kwargs)
            record("netcdf lock wait", t0, time.thread_time())
            return ok

        def release(self) -> None:
            real.release()

        def __enter__(self):
            self.acquire()
            return self

        def __exit__(self, *exc) -> None:
            self.release()

    nclock._LOCK = CountedLock()


def report(data: dict) -> None:
    ev = data["events"]
    print(f"load average {' / '.join(f'{x:.2f}' for x in data['load'])}; command {data['main']:.2f} s wall")
    tasks = [e for e in ev if e["name"] == "task"]
    for t in tasks:
        wall = t["t1"] - t["t0"]
        print(
            f"task [{t['thread']}] {t['t0']:.2f}-{t['t1']:.2f} s: wall {wall:.2f}, CPU {t['cpu']:.2f}; running "
            f"{t['run']:.2f}, waiting for a CPU {t['wait']:.2f}, blocked (GIL, locks, I/O) "
            f"{wall - t['run'] - t['wait']:.2f}"
        )
        sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
        for e in ev:
            if e["thread"] == t["thread"] and t["t0"] <= e["t0"] <= t["t1"] and e["name"] != "task":
                s = sums[e["name"]]
                s[0], s[1], s[2] = s[0] + e["t1"] - e["t0"], s[1] + e["cpu"], s[2] + 1
        for name, (w, c, n) in sorted(sums.items()):
            print(f"    {name:18s} x{n:<3d} wall {w:6.2f}  CPU {c:6.2f}")
    if len(tasks) > 1:
        start, end = max(t["t0"] for t in tasks), min(t["t1"] for t in tasks)
        union = max(t["t1"] for t in tasks) - min(t["t0"] for t in tasks)
        print(f"all tasks running together: {max(0.0, end - start):.2f} s of {union:.2f} s")
    print("driver steps (main thread):")
    for e in ev:
        if e["thread"] == "MainThread" and e["name"] not in ("netcdf lock wait", "met open", "run phase"):
            w = e["t1"] - e["t0"]
            print(f"    {e['name']:20s} {e['t0']:6.2f}-{e['t1']:6.2f} s  wall {w:5.2f}  CPU {e['cpu']:5.2f}")
    for e in ev:
        if e["name"] == "run phase":
            print("CPU of each thread during the run (running / waiting for a CPU, s):")
            for name, (r, w) in e["after"].items():
                r0, w0 = e["before"].get(name, (0.0, 0.0))
                print(f"    {name:36s} {r - r0:6.2f} / {w - w0:6.2f}")
    locks: dict[str, int] = defaultdict(int)
    for e in ev:
        if e["name"] == "netcdf lock wait":
            locks[e["thread"]] += 1
    print("NetCDF lock acquisitions:", dict(locks))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("namelist")
    p.add_argument("--workers", default=None)
    p.add_argument("--json", default=None, help="also write the events here")
    args = p.parse_args()
    instrument()
    import testbed.cli

    argv = ["run", args.namelist, "--overwrite", "-q"] + (["--workers", args.workers] if args.workers else [])
    t0 = time.perf_counter()
    rc = testbed.cli.main(argv)
    data = {"events": EVENTS, "main": time.perf_counter() - t0, "load": os.getloadavg(), "rc": rc}
    report(data)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(data, f)
    sys.exit(rc)


if __name__ == "__main__":
    main()
