"""The output folder of a run: its files, the lock that makes one run its owner, fresh start or resume
from the checkpoint, cleaning up after a previous run, and run.log."""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import TMP_SUFFIX
from ..config import RunConfig
from ..errors import InputError
from ..legacy import pool_csvs
from ..soil import REGISTRY
from ..state import read_restart

CHECKPOINT = "checkpoint.nc"
RESTART = "restart.nc"
ANNUAL = "annual.nc"
PARTS = ".parts"
RUN_LOG = "run.log"
NAMELIST = "namelist.nml"
LOCK = ".testbed.lock"


class RunLog:
    """run.log in the output folder: what the run did, appended as it goes.

    Until :meth:`start` (the run's first results are in), lines are kept in memory, so that a run
    refused for bad input leaves no file behind.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._pending: list[str] | None = []

    def write(self, text: str) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        lines = [f"{stamp}  {line}\n" for line in text.splitlines()]
        if self._pending is not None:
            self._pending.extend(lines)
            return
        with self.path.open("a") as f:
            f.writelines(lines)

    def start(self, fresh: bool) -> None:
        """Write the kept lines to the file (replacing a previous run's log if ``fresh``) and go on appending."""
        pending, self._pending = self._pending or [], None
        with self.path.open("w" if fresh else "a") as f:
            f.writelines(pending)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class OutputFolder:
    """The files of one run's output folder."""

    root: Path

    @property
    def checkpoint(self) -> Path:
        return self.root / CHECKPOINT

    @property
    def restart(self) -> Path:
        return self.root / RESTART

    @property
    def annual(self) -> Path:
        return self.root / ANNUAL

    @property
    def parts(self) -> Path:
        return self.root / PARTS

    @property
    def lock(self) -> Path:
        return self.root / LOCK

    def daily(self, label: int) -> Path:
        return self.root / f"daily_{label:04d}.nc"

    def outputs(self) -> list[Path]:
        """Every file or folder a run writes here (what --overwrite removes), as far as it exists."""
        names = [ANNUAL, RESTART, CHECKPOINT, RUN_LOG, NAMELIST, PARTS]
        names += sorted({spec.file_name for m in REGISTRY.values() for spec in pool_csvs(m)})
        found = [self.root / n for n in names if (self.root / n).exists()]
        found += sorted(self.root.glob("daily_[0-9][0-9][0-9][0-9].nc"))
        return found

    # ----------------------------------------------------------------- lock
    def acquire(self, command: str, break_lock: bool = False, resume: bool = False) -> str:
        """Make this process the folder's owner (``.testbed.lock``), or say who owns it.

        A lock left by a process that is no longer running is broken with ``break_lock``, or by a resume
        on the same host (which continues that run); returns a note saying so ("" otherwise).
        """
        note = ""
        self.root.mkdir(parents=True, exist_ok=True)
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S"),
            "command": command,
        }
        for _ in range(2):
            try:
                fd = os.open(self.lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    other = json.loads(self.lock.read_text())
                except (OSError, ValueError):
                    other = {}
                pid, host = int(other.get("pid", -1)), other.get("host", "?")
                here = host == socket.gethostname()
                running = here and _alive(pid)
                who = f"process {pid} on {host} (started {other.get('started', '?')}: {other.get('command', '?')})"
                if not running and (break_lock or (resume and here)):
                    self.lock.unlink(missing_ok=True)
                    note = f"took over the lock left by {who}, which is no longer running"
                    continue
                if running:
                    raise InputError(
                        f"output folder is in use by {who}; wait for it to finish, or choose another files.output_dir",
                        path=self.root,
                    ) from None
                raise InputError(
                    f"output folder is locked by {who}, which is no longer running (or runs on "
                    "another host); if no run uses this folder, pass --break-lock",
                    path=self.root,
                ) from None
            with os.fdopen(fd, "w") as f:
                json.dump(info, f)
            return note
        raise InputError("could not take the output folder's lock", path=self.lock)

    def release(self) -> None:
        try:
            if json.loads(self.lock.read_text()).get("pid") == os.getpid():
                self.lock.unlink()
        except (OSError, ValueError):
            pass

    # ----------------------------------------------------------------- start
    def remove_temporaries(self) -> list[Path]:
        """Temporary files of interrupted atomic writes (a killed run leaves them); safe to delete."""
        found = [p for p in self.root.glob(f".*{TMP_SUFFIX}") if p.is_file()]
        for p in found:
            p.unlink(missing_ok=True)
        return found

    def _refuse_removing_inputs(self, outputs: Iterable[Path], inputs: Iterable[Path]) -> None:
        protected = {p.resolve() for p in inputs}
        for p in outputs:
            if p.resolve() in protected:
                raise InputError(
                    f"--overwrite would delete {p.name}, which is an input of this run; move the "
                    "input or choose another files.output_dir",
                    path=self.root,
                )

    def remove_previous(self, inputs: Iterable[Path], keep: tuple[str, ...] = ()) -> list[Path]:
        """Remove every output of a previous run (--overwrite), never an input of this run."""
        found = [p for p in self.outputs() if p.name not in keep]
        self._refuse_removing_inputs(found, inputs)  # before removing anything
        removed = []
        for p in found:
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink()
            removed.append(p)
        return removed

    def check_space(self, needed: int) -> None:
        """Refuse to start when the file system has less free space than the run will write."""
        free = shutil.disk_usage(self.root).free
        if free < needed:
            raise InputError(
                f"the run writes about {needed / 1e9:.2f} GB here but only {free / 1e9:.2f} GB are "
                "free; free some space, write fewer outputs (run.output_interval, run.daily_output) "
                "or choose another files.output_dir",
                path=self.root,
            )

    def prepare(
        self, cfg: RunConfig, state: np.ndarray, *, resume: bool, overwrite: bool, inputs: Iterable[Path] = ()
    ) -> tuple[np.ndarray, int, RunLog, dict]:
        """Check the folder for a fresh run or a resume (the caller holds the lock); writes nothing yet.

        Returns the start state, the first step index, the (buffered) log and the checkpoint's attributes
        ({} when starting afresh). A fresh run refuses a folder holding a previous run's outputs unless
        ``overwrite``; a resume continues from the checkpoint, which must have been written with the same
        configuration. The previous outputs are removed by :meth:`commit`, once the new run's first results
        are in, so that a run refused for bad input loses nothing.
        """
        self.remove_temporaries()
        start_index, extra = 0, {}
        if resume:
            if not self.checkpoint.exists():
                raise InputError("no checkpoint to resume from; run without --resume", path=self.checkpoint)
            state, info = read_restart(self.checkpoint)
            extra = info.extra or {}
            if extra.get("run_config_sha256") != cfg.sha256():
                raise InputError(
                    "was written by a run with a different configuration (namelist); it cannot be "
                    "resumed: run again without --resume (with --overwrite)",
                    path=self.checkpoint,
                )
            start_index = int(extra["next_step"])
            self.parts.mkdir(exist_ok=True)
            for f in self.parts.iterdir():  # keep the annual records of the segments before the checkpoint
                if not (f.name.startswith("annual_") and int(f.stem.split("_")[1]) < start_index):
                    f.unlink()
        else:
            existing = [p for p in self.outputs() if p.name not in (NAMELIST, PARTS)]
            if existing and not overwrite:
                raise InputError(
                    f"output folder already holds {', '.join(p.name for p in existing)}; "
                    "pass --overwrite to replace them, or --resume to continue",
                    path=self.root,
                )
            self._refuse_removing_inputs(self.outputs(), inputs)
            shutil.rmtree(self.parts, ignore_errors=True)
            self.parts.mkdir()
        self.committed = False
        return state, start_index, RunLog(self.root / RUN_LOG), extra

    def commit(self, cfg: RunConfig, runlog: RunLog, *, resume: bool, inputs: Iterable[Path] = ()) -> None:
        """The run's first results are in: remove a previous run's outputs (fresh run), write the namelist copy
        (absolute paths) and start run.log."""
        if not resume:
            self.remove_previous(inputs, keep=(PARTS,))
        cfg.absolute().write(self.root / NAMELIST)
        runlog.start(fresh=not resume)
        self.committed = True

    def abandon(self, resume: bool) -> None:
        """A fresh run stopped before its first results: remove what it made (its part files)."""
        if not getattr(self, "committed", True) and not resume:
            shutil.rmtree(self.parts, ignore_errors=True)

    def close(self) -> None:
        """Remove the internal part files and the checkpoint once the final outputs are written."""
        shutil.rmtree(self.parts, ignore_errors=True)
        self.checkpoint.unlink(missing_ok=True)
