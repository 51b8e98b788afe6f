"""Equilibrium diagnostics and criteria of a spin-up (docs/spinup.md "Criteria").

Per forcing cycle: the global change of total soil C, vegetation C and soil N (Pg per cycle, cell
area from the domain, inactive cells masked), and the fraction of vegetated cells whose total
changes by less than ``cell_abs`` g m-2 **and** less than ``cell_rel`` (fraction) per cycle.
The default criteria are the original authors' practice: |global dSOC| < 0.01 Pg C per cycle and
at least 98 % of vegetated cells settled. With ``period2`` (namelist ``spinup.cell_period2``) a change
that alternates in sign from the previous cycle is judged by half the change over the two cycles: a
period-2 cycle of the state (a periodic steady state, where brute force itself may end) has no drift.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from ..errors import ConfigError

#: totals a criterion may use (keys of SoilModel.totals), and which of them need a C+N run
TOTALS = ("soil_c", "veg_c", "mic_c", "soil_n", "mic_n")
N_TOTALS = ("soil_n", "mic_n")
#: grams per petagram
G_PER_PG = 1.0e15


@dataclass(frozen=True)
class Criteria:
    """When a spin-up stage is at equilibrium (namelist &spinup keys of the same names)."""

    soc_global: float = 0.01  #: Pg C per cycle
    cell_abs: float = 1.0  #: g m-2 per cycle
    cell_rel: float = 0.001  #: fraction per cycle
    cell_fraction: float = 0.98  #: of vegetated cells
    variables: tuple[str, ...] = ("soil_c",)
    period2: bool = False  #: judge changes that alternate in sign over two cycles (periodic steady states)

    def check(self, icycle: int) -> None:
        """Refuse criteria that can never hold, or that name a total the run does not have."""
        for name in ("soc_global", "cell_abs", "cell_rel"):
            v = getattr(self, name)
            if not np.isfinite(v) or v <= 0:
                raise ConfigError(f"spinup.{name} = {v} can never be met; it must be a positive number")
        if not 0 < self.cell_fraction <= 1:
            raise ConfigError(f"spinup.cell_fraction = {self.cell_fraction} must be in (0, 1]")
        if not self.variables:
            raise ConfigError("spinup.criteria_variables is empty; name at least soil_c")
        for v in self.variables:
            if v not in TOTALS:
                import difflib

                close = difflib.get_close_matches(v, TOTALS, n=1)
                raise ConfigError(
                    f"spinup.criteria_variables: unknown total {v!r}; choose from {', '.join(TOTALS)}"
                    + (f"; did you mean {close[0]!r}?" if close else "")
                )
            if v in N_TOTALS and icycle < 2:
                raise ConfigError(f"spinup.criteria_variables: {v} needs a C+N run (run.cycle = 'cn')")

    def tighter(self, factor: float) -> Criteria:
        """The same criteria ``factor`` times tighter (the brute-force reference uses 10)."""
        return replace(
            self, soc_global=self.soc_global / factor, cell_abs=self.cell_abs / factor, cell_rel=self.cell_rel / factor
        )


def drift(change: np.ndarray | float, previous: np.ndarray | float | None, period2: bool) -> np.ndarray:
    """|Drift| per cycle: |change|, or with ``period2``, where the change alternates in sign from ``previous`` (the
    change of the cycle before, from the state this cycle started from; NaN: unknown), |change + previous| / 2, half
    the change over the two cycles (0 for a period-2 cycle of the state)."""
    d = np.abs(np.asarray(change, dtype=float))
    if not period2 or previous is None:
        return d
    prev = np.asarray(previous, dtype=float)
    alternating = np.isfinite(prev) & (np.asarray(change) * prev < 0)
    return np.where(alternating, np.abs(np.asarray(change) + np.where(alternating, prev, 0.0)) / 2, d)


def settled(before: np.ndarray, after: np.ndarray, crit: Criteria, previous: np.ndarray | None = None) -> np.ndarray:
    """Per cell: changed by less than cell_abs g m-2 and less than cell_rel of its value over the cycle (the drift of
    :func:`drift`: with ``crit.period2`` over two cycles where the change alternates in sign from ``previous``)."""
    d = drift(after - before, previous, crit.period2)
    return (d < crit.cell_abs) & (d < crit.cell_rel * np.abs(before))


@dataclass
class CycleDiagnostics:
    """The equilibrium diagnostics of one forcing cycle (one row of equilibrium.csv)."""

    global_delta: dict[str, float]  #: total -> global change over the cycle, Pg per cycle
    global_total: dict[str, float]  #: total -> global stock at the end of the cycle, Pg
    fraction_settled: dict[str, float]  #: total -> fraction of vegetated cells settled
    settled: np.ndarray  #: (ncell,) settled in every criteria variable (False for inactive cells)
    met: bool  #: the criteria hold

    def row(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for k in self.global_delta:
            out[f"d_{k}_Pg"] = self.global_delta[k]
        for k in self.global_total:
            out[f"{k}_Pg"] = self.global_total[k]
        for k in self.fraction_settled:
            out[f"settled_{k}"] = self.fraction_settled[k]
        out["criteria_met"] = int(self.met)
        return out


def diagnose(
    before: Mapping[str, np.ndarray],
    after: Mapping[str, np.ndarray],
    area: np.ndarray,
    active: np.ndarray,
    crit: Criteria,
    previous: Mapping[str, np.ndarray] | None = None,
) -> CycleDiagnostics:
    """Diagnostics of one cycle from per-cell totals (g m-2) at its start and end.

    ``area`` in m2; ``active`` marks vegetated cells (the others are masked out of every number). ``previous``: per
    total, each cell's change over the cycle before (NaN where that cycle did not end where this one starts), used
    with ``crit.period2`` (:func:`drift`; the global change likewise, when every vegetated cell's is known).
    """
    gd, gt, frac = {}, {}, {}
    ok_all = active.copy()
    nact = max(int(active.sum()), 1)
    gprev: dict[str, float | None] = {}
    for k in before:
        b, a = before[k], after[k]
        prev = None if previous is None else previous.get(k)
        gd[k] = float(np.sum(np.where(active, (a - b) * area, 0.0)) / G_PER_PG)
        gt[k] = float(np.sum(np.where(active, a * area, 0.0)) / G_PER_PG)
        gprev[k] = None if prev is None else float(np.sum(np.where(active, prev * area, 0.0)) / G_PER_PG)
        ok = settled(b, a, crit, prev) & active
        frac[k] = float(ok.sum() / nact)
        if k in crit.variables:
            ok_all &= ok
    met = float(drift(gd["soil_c"], gprev["soil_c"], crit.period2)) < crit.soc_global and all(
        frac[v] >= crit.cell_fraction for v in crit.variables
    )
    return CycleDiagnostics(gd, gt, frac, ok_all, met)


def unsettled_kind(deltas: np.ndarray) -> str:
    """'oscillating' when the last cycles' changes alternate in sign, else 'drifting' (``deltas``: oldest first)."""
    s = np.sign(deltas[np.isfinite(deltas)])
    s = s[s != 0]
    if s.size >= 3 and np.all(s[1:] != s[:-1]):
        return "oscillating"
    return "drifting"
