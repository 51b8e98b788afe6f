"""The stages of a spin-up pipeline, read from the namelist's &spinup group and checked before compute.

Stages (docs/spinup.md "Stages"), run in the order of ``spinup.stages``:

* ``prespin``: one met year cycled: ``prespin_method`` = cycle runs it ``prespin_cycles`` times (the published
  MIMICS-CN workflow's 100 cycles of 1901, often with its own CASA table: ``prespin_set``); an accelerated
  ``prespin_method`` iterates the one-year map until its criteria hold -- the stage's criteria scaled to the
  forcing cycle's length (:func:`prespin_criteria`) -- or ``prespin_max_cycles``;
* ``accelerate``: ``accelerate_method`` (auto | cycle | anderson | sasu | newton) until the criteria hold
  or ``accelerate_max_cycles``;
* ``cycle``: ``cycle_method`` (default plain cycling) until the criteria hold or ``cycle_max_cycles``;
* ``settle``: plain cycles per cell until each of its totals stood still over ``settle_window`` years
  (:mod:`.settle`), at most ``settle_max_years``.

Every stage may change settings for itself (``<stage>_set``: group.key=value, e.g. its parameter
files) but not the soil model, the cycle (C or C+N), the domain or the forcing cycle.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import AUTO, SPINUP_METHODS, RunConfig
from ..errors import ConfigError
from ..model import Model
from ..run import YearStep
from ..runner import prepare
from .criteria import Criteria
from .settle import Settle

STAGES = ("prespin", "accelerate", "cycle", "settle")
#: the methods a stage runs (``auto`` resolves to one of them: :func:`resolve_method`)
METHODS = tuple(m for m in SPINUP_METHODS if m != AUTO)
#: keys no stage may change: the pipeline's stages share one fixed point
FROZEN = ("run.soil_model", "run.cycle", "run.first_year", "run.last_year", "files.met", "files.gridinfo", "files.soil")


@dataclass
class Stage:
    """One validated stage."""

    name: str
    method: str
    max_cycles: int
    early_stop: bool  #: stop as soon as the criteria hold
    criteria: Criteria  #: when the stage's criteria hold (its settled fractions in equilibrium.csv use them too)
    config: RunConfig  #: the namelist with this stage's settings applied
    model: Model
    steps: list[YearStep]  #: one cycle of the stage (the forcing cycle; prespin: its one met year)
    #: years of the forcing cycle per year of this stage's cycle (prespin: the forcing cycle's length; else 1)
    scale: float = 1.0
    settle: Settle | None = None  #: the settle stage's per-cell retirement rule (it ends when every cell retired)

    @property
    def years_per_cycle(self) -> int:
        return len(self.steps)


@dataclass
class SpinupPlan:
    config: RunConfig
    stages: list[Stage]
    state: np.ndarray  #: initial state (cold start or restart)
    criteria: Criteria
    met_files: list[Path]

    @property
    def output_dir(self) -> Path:
        return self.config.resolve(self.config.get("files.output_dir"))


def criteria_from(cfg: RunConfig) -> Criteria:
    return Criteria(
        cfg.get("spinup.soc_global"),
        cfg.get("spinup.cell_abs"),
        cfg.get("spinup.cell_rel"),
        cfg.get("spinup.cell_fraction"),
        tuple(cfg.get("spinup.criteria_variables").split()),
        period2=cfg.get("spinup.cell_period2"),
    )


def prespin_criteria(crit: Criteria, years_per_cycle: int) -> Criteria:
    """The criteria of an accelerated prespin, per year of its one-year map: the forcing cycle's criteria divided by
    the cycle's length in years (a drift that would hold them over a whole forcing cycle)."""
    return crit.tighter(float(years_per_cycle))


def resolve(cfg: RunConfig, key: str) -> Any:
    """``spinup.<key>``, with ``auto`` resolved from the soil model's description for the run's cycle
    (SoilModel.spinup_auto)."""
    value = cfg.get(f"spinup.{key}")
    return plan_soil(cfg).auto_value(key, cfg.icycle) if value == AUTO else value


