"""Parameter sets: the shipped namelist format, and import of the original's CSV files.

A CASA parameter set holds one value per IGBP type (1..18) for each name in
:data:`CASA_PFT_PARAMETERS`. A MIMICS parameter set holds the 93 fixed
parameters, the soil depth per IGBP type and the moisture-function switch.
Both are stored in namelists (``namelists/params_*.nml``) that document every
parameter with its units and meaning. The readers of the original's
``pftlookup*.csv`` files exist to migrate existing setups.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path

import f90nml
import numpy as np

from .errors import InputError
from .metformat import FINITE, FRACTION, NON_NEGATIVE, POSITIVE, Range

NPFT = 18

#: CASA per-PFT parameters: name -> (units, meaning), in the original file's order.
CASA_PFT_PARAMETERS: dict[str, tuple[str, str]] = {
    # section A
    "ivt2": ("1", "vegetation class: 0 ice/water/urban/wetland (inactive), 1 grass, 2 shrub, 3 forest"),
    # section B
    "kroot": ("m-1", "e-folding coefficient of the root profile"),
    "rootdepth": ("m", "rooting depth"),
    "kuptake": ("1", "unused"),
    "krootlen": ("m gC-1", "unused"),
    "kminn": ("gN m-2", "half-saturation mineral N of plant N uptake"),
    "kuplabp": ("gP m-2", "P only (unused)"),
    "fracherb": ("1", "herbivory fraction of leaf turnover"),
    "age_leaf": ("yr", "leaf turnover age"),
    "age_wood": ("yr", "wood turnover age"),
    "age_froot": ("yr", "fine-root turnover age"),
    "age_met": ("yr", "metabolic litter turnover age"),
    "age_str": ("yr", "structural litter turnover age"),
    "age_cwd": ("yr", "coarse woody debris turnover age"),
    "age_mic": ("yr", "microbial (fast) SOM turnover age"),
    "age_slow": ("yr", "slow SOM turnover age"),
    "age_pass": ("yr", "passive SOM turnover age"),
    "age_clabile": ("yr", "labile C turnover age"),
    "sla": ("m2 gC-1", "specific leaf area"),
    # section C
    "calloc_leaf": ("1", "fixed NPP allocation to leaves"),
    "calloc_wood": ("1", "fixed NPP allocation to wood"),
    "calloc_froot": ("1", "fixed NPP allocation to fine roots"),
    "rm_leaf": ("gC gN-1 yr-1", "leaf maintenance respiration at 10 degC (unused by the original, casa.md Q3)"),
    "rm_wood": ("gC gN-1 yr-1", "wood maintenance respiration at 10 degC"),
    "rm_froot": ("gC gN-1 yr-1", "fine-root maintenance respiration at 10 degC"),
    # section D
    "cn_leaf": ("gC gN-1", "leaf C:N"),
    "cn_wood": ("gC gN-1", "wood C:N"),
    "cn_froot": ("gC gN-1", "fine-root C:N"),
    "ftrans_leaf": ("1", "fraction of senescing leaf N sent to litter (1 - resorption)"),
    "ftrans_wood": ("1", "fraction of senescing wood N sent to litter"),
    "ftrans_froot": ("1", "fraction of senescing fine-root N sent to litter"),
    "lig_leaf": ("g lignin gC-1", "leaf lignin fraction"),
    "lig_wood": ("g lignin gC-1", "CWD (wood) lignin fraction"),
    "lig_froot": ("g lignin gC-1", "fine-root lignin fraction"),
    "cn_mic": ("gC gN-1", "microbial SOM C:N (icycle 1 diagnostics)"),
    "cn_slow": ("gC gN-1", "slow SOM C:N (icycle 1 diagnostics)"),
    "cn_pass": ("gC gN-1", "passive SOM C:N (icycle 1 diagnostics)"),
    "cnmin_mic": ("gC gN-1", "minimum C:N of new microbial SOM"),
    "cnmin_slow": ("gC gN-1", "minimum C:N of new slow SOM"),
    "cnmin_pass": ("gC gN-1", "minimum C:N of new passive SOM"),
    "cnmax_mic": ("gC gN-1", "maximum C:N of new microbial SOM"),
    "cnmax_slow": ("gC gN-1", "maximum C:N of new slow SOM"),
    "cnmax_pass": ("gC gN-1", "maximum C:N of new passive SOM"),
    "laimax": ("m2 m-2", "maximum LAI"),
    "laimin": ("m2 m-2", "minimum LAI"),
    # section E
    "init_cleaf": ("gC m-2", "cold-start leaf C"),
    "init_cwood": ("gC m-2", "cold-start wood C (woody types only)"),
    "init_cfroot": ("gC m-2", "cold-start fine-root C"),
    "init_cmet": ("gC m-2", "cold-start metabolic litter C"),
    "init_cstr": ("gC m-2", "cold-start structural litter C"),
    "init_ccwd": ("gC m-2", "cold-start CWD C (woody types only)"),
    "init_cmic": ("gC m-2", "cold-start microbial SOM C"),
    "init_cslow": ("gC m-2", "cold-start slow SOM C"),
    "init_cpass": ("gC m-2", "cold-start passive SOM C"),
    # section F
    "tkshed": ("K", "air temperature below which cold leaf shedding starts"),
    "xkleafcoldmax": ("yr-1", "maximum cold leaf-shedding rate"),
    "xkleafcoldexp": ("1", "exponent of cold leaf shedding"),
    "xkleafdrymax": ("yr-1", "maximum drought leaf-shedding rate"),
    "xkleafdryexp": ("1", "exponent of drought leaf shedding"),
    # section G
    "nc_leaf_min": ("gN gC-1", "minimum leaf N:C"),
    "nc_leaf_max": ("gN gC-1", "maximum leaf N:C"),
    "nc_wood_min": ("gN gC-1", "minimum wood N:C"),
    "nc_wood_max": ("gN gC-1", "maximum wood N:C"),
    "nc_froot_min": ("gN gC-1", "minimum fine-root N:C"),
    "nc_froot_max": ("gN gC-1", "maximum fine-root N:C"),
    "xnminloss": ("1", "gaseous loss fraction of net N mineralisation"),
    "xnleach": ("yr-1", "leaching rate of mineral N (x10 in the model)"),
    "nfixrate": ("gN m-2 yr-1", "biological N fixation"),
    # section H
    "init_nleaf": ("gN m-2", "cold-start leaf N"),
    "init_nwood": ("gN m-2", "cold-start wood N (woody types only)"),
    "init_nfroot": ("gN m-2", "cold-start fine-root N"),
    "init_nmet": ("gN m-2", "cold-start metabolic litter N"),
    "init_nstr": ("gN m-2", "ignored: structural litter N starts at C:N 150"),
    "init_ncwd": ("gN m-2", "cold-start CWD N (woody types only)"),
    "init_nmic": ("gN m-2", "cold-start microbial SOM N"),
    "init_nslow": ("gN m-2", "cold-start slow SOM N"),
    "init_npass": ("gN m-2", "cold-start passive SOM N"),
    "init_nsoilmin": ("gN m-2", "cold-start mineral N"),
    # section I
    "np_leaf_min": ("gN gP-1", "minimum leaf N:P (sets the diagnostic leaf P used in growth respiration)"),
    "np_leaf_max": ("gN gP-1", "P only (unused)"),
    "np_wood_min": ("gN gP-1", "minimum wood N:P"),
    "np_wood_max": ("gN gP-1", "P only (unused)"),
    "np_froot_min": ("gN gP-1", "minimum fine-root N:P"),
    "np_froot_max": ("gN gP-1", "P only (unused)"),
    "fpptol_leaf": ("1", "P only (unused)"),
    "fpptol_wood": ("1", "P only (unused)"),
    "fpptol_froot": ("1", "P only (unused)"),
    # section K
    "init_pleaf": ("gP m-2", "cold-start leaf P (used by day-1 growth respiration)"),
    "init_pwood": ("gP m-2", "cold-start wood P"),
    "init_pfroot": ("gP m-2", "cold-start fine-root P"),
    "init_pmet": ("gP m-2", "P only (unused)"),
    "init_pstr": ("gP m-2", "P only (unused)"),
    "init_pcwd": ("gP m-2", "P only (unused)"),
    "init_pmic": ("gP m-2", "P only (unused)"),
    "init_pslow": ("gP m-2", "P only (unused)"),
    "init_ppass": ("gP m-2", "P only (unused)"),
    "init_plab": ("gP m-2", "P only (unused)"),
    "init_psorb": ("gP m-2", "P only (unused)"),
    "init_pocc": ("gP m-2", "P only (unused)"),
    # section L
    "xnpmax": ("1", "computed into a discarded value (unused)"),
    "q10soil": ("1", "Q10 of litter and SOM decomposition"),
    "xkoptlitter": ("1", "litter decomposition rate multiplier"),
    "xkoptsoil": ("1", "SOM decomposition rate multiplier"),
    "prodptase": ("1", "P only (unused)"),
    "costnpup": ("gN gP-1", "P only (unused)"),
    "maxfinelitter": ("gC m-2", "fine litter above which N limitation of decay is lifted"),
    "maxcwd": ("gC m-2", "CWD added to maxfinelitter for that threshold"),
    "nintercept": ("1", "unused"),
    "nslope": ("1", "unused"),
    # section M (optional in the original's file)
    "xknlimitmin": ("gN m-2", "mineral N at which N limitation is strongest"),
    "xknlimitmax": ("gN m-2", "mineral N above which there is no N limitation"),
    "fracrootexud": ("1", "fraction of GPP exuded by roots into metabolic litter"),
    "cue_metb_mic": ("1", "metabolic litter -> microbial SOM transfer efficiency"),
    "cue_str_mic": ("1", "structural litter -> microbial SOM efficiency (x (1 - leaf lignin))"),
    "cue_str_slow": ("1", "structural litter -> slow SOM efficiency (x leaf lignin)"),
    "cue_cwd_mic": ("1", "CWD -> microbial SOM efficiency (x (1 - wood lignin))"),
    "cue_cwd_slow": ("1", "CWD -> slow SOM efficiency (x wood lignin)"),
    "cue_mic_slow": ("1", "microbial -> slow SOM efficiency multiplier"),
    "cue_mic_pass": ("1", "microbial -> passive SOM efficiency multiplier"),
    "cue_pass_slow": ("1", "slow -> passive SOM efficiency (header 'CUE(pass->slow)' in the original)"),
}

# The original's CSV: (section, number of values after vegtype, names); casa.md 5.1.
_CSV_SECTIONS: list[tuple[str, int, list[str]]] = [
    (
        "B",
        18,
        [
            "kroot",
            "rootdepth",
            "kuptake",
            "krootlen",
            "kminn",
            "kuplabp",
            "fracherb",
            "age_leaf",
            "age_wood",
            "age_froot",
            "age_met",
            "age_str",
            "age_cwd",
            "age_mic",
            "age_slow",
            "age_pass",
            "age_clabile",
            "sla",
        ],
    ),
    ("C", 6, ["calloc_leaf", "calloc_wood", "calloc_froot", "rm_leaf", "rm_wood", "rm_froot"]),
    (
        "D",
        20,
        [
            "cn_leaf",
            "cn_wood",
            "cn_froot",
            "ftrans_leaf",
            "ftrans_wood",
            "ftrans_froot",
            "lig_leaf",
            "lig_wood",
            "lig_froot",
            "cn_mic",
            "cn_slow",
            "cn_pass",
            "cnmin_mic",
            "cnmin_slow",
            "cnmin_pass",
            "cnmax_mic",
            "cnmax_slow",
            "cnmax_pass",
            "laimax",
            "laimin",
        ],
    ),
    (
        "E",
        9,
        [
            "init_cleaf",
            "init_cwood",
            "init_cfroot",
            "init_cmet",
            "init_cstr",
            "init_ccwd",
            "init_cmic",
            "init_cslow",
            "init_cpass",
        ],
    ),
    ("F", 5, ["tkshed", "xkleafcoldmax", "xkleafcoldexp", "xkleafdrymax", "xkleafdryexp"]),
    (
        "G",
        9,
        [
            "nc_leaf_min",
            "nc_leaf_max",
            "nc_wood_min",
            "nc_wood_max",
            "nc_froot_min",
            "nc_froot_max",
            "xnminloss",
            "xnleach",
            "nfixrate",
        ],
    ),
    (
        "H",
        10,
        [
            "init_nleaf",
            "init_nwood",
            "init_nfroot",
            "init_nmet",
            "init_nstr",
            "init_ncwd",
            "init_nmic",
            "init_nslow",
            "init_npass",
            "init_nsoilmin",
        ],
    ),
    (
        "I",
        9,
        [
            "np_leaf_min",
            "np_leaf_max",
            "np_wood_min",
            "np_wood_max",
            "np_froot_min",
            "np_froot_max",
            "fpptol_leaf",
            "fpptol_wood",
            "fpptol_froot",
        ],
    ),
    ("J", 0, []),  # 12 soil-order rows, P cycle only
    (
        "K",
        12,
        [
            "init_pleaf",
            "init_pwood",
            "init_pfroot",
            "init_pmet",
            "init_pstr",
            "init_pcwd",
            "init_pmic",
            "init_pslow",
            "init_ppass",
            "init_plab",
            "init_psorb",
            "init_pocc",
        ],
    ),
    (
        "L",
        10,
        [
            "xnpmax",
            "q10soil",
            "xkoptlitter",
            "xkoptsoil",
            "prodptase",
            "costnpup",
            "maxfinelitter",
            "maxcwd",
            "nintercept",
            "nslope",
        ],
    ),
]
_SECTION_M = [
    "xknlimitmin",
    "xknlimitmax",
    "fracrootexud",
    "cue_metb_mic",
    "cue_str_mic",
    "cue_str_slow",
    "cue_cwd_mic",
    "cue_cwd_slow",
    "cue_mic_slow",
    "cue_mic_pass",
    "cue_pass_slow",
]
#: values the original uses when section M is missing or truncated (casa.md 5.1)
SECTION_M_DEFAULTS = [0.50, 2.0, 0.0, 0.45, 0.45, 0.70, 0.40, 0.70, 1.0, 1.0, 0.45]

#: MIMICS fixed parameters in the order of the original's file: name -> (units, meaning)
MIMICS_PARAMETERS: dict[str, tuple[str, str]] = {}
_PATHWAYS = ["r1", "r2", "r3", "k1", "k2", "k3"]
_PATHWAY_TEXT = {
    "r1": "LITm->MICr",
    "r2": "LITs->MICr",
    "r3": "SOMa->MICr",
    "k1": "LITm->MICk",
    "k2": "LITs->MICk",
    "k3": "SOMa->MICk",
}
for _base, _units, _text in [
    ("vslope", "degC-1", "slope of ln Vmax with soil temperature"),
    ("vint", "ln(mg C mg-1 MIC h-1)", "intercept of ln Vmax"),
    ("av", "1", "Vmax tuning coefficient"),
    ("kslope", "degC-1", "slope of ln Km with soil temperature"),
    ("kint", "ln(mg C cm-3)", "intercept of ln Km"),
    ("ak", "1", "Km tuning coefficient"),
    ("vmod", "1", "Vmax multiplier"),
    ("kmod", "1", "Km divisor (r3 and k3 also x the physical-protection scalar)"),
]:
    for _p in _PATHWAYS:
        MIMICS_PARAMETERS[f"{_base}_{_p}"] = (_units, f"{_text}, pathway {_PATHWAY_TEXT[_p]}")
MIMICS_PARAMETERS.update(
    {
        "ko_r": ("1", "Km multiplier for oxidation of SOMc by MICr"),
        "ko_k": ("1", "Km multiplier for oxidation of SOMc by MICk"),
        "mge_1": ("mg C mg-1 C", "growth efficiency of MICr on LITm and SOMa"),
        "mge_2": ("mg C mg-1 C", "growth efficiency of MICr on LITs"),
        "mge_3": ("mg C mg-1 C", "growth efficiency of MICk on LITm and SOMa"),
        "mge_4": ("mg C mg-1 C", "growth efficiency of MICk on LITs"),
        "tau_r_1": ("h-1", "MICr turnover: tauR = tau_r_1 exp(tau_r_2 fmet) tauMod fW"),
        "tau_r_2": ("1", "MICr turnover exponent on fmet"),
        "tau_k_1": ("h-1", "MICk turnover: tauK = tau_k_1 exp(tau_k_2 fmet) tauMod fW"),
        "tau_k_2": ("1", "MICk turnover exponent on fmet"),
        "taumod_denom": ("gC m-2 yr-1", "tauMod = sqrt(previous-year NPP / taumod_denom)"),
        "taumod_min": ("1", "lower bound of tauMod"),
        "taumod_max": ("1", "upper bound of tauMod"),
        "fphys_r_1": ("1", "fPHYS_r = fphys_r_1 exp(fphys_r_2 clay)"),
        "fphys_r_2": ("1", "clay exponent of fPHYS_r"),
        "fphys_k_1": ("1", "fPHYS_k = fphys_k_1 exp(fphys_k_2 clay)"),
        "fphys_k_2": ("1", "clay exponent of fPHYS_k"),
        "fchem_r_1": ("1", "fCHEM_r = fchem_r_1 exp(fchem_r_2 fmet) fchem_r_3"),
        "fchem_r_2": ("1", "fmet exponent of fCHEM_r"),
        "fchem_r_3": ("1", "multiplier of fCHEM_r"),
        "fchem_k_1": ("1", "fCHEM_k = fchem_k_1 exp(fchem_k_2 fmet) fchem_k_3"),
        "fchem_k_2": ("1", "fmet exponent of fCHEM_k"),
        "fchem_k_3": ("1", "multiplier of fCHEM_k"),
        "fsom_p_1": ("h-1", "desorption rate = fsom_p_1 exp(fsom_p_2 clay)"),
        "fsom_p_2": ("1", "clay exponent of desorption"),
        "phys_scalar_1": ("1", "physical-protection scalar = phys_scalar_1 exp(phys_scalar_2 sqrt(clay))"),
        "phys_scalar_2": ("1", "sqrt(clay) exponent of the protection scalar"),
        "fi_met": ("1", "fraction of metabolic litter input sent directly to SOMp"),
        "fi_str": ("1", "fraction of structural litter input sent directly to SOMc"),
        "fmet_p_1": ("1", "fmet = fmet_p_1 (fmet_p_2 - fmet_p_3 lignin:N)"),
        "fmet_p_2": ("1", "see fmet_p_1"),
        "fmet_p_3": ("1", "see fmet_p_1"),
        "densdep": ("1", "exponent of microbial biomass in turnover (CN)"),
        "fracnimport_r": ("1", "unused"),
        "fracnimport_k": ("1", "unused"),
        "nue_1": ("mg N mg-1 N", "N use efficiency of MICr on LITm and SOMa"),
        "nue_2": ("mg N mg-1 N", "N use efficiency of MICr on LITs"),
        "nue_3": ("mg N mg-1 N", "N use efficiency of MICk on LITm and SOMa"),
        "nue_4": ("mg N mg-1 N", "N use efficiency of MICk on LITs"),
        "cnr": ("gC gN-1", "base C:N of MICr"),
        "cnk": ("gC gN-1", "base C:N of MICk"),
        "fracdinavailmic": ("1", "share of mineral N available to microbes each day"),
        "cnmodnum": ("1", "microbial C:N target = base C:N x sqrt(cnmodnum / fmet)"),
        "desorpq10": ("1", "Q10 of desorption; < 0 means no temperature dependence"),
        "desorptref": ("degC", "reference temperature of desorption"),
    }
)
assert len(MIMICS_PARAMETERS) == 93

FW_FUNCTIONS = {1: "CASA", 2: "constant 1", 3: "CORPSE", 4: "water potential (seed_processes.md 2.3)"}


def _ranges(groups: list[tuple[Range, str]]) -> dict[str, Range]:
    out: dict[str, Range] = {}
    for rng, names in groups:
        for name in names.split():
            assert name not in out, name
            out[name] = rng
    return out


#: Documented valid range of every CASA parameter (each IGBP type). Turnover ages, C:N and N:C ratios,
#: half-saturation constants and Q10 must be > 0 (the kernel divides by them or takes their logarithm);
#: fractions and efficiencies lie in [0, 1]; pools, rates and multipliers are >= 0; parameters the model
#: does not use (P cycle, "unused") only need to be finite.
CASA_RANGES: dict[str, Range] = _ranges(
    [
        (Range(0.0, 3.0), "ivt2"),
        (
            POSITIVE,
            "kroot rootdepth kminn sla q10soil xknlimitmax "
            "age_leaf age_wood age_froot age_met age_str age_cwd age_mic age_slow age_pass age_clabile "
            "cn_leaf cn_wood cn_froot cn_mic cn_slow cn_pass cnmin_mic cnmin_slow cnmin_pass "
            "cnmax_mic cnmax_slow cnmax_pass nc_leaf_min nc_leaf_max nc_wood_min nc_wood_max "
            "nc_froot_min nc_froot_max np_leaf_min np_wood_min np_froot_min",
        ),
        (
            FRACTION,
            "fracherb calloc_leaf calloc_wood calloc_froot ftrans_leaf ftrans_wood ftrans_froot "
            "lig_leaf lig_wood lig_froot xnminloss fracrootexud cue_metb_mic cue_str_mic cue_str_slow "
            "cue_cwd_mic cue_cwd_slow cue_pass_slow",
        ),
        (
            NON_NEGATIVE,
            "rm_leaf rm_wood rm_froot laimax laimin xkleafcoldmax xkleafdrymax xnleach nfixrate "
            "xkoptlitter xkoptsoil maxfinelitter maxcwd xknlimitmin cue_mic_slow cue_mic_pass "
            "init_cleaf init_cwood init_cfroot init_cmet init_cstr init_ccwd init_cmic init_cslow "
            "init_cpass init_nleaf init_nwood init_nfroot init_nmet init_nstr init_ncwd init_nmic "
            "init_nslow init_npass init_nsoilmin init_pleaf init_pwood init_pfroot",
        ),
        (Range(180.0, 340.0), "tkshed"),
        (
            FINITE,
            "kuptake krootlen kuplabp xkleafcoldexp xkleafdryexp np_leaf_max np_wood_max np_froot_max "
            "fpptol_leaf fpptol_wood fpptol_froot init_pmet init_pstr init_pcwd init_pmic init_pslow init_ppass "
            "init_plab init_psorb init_pocc xnpmax prodptase costnpup nintercept nslope",
        ),
    ]
)
assert set(CASA_RANGES) == set(CASA_PFT_PARAMETERS)
#: pairs (lower, upper) of CASA parameters that must satisfy lower <= upper for every IGBP type
CASA_ORDERED = (
    ("nc_leaf_min", "nc_leaf_max"),
    ("nc_wood_min", "nc_wood_max"),
    ("nc_froot_min", "nc_froot_max"),
    ("cnmin_mic", "cnmax_mic"),
    ("cnmin_slow", "cnmax_slow"),
    ("cnmin_pass", "cnmax_pass"),
    ("laimin", "laimax"),
    ("xknlimitmin", "xknlimitmax"),
)

#: Documented valid range of every MIMICS parameter: rate constants, Vmax and Km coefficients and their
#: modifiers, microbial C:N and the turnover scaling > 0; growth and N-use efficiencies in (0, 1];
#: fractions in [0, 1]; slopes, intercepts (logarithms) and exponents finite; desorpq10 < 0 means no
#: temperature dependence, so it is only required finite.
MIMICS_RANGES: dict[str, Range] = _ranges(
    [
        (FINITE, " ".join(f"{b}_{p}" for b in ("vslope", "vint", "kslope", "kint") for p in _PATHWAYS)),
        (POSITIVE, " ".join(f"{b}_{p}" for b in ("av", "ak", "vmod", "kmod") for p in _PATHWAYS)),
        (POSITIVE, "ko_r ko_k tau_r_1 tau_k_1 taumod_denom taumod_min taumod_max phys_scalar_1 cnr cnk cnmodnum"),
        (Range(0.0, 1.0, lo_open=True), "mge_1 mge_2 mge_3 mge_4 nue_1 nue_2 nue_3 nue_4"),
        (FRACTION, "fi_met fi_str fracdinavailmic fracnimport_r fracnimport_k"),
        (NON_NEGATIVE, "fphys_r_1 fphys_k_1 fchem_r_1 fchem_r_3 fchem_k_1 fchem_k_3 fsom_p_1 densdep"),
        (
            FINITE,
            "tau_r_2 tau_k_2 fphys_r_2 fphys_k_2 fchem_r_2 fchem_k_2 fsom_p_2 phys_scalar_2 "
            "fmet_p_1 fmet_p_2 fmet_p_3 desorpq10 desorptref",
        ),
    ]
)
assert set(MIMICS_RANGES) == set(MIMICS_PARAMETERS)
MIMICS_ORDERED = (("taumod_min", "taumod_max"),)


def _first_bad(items: list[tuple[str, str]], source: str) -> None:
    """Raise the first (text, hint) of ``items`` as an InputError naming the file and the count of others."""
    if items:
        text, hint = items[0]
        more = f" ({len(items) - 1} more out-of-range value(s) in this file)" if len(items) > 1 else ""
        raise InputError(text + more, path=source or None, hint=hint)


def check_casa_ranges(pset: CasaParameterSet) -> None:
    """Every CASA parameter of every IGBP type within CASA_RANGES (and CASA_ORDERED); InputError otherwise."""
    bad = []
    for name, rng in CASA_RANGES.items():
        vals = pset.values[name]
        units = CASA_PFT_PARAMETERS[name][0]
        for k in np.flatnonzero(~rng.ok(vals)):
            bad.append(
                (
                    f"parameter {name} of IGBP type {k + 1} is {vals[k]:g}; it must be {rng}"
                    f"{'' if units == '1' else ' ' + units} ({CASA_PFT_PARAMETERS[name][1]})",
                    f"Fix {name} for IGBP type {k + 1} in the parameter file",
                )
            )
    for lo, hi in CASA_ORDERED:
        for k in np.flatnonzero(~(pset.values[lo] <= pset.values[hi])):
            bad.append(
                (
                    f"parameter {lo} of IGBP type {k + 1} ({pset.values[lo][k]:g}) is larger than {hi} "
                    f"({pset.values[hi][k]:g})",
                    f"Fix {lo} or {hi} for IGBP type {k + 1} in the parameter file",
                )
            )
    _first_bad(bad, pset.source)


def check_mimics_ranges(pset: MimicsParameterSet) -> None:
    """Every MIMICS parameter within MIMICS_RANGES (and MIMICS_ORDERED); InputError otherwise."""
    bad = []
    for name, rng in MIMICS_RANGES.items():
        v = pset.fixed[name]
        if not rng.ok(np.array([v]))[0]:
            units = MIMICS_PARAMETERS[name][0]
            bad.append(
                (
                    f"parameter {name} is {v:g}; it must be {rng}{'' if units == '1' else ' ' + units} "
                    f"({MIMICS_PARAMETERS[name][1]})",
                    f"Fix {name} in the MIMICS parameter file",
                )
            )
    for lo, hi in MIMICS_ORDERED:
        if not pset.fixed[lo] <= pset.fixed[hi]:
            bad.append(
                (
                    f"parameter {lo} ({pset.fixed[lo]:g}) is larger than {hi} ({pset.fixed[hi]:g})",
                    f"Fix {lo} or {hi} in the MIMICS parameter file",
                )
            )
    _first_bad(bad, pset.source)


def _sha256_of(items: list[tuple[str, object]]) -> str:
    h = hashlib.sha256()
    for name, value in items:
        h.update(name.encode())
        h.update(np.ascontiguousarray(np.asarray(value, dtype=np.float64)).tobytes())
    return h.hexdigest()


@dataclass
class CasaParameterSet:
    """CASA-CNP parameters: one float64 value per IGBP type 1..18 for every name."""

    values: dict[str, np.ndarray]
    source: str = ""

    def __post_init__(self) -> None:
        missing = [n for n in CASA_PFT_PARAMETERS if n not in self.values]
        if missing:
            raise InputError(f"parameter set lacks {', '.join(missing)}", path=self.source or None)
        for name, v in self.values.items():
            arr = np.asarray(v, dtype=np.float64)
            if arr.shape != (NPFT,):
                raise InputError(
                    f"parameter {name} has {arr.size} values, expected one per IGBP type ({NPFT})",
                    path=self.source or None,
                )
            self.values[name] = arr

    def __getitem__(self, name: str) -> np.ndarray:
        return self.values[name]

    @property
    def sha256(self) -> str:
        """Hash of the parameter values (names and bits), stored in restarts and outputs."""
        return _sha256_of([(n, self.values[n]) for n in CASA_PFT_PARAMETERS])


@dataclass
class MimicsParameterSet:
    """MIMICS parameters: the fixed parameters, soil depth per IGBP type (cm), fW function."""

    fixed: dict[str, float]
    depth_cm: np.ndarray
    fw_function: int = 3
    source: str = ""
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = [n for n in MIMICS_PARAMETERS if n not in self.fixed]
        if missing:
            raise InputError(f"MIMICS parameter set lacks {', '.join(missing)}", path=self.source or None)
        unknown = [n for n in self.fixed if n not in MIMICS_PARAMETERS]
        if unknown:
            raise InputError(f"unknown MIMICS parameter(s) {', '.join(unknown)}", path=self.source or None)
        self.depth_cm = np.asarray(self.depth_cm, dtype=np.float64)
        if self.depth_cm.shape != (NPFT,):
            raise InputError(f"soil depth needs {NPFT} values (one per IGBP type)", path=self.source or None)
        if np.any(self.depth_cm <= 0):
            bad = int(np.argmax(self.depth_cm <= 0)) + 1
            raise InputError(
                f"soil depth of IGBP type {bad} is {self.depth_cm[bad - 1]} cm; it must be > 0",
                path=self.source or None,
            )
        if self.fw_function not in FW_FUNCTIONS:
            self.fw_function = 2  # the original maps any other value to fW = 1

    @property
    def sha256(self) -> str:
        items = [(n, self.fixed[n]) for n in MIMICS_PARAMETERS]
        return _sha256_of(items + [("depth_cm", self.depth_cm), ("fw_function", float(self.fw_function))])


# ----------------------------------------------------------------------------------- legacy CSV


def _fields(line: str) -> list[str]:
    return [f.strip().strip('"') for f in line.replace("\t", ",").split(",")]


def _numbers(path: Path, lineno: int, line: str, n: int, what: str) -> list[float]:
    """The first ``n`` numeric fields of a CSV line; an empty or text field is an error."""
    fields = _fields(line)
    if len(fields) < n:
        raise InputError(f"line {lineno} ({what}) has {len(fields)} fields, expected at least {n}", path=path)
    out = []
    for k, tok in enumerate(fields[:n]):
        try:
            out.append(float(tok))
        except ValueError:
            raise InputError(f"line {lineno} ({what}), field {k + 1}: {tok!r} is not a number", path=path) from None
    return out


def read_casa_pft_csv(path: str | Path) -> CasaParameterSet:
    """Read the original's CASA ``pftlookup*.csv`` (casa.md 5.1) into a parameter set.

    Rows are assigned by position within each section, as the original does.
    Section M is optional; when it is missing or truncated the original's
    defaults are used.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("CASA parameter file not found", path=path)
    lines = path.read_text(errors="replace").replace("\r", "").split("\n")
    pos = 3
    values: dict[str, list[float]] = {}

    def take(count: int, nvalues: int, what: str) -> list[list[float]]:
        nonlocal pos
        if pos + count > len(lines):
            raise InputError(f"file ends inside section {what} (line {len(lines)})", path=path)
        rows = [_numbers(path, pos + k + 1, lines[pos + k], nvalues, f"section {what}") for k in range(count)]
        pos += count
        return rows

    rows = take(NPFT, 2, "A")
    values["ivt2"] = [r[1] for r in rows]
    for section, nval, names in _CSV_SECTIONS:
        pos += 2  # two header lines
        if section == "J":
            take(12, 1, "J")
            continue
        rows = take(NPFT, nval + 1, section)
        for k, name in enumerate(names):
            values[name] = [r[k + 1] for r in rows]
    # optional section M
    m_rows = None
    if pos + 2 + NPFT <= len(lines):
        try:
            candidate = [_numbers(path, pos + 3 + k, lines[pos + 2 + k], 12, "section M") for k in range(NPFT)]
            m_rows = candidate
        except InputError:
            m_rows = None
    for k, name in enumerate(_SECTION_M):
        values[name] = [r[k + 1] for r in m_rows] if m_rows else [SECTION_M_DEFAULTS[k]] * NPFT
    ivt2 = values["ivt2"]
    for pft, cls in enumerate(ivt2, start=1):
        if cls not in (0.0, 1.0, 2.0, 3.0):
            raise InputError(f"IGBP type {pft} has vegetation class {cls}; it must be 0, 1, 2 or 3", path=path)
    return CasaParameterSet({k: np.array(v) for k, v in values.items()}, source=str(path))


