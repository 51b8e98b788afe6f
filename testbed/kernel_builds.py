"""The kernel's builds: one extension module per instruction set, compiled from the same Fortran sources.

``BUILDS`` is the one declaration: meson.build runs this file as a script to learn each build's extension
module and extra gfortran flags; :mod:`testbed.kernel` loads the best build this CPU supports at import
(``TESTBED_KERNEL=<name>`` forces one). Every build gives bit-identical results (no FMA, no fast-math, no
libmvec: docs/performance.md "Dispatched AVX2 and AVX-512 builds"); only the width of the vectorised cell loops differs.

This file imports only the standard library at module level (meson runs it before numpy may be importable).
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass
from types import ModuleType

#: environment variable that forces a build by name
ENV = "TESTBED_KERNEL"


@dataclass(frozen=True)
class Build:
    """One compiled variant of the kernel."""

    module: str  #: extension module inside the ``testbed`` package
    flags: tuple[str, ...]  #: gfortran flags added to the project's
    features: tuple[str, ...]  #: CPU features it needs (names of numpy's CPU feature table)
    cpu_family: str = ""  #: meson's host CPU family the build is made for ("" = every one)


#: the builds, in order of preference (the last one the CPU supports is chosen); ``baseline`` runs on any x86-64
BUILDS: dict[str, Build] = {
    "baseline": Build("_tb_kernel", (), ()),
    # -mno-fma: AVX2 CPUs have FMA, but a fused multiply-add rounds once and changes results. -O3 (after the
    # project's -O2) unswitches, unrolls and vectorises more loops (measured: CASA-CN +15 %, MIMICS-CN +8 %); it changes
    # no result: no FP re-association without fast-math, and -nostdinc keeps libmvec out. -fno-ipa-ra: with GCC's
    # interprocedural register allocation a vectorised loop's caller skipped the vzeroupper before calling a kernel
    # routine that then called libm's SSE code (pow) with the upper halves dirty; on Intel (Sapphire Rapids) every such
    # call paid the SSE/AVX transition: CASA-CN 3.2 M cell-days/s against 6.3 M without IPA-RA (docs/performance.md)
    "avx2": Build("_tb_kernel_avx2", ("-O3", "-mavx2", "-mno-fma", "-fno-ipa-ra"), ("AVX", "AVX2"), "x86_64"),
    # 256-bit vectors with the AVX-512 instruction set (masks, more registers): on Intel (Sapphire Rapids) 512-bit
    # vectors made MIMICS-CN 10 % slower than this, on AMD Zen 5 they were within noise of it (docs/performance.md)
    "avx512": Build(
        "_tb_kernel_avx512",
        ("-O3", "-mavx512f", "-mno-fma", "-mprefer-vector-width=256", "-fno-ipa-ra"),
        ("AVX", "AVX2", "AVX512F"),
        "x86_64",
    ),
}


def cpu_features() -> dict[str, bool]:
    """numpy's table of the CPU's features, each also enabled by the OS (e.g. AVX state saved by XSAVE)."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:  # pragma: no cover - numpy < 2
        from numpy.core._multiarray_umath import __cpu_features__
    return dict(__cpu_features__)


def missing(name: str) -> list[str]:
    """The CPU features build ``name`` needs and this machine lacks (empty: it can run here)."""
    have = cpu_features()
    return [f for f in BUILDS[name].features if not have.get(f, False)]


def supported() -> list[str]:
    """The builds this CPU can run, in order of preference (``baseline`` first)."""
    return [name for name in BUILDS if not missing(name)]


def choose(environ: dict[str, str] | os._Environ = os.environ) -> str:
    """The build to use: ``$TESTBED_KERNEL`` if set, else the last of :func:`supported`.

    Raises ValueError for an unknown name or a build this CPU cannot run.
    """
    forced = environ.get(ENV, "").strip()
    if not forced:
        return supported()[-1]
    if forced not in BUILDS:
        raise ValueError(f"{ENV}={forced!r} is not a kernel build; choose one of {', '.join(BUILDS)}")
    lacking = missing(forced)
    if lacking:
        raise ValueError(
            f"{ENV}={forced}: this CPU (or its operating system) lacks {', '.join(lacking)}; "
            f"it can run {', '.join(supported())}"
        )
    return forced


def load(name: str) -> ModuleType:
    """The extension module of build ``name``; ValueError when this CPU cannot run it."""
    lacking = missing(name)
    if lacking:
        raise ValueError(f"kernel build {name!r} needs {', '.join(lacking)}, which this CPU lacks")
    return importlib.import_module(f"testbed.{BUILDS[name].module}")


def _meson(cpu_family: str) -> None:
    """For meson.build, one line per build made on ``cpu_family``: the module name, then its flags separated by
    commas."""
    for build in BUILDS.values():
        if build.cpu_family in ("", cpu_family):
            print(build.module, ",".join(build.flags))


if __name__ == "__main__":
    _meson(sys.argv[2]) if sys.argv[1:2] == ["--meson"] else sys.exit("usage: kernel_builds.py --meson CPU_FAMILY")
