"""Options of the moisture scenarios and of the sub-grid heterogeneity correction (seed_processes.md 2, 3).

They reach the kernel as per-cell columns of the CASA and MIMICS parameter arrays (testbed/layout.toml,
testbed/soil/mimics.toml); every option off leaves those columns at their "off" values and reproduces the
original bit for bit. docs/moisture_heterogeneity.md describes the options.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from . import layout
from .errors import ConfigError
from .heterogeneity import phi_linear
from .moisture import van_genuchten

if TYPE_CHECKING:
    from .config import RunConfig

#: CASA pools of the linear correction, in the order of the het_phi columns
CASA_HET_POOLS = ("met", "str", "cwd", "mic", "slow", "pass")
#: MIMICS pools with a coefficient of variation (the cv columns)
MIMICS_CV_POOLS = ("litm", "lits", "micr", "mick", "soma", "somc", "somp")
#: MIMICS substrate-microbe pairs of the six uptakes (rho columns) and of OXIDAT (rho_ox columns)
MIMICS_RHO = ("r1", "r2", "r3", "k1", "k2", "k3")
MIMICS_RHO_OX = ("r", "k")


@dataclass(frozen=True)
class MoistureOptions:
    """The water-potential fW (2.3): CASA switch ``fw_psi``; MIMICS uses it with fWFunction = 4."""

    fw_psi: bool = False  #: CASA soil: fW = max(fw_min, f_psi(psi))
    fw_min: float = 0.05  #: floor of the psi-based fW
    fw_on_tau: bool = True  #: MIMICS fWFunction 4: apply fW to microbial turnover too

    def check(self) -> None:
        if not 0.0 <= self.fw_min <= 1.0:
            raise ConfigError(f"moisture.fw_min = {self.fw_min} must be within [0, 1]")


@dataclass(frozen=True)
class DrySpell:
    """A dry spell (2.1): ``days`` days from day of year ``start`` at water potential ``psi`` (hPa)."""

    start: int = 0  #: first day of year of the spell; 0 = no dry spell
    days: int = 7
    psi: float = -450.0  #: hPa
    dtsoil: float = 0.0  #: K added to soil temperature during the spell
    years: tuple[int, ...] = ()  #: simulation-year counts (1-based) it applies to; empty = every year

    @property
    def on(self) -> bool:
        return self.start > 0

    def applies(self, count: int) -> bool:
        return self.on and (not self.years or count in self.years)

    def check(self) -> None:
        if not self.on:
            return
        if self.psi > 0:
            raise ConfigError(f"perturbation.dry_psi = {self.psi} hPa must be <= 0 (a water potential)")
        if self.days < 1 or self.start < 1 or self.start + self.days - 1 > 365:
            raise ConfigError(
                f"the dry spell (perturbation.dry_start = {self.start}, dry_days = {self.days}) "
                "must lie within days 1-365 of one year, with at least one day"
            )
        if any(y < 1 for y in self.years):
            raise ConfigError(f"perturbation.dry_years {self.years} must be 1-based simulation-year counts")


@dataclass(frozen=True)
class Heterogeneity:
    """Second-order sub-grid heterogeneity factors (3): CVs and correlations, the same for every cell."""

    het_mm: bool = False  #: MIMICS Michaelis-Menten uptakes, OXIDAT and turnover
    het_lin: bool = False  #: CASA linear litter and soil decay
    cv: dict[str, float] = field(default_factory=dict)  #: MIMICS pool, k_desorp, vmax -> CV
    rho: dict[str, float] = field(default_factory=dict)  #: MIMICS r1..k3, ox_r, ox_k, desorp, vmax_s, vmax_m -> rho
    casa_cvc: dict[str, float] = field(default_factory=dict)  #: CASA pool -> CV of its carbon
    casa_cvk: dict[str, float] = field(default_factory=dict)  #: CASA pool -> CV of its decay rate
    casa_rho: dict[str, float] = field(default_factory=dict)  #: CASA pool -> correlation of k and C
    phi_min: float = 0.0

    def check(self) -> None:
        for name, v in {
            **{f"cv_{k}": v for k, v in self.cv.items()},
            **{f"cvc_{k}": v for k, v in self.casa_cvc.items()},
            **{f"cvk_{k}": v for k, v in self.casa_cvk.items()},
        }.items():
            if v < 0:
                raise ConfigError(f"heterogeneity.{name} = {v} must be >= 0 (a coefficient of variation)")
        for name, v in {
            **{f"rho_{k}": v for k, v in self.rho.items()},
            **{f"rhokc_{k}": v for k, v in self.casa_rho.items()},
        }.items():
            if abs(v) > 1:
                raise ConfigError(f"heterogeneity.{name} = {v}: a correlation must lie within [-1, 1]")

    def casa_phi(self) -> np.ndarray:
        """The six CASA factors 1 + rho CVk CVC (met, str, cwd, mic, slow, pass), clamped at phi_min."""
        phi = np.array(
            [
                phi_linear(self.casa_cvk.get(p, 0.0), self.casa_cvc.get(p, 0.0), self.casa_rho.get(p, 0.0))
                for p in CASA_HET_POOLS
            ]
        )
        return np.maximum(self.phi_min, phi)


def read_vg_table(path) -> np.ndarray:
    """A user's per-cell van Genuchten table (CSV, header theta_r,alpha,n) as an (ncell, 3) array, checked."""
    try:
        tab = np.genfromtxt(path, delimiter=",", names=True, dtype=float)
        arr = np.column_stack([np.atleast_1d(tab[c]) for c in ("theta_r", "alpha", "n")])
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a van Genuchten table with columns theta_r, alpha, n ({exc})") from None
    bad = ~(np.isfinite(arr).all(axis=1) & (arr[:, 0] >= 0) & (arr[:, 1] > 0) & (arr[:, 2] > 1))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ConfigError(
            f"{path}: row {k + 1} has theta_r {arr[k, 0]:g}, alpha {arr[k, 1]:g}, n {arr[k, 2]:g}; "
            "need theta_r >= 0, alpha > 0 and n > 1"
        )
    return arr