def resolve_method(cfg: RunConfig, key: str) -> str:
    """The method a stage's key names, ``auto`` resolved from the soil model's description; refused before compute
    when it does not exist or does not apply to the soil model."""
    method = resolve(cfg, key)
    soil = plan_soil(cfg)
    if method not in METHODS:
        raise ConfigError(f"spinup.{key} = {method!r}: use one of {', '.join(METHODS)}")
    if method == "sasu" and not soil.linear_pools:
        raise ConfigError(
            f"spinup.{key} = 'sasu': soil model {soil.name!r} declares no pools whose fluxes its kernel reports "
            "(SoilModel.linear_pools), so it has no semi-analytic step; use anderson or newton"
        )
    return method


def stage_names(cfg: RunConfig) -> list[str]:
    names = str(resolve(cfg, "stages")).replace(",", " ").split()
    if not names:
        raise ConfigError("spinup.stages is empty; e.g. stages = 'prespin accelerate cycle'")
    for n in names:
        if n not in STAGES:
            close = difflib.get_close_matches(n, STAGES, n=1)
            raise ConfigError(
                f"spinup.stages: unknown stage {n!r}; stages are {', '.join(STAGES)}"
                + (f"; did you mean {close[0]!r}?" if close else "")
            )
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"spinup.stages: stage {dup[0]!r} appears twice; each stage runs at most once")
    return names


def stage_config(cfg: RunConfig, name: str) -> RunConfig:
    """The namelist with stage ``name``'s own settings applied (one forcing cycle per run.cycles)."""
    out = copy.deepcopy(cfg)
    try:
        assignments = shlex.split(cfg.get(f"spinup.{name}_set"))
    except ValueError as exc:
        raise ConfigError(f"spinup.{name}_set: {exc}") from None
    for a in assignments:
        if a.split("=", 1)[0].strip().startswith("spinup."):
            raise ConfigError(f"spinup.{name}_set: {a!r} -- &spinup keys cannot be set per stage")
    try:
        out.override(assignments)
    except ConfigError as exc:
        raise ConfigError(f"spinup.{name}_set: {exc}") from None
    for path in FROZEN:
        if out.get(path) != cfg.get(path):
            raise ConfigError(
                f"spinup.{name}_set changes {path} from {cfg.get(path)!r} to {out.get(path)!r}; "
                "every stage of a spin-up must share the soil model, the cycle (C or C+N), the "
                "domain and the forcing cycle"
            )
    out.set("run.cycles", 1)
    out.set("run.mode", "spinup")
    out.set("run.output_interval", 1)
    out.set("run.daily_output", False)
    out.check()
    return out


def _quiet(step: YearStep, count: int) -> YearStep:
    return dataclasses.replace(
        step, count=count, label=count, write_output=False, restart_write=False, store_daily=False
    )


def _prespin_steps(cfg: RunConfig, steps: list[YearStep]) -> list[YearStep]:
    year = cfg.get("spinup.prespin_year")
    first = cfg.get("run.first_year")
    if first or cfg.get("run.last_year"):
        index = 0 if year == 0 else year - first
        what = f"calendar year {year} (met files {first}-{cfg.get('run.last_year')})"
    else:
        index = 0 if year == 0 else year - 1
        what = f"year {year} of the {len(steps)}-year met file"
    if not 0 <= index < len(steps):
        raise ConfigError(f"spinup.prespin_year = {year}: there is no {what}")
    return [_quiet(steps[index], 1)]


def plan_soil(cfg: RunConfig):
    """The soil model's description named by the namelist."""
    from ..soil import REGISTRY

    return REGISTRY[cfg.get("run.soil_model")]


