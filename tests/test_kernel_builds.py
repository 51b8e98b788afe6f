"""The kernel's builds (testbed/kernel_builds.py): choice at import, forcing one, and identical results."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from testbed import kernel, kernel_builds
from testbed.errors import KernelError
from testbed.run import cycle_schedule

from .oracles import run_model, setA_model


def _cpu(monkeypatch: pytest.MonkeyPatch, **features: bool) -> None:
    monkeypatch.setattr(kernel_builds, "cpu_features", lambda: features)


def test_the_best_build_the_cpu_supports_is_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    _cpu(monkeypatch)
    assert kernel_builds.supported() == ["baseline"]
    assert kernel_builds.choose({}) == "baseline"
    _cpu(monkeypatch, AVX=True, AVX2=True)
    assert kernel_builds.choose({}) == "avx2"
    _cpu(monkeypatch, AVX=True, AVX2=True, AVX512F=True)
    assert kernel_builds.choose({}) == "avx512"
    assert kernel_builds.choose({kernel_builds.ENV: "baseline"}) == "baseline"
    assert kernel_builds.choose({kernel_builds.ENV: " avx2 "}) == "avx2"


def test_a_forced_build_the_cpu_lacks_is_refused_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    _cpu(monkeypatch, AVX=True)
    with pytest.raises(ValueError, match="TESTBED_KERNEL=avx2: this CPU .* lacks AVX2; it can run baseline"):
        kernel_builds.choose({kernel_builds.ENV: "avx2"})
    with pytest.raises(ValueError, match="'sse9' is not a kernel build; choose one of baseline, avx2, avx512"):
        kernel_builds.choose({kernel_builds.ENV: "sse9"})
    before = kernel.BUILD
    with pytest.raises(KernelError, match="needs AVX2, which this CPU lacks"):
        kernel.use_build("avx2")
    assert kernel.BUILD == before


def test_the_environment_variable_chooses_the_build_at_import() -> None:
    code = "import testbed.kernel as k; print(k.BUILD, k._wrapped._tb_kernel.__name__)"
    run = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, kernel_builds.ENV: "baseline"}, capture_output=True, text=True
    )
    assert run.stdout.split() == ["baseline", "testbed._tb_kernel"], run.stderr
    env = {**os.environ, kernel_builds.ENV: "sse9"}
    bad = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert bad.returncode != 0 and "'sse9' is not a kernel build" in bad.stderr


def test_no_build_has_fused_multiply_adds_or_vector_math() -> None:
    """FMA rounds once and libmvec's exp/log/pow differ from libm's in the last bits: neither may appear."""
    for name, build in kernel_builds.BUILDS.items():
        assert not any("fma" in flag and not flag.startswith("-mno-") for flag in build.flags), name
        assert build.flags == () or "-mno-fma" in build.flags, name


@pytest.mark.parametrize(("soil_model", "icycle"), [("casa", 2), ("mimics", 1), ("mimics", 2)])
def test_every_build_gives_the_baseline_bits(setA: Path, soil_model: str, icycle: int) -> None:
    """2 years of set A's 12 cells, daily diagnostics included, with each build the CPU has."""
    inputs = setA / "inputs"
    steps = cycle_schedule(inputs / "met" / "met_1901_1901.nc", 2, daily=True)
    before = kernel.BUILD
    runs = {}
    try:
        for name in kernel_builds.supported():
            kernel.use_build(name)
            model = setA_model(inputs, soil_model, icycle)
            runs[name] = run_model(model, model.cold_state(), steps)
    finally:
        kernel.use_build(before)
    if len(runs) == 1:
        pytest.skip("this CPU runs only the baseline build")
    base = runs.pop("baseline")
    for name, run in runs.items():
        for what in ("daily", "annual", "states"):
            for ours, theirs in zip(getattr(run, what), getattr(base, what), strict=True):
                assert np.array_equal(ours.view(np.uint64), theirs.view(np.uint64)), (name, what)


def test_meson_makes_the_vector_builds_on_x86_64_only() -> None:
    """meson.build asks for the builds of its host CPU family: on aarch64 only the baseline is compiled."""
    script = Path(kernel_builds.__file__)
    lines = {
        family: subprocess.run(
            [sys.executable, str(script), "--meson", family], capture_output=True, text=True, check=True
        ).stdout.split("\n")[:-1]
        for family in ("x86_64", "aarch64")
    }
    assert [line.split(" ")[0] for line in lines["x86_64"]] == [b.module for b in kernel_builds.BUILDS.values()]
    assert lines["x86_64"][1] == "_tb_kernel_avx2 " + ",".join(kernel_builds.BUILDS["avx2"].flags)
    assert lines["aarch64"] == ["_tb_kernel "]


def test_vector_builds_keep_fma_off_and_ipa_register_allocation_off() -> None:
    """No fused multiply-add (results would change), and no interprocedural register allocation: with it, GCC left
    the upper halves of the vector registers dirty when a vectorised loop's function called a kernel routine that
    called libm's SSE code, and Intel CPUs then paid an SSE/AVX transition per call (CASA-CN at half speed)."""
    for name, build in kernel_builds.BUILDS.items():
        if name != "baseline":
            assert "-mno-fma" in build.flags and "-fno-ipa-ra" in build.flags, name
