"""The best 1-worker / 2-worker ratio a run could reach with no serial time at all (issue 12; docs/performance.md).

    .venv/bin/python benchmarks/scaling_bound.py [--configs casa_cn mimics_cn] [--repeats 5]

Runs `benchmarks/trace_run.py` on `make bench`'s namelists (benchmarks/work/run_<config>_w<1|2>.nml; run
`make bench` once first), alternating 1 and 2 workers, and prints per configuration the medians of: the whole
command, the span of its chunk tasks (first start to last end: the part of the run that can divide between
workers) and the slowest task's kernel time, and the ratio of each 1-worker median to the 2-worker one. The
task span's ratio bounds the whole run's ratio from above whatever the serial start and outputs cost.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def traced(config: str, workers: int, out: Path) -> tuple[float, float, float]:
    """Command wall, task span and the slowest task's kernel wall (s) of one traced run."""
    nml = HERE / "work" / f"run_{config}_w{workers}.nml"
    subprocess.run(
        [sys.executable, str(HERE / "trace_run.py"), str(nml), "--json", str(out)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    data = json.loads(out.read_text())
    tasks = [e for e in data["events"] if e["name"] == "task"]
    span = max(t["t1"] for t in tasks) - min(t["t0"] for t in tasks)
    kernel = max(
        sum(e["t1"] - e["t0"] for e in data["events"] if e["name"] == "kernel" and e["thread"] == t["thread"])
        for t in tasks
    )
    return data["main"], span, kernel


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--configs", nargs="+", default=["casa_cn", "mimics_cn"])
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    runs: dict[tuple[str, int], list[tuple[float, float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            for config in args.configs:
                for workers in (1, 2):
                    runs.setdefault((config, workers), []).append(traced(config, workers, Path(tmp) / "trace.json"))
    for config in args.configs:
        one, two = runs[(config, 1)], runs[(config, 2)]
        parts = []
        for i, name in enumerate(("command", "task span", "kernel, slowest task")):
            a, b = statistics.median(r[i] for r in one), statistics.median(r[i] for r in two)
            parts.append(f"{name} {a:.2f} / {b:.2f} s = {a / b:.2f}x")
        print(f"{config} (1 / 2 workers, medians of {args.repeats}): " + "; ".join(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
