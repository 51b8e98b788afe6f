"""The testbed command: help texts, namelist editing, import-legacy."""

from __future__ import annotations

from pathlib import Path

import pytest

from testbed.cli import build_parser, main
from testbed.config import RunConfig


@pytest.mark.parametrize(
    "command",
    [
        "run",
        "validate",
        "namelist",
        "import-legacy",
        "summary",
        "plot",
        "demo",
        "forcing synthetic",
        "forcing from-clm5",
        "forcing validate",
    ],
)
def test_every_subcommand_has_help(command: str, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args([*command.split(), "--help"])
    assert exc.value.code == 0
    assert "usage: testbed" in capsys.readouterr().out


def test_namelist_new_set_show_diff(tmp_path: Path, capsys) -> None:
    a, b = tmp_path / "a.nml", tmp_path / "b.nml"
    assert main(["namelist", "new", str(a), "run.soil_model=mimics"]) == 0
    assert main(["namelist", "new", str(b)]) == 0
    assert main(["namelist", "set", str(b), "run.cycles=7", "parallel.workers=2"]) == 0
    assert RunConfig.read(b).get("run.cycles") == 7
    capsys.readouterr()
    assert main(["namelist", "diff", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "run.soil_model" in out and "'mimics'" in out and "run.cycles" in out and "parallel.workers" in out
    assert main(["namelist", "show", str(b), "--changed"]) == 0
    shown = capsys.readouterr().out
    assert "cycles = 7" in shown and "soil_model" not in shown
    assert main(["namelist", "new", str(a)]) == 2  # exists: refuses without --overwrite
    assert "exists; pass --overwrite" in capsys.readouterr().err


def test_import_legacy_writes_namelist_and_parameter_sets(setA: Path, tmp_path: Path) -> None:
    out = tmp_path / "imported" / "run.nml"
    assert main(["import-legacy", str(setA / "mimics_cn" / "trans" / "fcasacnp_clm_testbed.lst"), "-o", str(out)]) == 0
    cfg = RunConfig.read(out)
    assert cfg.get("run.mode") == "transient" and cfg.get("run.soil_model") == "mimics"
    assert (cfg.get("run.first_year"), cfg.get("run.last_year")) == (1901, 1910)
    assert cfg.get("files.met").endswith("met_{year}_{year}.nc")
    assert cfg.resolve(cfg.get("files.legacy_restart_casa")).name == "cnppool_end.csv"
    assert (out.parent / "params_casa.nml").is_file() and (out.parent / "params_mimics.nml").is_file()
    assert main(["validate", str(out)]) == 0
