"""A configured model: domain + parameter sets + soil model, and its per-cell arrays.

:class:`Model` gathers the per-PFT tables into the per-cell parameter arrays the
kernel takes (once per run), builds the initial state (cold start from the
parameter table, or from a restart), and is what the runner hands to the kernel.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from . import kernel, layout
from . import soil as soil_models
from .domain import Domain, PhenologyTable
from .errors import ConfigError
from .params import CasaParameterSet, MimicsParameterSet
from .soil import SoilModel

SOIL_MODELS = ("casa", "mimics")
#: fix options the MIMICS path of the kernel does not implement (refused rather than silently ignored)
CASA_ONLY_FIXES = ("exudate_from_npp", "floor_mineral_n")

# casa parameter column -> parameter-set name, for the columns gathered by PFT
_GATHER = {
    "ivt2": "ivt2", "kroot": "kroot", "rootdepth": "rootdepth", "kminn": "kminn", "fracherb": "fracherb",
    "age_leaf": "age_leaf", "age_wood": "age_wood", "age_froot": "age_froot", "age_met": "age_met",
    "age_str": "age_str", "age_cwd": "age_cwd", "age_mic": "age_mic", "age_slow": "age_slow",
    "age_pass": "age_pass", "age_clabile": "age_clabile", "sla": "sla",
    "calloc_leaf": "calloc_leaf", "calloc_wood": "calloc_wood", "calloc_froot": "calloc_froot",
    "rm_wood": "rm_wood", "rm_froot": "rm_froot", "rm_leaf": "rm_leaf",
    "cn_leaf": "cn_leaf", "cn_wood": "cn_wood", "cn_froot": "cn_froot",
    "ftrans_leaf": "ftrans_leaf", "ftrans_wood": "ftrans_wood", "ftrans_froot": "ftrans_froot",
    "lig_leaf": "lig_leaf", "lig_wood": "lig_wood", "lig_froot": "lig_froot",
    "cn_mic": "cn_mic", "cn_slow": "cn_slow", "cn_pass": "cn_pass",
    "cnmin_mic": "cnmin_mic", "cnmin_slow": "cnmin_slow", "cnmin_pass": "cnmin_pass",
    "cnmax_mic": "cnmax_mic", "cnmax_slow": "cnmax_slow", "cnmax_pass": "cnmax_pass",
    "laimax": "laimax", "laimin": "laimin", "tkshed": "tkshed",
    "xkleafcoldmax": "xkleafcoldmax", "xkleafcoldexp": "xkleafcoldexp",
    "xkleafdrymax": "xkleafdrymax", "xkleafdryexp": "xkleafdryexp",
    "nc_leaf_min": "nc_leaf_min", "nc_leaf_max": "nc_leaf_max", "nc_wood_min": "nc_wood_min",
    "nc_wood_max": "nc_wood_max", "nc_froot_min": "nc_froot_min", "nc_froot_max": "nc_froot_max",
    "xnminloss": "xnminloss", "xnleach": "xnleach", "nfixrate": "nfixrate",
    "np_leaf_min": "np_leaf_min", "np_wood_min": "np_wood_min", "np_froot_min": "np_froot_min",
    "q10soil": "q10soil", "xkoptlitter": "xkoptlitter", "xkoptsoil": "xkoptsoil",
    "maxfinelitter": "maxfinelitter", "maxcwd": "maxcwd",
    "xknlimitmin": "xknlimitmin", "xknlimitmax": "xknlimitmax", "fracrootexud": "fracrootexud",
    "cue_metb_mic": "cue_metb_mic", "cue_str_mic": "cue_str_mic", "cue_str_slow": "cue_str_slow",
    "cue_cwd_mic": "cue_cwd_mic", "cue_cwd_slow": "cue_cwd_slow", "cue_mic_slow": "cue_mic_slow",
    "cue_mic_pass": "cue_mic_pass", "cue_pass_slow": "cue_pass_slow",
}

# state column <- cold-start table name
_COLD_STATE = {
    "cleaf": "init_cleaf", "cwood": "init_cwood", "cfroot": "init_cfroot",
    "cmet": "init_cmet", "cstr": "init_cstr", "ccwd": "init_ccwd",
    "cmic": "init_cmic", "cslow": "init_cslow", "cpass": "init_cpass",
    "nleaf": "init_nleaf", "nwood": "init_nwood", "nfroot": "init_nfroot",
    "nmet": "init_nmet", "nstr": "init_nstr", "ncwd": "init_ncwd",
    "nmic": "init_nmic", "nslow": "init_nslow", "npass": "init_npass", "nsoilmin": "init_nsoilmin",
    "pleaf": "init_pleaf", "pwood": "init_pwood", "pfroot": "init_pfroot",
}


@dataclass
class Model:
    """Everything the kernel needs that does not change during a run."""

    domain: Domain
    casa: CasaParameterSet
    phenology: PhenologyTable
    soil_model: str = "casa"
    icycle: int = 2
    mimics: MimicsParameterSet | None = None
    fixes: Mapping[str, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.soil_model not in SOIL_MODELS:
            raise ConfigError(f"soil_model must be one of {SOIL_MODELS}, not {self.soil_model!r}")
        if self.icycle not in (1, 2):
            raise ConfigError(f"icycle (cycle) must be 1 (C) or 2 (C+N), not {self.icycle}; "
                              "the original's P cycle (3) is broken and not offered")
        if self.soil_model == "mimics" and self.mimics is None:
            raise ConfigError("a MIMICS run needs a MIMICS parameter set")
        for name, on in self.fixes.items():
            layout.index("fix", name)
            if on and self.soil_model == "mimics" and name in CASA_ONLY_FIXES:
                raise ConfigError(f"fix option {name!r} is implemented for the CASA soil model only; "
                                  "switch it off for MIMICS runs (docs/quirks.md)")
        self.fix_flags = kernel.fix_flags(self.fixes)
        self.params = self._casa_params()
        self.mparams = self._mimics_params() if self.soil_model == "mimics" else None
        self.greenup, self.fall, self.phase0 = self.phenology.lookup(self.domain.lat, self.domain.pft)

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

        for col, name in _GATHER.items():
            put(col, self.casa[name][idx])
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

    def _mimics_params(self) -> np.ndarray:
        assert self.mimics is not None
        d = self.domain
        m = np.zeros((d.ncell, layout.NMIMICSPARAM), order="F")
        for k, name in enumerate(layout.MIMICS_PARAMS[:93]):
            m[:, k] = self.mimics.fixed[name]
        m[:, layout.index("mimics", "depth")] = self.mimics.depth_cm[d.pft - 1]
        m[:, layout.index("mimics", "fwfunction")] = float(self.mimics.fw_function)
        return m

    def subset(self, cells: slice) -> Model:
        """The same model restricted to a contiguous range of cells (for chunked runs)."""
        return Model(self.domain.subset(cells), self.casa, self.phenology, self.soil_model, self.icycle,
                     self.mimics, dict(self.fixes))

    # ------------------------------------------------------------------ initial state
    def cold_state(self) -> np.ndarray:
        """The cold-start state (casa.md 6.1, mimics.md 7.1)."""
        idx = self.domain.pft - 1
        state = kernel.empty_state(self.ncell)
        for col, name in _COLD_STATE.items():
            state[:, layout.index("state", col)] = self.casa[name][idx]
        state[:, layout.index("state", "phase")] = self.phase0.astype(np.float64)
        kernel.casa_initialise(state, self.params, self.icycle, True, self.fix_flags)
        if self.soil_model == "mimics":
            kernel.mimics_initialise(state, self.params, self.mparams, self.icycle, True)
        return state

    def restart_state(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        """The state of a restart: cold-start values overwritten by ``values`` (state column -> per-cell array).

        Then the restart initialisation (clamps, labile C reset) is applied
        (casa.md 6.2, mimics.md 7.2).
        """
        state = self.cold_state()
        for col, arr in values.items():
            state[:, layout.index("state", col)] = arr
        kernel.casa_initialise(state, self.params, self.icycle, False, self.fix_flags)
        if self.soil_model == "mimics":
            kernel.mimics_initialise(state, self.params, self.mparams, self.icycle, False)
        return state
