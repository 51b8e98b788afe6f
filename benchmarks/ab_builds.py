"""Compare kernel builds in one process, alternating, and check that they give the same bits.

    python benchmarks/ab_builds.py casa-cn A.so B.so [C.so ...] [--years 1] [--rounds 20]

Each argument is a copy of a built kernel extension module (e.g. ``build/cp311/_tb_kernel_avx2.cpython-*.so``
copied aside before and after a change), of the build this CPU uses (``avx2``, ``avx512`` or ``baseline``;
``TESTBED_KERNEL`` chooses another). The model and the forcing are loaded once; then, round after round, every
build runs the same cold-start years in turn (the f90wrap shadow module is pointed at each extension in turn, as
``testbed.kernel.use_build`` does). Alternating within one process and one memory image cancels most of the drift of
a shared machine that separate processes measured minutes apart suffer from. Prints, per build, the best and the
median rate per CPU second of this thread, and fails if any build's final state or annual sums differ in a single
bit from the first build's. For development; ``make bench`` is the benchmark.
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import statistics
from pathlib import Path

import numpy as np
from profile_kernel import load
from run_benchmarks import make_domain, time_kernel


def load_extension(path: Path, name: str):
    """The extension module in ``path`` (a copy of the module ``name``), loaded as a module of its own."""
    loader = importlib.machinery.ExtensionFileLoader(name, str(path))
    spec = importlib.util.spec_from_file_location(name, str(path), loader=loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("config", help="casa-c, casa-cn, mimics-c, mimics-cn or corpse-c")
    parser.add_argument("builds", nargs="+", type=Path, help="copies of the kernel extension module")
    parser.add_argument("--years", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--cells", type=int, default=4263)
    parser.add_argument(
        "--allow-different",
        action="store_true",
        help="report different results instead of failing (upper-bound experiments)",
    )
    args = parser.parse_args()

    from testbed import kernel

    name = kernel._wrapped._tb_kernel.__name__.rpartition(".")[2]
    modules = [load_extension(p, name) for p in args.builds]
    soil, cycle = args.config.split("-")
    model, forcings = load(make_domain(args.cells, 5), soil, cycle, args.years)
    cell_days = model.ncell * 365 * len(forcings)
    rates: dict[Path, list[float]] = {p: [] for p in args.builds}
    first = None
    different: set[str] = set()
    try:
        for _ in range(args.rounds):
            for path, module in zip(args.builds, modules, strict=True):
                kernel._wrapped._tb_kernel = module
                _, cpu, state, annual = time_kernel(model, forcings)
                rates[path].append(cell_days / cpu / 1e6)
                if first is None:
                    first = (state.copy(), annual.copy())
                elif not (
                    np.array_equal(state.view(np.uint64), first[0].view(np.uint64))
                    and np.array_equal(annual.view(np.uint64), first[1].view(np.uint64))
                ):
                    message = f"{path} gives different results from {args.builds[0]}"
                    if not args.allow_different:
                        raise SystemExit(message)
                    different.add(message)
    finally:
        kernel.use_build(kernel.BUILD)
    base = max(rates[args.builds[0]])
    for path in args.builds:
        r = rates[path]
        print(
            f"{str(path):40s} best {max(r):6.3f}  median {statistics.median(r):6.3f} M cell-days per CPU s"
            f"  (best {max(r) / base - 1:+.1%} against the first)"
        )
    same = f"{args.config}: all builds bit-identical over {args.rounds} rounds of {len(forcings)} year(s)"
    print("\n".join(sorted(different)) or same)


if __name__ == "__main__":
    main()
