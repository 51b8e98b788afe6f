"""The MIMICS-CN soil model (spec mimics.md): two litter pools, r- and K-selected microbes, three SOM pools.

Its pools are held in the kernel state in mg cm-3 over the soil depth D (cm) of the cell's PFT, as in
the original's restart files; 1 mg cm-3 over D cm is 10 D g m-2.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .base import CARBON, NITROGEN, SoilModel, _pools

if TYPE_CHECKING:
    from ..model import Model


def _mg_cm3_to_g_m2(model: Model) -> np.ndarray:
    from .. import layout

    return 10.0 * model.mparams[:, layout.index("mimics", "depth")]


MIMICS = SoilModel(
    name="mimics",
    long_name="MIMICS-CN soil (microbial-explicit: litter, r- and K-selected microbes, three SOM pools)",
    pools=(
        *_pools(CARBON, "litter", ("litm", "cLITm", None), ("lits", "cLITs", None)),
        *_pools(CARBON, "soil microbial", ("micr", "cMICr", None), ("mick", "cMICk", None)),
        *_pools(CARBON, "soil", ("soma", "cSOMa", None), ("somc", "cSOMc", None), ("somp", "cSOMp", None)),
        *_pools(NITROGEN, "litter", ("litmn", "nLITm", None), ("litsn", "nLITs", None)),
        *_pools(NITROGEN, "soil microbial", ("micrn", "nMICr", None), ("mickn", "nMICk", None)),
        *_pools(NITROGEN, "soil", ("soman", "nSOMa", None), ("somcn", "nSOMc", None), ("sompn", "nSOMp", None)),
    ),
    state_to_gm2=_mg_cm3_to_g_m2,
    extra_prognostic=("npp_prev",),
    unsupported_fixes=("exudate_from_npp", "floor_mineral_n"),
)
