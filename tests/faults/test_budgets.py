"""NaN budget residuals are reported, never dropped; the summary names cells with NaN instead of skipping them."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import testbed.runner as runner
from testbed import analysis as an
from testbed import layout
from testbed.cli import main
from testbed.config import RunConfig
from testbed.run import Perturbation
from testbed.runner import build_model, schedule
from testbed.runner.segments import ChunkJob, run_chunk, worst
from tests.test_analysis import make_run
from tests.test_runner import write_namelist


def test_worst_keeps_a_nan() -> None:
    assert worst(1.0, 2.0) == 2.0
    assert math.isnan(worst(float("nan"), 2.0)) and math.isnan(worst(2.0, float("nan")))
    assert max(float("nan"), 2.0) == 2.0 or max(2.0, float("nan")) == 2.0  # why worst exists


@pytest.mark.parametrize("cycle", ["c", "cn"])
def test_a_nan_cell_gives_a_nan_residual_when_budgets_are_not_checked(domain: Path, tmp_path: Path, cycle: str) -> None:
    cfg = RunConfig.read(write_namelist(tmp_path, domain, f"run.cycle={cycle}", "run.check_budgets=false"))
    model = build_model(cfg)
    state = model.cold_state()
    state[4, layout.index("state", "cslow")] = np.nan  # one cell broken in a way the input checks cannot see
    if cycle == "cn":
        state[7, layout.index("state", "nslow")] = np.nan
    job = ChunkJob(
        slice(0, model.ncell), schedule(cfg)[:1], Perturbation(0.0, 0.0, 1.0, 0), True, False, True, str(tmp_path)
    )
    res = run_chunk(job, model, state, 0)
    assert math.isnan(res.max_c_residual)
    assert math.isnan(res.max_n_residual) == (cycle == "cn")


def test_run_log_reports_a_nan_residual_and_no_n_budget_for_c_only(
    domain: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The driver's budget line keeps a chunk's NaN (the chunks' residuals are made NaN on the way in)."""
    real = runner.run_segments

    def nan_first_chunk(*args, **kwargs):
        for seg in real(*args, **kwargs):
            seg.results[0].max_c_residual = float("nan")
            yield seg

    monkeypatch.setattr(runner, "run_segments", nan_first_chunk)
    nml = write_namelist(tmp_path, domain, "run.cycle=c", "run.check_budgets=false", "parallel.chunk_size=6")
    assert main(["run", str(nml), "--workers", "1", "-q"]) == 0
    log = (tmp_path / "out" / "run.log").read_text()
    assert " done: max |C budget residual| nan g m-2 yr-1;" in log
    assert "N budget" not in log


def test_summary_reports_cells_with_nan(tmp_path: Path, capsys) -> None:
    ok, bad = make_run(), make_run()
    active = np.flatnonzero(an.active_mask(bad).values)
    a, b = active[-2:]
    bad["cgpp"][0, a] = np.nan  # one year of one cell: the time mean alone would skip it
    bad["cleaf"][:, b] = np.nan
    bad["cgpp"][:, np.flatnonzero(~an.active_mask(bad).values)[0]] = np.nan  # an inactive cell does not count
    table = an.summary_table({"ok": ok, "bad": bad})
    assert table.attrs["nan_cells"] == {"bad": [int(bad["cellid"][a]), int(bad["cellid"][b])]}
    md = an.to_markdown(table)
    assert (
        f"Warning: run bad: 2 active cell(s) with NaN values (cellid {int(bad['cellid'][a])}, "
        f"{int(bad['cellid'][b])}); the table's sums and means skip those values."
    ) in md
    assert "run ok" not in md
    for name, ds in (("ok", ok), ("bad", bad)):
        (tmp_path / name).mkdir()
        ds.to_netcdf(tmp_path / name / "annual.nc")
    assert main(["summary", str(tmp_path / "ok"), str(tmp_path / "bad")]) == 0
    err = capsys.readouterr().err
    assert err.count("testbed: warning: run bad: 2 active cell(s) with NaN values") == 1 and "run ok" not in err
