"""The output folder of a run: its files, fresh start or resume from the checkpoint, and run.log."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import RunConfig
from ..errors import InputError
from ..state import read_restart

CHECKPOINT = "checkpoint.nc"
RESTART = "restart.nc"
ANNUAL = "annual.nc"
PARTS = ".parts"
RUN_LOG = "run.log"


class RunLog:
    """run.log in the output folder: what the run did, appended as it goes."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, text: str) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        with self.path.open("a") as f:
            for line in text.splitlines():
                f.write(f"{stamp}  {line}\n")


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

    def daily(self, label: int) -> Path:
        return self.root / f"daily_{label:04d}.nc"

    def open(self, cfg: RunConfig, state: np.ndarray, *, resume: bool, overwrite: bool) -> tuple[np.ndarray, int,
                                                                                                 RunLog]:
        """Prepare the folder for a fresh run or a resume; returns the start state, first step index, log.

        A fresh run refuses a folder holding a previous run's outputs unless ``overwrite``; a resume
        continues from the checkpoint, which must have been written with the same configuration.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        start_index = 0
        if resume:
            if not self.checkpoint.exists():
                raise InputError("no checkpoint to resume from; run without --resume", path=self.checkpoint)
            state, info = read_restart(self.checkpoint)
            if info.extra.get("run_config_sha256") != cfg.sha256():
                raise InputError("was written by a run with a different configuration; it cannot be resumed",
                                 path=self.checkpoint)
            start_index = int(info.extra["next_step"])
            for f in self.parts.glob("annual_*.nc"):
                if int(f.stem.split("_")[1]) >= start_index:
                    f.unlink()
        else:
            existing = [p for p in (self.annual, self.restart) if p.exists()]
            if existing and not overwrite:
                raise InputError(f"output folder already holds {', '.join(p.name for p in existing)}; "
                                 "pass --overwrite to replace them, or --resume to continue", path=self.root)
            if self.parts.exists():
                for f in self.parts.iterdir():
                    f.unlink()
            self.checkpoint.unlink(missing_ok=True)
            (self.root / RUN_LOG).unlink(missing_ok=True)
        self.parts.mkdir(exist_ok=True)
        cfg.write(self.root / "namelist.nml")
        return state, start_index, RunLog(self.root / RUN_LOG)

    def close(self) -> None:
        """Remove the internal part files and the checkpoint once the final outputs are written."""
        for f in self.parts.glob("*"):
            f.unlink()
        self.parts.rmdir()
        self.checkpoint.unlink(missing_ok=True)
