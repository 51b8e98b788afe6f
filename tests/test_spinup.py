"""testbed spinup: criteria, the Anderson accelerator, stage hand-over, kill and resume, bad input."""

from __future__ import annotations

import contextlib
import csv
import errno
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from testbed.cli import main
from testbed.config import RunConfig
from testbed.errors import ConfigError
from testbed.forcing_tools.synthetic import make_synthetic_domain
from testbed.spinup.aitken import Aitken
from testbed.spinup.anderson import Anderson
from testbed.spinup.criteria import Criteria, diagnose, unsettled_kind
from testbed.spinup.newton import Newton
from testbed.spinup.sasu import Sasu
from testbed.spinup.stages import plan_spinup, resolve
from testbed.spinup.tasks import CycleJob, cycle_chunk
from testbed.state import read_restart

from .test_runner import write_namelist as run_namelist

# ------------------------------------------------------------------------------------ criteria


def test_global_change_uses_cell_area_and_masks_inactive_cells() -> None:
    area = np.array([1e12, 2e12, 5e12])
    active = np.array([True, True, False])
    before = {"soil_c": np.array([1000.0, 2000.0, 0.0]), "veg_c": np.array([10.0, 10.0, 0.0])}
    after = {"soil_c": np.array([1001.0, 1999.5, 1e9]), "veg_c": np.array([10.0, 10.0, 0.0])}
    d = diagnose(before, after, area, active, Criteria())
    assert d.global_delta["soil_c"] == pytest.approx((1.0 * 1e12 - 0.5 * 2e12) / 1e15)
    assert d.global_total["soil_c"] == pytest.approx((1001.0 * 1e12 + 1999.5 * 2e12) / 1e15)
    # cell 1 changes by 1 g m-2 (not < 1), cell 2 by 0.5 g m-2 and 0.025 %: settled
    assert d.fraction_settled["soil_c"] == 0.5
    assert d.settled.tolist() == [False, True, False]
    assert not d.met


def test_both_cell_thresholds_must_hold_and_the_fraction_decides() -> None:
    area, active = np.ones(4) * 1e6, np.ones(4, dtype=bool)
    before = {"soil_c": np.array([100.0, 10000.0, 50.0, 50.0])}
    # cell 0: 0.5 g m-2 but 0.5 %; cell 1: 5 g m-2 but 0.05 %; cells 2, 3: 0.01 g m-2, 0.02 %
    after = {"soil_c": before["soil_c"] + np.array([0.5, 5.0, 0.01, -0.01])}
    d = diagnose(before, after, area, active, Criteria())
    assert d.settled.tolist() == [False, False, True, True]
    assert not d.met
    loose = Criteria(cell_abs=10.0, cell_rel=0.01, cell_fraction=1.0)
    assert diagnose(before, after, area, active, loose).met
    # the global criterion alone can fail
    assert not diagnose(before, after, area * 1e9, active, loose).met
    assert Criteria().tighter(10).cell_abs == pytest.approx(0.1)


def test_criteria_that_can_never_hold_are_refused() -> None:
    with pytest.raises(ConfigError, match="cell_abs = -1.0 can never be met"):
        Criteria(cell_abs=-1.0).check(2)
    with pytest.raises(ConfigError, match="soc_global = 0.0 can never be met"):
        Criteria(soc_global=0.0).check(2)
    with pytest.raises(ConfigError, match="cell_fraction"):
        Criteria(cell_fraction=1.5).check(2)
    with pytest.raises(ConfigError, match="soil_n needs a C\\+N run"):
        Criteria(variables=("soil_c", "soil_n")).check(1)
    with pytest.raises(ConfigError, match="did you mean 'soil_c'"):
        Criteria(variables=("soil_cc",)).check(2)


def test_oscillating_and_drifting_cells_are_told_apart() -> None:
    assert unsettled_kind(np.array([1.0, -1.0, 1.0, -0.5])) == "oscillating"
    assert unsettled_kind(np.array([3.0, 2.0, 1.5, 1.2])) == "drifting"


def _judge_sequence(x: np.ndarray, crit: Criteria, plain: np.ndarray | None = None) -> list[list[bool]]:
    """Run the per-cycle diagnostics over per-cell sequences of a total (``x``: cycles+1 x cells, g m-2) as the
    pipeline does: each cycle's change is remembered where the cell took a plain cycle (``plain``: cycles x cells)."""
    area, active = np.full(x.shape[1], 1e6), np.ones(x.shape[1], dtype=bool)
    previous, out = None, []
    for k in range(x.shape[0] - 1):
        before, after = {"soil_c": x[k]}, {"soil_c": x[k + 1]}
        out.append(diagnose(before, after, area, active, crit, previous).settled.tolist())
        ok = np.ones(x.shape[1], dtype=bool) if plain is None else plain[k]
        previous = {"soil_c": np.where(ok, x[k + 1] - x[k], np.nan)}
    return out


def test_period2_criterion_settles_a_limit_cycle_but_not_a_drift() -> None:
    """spinup.cell_period2: a cell in a period-2 cycle (+-8 g m-2 per cycle about 20,000 g m-2, as the MIMICS-CN
    reference cell 59 ends) has no drift and settles; a cell drifting by 3 g m-2 per cycle, or alternating about a
    drift of 3 g m-2 per cycle, does not; with the option off only the quiet cell settles."""
    k = np.arange(12)[:, None]
    x = np.hstack(
        [
            20000 + 8.0 * (k % 2),  # period 2, no drift
            20000 + 3.0 * k,  # drifting
            20000 + 8.0 * (k % 2) + 3.0 * k,  # alternating changes (+11, -5) about a drift of 3 per cycle
            20000 + 0.1 * (k % 2),  # quiet: settled either way
        ]
    )
    on = _judge_sequence(x, Criteria(cell_fraction=0.5, period2=True))
    off = _judge_sequence(x, Criteria(cell_fraction=0.5))
    assert on[0] == [False, False, False, True]  # the first cycle has no previous one to pair with
    assert all(row == [True, False, False, True] for row in on[1:])
    assert all(row == [False, False, False, True] for row in off)
    # the two-cycle change is halved: a drift of 1.5 g m-2 per cycle under +-8 alternation is not settled, of 0.5 is
    for drift, ok in ((1.5, False), (0.5, True)):
        y = 20000 + 8.0 * (k % 2) + drift * k
        assert _judge_sequence(y, Criteria(cell_fraction=1.0, period2=True))[-1] == [ok]
    # a cell whose previous cycle was an accelerated step (not plain) is judged on its own cycle
    plain = np.ones((11, 4), dtype=bool)
    plain[5] = False
    assert _judge_sequence(x, Criteria(cell_fraction=0.5, period2=True), plain)[6] == [False, False, False, True]


def test_period2_criterion_judges_the_global_change_over_two_cycles() -> None:
    area, active = np.array([1e12]), np.array([True])
    crit = Criteria(cell_abs=100.0, cell_rel=1.0, period2=True)
    before, after = {"soil_c": np.array([20000.0])}, {"soil_c": np.array([20020.0])}  # +0.02 Pg C this cycle
    assert not diagnose(before, after, area, active, crit).met
    assert diagnose(before, after, area, active, crit, {"soil_c": np.array([-20.0])}).met  # a period-2 cycle
    assert not diagnose(before, after, area, active, crit, {"soil_c": np.array([5.0])}).met  # same sign: drift
    assert Criteria(period2=True).tighter(10).period2


# ----------------------------------------------------------------------------------- anderson


def _linear_problem(ncell: int = 40, n: int = 6, seed: int = 3):
    """Donor-controlled pool chains x' = A x + b with turnover from 1e-3 to 0.5 per cycle."""
    rng = np.random.default_rng(seed)
    a = np.zeros((ncell, n, n))
    for c in range(ncell):
        k = 10 ** rng.uniform(-3, -0.3, n)
        a[c] = np.diag(1 - k)
        for i in range(1, n):
            a[c, i, i - 1] = 0.5 * k[i - 1]
    b = rng.uniform(1, 10, (ncell, n))
    fixed = np.linalg.solve(np.eye(n)[None] - a, b[:, :, None])[:, :, 0]
    return (lambda x: np.einsum("cij,cj->ci", a, x) + b), fixed


def _iterations(phi, fixed, x, acc: Anderson | None, tol: float = 1e-6, max_it: int = 5000) -> int:
    for it in range(max_it):
        p = phi(x)
        if np.max(np.abs(p / fixed - 1)) < tol:
            return it + 1
        x = acc.step(x, p)[0] if acc is not None else p
    return max_it


def test_anderson_reaches_the_fixed_point_of_a_linear_map_much_faster_than_cycling() -> None:
    phi, fixed = _linear_problem()
    x0 = np.ones_like(fixed)
    plain = _iterations(phi, fixed, x0, None)
    accel = _iterations(phi, fixed, x0, Anderson.new(fixed.shape[0], fixed.shape[1], 6))
    assert accel < plain / 10, (accel, plain)


def test_failing_cells_fall_back_to_plain_cycling_bit_for_bit() -> None:
    phi, fixed = _linear_problem(ncell=6)
    acc = Anderson.new(6, fixed.shape[1], 4)
    x = np.ones_like(fixed)
    rng = np.random.default_rng(1)
    for _ in range(30):
        p = phi(x)
        # cell 2's map is noise around its fixed point: accelerated steps keep making its residual grow
        p[2] = fixed[2] * (1 + rng.uniform(-0.5, 0.5, fixed.shape[1]))
        x_next, plain = acc.step(x, p, fallback_after=3, growth=1.0)
        assert np.array_equal(x_next[plain], p[plain])
        x = x_next
    assert acc.fallback[2] and acc.failures[2] >= 3
    assert not acc.fallback[[0, 1, 3, 5]].any()
    p = phi(x)
    p[4, 0] = np.nan
    x_next, plain = acc.step(x, p)
    # the NaN cell falls back for good, restarting from its best point so far (finite)
    assert acc.fallback[4] and np.all(np.isfinite(x_next[4]))
    assert np.array_equal(x_next[4], acc.best_phi[4])
    assert plain[2] and np.array_equal(x_next[2], p[2])


def test_anderson_keeps_pools_positive() -> None:
    acc = Anderson.new(1, 2, 3)
    x = np.array([[1.0, 1.0]])
    for target in (2.0, 4.0, 8.0, 16.0):  # a history pointing steeply up, then a sudden collapse
        x, _ = acc.step(x, np.array([[target, target]]))
    x, _ = acc.step(x, np.array([[1e-3, 1e-3]]), max_factor=10.0)
    assert np.all(x >= 1e-4) and np.all(x <= 1e-2)


# --------------------------------------------------------------------------------------- newton


def _newton_iterations(phi, fixed, x, acc: Newton, tol: float = 1e-6, max_it: int = 5000, **kw) -> int:
    floor = np.full(x.shape, 1e-3)
    for it in range(max_it):
        p = phi(x)
        if np.max(np.abs(p / fixed - 1)) < tol:
            return it + 1
        x, plain = acc.step(x, p, floor, **kw)
        assert np.array_equal(x[plain], p[plain])
    return max_it


def test_newton_solves_a_linear_map_with_one_jacobian() -> None:
    """Linear cells: one finite-difference Jacobian (n cycles, all cells together) and one Newton step."""
    phi, fixed = _linear_problem()
    x0 = np.ones_like(fixed)
    plain = _iterations(phi, fixed, x0, None)
    acc = Newton.new(fixed.shape[0], fixed.shape[1])
    evals = _newton_iterations(phi, fixed, x0, acc, max_factor=1e6)
    assert evals <= fixed.shape[1] + 3, evals
    assert evals < plain / 100, (evals, plain)
    assert np.all(acc.jacobians == 1) and not acc.fallback.any()


