"""The CASA-CN soil model (spec casa.md): metabolic and structural litter, microbial, slow and passive SOM.

Its pools are columns of the host (CASA-CNP) state, in g m-2; it needs no parameter set of its own.
"""

from __future__ import annotations

from ..variables import OutputVar
from .base import CARBON, NITROGEN, SoilModel, _pools

MODEL = SoilModel(
    name="casa",
    long_name="CASA-CN soil (litter and three soil organic matter pools)",
    pools=(
        *_pools(CARBON, "litter", ("cmet", "clitmetb", None), ("cstr", "clitstr", None)),
        # CF's fast/medium/slow soil pools are CASA's microbial/slow/passive pools
        *_pools(CARBON, "soil microbial", ("cmic", "csoilmic", "fast_soil_pool_mass_content_of_carbon")),
        *_pools(
            CARBON,
            "soil",
            ("cslow", "csoilslow", "medium_soil_pool_mass_content_of_carbon"),
            ("cpass", "csoilpass", "slow_soil_pool_mass_content_of_carbon"),
        ),
        *_pools(NITROGEN, "litter", ("nmet", "nlitmetb", None), ("nstr", "nlitstr", None)),
        *_pools(NITROGEN, "soil microbial", ("nmic", "nsoilmic", None)),
        *_pools(NITROGEN, "soil", ("nslow", "nsoilslow", None), ("npass", "nsoilpass", None)),
    ),
    legacy_isom=1,
    kernel_advance="advance_casa",
    scenario_options=("moisture.fw_psi", "heterogeneity.het_lin"),
    sasu_switch="sasu_diag",
    linear_pools=(
        ("cwood", "nwood"),
        ("cfroot", "nfroot"),
        ("cmet", "nmet"),
        ("cstr", "nstr"),
        ("ccwd", "ncwd"),
        ("cmic", "nmic"),
        ("cslow", "nslow"),
        ("cpass", "npass"),
    ),
    outputs=(
        OutputVar("thetaLiq", "thetaliq", "mean"),
        OutputVar("fT", "ft", "mean"),
        OutputVar("fW", "fw", "mean"),
        OutputVar("cpassInpt", "cpassinpt", "flux"),
        OutputVar("cRespExudate", "hr_exudate", "flux", option="exudation"),
    ),
)
