"""The CORPSE soil model (docs/corpse.md): litter layer and one soil layer, each with a rhizosphere and a bulk
cohort of unprotected and mineral-protected carbon (labile, recalcitrant, dead microbe) and living microbes.

C only (the original refuses icycle 2 with CORPSE). Its pools are held in the kernel state in kg C m-2, the
units of the original's ``corpsepool_end.csv``; its kernel columns are declared in ``corpse.toml`` beside
this file. Its parameter set is read from our namelist (``namelists/params_corpse.nml``, group ``&corpse``)
or from the original's ``.nml`` (groups ``&soil_carbon_nml`` and ``&CORPSE_casa_nml``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import InputError
from ..variables import AnnualRule, OutputVar
from .base import CARBON, ParameterSpec, Pool, PoolCSV, SoilModel

if TYPE_CHECKING:
    from ..model import Model


#: the parameter set: name -> (number of values, units, meaning, the original's code default or None)
PARAMETERS: dict[str, tuple[int, str, str, tuple[float, ...] | None]] = {
    "vmaxref": (
        3,
        "yr-1",
        "maximum decomposition rate at 20 degC, per species (labile, recalcitrant, dead microbe)",
        (4500.0, 25.0, 600.0),
    ),
    "ea": (3, "J mol-1", "activation energy of decomposition, per species", (37e3, 54e3, 50e3)),
    "kc": (3, "1", "Michaelis-Menten constant (microbial fraction of substrate C), per species", (0.01, 0.01, 0.01)),
    "tmic": (1, "yr", "microbial turnover time", (0.25,)),
    "et": (1, "1", "fraction of microbial turnover not respired (becomes dead-microbe C)", (0.6,)),
    "eup": (3, "1", "microbial uptake efficiency, per species", (0.6, 0.05, 0.6)),
    "minmicrobec": (1, "1", "minimum microbial biomass as a fraction of unprotected C", (1e-3,)),
    "protection_rate": (1, "yr-1", "rate at which unprotected C becomes protected (times Qmax)", (1.5,)),
    "protection_species": (3, "1", "relative protection rate, per species", (1.0, 1e-4, 1.0)),
    "tprotected": (1, "yr", "turnover time of protected C back to unprotected C", (45.0,)),
    "protected_carbon_decomp_factor": (1, "1", "Vmax multiplier for protected C (0: inaccessible)", (0.0,)),
    "turnover_factor": (3, "1", "factor on microbial turnover time, per species", (1.0, 1.0, 1.0)),
    "gas_diffusion_exp": (1, "1", "exponent of the air-filled porosity in the moisture function", (2.5,)),
    "fwmin": (1, "1", "minimum of the moisture function fW", (0.0,)),
    "min_anaerobic_resp_factor": (1, "1", "minimum of the aeration term of fW", (0.003,)),
    "litterdensity": (1, "kg m-3", "carbon density of litter (cohort volume)", (22.0,)),
    "enzfrac": (1, "1", "enzyme production per unit microbial C", (1.0,)),
    "initial_c": (
        3,
        "kg m-2",
        "cold-start unprotected C per species (soil layer; litter layer too with option 2)",
        None,
    ),
    "exudate_npp_frac": (3, "1", "fraction of the previous year's NPP exuded to the rhizosphere (labile used)", None),
    "rhizosphere_frac": (1, "1", "fraction of root litter that enters the rhizosphere cohort", None),
    "litter_option": (
        1,
        "1",
        "1: all litter enters the soil layer; 2: leaf litter and CWD enter the litter layer",
        (2.0,),
    ),
}
#: switches of the original's namelist this port implements only at their default (value required)
_FIXED_SWITCHES = {"microbe_driven_protection": False, "classic_decomp": False}
#: parameters of the original's namelist that its code reads but never uses (dissolved C is switched off)
_UNUSED = {
    "combinethreshold",
    "d",
    "sol",
    "tol",
    "leaching_solubility",
    "flavor_relative_solubility",
    "protected_relative_solubility",
    "doc_deposition_rate",
}


@dataclass
class CorpseParameterSet:
    """The CORPSE parameters (one value or three, per PARAMETERS), and the file they came from."""

    values: dict[str, tuple[float, ...]]
    source: str = ""

    def __post_init__(self) -> None:
        for name, (n, _units, _meaning, _default) in PARAMETERS.items():
            if name not in self.values:
                raise InputError(f"CORPSE parameter {name} is missing", path=self.source or None)
            v = tuple(float(x) for x in np.atleast_1d(self.values[name]))
            if len(v) != n:
                raise InputError(f"CORPSE parameter {name} needs {n} value(s), not {len(v)}", path=self.source or None)
            self.values[name] = v
        unknown = sorted(set(self.values) - set(PARAMETERS))
        if unknown:
            raise InputError(f"unknown CORPSE parameter(s) {', '.join(unknown)}", path=self.source or None)
        checks = [
            (self["tmic"][0] > 0, "tmic must be > 0"),
            (self["tprotected"][0] > 0, "tprotected must be > 0"),
            (all(x > 0 for x in self["turnover_factor"]), "turnover_factor must be > 0"),
            (0 <= self["minmicrobec"][0] < 1, "minmicrobec must be in [0, 1)"),
            (self["litter_option"][0] in (1.0, 2.0), "litter_option must be 1 or 2"),
            (all(x >= 0 for x in self["initial_c"]), "initial_c must be >= 0"),
        ]
        for ok, why in checks:
            if not ok:
                raise InputError(why, path=self.source or None, hint="Fix the CORPSE parameter file")

    def __getitem__(self, name: str) -> tuple[float, ...]:
        return self.values[name]

    @property
    def sha256(self) -> str:
        h = hashlib.sha256()
        for name in PARAMETERS:
            h.update(name.encode())
            h.update(np.asarray(self.values[name], dtype=np.float64).tobytes())
        return h.hexdigest()


def _group(nml, name: str, path: Path) -> dict:
    for key in nml:
        if key.lower() == name:
            return {k.lower(): v for k, v in dict(nml[key]).items()}
    raise InputError(f"no &{name} group", path=path)


def load_corpse_parameters(path: str | Path) -> CorpseParameterSet:
    """Read our ``&corpse`` namelist, or the original's ``.nml`` (``&soil_carbon_nml`` + ``&CORPSE_casa_nml``,
    with the original's code defaults for parameters it does not set)."""
    import f90nml

    path = Path(path)
    if not path.is_file():
        raise InputError("CORPSE parameter file not found", path=path)
    nml = f90nml.read(str(path))
    names = {k.lower() for k in nml}
    if "corpse" in names:
        group = _group(nml, "corpse", path)
        unknown = sorted(set(group) - set(PARAMETERS))
        if unknown:
            raise InputError(f"unknown CORPSE parameter(s): {', '.join(unknown)}", path=path)
        values = group
    elif "soil_carbon_nml" in names and "corpse_casa_nml" in names:
        values = {n: d for n, (_k, _u, _m, d) in PARAMETERS.items() if d is not None}
        for group_name in ("soil_carbon_nml", "corpse_casa_nml"):
            for key, value in _group(nml, group_name, path).items():
                if key in _FIXED_SWITCHES:
                    if bool(value) != _FIXED_SWITCHES[key]:
                        raise InputError(
                            f"{key} = {value} is not implemented (only {_FIXED_SWITCHES[key]}); docs/corpse.md",
                            path=path,
                        )
                elif key == "soilmaxcohorts":
                    if int(value) < 2:
                        raise InputError("soilMaxCohorts < 2 (cohort merging) is not implemented", path=path)
                elif key in PARAMETERS:
                    values[key] = value
                elif key not in _UNUSED:
                    raise InputError(f"unknown parameter {key} in &{group_name}", path=path)
    else:
        raise InputError("neither a &corpse group nor the original's &soil_carbon_nml and &CORPSE_casa_nml", path=path)
    return CorpseParameterSet(dict(values), source=str(path))


