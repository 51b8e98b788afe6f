"""CPU of the met reads of a run's chunk tasks, against the read block size (docs/performance.md).

    .venv/bin/python benchmarks/met_read.py MET_FILE [--chunks 1,2] [--block-kb 1024,32768] [--repeats 3]
        [--threads]

For each block size (``testbed.ncclassic.READ_BYTES``) and number of chunks (an even split of the cells in
model order, as ``auto_chunk`` makes them), reads every year of every chunk as a chunk task does
(``MetFile._read_raw``: the classic reader for a classic file) and prints the thread CPU seconds per chunk,
best and median over the repeats, which alternate the block sizes. ``--threads``: the chunks of a split read
at the same time, one thread each (as the worker threads of a run do), else one after another.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

from testbed import ncclassic
from testbed.forcing import MetFile


def read_chunk(met: MetFile, cells: slice) -> float:
    """Thread CPU seconds of reading every year of ``cells``."""
    c0 = time.thread_time()
    for year in range(met.nyear):
        met._read_raw(year, cells)
    return time.thread_time() - c0


def _task(met: MetFile, cells: slice, out: list[float], k: int) -> None:
    out[k] = read_chunk(met, cells)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("met")
    parser.add_argument("--chunks", default="1,2", help="numbers of chunks, comma-separated")
    parser.add_argument("--block-kb", default="1024,32768", help="READ_BYTES values in KiB, comma-separated")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", action="store_true", help="read the chunks of a split concurrently")
    args = parser.parse_args()
    met = MetFile.open(args.met)
    print(f"{met.path}: {met.ncell} cells x {met.nyear} years, {'classic' if met.classic else 'NetCDF library'}")
    splits = [int(x) for x in args.chunks.split(",")]
    blocks = [int(x) << 10 for x in args.block_kb.split(",")]
    cpu: dict[tuple[int, int], list[float]] = {}
    for _ in range(args.repeats):
        for block in blocks:
            ncclassic.READ_BYTES = block
            for n in splits:
                size = -(-met.ncell // n)
                chunks = [slice(i, min(i + size, met.ncell)) for i in range(0, met.ncell, size)]
                if args.threads:
                    got = [0.0] * len(chunks)
                    threads = [threading.Thread(target=_task, args=(met, c, got, k)) for k, c in enumerate(chunks)]
                    for t in threads:
                        t.start()
                    for t in threads:
                        t.join()
                else:
                    got = [read_chunk(met, c) for c in chunks]
                cpu.setdefault((block, n), []).extend(got)
    print("block    chunks  CPU per chunk, s (best / median)  all chunks (median x chunks)")
    for (block, n), values in cpu.items():
        med = statistics.median(values)
        print(f"{block >> 10:6d} KiB {n:4d}   {min(values):6.3f} / {med:6.3f}  {med * n:6.3f}")


if __name__ == "__main__":
    main()
