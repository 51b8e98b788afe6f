"""Root exudation (spec seed_processes.md 1.8, tests E1-E7; docs/exudation.md).

Kernel runs use reference set A's cells for one year (run_years checks every cell's C and N budget to 1e-12 of
storage each year, so every run here is also a budget test) or a single constructed MIMICS cell for one day.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from testbed import kernel, layout
from testbed.config import RunConfig
from testbed.errors import ConfigError
from testbed.exudation import Exudation, read_cn_table
from testbed.forcing import Forcing
from testbed.run import cycle_schedule

from .oracles import run_model, setA_model


def _col(name: str) -> int:
    return layout.index("diag", name)


# ------------------------------------------------------------------------------ options and input errors


def test_defaults_leave_every_exudation_column_off() -> None:
    ex = Exudation()
    assert not ex.on
    ex.check(2)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"cn": 0.0}, "C:N must be > 0"),
        ({"cn": -5.0}, "C:N must be > 0"),
        ({"cn_pft": (40.0,) * 17 + (0.0,)}, "C:N must be > 0"),
        ({"schedule": "pulses", "pulse_start": 360, "pulse_length": 10}, "within days 1-365"),
        ({"schedule": "pulses", "pulse_start": 200, "pulse_number": 10, "pulse_period": 20}, "within days 1-365"),
        ({"schedule": "pulses", "pulse_start": 0}, "within days 1-365"),
        ({"schedule": "pulses", "pulse_number": 3, "pulse_period": 2, "pulse_length": 3}, "overlap"),
        ({"fhmw": 1.5}, r"\[0, 1\]"),
        ({"route_mimics": 2}, "must be 0"),
    ],
)
def test_bad_options_are_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        Exudation(**kwargs).check(2)


def test_route_1_in_a_carbon_only_run_is_an_error() -> None:
    Exudation(route_mimics=1).check(2)
    with pytest.raises(ConfigError, match="needs a C\\+N run"):
        Exudation(route_mimics=1).check(1)


def test_namelist_errors_before_compute() -> None:
    with pytest.raises(ConfigError, match="C:N must be > 0"):
        RunConfig.from_mapping({"exudation": {"mode": "plant", "cn": 0.0}})
    with pytest.raises(ConfigError, match="C\\+N run"):
        RunConfig.from_mapping({"run": {"cycle": "c", "soil_model": "mimics"}, "exudation": {"route_mimics": 1}})
    with pytest.raises(ConfigError, match="within days 1-365"):
        RunConfig.from_mapping({"exudation": {"schedule": "pulses", "pulse_start": 365, "pulse_length": 2}})


def test_per_cell_cn_table(tmp_path: Path) -> None:
    p = tmp_path / "cn.csv"
    p.write_text("cn\n10\ninf\n40\n")
    np.testing.assert_array_equal(read_cn_table(p, 3), [10.0, math.inf, 40.0])
    p.write_text("cn\n10\n0\n40\n")
    with pytest.raises(ConfigError, match="row 2"):
        read_cn_table(p, 3)
    with pytest.raises(ConfigError, match="3 rows for 4 cells"):
        p.write_text("cn\n10\n20\n40\n")
        read_cn_table(p, 4)


def test_example_namelist_is_valid() -> None:
    cfg = RunConfig.read(Path(__file__).resolve().parent.parent / "namelists" / "example_exudation_cn40.nml")
    cfg.check()
    assert cfg.get("exudation.mode") == "plant" and cfg.get("exudation.cn") == 40.0


# ------------------------------------------------------------------------------ kernel runs on set A


@pytest.fixture(scope="module")
def steps(setA: Path):
    return cycle_schedule(setA / "inputs" / "met" / "met_1901_1905.nc", 1, daily=True)[:1]


def _run(setA: Path, steps, soil: str, ex: Exudation | None = None, icycle: int = 2):
    model = setA_model(setA / "inputs", soil, icycle)
    if ex is not None:
        model = dataclasses.replace(model, exudation=ex)
    return run_model(model, model.cold_state(), steps)


@pytest.fixture(scope="module")
def base(setA: Path, steps):
    return {soil: _run(setA, steps, soil) for soil in ("casa", "mimics")}


def _same(a, b) -> None:
    for x, y in zip(a.states, b.states, strict=True):
        np.testing.assert_array_equal(x, y)
    for x, y in zip(a.daily, b.daily, strict=True):
        shared = [i for i in range(layout.NDIAG) if layout.DIAGNOSTICS[i] in _HOST_AND_SOIL_DIAGS]
        np.testing.assert_array_equal(x[:, shared], y[:, shared])


#: the diagnostics of a run without exudation (the exudation columns are new)
_NEW = {
    "nexudate",
    "nexudate_ext",
    "cexudate_capped",
    "hr_exudate",
    "exud_uptake",
    "uptake_r",
    "uptake_k",
    "resp_r",
    "resp_k",
    "cue_r",
    "cue_k",
    "cue_mic",
    "overflow_share",
    *(f"nec{e}_{p}" for e in ("", "n") for p in ("somp", "somc", "soma")),
}
_HOST_AND_SOIL_DIAGS = set(layout.DIAGNOSTICS) - _NEW


@pytest.mark.reference
@pytest.mark.parametrize("soil", ["casa", "mimics"])
def test_e1_switches_without_exudate_reproduce_the_run(setA: Path, steps, base, soil: str) -> None:
    """E1 at kernel level: the exudation code path with a zero flux (prescribed mode, route 1, microbial
    diagnostics, the duplicated MIMICS hourly step) gives today's numbers bit for bit (set A has fracrootexud 0;
    tests/reference compares the default path with the original)."""
    ex = Exudation(mode="prescribed", flux=0.0, route_mimics=1, route_casa=1, diagnostics=True)
    run = _run(setA, steps, soil, ex)
    _same(run, base[soil])
    if soil == "mimics":
        d = run.daily[0]
        assert np.any(d[:, _col("uptake_r")] > 0) and np.any(d[:, _col("nec_soma")] > 0)


@pytest.mark.reference
@pytest.mark.parametrize("soil", ["casa", "mimics"])
def test_e2_legacy_creates_exactly_the_exudate(setA: Path, steps, base, soil: str) -> None:
    run = _run(setA, steps, soil, Exudation(frac=0.1))
    d, d0 = run.daily[0], base[soil].daily[0]
    cex = d[:, _col("cexudate")]
    assert cex.sum() > 0
    # budget residual without the quirk term = the created C; on days with no other quirk, exactly Cex
    quiet = d0[:, _col("c_quirk_source")] == 0
    q = d[:, _col("c_quirk_source")]
    np.testing.assert_array_equal(q[quiet], cex[quiet])
    np.testing.assert_allclose(d[:, _col("gpp")] + cex, d0[:, _col("gpp")], rtol=1e-15, atol=0)


@pytest.mark.reference
@pytest.mark.parametrize("soil", ["casa", "mimics"])
@pytest.mark.parametrize("route", [0, 1])
def test_e3_plant_mode_conserves_c_and_n(setA: Path, steps, base, soil: str, route: int) -> None:
    ex = Exudation(mode="plant", frac=0.1, cn=40.0, route_mimics=route, route_casa=route)
    # run_years checks |B_C| and |B_N| <= 1e-12 of storage for every cell and year (ConservationError otherwise)
    run = _run(setA, steps, soil, ex)
    d = run.daily[0]
    cex, nex = d[:, _col("cexudate")], d[:, _col("nexudate")]
    assert cex.sum() > 0 and nex.sum() > 0
    # nothing is created by the exudate: C quirk source as without exudation on quiet days
    quiet = base[soil].daily[0][:, _col("c_quirk_source")] == 0
    assert np.all(d[:, _col("c_quirk_source")][quiet] == 0)
    # Nex = Cex / CN where the fine-root N does not cap it
    ok = nex > 0
    np.testing.assert_allclose(nex[ok], cex[ok] / 40.0, rtol=1e-15)
    # the NPP cap: delivered + capped = requested fraction of met GPP
    gpp_met = d[:, _col("gpp")] + cex
    np.testing.assert_allclose(cex + d[:, _col("cexudate_capped")], 0.1 * gpp_met, rtol=1e-12, atol=1e-14)


# ------------------------------------------------------------------------------ E4: one MIMICS cell, exact CUE


def _probe_cell(setA: Path, cn: float, nue: float, flux: float = 2000.0):
    """One MIMICS-CN cell with only prescribed exudate (route 1): no plant, litter, SOM, DIN or turnover;
    fmet = 0.4 (so CN_r = 6, CN_k = 10 with the JAMES parameters). Returns (daily diagnostics, model)."""
    model = setA_model(setA / "inputs", "mimics", 2)
    active = np.flatnonzero(~model.domain.inactive(model.casa))
    model = model.subset(slice(int(active[0]), int(active[0]) + 1))
    ex = Exudation(mode="prescribed", flux=flux, cn=cn, route_mimics=1, nue=nue)
    model = dataclasses.replace(model, exudation=ex)
    sp = model.sparams
    for name, value in (("tau_r_1", 0.0), ("tau_k_1", 0.0), ("fmet_p_1", 1.0), ("fmet_p_2", 0.4), ("fmet_p_3", 0.0)):
        sp[:, layout.index("mimics", name)] = value
    state = model.cold_state()
    for name in layout.STATE:
        if name in ("lai", "phase", "npp_prev"):
            continue
        state[:, layout.index("state", name)] = 0.0
    for c, n, v in (("micr", "micrn", 0.01), ("mick", "mickn", 0.02)):
        state[:, layout.index("state", c)] = v
        state[:, layout.index("state", n)] = v / 8.0
    state[:, layout.index("state", "npp_prev")] = 500.0
    f32 = lambda v, *shape: np.full(shape, v, dtype=np.float32, order="F")  # noqa: E731
    forcing = Forcing(
        f32(0.0, 1, 1), f32(290.0, 1, 1), f32(0.0, 1, 1), f32(290.0, 1, 6, 1), f32(0.3, 1, 6, 1), f32(0.0, 1, 6, 1)
    )
    annual = kernel.new_annual(1)
    daily = kernel.advance(
        model.soil,
        state,
        model.params,
        model.sparams,
        forcing,
        icycle=2,
        fixes=model.fix_flags,
        annual=annual,
        doy0=1,
        store_daily=True,
    )
    return daily[0, :, 0], model


def _hours(cn: float, nue: float, xc: float, mic: tuple[float, float], cnx=(6.0, 10.0), mge=(0.5, 0.7)):
    """The 24 hours of route-1 uptake alone (seed_processes.md 1.3 with the host's overflow, M4.9), as the
    kernel orders the arithmetic: hourly CUE_r, CUE_k and the day's sums (U_r, U_k, R_r, R_k)."""
    xn = xc / cn
    cr, ck = mic
    nr, nk = cr / 8.0, ck / 8.0
    din = 0.0
    ur = uk = rr = rk = 0.0
    cue = []
    for _ in range(24):
        sw = cr + ck
        exr, exk, exnr, exnk = (xc * cr) / sw, (xc * ck) / sw, (xn * cr) / sw, (xn * ck) / sw
        dr, dk = (din * cr) / sw, (din * ck) / sw
        upc = [mge[0] * exr, mge[1] * exk]
        upn = [dr + nue * exnr, dk + nue * exnk]
        ovf, spill = [], []
        for j in range(2):
            cnup = upc[j] / (upn[j] + 1e-10)
            ovf.append(upc[j] - upn[j] * min(cnx[j], cnup))
            spill.append(upn[j] - upc[j] / max(cnx[j], cnup))
        resp = [(1 - mge[0]) * exr + ovf[0], (1 - mge[1]) * exk + ovf[1]]
        cue.append((1 - resp[0] / exr, 1 - resp[1] / exk))
        ur, uk, rr, rk = ur + exr, uk + exk, rr + resp[0], rk + resp[1]
        cr, ck = cr + (upc[0] - ovf[0]), ck + (upc[1] - ovf[1])
        nr, nk = nr + (upn[0] - spill[0]), nk + (upn[1] - spill[1])
        din = din + (((((0.0 + spill[0]) + spill[1]) - dr) - dk) + (1 - nue) * (exnr + exnk))
    return cue, (ur, uk, rr, rk)


def test_e4_first_hour_cue_formula() -> None:
    """CUE_x = min(MGEex_x, NUEex CN_x / CNexud): 0.1275 (r) and 0.2125 (k) at C:N 40; the critical C:N are
    NUE CN_x / MGE = 10.2 (r) and 12.14 (k). The 1e-10 of the host's cnup (M4.9) shifts it by ~1e-10/upN."""
    for cn in (10.0, 12.0, 40.0, 100.0):
        cue, _ = _hours(cn, 0.85, 1.0, (0.01, 0.02))
        want = (min(0.5, 0.85 * 6 / cn), min(0.7, 0.85 * 10 / cn))
        np.testing.assert_allclose(cue[0], want, rtol=1e-8)
    assert 0.85 * 6 / 0.5 == pytest.approx(10.2) and 0.85 * 10 / 0.7 == pytest.approx(12.142857)
    np.testing.assert_allclose(_hours(40.0, 0.85, 1.0, (0.01, 0.02))[0][0], (0.1275, 0.2125), rtol=1e-8)


@pytest.mark.reference
@pytest.mark.parametrize("cn", [10.0, 40.0])
def test_e4_kernel_day_matches_the_hourly_equations(setA: Path, cn: float) -> None:
    d, model = _probe_cell(setA, cn, 0.85)
    depth = model.sparams[0, layout.index("mimics", "depth")]
    u = 10.0 * depth
    xc = ((2000.0 * 0.1) / depth) * (1.0 / 24.0)
    _, (ur, uk, rr, rk) = _hours(cn, 0.85, xc, (0.01, 0.02))
    np.testing.assert_allclose(
        [d[_col("uptake_r")], d[_col("uptake_k")], d[_col("resp_r")], d[_col("resp_k")]],
        [ur * u, uk * u, rr * u, rk * u],
        rtol=1e-12,
    )
    np.testing.assert_allclose(d[_col("cue_r")], 1 - rr / ur, rtol=1e-12)


@pytest.mark.reference
def test_e4_kernel_critical_cn(setA: Path) -> None:
    """With NUEex = 1 no exudate N reaches DIN: overflow of MICr starts above C:N 12 (= 1 x 6 / 0.5) and of MICk
    above 14.29 (= 1 x 10 / 0.7). When both or neither overflow, no N moves between them through DIN and every
    hour has the first hour's CUE (the formula); in between, the N that MICk spills raises the CUE of MICr."""
    for cn, over_r, over_k in ((11.5, False, False), (12.5, True, False), (14.0, True, False), (15.0, True, True)):
        d, _ = _probe_cell(setA, cn, 1.0)
        share_r = d[_col("overflow_r")] / d[_col("uptake_r")]
        share_k = d[_col("overflow_k")] / d[_col("uptake_k")]
        assert (share_r > 1e-6) == over_r and (share_k > 1e-6) == over_k, (cn, share_r, share_k)
        cue, want = [d[_col("cue_r")], d[_col("cue_k")]], [min(0.5, 6 / cn), min(0.7, 10 / cn)]
        if over_r == over_k:
            np.testing.assert_allclose(cue, want, rtol=1e-7)
        else:
            assert want[0] < cue[0] < 0.5 and cue[1] == pytest.approx(0.7, rel=1e-7)
    d, _ = _probe_cell(setA, 40.0, 0.85)
    assert d[_col("cue_r")] > 0.1275 and d[_col("cue_k")] > 0.2125  # DIN recycled after hour 1 raises CUE


# ------------------------------------------------------------------------------ E5: direction across C:N


@pytest.mark.reference
def test_e5_direction_across_exudate_cn(setA: Path, steps) -> None:
    """Mode 2, one pulse, route 1: as the exudate C:N rises, peak CUE falls, overflow rises, necromass falls and
    respiration rises (S000 3.3; orders only), summed over the N-limited cells (baseline overflow > 0)."""
    out = []
    for cn in (10.0, 22.0, 40.0, 100.0):
        ex = Exudation(
            mode="prescribed", flux=20.0, cn=cn, route_mimics=1, schedule="pulses", pulse_start=200, pulse_amplitude=1.0
        )
        d = _run(setA, steps, "mimics", ex).daily[0]
        out.append(d)
    ovf0 = out[0][:, _col("overflow_r")].sum(axis=1) + out[0][:, _col("overflow_k")].sum(axis=1)
    cells = np.flatnonzero(ovf0 > 0)
    assert cells.size
    win = slice(199, 365)

    def total(d, *names):
        return sum(d[cells][:, _col(n), win].sum() for n in names)

    peak = [d[cells][:, _col("cue_mic"), 199].mean() for d in out]
    ovf = [total(d, "overflow_r", "overflow_k") for d in out]
    nec = [total(d, "nec_somp", "nec_somc", "nec_soma") for d in out]
    hr = [total(d, "chresp") for d in out]
    assert all(np.diff(peak) < 0), peak
    assert all(np.diff(ovf) > 0), ovf
    assert all(np.diff(nec) < 0), nec
    assert all(np.diff(hr) > 0), hr


# ------------------------------------------------------------------------------ E6: schedules


@pytest.mark.reference
def test_e6_mass_matched_pulses(setA: Path, steps) -> None:
    """Constant exudate (prescribed 0.5 g C m-2 d-1): with the default amplitude Tp/dp the pulses' total over
    the window np Tp equals the continuous total, and off-days have Cex = 0."""
    cont = _run(setA, steps, "casa", Exudation(mode="prescribed", flux=0.5)).daily[0][:, _col("cexudate")]
    ex = Exudation(
        mode="prescribed", flux=0.5, schedule="pulses", pulse_start=100, pulse_number=10, pulse_period=8, pulse_length=2
    )
    puls = _run(setA, steps, "casa", ex).daily[0][:, _col("cexudate")]
    act = cont[:, 0] > 0
    win = slice(99, 99 + 80)
    assert np.array_equal(puls[act][:, win].sum(axis=1), cont[act][:, win].sum(axis=1))
    days = np.arange(1, 366)
    on = ((days - 100) >= 0) & (((days - 100) // 8) < 10) & (((days - 100) % 8) < 2)
    assert np.all(puls[act][:, ~on] == 0) and np.all(puls[act][:, on] == 0.5 * 4)


# ------------------------------------------------------------------------------ E7: CASA route 1


@pytest.mark.reference
def test_e7_casa_route_1_respiration(setA: Path, steps, base) -> None:
    ex = Exudation(mode="prescribed", flux=0.75, cn=20.0, route_casa=1, cue=0.45, schedule="pulses", pulse_start=150)
    d, d0 = _run(setA, steps, "casa", ex).daily[0], base["casa"].daily[0]
    day = 149
    cex = d[:, _col("cexudate"), day]
    act = cex > 0
    assert act.any()
    np.testing.assert_array_equal(d[act, _col("hr_exudate"), day], (1.0 - 0.45) * cex[act])
    # before the pulse everything is as without exudate; on the input day HR rises by (1 - CUE) Cex
    np.testing.assert_array_equal(d[:, _col("rh"), :day], d0[:, _col("rh"), :day])
    dhr = d[act, _col("rh"), day] - d0[act, _col("rh"), day]
    np.testing.assert_allclose(dhr, (1.0 - 0.45) * cex[act], rtol=0, atol=4 * np.spacing(d[act, _col("rh"), day]).max())


# ------------------------------------------------------------------------------ paired runs in testbed summary


@pytest.mark.reference
def test_summary_rows_per_unit_exudate_c(setA: Path) -> None:
    from testbed.analysis import EXUDATION_ROWS, summary_table, total
    from testbed.api import simulate

    met = setA / "inputs" / "met" / "met_1901_1905.nc"
    model = setA_model(setA / "inputs", "mimics", 2)
    off = dataclasses.replace(model, exudation=Exudation(diagnostics=False))
    on = dataclasses.replace(model, exudation=Exudation(mode="plant", frac=0.05, route_mimics=1))
    runs = {name: simulate(m, met, 2)[1] for name, m in (("off", off), ("on", on))}
    assert "cExudate" in runs["on"] and "cExudate" not in runs["off"]
    table = summary_table(runs)
    assert table.attrs["exudation_pairs"] == {"on": "off"}
    cex = table.loc[EXUDATION_ROWS[0], "on"]
    assert cex > 0 and np.isnan(table.loc[EXUDATION_ROWS[0], "off"])
    d_hr = float(total(runs["on"].mean("time"), "rh")) - float(total(runs["off"].mean("time"), "rh"))
    assert table.loc[EXUDATION_ROWS[1], "on"] == pytest.approx(d_hr / cex, rel=1e-6)


@pytest.mark.reference
def test_exudation_with_heterogeneity_runs_both_and_conserves(setA: Path, steps) -> None:
    """Exudation route 1 together with het_mm (one hourly step carries both): C and N close (run_model checks
    1e-12 per cell and year), the exudate is taken up, and het_mm changes the result."""
    from testbed.scenarios import Heterogeneity

    ex = Exudation(mode="plant", frac=0.1, cn=40.0, route_mimics=1)
    pools = ("litm", "lits", "micr", "mick", "soma", "somc")
    rho = dict.fromkeys(("r1", "r2", "r3", "k1", "k2", "k3", "ox_r", "ox_k"), -0.5)
    het_options = Heterogeneity(het_mm=True, cv=dict.fromkeys(pools, 0.3), rho=rho)
    model = setA_model(setA / "inputs", "mimics", 2)
    het = dataclasses.replace(model, exudation=ex, heterogeneity=het_options)
    both = run_model(het, het.cold_state(), steps)
    only = _run(setA, steps, "mimics", ex)
    d = both.daily[0]
    assert np.any(d[:, _col("exud_uptake")] > 0)
    assert not np.array_equal(d[:, _col("rh")], only.daily[0][:, _col("rh")])