def write_corpse_namelist(pset: CorpseParameterSet, path: str | Path, title: str = "") -> None:
    """Write a CORPSE parameter set as our documented namelist (group ``&corpse``)."""
    from ..params import format_value

    out = [
        f"! testbed CORPSE parameter set{': ' + title if title else ''}",
        f"! source: {Path(pset.source).name if pset.source else 'unknown'}",
        "! Species order: 1 labile, 2 recalcitrant, 3 dead microbe. See docs/corpse.md.",
        "&corpse",
    ]
    for name, (_n, units, meaning, _default) in PARAMETERS.items():
        out.append(f"  ! {name} [{units}]: {meaning}")
        out.append(f"  {name} = " + ", ".join(format_value(x) for x in pset[name]))
    out.append("/")
    Path(path).write_text("\n".join(out) + "\n")


def _gather(pset: CorpseParameterSet, pft: np.ndarray) -> np.ndarray:
    """Per-cell CORPSE kernel array: the parameter set's values (the same for every cell)."""
    from .. import layout

    table = layout.TABLES["corpse"]
    m = np.zeros((pft.size, len(table.columns)), order="F")
    for name, (n, *_rest) in PARAMETERS.items():
        for k in range(n):
            m[:, layout.index("corpse", name if n == 1 else f"{name}_{k + 1}")] = pset[name][k]
    return m


