"""The CASA-CN soil model (spec casa.md): metabolic and structural litter, microbial, slow and passive SOM.

Its pools are columns of the host (CASA-CNP) state, in g m-2; it needs no parameter set of its own.
"""

from __future__ import annotations

from .base import CARBON, NITROGEN, SoilModel, _pools

MODEL = SoilModel(
    name="casa",
    long_name="CASA-CN soil (litter and three soil organic matter pools)",
    pools=(
        *_pools(CARBON, "litter", ("cmet", "clitmetb", None), ("cstr", "clitstr", None)),
        *_pools(CARBON, "soil microbial", ("cmic", "csoilmic", None)),
        *_pools(CARBON, "soil", ("cslow", "csoilslow", None), ("cpass", "csoilpass", None)),
        *_pools(NITROGEN, "litter", ("nmet", "nlitmetb", None), ("nstr", "nlitstr", None)),
        *_pools(NITROGEN, "soil microbial", ("nmic", "nsoilmic", None)),
        *_pools(NITROGEN, "soil", ("nslow", "nsoilslow", None), ("npass", "nsoilpass", None)),
    ),
    legacy_isom=1,
    kernel_advance="advance_casa",
)
