"""Run a stage of ../shared/reference/setA from its original .lst and keep every year's results in memory."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from testbed.domain import Domain, PhenologyTable
from testbed.legacy import legacy_schedule, read_co2delta, read_lst, read_pool_csvs
from testbed.model import Model
from testbed.params import read_casa_pft_csv
from testbed.run import YearResult, run_years


@dataclass
class StageRun:
    model: Model
    years: list[YearResult] = field(default_factory=list)

    @property
    def final_state(self) -> np.ndarray:
        return self.years[-1].state


def setup_stage(stage_dir: Path) -> tuple[Model, np.ndarray, list, object]:
    lst = read_lst(stage_dir / "fcasacnp_clm_testbed.lst")
    domain = Domain.from_files(lst.gridinfo, lst.soil)
    spec = lst.soil_description.parameters
    soil_params = spec.load(lst.soil_params) if spec else None
    model = Model(
        domain,
        read_casa_pft_csv(lst.casa_params),
        PhenologyTable.read(lst.phenology),
        lst.soil_model,
        lst.icycle,
        soil_params,
    )
    if lst.initcasa == 0:
        state = model.cold_state()
    else:
        paths = [lst.casa_restart_in] + ([lst.soil_restart_in] if lst.soil_description.legacy_csv else [])
        state = model.restart_state(read_pool_csvs(lst.soil_description, paths, model.ncell, lst.icycle))
    return model, state, legacy_schedule(lst), read_co2delta(lst.co2delta)


def run_stage(stage_dir: Path, keep_daily: bool = True) -> StageRun:
    model, state, steps, pert = setup_stage(stage_dir)
    out = StageRun(model)
    for res in run_years(model, state, steps, perturbation=pert):
        if not keep_daily:
            res.daily = None
        out.years.append(res)
    return out