def _to_gm2(model: Model) -> np.ndarray:
    return np.full(model.ncell, 1000.0)


def _csv_lead(model: Model, state: np.ndarray, c: int, year_count: int) -> str:
    from .. import layout

    d = model.domain
    lines = int(round(state[c, layout.index("state", "corpse_lines")]))
    return (
        f"{c + 1:6d},{int(d.cellid[c]):6d},{lines:6d},{float(year_count):8.2f},{d.lat[c]:8.2f},{d.lon[c]:8.2f},"
        f"{int(d.pft[c]):6d},"
    )


_COHORT_POOLS = (
    *(f"u{k}_{c}" for c in ("rhiz", "bulk") for k in (1, 2, 3)),
    *(f"p{k}_{c}" for c in ("rhiz", "bulk") for k in (1, 2, 3)),
    "mic_rhiz",
    "mic_bulk",
)
_LAYERS = (("lit", "LitterLayer", "litter"), ("soil", "Soil", "soil"))


def _pool(layer: str, title: str, group: str, member: str) -> Pool:
    kind, cohort = member.split("_")
    if kind == "mic":
        return Pool(f"{layer}_c_{member}", CARBON, f"{title}_LiveMicrobeC_{cohort}", frozenset({group, "microbial"}))
    name = f"{title}_C{kind[1]}_{cohort}" if kind[0] == "u" else f"{title}Protected_C{kind[1]}_{cohort}"
    return Pool(f"{layer}_c_{member}", CARBON, name, frozenset({group}))


def _csv_columns(layer: str) -> tuple[str, ...]:
    return (
        *(f"{layer}_c_{m}" for m in _COHORT_POOLS),
        f"{layer}_co2_rhiz",
        f"{layer}_co2_bulk",
        f"{layer}_protection_rate",
        f"{layer}_qmax",
        f"{layer}_doc_1",
        f"{layer}_doc_2",
        f"{layer}_doc_3",
    )


def _csv_header() -> str:
    parts = ["pt,ijgcm,tcount,time,lat,lon,veg"]
    for prefix in ("litlyr", "soil_1"):
        names = [
            f"{prefix}_unprotect_{c}({s})" for c in ("rhiz", "bulk") for s in ("LABILE", "RECALCTRNT", "DEADMICRB")
        ]
        names += [f"{prefix}_protect_{c}({s})" for c in ("rhiz", "bulk") for s in ("LABILE", "RECALCTRNT", "DEADMICRB")]
        names += [f"{prefix}_livingMicrobeC_rhiz", f"{prefix}_livingMicrobeC_bulk", f"{prefix}_CO2_rhiz"]
        names += [f"{prefix}_CO2_bulk", "protection_rate", "Qmax"]
        names += [f"{prefix}_DOC(LABILE)", f"{prefix}_DOC(RECALCTRNT)", f"{prefix}_DOC(RECALCTRNT)"]
        parts += names
    return ",".join(parts)


