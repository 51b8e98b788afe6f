"""The optional fixes of the original's quirks (testbed.layout.FIXES, namelist keys ``fixes.<name>``; docs/quirks.md).

For every fix option, and for the Python-side restart-write reset switch (run_years(restart_write_reset=False),
namelist key ``fixes.no_restart_write_reset``), a 2-year run of the 12 cells of reference set A shows that
  (i)   with the option explicitly off, every daily and annual diagnostic and the state equal the default run;
  (ii)  with it on, the variables the fix acts on differ (on day 1 where the effect is immediate), while the
        variables it cannot influence (forcing, and the soil environment where the fix is downstream of it)
        stay bit-identical, and inactive (icewater) cells never change;
  (iii) the C and N budgets still close: run_years checks every cell every year and raises ConservationError.

FIX_EXUDATE_FROM_NPP and FIX_FLOOR_MINERAL_N are not implemented in the MIMICS path (docs/mimics_kernel_notes.md);
asking for them in a MIMICS run is refused with a ConfigError (tested here).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from testbed import layout
from testbed.model import Model
from testbed.run import YearStep, cycle_schedule

from .oracles import PFT_CSV, Run, edited_pft_csv, run_model, setA_model

pytestmark = pytest.mark.reference

#: diagnostics that depend on the forcing and the calendar only: no fix may change them
FORCING = ("gpp", "tairc", "ndep", "nfix", "phase")
#: the CASA soil environment: functions of the forcing and the root profile only
ENVIRONMENT = ("tsoilc", "moistavg", "btran", "thetaliq", "ft", "fw")
#: CASA litter and soil pools that MIMICS runs keep frozen (mimics.md 1.3)
FROZEN_IN_MIMICS = ("cmet", "cstr", "cmic", "cslow", "cpass", "nmet", "nstr", "nmic", "nslow", "npass")
#: the state columns of CASA pools (what the restart-write reset touches, casa.md Q5)
_CASA_POOLS = layout.STATE[: layout.index("state", "nsoilmin") + 1]


def _steps(setA: Path, nyear: int = 2) -> list[YearStep]:
    # the first two years of the 1901-1905 met file, with daily diagnostics
    return cycle_schedule(setA / "inputs" / "met" / "met_1901_1905.nc", 1, daily=True)[:nyear]


def _run(model: Model, steps: list[YearStep], state: np.ndarray | None = None, **kw) -> Run:
    """A run from the cold start (or ``state``); run_years raises ConservationError if a budget does not close."""
    s = model.cold_state() if state is None else state.copy(order="F")
    return run_model(model, s, steps, **kw)


def _assert_same(a: Run, b: Run) -> None:
    for ya, yb in zip(a.daily, b.daily, strict=True):
        np.testing.assert_array_equal(ya, yb)
    for ya, yb in zip(a.annual, b.annual, strict=True):
        np.testing.assert_array_equal(ya, yb)
    for ya, yb in zip(a.states, b.states, strict=True):
        np.testing.assert_array_equal(ya, yb)


def _differs(a: Run, b: Run, name: str, first_day: bool = False) -> bool:
    x, y = a.diag(name), b.diag(name)
    if first_day:
        x, y = x[0, :, 0], y[0, :, 0]
    return not np.array_equal(x, y)


def _check_effect(
    base: Run, fixed: Run, *, day1: tuple[str, ...] = (), later: tuple[str, ...] = (), unchanged: tuple[str, ...] = ()
) -> None:
    """``day1`` differ on the first day, ``later`` differ somewhere, ``unchanged`` are bit-identical throughout."""
    for name in day1:
        assert _differs(base, fixed, name, first_day=True), f"{name} should differ on day 1"
    for name in later:
        assert _differs(base, fixed, name), f"{name} should differ"
    changed = [n for n in unchanged if _differs(base, fixed, n)]
    assert not changed, f"the fix changed variables it cannot influence: {changed}"
    ice = base.model.domain.inactive(base.model.casa)
    for sa, sb in zip(base.states, fixed.states, strict=True):
        np.testing.assert_array_equal(sa[ice], sb[ice], err_msg="an inactive (icewater) cell changed")


def _model(
    setA: Path, soil: str, icycle: int = 2, fixes: dict[str, bool] | None = None, pft_csv: Path | None = None
) -> Model:
    return setA_model(setA / "inputs", soil, icycle, fixes=fixes, pft_csv=pft_csv)


# ------------------------------------------------------------------------------ (i) off == default, every option


@pytest.mark.parametrize("soil", ["casa", "mimics", "corpse"])
@pytest.mark.parametrize("fix", [f for f in layout.FIXES if f != "reserved"])
def test_fix_explicitly_off_equals_default(setA: Path, fix: str, soil: str) -> None:
    steps = _steps(setA)
    icycle = 1 if soil == "corpse" else 2
    _assert_same(_run(_model(setA, soil, icycle), steps), _run(_model(setA, soil, icycle, fixes={fix: False}), steps))


@pytest.mark.parametrize("soil", ["casa", "mimics"])
def test_restart_write_reset_explicitly_on_equals_default(setA: Path, soil: str) -> None:
    steps = _steps(setA)
    model = _model(setA, soil)
    _assert_same(_run(model, steps), _run(model, steps, restart_write_reset=True))


# ------------------------------------------------------------------------------ (ii)+(iii) the shared vegetation fixes

_VEG_MIMICS_UNCHANGED = FORCING + FROZEN_IN_MIMICS

#: fix -> (day-1 differences, later differences, unchanged) for CASA; the MIMICS expectations are derived below
VEG_FIXES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    # casa.md Q1: the root profile changes the root-weighted soil climate, hence everything downstream
    "cumulative_root_depth": (("tsoilc", "moistavg", "btran"), ("cleaf", "npp", "rh", "nsoilmin"), FORCING),
    # casa.md Q2: btran clamped to [0, 1], theta_avg from the unclipped theta; soil temperature untouched
    "clamp_btran": (("btran", "moistavg"), ("fw", "cleaf", "rh"), FORCING + ("tsoilc", "ft")),
    # casa.md Q3: leaf maintenance respiration from rm_leaf (the original's is 0)
    "leaf_maint_resp": (("rm_leaf", "ra", "npp"), ("cleaf", "nsoilmin"), FORCING + ENVIRONMENT),
    # casa.md Q4: constant growth yield from the table N:P
    "constant_growth_yield": (("rg", "ra", "npp"), ("cleaf",), FORCING + ENVIRONMENT + ("rm_leaf",)),
}


@pytest.mark.parametrize("fix", list(VEG_FIXES))
def test_vegetation_fix_casa(setA: Path, fix: str) -> None:
    day1, later, unchanged = VEG_FIXES[fix]
    steps = _steps(setA)
    base, fixed = _run(_model(setA, "casa"), steps), _run(_model(setA, "casa", fixes={fix: True}), steps)
    _check_effect(base, fixed, day1=day1, later=later, unchanged=unchanged)
    if fix == "clamp_btran":
        assert base.diag("btran").min() < 0.0, "set A no longer exercises the unclamped btran (casa.md Q2)"
        btran = fixed.diag("btran")
        assert btran.min() >= 0.0 and btran.max() <= 1.0
    if fix == "leaf_maint_resp":
        assert not base.diag("rm_leaf").any(), "the original's leaf maintenance respiration is 0 (casa.md Q3)"
        assert (fixed.diag("rm_leaf") > 0).any()


@pytest.mark.parametrize("fix", list(VEG_FIXES))
def test_vegetation_fix_mimics(setA: Path, fix: str) -> None:
    day1, _, unchanged = VEG_FIXES[fix]
    steps = _steps(setA)
    base, fixed = _run(_model(setA, "mimics"), steps), _run(_model(setA, "mimics", fixes={fix: True}), steps)
    # the CASA soil-climate diagnostics thetaliq/ft/fw are 0 in MIMICS runs; MIMICS has its own
    day1 = tuple(n for n in day1 if n not in ("thetaliq", "ft", "fw"))
    unchanged = tuple(dict.fromkeys(unchanged + _VEG_MIMICS_UNCHANGED))
    _check_effect(
        base, fixed, day1=day1, later=("cleaf", "npp", "litm", "micr", "soma", "nsoilmin"), unchanged=unchanged
    )


# ------------------------------------------------------------------------------ exudate from NPP (casa.md Q6)


@pytest.fixture(scope="module")
def exudating_pft(setA: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The PFT table with fracRootExud = 0.1 (the shipped one has 0, where Q6 and its fix do nothing)."""
    return edited_pft_csv(setA / "inputs" / PFT_CSV, tmp_path_factory.mktemp("pft") / "pft_exud.csv", 0.1)