def test_newton_guards_its_steps_and_falls_back_bit_for_bit() -> None:
    phi, fixed = _linear_problem(ncell=6)
    acc = Newton.new(6, fixed.shape[1])
    floor = np.full(fixed.shape, 1e-3)
    x = np.ones_like(fixed)
    rng = np.random.default_rng(1)
    for _ in range(60):
        p = phi(x)
        # cell 2's map is noise: its Newton steps keep making the residual grow
        p[2] = fixed[2] * (1 + rng.uniform(-0.5, 0.5, fixed.shape[1]))
        x_next, plain = acc.step(x, p, floor, fallback_after=2, growth=1.0, max_factor=2.0, tol=1e-9)
        assert np.array_equal(x_next[plain], p[plain])
        # every pool within the factor of its plain-cycled value (a Jacobian column: of the base point's)
        assert np.all(x_next > 0)
        x = x_next
    assert acc.fallback[2]
    assert not acc.fallback[[0, 1, 3, 4, 5]].any()
    p = phi(x)
    p[4, 0] = np.nan
    x_next, plain = acc.step(x, p, floor)
    assert acc.fallback[4] and plain[4]


def test_newton_perturbs_one_column_of_the_whole_base_state_and_refuses_frozen_cells() -> None:
    """A Jacobian column is evaluated at the base point's whole state (also the columns Newton does not iterate)
    with one iterated column changed; a cell whose cycle leaves a pool as it is (every value a fixed point) has a
    singular (I - J) and cycles plainly instead of moving to another of its fixed points."""
    phi3, fixed = _linear_problem(ncell=3, n=3)

    def phi(state: np.ndarray) -> np.ndarray:  # column 3: a non-iterated memory column, column 0 of cell 2 frozen
        out = state.copy()
        out[:, :3] = phi3(state[:, :3])
        out[2, 0] = state[2, 0]
        out[:, 3] = state[:, 3] + 1.0
        return out

    cols = np.arange(3)
    acc = Newton.new(3, 3, 4)
    floor = np.full((3, 3), 1e-3)
    x = np.ones((3, 4))
    base = None
    for it in range(12):
        p = phi(x)
        nxt, plain = acc.step_state(x, p, cols, floor, max_factor=1e6, tol=1e-9)
        assert np.array_equal(nxt[plain], p[plain])
        if base is not None and acc.phase[0] > 1:
            changed = np.flatnonzero(nxt[0] != base)
            assert changed.size == 1 and changed[0] == acc.phase[0] - 1, (it, nxt[0], base)
        if acc.phase[0] == 1:
            base = x[0].copy()
            assert np.array_equal(np.flatnonzero(nxt[0] != base), [0])
        x = nxt
    assert acc.jacobians[0] >= 1 and not acc.fallback[0]
    assert np.allclose(x[0, :3], fixed[0], rtol=1e-8)
    assert acc.fallback[2] and plain[2]


def test_newton_leaves_inert_pools_out_of_its_system() -> None:
    """A pool the cycle leaves exactly as it is whatever the state (e.g. one the soil model does not use) does not
    make the system singular: the cell converges, the pool stays where it is."""
    phi4, fixed = _linear_problem(ncell=4, n=4)

    def phi(x: np.ndarray) -> np.ndarray:
        out = np.concatenate([phi4(x[:, :4]), x[:, 4:]], axis=1)
        return out

    x = np.concatenate([np.ones((4, 4)), np.full((4, 1), 7.0)], axis=1)
    acc = Newton.new(4, 5)
    for _ in range(12):
        x, _ = acc.step(x, phi(x), np.full(x.shape, 1e-3), max_factor=1e6, tol=1e-9)
    assert not acc.fallback.any()
    assert np.allclose(x[:, :4], fixed, rtol=1e-8) and np.all(x[:, 4] == 7.0)


# --------------------------------------------------------------------------------------- sasu


def _chain_cycle(x: np.ndarray, days: int = 365):
    """One cycle of a donor-controlled 3-pool chain with seasonal rates (daily explicit steps, like the kernel).

    Pool 0 gets a seasonal input; 60 % of pool 0's outflux goes to pool 1, 30 % of pool 1's to pool 2 (the
    slow pool: 55-year turnover). Returns Phi(x) and the cycle sums SASU takes: end-of-day pools, outfluxes
    and transfers [cell, dest, source].
    """
    k = np.array([2e-2, 2e-3, 5e-5])
    a = np.zeros((3, 3))
    a[1, 0], a[2, 1] = 0.6, 0.3
    x = x.copy()
    end_sum, out_sum, tr_sum = np.zeros_like(x), np.zeros_like(x), np.zeros((x.shape[0], 3, 3))
    for d in range(days):
        season = 1.0 + 0.8 * np.sin(2 * np.pi * d / days)
        out = k * season * x
        flux = a[None] * out[:, None, :]
        x = x + np.einsum("cij->ci", flux) - out
        x[:, 0] += 2.0 * season
        end_sum += x
        out_sum += out
        tr_sum += flux
    return x, end_sum, out_sum, tr_sum


def _fixed_point_of_affine(phi, n: int) -> np.ndarray:
    q = phi(np.zeros((1, n)))[0]
    p = np.stack([phi(np.eye(n)[[i]])[0] - q for i in range(n)], axis=1)
    return np.linalg.solve(np.eye(n) - p, q)


def test_sasu_finds_the_periodic_steady_state_of_a_linear_pool_chain_in_a_few_cycles() -> None:
    fixed = _fixed_point_of_affine(lambda x: _chain_cycle(x)[0], 3)
    acc = Sasu.new(1, 3)
    x = np.array([[10.0, 10.0, 10.0]])
    cycles = 0
    while np.max(np.abs(x / fixed - 1)) > 1e-6 and cycles < 20:
        y, end_sum, out, tr = _chain_cycle(x)
        r, plain = acc.step(x, y, end_sum, out, tr, max_factor=1e6)
        x = y * r
        cycles += 1
    assert cycles <= 10, (cycles, x, fixed)
    # brute force is still far off after the same number of cycles
    xb = np.array([[10.0, 10.0, 10.0]])
    for _ in range(cycles):
        xb = _chain_cycle(xb)[0]
    assert abs(xb[0, 2] / fixed[2] - 1) > 0.5


def test_sasu_leaves_a_fixed_point_where_it_is_and_guards_its_steps() -> None:
    fixed = _fixed_point_of_affine(lambda x: _chain_cycle(x)[0], 3)
    y, end_sum, out, tr = _chain_cycle(fixed[None])
    r, plain = Sasu.new(1, 3).step(fixed[None], y, end_sum, out, tr)
    assert np.allclose(r, 1.0, rtol=0, atol=1e-9)
    # a pool may move by at most max_factor per step; a non-finite cycle falls back to plain cycling for good
    acc = Sasu.new(2, 3)
    x = np.array([[1e-3, 1e-3, 1e-3], [1.0, 1.0, 1.0]])
    y, end_sum, out, tr = _chain_cycle(x)
    y[1, 0] = np.nan
    r, plain = acc.step(x, y, end_sum, out, tr, max_factor=10.0)
    assert np.all(r[0] <= 10.0 + 1e-9) and r[0, 2] == pytest.approx(10.0)
    assert plain.tolist() == [False, True] and acc.fallback.tolist() == [False, True] and np.all(r[1] == 1)


def test_sasu_solves_for_the_pools_it_keeps_but_does_not_scale_them() -> None:
    """keep: the middle pool of the chain is in the steady-state solve but keeps r = 1 (MIMICS' microbes); the
    other pools take the same step as without keep (the solve is the same), and a cell at its fixed point stays."""
    keep = np.array([False, True, False])
    fixed = _fixed_point_of_affine(lambda x: _chain_cycle(x)[0], 3)
    x = np.array([[10.0, 10.0, 10.0], fixed])
    y, end_sum, out, tr = _chain_cycle(x)
    r, plain = Sasu.new(2, 3).step(x, y, end_sum, out, tr, max_factor=1e6, keep=keep)
    r_all, _ = Sasu.new(2, 3).step(x, y, end_sum, out, tr, max_factor=1e6)
    assert np.all(r[:, 1] == 1.0) and r_all[0, 1] != 1.0
    assert r[0, 2] == r_all[0, 2] and r[0, 2] > 1.5  # the slow pool still jumps towards its steady state
    assert np.allclose(r[1], 1.0, rtol=0, atol=1e-9)


def test_sasu_takes_plain_cycles_where_its_solve_would_starve_the_kept_microbes() -> None:
    """microbe_ratio: a cell whose substrate (the chain's other pools) stays within ``still`` over the cycle while the
    solve puts its kept pool (the chain's middle pool as MIMICS' microbes, here 4 times its steady state) below
    ``microbe_ratio`` of its present amount takes a plain cycle (docs/spinup.md "Dying microbes"); right after a
    semi-analytic step only a second such cycle in a row counts; a caught cell stays caught until the solve puts its
    microbes at their present amount at least."""
    keep = np.array([False, True, False])
    fixed = _fixed_point_of_affine(lambda x: _chain_cycle(x)[0], 3)
    x = np.array([fixed * [1.0, 4.0, 1.0], fixed * [1.0, 1.2, 1.0]])
    y, end_sum, out, tr = _chain_cycle(x)  # cell 0's substrate changes by 3.8 % over the cycle, cell 1's by 0.25 %
    kw = {"max_factor": 1e6, "keep": keep, "substrate": ~keep, "still": 0.05}
    r_off, plain_off = Sasu.new(2, 3).step(x, y, end_sum, out, tr, **kw)
    assert plain_off.tolist() == [False, False] and r_off[0, 2] < 0.99  # without the rule: a step
    acc = Sasu.new(2, 3)
    r, plain = acc.step(x, y, end_sum, out, tr, microbe_ratio=0.5, **kw)
    assert plain.tolist() == [True, False] and np.all(r[0] == 1.0) and acc.stalled.tolist() == [True, False]
    assert np.array_equal(r[1], r_off[1])  # cell 1's solve keeps its microbes (ratio about 1): untouched
    assert not acc.fallback[0]  # not for good: the next cycle is judged again
    # a substrate that moves by more than ``still`` is not stalled: the microbes may be following it
    _, plain = Sasu.new(2, 3).step(x, y, end_sum, out, tr, microbe_ratio=0.5, **{**kw, "still": 0.01})
    assert plain.tolist() == [False, False]
    # right after a semi-analytic step one such cycle is not enough, two in a row are
    after_step = Sasu.new(2, 3)
    after_step.last_step[:] = True
    _, plain = after_step.step(x, y, end_sum, out, tr, microbe_ratio=0.5, **kw)
    assert plain.tolist() == [False, False] and after_step.stalled.tolist() == [True, False]
    after_step.last_step[:] = True
    _, plain = after_step.step(x, y, end_sum, out, tr, microbe_ratio=0.5, **kw)
    assert plain.tolist() == [True, False]
    # hysteresis: a caught cell stays caught while its substrate stands and the solve keeps its microbes below their
    # present amount (cell 1: about 0.8 of it, above microbe_ratio; as a cell's microbes fade the ratio creeps up
    # towards microbe_ratio, docs/spinup.md); it is freed when the solve puts them at or above it (cell 1 of x2)
    caught = Sasu.new(2, 3)
    caught.stalled[:] = True
    r, plain = caught.step(x, y, end_sum, out, tr, microbe_ratio=0.5, **kw)
    assert plain.tolist() == [True, True] and caught.stalled.tolist() == [True, True] and np.all(r == 1.0)
    x2 = np.array([fixed * [1.0, 4.0, 1.0], fixed * [1.0, 0.8, 1.0]])
    y2, end_sum2, out2, tr2 = _chain_cycle(x2)
    freed = Sasu.new(2, 3)
    freed.stalled[:] = True
    _, plain = freed.step(x2, y2, end_sum2, out2, tr2, microbe_ratio=0.5, **kw)
    assert plain.tolist() == [True, False] and freed.stalled.tolist() == [True, False]
    # a checkpoint's memory from before the rule resumes with no cell stalled
    older = {k: v for k, v in after_step.arrays().items() if k != "stalled"}
    assert Sasu.from_arrays(older, slice(1, 2)).stalled.tolist() == [False]