def read_mimics_csv(path: str | Path) -> MimicsParameterSet:
    """Read the original's MIMICS parameter file (mimics.md 6.1)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("MIMICS parameter file not found", path=path)
    lines = path.read_text(errors="replace").replace("\r", "").split("\n")
    try:
        start = next(i for i, ln in enumerate(lines) if ln.strip().lower().startswith("fixed parameters"))
    except StopIteration:
        raise InputError("no 'Fixed Parameters' line; is this a MIMICS parameter file?", path=path) from None
    names = list(MIMICS_PARAMETERS)
    fixed: dict[str, float] = {}
    for k, name in enumerate(names):
        lineno = start + 2 + k
        if lineno - 1 >= len(lines):
            raise InputError(f"file ends before parameter {k + 1} ({name}) of {len(names)}", path=path)
        fixed[name] = _numbers(path, lineno, lines[lineno - 1], 1, name)[0]
    pos = start + 1 + len(names) + 2  # skip 'Biome-Specific Parameters' and the depth header
    depth = []
    for k in range(NPFT):
        if pos + k >= len(lines):
            raise InputError(f"file ends inside the soil-depth table (IGBP type {k + 1})", path=path)
        depth.append(_numbers(path, pos + k + 1, lines[pos + k], 2, "soil depth")[1])
    fw = 2
    if pos + NPFT < len(lines):
        try:
            fw = int(_numbers(path, pos + NPFT + 1, lines[pos + NPFT], 1, "fWFunction")[0])
        except InputError:
            fw = 2
    return MimicsParameterSet(fixed, np.array(depth), fw_function=fw, source=str(path))


# ------------------------------------------------------------------------- namelist format


def format_value(v: float) -> str:
    """A parameter value as our namelists write it: integral values with one decimal, others exactly (repr)."""
    if float(v).is_integer() and abs(v) < 1e15:
        return f"{float(v):.1f}"
    return repr(float(v))


def write_casa_namelist(pset: CasaParameterSet, path: str | Path, title: str = "") -> None:
    """Write a CASA parameter set as a documented namelist (group ``&casa_pft``)."""
    out = [
        f"! testbed CASA-CNP parameter set{': ' + title if title else ''}",
        f"! source: {Path(pset.source).name if pset.source else 'unknown'}",
        "! One value per IGBP type 1..18. Units and meaning are given above each parameter.",
        "&casa_pft",
    ]
    for name, (units, meaning) in CASA_PFT_PARAMETERS.items():
        vals = ", ".join(format_value(x) for x in pset.values[name])
        out.append(f"  ! {name} [{units}]: {meaning}")
        out.append(f"  {name} = {vals}")
    out.append("/")
    Path(path).write_text("\n".join(out) + "\n")


def read_casa_namelist(path: str | Path) -> CasaParameterSet:
    """Read a CASA parameter set written by :func:`write_casa_namelist` (or by hand)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("CASA parameter namelist not found", path=path)
    nml = f90nml.read(str(path))
    if "casa_pft" not in nml:
        raise InputError("no &casa_pft group", path=path)
    group = dict(nml["casa_pft"])
    unknown = sorted(set(group) - set(CASA_PFT_PARAMETERS))
    if unknown:
        raise InputError(
            f"unknown CASA parameter(s): {', '.join(unknown)}",
            path=path,
            hint=_did_you_mean(unknown[0], CASA_PFT_PARAMETERS),
        )
    return CasaParameterSet({k: np.array(v, dtype=np.float64) for k, v in group.items()}, source=str(path))


