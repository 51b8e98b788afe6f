"""Parameter sets: the original's CSVs, our namelists, and clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from testbed.errors import InputError
from testbed.params import (
    CASA_PFT_PARAMETERS,
    MIMICS_PARAMETERS,
    load_casa_parameters,
    load_mimics_parameters,
    read_casa_namelist,
    read_casa_pft_csv,
    read_mimics_csv,
    read_mimics_namelist,
    write_casa_namelist,
    write_mimics_namelist,
)

from .conftest import REPO

SHIPPED_CASA = REPO / "namelists" / "params_casa_igbp.nml"
SHIPPED_MIMICS = REPO / "namelists" / "params_mimics.nml"


def test_shipped_casa_parameters_equal_the_original_csv(setA: Path) -> None:
    ours = read_casa_namelist(SHIPPED_CASA)
    orig = read_casa_pft_csv(setA / "inputs" / "pftlookup_igbp_updated4_exud0.csv")
    for name in CASA_PFT_PARAMETERS:
        np.testing.assert_array_equal(ours[name], orig[name], err_msg=name)
    assert ours.sha256 == orig.sha256


def test_shipped_mimics_parameters_equal_the_original_csv(setA: Path) -> None:
    ours = read_mimics_namelist(SHIPPED_MIMICS)
    orig = read_mimics_csv(setA / "inputs" / "pftlookup_LIDET-MIM-REV_CN_desorb2xKO4_micCN_FI30.csv")
    assert ours.fixed == orig.fixed
    np.testing.assert_array_equal(ours.depth_cm, orig.depth_cm)
    assert ours.fw_function == orig.fw_function == 3
    # values the spec quotes (mimics.md 6.1), stale file comments notwithstanding
    assert orig.fixed["taumod_min"] == 0.6 and orig.fixed["taumod_max"] == 1.3
    assert orig.fixed["fi_met"] == 0.005 and orig.fixed["fsom_p_1"] == 1.05e-6


def test_every_shipped_parameter_is_documented_with_units() -> None:
    text = SHIPPED_CASA.read_text() + SHIPPED_MIMICS.read_text()
    for name, (units, meaning) in {**CASA_PFT_PARAMETERS, **MIMICS_PARAMETERS}.items():
        assert f"! {name} [{units}]: {meaning}" in text
        assert units and meaning


def test_namelists_round_trip_bit_for_bit(tmp_path: Path) -> None:
    casa = read_casa_namelist(SHIPPED_CASA)
    casa.values["sla"] = casa["sla"] + 0.1 / 3  # a value with no short decimal form
    write_casa_namelist(casa, tmp_path / "c.nml")
    again = load_casa_parameters(tmp_path / "c.nml")
    assert again.sha256 == casa.sha256
    mim = load_mimics_parameters(SHIPPED_MIMICS)
    write_mimics_namelist(mim, tmp_path / "m.nml")
    assert read_mimics_namelist(tmp_path / "m.nml").sha256 == mim.sha256


def test_unknown_parameter_is_an_error_with_a_hint(tmp_path: Path) -> None:
    text = SHIPPED_CASA.read_text().replace("  sla =", "  slaa =")
    (tmp_path / "bad.nml").write_text(text)
    with pytest.raises(InputError, match=r"unknown CASA parameter\(s\): slaa.*Did you mean 'sla'"):
        read_casa_namelist(tmp_path / "bad.nml")


def test_missing_parameter_is_an_error(tmp_path: Path) -> None:
    lines = [ln for ln in SHIPPED_MIMICS.read_text().splitlines() if not ln.strip().startswith("cnk =")]
    (tmp_path / "m.nml").write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="lacks cnk"):
        read_mimics_namelist(tmp_path / "m.nml")


def test_wrong_number_of_pft_values_is_an_error(tmp_path: Path) -> None:
    text = SHIPPED_CASA.read_text().replace("  kroot = 5.5, 3.9,", "  kroot = 3.9,")
    (tmp_path / "bad.nml").write_text(text)
    with pytest.raises(InputError, match="kroot has 17 values, expected one per IGBP type"):
        read_casa_namelist(tmp_path / "bad.nml")


def test_truncated_original_csv_names_the_section(setA: Path, tmp_path: Path) -> None:
    lines = (setA / "inputs" / "pftlookup_igbp_updated4_exud0.csv").read_text().splitlines()
    (tmp_path / "pft.csv").write_text("\n".join(lines[:70]) + "\n")
    with pytest.raises(InputError, match="section D"):
        read_casa_pft_csv(tmp_path / "pft.csv")


def test_missing_section_m_uses_the_original_defaults(setA: Path, tmp_path: Path) -> None:
    lines = (setA / "inputs" / "pftlookup_igbp_updated4_exud0.csv").read_text().splitlines()
    (tmp_path / "pft.csv").write_text("\n".join(lines[:235]) + "\n")
    p = read_casa_pft_csv(tmp_path / "pft.csv")
    assert p["cue_pass_slow"][0] == 0.45 and p["xknlimitmax"][0] == 2.0 and p["fracrootexud"][0] == 0.0
