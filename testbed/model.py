"""A configured model: domain + parameter sets + soil model, and its per-cell arrays.

:class:`Model` gathers the per-PFT tables into the per-cell parameter arrays the
kernel takes (once per run), builds the initial state (cold start from the
parameter table, or from a restart), and is what the runner hands to the kernel.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import kernel, layout
from . import soil as soil_models
from .domain import Domain, PhenologyTable
from .errors import ConfigError
from .exudation import OUTPUT_OPTION, Exudation
from .exudation import columns as exudation_columns
from .params import CASA_PFT_PARAMETERS, CasaParameterSet
from .scenarios import (
    DrySpell,
    Heterogeneity,
    MoistureOptions,
    casa_columns,
    dry_spell_params,
    van_genuchten_columns,
)
from .soil import SoilModel

# state column <- cold-start table name: every state column with an initial pool in the PFT table
_COLD_STATE = {col: f"init_{col}" for col in layout.STATE if f"init_{col}" in CASA_PFT_PARAMETERS}


@dataclass
class Model:
    """Everything the kernel needs that does not change during a run."""

    domain: Domain
    casa: CasaParameterSet
    phenology: PhenologyTable
    soil_model: str = "casa"
    icycle: int = 2
    soil_params: Any = None  #: the soil model's own parameter set (testbed.soil ParameterSpec), if it has one
    fixes: Mapping[str, bool] = field(default_factory=dict)
    moisture: MoistureOptions = field(default_factory=MoistureOptions)  #: psi-based fW (seed_processes.md 2.3)
    dry_spell: DrySpell = field(default_factory=DrySpell)  #: dry-spell forcing (2.1)
    heterogeneity: Heterogeneity = field(default_factory=Heterogeneity)  #: sub-grid heterogeneity (3)
    vg_table: np.ndarray | None = None  #: user's per-cell (theta_r, alpha, n), else class means from texture
    het_table: dict[str, np.ndarray] | None = None  #: per-cell CVs and correlations overriding the namelist
    exudation: Exudation = field(default_factory=Exudation)  #: root exudation (seed_processes.md 1)
    exudate_cn: np.ndarray | None = None  #: per-cell exudate C:N (inf: N-free) overriding the namelist

    def __post_init__(self) -> None:
        soil = self.soil
        if self.icycle not in soil.cycles:
            cycles = " or ".join({1: "1 (C)", 2: "2 (C+N)"}[c] for c in soil.cycles)
            raise ConfigError(
                f"icycle (cycle) must be {cycles} for the {soil.name} soil model, not {self.icycle}"
                + ("; the original's P cycle (3) is broken and not offered" if self.icycle == 3 else "")
            )
        if soil.parameters and self.soil_params is None:
            raise ConfigError(f"a {soil.name} run needs its parameter set ({soil.parameters.config_key})")
        # fix options a soil model does not offer: those it lists, and those another soil model declares
        others = {
            layout.TABLES["fix"].names[i]
            for p in layout.DECLARATIONS[1:]
            if p.stem != soil.name
            for i in layout.block("fix", p.stem)
        }
        for name, on in self.fixes.items():
            layout.index("fix", name)
            if on and (name in soil.unsupported_fixes or name in others):
                raise ConfigError(
                    f"fix option {name!r} is not implemented for the {soil.name} soil model; "
                    "switch it off for this run (docs/quirks.md)"
                )
        self.fix_flags = kernel.fix_flags(self.fixes)
        self.params = self._casa_params()
        self.sparams = (
            soil.parameters.gather(self.soil_params, self.domain.pft)
            if soil.parameters
            else np.zeros((self.ncell, 0), order="F")
        )
        self._exudation_columns()
        self._scenario_columns()
        self.greenup, self.fall, self.phase0 = self.phenology.lookup(self.domain.lat, self.domain.pft)

    @property
    def parameter_hashes(self) -> dict[str, str]:
        """sha256 of every parameter set of the run, by the namelist key that names its file."""
        out = {"files.casa_params": self.casa.sha256}
        if self.soil.parameters:
            out[self.soil.parameters.config_key] = self.soil_params.sha256
        return out

    @property
    def soil(self) -> SoilModel:
        """The soil model's description (testbed.soil)."""
        return soil_models.get(self.soil_model)

    @property
    def ncell(self) -> int:
        return self.domain.ncell

    def _casa_params(self) -> np.ndarray:
        d = self.domain
        idx = d.pft - 1
        p = np.zeros((d.ncell, layout.NCASAPARAM), order="F")

        def put(name: str, values: np.ndarray) -> None:
            p[:, layout.index("casa", name)] = values

        for col in layout.TABLES["casa"].columns:
            if col.source == "pft":
                put(col.name, self.casa[col.name][idx])
        put("iveg", d.pft.astype(np.float64))
        for name in ("clay", "silt", "swilt", "sfc", "ssat"):
            put(name, getattr(d, name))
        greenup, fall, _ = self.phenology.lookup(d.lat, d.pft)
        put("greenup", greenup.astype(np.float64))
        put("fall", fall.astype(np.float64))
        # table litter N:C of the cold-start pools (woody-only CWD, structural at C:N 150),
        # used only by the restart-write reset of icycle 1 (casa.md Q5)
        woody = np.isin(self.casa["ivt2"][idx], (2.0, 3.0))
        cmet, cstr = self.casa["init_cmet"][idx], self.casa["init_cstr"][idx]
        ccwd = np.where(woody, self.casa["init_ccwd"][idx], 0.0)
        nmet = self.casa["init_nmet"][idx]
        nstr = cstr * (1.0 / 150.0)
        ncwd = np.where(woody, self.casa["init_ncwd"][idx], 0.0)
        put("nclitter_met", nmet / (cmet + 1.0e-10))
        put("nclitter_str", nstr / (cstr + 1.0e-10))
        put("nclitter_cwd", ncwd / (ccwd + 1.0e-10))
        return p

    def _exudation_columns(self) -> None:
        """The root-exudation columns (seed_processes.md 1); the defaults leave them at 0."""
        self.exudation.check(self.icycle)
        if self.exudate_cn is not None and self.exudate_cn.shape != (self.ncell,):
            raise ConfigError(f"the exudate C:N table has {self.exudate_cn.size} rows for {self.ncell} cells")
        exudation_columns(self.exudation, self.params, self.sparams, self.soil_model, self.domain.pft, self.exudate_cn)

    def _scenario_columns(self) -> None:
        """The moisture and heterogeneity columns (seed_processes.md 2, 3); all off leaves them at 0."""
        for opt in (self.moisture, self.dry_spell, self.heterogeneity):
            opt.check()
        soil = self.soil
        params_psi = soil.psi_scalar_in_params(self.soil_params)
        switches = {
            "heterogeneity.het_mm": self.heterogeneity.het_mm,
            "heterogeneity.het_lin": self.heterogeneity.het_lin,
            "moisture.fw_psi": self.moisture.fw_psi,
        }
        for key, on in switches.items():
            if on and key not in soil.scenario_options:
                raise ConfigError(
                    f"{key} is not available for the {soil.name} soil model (it offers: "
                    f"{', '.join(soil.scenario_options) or 'none'}; docs/moisture_heterogeneity.md)"
                )
        self.uses_vg = self.moisture.fw_psi or params_psi or self.dry_spell.on
        if self.uses_vg:
            d = self.domain
            van_genuchten_columns(self.params, d.sand, d.silt, d.clay, self.vg_table)
        for name, values in (self.het_table or {}).items():
            if values.shape != (self.ncell,):
                raise ConfigError(
                    f"the heterogeneity table's column {name} has {values.size} rows for {self.ncell} cells"
                )
        casa_columns(self.params, self.moisture, self.heterogeneity, self.het_table)
        if soil.scenario_columns:
            soil.scenario_columns(self.sparams, self.moisture, self.heterogeneity, self.het_table)
        self._dry_params = dry_spell_params(self.params, self.dry_spell) if self.dry_spell.on else None

    @property
    def output_options(self) -> frozenset[str]:
        """The run options whose output variables the run writes (``OutputVar.option``): ``psi`` (a
        water-potential fW), ``dry_spell``, ``het_mm``, ``het_lin`` (docs/moisture_heterogeneity.md), ``exudation``
        (an exudation mode or its diagnostics, docs/exudation.md)."""
        on = {
            OUTPUT_OPTION: self.exudation.on or self.exudation.diagnostics,
            "psi": self.moisture.fw_psi or self.soil.psi_scalar_in_params(self.soil_params),
            "dry_spell": self.dry_spell.on,
            "het_mm": self.heterogeneity.het_mm,
            "het_lin": self.heterogeneity.het_lin,
        }
        return frozenset(k for k, v in on.items() if v)

    def static_fields(self) -> dict[str, tuple[np.ndarray, dict]]:
        """Optional static per-cell output fields: the van Genuchten parameters when an option uses them, the
        CASA heterogeneity factors with ``het_lin``."""
        out = {}
        if self.heterogeneity.het_lin:  # the CASA factors 1 + rho CVk CVC, constant per cell (seed_processes.md 3.2)
            for name in layout.TABLES["casa"].names:
                if name.startswith("het_phi_"):
                    col = layout.column("casa", name)
                    pool = name.removeprefix("het_phi_")
                    attrs = {"units": col.units, "long_name": f"{col.long_name} ({pool})"}
                    out[name] = (self.params[:, layout.index("casa", name)].copy(), attrs)
        if not self.uses_vg:
            return out
        for name in ("vg_theta_r", "vg_alpha", "vg_n"):
            col = layout.column("casa", name)
            out[name] = (
                self.params[:, layout.index("casa", name)].copy(),
                {"units": col.units, "long_name": col.long_name},
            )
        out["vg_theta_s"] = (
            self.params[:, layout.index("casa", "ssat")].copy(),
            {
                "units": "m3 m-3",
                "long_name": "van Genuchten saturated water content (the soil table's saturation content)",
            },
        )
        return out

    def params_for_year(self, count: int) -> np.ndarray:
        """The CASA parameter array of simulation year ``count`` (with the dry spell where it applies)."""
        if self._dry_params is not None and self.dry_spell.applies(count):
            return self._dry_params
        return self.params

    def subset(self, cells: slice) -> Model:
        """The same model restricted to a contiguous range of cells (for chunked runs)."""
        return Model(
            self.domain.subset(cells),
            self.casa,
            self.phenology,
            self.soil_model,
            self.icycle,
            self.soil_params,
            dict(self.fixes),
            self.moisture,
            self.dry_spell,
            self.heterogeneity,
            None if self.vg_table is None else self.vg_table[cells],
            None if self.het_table is None else {k: v[cells] for k, v in self.het_table.items()},
            self.exudation,
            None if self.exudate_cn is None else self.exudate_cn[cells],
        )

    # ------------------------------------------------------------------ initial state
    def cold_state(self) -> np.ndarray:
        """The cold-start state (casa.md 6.1, mimics.md 7.1)."""
        idx = self.domain.pft - 1
        state = kernel.empty_state(self.ncell)
        for col, name in _COLD_STATE.items():
            state[:, layout.index("state", col)] = self.casa[name][idx]
        state[:, layout.index("state", "phase")] = self.phase0.astype(np.float64)
        kernel.initialise(self.soil, state, self.params, self.sparams, self.icycle, True, self.fix_flags)
        return state

    def restart_state(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        """The state of a restart: cold-start values overwritten by ``values`` (state column -> per-cell array).

        Then the restart initialisation (clamps, labile C reset) is applied
        (casa.md 6.2, mimics.md 7.2).
        """
        state = self.cold_state()
        for col, arr in values.items():
            state[:, layout.index("state", col)] = arr
        kernel.initialise(self.soil, state, self.params, self.sparams, self.icycle, False, self.fix_flags)
        return state
