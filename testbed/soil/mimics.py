"""The MIMICS-CN soil model (spec mimics.md): two litter pools, r- and K-selected microbes, three SOM pools.

Its pools are held in the kernel state in mg cm-3 over the soil depth D (cm) of the cell's PFT, as in
the original's restart files; 1 mg cm-3 over D cm is 10 D g m-2. Its kernel columns are declared in
``mimics.toml`` beside this file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..variables import CN, OutputVar
from .base import CARBON, NITROGEN, ParameterSpec, PoolCSV, SoilModel, _pools

if TYPE_CHECKING:
    from ..model import Model
    from ..params import MimicsParameterSet


def _mg_cm3_to_g_m2(model: Model) -> np.ndarray:
    from .. import layout

    return 10.0 * model.sparams[:, layout.index("mimics", "depth")]


def _load(path):
    from ..params import load_mimics_parameters

    return load_mimics_parameters(path)


def _write(pset: MimicsParameterSet, path, title: str) -> None:
    from ..params import write_mimics_namelist

    write_mimics_namelist(pset, path, title=title)


def _gather(pset: MimicsParameterSet, pft: np.ndarray) -> np.ndarray:
    """Per-cell MIMICS kernel array: the fixed parameters, the PFT's soil depth and the fW switch."""
    from .. import layout

    table = layout.TABLES["mimics"]
    m = np.zeros((pft.size, len(table.columns)), order="F")
    for k, col in enumerate(table.columns):
        if col.source == "param":
            m[:, k] = pset.fixed[col.name]
    m[:, layout.index("mimics", "depth")] = pset.depth_cm[pft - 1]
    m[:, layout.index("mimics", "fwfunction")] = float(pset.fw_function)
    return m


def _scenario_columns(sparams, moisture, het, table) -> None:
    from ..scenarios import mimics_columns

    mimics_columns(sparams, moisture, het, table)


def _csv_lead(model: Model, state: np.ndarray, c: int, year_count: int) -> str:
    d = model.domain
    return f"{year_count:6d},{c + 1:7d},{int(d.pft[c]):7d}," + "".join(
        f"{v:19.10f}," for v in (d.lat[c], d.lon[c], d.area[c] * 1e-9)
    )


_C = ("litm", "lits", "micr", "mick", "soma", "somc", "somp")
_N = ("litmn", "litsn", "micrn", "mickn", "soman", "somcn", "sompn")

