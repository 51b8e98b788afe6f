"""``testbed spinup``: run the stages of a spin-up pipeline, with diagnostics, checkpoints and resume.

For every forcing cycle of every stage the driver submits one task per chunk of cells
(:func:`.tasks.cycle_chunk`), gathers the chunks' states and per-cell totals, writes a row of
equilibrium.csv and a line of run.log, decides whether the stage's criteria hold, and writes a
checkpoint (state, method memory, table so far). A killed pipeline resumes from its last
checkpoint and ends bit-identical to an uninterrupted one. At the end of each stage its state is
written to restart_<stage>.nc and handed to the next stage as it is (no pool scaling: the
methods here need none); the last stage's state is restart.nc, and transient.nml is a namelist
for the transient ``testbed run`` that starts from it.
"""

from __future__ import annotations

import csv
import io
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from .. import kernel
from ..atomic import atomic_write, write_text
from ..config import RunConfig, namelist_text
from ..errors import InputError
from ..runner import _Signals, dask_client, owned_run
from ..runner.assembly import restart_info
from ..runner.folder import RunLog
from ..runner.segments import cell_chunks, check_chunk, identity
from ..soil.base import CYCLE_NAMES
from ..state import write_restart
from .aitken import Aitken
from .anderson import Anderson
from .criteria import diagnose, unsettled_kind
from .memory import CellMemory
from .newton import Newton
from .sasu import Sasu
from .settle import Settle
from .stages import SpinupPlan, Stage, plan_spinup, resolve
from .tasks import CycleJob, CycleResult, cycle_chunk

#: the per-cell memory of each accelerated method (plain cycling keeps none)
MEMORY: dict[str, type[CellMemory]] = {"anderson": Anderson, "sasu": Sasu, "newton": Newton, "aitken": Aitken}

CHECKPOINT = "spinup_checkpoint.npz"
TABLE = "equilibrium.csv"
CELLS = "cells.csv"
#: cycles of per-cell changes kept to tell oscillating from drifting cells
RECENT = 4
#: anderson: a cell has converged when its relative residual is below this fraction of spinup.cell_rel; it then
#: takes plain cycles (the stage itself ends as soon as the criteria hold)
CONVERGED = 1.0e-3
#: sasu: a cell has converged when its semi-analytic correction (largest relative change of a pool it would
#: make) is below this fraction of spinup.cell_rel; it then takes plain cycles
SASU_CONVERGED = 0.1
#: sasu: the soil's substrate (its pools but the microbes) is still when its total changes by less than this fraction
#: per forcing cycle (per year of an accelerated prespin: divided by the cycle's length, as its criteria are), with
#: spinup.sasu_microbe_ratio (docs/spinup.md "Dying microbes"). Fixed, not a multiple of spinup.cell_rel: tighter
#: criteria must not stop the rule from seeing a cell whose microbes cannot live (measured: cell_rel = 1e-4 emptied
#: the reference domain's cell 6)
SASU_STILL = 0.005
#: newton: a cell has converged when its Newton correction (the distance to the fixed point it predicts, relative
#: per pool) is below this fraction of spinup.cell_rel; it then takes plain cycles
NEWTON_CONVERGED = 1.0
#: newton: a cell takes its first Jacobian once its weighted residual (relative change per cycle) is below this
#: (or its plain cycles contract steadily): far from the fixed point the cycle map is too nonlinear for Newton
NEWTON_START = 1.0e-2
#: newton on a map shorter than the forcing cycle (an accelerated prespin), and the chord iteration that starts from its
#: Jacobians (J^20 of the one-year map: its slow modes' 1 - eigenvalue is 20 times the one-year map's, 4e-5 to 1e-3):
#: (I - J) is singular below this ratio of
#: its smallest to its largest singular value. The slow modes' 1 - eigenvalue shrinks with the map's length: on the
#: one-year map of the global MIMICS-CN domain the smallest ratios were 2e-6 to 6e-5 in cells Newton solves and
#: ~1e-17 in frozen cells, so the forcing cycle's threshold (newton.SINGULAR, 1e-4) sent most cells to plain cycling
NEWTON_SINGULAR_SHORT = 1.0e-8
#: aitken: a cell whose weighted relative change per cycle is below this fraction of spinup.cell_rel does not jump
AITKEN_TOL = 0.1
#: aitken: a pool below this fraction of its cell's total of its element (C or N) is weighed as if that size
AITKEN_MASS_FLOOR = 1.0e-2
#: unsettled cells listed in run.log (all of them are in cells.csv)
LIST_CELLS = 20


def _table_text(rows: list[dict]) -> str:
    if not rows:
        return ""
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: (f"{v:.6e}" if isinstance(v, float) else v) for k, v in r.items()})
    return buf.getvalue()


