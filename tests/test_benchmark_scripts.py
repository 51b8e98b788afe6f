"""The benchmark scripts still run against the current package (they call the runner's functions directly)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"


@pytest.mark.slow
def test_scaling_script_runs_and_extrapolates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``benchmarks/scaling.py --quick`` (docs/performance_scaling.md) end to end, its work folder in tmp_path."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import run_benchmarks
    import scaling

    monkeypatch.setattr(run_benchmarks, "WORK", tmp_path)
    out = tmp_path / "scaling.json"
    monkeypatch.setattr(sys, "argv", ["scaling.py", "--quick", "--out", str(out)])
    scaling.main()
    doc = json.loads(out.read_text())
    rates = doc["rates"]
    assert rates["MIMICS-CN kernel cell-days/s, one core (chunk, every year of the file)"] > 0
    for workers in (1, 2):
        fixed = doc[f"fixed_w{workers}"]
        assert fixed["chunk tasks"] == workers and fixed["kernel, CPU of all tasks"] > 0
        assert 0 < fixed["first chunk task starts"] < fixed["`testbed.cli.main`, whole"]
    rows = [line for line in doc["extrapolation_md"] if line.startswith("| 0.")]
    assert len(rows) == 2 * 3  # two grids x (one year, brute-force spin-up, testbed spinup)
