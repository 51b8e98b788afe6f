"""Options of root exudation (seed_processes.md 1; docs/exudation.md).

They reach the kernel as per-cell columns of the CASA parameter array (``exud_*``, testbed/layout.toml) and of
the MIMICS parameter array (``exud_*``, testbed/soil/mimics.toml). The default (legacy mode, continuous, the
parameter table's ``fracrootexud``) leaves every column at 0 and reproduces the original bit for bit. Every
check here runs before any compute.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import layout
from .errors import ConfigError

if TYPE_CHECKING:
    from .config import RunConfig

#: exudation modes (namelist value -> kernel code, exud_mode column)
MODES = {"legacy": 0, "plant": 1, "prescribed": 2}
#: the output option that adds the exudation and microbial diagnostics to the outputs (testbed.variables)
OUTPUT_OPTION = "exudation"


@dataclass(frozen=True)
class Exudation:
    """Root exudation: source mode, exudate C:N, routing into the soil model and schedule."""

    mode: str = "legacy"
    frac: float = -1.0  #: fraction of GPP exuded (modes legacy, plant); < 0: the table's fracrootexud
    cn: float = 40.0  #: exudate C:N (g C g-1 N); inf: N-free
    cn_pft: tuple[float, ...] = ()  #: per-PFT C:N (18 IGBP types), overrides cn
    flux: float = 0.0  #: prescribed exudate C (g C m-2 d-1), mode prescribed
    route_mimics: int = 0  #: 0 LITm, 1 direct microbial uptake
    route_casa: int = 0  #: 0 metabolic litter, 1 microbial pool with CUE
    fhmw: float = 0.0
    mge_r: float = 0.5
    mge_k: float = 0.7
    nue: float = 0.85
    cue: float = 0.45
    schedule: str = "continuous"
    pulse_start: int = 200
    pulse_number: int = 1
    pulse_period: int = 365
    pulse_length: int = 1
    pulse_amplitude: float = -1.0  #: < 0: period / length (mass-matched to continuous exudation)
    pulse_background: float = 0.0
    diagnostics: bool = False  #: MIMICS microbial diagnostics even without an exudation option

    @property
    def pulses(self) -> bool:
        return self.schedule == "pulses"

    @property
    def on(self) -> bool:
        """Whether any kernel column differs from the legacy default."""
        return self.mode != "legacy" or self.pulses or self.frac >= 0 or self.route_mimics or self.route_casa

    @property
    def amplitude(self) -> float:
        """The schedule factor on pulse days."""
        if self.pulse_amplitude >= 0:
            return self.pulse_amplitude
        return self.pulse_period / self.pulse_length

    def check(self, icycle: int | None = None) -> None:
        """Errors of the options alone (and with the run's cycle, if given)."""
        if self.mode not in MODES:
            raise ConfigError(f"exudation.mode = {self.mode!r} must be one of {', '.join(MODES)}")
        for name in ("cn", *(() if not self.cn_pft else ("cn_pft",))):
            values = (self.cn,) if name == "cn" else self.cn_pft
            if any(not (v > 0) for v in values):
                raise ConfigError(f"exudation.{name}: the exudate C:N must be > 0 (inf for N-free exudate)")
        if self.cn_pft and len(self.cn_pft) != 18:
            raise ConfigError(f"exudation.cn_pft has {len(self.cn_pft)} values; give one per IGBP type (18)")
        if self.frac > 1:
            raise ConfigError(f"exudation.frac = {self.frac} must be a fraction of GPP (<= 1; < 0: the table's)")
        if self.flux < 0:
            raise ConfigError(f"exudation.flux = {self.flux} g C m-2 d-1 must be >= 0")
        for name in ("fhmw", "mge_r", "mge_k", "nue", "cue"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"exudation.{name} = {v} must lie within [0, 1]")
        for name in ("route_mimics", "route_casa"):
            if getattr(self, name) not in (0, 1):
                raise ConfigError(f"exudation.{name} = {getattr(self, name)} must be 0 (litter) or 1 (microbes)")
        if self.schedule not in ("continuous", "pulses"):
            raise ConfigError(f"exudation.schedule = {self.schedule!r} must be continuous or pulses")
        if self.pulses:
            self._check_pulses()
        if icycle == 1 and self.route_mimics == 1:
            raise ConfigError(
                "exudation.route_mimics = 1 needs a C+N run (run.cycle = 'cn'): the microbes' carbon-use "
                "efficiency of direct exudate uptake follows from their N balance (seed_processes.md 1.3)"
            )

    def _check_pulses(self) -> None:
        d0, n, tp, dp = self.pulse_start, self.pulse_number, self.pulse_period, self.pulse_length
        if n < 1 or dp < 1 or tp < 1:
            raise ConfigError("exudation pulses: pulse_number, pulse_length and pulse_period must be >= 1")
        if n > 1 and dp > tp:
            raise ConfigError(f"exudation pulses overlap: pulse_length {dp} d is longer than pulse_period {tp} d")
        last = d0 + (n - 1) * tp + dp - 1
        if d0 < 1 or last > 365:
            raise ConfigError(
                f"the exudation pulse schedule (pulse_start {d0}, {n} pulse(s) every {tp} d, {dp} d long) runs "
                f"from day {d0} to day {last}: it must lie within days 1-365 of the year"
            )
        if self.pulse_background < 0 or (self.pulse_amplitude < 0 and self.pulse_amplitude != -1.0):
            raise ConfigError("exudation pulses: pulse_amplitude (or -1 for period/length) and background >= 0")


def read_cn_table(path: str | Path, ncell: int) -> np.ndarray:
    """A per-cell exudate C:N table (CSV with a header line and a column ``cn``, one row per cell in the soil
    table's order; ``inf`` for N-free exudate), checked."""
    try:
        tab = np.genfromtxt(path, delimiter=",", names=True, dtype=float)
        cn = np.atleast_1d(tab["cn"]).astype(float)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not an exudate C:N table with a column cn ({exc})") from None
    if cn.size != ncell:
        raise ConfigError(f"{path}: the exudate C:N table has {cn.size} rows for {ncell} cells")
    bad = np.flatnonzero(~(cn > 0))
    if bad.size:
        raise ConfigError(f"{path}: row {bad[0] + 1} has exudate C:N {cn[bad[0]]:g}; it must be > 0 (inf: N-free)")
    return cn


def kernel_cn(cn: np.ndarray) -> np.ndarray:
    """The exud_cn column: the C:N, with 0 for N-free (infinite C:N) exudate."""
    cn = np.asarray(cn, dtype=float)
    return np.where(np.isinf(cn), 0.0, cn)


def columns(
    ex: Exudation,
    params: np.ndarray,
    sparams: np.ndarray,
    soil_model: str,
    pft: np.ndarray,
    cn_cells: np.ndarray | None = None,
) -> None:
    """Fill the exudation columns of the CASA (``params``) and soil (``sparams``) parameter arrays in place."""
    if ex.on:
        put = {n: layout.index("casa", n) for n in layout.TABLES["casa"].names if n.startswith("exud_")}
        params[:, put["exud_mode"]] = float(MODES[ex.mode])
        if ex.frac >= 0:
            params[:, layout.index("casa", "fracrootexud")] = ex.frac
        if cn_cells is not None:
            cn = cn_cells
        elif ex.cn_pft:
            cn = np.asarray(ex.cn_pft, dtype=float)[pft - 1]
        else:
            cn = np.full(params.shape[0], ex.cn)
        params[:, put["exud_cn"]] = kernel_cn(cn)
        params[:, put["exud_flux"]] = ex.flux
        params[:, put["exud_route_casa"]] = float(ex.route_casa)
        params[:, put["exud_cue"]] = ex.cue
        if ex.pulses:
            params[:, put["exud_pulse"]] = 1.0
            params[:, put["exud_d0"]] = float(ex.pulse_start)
            params[:, put["exud_np"]] = float(ex.pulse_number)
            params[:, put["exud_tp"]] = float(ex.pulse_period)
            params[:, put["exud_dp"]] = float(ex.pulse_length)
            params[:, put["exud_amp"]] = ex.amplitude
            params[:, put["exud_sbg"]] = ex.pulse_background
    table = layout.TABLES.get(soil_model)
    if table is None or "exud_route" not in table.names:
        return
    sparams[:, layout.index(soil_model, "exud_route")] = float(ex.route_mimics)
    sparams[:, layout.index(soil_model, "exud_fhmw")] = ex.fhmw
    sparams[:, layout.index(soil_model, "exud_mge_r")] = ex.mge_r
    sparams[:, layout.index(soil_model, "exud_mge_k")] = ex.mge_k
    sparams[:, layout.index(soil_model, "exud_nue")] = ex.nue
    sparams[:, layout.index(soil_model, "exud_diag")] = 1.0 if (ex.on or ex.diagnostics) else 0.0


def _floats(text: str, key: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.replace(",", " ").split())
    except ValueError:
        raise ConfigError(f"exudation.{key} = {text!r} must be numbers separated by commas") from None


def options_from_config(cfg: RunConfig) -> Exudation:
    """The options of the &exudation group of a namelist."""
    e = cfg.values["exudation"]
    cn = e["cn"]
    return Exudation(
        mode=e["mode"],
        frac=e["frac"],
        cn=math.inf if e["n_free"] else cn,
        cn_pft=_floats(e["cn_pft"], "cn_pft"),
        flux=e["flux"],
        route_mimics=e["route_mimics"],
        route_casa=e["route_casa"],
        fhmw=e["fhmw"],
        mge_r=e["mge_r"],
        mge_k=e["mge_k"],
        nue=e["nue"],
        cue=e["cue"],
        schedule=e["schedule"],
        pulse_start=e["pulse_start"],
        pulse_number=e["pulse_number"],
        pulse_period=e["pulse_period"],
        pulse_length=e["pulse_length"],
        pulse_amplitude=e["pulse_amplitude"],
        pulse_background=e["pulse_background"],
        diagnostics=e["diagnostics"],
    )