def write_mimics_namelist(pset: MimicsParameterSet, path: str | Path, title: str = "") -> None:
    """Write a MIMICS parameter set as a documented namelist (group ``&mimics``)."""
    out = [
        f"! testbed MIMICS parameter set{': ' + title if title else ''}",
        f"! source: {Path(pset.source).name if pset.source else 'unknown'}",
        "&mimics",
    ]
    for name, (units, meaning) in MIMICS_PARAMETERS.items():
        out.append(f"  ! {name} [{units}]: {meaning}")
        out.append(f"  {name} = {format_value(pset.fixed[name])}")
    out.append("  ! depth_cm [cm]: soil depth of the MIMICS pools, one value per IGBP type 1..18")
    out.append("  depth_cm = " + ", ".join(format_value(x) for x in pset.depth_cm))
    out.append("  ! fw_function [1]: moisture function: 1 CASA, 2 constant 1, 3 CORPSE")
    out.append(f"  fw_function = {pset.fw_function}")
    out.append("/")
    Path(path).write_text("\n".join(out) + "\n")


def read_mimics_namelist(path: str | Path) -> MimicsParameterSet:
    """Read a MIMICS parameter set written by :func:`write_mimics_namelist`."""
    path = Path(path)
    if not path.is_file():
        raise InputError("MIMICS parameter namelist not found", path=path)
    nml = f90nml.read(str(path))
    if "mimics" not in nml:
        raise InputError("no &mimics group", path=path)
    group = dict(nml["mimics"])
    depth = group.pop("depth_cm", None)
    fw = int(group.pop("fw_function", 2))
    if depth is None:
        raise InputError("depth_cm is missing", path=path)
    unknown = sorted(set(group) - set(MIMICS_PARAMETERS))
    if unknown:
        raise InputError(
            f"unknown MIMICS parameter(s): {', '.join(unknown)}",
            path=path,
            hint=_did_you_mean(unknown[0], MIMICS_PARAMETERS),
        )
    return MimicsParameterSet(
        {k: float(v) for k, v in group.items()}, np.array(depth, dtype=np.float64), fw_function=fw, source=str(path)
    )


def load_casa_parameters(path: str | Path) -> CasaParameterSet:
    """Read a CASA parameter set from our namelist or from the original's CSV (by extension); check its ranges."""
    p = Path(path)
    pset = read_casa_pft_csv(p) if p.suffix.lower() == ".csv" else read_casa_namelist(p)
    check_casa_ranges(pset)
    return pset


def load_mimics_parameters(path: str | Path) -> MimicsParameterSet:
    """Read a MIMICS parameter set from our namelist or from the original's CSV (by extension); check its ranges."""
    p = Path(path)
    pset = read_mimics_csv(p) if p.suffix.lower() == ".csv" else read_mimics_namelist(p)
    check_mimics_ranges(pset)
    return pset


def _did_you_mean(name: str, choices) -> str | None:
    import difflib

    close = difflib.get_close_matches(name, list(choices), n=1)
    return f"Did you mean {close[0]!r}?" if close else None


def phenology_band(lat: float) -> int:
    """Row (1..271) of the phenology table for a latitude (casa.md 2.5)."""
    return min(max(math.trunc(((79.75 - lat) + 0.25) / 0.5) + 1, 1), 271)