def test_exudate_from_npp_casa(setA: Path, exudating_pft: Path) -> None:
    steps = _steps(setA)
    base = _run(_model(setA, "casa", pft_csv=exudating_pft), steps)
    fixed = _run(_model(setA, "casa", fixes={"exudate_from_npp": True}, pft_csv=exudating_pft), steps)
    assert (base.diag("cexudate") > 0).any()
    _check_effect(
        base,
        fixed,
        day1=("npp", "c_quirk_source", "cleaf"),
        later=("nsoilmin", "rh"),
        unchanged=FORCING + ENVIRONMENT + ("cexudate", "rm_leaf"),
    )
    # the exudate is no longer created: it leaves the C quirk source
    gpp, cexud = base.diag("gpp"), base.diag("cexudate")
    day1 = (gpp[0, :, 0] > 0) & (cexud[0, :, 0] > 0)
    src_base, src_fixed = base.diag("c_quirk_source")[0, :, 0], fixed.diag("c_quirk_source")[0, :, 0]
    np.testing.assert_allclose((src_base - src_fixed)[day1], cexud[0, :, 0][day1], rtol=1e-12)


def test_exudate_from_npp_casa_without_exudation_does_nothing(setA: Path) -> None:
    steps = _steps(setA)
    _assert_same(_run(_model(setA, "casa"), steps), _run(_model(setA, "casa", fixes={"exudate_from_npp": True}), steps))


