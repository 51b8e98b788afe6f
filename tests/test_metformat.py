"""The format declarations: ranges, the fill-value rule, the inactive-cell rule, the strict CSV reader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from testbed import metformat as mf
from testbed.errors import InputError
from testbed.forcing_tools import metfile
from testbed.params import load_casa_parameters

REPO = Path(__file__).parents[1]


def test_layer_thicknesses_are_the_kernel_declaration() -> None:
    """Declared once (testbed/layout.toml, generated into the kernel's DZSOIL; tests/test_layout.py)."""
    from testbed import layout

    assert mf.LAYER_THICKNESS_M is layout.LAYER_THICKNESS_M
    assert metfile.TESTBED_DZ is mf.LAYER_THICKNESS_M
    assert metfile.TESTBED_ZI[-1] == pytest.approx(4.6)


def test_range_bounds_and_text() -> None:
    r = mf.Range(0.0, 1.0, lo_open=True)
    assert r.ok(np.array([0.0, 1e-9, 1.0, 1.1, np.nan, np.inf])).tolist() == [False, True, True, False, False, False]
    assert [str(x) for x in (mf.POSITIVE, mf.NON_NEGATIVE, mf.FRACTION, mf.FINITE, r)] == [
        "> 0",
        ">= 0",
        "0 to 1",
        "finite",
        "in (0, 1]",
    ]


def test_fill_value_rule() -> None:
    v = np.array([1e36, -1e36, -9999.0, -999.0, 5.0, np.nan, 273.0], dtype=np.float32)
    assert mf.is_fill(v, declared=(5.0,)).tolist() == [True, True, True, True, True, False, False]


def test_inactive_cells_with_and_without_a_parameter_table() -> None:
    casa = load_casa_parameters(REPO / "namelists" / "params_casa_igbp.nml")
    pft = np.arange(1, 19)
    assert np.array_equal(mf.inactive(pft, casa["ivt2"]), mf.inactive(pft))  # the shipped table's classes
    assert np.flatnonzero(mf.inactive(pft)).tolist() == [k - 1 for k in mf.INACTIVE_IGBP]


def test_point_order_is_longitude_outer() -> None:
    missing = np.array([[0, 1, 0], [0, 0, 1]])  # (lat, lon)
    j, i = mf.met_cell_order(missing)
    assert list(zip(j.tolist(), i.tolist(), strict=True)) == [(0, 0), (1, 0), (1, 1), (0, 2)]


@pytest.mark.parametrize(
    "row, message",
    [
        ("1, 10.0, 0.0, , 0.2, 0.4, 0.1, 0.3, 0.45", r"line 2, column 4 \(sand\) is empty"),
        ("1, 10.0, 0.0, 0.4, x, 0.4, 0.1, 0.3, 0.45", r"line 2, column 5 \(clay\) is 'x', not a number"),
        ("1, 10.0, 0.0, 0.4, 0.2, 0.4, 0.1, 0.3", r"line 2 has 8 fields; a soil row needs 9"),
        ("# 1, 10.0, 0.0, 0.4, 0.2, 0.4, 0.1, 0.3, 0.45", r"line 2, column 1 \(ijcam\) is '# 1', not a number"),
    ],
)
def test_csv_reader_is_strict(tmp_path: Path, row: str, message: str) -> None:
    p = tmp_path / "soil.csv"
    p.write_text(mf.SOIL_HEADER + "\n" + row + "\n")
    with pytest.raises(InputError, match=message):
        mf.read_soil(p)


def test_csv_reader_accepts_the_originals_trailing_comma(tmp_path: Path) -> None:
    p = tmp_path / "soil.csv"
    p.write_text(mf.SOIL_HEADER + "\n     1, -80.53, 155.00, 0.43000, 0.18000, 0.39000, 0.13036, 0.24752, 0.43482,\n")
    t = mf.read_soil(p)
    assert t["wsat"].tolist() == [0.43482] and t["ijcam"].tolist() == [1.0]


def test_csv_fast_and_strict_readers_read_the_same_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Well-formed tables go through NumPy's reader; the strict one (which also takes tabs) gives the same bits."""
    rng = np.random.default_rng(3)
    values = rng.uniform(-200, 200, size=(50, 9)) * 10.0 ** rng.integers(-8, 8, size=(50, 9))
    rows = [", ".join(repr(float(v)) for v in row) + "," for row in values]
    plain, tabbed = tmp_path / "soil.csv", tmp_path / "soil_tabs.csv"
    plain.write_text(mf.SOIL_HEADER + "\n" + "\n".join(rows) + "\n\n")
    rows[3] = rows[3].replace(", ", "\t", 2)
    tabbed.write_text(mf.SOIL_HEADER + "\n" + "\n".join(rows) + "\n")
    assert mf._read_table_fast(plain, 9) is not None and mf._read_table_fast(tabbed, 9) is None
    fast, tabs = mf.read_soil(plain), mf.read_soil(tabbed)
    monkeypatch.setattr(mf, "_read_table_fast", lambda path, ncol: None)
    strict = mf.read_soil(plain)
    for k, c in enumerate(mf.SOIL_COLUMNS):
        assert fast[c.name].tobytes() == strict[c.name].tobytes() == tabs[c.name].tobytes() == values[:, k].tobytes()
