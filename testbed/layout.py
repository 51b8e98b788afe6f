"""Column layout of the arrays exchanged with the Fortran kernel, read from its one declaration.

The declaration is ``testbed/layout.toml`` (the host model: CASA-CNP vegetation with CASA litter and
soil pools) followed by every ``testbed/soil/<model>.toml`` in name order (columns a soil model adds).
``fortran_core/gen_layout.py`` generates the kernel's Fortran constants from the same files at build
time, and :mod:`testbed.kernel` checks that the compiled sizes agree. Every array is ``(ncell,
ncolumn)`` in Fortran order; :func:`index` gives the 0-based column of a name.

This module uses the standard library only, so that the build can load it by path.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: the declaration files, in the order their columns are appended
DECLARATIONS: tuple[Path, ...] = (HERE / "layout.toml", *sorted((HERE / "soil").glob("*.toml")))


@dataclass(frozen=True)
class Column:
    """One kernel column: its name, units and meaning; ``source`` says where per-cell values come from.

    ``source`` is ``"pft"`` (gathered by PFT from the CASA parameter set, same name), ``"param"`` (the
    soil model's parameter set, same name) or ``""`` (set by the code that fills the array).
    ``fortran`` is the name of its Fortran constant (without prefix), or ``""`` for the later members
    of a group, which the kernel addresses by offset from the group's first column.
    """

    name: str
    units: str
    long_name: str
    source: str = ""
    fortran: str = ""


@dataclass(frozen=True)
class Table:
    """One array's columns: state, casa, diag, fix, or a soil model's parameters (e.g. mimics)."""

    kind: str
    prefix: str  #: Fortran constant prefix (S_, P_, D_, FIX_, M_ ...)
    size_name: str  #: Fortran name of the column count (NSTATE ...)
    columns: tuple[Column, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _columns(entries: dict) -> list[Column]:
    out = []
    for name, spec in entries.items():
        if isinstance(spec, str):  # "pft" or "param": metadata lives with the parameter set
            out.append(Column(name, "", "", spec, name))
        elif isinstance(spec, dict):  # a group: one Fortran constant, one column per member
            for k, member in enumerate(spec["members"]):
                out.append(
                    Column(
                        f"{name}_{member}",
                        spec.get("units", ""),
                        spec.get("long_name", ""),
                        spec.get("source", ""),
                        name if k == 0 else "",
                    )
                )
        else:
            units, long_name = spec
            out.append(Column(name, units, long_name, "", name))
    return out


def _read(
    paths: tuple[Path, ...],
) -> tuple[dict[str, Table], dict[str, int], dict[str, list[float]], dict[tuple[str, str], tuple[int, int]]]:
    tables: dict[str, Table] = {}
    ints: dict[str, int] = {}
    reals: dict[str, list[float]] = {}
    blocks: dict[tuple[str, str], tuple[int, int]] = {}
    for path in paths:
        owner = "host" if path.parent == HERE else path.stem
        with path.open("rb") as f:
            doc = tomllib.load(f)
        ints.update(doc.pop("constants", {}))
        reals.update(doc.pop("real_constants", {}))
        for kind, body in doc.items():
            cols = _columns(body.get("columns", {}))
            first = len(tables[kind].columns) if kind in tables else 0
            blocks[(kind, owner)] = (first, first + len(cols))
            if kind in tables:
                t = tables[kind]
                tables[kind] = Table(kind, t.prefix, t.size_name, t.columns + tuple(cols))
            else:
                tables[kind] = Table(kind, body["prefix"], body["size"], tuple(cols))
    for t in tables.values():
        seen = set()
        for c in t.columns:
            if c.name in seen:
                raise ValueError(f"column {c.name!r} is declared twice in the {t.kind} layout ({paths})")
            seen.add(c.name)
    return tables, ints, reals, blocks


TABLES, INT_CONSTANTS, REAL_CONSTANTS, _BLOCKS = _read(DECLARATIONS)

STATE: tuple[str, ...] = TABLES["state"].names
CASA_PARAMS: tuple[str, ...] = TABLES["casa"].names
MIMICS_PARAMS: tuple[str, ...] = TABLES["mimics"].names
DIAGNOSTICS: tuple[str, ...] = TABLES["diag"].names
FIXES: tuple[str, ...] = TABLES["fix"].names
NSTATE, NCASAPARAM, NMIMICSPARAM, NDIAG, NFIX = (
    len(TABLES[k].columns) for k in ("state", "casa", "mimics", "diag", "fix")
)
#: soil layer thicknesses (m), top to bottom (casa.md 2.7)
LAYER_THICKNESS_M: tuple[float, ...] = tuple(REAL_CONSTANTS["DZSOIL"])

_INDEX = {kind: {c.name: i for i, c in enumerate(t.columns)} for kind, t in TABLES.items()}


def index(kind: str, name: str) -> int:
    """0-based column of ``name`` in the layout ``kind`` (state, casa, mimics, diag, fix)."""
    try:
        return _INDEX[kind][name]
    except KeyError:
        raise KeyError(f"no column {name!r} in the {kind} layout") from None


def block(kind: str, owner: str) -> range:
    """The 0-based columns of ``kind`` that ``owner`` declares: ``"host"`` (layout.toml) or a soil model's name
    (its ``soil/<model>.toml``); empty if it declares none. The kernel adds up a run's daily diagnostics over
    the host's block and its soil model's block only (Fortran ``DIAG_HOST_LAST``, ``DIAG_<MODEL>_FIRST/LAST``)."""
    first, stop = _BLOCKS.get((kind, owner), (0, 0))
    return range(first, stop)


def column(kind: str, name: str) -> Column:
    """The declaration of one column (units, long_name, source)."""
    return TABLES[kind].columns[index(kind, name)]


def fortran_module(name: str = "tb_columns") -> str:
    """The Fortran module of named column indices and constants (written by fortran_core/gen_layout.py)."""
    sources = ", ".join(p.name for p in DECLARATIONS)
    lines = [
        f"!> GENERATED at build time by fortran_core/gen_layout.py from {sources}.",
        "!> Do not edit: change the declarations instead. Column indices are 1-based.",
        f"module {name}",
        "   use, intrinsic :: iso_fortran_env, only: real64",
        "   implicit none",
        "   public",
    ]
    for t in TABLES.values():
        lines.append(f"   ! ---- {t.kind}")
        for k, c in enumerate(t.columns, start=1):
            if c.fortran:
                note = f"  ! {c.units}: {c.long_name}" if c.long_name else ""
                lines.append(f"   integer, parameter :: {t.prefix}{c.fortran.upper()} = {k}{note}")
        lines.append(f"   integer, parameter :: {t.size_name} = {len(t.columns)}")
    lines.append("   ! ---- the diagnostic columns each declaration file adds (1-based, inclusive)")
    for (kind, owner), (first, stop) in _BLOCKS.items():
        if kind == "diag" and owner == "host":
            lines.append(f"   integer, parameter :: DIAG_HOST_LAST = {stop}")
        elif kind == "diag":
            lines.append(
                f"   integer, parameter :: DIAG_{owner.upper()}_FIRST = {first + 1}, DIAG_{owner.upper()}_LAST = {stop}"
            )
    lines.append("   ! ---- constants")
    for key, value in INT_CONSTANTS.items():
        lines.append(f"   integer, parameter :: {key} = {int(value)}")
    for key, values in REAL_CONSTANTS.items():
        body = ", ".join(f"{float(v)!r}_real64" for v in values)
        lines.append(f"   real(real64), parameter :: {key}({len(values)}) = [{body}]")
    lines.append(f"end module {name}")
    return "\n".join(lines) + "\n"