def test_casa_only_fixes_are_refused_for_mimics(setA: Path) -> None:
    """The MIMICS path does not implement these two options: asking for them is an error, not a no-op."""
    from testbed.errors import ConfigError

    for name in ("exudate_from_npp", "floor_mineral_n"):
        with pytest.raises(ConfigError, match=f"fix option '{name}' is not implemented for the mimics soil model"):
            _model(setA, "mimics", fixes={name: True})


# ------------------------------------------------------------------------------ floor mineral N (casa.md Q10)


def _low_n_restart(model: Model, nsoilmin: float, mimics_n_scale: float = 1.0) -> np.ndarray:
    """A restart (public API) from the cold state with low mineral N (and scaled MIMICS N pools)."""
    cold = model.cold_state()
    values = {n: cold[:, layout.index("state", n)].copy() for n in layout.STATE}
    values["nsoilmin"][:] = nsoilmin
    for n in ("litmn", "litsn", "micrn", "mickn", "soman", "somcn", "sompn"):
        values[n] *= mimics_n_scale
    return model.restart_state(values)


def test_floor_mineral_n_casa(setA: Path) -> None:
    steps = _steps(setA)
    model0, model1 = _model(setA, "casa"), _model(setA, "casa", fixes={"floor_mineral_n": True})
    base = _run(model0, steps, _low_n_restart(model0, 0.3))
    fixed = _run(model1, steps, _low_n_restart(model1, 0.3))
    assert base.diag("nsoilmin").min() < 0.0, "the low-N restart no longer drives N_min negative (casa.md Q10)"
    assert fixed.diag("nsoilmin").min() >= 0.0
    _check_effect(
        base, fixed, later=("nsoilmin", "n_quirk_source", "nuptake", "cleaf"), unchanged=FORCING + ENVIRONMENT
    )
    # the N added by the floor is booked as a quirk source (so the N budget closes, checked by run_years)
    assert fixed.diag("n_quirk_source").sum() > base.diag("n_quirk_source").sum()