def test_sasu_undoes_a_step_after_which_a_microbial_group_collapsed() -> None:
    """undo_collapsed (docs/spinup.md "Collapsing microbes"): a cell whose cycle answered a step and in which a kept
    pool (a microbial group) fell more than ``factor``-fold returns to the state before the step and cycles plainly
    for good; the same fall in a plain cycle is the model's own (microbes dying in the cold) and is left alone, and
    a cell with no step to undo is left alone too."""
    acc = Sasu.new(4, 3, 5)
    acc.before[:3] = np.arange(15.0).reshape(3, 5)
    acc.correction[:] = 0.3
    answered = np.array([True, False, True, True])
    kept_x = np.ones((4, 2))
    kept_phi = np.array([[2e-3, 1.0], [1e-4, 1.0], [0.5, 0.02], [1e-4, 1.0]])  # groups falling 500, 1e4, 50 fold
    undone = acc.undo_collapsed(answered, kept_x, kept_phi, 100.0)
    assert undone.tolist() == [True, False, False, False]  # cell 3 has no state before a step (NaN)
    assert acc.fallback.tolist() == [True, False, False, False]
    assert not acc.last_step[0] and acc.correction[0] == 0.0 and acc.correction[1] == 0.3
    # a checkpoint's memory from before the rule resumes with nothing to undo
    older = {k: v for k, v in acc.arrays().items() if k != "before"}
    assert Sasu.from_arrays(older).before.shape == (4, 0)
    assert not Sasu.from_arrays(older).undo_collapsed(answered, kept_x, kept_phi, 100.0).any()


def test_sasu_update_returns_a_collapsed_cell_to_its_state_before_the_step(domain: Path, tmp_path: Path) -> None:
    """sasu_update wires the rule: the collapsed cell's next state is its ``before`` row, bit for bit; the others
    take phi (no fluxes: a step of factor 1); spinup.sasu_collapse = 0 turns it off."""
    from testbed.spinup.tasks import LinearPools, sasu_update

    cfg = RunConfig.read(write_namelist(tmp_path, domain, "run.soil_model=mimics", "run.cycle=cn"))
    model = plan_spinup(cfg).stages[0].model
    x = np.asfortranarray(plan_spinup(cfg).state.copy())
    from testbed import layout

    mick = layout.index("state", "mick")
    c = int(np.flatnonzero(x[:, mick] > 0)[0])
    phi = x.copy(order="F")
    phi[c, mick] = x[c, mick] / 1000.0  # cell c's K-strategists collapse over the cycle
    memory = Sasu.new(model.ncell, LinearPools.of(model).carbon.size, x.shape[1]).arrays()
    memory["last_step"][:] = True  # the cycle answered a step in every cell
    memory["before"] = x * 2.0
    cycle_sum = np.zeros((model.ncell, layout.NDIAG))
    nxt, plain, mem = sasu_update(model, x, phi, cycle_sum, memory, {"collapse": 100.0})
    others = np.arange(model.ncell) != c
    assert np.array_equal(nxt[c], x[c] * 2.0) and np.array_equal(nxt[others], phi[others])
    assert plain[c] and np.flatnonzero(mem["fallback"]).tolist() == [c]
    nxt, _, mem = sasu_update(model, x, phi, cycle_sum, memory, {"collapse": 0.0})
    assert np.array_equal(nxt, phi) and not mem["fallback"].any()


@pytest.mark.parametrize("key", ["accelerate_method", "prespin_method"])
def test_sasu_needs_a_soil_model_with_linear_pools(domain: Path, tmp_path: Path, capsys, key: str) -> None:
    nml = write_namelist(tmp_path, domain, "run.soil_model=corpse", f"spinup.{key}=sasu")
    assert main(["spinup", str(nml), "-q"]) == 2
    err = capsys.readouterr().err
    assert f"spinup.{key} = 'sasu': soil model 'corpse' declares no pools whose fluxes its kernel reports" in err, err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("soil_model", "cycle", "prespin", "method", "last", "freeze"),
    [
        ("casa", "c", "cycle", "sasu", "cycle", 0),
        ("casa", "cn", "cycle", "sasu", "cycle", 0),
        ("mimics", "c", "cycle", "newton", "cycle", 0),
        ("mimics", "cn", "cycle", "sasu", "aitken", 3),
        ("corpse", "c", "cycle", "anderson", "cycle", 0),
    ],
)
def test_auto_follows_the_soil_model_description(
    domain: Path, tmp_path: Path, soil_model: str, cycle: str, prespin: str, method: str, last: str, freeze: int
) -> None:
    """accelerate_method, prespin_method, cycle_method and freeze_after = auto (the defaults): what the soil model
    declares per cycle (SoilModel.spinup_auto: MIMICS), else sasu where it declares linear pools (CASA), anderson
    otherwise (CORPSE), a plain prespin (prespin_cycles), plain cycling in the cycle stage and no frozen cells. A
    value in the namelist wins over the declaration."""
    cfg = RunConfig.read(write_namelist(tmp_path, domain, f"run.soil_model={soil_model}", f"run.cycle={cycle}"))
    assert cfg.get("spinup.accelerate_method") == cfg.get("spinup.prespin_method") == "auto"
    assert cfg.get("spinup.cycle_method") == cfg.get("spinup.freeze_after") == "auto"
    stages = {s.name: s for s in plan_spinup(cfg).stages}
    assert stages["accelerate"].method == method
    assert stages["prespin"].method == prespin
    assert stages["cycle"].method == last
    assert resolve(cfg, "freeze_after") == freeze
    cfg.override(["spinup.freeze_after=5", "spinup.cycle_method=cycle"])
    assert resolve(cfg, "freeze_after") == 5 and resolve(cfg, "cycle_method") == "cycle"
    cfg.override(["spinup.freeze_after=AUTO"])
    assert resolve(cfg, "freeze_after") == freeze
    # every soil model declares the fixed-length plain prespin (an accelerated one: test_accelerated_prespin_*)
    assert stages["prespin"].max_cycles == cfg.get("spinup.prespin_cycles") and not stages["prespin"].early_stop


def test_sasu_microbe_rule_does_not_tighten_with_the_criteria(domain: Path, tmp_path: Path) -> None:
    """The dying-microbe rule's substrate threshold (pipeline.SASU_STILL: 0.5 % per forcing cycle; per year of an
    accelerated prespin, divided by the cycle's length) does not follow spinup.cell_rel: 10x tighter criteria emptied
    the reference domain's cell 6 while it did (docs/spinup.md, "Dying microbes"). The convergence tolerance does."""
    from testbed.spinup.pipeline import SASU_STILL, method_options

    def sasu_options(*settings: str) -> tuple[int, dict, dict]:
        base = ["run.soil_model=mimics", "spinup.prespin_method=sasu", "spinup.accelerate_method=sasu"]
        plan = plan_spinup(RunConfig.read(write_namelist(tmp_path, domain, *base, *settings)))
        pre, acc = (method_options(plan, i) for i, s in enumerate(plan.stages) if s.method == "sasu")
        return plan.stages[-1].years_per_cycle, pre, acc

    (years, pre, acc), (_, pre_t, acc_t) = sasu_options(), sasu_options("spinup.cell_rel=1e-4")
    assert acc["still"] == acc_t["still"] == SASU_STILL
    assert pre["still"] == pre_t["still"] == SASU_STILL / years and years > 1
    assert acc_t["tol"] == pytest.approx(acc["tol"] / 10)


@pytest.mark.parametrize("soil_model", ["casa", "mimics"])
def test_sasu_pipeline_closes_budgets_and_hands_over_a_simulated_state(
    domain: Path, tmp_path: Path, soil_model: str
) -> None:
    """CASA-CN and MIMICS-CN with sasu: budgets are checked every simulated year (run.check_budgets) and the end
    state is one plain cycle from the accelerate stage's end state (the flux diagnostics change no result)."""
    nml = write_namelist(
        tmp_path,
        domain,
        f"run.soil_model={soil_model}",
        "spinup.stages=prespin accelerate cycle",
        "spinup.prespin_method=cycle",
        "spinup.accelerate_method=sasu",
        "spinup.cycle_method=cycle",
        "spinup.prespin_cycles=2",
        "spinup.accelerate_max_cycles=6",
        "spinup.cycle_max_cycles=1",
    )
    assert main(["spinup", str(nml), "--workers", "1", "-q"]) == 0
    out = tmp_path / "out"
    rows = list(csv.DictReader((out / "equilibrium.csv").open()))
    accel = [r for r in rows if r["stage"] == "accelerate"]
    assert accel and int(accel[0]["cells_accelerated"]) > 0
    assert "max budget residual" in (out / "run.log").read_text()
    plan = plan_spinup(RunConfig.read(nml))
    stage = plan.stages[2]
    res = cycle_chunk(
        CycleJob(slice(0, 12), stage.steps, "cycle", False, True),
        stage.model,
        np.asfortranarray(_read_state(out / "restart_accelerate.nc")),
        None,
    )
    assert np.array_equal(res.phi, _read_state(out / "restart.nc"))


def _runs_with_switch(model, params: np.ndarray, column: int, steps, start: np.ndarray) -> dict:
    """{0.0: (end state, annual sums), 1.0: ...} of the first of ``steps`` from ``start`` with ``params[:, column]``
    (a diagnostic switch of the model's parameters) off and on."""
    from testbed.run import run_years

    runs = {}
    for on in (0.0, 1.0):
        params[:, column] = on
        state = start.copy(order="F")
        runs[on] = (state, list(run_years(model, state, steps))[0].annual)
    return runs


