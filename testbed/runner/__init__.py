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
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .. import fingerprint
from ..errors import InputError, RunAborted
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
    check_met_values,
    chunk_slices_for,
    chunks,
    dask_client,
    first_segment_reads_everything,
    run_chunk,
    run_segments,
    worst,
)

__all__ = ["CHECKPOINT", "Plan", "build_model", "chunks", "dask_client", "execute", "initial_state", "prepare",
           "run_chunk", "schedule"]


class Terminated(BaseException):
    """SIGTERM arrived (raised in the main thread by the handler installed during a run)."""


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _kept(folder: OutputFolder, plan: Plan) -> str:
    """What a stopped run leaves that a resume continues from."""
    if not folder.checkpoint.exists():
        return "nothing was kept (no year had finished)"
    try:
        _, info = read_restart(folder.checkpoint)
        done = int(info.extra["next_step"])
    except (InputError, KeyError, ValueError):
        return f"the last checkpoint ({folder.checkpoint}) was kept"
    last = plan.steps[done - 1]
    return (f"kept: the checkpoint after simulated year {last.count} ({done} of {len(plan.steps)} years) and the "
            f"outputs up to it")


def _what(exc: BaseException) -> str | None:
    """A sentence for a fault that stops a run, or None for errors that are not faults."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (Ctrl-C / SIGINT)"
    if isinstance(exc, Terminated):
        return "terminated (SIGTERM)"
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"the disk is full: cannot write {exc.filename or 'an output file'}; free some space"
    if isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"cannot write {exc.filename or 'to the output folder'}: {exc.strerror}"
    if type(exc).__name__ == "KilledWorker":
        return f"a dask worker died twice running the same chunk of cells ({exc}); check its memory"
    return None


def execute(plan: Plan, *, resume: bool = False, overwrite: bool = False, workers: int | None = None,
            scheduler: str | None = None, progress: bool = True, break_lock: bool = False,
            command: str | None = None) -> Path:
    """Run a validated plan; returns the output folder.

    ``command`` is the command line that started the run (recorded in the outputs, and the base of the
    resume command printed when a fault stops the run).
    """
    folder = OutputFolder(plan.output_dir)
    created = not folder.root.exists()
    command = command or " ".join(shlex.quote(a) for a in sys.argv)
    resume_cmd = command if "--resume" in command.split() else f"{command} --resume"
    resume_cmd = " ".join(a for a in resume_cmd.split() if a != "--overwrite")
    try:
        note = folder.acquire(command, break_lock=break_lock, resume=resume)
    except FileNotFoundError as exc:
        raise InputError(f"cannot create the output folder ({exc.strerror})", path=folder.root) from None
    except OSError as exc:
        raise RunAborted(f"{_what(exc) or exc}; nothing was written") from None
    try:
        with _sigterm_raises():
            if note:
                print(f"testbed: {note}", file=sys.stderr)
            return _execute(plan, folder, resume=resume, overwrite=overwrite, workers=workers,
                            scheduler=scheduler, progress=progress, command=command, note=note)
    except (KeyboardInterrupt, Terminated, OSError, Exception) as exc:
        what = _what(exc)
        if what is None:
            raise
        folder.remove_temporaries()
        raise RunAborted(f"{what}. {_kept(folder, plan)}. Resume with: {resume_cmd}") from exc
    finally:
        folder.release()
        if created and folder.root.is_dir() and not any(folder.root.iterdir()):
            folder.root.rmdir()  # refused before anything was written: leave no empty folder behind


def _execute(plan: Plan, folder: OutputFolder, *, resume: bool, overwrite: bool, workers: int | None,
             scheduler: str | None, progress: bool, command: str, note: str = "") -> Path:
    cfg, model = plan.config, plan.model
    inputs = input_files(plan)
    prints = fingerprint.inputs(inputs, plan.met_files, model.parameter_hashes)
    state, start_index, runlog, extra = folder.prepare(cfg, plan.state, resume=resume, overwrite=overwrite)
    try:
        with dask_client(cfg, workers, scheduler) as client:
            return _run(plan, folder, client, state, start_index, runlog, extra, prints,
                        [*inputs.values(), *plan.met_files], resume=resume, progress=progress, command=command,
                        note=note)
    finally:
        folder.abandon(resume)


def _run(plan: Plan, folder: OutputFolder, client, state: np.ndarray, start_index: int, runlog, extra: dict,
         prints: dict[str, str], inputs: list[Path], *, resume: bool, progress: bool, command: str,
         note: str) -> Path:
    cfg, model = plan.config, plan.model
    interval = cfg.get("run.checkpoint_interval")
    chunk_slices = chunk_slices_for(client, plan)
    check_inline = False
    if resume:  # the values were checked when the run started, and the inputs have not changed since
        changed = fingerprint.changed(str(extra.get("inputs_fingerprint", "")), prints)
        if changed:
            raise InputError("cannot be resumed: these inputs changed since the run started: " + "; ".join(changed)
                             + ". Restore them, or run again with --overwrite", path=folder.checkpoint)
    else:
        folder.check_space(expected_output_bytes(plan))
        if not plan.values_checked:
            # every met value is checked before anything is written: as the first segment reads it when that
            # segment reads every met year of the run (each value read once), else in a separate scan
            check_inline = first_segment_reads_everything(plan, start_index, interval)
            if not check_inline:
                check_met_values(client, plan, chunk_slices)
            runlog.write(f"met values checked: {len(plan.met_files)} file(s), {model.ncell} cells"
                         + (" (as the first segment read them)" if check_inline else ""))
    label = f"{model.soil_model.upper()}-{cfg.get('run.cycle').upper()}"
    runlog.write(f"testbed run: {label}, {model.ncell} cells, {len(plan.steps)} simulated years"
                 + (f", resuming at year {start_index + 1}" if resume else "") + f"\ncommand: {command}")
    if note:
        runlog.write(note)
    for path in plan.met_files[:3]:
        runlog.write(f"met: {path}")
    attrs = output_attrs(plan, command, prints)
    cells = cell_info(model.domain, model)
    from tqdm import tqdm

    bar = tqdm(total=model.ncell * (len(plan.steps) - start_index) * 365, unit="cell-day", unit_scale=True,
               disable=not progress, desc=label.lower(), dynamic_ncols=True)
    t_start = time.perf_counter()
    for seg in run_segments(client, plan, state, start_index, interval, folder.parts, chunk_slices,
                            check_first_segment=check_inline,
                            on_chunk_done=lambda r, n: bar.update((r.cells.stop - r.cells.start) * n * 365)):
        if not folder.committed:
            folder.commit(cfg, runlog, resume=resume, inputs=inputs)
        state = seg.state(model.ncell)
        write_segment(folder, plan, seg, cells, attrs)
        log_negative_pools(runlog, model.domain, seg.results)
        cmax = nmax = 0.0
        for r in seg.results:
            cmax, nmax = worst(cmax, r.max_c_residual), worst(nmax, r.max_n_residual)
        elapsed = time.perf_counter() - t_start
        rate = model.ncell * (seg.end - start_index) * 365 / max(elapsed, 1e-9)
        budget = f"max |C budget residual| {cmax:.2e}" + (
            f", max |N budget residual| {nmax:.2e}" if model.icycle >= 2 else "")
        runlog.write(f"years {seg.steps[0].count}-{seg.steps[-1].count} done: {budget} g m-2 yr-1; "
                     f"{rate:,.0f} cell-days/s; slowest chunk {max(r.seconds for r in seg.results):.1f} s")
        bar.set_postfix_str(f"year {seg.steps[-1].count}/{plan.steps[-1].count}")
        write_restart(folder.checkpoint, state, restart_info(model, seg.end),
                      extra={"next_step": np.int32(seg.end), "run_config_sha256": cfg.sha256(),
                             "inputs_fingerprint": json.dumps(prints, sort_keys=True)})
    bar.close()
    written = finish(folder, plan, state, attrs)
    folder.close()
    elapsed = time.perf_counter() - t_start
    daily = ", daily_*.nc" if cfg.get("run.daily_output") else ""
    runlog.write(f"finished in {elapsed:.1f} s ({model.ncell * (len(plan.steps) - start_index) * 365 / elapsed:,.0f} "
                 f"cell-days/s); outputs: {', '.join(written)}{daily}")
    return folder.root
