"""The kernel layout: one declaration (testbed/layout.toml + testbed/soil/*.toml), generated into Fortran."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from testbed import kernel, layout

from .conftest import REPO


def _generated(tmp_path) -> str:
    out = tmp_path / "tb_columns.f90"
    subprocess.run([sys.executable, str(REPO / "fortran_core" / "gen_layout.py"), str(out)], check=True)
    return out.read_text()


def test_generated_fortran_constants_match_the_python_tables(tmp_path) -> None:
    src = _generated(tmp_path)
    for kind, table in layout.TABLES.items():
        consts = dict(re.findall(rf"\b{table.prefix}([A-Z0-9_]+)\s*=\s*(\d+)", src))
        named = [c for c in table.columns if c.fortran]
        assert len(consts) == len(named), kind
        for c in named:
            assert table.columns[int(consts[c.fortran.upper()]) - 1].name == c.name
        assert re.search(rf"\b{table.size_name} = {len(table.columns)}\b", src)


def test_group_constants_address_their_members(tmp_path) -> None:
    src = _generated(tmp_path)
    offsets = dict(re.findall(r"\b(M_[A-Z0-9_]+)\s*=\s*(\d+)", src))
    assert layout.MIMICS_PARAMS[int(offsets["M_KO"]) - 1] == "ko_r"
    assert layout.MIMICS_PARAMS[int(offsets["M_KO"])] == "ko_k"
    assert layout.MIMICS_PARAMS[int(offsets["M_NUE"]) - 1] == "nue_1"
    assert layout.MIMICS_PARAMS[int(offsets["M_DEPTH"]) - 1] == "depth"


def test_layer_thicknesses_are_written_exactly(tmp_path) -> None:
    src = _generated(tmp_path)
    values = re.search(r"DZSOIL\(6\) = \[(.*)\]", src).group(1)
    assert [float(v.replace("_real64", "")) for v in values.split(",")] == list(layout.LAYER_THICKNESS_M)


def test_every_column_is_documented() -> None:
    for table in layout.TABLES.values():
        for c in table.columns:
            assert c.source in ("pft", "param") or (c.units and c.long_name), f"{table.kind}.{c.name}"


def test_unknown_column_is_a_clear_error() -> None:
    with pytest.raises(KeyError, match="no column 'nope' in the state layout"):
        layout.index("state", "nope")


def test_compiled_kernel_reports_the_same_sizes() -> None:
    kernel._check_layout()  # raises KernelError on mismatch


def test_diagnostic_blocks_cover_the_table_once(tmp_path) -> None:
    """The host's and each soil model's diagnostic blocks tile the table (the kernel sums only a run's own)."""
    src = _generated(tmp_path)
    blocks = [layout.block("diag", "host")] + [
        layout.block("diag", name) for name in sorted({p.stem for p in layout.DECLARATIONS[1:]})
    ]
    covered = sorted(i for b in blocks for i in b)
    assert covered == list(range(layout.NDIAG))
    assert re.search(rf"\bDIAG_HOST_LAST = {len(blocks[0])}\b", src)
    for path in layout.DECLARATIONS[1:]:
        b = layout.block("diag", path.stem)
        if len(b):
            assert re.search(
                rf"\bDIAG_{path.stem.upper()}_FIRST = {b.start + 1}, DIAG_{path.stem.upper()}_LAST = {b.stop}\b", src
            )


#: per driver (fortran_core/<driver>), the diagnostic blocks its block_days skips in keep_day while their routine is
#: off, by first and last column, and the routine or block that alone sets them
SKIPPED_BLOCKS = {
    "mimics_step.f90": {
        ("sasu_out_cwood", "sasu_ccwd_from_cwood"): "subroutine mimics_sasu_fluxes",
        ("sasu_out_litm", "sasu_lits_from_ccwd"): "subroutine mimics_sasu_fluxes",
        ("exud_uptake", "necn_soma"): "subroutine mimics_exudate_diagnostics",
        ("nexudate", "cexudate_capped"): "if (opt%exud_on) then",
    },
    "casa_step.f90": {("sasu_out_cwood", "sasu_ccwd_from_cwood"): "subroutine casa_sasu_fluxes"},
}


@pytest.mark.parametrize("driver", sorted(SKIPPED_BLOCKS))
def test_skipped_diagnostic_blocks_are_set_only_where_they_are_switched_on(driver: str) -> None:
    """The blocks whose annual sums the MIMICS and CASA drivers skip while their routine is off: each a contiguous
    run of the layout's columns that only that routine (or the exudation block) sets, so skipping them changes no
    value."""
    src = (REPO / "fortran_core" / driver).read_text()
    names = [c.name for c in layout.TABLES["diag"].columns]
    for (first, last), owner in SKIPPED_BLOCKS[driver].items():
        block = names[names.index(first) : names.index(last) + 1]
        assert f"D_{first.upper()}:D_{last.upper()}" in src, (first, last)
        start = src.index(owner)
        end = src.index("end subroutine" if owner.startswith("subroutine") else "end if", start)
        for name in block:
            for m in re.finditer(rf"\bdg\([^)]*\bD_{name.upper()}\b", src):
                assert start <= m.start() < end, f"D_{name.upper()} is set outside {owner!r}"
        if owner.startswith("subroutine"):
            assert any(f"D_{n.upper()}" in src[start:end] for n in block)