def test_floor_mineral_n_is_inactive_for_icycle_1(setA: Path) -> None:
    steps = _steps(setA)
    m0, m1 = _model(setA, "casa", 1), _model(setA, "casa", 1, fixes={"floor_mineral_n": True})
    _assert_same(_run(m0, steps), _run(m1, steps))


# ------------------------------------------------------------------------------ MIMICS first-year NPP (mimics.md Q10)


def test_mimics_first_year_npp(setA: Path) -> None:
    """A restart that carries the previous year's NPP keeps it (fix) instead of using GPP/2 of the new year."""
    steps = _steps(setA)
    default = _model(setA, "mimics")
    fixed_model = _model(setA, "mimics", fixes={"mimics_first_year_npp": True})
    continuous = _run(default, steps)  # 2 years in one run
    year1_state = continuous.states[0]
    npp_prev = year1_state[:, layout.index("state", "npp_prev")]
    active = ~default.domain.inactive(default.casa)
    np.testing.assert_array_equal(npp_prev, continuous.annual[0][:, layout.index("diag", "npp")])
    # year 2 as a new run (first year of a program run) from the end-of-year-1 state
    base = _run(default, steps[1:], year1_state)
    fixed = _run(fixed_model, steps[1:], year1_state)
    # default: the original's quirk, CnppAn = sum(GPP)/2 of the new year's met
    gpp = base.diag("gpp")[0]
    np.testing.assert_allclose(base.diag("npp_prev")[0, active, 0], gpp[active].sum(axis=1) / 2.0, rtol=1e-12)
    # fix: the run continues exactly as if it had not been interrupted
    assert np.array_equal(fixed.diag("npp_prev")[0, :, 0][active], npp_prev[active])
    for name in layout.DIAGNOSTICS:
        np.testing.assert_array_equal(fixed.diag(name)[0], continuous.diag(name)[1], err_msg=name)
    _check_effect(
        base,
        fixed,
        day1=("npp_prev", "taumod", "micr"),
        later=("soma", "nsoilmin"),
        unchanged=FORCING + ("tsoilc", "moistavg", "btran", "fw_mimics") + FROZEN_IN_MIMICS,
    )
    # on day 1 the vegetation has not yet seen the MIMICS change (it acts through tomorrow's N_min only)
    for name in ("npp", "cleaf", "nuptake"):
        assert not _differs(base, fixed, name, first_day=True), name


def test_mimics_first_year_npp_cold_start_and_casa_unaffected(setA: Path) -> None:
    steps = _steps(setA)
    # a cold start has no previous NPP: still GPP/2, as the original
    _assert_same(
        _run(_model(setA, "mimics"), steps), _run(_model(setA, "mimics", fixes={"mimics_first_year_npp": True}), steps)
    )
    # CASA soil has no CnppAn
    _assert_same(
        _run(_model(setA, "casa"), steps), _run(_model(setA, "casa", fixes={"mimics_first_year_npp": True}), steps)
    )


# ------------------------------------------------------------------------------ CORPSE first-year NPP (corpse.md Q6)


def test_corpse_first_year_npp(setA: Path) -> None:
    """A restart that carries the previous year's NPP keeps it for the exudation (fix) instead of GPP/2."""
    steps = _steps(setA)
    default = _model(setA, "corpse", 1)
    fixed_model = _model(setA, "corpse", 1, fixes={"corpse_first_year_npp": True})
    continuous = _run(default, steps)
    year1_state = continuous.states[0]
    npp_prev = year1_state[:, layout.index("state", "corpse_npp_prev")]
    np.testing.assert_array_equal(npp_prev, continuous.annual[0][:, layout.index("diag", "npp")])
    base = _run(default, steps[1:], year1_state)
    fixed = _run(fixed_model, steps[1:], year1_state)
    for name in layout.DIAGNOSTICS:
        np.testing.assert_array_equal(fixed.diag(name)[0], continuous.diag(name)[1], err_msg=name)
    _check_effect(base, fixed, later=("soil_unprot_1", "soil_hr"), unchanged=FORCING + ("tsoilc", "moistavg"))
    # a cold start has no previous NPP: GPP/2 with or without the fix
    _assert_same(continuous, _run(fixed_model, steps))