def van_genuchten_columns(
    params: np.ndarray, sand: np.ndarray, silt: np.ndarray, clay: np.ndarray, table: np.ndarray | None = None
) -> None:
    """Fill the vg_* columns of a CASA parameter array from texture, or from a user's (ncell, 3) ``table``
    (theta_r, alpha, n); theta_s is the host's ssat, which must exceed theta_r."""
    if table is not None:
        if table.shape[0] != params.shape[0]:
            raise ConfigError(f"the van Genuchten table has {table.shape[0]} rows for {params.shape[0]} cells")
        vg = {"theta_r": table[:, 0], "alpha": table[:, 1], "n": table[:, 2]}
    else:
        try:
            vg = van_genuchten(sand, silt, clay)
        except ValueError as exc:
            raise ConfigError(f"van Genuchten parameters from texture: {exc}") from None
    ssat = params[:, layout.index("casa", "ssat")]
    bad = np.flatnonzero(ssat <= vg["theta_r"])
    if bad.size:
        raise ConfigError(
            f"cell {bad[0]}: saturation water content {ssat[bad[0]]:g} is not above the van "
            f"Genuchten residual content {vg['theta_r'][bad[0]]:g} of its texture class"
        )
    params[:, layout.index("casa", "vg_theta_r")] = vg["theta_r"]
    params[:, layout.index("casa", "vg_alpha")] = vg["alpha"]
    params[:, layout.index("casa", "vg_n")] = vg["n"]


def dry_spell_params(params: np.ndarray, spell: DrySpell) -> np.ndarray:
    """A copy of a CASA parameter array (vg columns filled) with the dry-spell columns of ``spell``; the kernel
    takes the water content theta(psi) from the vg columns (fortran_core/moisture.f90 vg_theta)."""
    out = params.copy(order="F")
    out[:, layout.index("casa", "dry_start")] = float(spell.start)
    out[:, layout.index("casa", "dry_days")] = float(spell.days)
    out[:, layout.index("casa", "dry_psi")] = spell.psi
    out[:, layout.index("casa", "dry_dtsoil")] = spell.dtsoil
    return out


def table_keys() -> tuple[str, ...]:
    """The &heterogeneity keys (testbed.config KEYS) that a per-cell table may give."""
    return (
        *(f"cv_{p}" for p in MIMICS_CV_POOLS),
        *(f"rho_{r}" for r in MIMICS_RHO),
        *(f"rho_ox_{r}" for r in MIMICS_RHO_OX),
        "cvk_desorp",
        "rho_desorp",
        "cv_vmax",
        "rho_vmax_s",
        "rho_vmax_m",
        *(f"{k}_{p}" for p in CASA_HET_POOLS for k in ("cvc", "cvk", "rhokc")),
    )


def read_heterogeneity_table(path) -> dict[str, np.ndarray]:
    """A per-cell table of CVs and correlations (CSV; header = &heterogeneity key names, e.g. cv_micr, rho_r1,
    cvc_slow), one row per cell in the soil table's order; its columns override the namelist values."""
    try:
        tab = np.genfromtxt(path, delimiter=",", names=True, dtype=float)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a heterogeneity table ({exc})") from None
    out = {name: np.atleast_1d(tab[name]).astype(float) for name in tab.dtype.names}
    unknown = sorted(set(out) - set(table_keys()))
    if unknown:
        raise ConfigError(f"{path}: unknown columns {unknown}; allowed: {', '.join(table_keys())}")
    for name, v in out.items():
        if name.startswith("cv") and not np.all(v >= 0):
            raise ConfigError(f"{path}: column {name} has a value < 0 (a coefficient of variation)")
        if name.startswith("rho") and not np.all(np.abs(v) <= 1):
            raise ConfigError(f"{path}: column {name} has a correlation outside [-1, 1]")
    return out


