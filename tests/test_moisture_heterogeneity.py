"""Moisture scenarios and sub-grid heterogeneity (spec seed_processes.md 2.4 M1-M7 and 3.4 H1-H8).

Formula tests use testbed.moisture / testbed.heterogeneity; kernel tests run reference set A's 12 cells for one
year with an option on and compare with the same run with it off (run_years checks every cell's C and N budget
to 1e-12 each year, so every run here is also a budget test, H8).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from testbed import layout
from testbed.errors import ConfigError
from testbed.heterogeneity import (
    FG_PER_MG_G,
    KM,
    log_uniform_mean_cs,
    phi_linear,
    phi_reverse_mm,
    phi_turnover,
    two_pool_steady_state,
)
from testbed.moisture import CARSEL_PARRISH, HPA_PER_CM, f_psi, h_of_theta, texture_class, theta_of_h, theta_of_psi
from testbed.run import cycle_schedule
from testbed.scenarios import DrySpell, Heterogeneity, MoistureOptions

from .oracles import run_model, setA_model

# ------------------------------------------------------------------------------ 2.2 / 2.3 formulas (M2-M4)


@pytest.mark.parametrize("cls", list(CARSEL_PARRISH))
def test_m2_head_of_theta_inverts_theta_of_head(cls: str) -> None:
    tr, ts, a, n = CARSEL_PARRISH[cls]
    # sand below -1e5 cm has Se < 1e-7: theta - theta_r keeps only ~8 digits there, so the round trip through
    # theta cannot reach 1e-10 in double precision (it stays within 2e-9); the spec's M2 asks for 1e-10
    h = -np.logspace(1, 5 if cls == "sand" else 6, 400)
    theta = theta_of_h(h, tr, ts, a, n)
    np.testing.assert_allclose(h_of_theta(theta, tr, ts, a, n), h, rtol=1e-10)
    assert np.all(np.diff(theta) < 0), "theta must fall as the head becomes more negative"


def test_m3_loam_retention_values() -> None:
    tr, ts, a, n = CARSEL_PARRISH["loam"]
    psi = np.array([-100.0, -450.0, -15000.0])
    np.testing.assert_allclose(theta_of_psi(psi, tr, ts, a, n), [0.24056, 0.15086, 0.08827], atol=5e-6)
    np.testing.assert_allclose(theta_of_h(psi, tr, ts, a, n), [0.24213, 0.15166, 0.08838], atol=5e-6)


def test_m4_water_potential_scalar() -> None:
    assert f_psi(-30.0) == 1.0 and f_psi(-158000.0) == 0.0
    np.testing.assert_allclose(f_psi(np.array([-100.0, -450.0, -15000.0])), [0.944142, 0.816098, 0.376409], atol=5e-7)
    np.testing.assert_allclose(f_psi(np.array([-100.0, -450.0]) * HPA_PER_CM), [0.945468, 0.818044], atol=5e-7)
    psi = -np.logspace(0, 6, 2000)[::-1]
    assert np.all(np.diff(f_psi(psi)) >= 0), "f_psi must not decrease with psi"


def test_texture_triangle() -> None:
    assert texture_class(0.40, 0.40, 0.20) == "loam"
    assert texture_class(0.90, 0.05, 0.05) == "sand"
    assert texture_class(0.10, 0.10, 0.80) == "clay"
    assert texture_class(0.05, 0.85, 0.10) == "silt"
    assert texture_class(0.15, 0.55, 0.30) == "silty clay loam"
    assert texture_class(0.30, 0.40, 0.30) == "clay loam"
    assert texture_class(0.60, 0.10, 0.30) == "sandy clay loam"
    assert texture_class(0.70, 0.20, 0.10) == "sandy loam"
    with pytest.raises(ValueError, match="sum to 1"):
        texture_class(0.5, 0.3, 0.1)


# ------------------------------------------------------------------------------ 3.1 / 3.3 formulas (H4-H7)


def _lognormal_gh(cv: float, rho: float, k: float = 1.0, npt: int = 80) -> float:
    """E[S M/(K+M)] / (S M/(K+M) at the means) for a bivariate lognormal with unit means (Gauss-Hermite)."""
    x, w = np.polynomial.hermite.hermgauss(npt)
    s2 = np.log(1.0 + cv * cv)
    rl = np.log(1.0 + rho * cv * cv) / s2  # correlation of the logs
    z1, z2 = np.meshgrid(x * np.sqrt(2.0), x * np.sqrt(2.0), indexing="ij")
    ww = np.outer(w, w) / np.pi
    ls = np.sqrt(s2) * z1 - s2 / 2
    lm = np.sqrt(s2) * (rl * z1 + np.sqrt(1.0 - rl * rl) * z2) - s2 / 2
    s, m = np.exp(ls), np.exp(lm)
    return float(np.sum(ww * s * m / (k + m)) / (1.0 / (k + 1.0)))


@pytest.mark.parametrize(
    "cv,rho,second,exact,tol",
    [
        (0.1, 0.0, 0.997500, 0.997519, 5e-5),
        (0.1, -0.5, 0.995000, 0.995019, 5e-5),
        (0.3, 0.0, 0.977500, 0.978904, 2e-3),
        (0.3, 0.5, 1.000000, 1.000454, 2e-3),
    ],
)
def test_h4_reverse_mm_against_quadrature(cv: float, rho: float, second: float, exact: float, tol: float) -> None:
    phi = phi_reverse_mm(1.0, 1.0, cv, cv, rho)
    assert phi == pytest.approx(second, abs=5e-7)
    quad = _lognormal_gh(cv, rho)
    assert quad == pytest.approx(exact, abs=5e-7)
    assert abs(phi - quad) <= tol


def test_h5_moment_identities_hold_on_a_sample() -> None:
    rng = np.random.default_rng(15)
    s, m, c, kk = rng.lognormal(size=(4, 1000))
    k = 0.37
    cov = np.mean(s * m) - s.mean() * m.mean()
    assert np.mean(k * s * m) == pytest.approx(k * (s.mean() * m.mean() + cov), rel=1e-12)
    cov_kc = np.mean(kk * c) - kk.mean() * c.mean()
    assert np.mean(kk * c) == pytest.approx(kk.mean() * c.mean() + cov_kc, rel=1e-12)


def test_h6_two_pool_model_steady_states() -> None:
    cs, cb = two_pool_steady_state(np.array([KM]))
    assert cs[0] == pytest.approx(5.9034, abs=5e-5) and cb[0] == pytest.approx(0.97236, abs=5e-6)
    x, w = np.polynomial.legendre.leggauss(64)
    for (a, b), want in (((-10.1, -8.56), 15.164), ((-9.4, -8.9), 6.561)):
        km = 10.0 ** (a + (b - a) * (x + 1) / 2) * FG_PER_MG_G  # fg units -> (mg C g-1)-1 h-1
        cs, _ = two_pool_steady_state(km)
        mean = float(np.sum(w * cs) / 2)
        assert mean == pytest.approx(want, abs=5e-4)
        assert mean == pytest.approx(log_uniform_mean_cs(a, b), rel=1e-9)  # Eq. A16


def test_h7_non_positive_correlation_never_speeds_up() -> None:
    cv = np.linspace(0, 1.5, 16)
    for rho in (-1.0, -0.3, 0.0):
        for m in (0.1, 1.0, 10.0):
            assert np.all(phi_reverse_mm(1.0, m, cv[:, None], cv[None, :], rho) <= 1.0)
        assert np.all(phi_linear(cv, cv, rho) <= 1.0)
    assert phi_turnover(1.0, 0.7) == 1.0 and phi_turnover(0.5, 0.5) < 1.0
    # the truncation can go negative (hence the clamp): 1 - 3r + r^2 with r = K/(K+M) for CVS = 2, CVM = 1,
    # rho = -1. (The spec's example CVS = CVM = 1, rho = -1 gives (1 - r)^2 >= 0, i.e. 0.25 at K = M.)
    assert phi_reverse_mm(1.0, 1.0, 1.0, 1.0, -1.0) == pytest.approx(0.25)
    assert phi_reverse_mm(9.0, 1.0, 2.0, 1.0, -1.0) == pytest.approx(1 - 3 * 0.9 + 0.81)


def test_vmax_heterogeneity_terms() -> None:
    """S002 Eq. 16 with Vmax heterogeneity: rho_VS CVV CVS + rho_VM CVV CVM K/(K+M) on top of the S-M factor;
    with CVM = 0 the flux is linear in V S, so mean(V S) = V S (1 + rho CVV CVS) holds exactly on any sample."""
    k, m = 2.0, 0.5
    base = phi_reverse_mm(k, m, 0.4, 0.3, -0.2)
    assert phi_reverse_mm(k, m, 0.4, 0.3, -0.2, cv_v=0.6) == base  # no correlation: no effect
    full = phi_reverse_mm(k, m, 0.4, 0.3, -0.2, 0.6, 0.5, -0.7)
    assert full == pytest.approx(base + 0.5 * 0.6 * 0.4 - 0.7 * 0.6 * 0.3 * k / (k + m), rel=1e-15)
    rng = np.random.default_rng(3)
    v = rng.lognormal(0.0, 0.5, 200000)
    s = 0.6 * v + rng.lognormal(0.0, 0.4, v.size)
    cvv, cvs = v.std() / v.mean(), s.std() / s.mean()
    rho = np.corrcoef(v, s)[0, 1]
    exact = np.mean(v * s * m / (k + m)) / (v.mean() * s.mean() * m / (k + m))
    assert phi_reverse_mm(k, m, cvs, 0.0, 0.0, cvv, rho, 0.0) == pytest.approx(exact, rel=1e-12)
    # trivariate check against the second-order expansion: V, S, M jointly lognormal, small CVs (H4-like)
    z = rng.multivariate_normal(np.zeros(3), [[1, 0.3, -0.4], [0.3, 1, 0.2], [-0.4, 0.2, 1]], 400000)
    v, s, mm = np.exp(0.08 * z[:, 0]), np.exp(0.08 * z[:, 1]), np.exp(0.08 * z[:, 2])
    cv = [x.std() / x.mean() for x in (v, s, mm)]
    c = np.corrcoef([v, s, mm])
    kk = 1.0
    mc = np.mean(v * s * mm / (kk + mm)) / (v.mean() * s.mean() * mm.mean() / (kk + mm.mean()))
    second = phi_reverse_mm(kk, mm.mean(), cv[1], cv[2], c[1, 2], cv[0], c[0, 1], c[0, 2])
    assert abs(second - mc) < 2e-4  # third-order terms, O(CV^3)


# ------------------------------------------------------------------------------ kernel runs


@pytest.fixture(scope="module")
def steps(setA: Path):
    return cycle_schedule(setA / "inputs" / "met" / "met_1901_1905.nc", 1, daily=True)[:1]


def _run(setA: Path, steps, soil: str = "casa", **options):
    model = setA_model(setA / "inputs", soil, 2)
    if options:
        model = dataclasses.replace(model, **options)
    return run_model(model, model.cold_state(), steps)


@pytest.fixture(scope="module")
def base_casa(setA: Path, steps):
    return _run(setA, steps)


@pytest.fixture(scope="module")
def base_mimics(setA: Path, steps):
    return _run(setA, steps, "mimics")


def _same(a, b) -> None:
    for x, y in zip(a.daily + a.states, b.daily + b.states, strict=True):
        np.testing.assert_array_equal(x, y)


def _active(run) -> np.ndarray:
    return ~run.model.domain.inactive(run.model.casa)


@pytest.mark.reference
def test_fw_psi_casa_is_the_water_potential_scalar(setA: Path, steps, base_casa) -> None:
    run = _run(setA, steps, moisture=MoistureOptions(fw_psi=True, fw_min=0.05))
    p = run.model.params
    col = {n: p[:, layout.index("casa", n)][:, None] for n in ("vg_theta_r", "ssat", "vg_alpha", "vg_n")}
    moist = run.diag("moistavg")[0]
    psi = h_of_theta(moist, col["vg_theta_r"], col["ssat"], col["vg_alpha"], col["vg_n"]) * HPA_PER_CM
    act = _active(run)[:, None] & np.ones(psi.shape, bool)
    dry = np.isneginf(psi)  # at or below theta_r: the kernel returns -inf, f_psi = 0
    np.testing.assert_allclose(run.diag("psi")[0][act & ~dry], psi[act & ~dry], rtol=1e-12)
    assert np.all(np.isneginf(run.diag("psi")[0][act & dry]))
    want = np.maximum(0.05, f_psi(psi))
    herb = np.isin(p[:, layout.index("casa", "iveg")], (12, 14))
    ok = act & ~herb[:, None]
    np.testing.assert_allclose(run.diag("fw")[0][ok], want[ok], rtol=1e-12)
    # the forcing and the soil environment upstream of fW are untouched; fW changed
    for name in ("gpp", "moistavg", "tsoilc", "ft"):
        np.testing.assert_array_equal(run.diag(name)[0, :, 0], base_casa.diag(name)[0, :, 0])
    assert not np.array_equal(run.diag("fw")[0][ok], base_casa.diag("fw")[0][ok])


@pytest.mark.reference
def test_mimics_fwfunction_4(setA: Path, steps, base_mimics) -> None:
    model = setA_model(setA / "inputs", "mimics", 2)
    model.soil_params.fw_function = 4
    model = dataclasses.replace(model)  # re-gather the columns with fWFunction 4
    run = run_model(model, model.cold_state(), steps)
    act = _active(run)
    psi = run.diag("psi")[0][act]
    np.testing.assert_allclose(run.diag("fw_mimics")[0][act], np.maximum(0.05, f_psi(psi)), rtol=1e-12)
    assert not np.array_equal(run.diag("chresp")[0][act], base_mimics.diag("chresp")[0][act])


@pytest.mark.reference
@pytest.mark.parametrize("soil", ["casa", "mimics"])
def test_m5_m6_dry_spell(setA: Path, steps, soil: str, base_casa, base_mimics) -> None:
    base = base_casa if soil == "casa" else base_mimics
    d0, n = 150, 7
    moisture = MoistureOptions(fw_psi=soil == "casa")
    spell = DrySpell(start=d0, days=n, psi=-15000.0)
    ref = _run(setA, steps, soil, moisture=moisture) if soil == "casa" else base
    run = _run(setA, steps, soil, moisture=moisture, dry_spell=spell)
    act = _active(run)
    # M5: days before d0 are bit-identical; exactly n days are overridden
    for name in ("rh", "moistavg", "nsoilmin", "cleaf"):
        np.testing.assert_array_equal(run.diag(name)[0, :, : d0 - 1], ref.diag(name)[0, :, : d0 - 1])
    flags = run.diag("dry_spell")[0]
    assert np.all(flags[act].sum(axis=1) == n) and np.all(flags[:, d0 - 1 : d0 - 1 + n][act] == 1)
    p = run.model.params
    col = {c: p[:, layout.index("casa", c)] for c in ("vg_theta_r", "ssat", "vg_alpha", "vg_n", "sfc")}
    theta = theta_of_psi(-15000.0, col["vg_theta_r"], col["ssat"], col["vg_alpha"], col["vg_n"])
    # the potential of the field-capacity-capped spell water content (psi_eff, 2.1), 0 outside the spell
    psi_eff = run.diag("dry_psi_eff")[0]
    want = h_of_theta(np.minimum(theta, col["sfc"]), col["vg_theta_r"], col["ssat"], col["vg_alpha"], col["vg_n"])
    np.testing.assert_allclose(psi_eff[act, d0 - 1], want[act] * HPA_PER_CM, rtol=1e-9)
    assert np.all(psi_eff[:, : d0 - 1] == 0) and np.all(psi_eff[:, d0 - 1 + n :] == 0)
    assert np.all(run.diag("moistavg")[0][act, d0 - 1] <= theta[act] * (1 + 1e-12))
    # M6 (CASA, psi scalar): where the spell dries the soil, fW and HR fall on day d0
    if soil == "casa":
        drier = act & (theta < ref.diag("moistavg")[0][:, d0 - 1])
        herb = np.isin(run.model.params[:, layout.index("casa", "iveg")], (12, 14))
        drier &= ~herb
        assert drier.any()
        assert np.all(run.diag("fw")[0][drier, d0 - 1] < ref.diag("fw")[0][drier, d0 - 1])
        assert np.all(run.diag("rh")[0][drier, d0 - 1] < ref.diag("rh")[0][drier, d0 - 1])


@pytest.mark.reference
def test_m7_dry_spell_warming_raises_ft(setA: Path, steps) -> None:
    d0 = 150
    cool = _run(setA, steps, dry_spell=DrySpell(start=d0, days=3))
    warm = _run(setA, steps, dry_spell=DrySpell(start=d0, days=3, dtsoil=2.0))
    act = _active(cool)
    np.testing.assert_array_equal(cool.diag("ft")[0][:, : d0 - 1], warm.diag("ft")[0][:, : d0 - 1])
    assert np.all(warm.diag("ft")[0][act, d0 - 1] > cool.diag("ft")[0][act, d0 - 1])
    assert np.all(warm.diag("tsoilc")[0][act, d0 - 1] > cool.diag("tsoilc")[0][act, d0 - 1])


@pytest.mark.reference
def test_h1_h2_mimics_zero_variance_or_substrate_only_is_identical(setA: Path, steps, base_mimics) -> None:
    _same(base_mimics, _run(setA, steps, "mimics", heterogeneity=Heterogeneity(het_mm=True)))
    subs = {p: 0.5 for p in ("litm", "lits", "soma", "somc")}
    rho = {r: 0.7 for r in ("r1", "r2", "r3", "k1", "k2", "k3", "ox_r", "ox_k")}
    _same(base_mimics, _run(setA, steps, "mimics", heterogeneity=Heterogeneity(het_mm=True, cv=subs, rho=rho)))


@pytest.mark.reference
def test_h3_casa_linear(setA: Path, steps, base_casa) -> None:
    _same(
        base_casa,
        _run(setA, steps, heterogeneity=Heterogeneity(het_lin=True, casa_cvc={"slow": 0.5}, casa_cvk={"slow": 0.5})),
    )
    pools = ("met", "str", "cwd", "mic", "slow", "pass")
    het = Heterogeneity(
        het_lin=True,
        casa_cvc=dict.fromkeys(pools, 0.4),
        casa_cvk=dict.fromkeys(pools, 0.5),
        casa_rho=dict.fromkeys(pools, -0.6),
    )
    run = _run(setA, steps, heterogeneity=het)
    phi = 1.0 + (-0.6 * 0.5) * 0.4
    for name in ("kl_met", "kl_str", "kl_cwd", "ks_mic", "ks_slow", "ks_pass"):
        np.testing.assert_array_equal(run.diag(name)[0, :, 0], base_casa.diag(name)[0, :, 0] * phi)


@pytest.mark.reference
def test_h7_h8_mimics_negative_correlation_keeps_more_carbon(setA: Path, steps, base_mimics) -> None:
    pools = ("litm", "lits", "micr", "mick", "soma", "somc")
    het = Heterogeneity(
        het_mm=True,
        cv=dict.fromkeys(pools, 0.3),
        rho=dict.fromkeys(("r1", "r2", "r3", "k1", "k2", "k3", "ox_r", "ox_k"), -0.5),
    )
    run = _run(setA, steps, "mimics", heterogeneity=het)  # budgets checked by run_years (H8)
    act = _active(run)
    soil_c = [layout.index("state", p) for p in ("litm", "lits", "soma", "somc", "somp")]
    assert np.all(run.states[-1][act][:, soil_c].sum(axis=1) > base_mimics.states[-1][act][:, soil_c].sum(axis=1))
    assert np.all(run.diag("het_clamped")[0] == 0)
    assert np.all(run.diag("chresp")[0][act, 0] < base_mimics.diag("chresp")[0][act, 0])


@pytest.mark.reference
def test_vmax_heterogeneity_in_the_kernel(setA: Path, steps, base_mimics) -> None:
    # CVV without correlations (or all off) is identical; rho_VS > 0 speeds the uptakes (more HR on day 1)
    _same(base_mimics, _run(setA, steps, "mimics", heterogeneity=Heterogeneity(het_mm=True, cv={"vmax": 0.5})))
    het = Heterogeneity(het_mm=True, cv={"vmax": 0.5, "litm": 0.4, "lits": 0.4, "soma": 0.4}, rho={"vmax_s": 0.5})
    run = _run(setA, steps, "mimics", heterogeneity=het)  # budgets checked by run_years (H8)
    act = _active(run)
    assert np.all(run.diag("chresp")[0][act, 0] > base_mimics.diag("chresp")[0][act, 0])
    assert run.model.sparams[0, layout.index("mimics", "cv_vmax")] == 0.5


@pytest.mark.reference
def test_phi_clamp_is_counted(setA: Path, steps) -> None:
    pools = ("litm", "lits", "micr", "mick", "soma", "somc")
    cv = {p: 1.0 if p.startswith("mic") else 2.0 for p in pools}
    het = Heterogeneity(
        het_mm=True, cv=cv, rho=dict.fromkeys(("r1", "r2", "r3", "k1", "k2", "k3", "ox_r", "ox_k"), -1.0)
    )
    run = _run(setA, steps, "mimics", heterogeneity=het)
    assert run.diag("het_clamped")[0][_active(run)].sum() > 0


@pytest.mark.reference
def test_spec_clamp_example_is_never_negative(setA: Path, steps) -> None:
    """The spec (3.2) says CVM = CVS = 1 with rho = -1 gives phi ~ -0.25; the factor is (1 - r)^2 >= 0
    (r = K/(K+M)), 0.25 at K = M: the kernel never clamps it."""
    r = np.linspace(0.0, 1.0, 101)
    np.testing.assert_allclose(phi_reverse_mm(r, 1.0 - r, 1.0, 1.0, -1.0), (1.0 - r) ** 2, atol=1e-15)
    pools = ("litm", "lits", "micr", "mick", "soma", "somc")
    rho = dict.fromkeys(("r1", "r2", "r3", "k1", "k2", "k3", "ox_r", "ox_k"), -1.0)
    run = _run(setA, steps, "mimics", heterogeneity=Heterogeneity(het_mm=True, cv=dict.fromkeys(pools, 1.0), rho=rho))
    assert np.all(run.diag("het_clamped")[0] == 0)


# ------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "option,match",
    [
        (DrySpell(start=100, psi=10.0), "must be <= 0"),
        (DrySpell(start=300, days=70), "within days 1-365"),
        (Heterogeneity(het_mm=True, cv={"micr": -0.1}), "must be >= 0"),
        (Heterogeneity(het_lin=True, casa_rho={"slow": 1.5}), "within \\[-1, 1\\]"),
        (Heterogeneity(het_mm=True, cv={"vmax": -0.2}), "cv_vmax = -0.2 must be >= 0"),
        (Heterogeneity(het_mm=True, rho={"vmax_m": -1.2}), "rho_vmax_m = -1.2: a correlation"),
        (MoistureOptions(fw_min=2.0), "fw_min"),
    ],
)
def test_bad_options_are_refused(option, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        option.check()


def test_bad_namelist_values_are_refused() -> None:
    from testbed.config import RunConfig

    cfg = RunConfig.defaults()
    with pytest.raises(ConfigError, match="dry_psi"):
        cfg.override(["perturbation.dry_start=100", "perturbation.dry_psi=5"])
    cfg = RunConfig.defaults()
    with pytest.raises(ConfigError, match="correlation"):
        cfg.override(["heterogeneity.rho_r1=-1.2"])


@pytest.mark.reference
def test_texture_not_summing_to_one_is_refused(setA: Path) -> None:
    model = setA_model(setA / "inputs", "casa", 2)
    model.domain.silt[0] += 0.2
    with pytest.raises(ConfigError, match="sum to 1"):
        dataclasses.replace(model, moisture=MoistureOptions(fw_psi=True))


def test_example_namelists_parse() -> None:
    from testbed.config import RunConfig, shipped_namelists
    from testbed.params import load_mimics_parameters
    from testbed.scenarios import options_from_config

    dry = RunConfig.read(shipped_namelists() / "dryspell_casa_cn.nml")
    moisture, spell, _ = options_from_config(dry)
    assert moisture.fw_psi and spell.applies(3) and not spell.applies(2) and spell.psi == -450.0 and spell.days == 7
    het = RunConfig.read(shipped_namelists() / "heterogeneity_mimics_cn.nml")
    _, _, h = options_from_config(het)
    assert h.het_mm and h.cv["micr"] == 0.3 and h.rho["ox_k"] == -0.3
    assert load_mimics_parameters(het.resolve(het.get("files.mimics_params"))).fw_function == 4


@pytest.mark.reference
def test_van_genuchten_parameters_are_static_output_fields(setA: Path) -> None:
    from testbed.output import CellInfo, annual_columns, annual_data

    model = setA_model(setA / "inputs", "casa", 2)
    assert model.static_fields() == {}
    model = dataclasses.replace(model, moisture=MoistureOptions(fw_psi=True))
    d = model.domain
    ds = annual_data(
        [annual_columns(np.zeros((model.ncell, layout.NDIAG)), "casa", 2)],
        [1],
        CellInfo(d.lat, d.lon, d.area, d.pft, d.cellid, model.static_fields()),
        "casa",
        2,
    ).to_xarray()
    loam = [k for k in range(model.ncell) if texture_class(d.sand[k], d.silt[k], d.clay[k]) == "loam"]
    assert loam, "reference set A has loam cells"
    for k in loam:
        assert ds["vg_alpha"].values[k] == CARSEL_PARRISH["loam"][2] and ds["vg_n"].values[k] == 1.56
    assert ds["vg_theta_s"].attrs["units"] == "m3 m-3"
    np.testing.assert_array_equal(ds["vg_theta_s"].values, d.ssat)


@pytest.mark.reference
def test_user_van_genuchten_table(setA: Path, tmp_path: Path) -> None:
    from testbed.scenarios import read_vg_table

    model = setA_model(setA / "inputs", "casa", 2)
    n = model.ncell
    rows = [(0.05 + 0.001 * k, 0.02 + 0.001 * k, 1.3 + 0.01 * k) for k in range(n)]
    path = tmp_path / "vg.csv"
    path.write_text("theta_r,alpha,n\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows))
    table = read_vg_table(path)
    model = dataclasses.replace(model, moisture=MoistureOptions(fw_psi=True), vg_table=table)
    for j, name in enumerate(("vg_theta_r", "vg_alpha", "vg_n")):
        np.testing.assert_array_equal(model.params[:, layout.index("casa", name)], [r[j] for r in rows])
    sub = model.subset(slice(3, 7))
    np.testing.assert_array_equal(sub.params[:, layout.index("casa", "vg_n")], [r[2] for r in rows[3:7]])
    path.write_text("theta_r,alpha,n\n0.05,0.02,0.9\n")
    with pytest.raises(ConfigError, match="n > 1"):
        read_vg_table(path)
    with pytest.raises(ConfigError, match="rows for"):
        dataclasses.replace(model, vg_table=table[:2])


@pytest.mark.reference
def test_mimics_desorption_linear_factor(setA: Path, steps, base_mimics) -> None:
    het = Heterogeneity(het_mm=True, cv={"somp": 0.5, "k_desorp": 0.5}, rho={"desorp": -0.5})
    run = _run(setA, steps, "mimics", heterogeneity=het)
    act = _active(run)
    somp = layout.index("state", "somp")
    assert np.all(run.states[-1][act, somp] > base_mimics.states[-1][act, somp])


@pytest.mark.reference
def test_per_cell_heterogeneity_table(setA: Path, tmp_path: Path) -> None:
    from testbed.scenarios import read_heterogeneity_table

    model = setA_model(setA / "inputs", "mimics", 2)
    n = model.ncell
    path = tmp_path / "het.csv"
    path.write_text("cv_micr,rho_r1\n" + "".join(f"{0.1 * k},{-0.05 * k}\n" for k in range(n)))
    table = read_heterogeneity_table(path)
    het = Heterogeneity(het_mm=True, cv={"micr": 0.9, "litm": 0.3})
    m = dataclasses.replace(model, heterogeneity=het, het_table=table)
    np.testing.assert_allclose(m.sparams[:, layout.index("mimics", "cv_micr")], 0.1 * np.arange(n))
    np.testing.assert_allclose(m.sparams[:, layout.index("mimics", "rho_r1")], -0.05 * np.arange(n))
    assert np.all(m.sparams[:, layout.index("mimics", "cv_litm")] == 0.3)
    casa = setA_model(setA / "inputs", "casa", 2)
    path.write_text("cvc_slow,cvk_slow,rhokc_slow\n" + "".join(f"0.5,0.4,{-0.1 * (k % 3)}\n" for k in range(n)))
    c = dataclasses.replace(casa, heterogeneity=Heterogeneity(het_lin=True), het_table=read_heterogeneity_table(path))
    np.testing.assert_allclose(c.params[:, layout.index("casa", "het_phi_slow")], 1 + 0.2 * (-0.1 * (np.arange(n) % 3)))
    assert np.all(c.params[:, layout.index("casa", "het_phi_met")] == 1.0)
    path.write_text("cv_micr\n-0.1\n")
    with pytest.raises(ConfigError, match="< 0"):
        read_heterogeneity_table(path)
    path.write_text("rho_k2\n1.1\n")
    with pytest.raises(ConfigError, match="outside"):
        read_heterogeneity_table(path)
    path.write_text("cv_foo\n0.1\n")
    with pytest.raises(ConfigError, match="unknown columns"):
        read_heterogeneity_table(path)


@pytest.mark.reference
def test_optional_output_variables_only_with_their_option(setA: Path) -> None:
    from testbed.output import variables_for

    casa = setA_model(setA / "inputs", "casa", 2)
    assert casa.output_options == frozenset() and casa.static_fields() == {}
    plain = {v.name for v in variables_for("casa", 2, casa.output_options)}
    assert not plain & {"psi", "drySpell", "dryWetter", "drySpellPsiEff", "hetClamped"}
    on = dataclasses.replace(
        casa,
        moisture=MoistureOptions(fw_psi=True),
        dry_spell=DrySpell(start=100),
        heterogeneity=Heterogeneity(het_lin=True, casa_cvc={"slow": 0.5}, casa_cvk={"slow": 0.5}),
    )
    assert on.output_options == {"psi", "dry_spell", "het_lin"}
    names = {v.name for v in variables_for("casa", 2, on.output_options)}
    assert names - plain == {"psi", "drySpell", "dryWetter", "drySpellPsiEff"}
    assert {"het_phi_slow", "vg_alpha"} <= set(on.static_fields())
    mimics = dataclasses.replace(setA_model(setA / "inputs", "mimics", 2), heterogeneity=Heterogeneity(het_mm=True))
    assert mimics.output_options == {"het_mm"}
    assert "hetClamped" in {v.name for v in variables_for("mimics", 2, mimics.output_options)}