class _Checkpoint:
    """Everything needed to continue a pipeline bit-identically: one .npz, written atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(
        self,
        *,
        sha: str,
        stage: int,
        cycle: int,
        years: int,
        state: np.ndarray,
        memory: dict | None,
        rows: list[dict],
        recent: np.ndarray,
        settled_at: np.ndarray,
        last_settled: np.ndarray,
        last_met: bool,
        previous: dict[str, np.ndarray] | None = None,
        fixed: np.ndarray | None = None,
        freeze: dict | None = None,
        settle: dict | None = None,
    ) -> None:
        arrays = {"state": state, "recent": recent, "settled_at": settled_at, "last_settled": last_settled}
        if fixed is not None:
            arrays["fixed"] = fixed
        for k, v in (settle or {}).items():
            if v is not None:
                arrays[f"settle_{k}"] = v
        freeze = freeze or {}
        for k in ("frozen", "streak"):
            if k in freeze:
                arrays[f"freeze_{k}"] = freeze[k]
        for k, v in freeze.get("last_change", {}).items():
            arrays[f"lastc_{k}"] = v
        for k, v in (previous or {}).items():
            arrays[f"prev_{k}"] = v
        for k, v in (memory or {}).items():
            arrays[f"mem_{k}"] = v
        meta = json.dumps(
            {
                "sha": sha,
                "stage": stage,
                "cycle": cycle,
                "years": years,
                "rows": rows,
                "last_met": bool(last_met),
                "verify": bool(freeze.get("verify", False)),
                "cell_years": float(freeze.get("cell_years", 0.0)),
            }
        )
        with atomic_write(self.path) as tmp, tmp.open("wb") as f:
            np.savez(f, meta=np.array(meta), **arrays)

    def read(self) -> dict:
        with np.load(self.path) as z:
            out = json.loads(str(z["meta"]))
            out["state"] = np.asfortranarray(z["state"])
            out["recent"], out["settled_at"], out["last_settled"] = z["recent"], z["settled_at"], z["last_settled"]
            mem = {k[4:]: z[k] for k in z.files if k.startswith("mem_")}
            out["previous"] = {k[5:]: z[k] for k in z.files if k.startswith("prev_")} or None
            ncell = out["state"].shape[0]
            out["fixed"] = z["fixed"] if "fixed" in z.files else np.zeros(ncell, dtype=bool)
            out["freeze"] = {
                "frozen": z["freeze_frozen"] if "freeze_frozen" in z.files else np.zeros(ncell, dtype=bool),
                "streak": z["freeze_streak"] if "freeze_streak" in z.files else np.zeros(ncell, dtype=int),
                "last_change": {k[6:]: z[k] for k in z.files if k.startswith("lastc_")},
                "verify": bool(out.get("verify", False)),
                "cell_years": float(out.get("cell_years", 0.0)),
            }
            out["settle"] = {k[7:]: z[k] for k in z.files if k.startswith("settle_")}
        out["memory"] = mem or None
        return out


def run_spinup(
    cfg: RunConfig,
    *,
    resume: bool = False,
    overwrite: bool = False,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
    break_lock: bool = False,
    command: str | None = None,
) -> Path:
    """Validate the spin-up pipeline of ``cfg`` (every input, before any compute) and run it in its output folder,
    which it owns for the time of the run (the run's lock); returns the output folder.

    A fault (SIGINT, SIGTERM, a full or unwritable disk, a dask worker lost twice) stops it with
    :class:`RunAborted` and the runner's sentences (docs/reliability.md "Faults"): what happened, what was
    kept (the checkpoint after cycle N of stage S) and the command that resumes.
    """
    plan = plan_spinup(cfg)
    command = command or " ".join(shlex.quote(a) for a in sys.argv)
    ckpt = plan.output_dir / CHECKPOINT
    return owned_run(
        plan.output_dir,
        command,
        break_lock=break_lock,
        resume=resume,
        body=lambda folder, signals, note: _execute_spinup(
            plan,
            signals,
            resume=resume,
            overwrite=overwrite,
            workers=workers,
            scheduler=scheduler,
            progress=progress,
        ),
        kept=lambda folder: _kept(ckpt, plan),
        again=lambda folder: _again(command, ckpt),
    )


def _kept(ckpt: Path, plan: SpinupPlan) -> str:
    """What a stopped spin-up leaves that --resume continues from."""
    if not ckpt.exists():
        return "nothing was kept (no cycle had finished)"
    try:
        meta = _Checkpoint(ckpt).read()
    except (OSError, ValueError, KeyError):
        return f"the last checkpoint ({ckpt}) was kept"
    si, cycle = int(meta["stage"]), int(meta["cycle"])
    if si >= len(plan.stages):
        where = "after the last stage"
    elif cycle == 0:
        where = f"at the start of stage {plan.stages[si].name}"
    else:
        where = f"after cycle {cycle} of stage {plan.stages[si].name}"
    return f"kept: the checkpoint {where} ({int(meta['years'])} simulated years) and equilibrium.csv up to it"


def _again(command: str, ckpt: Path) -> str:
    words = [a for a in command.split() if a not in ("--resume", "--overwrite")]
    if ckpt.exists():
        return "Resume with: " + " ".join([*words, "--resume"])
    return "Run again with: " + " ".join([*words, "--overwrite"])


def _execute_spinup(
    plan: SpinupPlan,
    signals: _Signals,
    *,
    resume: bool,
    overwrite: bool,
    workers: int | None,
    scheduler: str | None,
    progress: bool,
) -> Path:
    cfg = plan.config
    out = plan.output_dir
    out.mkdir(parents=True, exist_ok=True)
    ckpt = _Checkpoint(out / CHECKPOINT)
    products = [out / n for n in ("restart.nc", TABLE, "transient.nml")] + [
        out / f"restart_{s.name}.nc" for s in plan.stages
    ]
    model0 = plan.stages[0].model
    ncell = model0.ncell
    sha = cfg.sha256()
    if resume:
        if not ckpt.path.exists():
            raise InputError("no spin-up checkpoint to resume from; run without --resume", path=ckpt.path)
        saved = ckpt.read()
        if saved["sha"] != sha:
            raise InputError(
                "was written by a spin-up with a different configuration; it cannot be resumed", path=ckpt.path
            )
    else:
        existing = [p.name for p in products if p.exists()]
        if existing and not overwrite:
            raise InputError(
                f"output folder already holds {', '.join(existing)}; pass --overwrite to replace "
                "them, or --resume to continue",
                path=out,
            )
        for p in products + [ckpt.path, out / "run.log", out / CELLS, out / "equilibrium.png"]:
            p.unlink(missing_ok=True)
        saved = {
            "stage": 0,
            "cycle": 0,
            "years": 0,
            "rows": [],
            "state": plan.state,
            "memory": None,
            "recent": np.full((RECENT, ncell), np.nan),
            "settled_at": np.full((len(plan.stages), ncell), -1),
            "last_settled": np.zeros(ncell, dtype=bool),
            "last_met": False,
            "previous": None,
            "fixed": np.zeros(ncell, dtype=bool),
            "freeze": {
                "frozen": np.zeros(ncell, dtype=bool),
                "streak": np.zeros(ncell, dtype=int),
                "last_change": {},
                "verify": False,
                "cell_years": 0.0,
            },
            "settle": {},
        }
    runlog = RunLog(out / "run.log")
    runlog.start(fresh=False)
    cfg.absolute().write(out / "namelist.nml")
    tag = f"{model0.soil_model.upper()}-{CYCLE_NAMES[model0.icycle].upper()}"
    runlog.write(
        f"testbed spinup: {tag}, {ncell} cells, kernel build {kernel.BUILD}, stages: "
        + ", ".join(f"{s.name} ({s.method}, <= {s.max_cycles} cycles of {s.years_per_cycle} yr)" for s in plan.stages)
        + (
            f"; resuming in stage {plan.stages[saved['stage']].name} at cycle {saved['cycle'] + 1}"
            if resume and saved["stage"] < len(plan.stages)
            else ""
        )
    )
    c = plan.criteria
    runlog.write(
        f"criteria: |global dSOC| < {c.soc_global:g} Pg C per cycle and >= {100 * c.cell_fraction:g} % of "
        f"vegetated cells changing by < {c.cell_abs:g} g m-2 and < {100 * c.cell_rel:g} % per cycle in "
        f"{', '.join(c.variables)}"
    )
    state, memory, rows = saved["state"], saved["memory"], list(saved["rows"])
    recent, settled_at = saved["recent"], saved["settled_at"]
    previous = saved["previous"]  #: per total, each cell's change over the last cycle if it ended where the next starts
    fixed = saved["fixed"]  #: cells a cycle left unchanged that never evolve: not simulated for the rest of the stage
    #: spinup.freeze_after: cells settled in plain cycles, not simulated until the next full cycle (their last change
    #: per total stands in for them), their runs of settled cycles, whether the next cycle must be full, and the
    #: years simulated per vegetated cell on average
    freeze = saved["freeze"]
    frozen, streak, last_change = freeze["frozen"], freeze["streak"], freeze["last_change"]
    verify, cell_years = freeze["verify"], freeze["cell_years"]
    #: the settle stage: each cell's recent totals (settle.Settle); its retired cells are among the fixed ones
    history = saved["settle"].get("history")
    freeze_after, full_every = resolve(cfg, "freeze_after"), cfg.get("spinup.full_every")
    years = int(saved["years"])
    domain = model0.domain
    area = domain.area
    active = ~domain.inactive(model0.casa)
    t_start = time.perf_counter()
    last_settled, last_met = saved["last_settled"], bool(saved["last_met"])
    from dask.distributed import as_completed

    with dask_client(cfg, workers, scheduler) as client:
        nworkers = len(client.scheduler_info().get("workers", {})) or 1
        slices = cell_chunks(~active, cfg.get("parallel.chunk_size"), nworkers)
        if not resume:
            for f in as_completed([client.submit(check_chunk, plan.met_files, cs, pure=False) for cs in slices]):
                f.result()
            runlog.write(f"met values checked: {len(plan.met_files)} file(s), {ncell} cells")
        for si in range(int(saved["stage"]), len(plan.stages)):
            stage = plan.stages[si]
            first_cycle = int(saved["cycle"]) if si == int(saved["stage"]) else 0
            if first_cycle == 0:  # the memory a stage starts with, from the previous stage's (or None)
                memory = _handed_over(plan, si, memory)
                # a stage's map may differ (its parameter set, its years): its first cycle simulates every cell
                fixed = np.zeros(ncell, dtype=bool)
                frozen, streak, verify = np.zeros(ncell, dtype=bool), np.zeros(ncell, dtype=int), False
                # the settle stage judges vegetated cells only: the others are not simulated in it, and a cell that
                # retires joins them (fixed: not simulated for the rest of the stage)
                history = None
                if stage.settle is not None:
                    fixed = ~active
                previous = None  # a stage's first cycle is judged on its own (the map may differ: a prespin's year)
                sc = stage.criteria
                runlog.write(
                    f"stage {stage.name}: method {stage.method}, one cycle = {stage.years_per_cycle} simulated year(s)"
                    + (
                        f"; its criteria per cycle: |global dSOC| < {sc.soc_global:g} Pg C, cells < {sc.cell_abs:g} "
                        f"g m-2 and < {100 * sc.cell_rel:g} %"
                        if sc != c
                        else ""
                    )
                )
            # each chunk's model goes to the cluster as a task, not scattered data, which a lost worker takes
            # with it (a task is recomputed; runner/segments.py does the same); again when the chunks change
            work, models, skipped = None, {}, None
            opts = method_options(plan, si)
            for k in range(first_cycle, stage.max_cycles):
                full = verify or (k + 1) % full_every == 0
                if full:
                    frozen = np.zeros(ncell, dtype=bool)
                skip = fixed | frozen
                if skip.all():  # nothing left to simulate (every cell fixed or frozen): a full cycle
                    frozen = np.zeros(ncell, dtype=bool)
                    skip = np.zeros(ncell, dtype=bool)
                if work is None or not np.array_equal(skip, skipped):
                    work, skipped = _work_chunks(slices, skip), skip
                    models = {i: client.submit(identity, stage.model.subset(c), pure=False) for i, c in enumerate(work)}
                futures = []
                for i, cs in enumerate(work):
                    job = CycleJob(
                        cs,
                        stage.steps,
                        stage.method,
                        first_year_of_run=(years == 0),
                        check_budgets=cfg.get("run.check_budgets"),
                        options=opts,
                    )
                    mem = {n: v[cs] for n, v in memory.items()} if memory else None
                    futures.append(
                        client.submit(cycle_chunk, job, models[i], np.asfortranarray(state[cs]), mem, pure=False)
                    )
                # as_completed, not client.gather: an interrupted gather leaves asyncio noise on stderr
                results: list[CycleResult] = [f.result() for f in as_completed(futures)]
                years += stage.years_per_cycle
                phi, nxt = _assemble(state, results, "phi"), _assemble(state, results, "next")
                unchanged = stage.model.soil.totals(stage.model, state) if skip.any() else {}
                if frozen.any():  # a frozen cell is judged by its last change (it ends where it is)
                    unchanged_before = {n: v - np.where(frozen, last_change[n], 0.0) for n, v in unchanged.items()}
                else:
                    unchanged_before = unchanged
                before = _assemble_totals(unchanged_before, results, "before", ncell)
                after = _assemble_totals(unchanged, results, "after", ncell)
                simulated = ~skip
                for n in after:
                    last_change[n] = np.where(simulated, after[n] - before[n], last_change.get(n, np.nan))
                cell_years += stage.years_per_cycle * float((simulated & active).sum()) / max(1, int(active.sum()))
                diag = diagnose(before, after, area, active, stage.criteria, previous)
                last_settled, last_met = diag.settled, diag.met
                recent = np.vstack([recent[1:], (after["soil_c"] - before["soil_c"])[None]])
                if stage.settle is None:
                    newly = diag.settled & (settled_at[si] < 0)
                    settled_at[si][newly] = k + 1
                else:  # the settle stage records when a cell retired
                    history, newly = _settle_cycle(stage.settle, history, before, after, active & ~fixed)
                    fixed = fixed | newly
                    settled_at[si][newly] = k + 1
                    last_settled = diag.settled & fixed
                plain = np.ones(ncell, dtype=bool)
                for r in results:
                    plain[r.cells] = r.plain
                # the next cycle starts from Phi(x) where the cell took a plain cycle: there this cycle's change and
                # the next one's are two successive cycles (spinup.cell_period2); elsewhere unknown
                # (a frozen cell's change is its last one, not this cycle's: unknown; a fixed cell's is exactly 0)
                previous = {n: np.where(plain & ~frozen, after[n] - before[n], np.nan) for n in after}
                row = {"stage": stage.name, "method": stage.method, "cycle": k + 1, "years": years, **diag.row()}
                kind = MEMORY.get(stage.method)
                if kind is not None:  # an accelerated method: its per-cell memory, reported
                    memory = _assemble_memory(memory, results, ncell)
                    acc = kind.from_arrays(memory)
                    row["cells_accelerated"] = int((~plain & active).sum())
                    row["cells_fallback"] = int((memory["fallback"] & active).sum())
                    row[kind.PROGRESS] = float(np.max(np.where(active, acc.progress(), 0.0)))
                    row["cells_converged"] = int(
                        (acc.done(opts["tol"]) & active).sum()
                    )  # reported; not a stop condition
                if stage.settle is not None:
                    row["cells_retired"] = int((fixed & active).sum())
                if freeze_after or stage.settle is not None:
                    row["cells_simulated"] = int((simulated & active).sum())
                    row["years_per_cell"] = round(cell_years, 3)
                row["seconds"] = round(max(r.seconds for r in results), 3)
                rows.append(row)
                # every stage, whatever its method, ends as soon as its criteria hold (issue 11: early stop)
                # with frozen cells the criteria are only judged on a full cycle: the next one is full
                partial = bool(frozen.any())
                # (the settle stage ends when every vegetated cell has retired)
                ended = diag.met and not partial if stage.settle is None else bool(fixed[active].all())
                done = (stage.early_stop and ended) or k + 1 == stage.max_cycles
                verify = bool(stage.early_stop and diag.met and partial)
                if freeze_after and stage.settle is None:
                    calm_crit = stage.criteria.tighter(FREEZE_TIGHTER)
                    calm = diagnose(before, after, area, active, calm_crit, previous).settled
                    streak = np.where(simulated, np.where(calm & plain, streak + 1, 0), streak)
                    frozen = active & (streak >= freeze_after)
                # a cell the model never evolves (ice, water) whose state this cycle left unchanged, bit for bit, is
                # at a fixed point of the stage's map and the method's: later cycles of the stage skip it (the same
                # result, for about a fifth less compute on the global grid)
                was_fixed = int(fixed.sum())
                if SKIP_FIXED_CELLS:
                    fixed = fixed | (~active & _same_rows(phi, state) & _same_rows(nxt, state))
                state = phi if done else nxt
                # the table, the log line and the checkpoint of a cycle are written as one: a signal waits
                with signals.writing():
                    write_text(out / TABLE, _table_text(rows))
                    _log_cycle(runlog, row, results, domain)
                    if int(fixed.sum()) > was_fixed and not done:
                        runlog.write(
                            f"{int(fixed.sum())} cell(s) without vegetation or soil (ice, water) were left unchanged "
                            "by this cycle: the rest of the stage does not simulate them"
                        )
                    if not done:
                        ckpt.write(
                            sha=sha,
                            stage=si,
                            cycle=k + 1,
                            years=years,
                            state=state,
                            memory=memory,
                            rows=rows,
                            recent=recent,
                            settled_at=settled_at,
                            last_settled=last_settled,
                            last_met=last_met,
                            previous=previous,
                            fixed=fixed,
                            freeze=_freeze_memory(frozen, streak, last_change, verify, cell_years),
                            settle={"history": history},
                        )
                if done:
                    break
            verdict = "criteria met" if last_met else "criteria NOT met"
            if not stage.early_stop:
                verdict = "fixed length"
            if stage.settle is not None:
                running = int((active & ~fixed).sum())
                verdict += f"; {int((active & fixed).sum())} of {int(active.sum())} vegetated cells retired"
                if running:
                    verdict += f", {running} still moving after the stage's {stage.max_cycles} cycles (cells.csv)"
            runlog.write(
                f"stage {stage.name} done after {k + 1} cycle(s), {years} simulated years in total: "
                f"{verdict}"
                + (
                    f"; {int((memory['fallback'] & active).sum())} cell(s) fell back to plain cycling"
                    if memory is not None
                    else ""
                )
            )
            with signals.writing():
                _write_restart(out / f"restart_{stage.name}.nc", state, stage, years, last_met)
                ckpt.write(
                    sha=sha,
                    stage=si + 1,
                    cycle=0,
                    years=years,
                    state=state,
                    memory=memory,  # what the next stage may start from (_handed_over)
                    rows=rows,
                    recent=recent,
                    settled_at=settled_at,
                    last_settled=last_settled,
                    last_met=last_met,
                    previous=previous,
                    fixed=fixed,
                    freeze=_freeze_memory(frozen, streak, last_change, verify, cell_years),
                )
    last = plan.stages[-1]
    with signals.writing(last=True):
        _write_restart(out / "restart.nc", state, last, years, last_met)
        unsettled = np.flatnonzero(active & ~last_settled)
        _write_cells(out / CELLS, plan, settled_at, recent, unsettled, active)
        _log_unsettled(runlog, plan, recent, unsettled)
        _plot(out, rows)
        tnml = write_transient_namelist(plan, out / "restart.nc", out / "transient.nml")
        ckpt.path.unlink(missing_ok=True)
        runlog.write(
            f"finished: {years} simulated years in {time.perf_counter() - t_start:.1f} s; "
            f"{'criteria met' if last_met else 'criteria NOT met'}; outputs: restart.nc, "
            f"{TABLE}, equilibrium.png, {CELLS}; transient namelist: {tnml.name}"
        )
    return out


def method_options(plan: SpinupPlan, si: int) -> dict:
    """The options of stage ``si``'s method: tolerances derived from the stage's criteria and the module's constants
    above, the rest from the namelist's spinup group (a plain ``cycle`` stage gets anderson's and ignores them)."""
    cfg, stage = plan.config, plan.stages[si]
    crit = stage.criteria
    fallback_after = cfg.get("spinup.anderson_fallback_after")
    if stage.method == "sasu":
        return {
            "max_factor": cfg.get("spinup.sasu_max_factor"),
            "tol": SASU_CONVERGED * crit.cell_rel,
            "fallback_after": fallback_after,
            # ... or when it changes no pool by more than this (g C m-2)
            "abs_c": SASU_CONVERGED * crit.cell_abs,
            # a cell whose soil substrate stays within SASU_STILL over a cycle while the solve would leave its
            # microbes below this fraction takes a plain cycle (Sasu.step)
            "microbe_ratio": cfg.get("spinup.sasu_microbe_ratio"),
            "still": SASU_STILL / stage.scale,
            # a step after which a microbial group fell more than this factor over the cycle is undone (Sasu)
            "collapse": cfg.get("spinup.sasu_collapse"),
        }
    if stage.method == "newton":
        chord = _chord(plan, si)
        return {
            "max_factor": cfg.get("spinup.newton_max_factor"),
            "tol": NEWTON_CONVERGED * crit.cell_rel,
            "fallback_after": fallback_after,
            "start": NEWTON_START,
            **({"singular": NEWTON_SINGULAR_SHORT} if stage.scale > 1 or chord else {}),
            # started from a shorter map's Jacobians (_handed_over): a chord iteration, no finite differences of
            # this map (a Jacobian costs n + 1 of its cycles)
            **({"fd": False} if chord else {}),
        }
    if stage.method == "aitken":
        return {
            "max_cycles": cfg.get("spinup.aitken_max_cycles"),
            "max_factor": cfg.get("spinup.aitken_max_factor"),
            "fallback_after": fallback_after,
            # a cell whose relative change per cycle is below this is left alone (it is settled)
            "tol": AITKEN_TOL * crit.cell_rel,
            "mass_floor": AITKEN_MASS_FLOOR,
            "block": cfg.get("spinup.aitken_block"),
        }
    return {
        "depth": cfg.get("spinup.anderson_depth"),
        "damping": cfg.get("spinup.anderson_damping"),
        "max_factor": cfg.get("spinup.anderson_max_factor"),
        "fallback_after": fallback_after,
        # a cell within CONVERGED x the relative criterion takes plain cycles (anderson.py)
        "tol": CONVERGED * crit.cell_rel,
    }


def _settle_cycle(
    rule: Settle, history: np.ndarray | None, before: dict, after: dict, judged: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One cycle of the settle stage: the history with this cycle's totals (and, on its first cycle, the totals it
    started from) and the ``judged`` cells that retire now (:class:`.settle.Settle`)."""
    names = sorted(after)
    if history is None:
        history = rule.new_history(len(names), len(judged))
        history = np.concatenate([history[1:], np.stack([before[n] for n in names])[None]])
    history = np.concatenate([history[1:], np.stack([after[n] for n in names])[None]])
    return history, judged & rule.retired(history)


