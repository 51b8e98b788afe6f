"""Helpers of the full-precision oracle tests: set up reference set A through the public API, run the spec
prototypes (../shared/spec/*_validation) as subprocesses, and compare at full binary64 precision.

The prototypes are slow, independent Python implementations of casa.md / mimics.md that match the original
bit for bit. Every value we compare is counted; the tests assert a maximum relative difference and, where it
holds today, that every value is bit-identical (so that a regression of a single ulp is caught).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from testbed import layout
from testbed.domain import Domain, PhenologyTable
from testbed.model import Model
from testbed.params import read_casa_pft_csv, read_mimics_csv
from testbed.run import Perturbation, YearStep, run_years

PFT_CSV = "pftlookup_igbp_updated4_exud0.csv"
CORPSE_NML = "corpse_params_12.18d.2017.nml"
MIMICS_CSV = "pftlookup_LIDET-MIM-REV_CN_desorb2xKO4_micCN_FI30.csv"
GRID_CSV = "gridinfo_igbpz.csv"
SOIL_CSV = "gridinfo_soil.csv"
PHEN_TXT = "modis_phenology_wtundra.txt"

#: maximum relative difference accepted against the oracles
RTOL = 1e-12


# ------------------------------------------------------------------------------ model set-up (public API)


def setA_model(
    inputs: Path,
    soil_model: str = "casa",
    icycle: int = 2,
    *,
    pft_csv: Path | None = None,
    fixes: dict[str, bool] | None = None,
    ncell: int | None = None,
) -> Model:
    """A Model of reference set A's cells (the first ``ncell`` of them) from its original input files."""
    domain = Domain.from_files(inputs / GRID_CSV, inputs / SOIL_CSV)
    mimics = read_mimics_csv(inputs / MIMICS_CSV) if soil_model == "mimics" else None
    if soil_model == "corpse":
        from testbed.soil.corpse import load_corpse_parameters

        mimics = load_corpse_parameters(inputs / CORPSE_NML)
    model = Model(
        domain,
        read_casa_pft_csv(pft_csv or inputs / PFT_CSV),
        PhenologyTable.read(inputs / PHEN_TXT),
        soil_model,
        icycle,
        mimics,
        dict(fixes or {}),
    )
    if ncell is not None and ncell < model.ncell:
        model = model.subset(slice(0, ncell))
    return model


@dataclass
class Run:
    """Every year of a run: daily diagnostics (ncell, NDIAG, 365), annual sums and end-of-year states."""

    model: Model
    daily: list[np.ndarray] = field(default_factory=list)
    annual: list[np.ndarray] = field(default_factory=list)
    states: list[np.ndarray] = field(default_factory=list)

    def diag(self, name: str) -> np.ndarray:
        """(nyear, ncell, 365) daily series of one diagnostic."""
        return np.stack([d[:, layout.index("diag", name), :] for d in self.daily])


def run_model(
    model: Model,
    state: np.ndarray,
    steps: list[YearStep],
    *,
    perturbation: Perturbation | None = None,
    restart_write_reset: bool = True,
    first_year_of_run: bool = True,
) -> Run:
    """run_years over ``steps`` (which must ask for daily output), keeping everything in memory."""
    out = Run(model)
    cells = slice(0, model.ncell)
    for res in run_years(
        model,
        state,
        steps,
        perturbation=perturbation,
        cells=cells,
        restart_write_reset=restart_write_reset,
        first_year_of_run=first_year_of_run,
    ):
        assert res.daily is not None, "the schedule must store daily diagnostics"
        out.daily.append(res.daily)
        out.annual.append(res.annual)
        out.states.append(res.state)
    return out


def as_dump_rows(run: Run) -> np.ndarray:
    """Our daily diagnostics in the prototypes' row order: (year, day, cell) -> row of NDIAG values."""
    d = np.stack(run.daily)  # (year, cell, diag, day)
    return np.transpose(d, (0, 3, 1, 2)).reshape(-1, layout.NDIAG)


# ------------------------------------------------------------------------------ prototypes