def test_corpse_refuses_cn_and_casa_only_fixes(setA: Path) -> None:
    from testbed.errors import ConfigError

    with pytest.raises(ConfigError, match="must be 1"):
        _model(setA, "corpse", 2)
    with pytest.raises(ConfigError, match="not implemented for the corpse"):
        _model(setA, "corpse", 1, fixes={"exudate_from_npp": True})


# ------------------------------------------------------------------------------ restart-write reset (casa.md Q5)


@pytest.mark.parametrize("soil", ["casa", "mimics"])
@pytest.mark.parametrize("icycle", [1, 2])
def test_no_restart_write_reset(setA: Path, soil: str, icycle: int) -> None:
    """restart_write_reset=False skips casa_poolout's state side effects (here forced at the end of year 1)."""
    steps = _steps(setA)
    steps = [dataclasses.replace(steps[0], restart_write=True), dataclasses.replace(steps[1], restart_write=False)]
    model = _model(setA, soil, icycle)
    base, fixed = _run(model, steps), _run(model, steps, restart_write_reset=False)
    # year 1 is simulated identically; only the end-of-year state differs, and only in CASA pools
    np.testing.assert_array_equal(base.daily[0], fixed.daily[0])
    np.testing.assert_array_equal(base.annual[0], fixed.annual[0])
    s0, s1 = base.states[0], fixed.states[0]
    changed = {layout.STATE[k] for k in np.flatnonzero((s0 != s1).any(axis=0))}
    ice = model.domain.inactive(model.casa)
    # icewater cells: every CASA pool is zeroed by the reset (casa.md Q5, mimics.md Q9)
    assert not s0[ice][:, [layout.index("state", n) for n in _CASA_POOLS]].any()
    # other cells: P pools always, and for icycle 1 the diagnostic N pools (N = C * N:C) and N_min = 2
    n_pools = {"nleaf", "nwood", "nfroot", "nmet", "nstr", "ncwd", "nmic", "nslow", "npass", "nsoilmin"}
    expect = {"pleaf", "pwood", "pfroot"} | (n_pools if icycle == 1 else set())
    changed_active = {layout.STATE[k] for k in np.flatnonzero((s0[~ice] != s1[~ice]).any(axis=0))}
    assert changed <= set(_CASA_POOLS) and changed_active <= expect, (changed, changed_active)
    if icycle == 2:
        # P = N/rNP is what pdummy left at the end of the day anyway: only grass P_wood (set to 0) changes, and
        # nothing downstream of it: the active cells' year 2 is bit-identical
        assert changed_active == {"pwood"}
        np.testing.assert_array_equal(base.daily[1][~ice], fixed.daily[1][~ice])
    else:
        assert np.all(s0[~ice, layout.index("state", "nsoilmin")] == 2.0) and "pleaf" in changed_active
        # the reset removes the one-day P lag of growth respiration: C pools change in year 2 (casa.md Q4/Q5)
        assert _differs(base, fixed, "rg") and _differs(base, fixed, "cleaf")
    unchanged = FORCING + ("tsoilc", "moistavg", "btran", "npp_prev")
    assert not [n for n in unchanged if _differs(base, fixed, n)]


@pytest.mark.parametrize("soil_model", ["casa", "mimics"])
def test_another_soil_models_fix_is_refused(setA: Path, soil_model: str) -> None:
    """A fix option declared by another soil model's layout (here CORPSE's) is an error, not silently ignored."""
    from testbed.errors import ConfigError

    with pytest.raises(ConfigError, match="'corpse_first_year_npp' is not implemented for the"):
        _model(setA, soil_model, 1, fixes={"corpse_first_year_npp": True})
