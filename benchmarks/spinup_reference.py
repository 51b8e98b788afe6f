"""Brute-force spin-up reference for the accuracy test of the accelerated methods (docs/spinup.md).

For each configuration (CASA-C, CASA-CN, MIMICS-C, MIMICS-CN) on the 64-cell synthetic domain of
:func:`reference_domain` (every vegetated IGBP type, a 5-year forcing cycle), cycles the forcing
from cold start -- in process, one kernel call per year for all cells, budgets checked every
year -- until criteria 10 times tighter than the defaults hold in every total (soil C, vegetation
C, microbial C, soil N), or ``--max-cycles``. Stores per cell the final totals (g m-2), the
trajectory of the totals (every TRAJECTORY_EVERY cycles), the last per-cycle changes, the end state
(to continue), and for soil models with linear pools the slowest modes of the cycle-mean system at the
end state, in tests/data/spinup_reference.npz (compressed).

    .venv/bin/python benchmarks/spinup_reference.py [--max-cycles 4000] [--configs casa_c ...]
    .venv/bin/python benchmarks/spinup_reference.py --continue --max-cycles 8000 --configs casa_c  # from the stored end
    .venv/bin/python benchmarks/spinup_reference.py --compare    # accelerated spin-up against the stored reference
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from testbed.config import RunConfig  # noqa: E402
from testbed.forcing_tools.synthetic import make_synthetic_domain  # noqa: E402
from testbed.spinup.criteria import Criteria, diagnose  # noqa: E402
from testbed.spinup.stages import plan_spinup  # noqa: E402
from testbed.spinup.tasks import CycleJob, LinearPools, cycle_chunk  # noqa: E402

CONFIGS = {
    "casa_c": ("casa", "c"),
    "casa_cn": ("casa", "cn"),
    "mimics_c": ("mimics", "c"),
    "mimics_cn": ("mimics", "cn"),
}
NCELL, SEED, YEARS = 64, 7, range(1901, 1906)
TIGHTER = 10.0
#: cycles between the two stored per-cycle changes used to extrapolate a drift (see brute_force)
LAG = 100
#: the per-cell totals are stored every this many cycles (the brute-force trajectory, ``traj_<total>``)
TRAJECTORY_EVERY = 50
OUTPUT = ROOT / "tests" / "data" / "spinup_reference.npz"


def reference_domain(folder: Path) -> Path:
    """The reference's synthetic domain (same arguments give identical files); returns the forcing folder."""
    forcing = folder / "forcing"
    if not (forcing / f"met_{YEARS[0]}_{YEARS[-1]}.nc").exists():
        make_synthetic_domain(forcing, ncell=NCELL, years=YEARS, seed=SEED, per_year=False, multi_year=True)
    return forcing


def reference_config(forcing: Path, tag: str, output_dir: Path) -> RunConfig:
    soil_model, cycle = CONFIGS[tag]
    variables = "soil_c veg_c mic_c" + (" soil_n" if cycle == "cn" else "")
    cfg = RunConfig.defaults()
    cfg.override(
        [
            f"files.gridinfo={forcing / 'gridinfo_igbpz.csv'}",
            f"files.soil={forcing / 'gridinfo_soil.csv'}",
            f"files.met={forcing / f'met_{YEARS[0]}_{YEARS[-1]}.nc'}",
            f"files.output_dir={output_dir}",
            f"run.soil_model={soil_model}",
            f"run.cycle={cycle}",
            "spinup.stages=cycle",
            f"spinup.criteria_variables={variables}",
        ]
    )
    return cfg