def plan_spinup(cfg: RunConfig) -> SpinupPlan:
    """Validate a spin-up pipeline and every input of each of its stages, before any compute."""
    names = stage_names(cfg)
    crit = criteria_from(cfg)
    crit.check(cfg.icycle)
    method = resolve_method(cfg, "accelerate_method") if "accelerate" in names else "cycle"
    pre_method = resolve_method(cfg, "prespin_method") if "prespin" in names else "cycle"
    cycle_method = resolve_method(cfg, "cycle_method") if "cycle" in names else "cycle"
    if not cfg.get("spinup.sasu_max_factor") > 1:
        raise ConfigError("spinup.sasu_max_factor must be > 1")
    if not (cfg.get("spinup.sasu_collapse") == 0 or cfg.get("spinup.sasu_collapse") > 1):
        raise ConfigError("spinup.sasu_collapse must be 0 (off) or > 1 (a factor)")
    if not 0 <= cfg.get("spinup.sasu_microbe_ratio") < 1:
        raise ConfigError("spinup.sasu_microbe_ratio must be in [0, 1) (0: off)")
    for key in (
        "prespin_cycles",
        "prespin_max_cycles",
        "accelerate_max_cycles",
        "cycle_max_cycles",
        "anderson_fallback_after",
        "aitken_block",
        "full_every",
    ):
        if cfg.get(f"spinup.{key}") < 1:
            raise ConfigError(f"spinup.{key} must be >= 1")
    if cfg.get("spinup.settle_window") < 1:
        raise ConfigError("spinup.settle_window must be >= 1 (years)")
    if cfg.get("spinup.settle_max_years") < 1:
        raise ConfigError("spinup.settle_max_years must be >= 1 (years)")
    for key in ("settle_rel", "settle_abs"):
        v = cfg.get(f"spinup.{key}")
        if not np.isfinite(v) or v < 0:
            raise ConfigError(f"spinup.{key} = {v} can never be met; it must be >= 0")
    if cfg.get("spinup.settle_rel") == 0 and cfg.get("spinup.settle_abs") == 0:
        raise ConfigError(
            "spinup.settle_rel and spinup.settle_abs are both 0: no cell could ever retire; give one a positive value"
        )
    if resolve(cfg, "freeze_after") < 0:
        raise ConfigError("spinup.freeze_after must be >= 0 (0: no cell is frozen)")
    if cfg.get("spinup.anderson_depth") < 1:
        raise ConfigError("spinup.anderson_depth must be >= 1")
    if not 0 < cfg.get("spinup.anderson_damping") <= 1:
        raise ConfigError("spinup.anderson_damping must be in (0, 1]")
    if not cfg.get("spinup.anderson_max_factor") > 1:
        raise ConfigError("spinup.anderson_max_factor must be > 1")
    if not cfg.get("spinup.newton_max_factor") > 1:
        raise ConfigError("spinup.newton_max_factor must be > 1")
    if not cfg.get("spinup.aitken_max_factor") > 1:
        raise ConfigError("spinup.aitken_max_factor must be > 1")
    if not cfg.get("spinup.aitken_max_cycles") >= 1:
        raise ConfigError("spinup.aitken_max_cycles must be >= 1")
    stages: list[Stage] = []
    state = None
    met_files: set[Path] = set()
    for name in names:
        scfg = stage_config(cfg, name)
        plan = prepare(scfg)
        if state is None:
            state = plan.state
        met_files.update(plan.met_files)
        steps = [_quiet(s, i + 1) for i, s in enumerate(plan.steps)]
        if name == "prespin":
            one = _prespin_steps(cfg, steps)
            if pre_method == "cycle":  # a fixed number of plain cycles, no early stop
                stages.append(
                    Stage(name, "cycle", cfg.get("spinup.prespin_cycles"), False, crit, scfg, plan.model, one)
                )
            else:  # the one-year map's fixed point, until the criteria per year hold
                per_year = float(len(steps))
                pre_crit = prespin_criteria(crit, len(steps))
                max_cycles = cfg.get("spinup.prespin_max_cycles")
                stages.append(Stage(name, pre_method, max_cycles, True, pre_crit, scfg, plan.model, one, per_year))
        elif name == "accelerate":
            stages.append(
                Stage(name, method, cfg.get("spinup.accelerate_max_cycles"), True, crit, scfg, plan.model, steps)
            )
        elif name == "cycle":
            stages.append(
                Stage(name, cycle_method, cfg.get("spinup.cycle_max_cycles"), True, crit, scfg, plan.model, steps)
            )
        else:
            n = len(steps)  # the window and the budget in whole forcing cycles, the window at least two
            window = max(2, -(-cfg.get("spinup.settle_window") // n))
            rule = Settle(window, cfg.get("spinup.settle_rel"), cfg.get("spinup.settle_abs"))
            max_cycles = max(1, -(-cfg.get("spinup.settle_max_years") // n))
            stages.append(Stage(name, "cycle", max_cycles, True, crit, scfg, plan.model, steps, settle=rule))
    assert state is not None
    return SpinupPlan(cfg, stages, state, crit, sorted(met_files))