@pytest.mark.parametrize(("cycle", "options"), [("c", False), ("cn", False), ("cn", True)])
def test_mimics_sasu_fluxes_close_each_pools_budget_and_change_no_result(
    domain: Path, tmp_path: Path, cycle: str, options: bool
):
    """With sasu_diag the kernel reports each MIMICS pool's carbon outflux and the transfers between the pools
    (diag sasu_*): over a year every pool's change is its input minus its outflux, to round-off; the state is
    bit-identical to a run without them. ``options``: the hourly loop for options (here: the microbial
    diagnostics on), which sums the fluxes in the loop itself; the plain loop sums them in a loop of its own."""
    from testbed import layout

    nml = write_namelist(tmp_path, domain, "run.soil_model=mimics", f"run.cycle={cycle}")
    model = plan_spinup(RunConfig.read(nml)).stages[0].model
    steps = plan_spinup(RunConfig.read(nml)).stages[1].steps[:1]
    start = model.cold_state()
    model.sparams[:, layout.index("mimics", "exud_diag")] = 1.0 if options else 0.0
    runs = _runs_with_switch(model, model.sparams, layout.index("mimics", "sasu_diag"), steps, start)
    assert np.array_equal(runs[0.0][0], runs[1.0][0])  # diagnostics only
    end, annual = runs[1.0]
    assert not np.any(runs[0.0][1][:, layout.index("diag", "sasu_out_soma")])  # off: not reported

    def d(name: str) -> np.ndarray:
        return annual[:, layout.index("diag", name)]

    gm2 = model.soil.state_to_gm2(model)
    pools = ("litm", "lits", "micr", "mick", "soma", "somc", "somp")
    change = {c: (end[:, layout.index("state", c)] - start[:, layout.index("state", c)]) * gm2 for c in pools}
    inflow = {
        c: sum(d(f"sasu_{c}_from_{src}") for src in pools if f"sasu_{c}_from_{src}" in layout.DIAGNOSTICS)
        for c in pools
    }
    fi_met = model.sparams[:, layout.index("mimics", "fi_met")]
    fi_str = model.sparams[:, layout.index("mimics", "fi_str")]
    external = {  # inputs from outside the pools: litter (a share straight to SOMp, SOMc); no exudate here
        "litm": d("clitinput_met") * (1 - fi_met),
        "lits": d("clitinput_str") * (1 - fi_str),
        "somp": d("clitinput_met") * fi_met,
        "somc": d("clitinput_str") * fi_str,
    }
    active = d("sasu_out_soma") > 0
    assert active.sum() >= 6
    for c in pools:
        budget = external.get(c, 0.0) + inflow[c] - d(f"sasu_out_{c}")
        scale = np.maximum(d(f"sasu_out_{c}"), 1.0)
        np.testing.assert_allclose((change[c] - budget)[active] / scale[active], 0.0, atol=1e-9, err_msg=c)
    # uptake enters a microbe at its growth efficiency: less carbon arrives than the litter and SOMa give off
    given = d("sasu_out_litm") + d("sasu_out_lits") + d("sasu_out_soma")
    taken = sum(d(f"sasu_{m}_from_{s}") for m in ("micr", "mick") for s in ("litm", "lits", "soma"))
    assert np.all(taken[active] < given[active])
    # the host vegetation's linear pools: wood turns over into CWD, fine roots into the litter, CWD into structural
    # litter and CO2; CWD has no other input, so its budget closes with the sums alone
    assert not np.any(runs[0.0][1][:, layout.index("diag", "sasu_out_cwood")])  # off: not reported
    np.testing.assert_array_equal(d("sasu_out_cwood"), d("sasu_ccwd_from_cwood"))
    np.testing.assert_allclose(
        d("sasu_out_cfroot"), d("sasu_litm_from_cfroot") + d("sasu_lits_from_cfroot"), rtol=1e-14, atol=0
    )
    cwd = end[:, layout.index("state", "ccwd")] - start[:, layout.index("state", "ccwd")]
    budget = d("sasu_ccwd_from_cwood") - d("sasu_out_ccwd")
    scale = np.maximum(d("sasu_out_ccwd"), 1.0)
    np.testing.assert_allclose((cwd - budget)[active] / scale[active], 0.0, atol=1e-9)
    assert np.any(d("sasu_out_ccwd")[active] > 0)  # woody cells (grasses have no wood, hence no CWD)
    assert np.all(d("sasu_out_cfroot")[active] > 0)
    # what the roots and CWD give the litter is part of its input (leaves give the rest)
    tol = 1e-9 * np.maximum(d("clitinput_str"), 1.0)
    assert np.all(d("sasu_lits_from_cfroot") + d("sasu_lits_from_ccwd") <= d("clitinput_str") + tol)
    assert np.all(d("sasu_litm_from_cfroot") <= d("clitinput_met") + tol)


@pytest.mark.parametrize("cycle", ["c", "cn"])
def test_casa_sasu_fluxes_are_reported_only_with_the_switch_and_change_no_result(
    domain: Path, tmp_path: Path, cycle: str
):
    """CASA's sasu_* diagnostics (its soil model's whole diagnostic block) are summed only where the host
    parameter sasu_diag is 1, as a sasu stage sets it (spinup/tasks.py); otherwise they stay 0 and cost nothing.
    Either way the state and every other diagnostic are bit-identical."""
    from testbed import layout

    nml = write_namelist(tmp_path, domain, "run.soil_model=casa", f"run.cycle={cycle}")
    model = plan_spinup(RunConfig.read(nml)).stages[0].model
    steps = plan_spinup(RunConfig.read(nml)).stages[1].steps[:1]
    start = model.cold_state()
    block = list(layout.block("diag", "casa"))
    assert block and all(layout.DIAGNOSTICS[i].startswith("sasu_") for i in block)  # the kernel skips the block
    # the host vegetation's outfluxes (wood, fine roots, CWD) are host columns, which every soil model reports
    host = [i for i in layout.block("diag", "host") if layout.DIAGNOSTICS[i].startswith("sasu_")]
    assert {layout.DIAGNOSTICS[i] for i in host} >= {"sasu_out_cwood", "sasu_out_cfroot", "sasu_out_ccwd"}
    assert not model.params[:, layout.index("casa", "sasu_diag")].any()  # off in a run
    runs = _runs_with_switch(model, model.params, layout.index("casa", "sasu_diag"), steps, start)
    assert np.array_equal(runs[0.0][0], runs[1.0][0])
    others = [i for i in range(layout.NDIAG) if i not in block and i not in host]
    assert np.array_equal(runs[0.0][1][:, others], runs[1.0][1][:, others])
    assert not runs[0.0][1][:, block + host].any()
    annual = runs[1.0][1]

    def d(name: str) -> np.ndarray:
        return annual[:, layout.index("diag", name)]

    active = d("sasu_out_cmet") > 0
    assert active.sum() >= 6
    # what a pool gives to the others is a part of its outflux (the rest is respired)
    for src, dests in (("cmet", ("cmic",)), ("cstr", ("cmic", "cslow")), ("cmic", ("cslow", "cpass"))):
        given = sum(d(f"sasu_{c}_from_{src}") for c in dests)
        assert np.all(given[active] <= d(f"sasu_out_{src}")[active])
        assert np.all(given[active] > 0)


# ------------------------------------------------------------------------------- the pipeline


@pytest.fixture(scope="module")
def domain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("spinup_domain")
    make_synthetic_domain(out / "forcing", ncell=12, years=range(1901, 1903), seed=5, per_year=False, multi_year=True)
    return out


def write_namelist(folder: Path, domain: Path, *settings: str) -> Path:
    return run_namelist(folder, domain, *settings, name="spinup.nml")


@pytest.mark.parametrize(
    "setting, message",
    [
        (
            "spinup.stages=prespin accelerat",
            "unknown stage 'accelerat'; stages are prespin, accelerate, cycle, settle; did you mean 'accelerate'",
        ),
        ("spinup.stages=cycle cycle", "appears twice"),
        ("spinup.newton_max_factor=1", "newton_max_factor must be > 1"),
        ("spinup.prespin_max_cycles=0", "prespin_max_cycles must be >= 1"),
        ("spinup.sasu_max_factor=1", "sasu_max_factor must be > 1"),
        ("spinup.sasu_microbe_ratio=1", "sasu_microbe_ratio must be in [0, 1)"),
        ("spinup.aitken_max_factor=1", "aitken_max_factor must be > 1"),
        ("spinup.aitken_block=0", "aitken_block must be >= 1"),
        ("spinup.freeze_after=-1", "freeze_after must be >= 0"),
        ("spinup.freeze_after=often", "freeze_after must be a whole number or auto, not 'often'"),
        ("spinup.full_every=0", "full_every must be >= 1"),
        ("spinup.settle_window=0", "settle_window must be >= 1"),
        ("spinup.settle_rel=-1e-4", "settle_rel = -0.0001 can never be met"),
        ("spinup.settle_max_years=0", "settle_max_years must be >= 1"),
        ("spinup.sasu_collapse=1", "sasu_collapse must be 0 (off) or > 1"),
        ("spinup.aitken_max_cycles=0.5", "aitken_max_cycles must be >= 1"),
        ("spinup.cell_rel=-0.001", "cell_rel = -0.001 can never be met"),
        ("spinup.prespin_set=run.soil_model=mimics", "changes run.soil_model from 'casa' to 'mimics'"),
        ("spinup.cycle_set=run.cycle=c", "changes run.cycle from 'cn' to 'c'"),
        ("spinup.accelerate_set=files.met=other.nc", "changes files.met"),
        ("spinup.prespin_year=7", "there is no year 7 of the 2-year met file"),
        ("spinup.prespin_set=files.casa_params=missing.nml", "CASA parameter set not found"),
    ],
)
def test_bad_pipelines_are_refused_before_any_compute(
    domain: Path, tmp_path: Path, capsys, setting: str, message: str
) -> None:
    nml = write_namelist(tmp_path, domain)
    assert main(["spinup", str(nml), "-s", setting, "-q"]) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("key", ["accelerate_method", "prespin_method", "cycle_method"])
def test_unknown_method_is_a_config_error(key: str) -> None:
    with pytest.raises(ConfigError, match="not one of auto, cycle, anderson, sasu, newton"):
        RunConfig.defaults().override([f"spinup.{key}=annderson"])


def test_cell_period2_reaches_every_stage_criteria_and_is_refused_when_not_a_bool(domain: Path, tmp_path: Path) -> None:
    cfg = RunConfig.read(write_namelist(tmp_path, domain, "spinup.cell_period2=true", "spinup.prespin_method=newton"))
    plan = plan_spinup(cfg)
    assert plan.criteria.period2 and all(s.criteria.period2 for s in plan.stages)
    assert not plan_spinup(RunConfig.read(write_namelist(tmp_path / "b", domain))).criteria.period2
    with pytest.raises(ConfigError, match="cell_period2"):
        RunConfig.defaults().override(["spinup.cell_period2=2cycles"])


