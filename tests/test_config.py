"""Run configuration: declared keys, validation with hints, overrides, round trips."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from testbed import soil
from testbed.config import KEYS, RunConfig, diff, help_line, markdown_reference, namelist_text, shipped_namelists
from testbed.errors import ConfigError

from .conftest import REPO


def test_every_key_has_a_default_help_and_documentation() -> None:
    doc = markdown_reference()
    for k in KEYS:
        assert k.help
        assert f"| `{k.name}` |" in doc
    assert (REPO / "docs" / "namelist.md").read_text().strip() == doc.strip(), "regenerate docs/namelist.md"


def test_round_trip_through_a_namelist_file(tmp_path: Path) -> None:
    cfg = RunConfig.defaults()
    cfg.override(
        [
            "run.soil_model=mimics",
            "run.cycles=40",
            "perturbation.dtair=2.5",
            "fixes.clamp_btran=true",
            "files.met=met/met_{year}_{year}.nc",
            "run.first_year=1901",
            "run.last_year=1920",
        ]
    )
    path = tmp_path / "run.nml"
    path.write_text(namelist_text(cfg))
    again = RunConfig.read(path)
    assert diff(cfg, again) == []
    assert again.get("perturbation.dtair") == 2.5 and again.get("fixes.clamp_btran") is True
    assert again.sha256() == cfg.sha256()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("run.cylces=3", "unknown key 'run.cylces'; did you mean 'run.cycles'?"),
        ("run.soil_model=mimcs", "is not one of casa, mimics, corpse; did you mean 'mimics'?"),
        ("run.cycles=two", "run.cycles must be a whole number"),
        ("run.daily_output=maybe", "run.daily_output must be true or false"),
        ("perturbation.dtair=warm", "perturbation.dtair must be a number"),
        ("run.cycles", "must look like group.key=value"),
    ],
)
def test_bad_overrides_are_clear_errors(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        RunConfig.defaults().override([override])


def test_unknown_group_and_inconsistent_keys(tmp_path: Path) -> None:
    (tmp_path / "a.nml").write_text("&runn\n cycles = 2\n/\n")
    with pytest.raises(ConfigError, match=r"unknown group &runn; did you mean 'run'\?"):
        RunConfig.read(tmp_path / "a.nml")
    with pytest.raises(ConfigError, match="a transient run needs run.first_year and run.last_year"):
        RunConfig.defaults().override(["run.mode=transient"])
    with pytest.raises(ConfigError, match=r"must contain \{year\}"):
        RunConfig.defaults().override(["files.met=met.nc", "run.first_year=1901", "run.last_year=1902"])


def test_shipped_example_namelists_parse_and_point_at_shipped_parameters() -> None:
    examples = sorted(p for pattern in ("spinup_*.nml", "hist_*.nml") for p in shipped_namelists().glob(pattern))
    assert len(examples) == 10
    for path in examples:
        cfg = RunConfig.read(path)
        assert cfg.resolve(cfg.get("files.casa_params")).is_file()
        assert cfg.resolve(cfg.get("files.phenology")).is_file()
        spec = soil.get(cfg.get("run.soil_model")).parameters
        if spec:
            assert cfg.resolve(cfg.get(spec.config_key)).is_file()


def test_shipped_namelists_carry_the_current_help_of_every_key_they_set() -> None:
    """The help of a key is declared once (config.KEYS); a shipped namelist's comment line before a key is a copy
    (what `testbed namelist` writes), so it must be the current one."""
    by = {(k.group, k.name): k for k in KEYS}
    stale = []
    for path in sorted(shipped_namelists().glob("*.nml")):
        lines = path.read_text().splitlines()
        group = None
        for i, line in enumerate(lines):
            if m := re.match(r"&(\w+)", line):
                group = m.group(1)
            m = re.match(r"  (\w+) = ", line)
            if m and i and lines[i - 1].startswith("  ! ") and (group, m.group(1)) in by:
                if lines[i - 1] != help_line(by[(group, m.group(1))]):
                    stale.append(f"{path.name}:{i}: {group}.{m.group(1)}")
    assert not stale, stale