def brute_force(
    cfg: RunConfig,
    max_cycles: int,
    log_every: int = 100,
    save=None,
    save_every: int = 200,
    start: dict[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Plain cycling from the configuration's start until the tighter criteria hold (in process).

    ``save(result)`` is called every ``save_every`` cycles with the result so far (a long run can be stopped and
    still leaves a usable, unfinished reference). ``start``: a stored result (without its ``tag:`` prefix) to
    continue, bit-identically, from its end state and cycle up to ``max_cycles`` in all."""
    plan = plan_spinup(cfg)
    stage = plan.stages[0]
    model = stage.model
    crit = plan.criteria.tighter(TIGHTER)
    active = ~model.domain.inactive(model.casa)
    state = plan.state
    t0 = time.perf_counter()
    default = Criteria(period2=plan.criteria.period2)  # the default thresholds, judged as the configuration says
    default_met_at, settled_default = -1, []
    lagged: list[dict[str, np.ndarray]] = []  #: per-cycle changes of the last LAG + 1 cycles
    track = _Trajectory()
    first = 0
    previous = None  #: the per-cycle changes of the cycle before (spinup.cell_period2)
    if start is not None:
        previous = {n: start[f"delta_{n}"] for n in TOTALS + ("mic_n",) if f"delta_{n}" in start} or None
        state = np.asfortranarray(start["state"])
        first = int(start["cycles"])
        default_met_at, settled_default = int(start["default_met_cycle"]), list(start["settled_soil_c_default"])
        track.restore(start)
    for k in range(first, max_cycles):
        job = CycleJob(slice(0, model.ncell), stage.steps, "cycle", k == 0, True)
        r = cycle_chunk(job, model, state, None)
        track.add(k + 1, r.before, r.after)
        d = diagnose(r.before, r.after, model.domain.area, active, crit, previous)
        dd = diagnose(r.before, r.after, model.domain.area, active, default, previous)
        previous = {n: r.after[n] - r.before[n] for n in r.after}
        settled_default.append(dd.fraction_settled["soil_c"])
        if dd.met and default_met_at < 0:
            default_met_at = k + 1
        state = r.phi
        lagged = [*lagged[-LAG:], {n: r.after[n] - r.before[n] for n in r.after}]
        if (k + 1) % log_every == 0 or d.met:
            print(
                f"  cycle {k + 1}: dSOC {d.global_delta['soil_c']:+.2e} Pg, settled "
                + ", ".join(f"{n} {100 * v:.1f} %" for n, v in d.fraction_settled.items())
                + f" ({time.perf_counter() - t0:.0f} s)",
                flush=True,
            )
        if d.met:
            break
        if save is not None and (k + 1) % save_every == 0:
            save(_result(r, k, default_met_at, settled_default, lagged, stage, d, active, track))
    return _result(r, k, default_met_at, settled_default, lagged, stage, d, active, track)


class _Trajectory:
    """The brute-force trajectory of the per-cell totals: sampled every TRAJECTORY_EVERY cycles (and at cycle 0),
    and per cell and total the first cycle of the current run of per-cycle changes of one sign (``monotone_since``:
    the total has changed monotonically over the cycles monotone_since ... N; a cycle with no change at all does
    not break the run)."""

    def __init__(self) -> None:
        self.cycles: list[int] = []
        self.samples: dict[str, list[np.ndarray]] = {}
        self.sign: dict[str, np.ndarray] = {}
        self.since: dict[str, np.ndarray] = {}

    def add(self, cycle: int, before: dict[str, np.ndarray], after: dict[str, np.ndarray]) -> None:
        if cycle == 1:
            self._sample(0, before)
        if cycle % TRAJECTORY_EVERY == 0:
            self._sample(cycle, after)
        for n in after:
            s = np.sign(after[n] - before[n])
            sign = self.sign.setdefault(n, np.zeros(s.shape))
            since = self.since.setdefault(n, np.ones(s.shape, dtype=np.int64))
            turned = (s != 0) & (s != sign)
            since[turned] = cycle
            sign[turned] = s[turned]

    def restore(self, stored: dict[str, np.ndarray]) -> None:
        """Continue a stored trajectory (the sign of a run is that of the last stored change; where that change was
        0 the next change starts a new run: monotone_since can only become later, never earlier)."""
        self.cycles = [int(c) for c in stored["traj_cycles"]]
        for k, v in stored.items():
            if k.startswith("monotone_since_"):
                n = k[len("monotone_since_") :]
                self.since[n] = v.copy()
                self.sign[n] = np.sign(stored[f"delta_{n}"])
                self.samples[n] = list(stored[f"traj_{n}"])

    def _sample(self, cycle: int, totals: dict[str, np.ndarray]) -> None:
        self.cycles.append(cycle)
        for n, v in totals.items():
            self.samples.setdefault(n, []).append(v.copy())

    def arrays(self) -> dict[str, np.ndarray]:
        out = {"traj_cycles": np.array(self.cycles)}
        out.update({f"traj_{n}": np.array(v) for n, v in self.samples.items()})
        out.update({f"monotone_since_{n}": v.copy() for n, v in self.since.items()})
        return out


def _result(r, k, default_met_at, settled_default, lagged, stage, d, active, track) -> dict[str, np.ndarray]:
    out = {f"{n}": v for n, v in r.after.items()}
    out.update(track.arrays())
    out["state"] = np.asarray(r.phi)  #: the end state (prognostic and all), to continue the reference later
    out.update({f"delta_{n}": r.after[n] - r.before[n] for n in r.after})
    out["cycles"] = np.array(k + 1)
    # the per-cycle change LAG cycles earlier: lambda = (delta / delta_lag) ** (1 / LAG) is the cell's contraction
    # per cycle, and x + delta * lambda / (1 - lambda) extrapolates a geometric approach to its limit
    if len(lagged) == LAG + 1:
        out.update({f"delta_lag_{n}": v for n, v in lagged[0].items()})
        out["lag"] = np.array(LAG)
    out["default_met_cycle"] = np.array(default_met_at)  #: -1: the default criteria never held
    out["settled_soil_c_default"] = np.array(settled_default)  #: per cycle, default thresholds
    out["years_per_cycle"] = np.array(len(stage.steps))
    out["met"] = np.array(bool(d.met))
    out["active"] = active
    out["lat"], out["pft"] = stage.model.domain.lat, stage.model.domain.pft
    return out


TOTALS = ("soil_c", "veg_c", "mic_c", "soil_n")
#: configurations whose brute-force trajectory may be extrapolated with their own slowest modes: the cycle-mean system
#: of CASA's donor-controlled pools is their dynamics; MIMICS' flux-weighted effective rates (also linear_pools, for
#: sasu) depend on the microbes, so their eigenvalues are not the decay rates of its trajectory (geometric only)
MODAL = ("casa_c", "casa_cn")
#: slowest modes of the cycle-mean linear-pool system stored per cell (see slow_modes), and how many of them the
#: modal extrapolation fits
MODES, FIT_MODES = 3, 2


def slow_modes(cfg: RunConfig, state: np.ndarray) -> np.ndarray:
    """(ncell, MODES) the slowest decay rates (per year, ascending) of each cell's cycle-mean system of linear pools
    (``SoilModel.linear_pools``) over one plain cycle from ``state``: the eigenvalues of M = diag(k) - F / S, with
    k_j = outflux_j / S_j and F_ij / S_j the transfer j -> i (S: the pool summed over the cycle's days), the same
    cycle means as the semi-analytic spin-up's (docs/spinup.md "Methods"); nan where a cell has fewer pools in use.
    The model's own time scales, for the modal extrapolation of the brute-force trajectory (:func:`classify`)."""
    from testbed import layout
    from testbed.run import run_years

    plan = plan_spinup(cfg)
    stage = plan.stages[0]
    model = stage.model
    x0 = np.asfortranarray(np.array(state, dtype=float))
    x = x0.copy(order="F")
    total = np.zeros((model.ncell, layout.NDIAG))
    for res in run_years(
        model,
        x,
        stage.steps,
        first_year_of_run=False,
        cells=slice(0, model.ncell),
        check_budgets=True,
        restart_write_reset=False,
        check_forcing=False,
    ):
        total += res.annual
    lp = LinearPools.of(model)
    s = total[:, lp.pool_diag] - x[:, lp.carbon] + x0[:, lp.carbon]
    out = total[:, lp.out_diag]
    rates = np.full((model.ncell, MODES), np.nan)
    for c in range(model.ncell):
        u = np.flatnonzero((s[c] > 0) & (out[c] > 0))
        m = np.diag(out[c, u] / s[c, u])
        for i, j, col in lp.transfers:
            if i in u and j in u:
                m[list(u).index(i), list(u).index(j)] -= total[c, col] / s[c, j]
        ev = np.sort(np.linalg.eigvals(m).real)[:MODES] * 365.0  # per day -> per year (365-day years)
        rates[c, : ev.size] = ev
    return rates


def modal_limit(reference: dict, tag: str, n: str) -> tuple[np.ndarray, np.ndarray]:
    """Per cell: the limit x_inf of a least-squares fit x(t) = x_inf + sum_k a_k exp(-mu_k t) of the stored
    trajectory of total ``n`` over the last half of the brute-force cycles (t in years), with mu_k the FIT_MODES
    slowest decay rates of the cell's cycle-mean linear system (``slow_modes``, stored; modes that have died out
    before the window are left out), and whether it exists."""
    x = reference[f"{tag}:{n}"]
    key = f"{tag}:slow_modes"
    if key not in reference or f"{tag}:traj_{n}" not in reference:
        return x, np.zeros(x.shape, dtype=bool)
    cyc = reference[f"{tag}:traj_cycles"]
    half = cyc >= int(reference[f"{tag}:cycles"]) // 2
    t = cyc[half] * float(reference[f"{tag}:years_per_cycle"])
    traj = reference[f"{tag}:traj_{n}"][half]
    limit, ok = x.copy(), np.zeros(x.shape, dtype=bool)
    for c in range(x.size):
        mu = reference[key][c, :FIT_MODES]
        # modes that have decayed by e^-50 before the fitted window begins are gone from it (and would overflow)
        mu = mu[np.isfinite(mu) & (mu > 0) & (mu * t[0] < 50.0)]
        if not mu.size:
            continue
        a = np.column_stack([np.ones(t.size), *[np.exp(-m * (t - t[-1])) for m in mu]])
        coef = np.linalg.lstsq(a, traj[:, c], rcond=None)[0]
        limit[c], ok[c] = coef[0], bool(np.isfinite(coef[0]))
    return limit, ok


def accelerated(
    forcing: Path, tag: str, folder: Path, workers: int = 1, method: str = "auto", extra: tuple[str, ...] = ()
) -> tuple[dict[str, np.ndarray], int, bool]:
    """`testbed spinup` with the default stages and criteria (method ``auto``: as `testbed spinup` decides from the
    soil model's description): final per-cell totals, simulated years, whether the criteria were met."""
    import csv

    from testbed.spinup import run_spinup
    from testbed.state import read_restart

    cfg = reference_config(forcing, tag, folder)
    cfg.override(
        [
            "spinup.stages=auto",  # the soil model's default stages (reference_config's are brute force's)
            f"spinup.accelerate_method={method}",
            "spinup.criteria_variables=soil_c",
            f"parallel.chunk_size={NCELL}",
            *extra,
        ]
    )
    run_spinup(cfg, overwrite=True, workers=workers, progress=False)
    state, _ = read_restart(folder / "restart.nc")
    model = plan_spinup(cfg).stages[-1].model
    rows = list(csv.DictReader((folder / "equilibrium.csv").open()))
    return model.soil.totals(model, state), int(rows[-1]["years"]), rows[-1]["criteria_met"] == "1"


def _years_per_cell(folder: Path) -> float | None:
    import csv

    last = list(csv.DictReader((folder / "equilibrium.csv").open()))[-1]
    return float(last["years_per_cell"]) if last.get("years_per_cell") else None


def criteria_first_met(folder: Path) -> int | None:
    """The simulated years of a pipeline's spin-up when the default criteria first held (the issue's cost: a
    settle stage runs on after them, per cell), or None."""
    import csv

    rows = csv.DictReader((folder / "equilibrium.csv").open())
    return next((int(r["years"]) for r in rows if r["criteria_met"] == "1"), None)


#: relative accuracy the accelerated spin-up must reach (the issue's acceptance)
ACCURACY = 0.005
#: smallest absolute difference (g m-2) that counts, for nearly empty totals (e.g. the microbial C of a desert)
ABS_FLOOR = 1.0


def extrapolated(reference: dict, tag: str, n: str) -> tuple[np.ndarray, np.ndarray]:
    """Per cell: the limit of the brute-force trajectory of total ``n`` by geometric (Aitken) extrapolation, and
    whether that extrapolation is valid; where it is not, the last value itself.

    With the stored trajectory (totals every TRAJECTORY_EVERY cycles) and N cycles: L = N / 4 (rounded down to a
    stored sample), D1 = x(N - L) - x(N - 2L), D2 = x(N) - x(N - L), q = D2 / D1 (the contraction over L cycles,
    lambda ** L for a geometric approach x(t) = x* + c lambda ** t), limit = x(N) + D2 q / (1 - q); valid when
    0 < q < 1 (both windows move the same way, the second less). Without a trajectory (older entries): from the
    last per-cycle change d and the one LAG cycles earlier, lambda = (d / d_lag) ** (1 / LAG),
    limit = x + d lambda / (1 - lambda)."""
    x = reference[f"{tag}:{n}"]
    if f"{tag}:traj_{n}" in reference:
        traj, cyc = reference[f"{tag}:traj_{n}"], reference[f"{tag}:traj_cycles"]
        i2, i1, i0 = _window_samples(reference, tag)
        d1, d2 = traj[i1] - traj[i0], x - traj[i1]
        q = np.where(d1 != 0, d2 / np.where(d1 != 0, d1, 1.0), -1.0)
        valid = (q > 0) & (q < 1)
        assert cyc[i2] <= int(reference[f"{tag}:cycles"])
        return np.where(valid, x + d2 * q / np.where(valid, 1.0 - q, 1.0), x), valid
    d = reference.get(f"{tag}:delta_{n}")
    dl = reference.get(f"{tag}:delta_lag_{n}")
    if d is None or dl is None:
        return x, np.zeros(x.shape, dtype=bool)
    lag = int(reference[f"{tag}:lag"])
    valid = (d * dl > 0) & (np.abs(d) < np.abs(dl))
    lam = np.where(valid, np.abs(d) / np.where(valid, np.abs(dl), 1.0), 0.0) ** (1.0 / lag)
    return np.where(valid, x + d * lam / (1.0 - np.where(valid, lam, 0.0)), x), valid


def _window_samples(reference: dict, tag: str) -> tuple[int, int, int]:
    """Indices into the stored trajectory of cycles N, N - L and N - 2L (L = N / 4 rounded down to a sample)."""
    cyc = reference[f"{tag}:traj_cycles"]
    n = int(reference[f"{tag}:cycles"])
    lag = max(TRAJECTORY_EVERY, (n // 4) // TRAJECTORY_EVERY * TRAJECTORY_EVERY)
    last = n - n % TRAJECTORY_EVERY  # the last stored sample (the final state is stored separately)
    i = {int(c): k for k, c in enumerate(cyc)}
    return i[last], i[last - lag], i[last - 2 * lag]


def classify(reference: dict, tag: str, n: str, accel: np.ndarray) -> dict[str, np.ndarray]:
    """Per cell, for total ``n`` and the accelerated spin-up's values ``accel``, the acceptance (docs/spinup.md
    "Accuracy reference"): ``direct`` -- within ACCURACY of the brute-force end state (or ABS_FLOOR g m-2);
    ``extrapolated`` -- not, but brute force approaches the accelerated value monotonically (every per-cycle change
    of the last 2L cycles of one sign, towards it) and its geometric extrapolation (:func:`extrapolated`) is within
    ACCURACY (or ABS_FLOOR) of it; ``approaching`` -- neither, but brute force moves monotonically towards it;
    ``failed`` -- neither direct nor extrapolated. Inactive cells are False everywhere."""
    active = reference[f"{tag}:active"].astype(bool)
    ref = reference[f"{tag}:{n}"]
    direct = active & (np.abs(accel - ref) <= np.maximum(ACCURACY * np.abs(ref), ABS_FLOOR))
    limit, valid = extrapolated(reference, tag, n)
    near_limit = np.abs(accel - limit) <= np.maximum(ACCURACY * np.abs(limit), ABS_FLOOR)
    d = reference.get(f"{tag}:delta_{n}", np.zeros_like(ref))
    if f"{tag}:traj_{n}" in reference:
        # monotone at the trajectory's resolution (TRAJECTORY_EVERY cycles): every stored step of the last 2L cycles
        # moves the same way, towards the accelerated value (single cycles jitter around the trend, e.g. the leaf
        # cap and phenology thresholds: ``monotone_since_<n>`` records per-cycle monotonicity, for information)
        i2, _, i0 = _window_samples(reference, tag)
        points = reference[f"{tag}:traj_{n}"][i0 : i2 + 1]
        if int(reference[f"{tag}:traj_cycles"][i2]) < int(reference[f"{tag}:cycles"]):
            points = np.vstack([points, ref[None]])
        monotone = np.all(np.diff(points, axis=0) * np.sign(accel - ref) > 0, axis=0)
        towards = accel != ref
    else:  # older entries: the last two stored per-cycle changes of one sign (an assumption, not a check)
        dl = reference.get(f"{tag}:delta_lag_{n}", np.zeros_like(ref))
        monotone = d * dl > 0
        towards = (accel - ref) * d > 0
    approaching = active & ~direct & monotone & towards
    modal, modal_ok = modal_limit(reference, tag, n)
    near_modal = modal_ok & (np.abs(accel - modal) <= np.maximum(ACCURACY * np.abs(modal), ABS_FLOOR))
    extrap = approaching & ((valid & near_limit) | near_modal)
    return {
        "direct": direct,
        "extrapolated": extrap,
        "approaching": approaching & ~extrap,
        "failed": active & ~direct & ~extrap,
        "limit": limit,
        "modal_limit": modal,
        "rel": np.abs(accel - ref) / np.maximum(np.abs(ref), 1e-12),
    }


def compare(reference: dict, tag: str, totals: dict[str, np.ndarray]) -> dict[str, float]:
    """Per total over the vegetated cells (:func:`classify`): the largest relative difference from the brute-force
    end state, the cells beyond ACCURACY (``cells_over_0.5%_<n>``), of these the ones explained by brute force's
    monotone approach and extrapolation (``cells_extrapolated_<n>``) and the others (``cells_failed_<n>``, the
    number the acceptance requires to be 0); of the failed, the cells brute force still approaches monotonically
    (``cells_approaching_<n>``) and the others (``cells_against_<n>``)."""
    active = reference[f"{tag}:active"].astype(bool)
    out = {}
    for n in TOTALS:
        if f"{tag}:{n}" not in reference or n not in totals:
            continue
        c = classify(reference, tag, n, totals[n])
        out[f"max_rel_{n}"] = float(np.max(c["rel"][active]))
        out[f"cells_over_0.5%_{n}"] = int((active & ~c["direct"]).sum())
        out[f"cells_extrapolated_{n}"] = int(c["extrapolated"].sum())
        out[f"cells_failed_{n}"] = int(c["failed"].sum())
        out[f"cells_approaching_{n}"] = int(c["approaching"].sum())
        out[f"cells_against_{n}"] = int((c["failed"] & ~c["approaching"]).sum())
    return out


def failed_cells(reference: dict, tag: str, totals: dict[str, np.ndarray]) -> list[str]:
    """One line per vegetated cell and total that fails the acceptance (lat, IGBP type, the values)."""
    lines = []
    for n in TOTALS:
        if f"{tag}:{n}" not in reference or n not in totals:
            continue
        c = classify(reference, tag, n, totals[n])
        for i in np.flatnonzero(c["failed"]):
            lat = reference.get(f"{tag}:lat", np.full(c["rel"].shape, np.nan))[i]
            pft = reference.get(f"{tag}:pft", np.zeros(c["rel"].shape, dtype=int))[i]
            lines.append(
                f"  {tag} {n} cell {i + 1} lat {lat:.1f} IGBP {pft}: accelerated {totals[n][i]:.6g}, brute force "
                f"{reference[f'{tag}:{n}'][i]:.6g} ({100 * c['rel'][i]:.2f} %), extrapolated {c['limit'][i]:.6g} "
                f"(geometric), {c['modal_limit'][i]:.6g} (modal), "
                f"{'approaching' if c['approaching'][i] else 'not approaching'} monotonically"
            )
    return lines


def brute_force_years(reference: dict, tag: str) -> int:
    """Simulated years brute force needed to meet the default criteria (all its years when it never met them:
    a lower bound)."""
    ypc = int(reference[f"{tag}:years_per_cycle"])
    met_at = int(reference.get(f"{tag}:default_met_cycle", -1))
    return ypc * (met_at if met_at > 0 else int(reference[f"{tag}:cycles"]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--max-cycles", type=int, default=4000)
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    ap.add_argument("--work", type=Path, default=Path("/tmp/spinup_reference"))
    ap.add_argument("--output", type=Path, default=OUTPUT)
    ap.add_argument("--method", default="auto", help="--compare: the accelerate stage's method (default auto)")
    ap.add_argument(
        "--set", action="append", default=[], metavar="GROUP.KEY=VALUE", help="--compare: more namelist settings"
    )
    ap.add_argument(
        "--compare",
        action="store_true",
        help="run the accelerated spin-up and compare it with the stored reference instead",
    )
    ap.add_argument(
        "--continue",
        dest="cont",
        action="store_true",
        help="continue the stored brute force of each configuration from its end state up to --max-cycles",
    )
    ap.add_argument(
        "--modes",
        action="store_true",
        help="only (re)compute the stored slowest modes at each configuration's stored end state (no cycling)",
    )
    args = ap.parse_args(argv)
    forcing = reference_domain(args.work)
    if args.compare:
        reference = dict(np.load(args.output))
        summary = {}
        for tag in args.configs:
            if f"{tag}:cycles" not in reference:
                print(f"{tag}: no reference stored")
                continue
            t_run = time.perf_counter()
            totals, years, met = accelerated(
                forcing, tag, args.work / f"accelerated_{tag}", method=args.method, extra=tuple(args.set)
            )
            t_run = time.perf_counter() - t_run
            brute = brute_force_years(reference, tag)
            brute_met = int(reference.get(f"{tag}:default_met_cycle", -1)) > 0
            result = compare(reference, tag, totals)
            # the cost: simulated years of the accelerated spin-up over brute force's to the default criteria
            # (when brute force never met them, its years are a lower bound and the ratio an upper bound)
            first = criteria_first_met(args.work / f"accelerated_{tag}")
            summary[tag] = {
                "accelerated_years": years,
                "criteria_met": met,
                "criteria_first_met_years": first,
                "brute_force_years": brute,
                "brute_force_met": brute_met,
                "ratio": years / brute,
                "ratio_first_met": None if first is None else first / brute,
                # with spinup.freeze_after: the years simulated per vegetated cell on average (the compute spent)
                "years_per_cell": _years_per_cell(args.work / f"accelerated_{tag}"),
                "wall_seconds": round(t_run, 1),
                **result,
            }
            print(
                f"{tag}: accelerated {years} simulated years (criteria {'met' if met else 'NOT met'}"
                + (f", first at {first}" if first is not None else "")
                + f"), brute force {brute} to the default criteria "
                f"({'met' if brute_met else 'NOT met, a lower bound'}); "
                f"ratio {'' if brute_met else '< '}{years / brute:.4f}; wall time {t_run:.0f} s; "
                + ", ".join(f"{k} {v:.4g}" for k, v in result.items()),
                flush=True,
            )
            for line in failed_cells(reference, tag, totals):
                print(line, flush=True)
        args.work.mkdir(parents=True, exist_ok=True)
        (args.work / "compare.json").write_text(json.dumps(summary, indent=1) + "\n")
        print(f"stored in {args.work / 'compare.json'}")
        return 0
    stored = dict(np.load(args.output)) if args.output.exists() else {}
    for tag in args.configs:
        if not args.modes:
            print(f"{tag}: brute force to criteria {TIGHTER:g}x tighter than the defaults", flush=True)

        def save(res: dict[str, np.ndarray], tag: str = tag) -> None:
            for k, v in res.items():
                stored[f"{tag}:{k}"] = v
            args.output.parent.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(args.output, **stored)

        start = None
        if args.cont:
            start = {k.split(":", 1)[1]: v for k, v in stored.items() if k.startswith(f"{tag}:")}
            if "state" not in start or "traj_cycles" not in start:
                print(f"{tag}: the stored reference has no end state or trajectory to continue from")
                return 1
        cfg = reference_config(forcing, tag, args.work / tag)
        if not args.modes:
            res = brute_force(cfg, args.max_cycles, save=save, start=start)
        else:
            res = {k.split(":", 1)[1]: v for k, v in stored.items() if k.startswith(f"{tag}:")}
        if tag in MODAL:
            res["slow_modes"] = slow_modes(cfg, res["state"])  #: per year, at the end state (modal extrapolation)
        save(res)
        print(
            f"{tag}: {int(res['cycles'])} cycles ({int(res['cycles'] * res['years_per_cycle'])} years), "
            f"criteria {'met' if res['met'] else 'NOT met'}; default criteria first met at cycle "
            f"{int(res['default_met_cycle'])}; stored in {args.output}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