def _kg_mean(name: str, column: str, member: str = "") -> OutputVar:
    """A CORPSE output pool: daily ``column`` (g m-2); annual mean the original's ``1000 x (kg sum / 365)`` of
    the kg m-2 column ``<column>_kg`` (corpse.md 5)."""
    diag, kg = (f"{column}_{member}", f"{column}_kg_{member}") if member else (column, f"{column}_kg")
    return OutputVar(name, diag, "mean", annual=AnnualRule(((kg,),), 1000.0, mean=True))


_PROTECTED_PROD_KG = ("protected_prod_kg_1", "protected_prod_kg_2", "protected_prod_kg_3")


MODEL = SoilModel(
    name="corpse",
    long_name="CORPSE soil (litter and soil layers; rhizosphere and bulk cohorts; protected C; microbes)",
    legacy_isom=3,
    pools=tuple(_pool(layer, title, group, m) for layer, title, group in _LAYERS for m in _COHORT_POOLS),
    kernel_advance="advance_corpse",
    kernel_initialise="corpse_initialise",
    parameters=ParameterSpec(
        "files.corpse_params",
        "params_corpse.nml",
        load_corpse_parameters,
        "corpse",
        _gather,
        lambda pset, path, title: write_corpse_namelist(pset, path, title=title),
        lst_line=24,
    ),
    legacy_csv=PoolCSV(
        file_name="corpsepool_end.csv",
        config_key="files.legacy_restart_corpse",
        header=_csv_header(),
        nlead=7,
        carbon=_csv_columns("lit") + _csv_columns("soil"),
        nitrogen=(),
        width=18,
        decimals=6,
        sep=",",
        lead=_csv_lead,
        lst_line=22,
        index_field=0,  # pt; field 1 is the met grid's cell id (ijgcm)
    ),
    state_to_gm2=_to_gm2,
    extra_prognostic=("corpse_npp_prev",),
    cycles=(1,),
    explicit_microbes=True,
    unsupported_fixes=("exudate_from_npp", "floor_mineral_n", "mimics_first_year_npp"),
    outputs=(
        *(_kg_mean(f"SoilProtected_C{k}", "soil_prot", str(k)) for k in (1, 2, 3)),
        *(_kg_mean(f"Soil_C{k}", "soil_unprot", str(k)) for k in (1, 2, 3)),
        *(_kg_mean(f"LitterLayer_C{k}", "lit_unprot", str(k)) for k in (1, 2, 3)),
        _kg_mean("Soil_LiveMicrobeC", "soil_livemic"),
        _kg_mean("LitterLayer_LiveMicrobeC", "lit_livemic"),
        OutputVar("Soil_CO2", "soil_hr", "flux", annual=AnnualRule((("soil_co2_year",),), 1000.0)),
        OutputVar("LitterLayer_CO2", "lit_hr", "flux", annual=AnnualRule((("lit_co2_year",), ("cwd2co2_kg",)), 1000.0)),
        OutputVar("protectedProd", "protected_prod", "flux", annual=AnnualRule((_PROTECTED_PROD_KG,), 1000.0)),
        *(
            OutputVar(name, diag, "mean", annual=AnnualRule(((diag,),), mean=True))
            for name, diag in (
                ("Ts", "ts_corpse"),
                ("thetaLiq", "thetaliq_corpse"),
                ("thetaFrzn", "thetafrzn_corpse"),
                ("fW", "fw_corpse"),
            )
        ),
    ),
)
