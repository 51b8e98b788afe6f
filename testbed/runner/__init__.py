"""Runs from a namelist, in three parts: the output folder and resume (:mod:`.folder`), the dask segment
scheduler (:mod:`.segments`) and output assembly (:mod:`.assembly`); :mod:`.plan` validates the inputs.

After each segment of years the driver writes the segment's outputs and a checkpoint, so a killed run
resumes from it and ends bit-identical to an uninterrupted one. Every fault that stops a run (Ctrl-C,
SIGTERM, a full disk, a folder that cannot be written, a dask worker lost twice) ends in a
:class:`~testbed.errors.RunAborted` that says what happened, what was kept and the command that resumes.
"""

from __future__ import annotations

import contextlib
import errno
import json
import shlex
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import numpy as np

from .. import fingerprint, kernel
from ..errors import InputError, RunAborted
from ..nclock import netcdf_lock
from ..state import read_restart, write_restart
from .assembly import (
    cell_info,
    expected_output_bytes,
    finish,
    input_files,
    log_negative_pools,
    output_attrs,
    restart_info,
    write_segment,
)
from .folder import CHECKPOINT, OutputFolder
from .plan import Plan, build_model, initial_state, prepare, schedule
from .segments import (
    cell_chunks,
    check_met_values,
    chunk_slices_for,
    dask_client,
    first_pass_end,
    run_chunk,
    run_segments,
    worst,
)

__all__ = [
    "CHECKPOINT",
    "Plan",
    "build_model",
    "cell_chunks",
    "dask_client",
    "execute",
    "initial_state",
    "prepare",
    "run_chunk",
    "schedule",
]


class Terminated(BaseException):
    """SIGTERM arrived (raised in the main thread by the handler installed during a run)."""


class _Signals:
    """SIGINT and SIGTERM during a run: raised in the main thread at once, except while outputs are being
    written (an exception raised inside the NetCDF library can leave it hung), then right after."""

    def __init__(self) -> None:
        self.depth = 0
        self.pending: BaseException | None = None
        #: the exception the handler raised last: a handler that runs inside a finaliser (e.g. a dask Future's
        #: ``__del__`` during garbage collection) has its exception printed and dropped by Python, so the next
        #: write block raises it again
        self.raised: BaseException | None = None
        self.previous_hook = sys.unraisablehook

    def handler(self, signum: int, frame: object) -> None:
        exc = KeyboardInterrupt() if signum == signal.SIGINT else Terminated()
        if self.depth:
            self.pending = self.pending or exc
            return
        self.raised = exc
        raise exc

    def delivered(self) -> None:
        """The run has stopped on the signal: nothing is left to raise."""
        self.pending = self.raised = None

    @contextlib.contextmanager
    def writing(self, last: bool = False) -> Iterator[None]:
        """A block that a signal does not interrupt; a signal that arrived meanwhile is raised at its end
        (unless the block was the ``last`` one: then the run is complete and the signal is ignored)."""
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
        if last:
            self.delivered()
        exc = self.pending or self.raised
        if not self.depth and exc is not None:
            self.delivered()
            raise exc

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {s: signal.signal(s, self.handler) for s in (signal.SIGINT, signal.SIGTERM)}
        self.previous_hook, sys.unraisablehook = sys.unraisablehook, self.unraisable
        try:
            yield
        finally:
            sys.unraisablehook = self.previous_hook
            for s, h in previous.items():
                signal.signal(s, h)

    def unraisable(self, info: object) -> None:
        """sys.unraisablehook during a run: the handler's own exception, dropped by a finaliser, is not printed
        ("Exception ignored in ..." before the run's one sentence); the next write block raises it again."""
        if getattr(info, "exc_value", None) is not None and info.exc_value is self.raised:  # type: ignore[attr-defined]
            return
        self.previous_hook(info)


T = TypeVar("T")


def _kept(folder: OutputFolder, plan: Plan) -> str:
    """What a stopped run leaves that a resume continues from."""
    if not folder.checkpoint.exists():
        return "nothing was kept (no year had finished)"
    try:
        with netcdf_lock():  # worker threads of the stopped run may still be reading a met file
            _, info = read_restart(folder.checkpoint)
        done = int(info.extra["next_step"])
    except (InputError, KeyError, ValueError):
        return f"the last checkpoint ({folder.checkpoint}) was kept"
    last = plan.steps[done - 1]
    return (
        f"kept: the checkpoint after simulated year {last.count} ({done} of {len(plan.steps)} years) and the "
        f"outputs up to it"
    )


def _again(command: str, folder: OutputFolder) -> str:
    """The command that continues a stopped run: a resume, or a fresh start when no checkpoint was kept."""
    words = [a for a in command.split() if a not in ("--resume", "--overwrite")]
    if folder.checkpoint.exists():
        return "Resume with: " + " ".join([*words, "--resume"])
    return "Run again with: " + " ".join([*words, "--overwrite"])


#: a NetCDF error or EACCES with less free space than this in the output folder is taken for a full disk
NEARLY_FULL = 64 * 2**20