def run_prototype(script: Path, cfg: dict, workdir: Path, timeout: float = 3600) -> Path:
    """Run a spec prototype with its JSON configuration; returns the dump it wrote in ``workdir``."""
    cfg = dict(cfg)
    cfg.setdefault("out", str(workdir / "proto_dump.txt"))
    proc = subprocess.run(
        [sys.executable, str(script), json.dumps(cfg)], cwd=workdir, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, f"{script.name} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return Path(cfg["out"])


def read_dump(path: Path, header: bool) -> tuple[list[str] | None, np.ndarray]:
    """A prototype dump (repr floats, whitespace separated). numpy's parser rounds correctly, like float()."""
    names = None
    with open(path) as f:
        if header:
            names = f.readline().split()
        data = np.loadtxt(f, dtype=np.float64, ndmin=2)
    return names, data


# ------------------------------------------------------------------------------ comparison


@dataclass
class Tally:
    """Counts of compared and bit-identical values, and the worst relative difference (per column too)."""

    label: str
    compared: int = 0
    identical: int = 0
    max_rel: float = 0.0
    worst: str = "-"
    columns: dict[str, tuple[int, int, float]] = field(default_factory=dict)

    def add(self, name: str, ours: np.ndarray, ref: np.ndarray, where: Iterable[str] | None = None) -> None:
        ours = np.asarray(ours, dtype=np.float64).ravel()
        ref = np.asarray(ref, dtype=np.float64).ravel()
        assert ours.shape == ref.shape, f"{self.label} {name}: {ours.shape} values vs {ref.shape} in the oracle"
        same = (ours == ref) | (np.isnan(ours) & np.isnan(ref))
        # bit-identical also means the same sign of zero
        same &= np.signbit(ours) == np.signbit(ref)
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.abs(ours - ref) / np.maximum(np.abs(ours), np.abs(ref))
        rel = np.where(same | ((ours == ref) & (ours == 0.0)), 0.0, rel)
        rel = np.where(np.isnan(rel), np.inf, rel)  # NaN on one side only
        n_same = int(same.sum())
        col_max = float(rel.max()) if rel.size else 0.0
        c, s, m = self.columns.get(name, (0, 0, 0.0))
        self.columns[name] = (c + ours.size, s + n_same, max(m, col_max))
        self.compared += ours.size
        self.identical += n_same
        if col_max > self.max_rel:
            self.max_rel = col_max
            i = int(np.argmax(rel))
            loc = list(where)[i] if where is not None else f"value {i}"
            self.worst = f"{name} at {loc}: ours {ours[i]!r}, oracle {ref[i]!r}"

    def summary(self) -> str:
        frac = 100.0 * self.identical / max(self.compared, 1)
        return (
            f"[{self.label}] {self.compared} values compared, {self.identical} bit-identical ({frac:.4f}%), "
            f"max rel diff {self.max_rel:.3e}"
        )

    def differing_columns(self) -> str:
        rows = [
            f"  {n:18s} {c - s:8d}/{c:<8d} differ, max rel {m:.3e}" for n, (c, s, m) in self.columns.items() if s != c
        ]
        return "\n".join(rows) if rows else "  (none)"

    def check(self, rtol: float = RTOL, all_identical: bool = True) -> None:
        """Print the summary (seen with ``pytest -s``) and assert the tolerances."""
        print(self.summary())
        assert self.compared > 0, f"{self.label}: nothing was compared"
        assert self.max_rel <= rtol, (
            f"{self.summary()}; worst: {self.worst}\ndiffering columns:\n{self.differing_columns()}"
        )
        if all_identical:
            assert self.identical == self.compared, (
                f"{self.summary()}: not every value is bit-identical any more (all were); worst: {self.worst}\n"
                f"differing columns:\n{self.differing_columns()}"
            )


# ------------------------------------------------------------------------------ tools


def require_tool(name: str) -> str:
    """Path of an executable; skip (fail under CI) when it is missing."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} not found on PATH"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must provide it")
        pytest.skip(message)
    return path


def edited_pft_csv(src: Path, dst: Path, frac_root_exud: float) -> Path:
    """A copy of a CASA PFT CSV with every row of the last section's fracRootExudate column set to a value."""
    lines = src.read_text().replace("\r", "").split("\n")
    head = next(i for i, ln in enumerate(lines) if "fracRootExud" in ln)
    rows = range(head + 2, head + 2 + 18)
    for i in rows:
        fields = lines[i].split(",")
        assert fields[0].strip() == str(i - head - 1), f"unexpected row {lines[i]!r} in {src}"
        fields[3] = repr(float(frac_root_exud))
        lines[i] = ",".join(fields)
    dst.write_text("\n".join(lines))
    return dst
