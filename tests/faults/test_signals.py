"""SIGTERM, SIGINT and SIGKILL at random moments of a run: the sentence, nothing lost, a bit-identical resume."""

from __future__ import annotations

import os
import random
import re
import shlex
import signal
import time
from pathlib import Path

import netCDF4
import numpy as np
import pytest

from testbed.cli import main
from tests.test_runner import assert_same_outputs, write_namelist

from .conftest import SEED, SETTINGS, checkpoint_step, cleanup, finish, start, temporaries, wait_for

SENTENCE = re.compile(
    r"^testbed: stopped: (?P<what>.+?)\. (?P<kept>(?:nothing was )?kept[^\n]*?)\. "
    r"(?:Resume|Run again) with: (?P<cmd>testbed run .*)$",
    re.MULTILINE,
)
WHAT = {signal.SIGTERM: "terminated (SIGTERM)", signal.SIGINT: "interrupted (Ctrl-C / SIGINT)"}
#: SIGTERM goes to the run's process (``kill PID``); Ctrl-C and SIGKILL to its whole process group
TO_GROUP = {signal.SIGTERM: False, signal.SIGINT: True, signal.SIGKILL: True}


def assert_one_sentence(err: str) -> None:
    """stderr holds the stop sentence and nothing else (no traceback, no worker or library noise)."""
    lines = [line for line in err.strip().splitlines() if not line.startswith("validating inputs of ")]
    assert len(lines) == 1 and SENTENCE.match(lines[0]), err


def resume_command(err: str) -> list[str]:
    """The arguments of the resume command a stopped run printed (without the leading ``testbed``)."""
    m = SENTENCE.search(err)
    assert m, f"no stop sentence in: {err[-2000:]}"
    words = shlex.split(m["cmd"])
    assert words[:2] == ["testbed", "run"] and Path(words[2]).is_absolute() and words[-1] == "--resume"
    return words[1:]


def interrupt_and_resume(domain: Path, reference: Path, folder: Path, sig: signal.Signals, rng: random.Random) -> None:
    """Signal a run once its checkpoint passed a random year, plus a random part of the time a year takes on
    this machine (measured between its first two checkpoints); check; resume; compare."""
    after, fraction = rng.randint(1, 7), rng.uniform(0.0, 1.0)  # at least 2 of the 9 years remain after 7
    nml = write_namelist(folder, domain, *SETTINGS)
    out = folder / "out"
    with cleanup(start(nml)) as proc:
        assert wait_for(proc, lambda: checkpoint_step(out) >= 1), "no checkpoint"
        first, t_first = checkpoint_step(out), time.perf_counter()
        assert wait_for(proc, lambda: checkpoint_step(out) > first), "the run ended before the fault"
        year = (time.perf_counter() - t_first) / (checkpoint_step(out) - first)
        print(f"{sig.name} after checkpoint {after} + {fraction:.2f} x {year:.3f} s (one year)")
        assert wait_for(proc, lambda: checkpoint_step(out) >= after), "the run ended before the fault"
        time.sleep(fraction * year)
        done = checkpoint_step(out)
        kept = {p.name: load_one(p) for p in sorted(out.glob("daily_*.nc"))[:done]}
        (os.killpg if TO_GROUP[sig] else os.kill)(proc.pid, sig)
        code, err = finish(proc)
    assert not (out / "restart.nc").exists(), "the run finished before the fault"
    years = checkpoint_step(out)
    assert years >= done and (out / "checkpoint.nc").exists()
    for name, data in kept.items():  # nothing written before the fault is lost or changed
        assert load_one(out / name) == data
    if sig == signal.SIGKILL:
        assert code == -signal.SIGKILL
        args = ["run", str(nml), "--workers", "2", "--resume"]
    else:
        assert code == 3, err
        assert_one_sentence(err)
        m = SENTENCE.search(err)
        assert m and m["what"] == WHAT[sig], err
        assert (
            m["kept"] == f"kept: the checkpoint after simulated year {years} ({years} of 9 years) and the "
            "outputs up to it"
        )
        assert temporaries(out) == []
        assert not (out / ".testbed.lock").exists()
        args = resume_command(err)
    assert main([*args, "-q"]) == 0
    assert temporaries(out) == [] and not (out / "checkpoint.nc").exists()
    assert_same_outputs(reference, out)


def load_one(path: Path) -> dict[str, bytes]:
    """Every variable of one output file, as raw bytes."""
    with netCDF4.Dataset(path) as ds:
        ds.set_auto_mask(False)
        return {name: np.asarray(v[:]).tobytes() for name, v in ds.variables.items()}


def test_sigterm_ends_in_the_sentence_and_resumes_bit_identical(domain, reference, tmp_path) -> None:
    interrupt_and_resume(domain, reference, tmp_path, signal.SIGTERM, random.Random(SEED))


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=lambda s: s.name)
@pytest.mark.parametrize("draw", range(3))
def test_signal_at_random_points(domain, reference, tmp_path, sig: signal.Signals, draw: int) -> None:
    interrupt_and_resume(domain, reference, tmp_path, sig, random.Random(f"{SEED}-{sig.name}-{draw}"))


def test_a_signal_whose_exception_a_finaliser_drops_is_raised_at_the_next_write() -> None:
    """A signal handler that runs inside ``__del__`` (seen: a dask Future released during garbage collection)
    raises into a finaliser, where Python prints the exception and drops it; the run must still stop, at the
    end of its next write block, and a run that ends with its last write ignores the signal."""
    import gc

    from testbed.runner import Terminated, _Signals

    signals = _Signals()

    class Finalised:
        def __del__(self) -> None:
            signals.handler(signal.SIGTERM, None)

    Finalised()  # the handler's exception is dropped ("Exception ignored in ...")
    gc.collect()
    with pytest.raises(Terminated):
        with signals.writing():
            pass  # the block itself completes; the signal is raised at its end
    with signals.writing():
        pass  # raised once only
    Finalised()
    gc.collect()
    with signals.writing(last=True):
        pass  # the run is complete: the signal is ignored
    assert signals.raised is None and signals.pending is None


def test_a_run_does_not_print_the_signal_exception_a_finaliser_drops(monkeypatch: pytest.MonkeyPatch) -> None:
    """While a run's handlers are installed, the handler's own exception dropped by a finaliser is not reported
    ("Exception ignored in ..." on stderr before the run's one sentence); any other unraisable exception is."""
    import gc
    import sys

    from testbed.runner import Terminated, _Signals

    seen: list[BaseException] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda info: seen.append(info.exc_value))
    signals = _Signals()

    class Finalised:
        def __del__(self) -> None:
            signals.handler(signal.SIGTERM, None)

    class Broken:
        def __del__(self) -> None:
            raise ValueError("not ours")

    with signals.installed():
        Finalised()
        gc.collect()
        Broken()
        gc.collect()
        with pytest.raises(Terminated):
            with signals.writing():
                pass
    assert [type(e) for e in seen] == [ValueError]
    assert sys.unraisablehook is not signals.unraisable  # restored
