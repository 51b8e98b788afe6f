"""The soil-model interface: every description is complete and consistent with the kernel layout."""

from __future__ import annotations

import re

import numpy as np
import pytest

from testbed import layout, soil
from testbed.legacy import pool_csvs
from testbed.output import variables_for

from .conftest import REPO

MODELS = list(soil.REGISTRY.values())


def test_registry_finds_every_description_module() -> None:
    modules = {p.stem for p in (REPO / "testbed" / "soil").glob("*.py") if p.stem not in ("__init__", "base")}
    assert set(soil.REGISTRY) == modules
    isoms = [m.legacy_isom for m in MODELS]
    assert len(set(isoms)) == len(isoms), "each soil model has its own isomModel"


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_pools_are_kernel_state_and_diagnostic_columns(model: soil.SoilModel) -> None:
    for p in model.all_pools(2):
        layout.index("state", p.column)
        layout.index("diag", p.column)  # the end-of-day pool in g m-2, written as its output variable
    own = set(layout.block("diag", "host")) | set(layout.block("diag", model.name))
    for v in model.outputs:
        layout.index("diag", v.diag)
        # an annual rule reads columns the kernel sums in this model's runs (keep_day: host + own block)
        for c in v.annual.columns if v.annual else ():
            assert layout.index("diag", c) in own, f"{v.name}: annual column {c} is not summed in {model.name} runs"
    for column in model.extra_prognostic:
        layout.index("state", column)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_output_names_are_unique_and_cover_every_pool(model: soil.SoilModel) -> None:
    for icycle in model.cycles:
        names = [v.name for v in variables_for(model.name, icycle)]
        assert len(names) == len(set(names)), names
        assert {p.output for p in model.all_pools(icycle)} <= set(names)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_prognostic_columns_follow_the_cycle(model: soil.SoilModel) -> None:
    c_only, cn = model.prognostic_columns(1), model.prognostic_columns(2)
    assert set(c_only) < set(cn)
    assert all(layout.column("state", c).units for c in cn)
    n_pools = {p.column for p in model.all_pools(2) if p.element == soil.base.NITROGEN}
    assert not n_pools & set(c_only) and n_pools <= set(cn)


@pytest.mark.parametrize("model", [m for m in MODELS if m.parameters], ids=lambda m: m.name)
def test_parameter_gather_fills_its_layout_table(model: soil.SoilModel) -> None:
    from testbed.config import shipped_namelists

    spec = model.parameters
    pset = spec.load(shipped_namelists() / spec.shipped)
    pft = np.arange(1, 19)
    arr = spec.gather(pset, pft)
    assert arr.shape == (18, len(layout.TABLES[spec.table].columns)) and arr.flags.f_contiguous
    assert np.all(np.isfinite(arr))


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_pool_csv_columns_are_state_columns(model: soil.SoilModel) -> None:
    for spec in pool_csvs(model):
        for name in spec.carbon + spec.nitrogen:
            layout.index("state", name)
        assert spec.header.count(",") + 1 >= spec.nlead + len(spec.carbon)


def test_no_branch_on_a_soil_model_name_outside_the_soil_package() -> None:
    """Everything that differs between soil models is data in its description (docs/extending.md)."""
    names = "|".join(soil.REGISTRY)
    pattern = re.compile(rf"""[!=]=\s*["']({names})["']|["']({names})["']\s*[!=]=|\bin\s*\(\s*["']({names})["']""")
    offenders = []
    for path in (REPO / "testbed").rglob("*.py"):
        if "soil" in path.relative_to(REPO / "testbed").parts[:1]:
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line):
                offenders.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_help_texts_say_what_auto_means_from_the_declarations(monkeypatch: pytest.MonkeyPatch) -> None:
    """`spinup.<key> = 'auto'` is documented from SoilModel.spinup_auto, not restated by hand."""
    import dataclasses

    from testbed.config import key

    assert soil.auto_summary("accelerate_method") == (
        "sasu for CASA and MIMICS-CN, newton for MIMICS-C, anderson for CORPSE"
    )
    assert soil.auto_summary("prespin_method") == "cycle for all of them"
    for name in ("accelerate_method", "prespin_method", "cycle_method", "freeze_after"):
        assert soil.auto_summary(name) in key(f"spinup.{name}").help
    declared = (("accelerate_method", "anderson", "anderson"),)
    anderson = dataclasses.replace(soil.REGISTRY["mimics"], spinup_auto=declared)
    monkeypatch.setitem(soil.REGISTRY, "mimics", anderson)
    assert soil.auto_summary("accelerate_method") == "sasu for CASA, anderson for MIMICS and CORPSE"
    assert soil.auto_summary("cycle_method") == "cycle for all of them"