def test_pipeline_judges_each_cycle_with_the_change_of_the_cycle_before(
    domain: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """spinup.cell_period2's input: each cycle of a stage is diagnosed with the per-cell changes of the cycle before
    where that cycle was plain (here every one), and a stage's first cycle with none (its map may differ)."""
    from testbed.spinup import pipeline

    calls: list[tuple[dict, dict | None]] = []

    def spy(before, after, area, active, crit, previous=None):
        calls.append(({n: after[n] - before[n] for n in after}, previous))
        return diagnose(before, after, area, active, crit, previous)

    monkeypatch.setattr(pipeline, "diagnose", spy)
    nml = write_namelist(
        tmp_path,
        domain,
        "spinup.stages=prespin cycle",
        "spinup.prespin_cycles=2",
        "spinup.cycle_max_cycles=3",
        "spinup.cell_abs=1e-9",
        "spinup.cell_period2=true",
    )
    assert main(["spinup", str(nml), "--workers", "1", "-q"]) == 0
    assert len(calls) == 5
    for k, (_, previous) in enumerate(calls):
        if k in (0, 2):  # the first cycle of each stage
            assert previous is None
        else:
            assert previous is not None and set(previous) == set(calls[k - 1][0])
            for n, v in previous.items():
                assert np.array_equal(v, calls[k - 1][0][n])


def test_checkpoint_keeps_the_previous_cycle_changes_for_a_resume(tmp_path: Path) -> None:
    """A resumed pipeline judges its next cycle with the previous changes (NaN: unknown) an uninterrupted one has."""
    from testbed.spinup.pipeline import _Checkpoint

    ck = _Checkpoint(tmp_path / "c.npz")
    common = dict(
        sha="x",
        stage=1,
        cycle=3,
        years=8,
        state=np.asfortranarray(np.ones((3, 4))),
        memory=None,
        rows=[],
        recent=np.zeros((4, 3)),
        settled_at=np.full((2, 3), -1),
        last_settled=np.zeros(3, dtype=bool),
        last_met=False,
    )
    prev = {"soil_c": np.array([1.5, np.nan, -2.0]), "veg_c": np.array([0.0, np.nan, 3.0])}
    ck.write(**common, previous=prev)
    got = ck.read()["previous"]
    assert set(got) == set(prev) and all(np.array_equal(got[k], prev[k], equal_nan=True) for k in prev)
    ck.write(**common)
    assert ck.read()["previous"] is None
    # spinup.freeze_after: the frozen cells, their runs of settled cycles, last changes and the pending full cycle
    freeze = {
        "frozen": np.array([True, False, True]),
        "streak": np.array([4, 0, 3]),
        "last_change": {"soil_c": np.array([0.25, np.nan, -0.5])},
        "verify": True,
        "cell_years": 12.5,
    }
    ck.write(**common, fixed=np.array([False, True, False]), freeze=freeze)
    back = ck.read()
    assert back["fixed"].tolist() == [False, True, False]
    got = back["freeze"]
    assert got["frozen"].tolist() == freeze["frozen"].tolist() and got["streak"].tolist() == [4, 0, 3]
    assert np.array_equal(got["last_change"]["soil_c"], freeze["last_change"]["soil_c"], equal_nan=True)
    assert got["verify"] is True and got["cell_years"] == 12.5


def test_frozen_cells_skip_cycles_and_a_stage_ends_only_on_a_full_cycle(domain: Path, tmp_path: Path) -> None:
    """spinup.freeze_after: settled cells are not simulated until the next full cycle; the criteria end a stage only on
    a full cycle; the cells simulated per cycle and the years per cell are in the table."""

    def cycle_stage(name: str, *settings: str) -> tuple[Path, list[dict]]:
        nml = write_namelist(tmp_path / name, domain, "run.soil_model=mimics", "spinup.stages=cycle", *settings)
        assert main(["spinup", str(nml), "--workers", "2", "-q"]) == 0
        return nml, list(csv.DictReader((tmp_path / name / "out" / "equilibrium.csv").open()))

    nml, rows = cycle_stage(
        "f",
        "spinup.cycle_max_cycles=40",
        "spinup.cell_abs=100",
        "spinup.cell_rel=0.05",
        "spinup.soc_global=1",
        "spinup.cell_fraction=0.7",
        "spinup.freeze_after=2",
        "spinup.full_every=4",
    )
    plan = plan_spinup(RunConfig.read(nml))
    model = plan.stages[0].model
    nveg = int((~model.domain.inactive(model.casa)).sum())
    sim = [int(r["cells_simulated"]) for r in rows]
    assert min(sim) < nveg, sim  # some cycles skipped frozen cells
    assert sim[-1] == nveg and rows[-1]["criteria_met"] == "1"  # the stage ended on a full cycle
    for k, r in enumerate(rows):
        if (k + 1) % 4 == 0:
            assert sim[k] == nveg  # every 4th cycle is full
        if r["criteria_met"] == "1" and sim[k] < nveg:
            assert sim[k + 1] == nveg  # criteria on a partial cycle: the next one is full
    years = [float(r["years_per_cell"]) for r in rows]
    assert years[-1] < int(rows[-1]["years"])  # fewer years per vegetated cell than the pipeline's
    assert np.allclose(np.diff([0.0, *years]), 2 * np.array(sim) / nveg, atol=0.01)  # 2-year cycles (rounded)
    # every vegetated cell calm at once but the global criterion unmet: no cycle is left with nothing to simulate
    _, rows = cycle_stage(
        "calm",
        "spinup.cycle_max_cycles=3",
        "spinup.cell_abs=1e9",
        "spinup.cell_rel=1e9",
        "spinup.soc_global=1e-15",
        "spinup.freeze_after=1",
    )
    # cycle 2 simulates only the ice and water cells (their first year changed them); in cycle 3 every cell is fixed
    # or frozen, so it is a full cycle
    assert [int(r["cells_simulated"]) for r in rows] == [nveg, 0, nveg]


def _read_state(path: Path) -> np.ndarray:
    return read_restart(path)[0]


def test_settle_stage_retires_cells_one_by_one_and_resumes_bit_identical(domain: Path, tmp_path: Path) -> None:
    """The settle stage (docs/spinup.md "Settle"): a cell retires when its totals stood still over the window and is
    not simulated afterwards (its state in restart.nc is the one it retired with, and cells.csv has the cycle); the
    stage ends when every vegetated cell retired or after its budget; killed in it, it resumes bit-identically (the
    totals' history and the retired cells are in the checkpoint); budgets are checked every simulated year."""
    settings = (
        "spinup.stages=prespin settle",
        "spinup.prespin_cycles=2",
        "spinup.settle_window=4",
        "spinup.settle_rel=0.1",  # loose: on this small, young domain cells retire one by one from cycle 3
        "spinup.settle_max_years=40",
        "parallel.chunk_size=6",
    )
    ref = write_namelist(tmp_path / "ref", domain, *settings)
    assert main(["spinup", str(ref), "--workers", "1", "-q"]) == 0
    rows = list(csv.DictReader((tmp_path / "ref" / "out" / "equilibrium.csv").open()))
    retired = [int(r["cells_retired"]) for r in rows if r["stage"] == "settle"]
    assert retired == sorted(retired) and retired[0] < retired[-1], retired  # one by one, never back
    cells = list(csv.DictReader((tmp_path / "ref" / "out" / "cells.csv").open()))
    when = [int(c["settled_cycle_settle"]) for c in cells if c["active"] == "1"]
    assert sum(w > 0 for w in when) == retired[-1]
    # a retired cell is not simulated any more: each cycle simulates the vegetated cells not retired before it
    simulated = [int(r["cells_simulated"]) for r in rows if r["stage"] == "settle"]
    assert simulated == [len(when)] + [len(when) - n for n in retired[:-1]]
    log = (tmp_path / "ref" / "out" / "run.log").read_text()
    assert f"{retired[-1]} of {len(when)} vegetated cells retired" in log and "max budget residual" in log
    nml = write_namelist(tmp_path / "killed", domain, *settings)
    out = tmp_path / "killed" / "out"
    killed = _spinup_killed_at(nml, out, '"stage": 1, "cycle": 5')
    assert killed, "the pipeline finished before it could be killed in the settle stage"
    assert main(["spinup", str(nml), "--workers", "1", "-q", "--resume"]) == 0
    for name in ("restart.nc", "restart_settle.nc"):
        assert np.array_equal(_read_state(tmp_path / "ref" / "out" / name), _read_state(out / name)), name
    assert _table(tmp_path / "ref" / "out" / "equilibrium.csv") == _table(out / "equilibrium.csv")
    assert (tmp_path / "ref" / "out" / "cells.csv").read_text() == (out / "cells.csv").read_text()


def test_settle_thresholds_that_can_never_hold_are_refused(domain: Path, tmp_path: Path) -> None:
    cfg = RunConfig.read(write_namelist(tmp_path, domain, "spinup.settle_rel=0", "spinup.settle_abs=0"))
    with pytest.raises(ConfigError, match="no cell could ever retire"):
        plan_spinup(cfg)


def test_stage_hand_over_passes_the_state_unchanged(domain: Path, tmp_path: Path) -> None:
    """The cycle stage starts from the prespin stage's end state exactly: no jump, no scaling."""
    a = write_namelist(tmp_path / "a", domain, "spinup.stages=prespin", "spinup.prespin_cycles=2")
    assert main(["spinup", str(a), "--workers", "1", "-q"]) == 0
    b = write_namelist(
        tmp_path / "b",
        domain,
        "spinup.stages=prespin cycle",
        "spinup.prespin_cycles=2",
        "spinup.cycle_max_cycles=1",
        "parallel.chunk_size=5",
    )
    assert main(["spinup", str(b), "--workers", "1", "-q"]) == 0
    prespin = _read_state(tmp_path / "a" / "out" / "restart.nc")
    assert np.array_equal(prespin, _read_state(tmp_path / "b" / "out" / "restart_prespin.nc"))
    # one plain cycle from the prespin state, in process, gives the pipeline's end state bit for bit
    plan = plan_spinup(RunConfig.read(b))
    stage = plan.stages[1]
    res = cycle_chunk(
        CycleJob(slice(0, 12), stage.steps, "cycle", False, True), stage.model, np.asfortranarray(prespin), None
    )
    assert np.array_equal(res.phi, _read_state(tmp_path / "b" / "out" / "restart.nc"))
    _, info = read_restart(tmp_path / "b" / "out" / "restart_prespin.nc")
    assert info.extra["spinup_pool_scaling"] == "none"
    rows = list(csv.DictReader((tmp_path / "b" / "out" / "equilibrium.csv").open()))
    assert [r["stage"] for r in rows] == ["prespin", "prespin", "cycle"]
    assert [int(r["years"]) for r in rows] == [1, 2, 4]
    transient = RunConfig.read(tmp_path / "b" / "out" / "transient.nml")
    assert transient.get("run.start") == "restart"
    assert Path(transient.get("files.restart_in")) == (tmp_path / "b" / "out" / "restart.nc").resolve()


@pytest.mark.parametrize("soil_model, cycle", [("mimics", "cn"), ("casa", "cn")])
def test_cells_without_vegetation_are_skipped_once_unchanged_with_the_same_result(
    domain: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, soil_model: str, cycle: str
) -> None:
    """Ice and water cells are simulated in the first cycle of each stage only (it sets their LAI, P and NPP memory;
    then a cycle leaves them unchanged): every state, table row and restart equals the run that simulates them all."""
    from testbed.spinup import pipeline

    settings = (
        f"run.soil_model={soil_model}",
        f"run.cycle={cycle}",
        "spinup.stages=prespin accelerate cycle",
        "spinup.prespin_cycles=2",
        "spinup.accelerate_max_cycles=4",
        "spinup.cycle_max_cycles=3",
        "spinup.cell_abs=1e-9",
    )
    ends = {}
    for skip in (False, True):
        monkeypatch.setattr(pipeline, "SKIP_FIXED_CELLS", skip)
        nml = write_namelist(tmp_path / str(skip), domain, *settings)
        assert main(["spinup", str(nml), "--workers", "2", "-q"]) == 0
        out = tmp_path / str(skip) / "out"
        rows = [
            {k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader((out / "equilibrium.csv").open())
        ]
        states = [_read_state(out / f"restart_{s}.nc") for s in ("prespin", "accelerate", "cycle")]
        ends[skip] = (rows, states, (out / "run.log").read_text())
    assert ends[True][0] == ends[False][0]
    for a, b in zip(ends[True][1], ends[False][1], strict=True):
        assert np.array_equal(a, b, equal_nan=True)
    plan = plan_spinup(RunConfig.read(tmp_path / "True" / "spinup.nml"))
    inactive = int(plan.stages[0].model.domain.inactive(plan.stages[0].model.casa).sum())
    assert inactive > 0
    # once in each stage that runs a second cycle (sasu's accelerate stage may end after one)
    skipped = re.findall(r"(\d+) cell\(s\) without vegetation or soil .* the rest of the stage", ends[True][2])
    assert len(skipped) >= 2 and set(skipped) == {str(inactive)}
    assert "without vegetation" not in ends[False][2]


def _spinup_killed_at(nml: Path, out: Path, marker: str) -> bool:
    """Run `testbed spinup NML` in a subprocess and SIGKILL it once its checkpoint in ``out`` has ``marker``."""
    proc = _start(nml)
    killed = _kill_when(proc, out / "spinup_checkpoint.npz", marker)
    proc.wait(timeout=30)
    return killed


def _table(path: Path) -> list[dict]:
    """equilibrium.csv's rows without the timing column."""
    return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(path.open())]


def _kill_when(proc: subprocess.Popen, ckpt: Path, marker: str) -> bool:
    """SIGKILL ``proc``'s process group once its checkpoint's meta text contains ``marker``."""
    if not _wait_for_checkpoint(proc, ckpt, marker):
        return False
    os.killpg(proc.pid, signal.SIGKILL)
    return True


@pytest.mark.parametrize(
    "soil_model",
    [
        "casa",
        pytest.param("mimics", marks=pytest.mark.slow),
        pytest.param("corpse", marks=pytest.mark.slow),
        pytest.param("mimics-newton", marks=pytest.mark.slow),
        "casa-prespin",
        pytest.param("mimics-prespin", marks=pytest.mark.slow),
        "casa-aitken",
    ],
)
def test_killed_pipeline_resumes_bit_identical(domain: Path, tmp_path: Path, soil_model: str) -> None:
    # mimics-newton: MIMICS-C (13 unknowns per cell), killed while it takes its Jacobian, then Newton steps;
    # *-prespin: an accelerated prespin (anderson on CASA's, newton on MIMICS-CN's one-year map), killed in it;
    # casa-aitken: the slow-mode extrapolation, killed in its accelerate stage (jumps after the kill)
    soil_model, _, method = soil_model.partition("-")
    prespin = method == "prespin"
    if prespin:
        method = ""
    stage = 0 if prespin else 1
    settings = (
        f"run.soil_model={soil_model}",
        f"run.cycle={'c' if soil_model == 'corpse' or method else 'cn'}",
        "spinup.stages=prespin accelerate cycle",
        "spinup.prespin_cycles=2",
        *(
            [
                f"spinup.prespin_method={'anderson' if soil_model == 'casa' else 'newton'}",
                "spinup.prespin_max_cycles=30",
            ]
            if prespin
            else ["spinup.prespin_method=cycle"]
        ),
        f"spinup.accelerate_max_cycles={16 if method else 6}",
        *([f"spinup.accelerate_method={method}"] if method else []),
        "spinup.cycle_max_cycles=3",
        "spinup.cell_abs=1e-9",
        "parallel.chunk_size=6",
    )
    ref = write_namelist(tmp_path / "ref", domain, *settings)
    assert main(["spinup", str(ref), "--workers", "1", "-q"]) == 0
    nml = write_namelist(tmp_path / "killed", domain, *settings)
    out = tmp_path / "killed" / "out"
    killed = _spinup_killed_at(nml, out, f'"stage": {stage}, "cycle": {1 if prespin else 3}')
    assert killed, "the pipeline finished before it could be killed in the stage"
    assert not (out / "restart.nc").exists()
    assert main(["spinup", str(nml), "--workers", "1", "-q", "--resume"]) == 0
    for name in ("restart.nc", "restart_prespin.nc", "restart_accelerate.nc"):
        assert np.array_equal(_read_state(tmp_path / "ref" / "out" / name), _read_state(out / name)), name

    assert _table(tmp_path / "ref" / "out" / "equilibrium.csv") == _table(out / "equilibrium.csv")
    if method == "aitken":  # its memory (histories, jumps to verify) went through the checkpoint
        assert any(int(r["cells_accelerated"]) > 0 for r in _table(out / "equilibrium.csv") if int(r["cycle"]) > 3)
    log = (out / "run.log").read_text()
    # prespin: killed after cycle 1 or one of 10-19 (its one-year cycles are fast), so somewhere in the stage
    assert ("resuming in stage prespin at cycle " if prespin else "resuming in stage accelerate at cycle 4") in log
    assert "max budget residual" in log


# ------------------------------------------------------------------------- faults (docs/reliability.md)

FAULT_SETTINGS = (
    "spinup.stages=prespin accelerate cycle",
    "spinup.accelerate_method=sasu",
    "spinup.prespin_cycles=2",
    "spinup.accelerate_max_cycles=8",
    "spinup.cycle_max_cycles=3",
    "spinup.cell_abs=1e-9",
    "parallel.chunk_size=6",
)
STOPPED = re.compile(
    r"^testbed: stopped: (?P<what>.+?)\. (?P<kept>(?:nothing was )?kept[^\n]*?)\. "
    r"(?:Resume|Run again) with: (?P<cmd>testbed spinup .*)$",
    re.MULTILINE,
)


@pytest.fixture(scope="module")
def fault_reference(domain: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The uninterrupted pipeline every stopped and resumed one must equal bit for bit."""
    folder = tmp_path_factory.mktemp("spinup_fault_reference")
    assert main(["spinup", str(write_namelist(folder, domain, *FAULT_SETTINGS)), "--workers", "2", "-q"]) == 0
    return folder / "out"


def _assert_same_end(reference: Path, out: Path) -> None:
    for name in ("restart.nc", "restart_prespin.nc", "restart_accelerate.nc"):
        assert np.array_equal(_read_state(reference / name), _read_state(out / name)), name
    assert _table(reference / "equilibrium.csv") == _table(out / "equilibrium.csv")
    assert not list(out.glob(".*.tmp"))


def _start(nml: Path, workers: int = 1) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "testbed.cli", "spinup", str(nml), "--workers", str(workers), "-q"],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc: subprocess.Popen) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
        pytest.fail(f"the spin-up did not stop: {err[-2000:]}")
    return proc.returncode, err


@pytest.mark.parametrize(
    "sig, what",
    [
        (signal.SIGTERM, "terminated (SIGTERM)"),
        pytest.param(signal.SIGINT, "interrupted (Ctrl-C / SIGINT)", marks=pytest.mark.slow),
    ],
)
def test_a_signal_stops_the_pipeline_with_one_sentence_and_it_resumes_bit_identical(
    domain: Path, fault_reference: Path, tmp_path: Path, sig: signal.Signals, what: str
) -> None:
    nml = write_namelist(tmp_path, domain, *FAULT_SETTINGS)
    out = tmp_path / "out"
    proc = _start(nml, workers=2)
    try:
        assert _wait_for_checkpoint(proc, out / "spinup_checkpoint.npz", '"stage": 1, "cycle": 2')
        (os.killpg if sig == signal.SIGINT else os.kill)(proc.pid, sig)
        code, err = _finish(proc)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    lines = [line for line in err.strip().splitlines() if not line.startswith("validating ")]
    assert code == 3 and len(lines) == 1, err
    m = STOPPED.match(lines[0])
    assert m and m["what"] == what, err
    assert "kept: the checkpoint after cycle" in m["kept"] and "stage accelerate" in m["kept"], err
    words = shlex.split(m["cmd"])
    assert Path(words[2]) == nml.resolve() and words[-1] == "--resume"
    assert not (out / "restart.nc").exists() and not (out / ".testbed.lock").exists()
    assert main([*words[1:], "-q"]) == 0
    _assert_same_end(fault_reference, out)


def _wait_for_checkpoint(proc: subprocess.Popen, ckpt: Path, marker: str) -> bool:
    """Wait (at most 180 s, while ``proc`` runs) for a checkpoint whose meta text contains ``marker``."""
    deadline = time.time() + 180
    while time.time() < deadline and proc.poll() is None:
        if ckpt.exists():
            try:
                with np.load(ckpt) as z:
                    meta = str(z["meta"])
            except Exception:  # being replaced this instant
                continue
            if marker in meta:
                return True
        time.sleep(0.02)
    return False


def test_a_full_disk_stops_the_pipeline_and_it_resumes_bit_identical(
    domain: Path, fault_reference: Path, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    from testbed.spinup import pipeline

    real = pipeline.np.savez
    calls = {"n": 0}

    def full_on_the_fifth(f, *args, **kw):
        calls["n"] += 1
        if calls["n"] == 5:
            # as a real full disk fails a write through a file object: with no file name
            raise OSError(errno.ENOSPC, "No space left on device")
        real(f, *args, **kw)

    monkeypatch.setattr(pipeline.np, "savez", full_on_the_fifth)
    nml = write_namelist(tmp_path, domain, *FAULT_SETTINGS)
    assert main(["spinup", str(nml), "--workers", "2", "-q"]) == 3
    err = capsys.readouterr().err
    checkpoint = tmp_path / "out" / "spinup_checkpoint.npz"
    assert f"testbed: stopped: the disk is full: cannot write {checkpoint}; free some space" in err, err
    assert "Resume with: testbed spinup" in err
    monkeypatch.setattr(pipeline.np, "savez", real)
    assert main(["spinup", str(nml), "--workers", "2", "-q", "--resume"]) == 0
    _assert_same_end(fault_reference, tmp_path / "out")


@pytest.mark.slow
def test_a_lost_worker_reruns_its_chunk_and_the_pipeline_ends_bit_identical(
    domain: Path, fault_reference: Path, tmp_path: Path
) -> None:
    import psutil

    # worker processes (a local run's default workers are threads of its own process, which cannot be lost alone)
    nml = write_namelist(tmp_path, domain, *FAULT_SETTINGS, "parallel.processes=true")
    out = tmp_path / "out"
    proc = _start(nml, workers=2)
    try:
        assert _wait_for_checkpoint(proc, out / "spinup_checkpoint.npz", '"stage": 1, "cycle": 1')
        workers = [
            p for p in psutil.Process(proc.pid).children(recursive=True) if "spawn_main" in " ".join(p.cmdline())
        ]
        assert workers
        workers[0].kill()
        code, err = _finish(proc)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert code == 0, err
    _assert_same_end(fault_reference, out)


def test_resume_needs_a_checkpoint_and_outputs_need_overwrite(domain: Path, tmp_path: Path, capsys) -> None:
    nml = write_namelist(tmp_path, domain, "spinup.stages=prespin", "spinup.prespin_cycles=1")
    assert main(["spinup", str(nml), "--workers", "1", "-q", "--resume"]) == 2
    assert "no spin-up checkpoint" in capsys.readouterr().err
    assert main(["spinup", str(nml), "--workers", "1", "-q"]) == 0
    assert main(["spinup", str(nml), "--workers", "1", "-q"]) == 2
    assert "pass --overwrite" in capsys.readouterr().err
    assert main(["spinup", str(nml), "--workers", "1", "-q", "--overwrite"]) == 0
    out = tmp_path / "out"
    for name in ("equilibrium.csv", "equilibrium.png", "cells.csv", "restart.nc", "transient.nml", "run.log"):
        assert (out / name).exists(), name
    assert not (out / "spinup_checkpoint.npz").exists()


#: criteria 10x looser than the defaults, 70 % of the cells: on the 12-cell domain both methods meet them within a
#: few accelerate cycles, while (almost) no cell's correction or residual has converged yet
LOOSE = ("spinup.cell_rel=0.01", "spinup.cell_abs=10", "spinup.cell_fraction=0.7")


@pytest.mark.parametrize("method", ["sasu", "anderson"])
def test_accelerate_stage_ends_as_soon_as_the_criteria_hold(
    domain: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    """Whatever the method, the accelerate stage ends at the first cycle whose criteria hold (converged cells are
    reported, not waited for), hands over, and a pipeline stopped one cycle before that resumes bit-identical."""
    settings = (
        "spinup.stages=prespin accelerate cycle",
        f"spinup.accelerate_method={method}",
        "spinup.prespin_cycles=2",
        "spinup.accelerate_max_cycles=30",
        "spinup.cycle_max_cycles=2",
        "parallel.chunk_size=6",
        *LOOSE,
    )
    ref = write_namelist(tmp_path / "ref", domain, *settings)
    assert main(["spinup", str(ref), "--workers", "1", "-q"]) == 0
    rows = list(csv.DictReader((tmp_path / "ref" / "out" / "equilibrium.csv").open()))
    accel = [r for r in rows if r["stage"] == "accelerate"]
    met = [int(r["criteria_met"]) for r in accel]
    assert 2 <= len(accel) < 30 and met == [0] * (len(accel) - 1) + [1], met
    model = plan_spinup(RunConfig.read(ref)).stages[0].model
    nveg = int((~model.domain.inactive(model.casa)).sum())
    assert int(accel[-1]["cells_converged"]) < 0.7 * nveg, accel[-1]  # the criteria alone ended the stage
    assert rows[rows.index(accel[-1]) + 1]["stage"] == "cycle"
    assert "stage accelerate done after" in (tmp_path / "ref" / "out" / "run.log").read_text()

    from testbed.spinup import pipeline

    real = pipeline._Checkpoint.write

    def full_before_the_last(self, **kw):
        if kw["stage"] == 1 and kw["cycle"] == len(accel) - 1:
            raise OSError(errno.ENOSPC, "No space left on device", str(self.path))
        real(self, **kw)

    monkeypatch.setattr(pipeline._Checkpoint, "write", full_before_the_last)
    nml = write_namelist(tmp_path / "stopped", domain, *settings)
    assert main(["spinup", str(nml), "--workers", "1", "-q"]) == 3
    monkeypatch.setattr(pipeline._Checkpoint, "write", real)
    assert main(["spinup", str(nml), "--workers", "1", "-q", "--resume"]) == 0
    _assert_same_end(tmp_path / "ref" / "out", tmp_path / "stopped" / "out")


@pytest.mark.parametrize("method", ["anderson", "newton"])
def test_accelerated_prespin_iterates_one_met_year_until_its_scaled_criteria_hold(
    domain: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    """prespin_method = anderson | newton: the one-year map is iterated (one simulated year per cycle, budgets checked)
    until the criteria scaled to a year hold, then handed over as it is (newton: with its Jacobians for a newton
    accelerate stage); stopped one cycle before that, and again in the first cycle after the hand-over, the pipeline
    resumes bit-identical."""
    settings = (
        "spinup.stages=prespin accelerate cycle",
        f"spinup.prespin_method={method}",
        "spinup.prespin_max_cycles=200",
        f"spinup.accelerate_method={method}",
        "spinup.accelerate_max_cycles=3",
        "spinup.cycle_max_cycles=1",
        "parallel.chunk_size=6",
        *LOOSE,
    )
    ref = write_namelist(tmp_path / "ref", domain, *settings)
    assert main(["spinup", str(ref), "--workers", "1", "-q"]) == 0
    out = tmp_path / "ref" / "out"
    rows = list(csv.DictReader((out / "equilibrium.csv").open()))
    pre = [r for r in rows if r["stage"] == "prespin"]
    assert [int(r["years"]) for r in pre] == list(range(1, len(pre) + 1))
    met = [int(r["criteria_met"]) for r in pre]
    assert 2 <= len(pre) < 200 and met == [0] * (len(pre) - 1) + [1], met
    assert int(pre[-1]["cells_accelerated"]) >= 0 and "cells_fallback" in pre[-1]
    # its criteria are the forcing cycle's per year (2 met years): what held is |dSOC| < soc_global / 2 ...
    assert abs(float(pre[-1]["d_soil_c_Pg"])) < RunConfig.read(ref).get("spinup.soc_global") / 2
    log = (out / "run.log").read_text()
    assert f"stage prespin: method {method}, one cycle = 1 simulated year(s); its criteria per cycle" in log
    assert all("max budget residual" in ln for ln in log.splitlines() if " prespin cycle " in ln)
    _, info = read_restart(out / "restart_prespin.nc")
    assert info.extra["spinup_method"] == method and info.extra["spinup_pool_scaling"] == "none"

    from testbed.spinup import pipeline

    real = pipeline._Checkpoint.write
    stops = {(0, len(pre) - 1), (1, 1)}  # before the prespin's last cycle; the first cycle after the hand-over

    def full_once(self, **kw):
        if (kw["stage"], kw["cycle"]) in stops:
            stops.discard((kw["stage"], kw["cycle"]))
            raise OSError(errno.ENOSPC, "No space left on device", str(self.path))
        real(self, **kw)

    monkeypatch.setattr(pipeline._Checkpoint, "write", full_once)
    nml = write_namelist(tmp_path / "stopped", domain, *settings)
    assert main(["spinup", str(nml), "--workers", "1", "-q"]) == 3
    assert main(["spinup", str(nml), "--workers", "1", "-q", "--resume"]) == 3
    assert not stops
    assert main(["spinup", str(nml), "--workers", "1", "-q", "--resume"]) == 0
    _assert_same_end(out, tmp_path / "stopped" / "out")


def test_newton_starts_a_longer_map_from_the_shorter_maps_jacobian_power() -> None:
    """Newton.chord_from: for a linear one-year map x -> A x + b, the Jacobian of the n-year map is A^n, so one chord
    step from any point lands on the n-year map's fixed point; cells without a usable Jacobian start afresh."""
    rng = np.random.default_rng(7)
    ncell, n, years = 5, 4, 20
    a = np.stack([np.diag(rng.uniform(0.5, 0.99, n)) + 0.01 * rng.random((n, n)) for _ in range(ncell)])
    b = rng.uniform(1, 5, (ncell, n))
    short = Newton.new(ncell, n)
    short.jac[:] = a
    short.has_jac[:] = True
    short.fallback[1] = True  # fell back on the short map: starts afresh
    acc = Newton.from_arrays(Newton.chord_from(short.arrays(), years))
    assert np.allclose(acc.jac[0], np.linalg.matrix_power(a[0], years)) and not acc.has_jac[1]

    def phi(x: np.ndarray) -> np.ndarray:
        for _ in range(years):
            x = np.einsum("kij,kj->ki", a, x) + b
        return x

    x = np.full((ncell, n), 10.0)
    fixed = np.linalg.solve(
        np.eye(n)[None] - np.stack([np.linalg.matrix_power(m, years) for m in a]), phi(0 * x)[:, :, None]
    )[:, :, 0]
    nxt, plain = acc.step(x, phi(x), np.full((ncell, n), 1e-3), max_factor=1e6)
    ok = np.arange(ncell) != 1
    assert not plain[ok].any() and np.allclose(nxt[ok], fixed[ok], rtol=1e-9)
    assert acc.phase[1] == 1 and acc.phase[ok].max() == 0  # no Jacobian: it takes one by finite differences


# ------------------------------------------------------------------------------------- aitken


def _slow_drift_problem(ncell: int = 4, n: int = 6, slow: float = 0.97, seed: int = 5):
    """x' = A x + b per cell: one slow mode (eigenvalue ``slow`` per cycle) and fast ones (0.05-0.5), eigenvectors
    orthonormal, fixed point ~100-150 per pool. Returns Phi, the fixed point and a start that is displaced mostly
    along the slow mode (as a cell drifting for many cycles)."""
    rng = np.random.default_rng(seed)
    v = np.linalg.qr(rng.normal(size=(n, n)))[0]
    lam = np.concatenate([[slow], np.linspace(0.5, 0.05, n - 1)])
    a = v @ np.diag(lam) @ v.T
    fixed = 100.0 + rng.uniform(0, 50, (ncell, n))
    b = fixed - fixed @ a.T
    x0 = fixed + np.outer(np.linspace(-30, 30, ncell), v[:, 0]) + rng.normal(0, 1, (ncell, n))
    return (lambda x: x @ a.T + b), fixed, x0


def _aitken_run(phi, x, acc: Aitken, cycles: int, **kw) -> np.ndarray:
    """Iterate Phi with the extrapolation ``cycles`` times; returns the last iterate."""
    for _ in range(cycles):
        p = phi(x)
        x = acc.step(x, p, np.ones_like(x), **kw)[0]
    return x


def test_aitken_jumps_a_steadily_drifting_cell_to_the_fixed_point_of_its_slow_mode() -> None:
    phi, fixed, x0 = _slow_drift_problem()
    plain = x0
    for _ in range(30):
        plain = phi(plain)
    acc = Aitken.new(x0.shape[0], x0.shape[1], 50.0)
    x = _aitken_run(phi, x0, acc, 30, tol=1e-9)
    # 30 plain cycles leave 0.97^30 = 40 % of the slow displacement; the jumps remove nearly all of it
    far, near = np.max(np.abs(plain - fixed)), np.max(np.abs(x - fixed))
    assert near < far / 20, (near, far)
    assert np.all(acc.jumps >= 1) and not np.any(acc.failures)


def test_aitken_goes_back_part_of_a_decaying_oscillation() -> None:
    phi, fixed, x0 = _slow_drift_problem(slow=-0.9)
    plain = x0
    for _ in range(30):
        plain = phi(plain)
    acc = Aitken.new(x0.shape[0], x0.shape[1], 50.0)
    x = _aitken_run(phi, x0, acc, 30, tol=1e-9)
    assert np.max(np.abs(x - fixed)) < np.max(np.abs(plain - fixed)) / 20
    assert np.all(acc.jumps >= 1)


def test_aitken_blocks_see_through_the_noise_of_single_cycles() -> None:
    """A slow drift plus a period-2 jitter of the same size: single increments alternate in direction (no jump),
    blocks of 4 cycles sum the jitter away and extrapolate the drift."""
    phi, fixed, x0 = _slow_drift_problem(ncell=3)
    jitter = np.array([1.0, -1.0, 0.5, -0.5, 0.0, 0.0])
    state = {"k": 0}

    def noisy(x):
        state["k"] += 1
        return phi(x) + (-1) ** state["k"] * 0.4 * jitter * np.abs(phi(x) - x).max(axis=1, keepdims=True)

    ones = Aitken.new(3, 6, 50.0)
    _aitken_run(noisy, x0, ones, 24, tol=1e-9, block=1)
    state["k"] = 0
    blocks = Aitken.new(3, 6, 50.0)
    x = _aitken_run(noisy, x0, blocks, 24, tol=1e-9, block=4)
    assert not np.any(ones.jumps)
    assert np.all(blocks.jumps >= 1)
    assert np.max(np.abs(x - fixed)) < 0.2 * np.max(np.abs(x0 - fixed))


def test_aitken_undoes_an_overshoot_and_plain_cycles_are_phi_bit_for_bit() -> None:
    """A drift towards 100 at 2 % per cycle that hits a wall at 60: the jump (~ 50 cycles' worth) lands beyond the
    wall, the next cycle pushes back hard, the jump is undone (the cell returns to the plain-cycled state it jumped
    from) and its cap halved; every other step is Phi(x) exactly; repeated failures send the cell to plain cycling
    for good."""

    def phi(x):
        toward = x + 0.02 * (100.0 - x)
        return np.where(x > 60.0, x - 0.8 * (x - 60.0) - 1.0, toward)

    x = np.full((1, 2), 10.0)
    acc = Aitken.new(1, 2, 50.0)
    undone = 0
    for _ in range(40):
        p = phi(x)
        before_undo = acc.undo.copy()
        was_jump = bool(acc.jumped[0])
        nxt, plain = acc.step(x, p, np.ones_like(x), tol=1e-9, fallback_after=2)
        if was_jump and acc.failures[0] > undone:
            undone += 1
            assert np.array_equal(nxt, before_undo)  # back to where it jumped from
            assert not plain[0]
        elif plain[0]:
            assert np.array_equal(nxt, p)
        x = nxt
    assert undone == 2 and acc.fallback[0]
    assert acc.cap[0] == 12.5  # halved twice


def test_aitken_leaves_settled_and_wandering_cells_alone() -> None:
    """Cells below ``tol`` or whose increments turn (no single slow direction) take plain cycles only."""
    rng = np.random.default_rng(2)
    acc = Aitken.new(2, 4, 50.0)
    x = np.full((2, 4), 100.0)
    for _ in range(20):
        p = x + np.stack([rng.normal(0, 1, 4), np.full(4, 1e-6)])  # a random walk; a settled drift
        nxt, plain = acc.step(x, p, np.ones_like(x), tol=1e-5)
        assert np.all(plain) and np.array_equal(nxt, p)
        x = nxt
    assert not np.any(acc.jumps)


def test_settle_retires_a_cell_only_when_every_total_stood_still_over_the_window() -> None:
    """Settle.retired (docs/spinup.md "Settle"): the range of each total's two-cycle means over the window, against
    rel x total or abs. A period-2 jitter retires; a slow drift, the turning point of an oscillation (small
    per-cycle changes, a large range), one total still moving, or a history not yet full does not."""
    from testbed.spinup.settle import Settle

    rule = Settle(window=6, rel=1e-3, abs=0.1)
    steps = np.arange(rule.length, dtype=float)
    soil = np.stack(
        [
            np.full(rule.length, 1000.0),  # still
            1000.0 + 2.0 * (-1.0) ** steps,  # period-2 jitter of +-2 (above 0.1 %), two-cycle means still
            1000.0 + 0.5 * steps,  # a drift of 0.5 per cycle: 3.5 over the window
            1000.0 + 4.0 * np.cos((steps - 3.5) / 3.5),  # a turning point: per-cycle changes < 1, range 1.4
            np.full(rule.length, 1000.0),  # still, but its other total drifts
            np.full(rule.length, 1000.0),  # still, but not simulated long enough
        ],
        axis=1,
    )
    mic = np.full((rule.length, soil.shape[1]), 0.5) + 0.04 * np.sin(steps)[:, None]  # below abs: still
    mic[:, 4] = 0.5 + 0.2 * steps
    history = np.stack([soil, mic], axis=1)  # (length, total, cell)
    history[0, 0, 5] = np.nan
    assert np.abs(np.diff(soil[:, 3])).max() <= 1.0  # the per-cycle criteria (1 g m-2) hold at the turning point
    assert rule.retired(history).tolist() == [True, True, False, False, False, False]
    assert rule.new_history(2, 6).shape == (rule.length, 2, 6) and np.isnan(rule.new_history(2, 6)).all()


def test_shipped_pipeline_namelist_parses() -> None:
    from testbed.config import shipped_namelists

    cfg = RunConfig.read(shipped_namelists() / "pipeline_mimics_cn.nml")
    # docs/spinup.md "Settle": MIMICS declares a settle stage last (SoilModel.spinup_auto)
    assert resolve(cfg, "stages").split() == ["prespin", "accelerate", "cycle", "settle"]
    assert cfg.get("spinup.prespin_year") == cfg.get("run.first_year")
    # docs/spinup.md "Frozen cells": measured on the global domain; MIMICS-CN declares it (SoilModel.spinup_auto)
    assert resolve(cfg, "freeze_after") == 3


# ------------------------------------------------------------------------------------ accuracy

REFERENCE = Path(__file__).parent / "data" / "spinup_reference.npz"


#: the accelerated spin-up of each configuration, run once for all its tests (benchmarks/spinup_reference.py)
_ACCELERATED_RUNS: dict[str, tuple[dict, int, bool]] = {}
#: ... and the folder each ran in
_ACCELERATED_FOLDERS: dict[str, Path] = {}


def _accelerated_run(tag: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict, int, bool]:
    """(stored reference, per-cell totals, simulated years, criteria met) of the default pipeline for ``tag``."""
    if not REFERENCE.exists():
        pytest.skip("no stored reference; run benchmarks/spinup_reference.py")
    sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
    import spinup_reference as ref

    stored = dict(np.load(REFERENCE))
    if f"{tag}:cycles" not in stored:
        pytest.skip(f"no stored reference for {tag}")
    if tag not in _ACCELERATED_RUNS:
        folder = tmp_path_factory.mktemp(f"accuracy_{tag}")
        _ACCELERATED_RUNS[tag] = ref.accelerated(ref.reference_domain(folder), tag, folder / tag)
        _ACCELERATED_FOLDERS[tag] = folder / tag
    return stored, *_ACCELERATED_RUNS[tag]


@pytest.mark.slow
def test_mimics_c_accelerated_spinup_matches_the_brute_force_reference(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The acceptance: per-cell totals within 0.5 % of benchmarks/spinup_reference.py's stored brute-force
    spin-up, or, for cells brute force had not settled, of the limit its drift extrapolates to (moving towards the
    accelerated value); the default criteria met in at most 10 % of the simulated years brute force needed."""
    stored, totals, years, met = _accelerated_run("mimics_c", tmp_path_factory)
    import spinup_reference as ref

    result, brute = ref.compare(stored, "mimics_c", totals), ref.brute_force_years(stored, "mimics_c")
    assert met, result
    assert all(v == 0 for k, v in result.items() if k.startswith("cells_failed")), result
    assert years <= 0.1 * brute, (years, brute)


@pytest.mark.slow
@pytest.mark.parametrize("total", ["soil_c", "veg_c", "mic_c", "soil_n"])
def test_mimics_cn_accelerated_spinup_is_within_half_a_percent_of_brute_force_or_of_where_it_goes(
    total: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Issue 11's accuracy acceptance for MIMICS-CN, per total: every vegetated cell is within 0.5 % (or 1 g m-2) of
    the 15,000-year brute-force reference, or -- for a cell brute force has not settled -- approached monotonically
    by its stored trajectory and within 0.5 % of the limit its drift extrapolates to (``classify``, as for CASA).
    Until the settle stage and the collapse rule (docs/spinup.md "Settle") the barren cells 46 and 47 failed in soil C
    (0.64 % and 0.85 %) and cell 46 in soil N (1.67 %); cell 7's soil N passes by extrapolation (brute force still
    rises monotonically towards it at 15,000 years)."""
    stored, totals, _, _ = _accelerated_run("mimics_cn", tmp_path_factory)
    import spinup_reference as ref

    assert f"mimics_cn:traj_{total}" in stored, "the reference stores no trajectory: monotonicity cannot be checked"
    c = ref.classify(stored, "mimics_cn", total, totals[total])
    assert int(stored["mimics_cn:active"].sum()) >= 40
    assert not c["failed"].any(), "\n".join(ref.failed_cells(stored, "mimics_cn", {total: totals[total]}))


@pytest.mark.slow
def test_mimics_cn_meets_the_default_criteria_in_a_tenth_of_brute_force(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Issue 11's cost acceptance for MIMICS-CN: the default criteria first met within 10 % of brute force's years
    (brute force never meets them per cycle in its 15,000 years, so these count; with spinup.cell_period2 it first
    meets them at 8,795 years, docs/spinup.md "Status"), and the whole pipeline, whose settle stage goes on per cell,
    within 10 % of them per vegetated cell (the compute it spends)."""
    stored, _, _, met = _accelerated_run("mimics_cn", tmp_path_factory)
    import spinup_reference as ref

    folder = _ACCELERATED_FOLDERS["mimics_cn"]
    brute = ref.brute_force_years(stored, "mimics_cn")
    first = ref.criteria_first_met(folder)
    assert met and first is not None and first <= 0.1 * brute, first
    per_cell = float(list(csv.DictReader((folder / "equilibrium.csv").open()))[-1]["years_per_cell"])
    assert per_cell <= 0.1 * brute, per_cell


def test_acceptance_classifies_settled_extrapolable_and_turning_trajectories() -> None:
    """benchmarks/spinup_reference.py ``classify`` on synthetic brute-force trajectories of 4 cells (limit 100):
    one settled, one single-mode geometric approach and one two-mode approach (the slow mode from ``slow_modes``)
    still 10 % away, which extrapolate to the limit; one that turned around, which does not."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
    import spinup_reference as ref

    n, every, ypc = 4000, ref.TRAJECTORY_EVERY, 5
    cycles = np.arange(0, n + 1, every)
    t = cycles * ypc
    slow, fast = 1 / 60000.0, 1 / 4000.0  # per year
    traj = np.stack(
        [
            100 + 50 * np.exp(-t / 100.0),
            100 + 40 * np.exp(-slow * 5 * t),
            100 - 12 * np.exp(-slow * t) - 300 * np.exp(-fast * t),
            100 + 20 * np.sin(t / 8000.0),
        ],
        axis=1,
    )
    stored = {
        "x:cycles": np.array(n),
        "x:years_per_cycle": np.array(ypc),
        "x:active": np.ones(4, dtype=bool),
        "x:soil_c": traj[-1],
        "x:traj_cycles": cycles,
        "x:traj_soil_c": traj,
        "x:slow_modes": np.array([[1 / 100.0, 1.0, 2.0], [5 * slow, 1.0, 2.0], [slow, fast, 1.0], [1.0, 2.0, 3.0]]),
    }
    accel = np.full(4, 100.0)
    c = ref.classify(stored, "x", "soil_c", accel)
    assert c["direct"].tolist() == [True, False, False, False]
    assert c["extrapolated"].tolist() == [False, True, True, False]
    assert c["failed"].tolist() == [False, False, False, True]
    assert abs(c["limit"][1] - 100) < 1e-6 and abs(c["modal_limit"][2] - 100) < 1e-6
    assert abs(c["limit"][2] - 100) > 0.5  # one geometric extrapolation misses a two-mode approach
    # an accelerated value the trajectory heads for but does not extrapolate to is not explained
    assert not ref.classify(stored, "x", "soil_c", np.full(4, 80.0))["extrapolated"][1]


CASA_TOTALS = [("casa_c", n) for n in ("soil_c", "veg_c", "mic_c")] + [
    ("casa_cn", n) for n in ("soil_c", "veg_c", "mic_c", "soil_n")
]
#: (configuration, total) -> vegetated cells (1-based) that fail the acceptance, each for a measured reason
#: (docs/spinup.md "Status"). Cell 6, the tundra cell at -70.5 deg (IGBP 18) whose vegetation sheds no litter: the
#: inputs of its litter and soil pools are 0, so their steady state is empty, exactly; its slowest mode has an
#: e-folding time of 3.7 million years, so brute force (still 8,000 g m-2 of soil C after 40,000 years) can neither
#: settle it nor show, by extrapolating its drift, that it ends at 0; the accelerated state still holds a few tens
#: of g m-2 (the criteria hold long before so slow a pool is empty).
KNOWN_GAPS = {
    ("casa_c", "soil_c"): {6},
    ("casa_c", "mic_c"): {6},
    ("casa_cn", "soil_c"): {6},
    ("casa_cn", "soil_n"): {6},
}


@pytest.mark.slow
@pytest.mark.parametrize("tag, total", CASA_TOTALS)
def test_casa_accelerated_spinup_is_within_half_a_percent_of_brute_force_or_of_where_it_goes(
    tag: str, total: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Issue 11's accuracy acceptance for CASA, per total, in every vegetated cell of the 64-cell reference domain
    but the documented gaps (KNOWN_GAPS, checked by the xfail test below): the accelerated spin-up's value is within
    0.5 % (or 1 g m-2) of the stored brute-force spin-up's end state, or -- for a cell brute force has not settled
    -- the brute-force trajectory approaches it monotonically over the last half of its cycles and its remaining
    drift extrapolates to within 0.5 % (or 1 g m-2) of it (benchmarks/spinup_reference.py ``classify``;
    docs/spinup.md "Accuracy reference")."""
    stored, totals, _, met = _accelerated_run(tag, tmp_path_factory)
    import spinup_reference as ref

    assert met
    assert f"{tag}:traj_{total}" in stored, "the reference stores no trajectory: monotonicity cannot be checked"
    c = ref.classify(stored, tag, total, totals[total])
    nveg = int(stored[f"{tag}:active"].sum())
    assert nveg >= 40 and int((c["direct"] | c["extrapolated"] | c["failed"]).sum()) == nveg
    known = np.zeros(c["failed"].shape, dtype=bool)
    known[[i - 1 for i in KNOWN_GAPS.get((tag, total), ())]] = True
    assert not (c["failed"] & ~known).any(), "\n".join(ref.failed_cells(stored, tag, {total: totals[total]}))


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="documented gap: KNOWN_GAPS (the dead tundra cell; docs/spinup.md 'Status')")
@pytest.mark.parametrize("tag, total", sorted(KNOWN_GAPS))
def test_casa_known_gap_cells_meet_the_acceptance_too(
    tag: str, total: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The cells of KNOWN_GAPS against the same acceptance (expected to fail; an unexpected pass fails the suite,
    so the list is kept true)."""
    stored, totals, _, _ = _accelerated_run(tag, tmp_path_factory)
    import spinup_reference as ref

    c = ref.classify(stored, tag, total, totals[total])
    cells = [i - 1 for i in KNOWN_GAPS[(tag, total)]]
    assert not c["failed"][cells].any(), "\n".join(ref.failed_cells(stored, tag, {total: totals[total]}))


@pytest.mark.slow
@pytest.mark.parametrize("tag", ["casa_c", "casa_cn"])
def test_casa_accelerated_spinup_costs_at_most_a_tenth_of_brute_force(
    tag: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Issue 11's cost acceptance: the default criteria met in at most 10 % of the simulated years brute force needs
    to meet them (brute force never met them in its stored run: its years are a lower bound, the ratio an upper one)."""
    stored, _, years, met = _accelerated_run(tag, tmp_path_factory)
    import spinup_reference as ref

    assert met and years <= 0.1 * ref.brute_force_years(stored, tag), (years, ref.brute_force_years(stored, tag))
