"""testbed/demo.py: the demo's spin-up budget (the demo itself runs in CI as `make demo`)."""

from __future__ import annotations

import pytest

from testbed.config import RunConfig, shipped_namelists
from testbed.demo import CONFIGS, FIRST_YEAR, LAST_YEAR, SPIN_YEARS, _spin_budget


@pytest.mark.parametrize("spin_years", [SPIN_YEARS, 100, 30])
def test_spin_budget_keeps_the_default_stages_within_the_years(spin_years: int) -> None:
    cfg = RunConfig.read(shipped_namelists() / f"spinup_{CONFIGS[0]}.nml")
    own_cap = cfg.get("spinup.accelerate_max_cycles")
    cfg.override(_spin_budget(cfg, spin_years))
    assert cfg.get("spinup.stages") == "prespin accelerate cycle"
    accelerate, cycle = cfg.get("spinup.accelerate_max_cycles"), cfg.get("spinup.cycle_max_cycles")
    assert accelerate >= 1 and cycle >= 1
    assert accelerate <= own_cap
    years = cfg.get("spinup.prespin_cycles") + (accelerate + cycle) * (LAST_YEAR - FIRST_YEAR + 1)
    assert years <= max(spin_years, cfg.get("spinup.prespin_cycles") + 2 * (LAST_YEAR - FIRST_YEAR + 1))
    if spin_years == SPIN_YEARS:  # the default leaves the cycle stage room after a full accelerate stage
        assert years > spin_years - (LAST_YEAR - FIRST_YEAR + 1) and cycle >= 30