MODEL = SoilModel(
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
    kernel_advance="advance_mimics",
    kernel_initialise="mimics_initialise",
    legacy_isom=2,
    parameters=ParameterSpec("files.mimics_params", "params_mimics.nml", _load, "mimics", _gather, _write, lst_line=18),
    legacy_csv=PoolCSV(
        file_name="mimicspool_end.csv",
        config_key="files.legacy_restart_mimics",
        header="iYrCnt,npt,veg%iveg,casamet%lat,casamet%lon,casamet%areacell,"
        + ",".join(
            f"mimicspool%{n}"
            for n in (
                "LITm",
                "LITs",
                "MICr",
                "MICk",
                "SOMa",
                "SOMc",
                "SOMp",
                "LITmN",
                "LITsN",
                "MICrN",
                "MICkN",
                "SOMaN",
                "SOMcN",
                "SOMpN",
            )
        ),
        nlead=6,
        carbon=_C,
        nitrogen=_N,
        width=19,
        decimals=10,
        sep=",",
        lead=_csv_lead,
        lst_line=19,
    ),
    state_to_gm2=_mg_cm3_to_g_m2,
    extra_prognostic=("npp_prev",),
    explicit_microbes=True,
    scenario_options=("heterogeneity.het_mm",),
    # measured on the reference and global domains (docs/spinup.md "Status", "Benchmark"): in C runs newton on the
    # forcing cycle's map settles every cell (anderson and sasu do not); in C+N runs the cycle map is not smooth
    # where N limitation switches, and sasu after the plain 10-year prespin settles the global domain in the fewest
    # years (every 8th global cell: 890 and 870 simulated years to the criteria; after a newton prespin of the
    # one-year map 1,400 and 1,060; anderson 2,140 and 2,820); aitken then settles the C+N run's drifting boreal
    # cells in fewer cycles than plain cycling (measured after anderson; not measured for C runs). freeze_after = 3
    # in C+N runs (docs/spinup.md "Frozen cells"): on the global domain the same 830 simulated years and an end state
    # within 0.5 % of the unfrozen one in every cell, 514 simulated years per vegetated cell instead of 830; on the
    # reference domain the same cells beyond 0.5 % of brute force. C runs keep 0 (newton's Jacobians need every cell)
    spinup_auto=(
        # a settle stage last (docs/spinup.md "Settle"): the per-cycle criteria hold at turning points of the barren
        # cells' slow oscillations of microbes and substrate; on the reference domain 3 (total, cell) pairs of
        # MIMICS-CN were beyond 0.5 % of brute force without it, none with it (MIMICS-C: none either way)
        ("stages", "prespin accelerate cycle settle", "prespin accelerate cycle settle"),
        ("accelerate_method", "newton", "sasu"),
        ("cycle_method", "cycle", "aitken"),
        ("freeze_after", 0, 3),
    ),
    # sasu (docs/spinup.md "sasu for MIMICS"): flux-weighted effective rates of the Michaelis-Menten pools; the
    # kernel sums the hourly fluxes only while a sasu stage switches sasu_diag on
    linear_pools=(
        ("cwood", "nwood"),
        ("cfroot", "nfroot"),
        ("ccwd", "ncwd"),
        *((c, c + "n") for c in ("litm", "lits", "micr", "mick", "soma", "somc", "somp")),
    ),
    sasu_switch="sasu_diag",
    sasu_keep=("micr", "mick"),
    scenario_columns=_scenario_columns,
    psi_scalar_in_params=lambda pset: pset.fw_function == 4,  # fW from water potential (seed_processes.md 2.3)
    outputs=(
        OutputVar("DIN", "din", "mean", CN),
        OutputVar(
            "cHresp",
            "chresp",
            "flux",
            standard_name=(
                "surface_upward_mass_flux_of_carbon_dioxide_expressed_as_carbon_due_to_heterotrophic_respiration"
            ),
        ),
        OutputVar("cSOMpIn", "csompin", "flux"),
        OutputVar("cLitInput_metb", "clitinput_met", "flux"),
        OutputVar("cLitInput_struc", "clitinput_str", "flux"),
        OutputVar("cOverflow_r", "overflow_r", "flux", CN),
        OutputVar("cOverflow_k", "overflow_k", "flux", CN),
        OutputVar("nLitInput_metb", "nlitinput_met", "flux", CN),
        OutputVar("nLitInput_struc", "nlitinput_str", "flux", CN),
        OutputVar("thetaLiq", "thetaliq_mimics", "mean"),
        OutputVar("thetaFrzn", "thetafrzn", "mean"),
        OutputVar("fW", "fw_mimics", "mean"),
        # root exudation and microbial diagnostics (docs/exudation.md), with an exudation option
        *(
            OutputVar(name, diag, kind, CN, option="exudation")
            for name, diag, kind in (
                ("cExudUptake", "exud_uptake", "flux"),
                ("cUptake_r", "uptake_r", "flux"),
                ("cUptake_k", "uptake_k", "flux"),
                ("cRespMic_r", "resp_r", "flux"),
                ("cRespMic_k", "resp_k", "flux"),
                ("CUE_r", "cue_r", "mean"),
                ("CUE_k", "cue_k", "mean"),
                ("CUE_mic", "cue_mic", "mean"),
                ("overflowShare", "overflow_share", "mean"),
                ("cNecromass_SOMp", "nec_somp", "flux"),
                ("cNecromass_SOMc", "nec_somc", "flux"),
                ("cNecromass_SOMa", "nec_soma", "flux"),
                ("nNecromass_SOMp", "necn_somp", "flux"),
                ("nNecromass_SOMc", "necn_somc", "flux"),
                ("nNecromass_SOMa", "necn_soma", "flux"),
            )
        ),
        # sub-grid heterogeneity (seed_processes.md 3.2): only in runs with het_mm
        OutputVar("hetClamped", "het_clamped", "flux", option="het_mm"),
    ),
    unsupported_fixes=("exudate_from_npp", "floor_mineral_n"),
)
