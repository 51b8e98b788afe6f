"""Output variables: one declaration each; units and long_name come from the kernel diagnostic they read.

Host variables (every run) are listed in :mod:`testbed.output`; a soil model lists its own in its
description (``SoilModel.outputs``), and every pool of the vegetation and of the soil model is an output
variable by itself (:func:`pool_variable`). Units (UDUNITS) and long_name are those of the diagnostic
column in the kernel layout declaration (testbed/layout.toml, testbed/soil/<model>.toml), so that they
are written once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from . import layout

if TYPE_CHECKING:
    from .soil.base import Pool

CN = (2,)
DAYS_PER_YEAR = 365.0


@dataclass(frozen=True)
class AnnualRule:
    """The arithmetic of an annual value where it is not the kind's default (docs/outputs.md), e.g. the original's
    CORPSE annual file (docs/corpse.md 5). With ``A[c]`` the year's sum of the daily diagnostic column ``c``:

        value = scale x S_1 + scale x S_2 + ...,   S_t = A[c_t1] + A[c_t2] + ...   (left to right)

    and ``S_t`` is replaced by ``S_t / 365`` when ``mean``. The operations are applied in exactly this order
    (float64), so that a value follows the original's operation order bit for bit.
    """

    terms: tuple[tuple[str, ...], ...]  #: diagnostic columns, grouped into the terms of the sum
    scale: float = 1.0
    mean: bool = False

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(c for term in self.terms for c in term)

    def value(self, sums: np.ndarray) -> np.ndarray:
        """The annual value from ``sums`` (..., NDIAG), the year's sums of the daily diagnostics."""
        total = None
        for term in self.terms:
            s = sums[..., layout.index("diag", term[0])]
            for c in term[1:]:
                s = s + sums[..., layout.index("diag", c)]
            if self.mean:
                s = s / DAYS_PER_YEAR
            s = self.scale * s
            total = s if total is None else total + s
        return total


@dataclass(frozen=True)
class OutputVar:
    """One output variable (CF 1.8).

    ``standard_name`` only where the CF standard-name table has one for exactly this quantity
    (tests/test_output_cf.py checks each against the table and its canonical units); the element
    of a C or N mass is named in ``long_name`` ("carbon", "nitrogen") since ``g m-2`` cannot carry it.
    """

    name: str  #: NetCDF variable name
    diag: str  #: kernel diagnostic column
    kind: str  #: "flux" (summed over a year) or "mean" (pools and scalars, averaged)
    cycles: tuple[int, ...] = (1, 2)
    standard_name: str | None = None
    #: the run option that adds it (e.g. "dry_spell", "exudation"; Model.output_options); "" = every run
    option: str = ""
    #: the annual value's arithmetic if not the kind's default (sum of the daily values; x 1/365 for a mean)
    annual: AnnualRule | None = None

    @property
    def units(self) -> str:
        """UDUNITS units of the daily value ("... d-1" for fluxes)."""
        return layout.column("diag", self.diag).units

    @property
    def long_name(self) -> str:
        return layout.column("diag", self.diag).long_name

    def annual_value(self, sums: np.ndarray) -> np.ndarray:
        """The annual value (float64) from ``sums`` (..., NDIAG), the year's sums of the daily diagnostics: the sum
        of the daily values for a flux, sum x (1/365) for a mean (as the original's CASA and MIMICS files), or
        the variable's own ``annual`` rule."""
        if self.annual is not None:
            return self.annual.value(sums)
        col = sums[..., layout.index("diag", self.diag)]
        return col * (1.0 / 365.0) if self.kind == "mean" else col

    def annual_units(self) -> str:
        return self.units.replace("d-1", "yr-1") if self.kind == "flux" else self.units

    def cell_methods(self, annual: bool) -> str:
        """Fluxes are mean rates over the time bounds (the day, or the year = sum of its days);
        pools are annual means of end-of-day values, or the end-of-day value in daily files."""
        return "time: point" if self.kind == "mean" and not annual else "time: mean"


def pool_variable(pool: Pool) -> OutputVar:
    """The output variable of a pool: its end-of-day value in g m-2 (diagnostic column of the same name)."""
    return OutputVar(pool.output, pool.column, "mean", (1, 2) if pool.element == "carbon" else CN, pool.standard_name)
