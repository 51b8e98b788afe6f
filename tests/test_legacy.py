"""The original's pool CSVs (restarts): strict reading, and every value where the format says it is."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from testbed import soil
from testbed.errors import InputError
from testbed.legacy import HOST_CSV, pool_csvs, read_pool_csv, write_pool_csv


def _fields(path: Path) -> list[list[float]]:
    rows = []
    for line in path.read_text().splitlines()[1:]:
        if line.strip():
            rows.append([float(t) for t in line.split(",") if t.strip()])
    return rows


@pytest.mark.parametrize("config", ["casa_cn", "casa_c", "mimics_cn", "mimics_c", "corpse_c"])
def test_every_pool_is_read_from_its_field(setA: Path, config: str) -> None:
    icycle = 2 if config.endswith("cn") else 1
    model = soil.get(config.split("_")[0])
    for spec in pool_csvs(model):
        path = setA / config / "cold" / spec.file_name
        rows = np.array(_fields(path))
        values = read_pool_csv(spec, path, rows.shape[0], icycle)
        names = spec.carbon + (spec.nitrogen if icycle == 2 else ())
        for k, name in enumerate(names):
            assert np.array_equal(values[name], rows[:, spec.nlead + k]), name
        if icycle == 1:
            assert not set(spec.nitrogen) & set(values)


@pytest.mark.parametrize(("soil_model", "icycle"), [("mimics", 2), ("corpse", 1)])
def test_written_csv_reads_back_identically(setA: Path, tmp_path: Path, soil_model: str, icycle: int) -> None:
    from tests.oracles import setA_model

    model = setA_model(setA / "inputs", soil_model, icycle)
    state = model.cold_state()
    for spec in pool_csvs(model.soil):
        write_pool_csv(spec, tmp_path / spec.file_name, state, model, 7)
        again = read_pool_csv(spec, tmp_path / spec.file_name, model.ncell, icycle)
        for name in spec.carbon + (spec.nitrogen if icycle == 2 else ()):
            col = state[:, __import__("testbed.layout", fromlist=["index"]).index("state", name)]
            assert np.allclose(again[name], col, rtol=0, atol=0.5 * 10.0**-spec.decimals), name


def test_corpse_csv_cell_index_is_pt_not_the_grid_cell_id(setA: Path, tmp_path: Path) -> None:
    """corpsepool_end.csv holds pt (the cell index) then ijgcm (the met grid's cell id, any number)."""
    spec = soil.get("corpse").legacy_csv
    lines = (setA / "corpse_c" / "cold" / spec.file_name).read_text().splitlines()
    lines[1:] = [_replace_field(ln, 1, f"{1000 + k:6d}") for k, ln in enumerate(lines[1:]) if ln.strip()]
    (tmp_path / spec.file_name).write_text("\n".join(lines) + "\n")
    values = read_pool_csv(spec, tmp_path / spec.file_name, len(lines) - 1, 1)
    assert values["soil_c_u2_rhiz"].size == len(lines) - 1
    lines[3] = _replace_field(lines[3], 0, "     9")
    (tmp_path / spec.file_name).write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="holds cell 9 where cell 3 was expected"):
        read_pool_csv(spec, tmp_path / spec.file_name, len(lines) - 1, 1)


def _edited(setA: Path, tmp_path: Path, edit) -> tuple[Path, int]:
    lines = (setA / "casa_cn" / "cold" / HOST_CSV.file_name).read_text().splitlines()
    ncell = len([ln for ln in lines[1:] if ln.strip()])
    edit(lines)
    path = tmp_path / HOST_CSV.file_name
    path.write_text("\n".join(lines) + "\n")
    return path, ncell


def _replace_field(line: str, k: int, text: str) -> str:
    parts = line.split(",")
    parts[k] = text
    return ",".join(parts)


def test_truncated_file_names_the_missing_cell(setA: Path, tmp_path: Path) -> None:
    path, ncell = _edited(setA, tmp_path, lambda lines: lines.__delitem__(slice(5, None)))
    with pytest.raises(InputError, match=rf"has 4 cell rows but the run has {ncell} cells \(truncated file\?\)"):
        read_pool_csv(HOST_CSV, path, ncell, 2)


def test_truncated_row_names_line_and_cell(setA: Path, tmp_path: Path) -> None:
    def cut(lines):
        lines[5] = lines[5][:200]

    path, ncell = _edited(setA, tmp_path, cut)
    with pytest.raises(InputError, match=r"line 6 \(cell 5\) has \d+ fields; a row of a C\+N run needs 31"):
        read_pool_csv(HOST_CSV, path, ncell, 2)


def test_blank_field_is_an_error_not_a_shift(setA: Path, tmp_path: Path) -> None:
    def blank(lines):
        lines[3] = _replace_field(lines[3], 14, "   ")

    path, ncell = _edited(setA, tmp_path, blank)
    with pytest.raises(InputError, match=r"line 4 \(cell 3\), column 15 is blank"):
        read_pool_csv(HOST_CSV, path, ncell, 2)


def test_non_numeric_field_names_row_and_column(setA: Path, tmp_path: Path) -> None:
    def word(lines):
        lines[2] = _replace_field(lines[2], 20, "abc")

    path, ncell = _edited(setA, tmp_path, word)
    with pytest.raises(InputError, match=r"line 3 \(cell 2\), column 21 is not a number \('abc'\)"):
        read_pool_csv(HOST_CSV, path, ncell, 2)


def test_rows_out_of_order_are_refused(setA: Path, tmp_path: Path) -> None:
    def swap(lines):
        lines[1], lines[2] = lines[2], lines[1]

    path, ncell = _edited(setA, tmp_path, swap)
    with pytest.raises(InputError, match=r"line 2 holds cell 2 where cell 1 was expected"):
        read_pool_csv(HOST_CSV, path, ncell, 2)


def test_negative_pool_is_refused(setA: Path, tmp_path: Path) -> None:
    def negative(lines):
        lines[4] = _replace_field(lines[4], 13, "-5.000000")

    path, ncell = _edited(setA, tmp_path, negative)
    with pytest.raises(InputError, match=r"line 5 \(cell 4\), column 14 holds a negative pool"):
        read_pool_csv(HOST_CSV, path, ncell, 2)
