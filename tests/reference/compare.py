"""Comparison helpers for the reference tests: exact equality at the reference's stored precision.

Every deliberate difference from the original's files is listed once, in
KNOWN_DIFFERENCES, with its reason (spec quirk numbers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import netCDF4
import numpy as np

#: variables not compared, and why. Keys: (file kind, variable); file kind is "casa" or "mimics".
KNOWN_DIFFERENCES: dict[tuple[str, str], str] = {
    ("casa", "nLitInptStruc"): "uninitialised local in the original's casa_delsoil (reference README quirk 1, "
    "casa.md Q20); ours is the intended k_cwd*N_cwd + litterfall N",
    ("mimics-casa", "cresp"): "the original overwrites CASA Crsoil with the last cell's MIMICS value (mimics.md "
    "Q1); ours is the true MIMICS respiration",
    ("mimics-casa", "thetaLiq"): "CASA soil modifiers are not computed in MIMICS runs (the original writes 0); "
    "ours is in the MIMICS file",
    ("mimics-casa", "fT"): "as thetaLiq",
    ("mimics-casa", "fW"): "as thetaLiq",
    ("annual", "DIN"): "the original never resets the annual DIN accumulator (mimics.md Q7)",
    ("flux-csv-mimics", "FCrsyear"): "CASA Crsoil is wrong in MIMICS runs (mimics.md Q1)",
    ("flux-csv-mimics", "FCneeyear"): "as FCrsyear",
    ("corpse-casa", "cresp"): "CASA soil fluxes are not computed in CORPSE runs, the original writes 0 (reference "
    "README_corpse quirk 2); ours is the CORPSE respiration incl. CWD (Soil_CO2 + LitterLayer_CO2)",
    ("corpse-casa", "cnep"): "the original's is NPP - 0 (README_corpse quirk 2)",
    ("flux-csv-corpse", "FCrsyear"): "CASA Crsoil is not computed in CORPSE runs (README_corpse quirk 2)",
    ("flux-csv-corpse", "FCneeyear"): "as FCrsyear",
}


@dataclass
class Mismatch:
    where: str
    variable: str
    count: int
    total: int
    example: str


@dataclass
class Report:
    compared: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)

    def add(self, where: str, variable: str, ours: np.ndarray, ref: np.ndarray, describe) -> None:
        ours = np.asarray(ours)
        ref = np.asarray(ref)
        assert ours.shape == ref.shape, f"{where} {variable}: shape {ours.shape} vs reference {ref.shape}"
        bad = ~((ours == ref) | (np.isnan(ours) & np.isnan(ref)))
        self.compared += ours.size
        if bad.any():
            idx = tuple(np.argwhere(bad)[0])
            self.mismatches.append(
                Mismatch(
                    where,
                    variable,
                    int(bad.sum()),
                    ours.size,
                    f"{describe(idx)}: ours {ours[idx]!r}, reference {ref[idx]!r}",
                )
            )

    def table(self) -> str:
        lines = [f"{len(self.mismatches)} variable(s) differ out of {self.compared} values compared:"]
        for m in self.mismatches[:40]:
            lines.append(f"  {m.where:40s} {m.variable:22s} {m.count:7d}/{m.total:<8d} first at {m.example}")
        return "\n".join(lines)

    def assert_identical(self) -> None:
        assert self.compared > 0, "nothing was compared"
        assert not self.mismatches, self.table()


def read_nc_var(path: Path, name: str) -> np.ndarray | None:
    """A (time, lat, 1) reference variable as (time, cell) for the compact setA grid."""
    with netCDF4.Dataset(path) as ds:
        ds.set_auto_mask(False)
        if name not in ds.variables:
            return None
        v = ds.variables[name][:]
    return v[:, :, 0]


def parse_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    lines = [ln for ln in path.read_text().replace("\r", "").split("\n") if ln.strip()]
    header = [h.strip() for h in lines[0].split(",")]
    rows = [[t.strip() for t in ln.split(",") if t.strip() != ""] for ln in lines[1:]]
    return header, rows


def rounded(values: np.ndarray, decimals: int) -> np.ndarray:
    """Our values printed with the reference's decimals, read back (so -0.0 == 0.0)."""
    return np.array([float(f"{v:.{decimals}f}") for v in np.asarray(values, dtype=np.float64).ravel()]).reshape(
        np.shape(values)
    )


def text_values(tokens: list[str]) -> np.ndarray:
    return np.array([np.nan if "*" in t else float(t) for t in tokens])