def _handed_over(plan: SpinupPlan, si: int, memory: dict | None) -> dict | None:
    """The method memory stage ``si`` starts from: a ``newton`` stage after a ``newton`` stage on a shorter map (an
    accelerated prespin) starts from that stage's Jacobians raised to the ratio of the cycles' lengths
    (:meth:`Newton.chord_from`); every other stage starts afresh."""
    if memory is None or not _chord(plan, si):
        return None
    return Newton.chord_from(memory, plan.stages[si].years_per_cycle // plan.stages[si - 1].years_per_cycle)


def _chord(plan: SpinupPlan, si: int) -> bool:
    """Stage ``si`` is a newton stage after a newton stage on a shorter map: it starts from that stage's Jacobians."""
    if si == 0:
        return False
    prev, stage = plan.stages[si - 1], plan.stages[si]
    return prev.method == stage.method == "newton" and stage.years_per_cycle > prev.years_per_cycle


#: spinup.freeze_after counts the cycles in which a cell meets the cell criteria divided by this factor (a cell frozen
#: at the criteria themselves stays where brute force would still move it by up to about 1 %: measured, docs/spinup.md)
FREEZE_TIGHTER = 10.0


def _freeze_memory(frozen, streak, last_change, verify, cell_years) -> dict:
    return {
        "frozen": frozen,
        "streak": streak,
        "last_change": last_change,
        "verify": verify,
        "cell_years": cell_years,
    }


#: skip the cells a cycle of a stage left unchanged that the model never evolves (the pipeline's results are the same;
#: tests switch it off to show that)
SKIP_FIXED_CELLS = True


def _assemble(state: np.ndarray, results: list[CycleResult], which: str) -> np.ndarray:
    """The chunks' states ``which`` (phi, next) in one array; a cell no task simulated keeps its row of ``state``."""
    new = state.copy(order="F")
    for r in results:
        new[r.cells] = getattr(r, which)
    return new


def _assemble_totals(
    unchanged: dict[str, np.ndarray], results: list[CycleResult], which: str, ncell: int
) -> dict[str, np.ndarray]:
    """Per-cell totals ``which`` (before, after) of every cell: the tasks', else ``unchanged`` (the cells no task
    simulated, whose state a cycle does not change; empty when every cell was simulated)."""
    names = getattr(results[0], which)
    out = {n: unchanged[n].copy() if unchanged else np.zeros(ncell) for n in names}
    for r in results:
        for n, v in getattr(r, which).items():
            out[n][r.cells] = v
    return out


def _assemble_memory(previous: dict | None, results: list[CycleResult], ncell: int) -> dict[str, np.ndarray]:
    """The method's per-cell memory of every cell: the tasks' rows; a cell no task simulated keeps its previous rows
    (zeros when the stage started with it fixed: its map is the identity, the method never moves it)."""
    blocks = {n: [(r.cells, r.memory[n]) for r in results] for n in results[0].memory}
    out = {}
    for n, parts in blocks.items():
        v0 = parts[0][1]
        if previous is not None and n in previous and previous[n].shape[1:] == v0.shape[1:]:
            full = previous[n].copy()
        else:
            full = np.zeros((ncell, *v0.shape[1:]), dtype=v0.dtype)
        for cells, v in parts:
            full[cells] = v
        out[n] = full
    return out


def _same_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(ncell,) True where two states are equal bit for bit in every column (NaN equal to NaN)."""
    return np.all((a == b) | (np.isnan(a) & np.isnan(b)), axis=1)


def _work_chunks(slices: list[slice], fixed: np.ndarray) -> list[slice | np.ndarray]:
    """The chunks of a cycle: ``slices`` while every cell is simulated; else the cells not ``fixed``, split into as
    many chunks (index arrays) of about equal size."""
    if not fixed.any():
        return list(slices)
    work = np.flatnonzero(~fixed)
    return [c for c in np.array_split(work, min(len(slices), max(1, work.size))) if c.size]


def _log_cycle(runlog: RunLog, row: dict, results: list[CycleResult], domain) -> None:
    cmax = max(r.max_c_residual for r in results)
    nmax = max(r.max_n_residual for r in results)
    parts = [
        f"{row['stage']} cycle {row['cycle']} (year {row['years']}): dSOC {row['d_soil_c_Pg']:+.3e} Pg C",
        f"dVegC {row['d_veg_c_Pg']:+.3e} Pg C",
    ]
    if "d_soil_n_Pg" in row:
        parts.append(f"dSoilN {row['d_soil_n_Pg'] * 1e3:+.3e} Tg N")
    parts.append("settled " + ", ".join(f"{k[8:]} {100 * v:.1f} %" for k, v in row.items() if k.startswith("settled_")))
    if "cells_accelerated" in row:
        parts.append(f"accelerated {row['cells_accelerated']} cells, fallback {row['cells_fallback']}")
    if "cells_retired" in row:
        parts.append(f"retired {row['cells_retired']} cells ({row['cells_simulated']} simulated in this cycle)")
    parts.append(f"max budget residual C {cmax:.1e} N {nmax:.1e} g m-2 yr-1")
    runlog.write("; ".join(parts) + (" -- criteria met" if row["criteria_met"] else ""))
    negative = sorted({c for r in results for c in r.negative_cells})
    if negative:
        runlog.write(
            f"negative pools reset to 0 in {len(negative)} cell(s), first: cell {negative[0] + 1} "
            f"(cellid {domain.cellid[negative[0]]})"
        )


def _write_restart(path: Path, state: np.ndarray, stage: Stage, years: int, met: bool) -> None:
    info = restart_info(stage.model, years)
    write_restart(
        path,
        state,
        info,
        extra={
            "spinup_stage": stage.name,
            "spinup_method": stage.method,
            "spinup_pool_scaling": "none",
            "spinup_criteria_met": np.int32(met),
        },
    )


def _write_cells(
    path: Path, plan: SpinupPlan, settled_at: np.ndarray, recent: np.ndarray, cells: np.ndarray, active: np.ndarray
) -> None:
    """Per-cell convergence: the cycle of each stage at which the cell first settled (-1: never)."""
    d = plan.stages[0].model.domain
    unsettled = set(cells.tolist())
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        [
            "cell",
            "cellid",
            "lat",
            "lon",
            "igbp",
            "active",
            *[f"settled_cycle_{s.name}" for s in plan.stages],
            "status",
            "last_dsoc_gm2",
        ]
    )
    for c in range(d.ncell):
        status = "inactive" if not active[c] else (unsettled_kind(recent[:, c]) if c in unsettled else "settled")
        w.writerow(
            [
                c + 1,
                d.cellid[c],
                f"{d.lat[c]:.3f}",
                f"{d.lon[c]:.3f}",
                d.pft[c],
                int(active[c]),
                *settled_at[:, c].tolist(),
                status,
                f"{recent[-1, c]:.4e}",
            ]
        )
    write_text(path, buf.getvalue())


def _log_unsettled(runlog: RunLog, plan: SpinupPlan, recent: np.ndarray, cells: np.ndarray) -> None:
    if not cells.size:
        runlog.write("every vegetated cell is settled")
        return
    d = plan.stages[0].model.domain
    order = cells[np.argsort(-np.abs(recent[-1, cells]))]
    runlog.write(f"{cells.size} vegetated cell(s) not settled (largest soil C change first; all in {CELLS}):")
    for c in order[:LIST_CELLS]:
        runlog.write(
            f"  cell {c + 1} (cellid {d.cellid[c]}) lat {d.lat[c]:.2f} lon {d.lon[c]:.2f} IGBP {d.pft[c]}: "
            f"{unsettled_kind(recent[:, c])}, last dSOC {recent[-1, c]:+.3g} g m-2 per cycle"
        )


def _plot(out: Path, rows: list[dict]) -> None:
    """equilibrium.png: |global dSOC| per cycle and the fraction of settled cells, against simulated years."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not rows:
        return
    years = [r["years"] for r in rows]
    fig, (a, b) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    for key, label in (("d_soil_c_Pg", "soil C"), ("d_veg_c_Pg", "vegetation C"), ("d_soil_n_Pg", "soil N")):
        if key in rows[0]:
            a.semilogy(years, [max(abs(r[key]), 1e-12) for r in rows], marker=".", label=label)
    a.set_ylabel("|global change| per cycle (Pg)")
    a.legend()
    for key in rows[0]:
        if key.startswith("settled_"):
            b.plot(years, [100 * r[key] for r in rows], marker=".", label=key[8:])
    b.set_ylabel("vegetated cells settled (%)")
    b.set_xlabel("simulated years")
    b.legend()
    for ax in (a, b):
        for i in range(1, len(rows)):
            if rows[i]["stage"] != rows[i - 1]["stage"]:
                ax.axvline(rows[i - 1]["years"], color="grey", lw=0.5)
    fig.tight_layout()
    fig.savefig(out / "equilibrium.png", dpi=100)
    plt.close(fig)


def write_transient_namelist(plan: SpinupPlan, restart: Path, target: Path) -> Path:
    """A namelist for the transient `testbed run` that starts from the spun-up state (absolute paths)."""
    import copy

    base = plan.config
    cfg = copy.deepcopy(plan.stages[-1].config)
    for key in (
        "files.gridinfo",
        "files.soil",
        "files.phenology",
        "files.casa_params",
        "files.mimics_params",
        "files.met",
    ):
        v = cfg.get(key)
        if v and not v.startswith("@namelists/"):
            cfg.set(key, str(cfg.resolve(v).resolve()) if "{year}" not in v else str(cfg.resolve(v).absolute()))
    first = base.get("spinup.transient_first_year") or base.get("run.first_year")
    last = base.get("spinup.transient_last_year") or base.get("run.last_year")
    cfg.set("run.start", "restart")
    cfg.set("files.restart_in", str(restart.resolve()))
    for key in ("files.legacy_restart_casa", "files.legacy_restart_mimics"):
        cfg.set(key, "")
    cfg.set("run.cycles", 1)
    if first and last:
        cfg.set("run.mode", "transient")
        cfg.set("run.first_year", first)
        cfg.set("run.last_year", last)
    outdir = base.get("spinup.transient_output_dir") or f"{plan.output_dir.resolve()}_transient"
    cfg.set("files.output_dir", str(base.resolve(outdir).resolve()) if outdir else outdir)
    # the perturbation of the namelist applies to the transient run (the spin-up is unperturbed)
    cfg.check()
    write_text(target, "! written by testbed spinup: the transient run from its restart.nc\n" + namelist_text(cfg))
    return target
