"""testbed/layout.py must mirror fortran_core/layout.f90 and the compiled kernel."""

from __future__ import annotations

import re

from testbed import kernel, layout

from .conftest import REPO

PREFIX = {"S_": layout.STATE, "P_": layout.CASA_PARAMS, "D_": layout.DIAGNOSTICS, "FIX_": layout.FIXES}


def test_python_layout_matches_fortran_source() -> None:
    src = (REPO / "fortran_core" / "layout.f90").read_text()
    pairs = re.findall(r"\b(S_|P_|D_|FIX_)([A-Z0-9_]+)\s*=\s*(\d+)", src)
    assert pairs
    for prefix, name, value in pairs:
        names = PREFIX[prefix]
        assert names[int(value) - 1] == name.lower(), f"{prefix}{name} = {value}"
    sizes = dict(re.findall(r"\b(NSTATE|NCASAPARAM|NMIMICSPARAM|NDIAG|NFIX)\s*=\s*(\d+)", src))
    assert int(sizes["NSTATE"]) == layout.NSTATE
    assert int(sizes["NCASAPARAM"]) == layout.NCASAPARAM
    assert int(sizes["NMIMICSPARAM"]) == layout.NMIMICSPARAM
    assert int(sizes["NDIAG"]) == layout.NDIAG
    assert int(sizes["NFIX"]) == layout.NFIX


def test_mimics_parameter_columns_match_fortran_offsets() -> None:
    src = (REPO / "fortran_core" / "layout.f90").read_text()
    offsets = dict(re.findall(r"\b(M_[A-Z0-9_]+)\s*=\s*(\d+)", src))
    assert layout.MIMICS_PARAMS[int(offsets["M_KO"]) - 1] == "ko_r"
    assert layout.MIMICS_PARAMS[int(offsets["M_NUE"]) - 1] == "nue_1"
    assert layout.MIMICS_PARAMS[int(offsets["M_DEPTH"]) - 1] == "depth"
    assert layout.MIMICS_PARAMS[int(offsets["M_FWFUNCTION"]) - 1] == "fwfunction"


def test_compiled_kernel_reports_the_same_sizes() -> None:
    kernel._check_layout()  # raises KernelError on mismatch
