"""Runs from a namelist, in three parts: the output folder and resume (:mod:`.folder`), the dask segment
scheduler (:mod:`.segments`) and output assembly (:mod:`.assembly`); :mod:`.plan` validates the inputs.

After each segment of years the driver writes the segment's outputs and a checkpoint, so a killed run
resumes from it and ends bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..state import write_restart
from .assembly import cell_info, finish, log_negative_pools, output_attrs, restart_info, write_segment
from .folder import CHECKPOINT, OutputFolder
from .plan import Plan, build_model, initial_state, prepare, schedule
from .segments import chunks, dask_client, run_chunk, run_segments, worst

__all__ = ["CHECKPOINT", "Plan", "build_model", "chunks", "dask_client", "execute", "initial_state", "prepare",
           "run_chunk", "schedule"]


def execute(plan: Plan, *, resume: bool = False, overwrite: bool = False, workers: int | None = None,
            scheduler: str | None = None, progress: bool = True) -> Path:
    """Run a validated plan; returns the output folder."""
    cfg, model = plan.config, plan.model
    folder = OutputFolder(plan.output_dir)
    state, start_index, runlog = folder.open(cfg, plan.state, resume=resume, overwrite=overwrite)
    label = f"{model.soil_model.upper()}-{cfg.get('run.cycle').upper()}"
    runlog.write(f"testbed run: {label}, {model.ncell} cells, {len(plan.steps)} simulated years"
                 + (f", resuming at year {start_index + 1}" if resume else ""))
    for path in plan.met_files[:3]:
        runlog.write(f"met: {path}")
    attrs = output_attrs(plan)
    cells = cell_info(model.domain)
    interval = cfg.get("run.checkpoint_interval")
    from tqdm import tqdm

    bar = tqdm(total=model.ncell * (len(plan.steps) - start_index) * 365, unit="cell-day", unit_scale=True,
               disable=not progress, desc=label.lower(), dynamic_ncols=True)
    t_start = time.perf_counter()
    with dask_client(cfg, workers, scheduler) as client:
        for seg in run_segments(client, plan, state, start_index, interval, folder.parts, log=runlog.write,
                                on_chunk_done=lambda r, n: bar.update((r.cells.stop - r.cells.start) * n * 365)):
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
                          extra={"next_step": np.int32(seg.end), "run_config_sha256": cfg.sha256()})
    bar.close()
    written = finish(folder, plan, state)
    folder.close()
    elapsed = time.perf_counter() - t_start
    daily = ", daily_*.nc" if cfg.get("run.daily_output") else ""
    runlog.write(f"finished in {elapsed:.1f} s ({model.ncell * (len(plan.steps) - start_index) * 365 / elapsed:,.0f} "
                 f"cell-days/s); outputs: {', '.join(written)}{daily}")
    return folder.root