def casa_columns(
    params: np.ndarray, moisture: MoistureOptions, het: Heterogeneity, table: dict[str, np.ndarray] | None = None
) -> None:
    """The CASA switches and factors (in place); ``table`` holds per-cell overrides of the CVs and rho."""
    params[:, layout.index("casa", "fw_min")] = moisture.fw_min
    if moisture.fw_psi:
        params[:, layout.index("casa", "fw_psi")] = 1.0
    if het.het_lin:
        params[:, layout.index("casa", "het_lin")] = 1.0
        t = table or {}
        for pool in CASA_HET_POOLS:
            cvk = t.get(f"cvk_{pool}", het.casa_cvk.get(pool, 0.0))
            cvc = t.get(f"cvc_{pool}", het.casa_cvc.get(pool, 0.0))
            rho = t.get(f"rhokc_{pool}", het.casa_rho.get(pool, 0.0))
            params[:, layout.index("casa", f"het_phi_{pool}")] = np.maximum(het.phi_min, phi_linear(cvk, cvc, rho))


def mimics_columns(
    sparams: np.ndarray, moisture: MoistureOptions, het: Heterogeneity, table: dict[str, np.ndarray] | None = None
) -> None:
    """The MIMICS switches, CVs and correlations (in place); ``table`` holds per-cell overrides."""
    sparams[:, layout.index("mimics", "fwontau")] = 1.0 if moisture.fw_on_tau else 0.0
    sparams[:, layout.index("mimics", "phi_min")] = het.phi_min
    if het.het_mm:
        sparams[:, layout.index("mimics", "het_mm")] = 1.0
    for p in MIMICS_CV_POOLS:
        sparams[:, layout.index("mimics", f"cv_{p}")] = het.cv.get(p, 0.0)
    for r in MIMICS_RHO:
        sparams[:, layout.index("mimics", f"rho_{r}")] = het.rho.get(r, 0.0)
    for r in MIMICS_RHO_OX:
        sparams[:, layout.index("mimics", f"rho_ox_{r}")] = het.rho.get(f"ox_{r}", 0.0)
    sparams[:, layout.index("mimics", "cvk_desorp")] = het.cv.get("k_desorp", 0.0)
    sparams[:, layout.index("mimics", "rho_desorp")] = het.rho.get("desorp", 0.0)
    sparams[:, layout.index("mimics", "cv_vmax")] = het.cv.get("vmax", 0.0)
    for r in ("s", "m"):
        sparams[:, layout.index("mimics", f"rho_vmax_{r}")] = het.rho.get(f"vmax_{r}", 0.0)
    for name, values in (table or {}).items():
        if name in layout.TABLES["mimics"].names:
            sparams[:, layout.index("mimics", name)] = values


def options_from_config(cfg: RunConfig) -> tuple[MoistureOptions, DrySpell, Heterogeneity]:
    """The options of the &moisture, &perturbation (dry_*) and &heterogeneity groups of a namelist."""
    m, p, h = cfg.values["moisture"], cfg.values["perturbation"], cfg.values["heterogeneity"]
    try:
        years = tuple(int(y) for y in p["dry_years"].replace(",", " ").split())
    except ValueError:
        raise ConfigError(
            f"perturbation.dry_years = {p['dry_years']!r} must be whole numbers separated by commas"
        ) from None
    spell = DrySpell(p["dry_start"], p["dry_days"], p["dry_psi"], p["dry_dtsoil"], years)
    het = Heterogeneity(
        h["het_mm"],
        h["het_lin"],
        {**{q: h[f"cv_{q}"] for q in MIMICS_CV_POOLS}, "k_desorp": h["cvk_desorp"], "vmax": h["cv_vmax"]},
        {r: h[f"rho_{r}"] for r in (*MIMICS_RHO, *(f"ox_{x}" for x in MIMICS_RHO_OX), "desorp", "vmax_s", "vmax_m")},
        {q: h[f"cvc_{q}"] for q in CASA_HET_POOLS},
        {q: h[f"cvk_{q}"] for q in CASA_HET_POOLS},
        {q: h[f"rhokc_{q}"] for q in CASA_HET_POOLS},
        h["phi_min"],
    )
    return MoistureOptions(m["fw_psi"], m["fw_min"], m["fw_on_tau"]), spell, het
