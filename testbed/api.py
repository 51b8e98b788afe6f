"""A few lines from inputs to xarray: run a set of cells for some years in memory.

    from testbed.api import load_model, simulate
    model = load_model("gridinfo.csv", "soil.csv", soil_model="mimics", cycle="cn")
    daily, annual = simulate(model, "met_1901_1905.nc", years=5)

For runs with files, checkpoints and many cells, use a namelist and `testbed run`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from . import soil as soil_models
from .config import shipped_namelists
from .domain import Domain, PhenologyTable
from .model import Model
from .output import CellInfo, annual_columns, annual_data, concat_time, daily_columns, daily_data
from .params import load_casa_parameters
from .run import Perturbation, cycle_schedule, run_years
from .soil.base import CYCLE_NAMES


def load_model(
    gridinfo: str | Path,
    soil: str | Path,
    *,
    soil_model: str = "casa",
    cycle: str = "cn",
    casa_params: str | Path | None = None,
    soil_params: str | Path | None = None,
    phenology: str | Path | None = None,
    fixes: dict[str, bool] | None = None,
    mimics_params: str | Path | None = None,
) -> Model:
    """A model of the cells in ``gridinfo``/``soil`` with the shipped parameter sets unless others are given.

    ``soil_params`` is the soil model's own parameter file, if it has one (``mimics_params`` is an alias).
    """
    shipped = shipped_namelists()
    casa = load_casa_parameters(casa_params or shipped / "params_casa_igbp.nml")
    spec = soil_models.get(soil_model).parameters
    sparams = spec.load(soil_params or mimics_params or shipped / spec.shipped) if spec else None
    phen = PhenologyTable.read(phenology or shipped / "phenology_modis_igbp.csv")
    icycle = {v: k for k, v in CYCLE_NAMES.items()}[cycle]
    return Model(Domain.from_files(gridinfo, soil), casa, phen, soil_model, icycle, sparams, fixes or {})


def simulate(
    model: Model,
    met: str | Path,
    years: int,
    *,
    state: np.ndarray | None = None,
    perturbation: Perturbation | None = None,
) -> tuple[xr.Dataset, xr.Dataset]:
    """Run ``years`` years cycling the met file from a cold start (or ``state``, updated in place).

    Returns (daily, annual) datasets with units: daily pools and fluxes of every day on a
    continuous time axis, and the annual sums and means. Years are labelled 1, 2, ...
    """
    steps = cycle_schedule(met, -(-years // _nyear(met)), daily=True)[:years]
    for s in steps:
        s.store_daily = True
        s.write_output = True
    state = model.cold_state() if state is None else state
    d = model.domain
    cells = CellInfo(d.lat, d.lon, d.area, d.pft, d.cellid, model.static_fields())
    dailies, annuals, labels = [], [], []
    for res in run_years(model, state, steps, perturbation=perturbation):
        dailies.append(
            daily_data(
                daily_columns(res.daily, model.soil_model, model.icycle, model.output_options),
                res.step.label,
                cells,
                model.soil_model,
                model.icycle,
                options=model.output_options,
            )
        )
        annuals.append(annual_columns(res.annual, model.soil_model, model.icycle, model.output_options))
        labels.append(res.step.label)
    annual = annual_data(annuals, labels, cells, model.soil_model, model.icycle, options=model.output_options)
    return concat_time(dailies).to_xarray(), annual.to_xarray()


def _nyear(met: str | Path) -> int:
    from .forcing import MetFile

    return MetFile.open(met).nyear