def _what(exc: BaseException, folder: OutputFolder | None = None) -> str | None:
    """A sentence for a fault that stops a run, or None for errors that are not faults."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (Ctrl-C / SIGINT)"
    if isinstance(exc, Terminated):
        return "terminated (SIGTERM)"
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"the disk is full: cannot write {exc.filename or 'an output file'}; free some space"
    netcdf = isinstance(exc, (RuntimeError, OSError)) and "NetCDF:" in str(exc)
    denied = isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM)
    if (netcdf or denied) and folder is not None:
        # the NetCDF library reports a full disk as "HDF error" or, creating a file, as EACCES
        with contextlib.suppress(OSError):
            free = shutil.disk_usage(folder.root).free
            if free < NEARLY_FULL:
                where = getattr(exc, "filename", None) or "an output file"
                why = getattr(exc, "strerror", None) or str(exc)
                return f"the disk is full ({free / 2**20:.1f} MiB free): cannot write {where} ({why}); free some space"
    if isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"cannot write {exc.filename or 'to the output folder'}: {exc.strerror}"
    if type(exc).__name__ == "KilledWorker":
        return f"a dask worker died twice running the same chunk of cells ({exc}); check its memory"
    return None


def execute(
    plan: Plan,
    *,
    resume: bool = False,
    overwrite: bool = False,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
    break_lock: bool = False,
    command: str | None = None,
) -> Path:
    """Run a validated plan; returns the output folder.

    ``command`` is the command line that started the run (recorded in the outputs, and the base of the
    resume command printed when a fault stops the run).
    """
    command = command or " ".join(shlex.quote(a) for a in sys.argv)
    return owned_run(
        plan.output_dir,
        command,
        break_lock=break_lock,
        resume=resume,
        body=lambda folder, signals, note: _execute(
            plan,
            folder,
            signals,
            resume=resume,
            overwrite=overwrite,
            workers=workers,
            scheduler=scheduler,
            progress=progress,
            command=command,
            note=note,
        ),
        kept=lambda folder: _kept(folder, plan),
        again=lambda folder: _again(command, folder),
    )


def owned_run(
    output_dir: Path,
    command: str,
    *,
    break_lock: bool,
    resume: bool,
    body: Callable[[OutputFolder, _Signals, str | None], T],
    kept: Callable[[OutputFolder], str],
    again: Callable[[OutputFolder], str],
) -> T:
    """Run ``body(folder, signals, note)`` owning the output folder (its lock) with the fault handling of
    every long command (docs/reliability.md "Faults"): SIGINT, SIGTERM, a full or unwritable disk or a dask
    worker lost twice stop it with :class:`RunAborted` and one sentence: what happened, ``kept(folder)``
    (what a resume continues from) and ``again(folder)`` (the command that resumes). A folder the call
    created and left empty is removed.
    """
    folder = OutputFolder(output_dir)
    created = not folder.root.exists()
    try:
        note = folder.acquire(command, break_lock=break_lock, resume=resume)
    except FileNotFoundError as exc:
        raise InputError(f"cannot create the output folder ({exc.strerror})", path=folder.root) from None
    except OSError as exc:
        raise RunAborted(f"{_what(exc) or exc}; nothing was written") from None
    signals = _Signals()
    try:
        with signals.installed():
            if note:
                print(f"testbed: {note}", file=sys.stderr)
            return body(folder, signals, note)
    except (KeyboardInterrupt, Terminated, OSError, Exception) as exc:
        what = _what(exc, folder)
        if what is None:
            raise
        signals.delivered()
        with signals.writing(), contextlib.suppress(OSError):
            # best effort: a folder that turned read-only or vanished keeps them, and the resume removes them
            folder.remove_temporaries()
        raise RunAborted(f"{what}. {kept(folder)}. {again(folder)}") from exc
    finally:
        folder.release()
        if created and folder.root.is_dir() and not any(folder.root.iterdir()):
            folder.root.rmdir()  # refused before anything was written: leave no empty folder behind


def _refuse_changed_inputs(folder: OutputFolder, extra: dict, prints: dict[str, str]) -> None:
    changed = fingerprint.changed(str(extra.get("inputs_fingerprint", "")), prints)
    if changed:
        raise InputError(
            "cannot be resumed: these inputs changed since the run started: "
            + "; ".join(changed)
            + ". Restore them, or run again with --overwrite",
            path=folder.checkpoint,
        )


def _execute(
    plan: Plan,
    folder: OutputFolder,
    signals: _Signals,
    *,
    resume: bool,
    overwrite: bool,
    workers: int | None,
    scheduler: str | None,
    progress: bool,
    command: str,
    note: str = "",
) -> Path:
    cfg, model = plan.config, plan.model
    inputs = input_files(plan)
    prints = fingerprint.inputs(inputs, plan.met_files, model.parameter_hashes)
    all_inputs = [*inputs.values(), *plan.met_files]
    if resume and folder.checkpoint.exists():  # refuse before starting the workers
        _refuse_changed_inputs(folder, read_restart(folder.checkpoint)[1].extra or {}, prints)
    if not resume:
        folder.check_space(expected_output_bytes(plan))  # before anything is written
    state, start_index, runlog, extra = folder.prepare(
        cfg, plan.state, resume=resume, overwrite=overwrite, inputs=all_inputs
    )
    try:
        with dask_client(cfg, workers, scheduler) as client:
            return _run(
                plan,
                folder,
                signals,
                client,
                state,
                start_index,
                runlog,
                all_inputs,
                resume=resume,
                progress=progress,
                command=command,
                note=note,
                prints=prints,
            )
    finally:
        folder.abandon(resume)


def _run(
    plan: Plan,
    folder: OutputFolder,
    signals: _Signals,
    client,
    state: np.ndarray,
    start_index: int,
    runlog,
    inputs: list[Path],
    *,
    resume: bool,
    progress: bool,
    command: str,
    note: str,
    prints: dict[str, str],
) -> Path:
    cfg, model = plan.config, plan.model
    interval = cfg.get("run.checkpoint_interval")
    chunk_slices = chunk_slices_for(client, plan)
    first_end = None
    if not resume and not plan.values_checked:  # a resume's inputs were checked when it started, unchanged since
        # every met value is checked before anything is written: as the first segment reads it when that
        # segment can read every met year of the run (each value read once), else in a separate scan
        first_end = first_pass_end(plan, start_index, interval)
        if first_end is None:
            check_met_values(client, plan, chunk_slices)
        runlog.write(
            f"met values checked: {len(plan.met_files)} file(s), {model.ncell} cells"
            + (
                f" (as the first {first_end - start_index} years read them; first checkpoint after them)"
                if first_end is not None
                else ""
            )
        )
    label = f"{model.soil_model.upper()}-{cfg.get('run.cycle').upper()}"
    runlog.write(
        f"testbed run: {label}, {model.ncell} cells, {len(plan.steps)} simulated years"
        + (f", resuming at year {start_index + 1}" if resume else "")
        + f", kernel build {kernel.BUILD}"
        + f"\ncommand: {command}"
    )
    if note:
        runlog.write(note)
    for path in plan.met_files[:3]:
        runlog.write(f"met: {path}")
    attrs = output_attrs(plan, command, prints)
    cells = cell_info(model.domain, model)
    from tqdm import tqdm

    bar = tqdm(
        total=model.ncell * (len(plan.steps) - start_index) * 365,
        unit="cell-day",
        unit_scale=True,
        disable=not progress,
        desc=label.lower(),
        dynamic_ncols=True,
    )
    t_start = time.perf_counter()
    for seg in run_segments(
        client,
        plan,
        state,
        start_index,
        interval,
        folder.parts,
        chunk_slices,
        first_end=first_end,
        on_chunk_done=lambda r, n: bar.update((r.cells.stop - r.cells.start) * n * 365),
    ):
        state = seg.state(model.ncell)
        with signals.writing():  # a segment's files and checkpoint are written whole
            if not folder.committed:
                folder.commit(cfg, runlog, resume=resume, inputs=inputs)
            write_segment(folder, plan, seg, cells, attrs)
            log_negative_pools(runlog, model.domain, seg.results)
            cmax = nmax = 0.0
            for r in seg.results:
                cmax, nmax = worst(cmax, r.max_c_residual), worst(nmax, r.max_n_residual)
            elapsed = time.perf_counter() - t_start
            rate = model.ncell * (seg.end - start_index) * 365 / max(elapsed, 1e-9)
            budget = f"max |C budget residual| {cmax:.2e}" + (
                f", max |N budget residual| {nmax:.2e}" if model.icycle >= 2 else ""
            )
            runlog.write(
                f"years {seg.steps[0].count}-{seg.steps[-1].count} done: {budget} g m-2 yr-1; "
                f"{rate:,.0f} cell-days/s; slowest chunk {max(r.seconds for r in seg.results):.1f} s"
            )
            bar.set_postfix_str(f"year {seg.steps[-1].count}/{plan.steps[-1].count}")
            with netcdf_lock():  # tasks of later segments may be reading met files in threads meanwhile
                write_restart(
                    folder.checkpoint,
                    state,
                    restart_info(model, seg.end),
                    extra={
                        "next_step": np.int32(seg.end),
                        "run_config_sha256": cfg.sha256(),
                        "inputs_fingerprint": json.dumps(prints, sort_keys=True),
                    },
                )
    bar.close()
    with signals.writing(last=True):
        written = finish(folder, plan, state, attrs)
        folder.close()
        elapsed = time.perf_counter() - t_start
        daily = ", daily_*.nc" if cfg.get("run.daily_output") else ""
        rate = model.ncell * (len(plan.steps) - start_index) * 365 / elapsed
        runlog.write(f"finished in {elapsed:.1f} s ({rate:,.0f} cell-days/s); outputs: {', '.join(written)}{daily}")
    return folder.root
