"""Fingerprints of a run's inputs, so that a resume refuses inputs that changed since the run started.

Small inputs (parameter sets, gridinfo, soil, phenology tables) are hashed whole (sha256). Met files are
large (GB), so their fingerprint is cheap: the size, the modification time (ns) and the sha256 of 16
samples of 64 KiB spread evenly over the file (always including its first and last 64 KiB). A change of
size or mtime, or of any sampled byte, is detected; an edit that keeps size and mtime and touches no
sampled block is not (documented in docs/reliability.md).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path

SAMPLES = 16
BLOCK = 64 * 1024


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def met_fingerprint(path: str | os.PathLike) -> str:
    """size:mtime_ns:sha256 of SAMPLES blocks of BLOCK bytes (see the module docstring)."""
    st = os.stat(path)
    h = hashlib.sha256()
    with open(path, "rb") as f:
        last = max(0, st.st_size - BLOCK)
        for k in range(SAMPLES):
            f.seek(last * k // (SAMPLES - 1))
            h.update(f.read(BLOCK))
    return f"{st.st_size}:{st.st_mtime_ns}:{h.hexdigest()}"


def inputs(files: Mapping[str, Path], met_files: list[Path], hashes: Mapping[str, str]) -> dict[str, str]:
    """Fingerprints by input: namelist key -> sha256 of the file, met path -> met fingerprint, plus ``hashes``."""
    out = {key: file_sha256(path) for key, path in files.items()}
    out.update({f"met:{p}": met_fingerprint(p) for p in met_files})
    out.update({f"parameters:{k}": v for k, v in hashes.items()})
    return out


def changed(recorded: str, now: Mapping[str, str]) -> list[str]:
    """The inputs whose fingerprint differs from a recorded one (JSON), as readable descriptions."""
    before = json.loads(recorded) if recorded else {}
    out = []
    for key in sorted(set(before) | set(now)):
        if before.get(key) != now.get(key):
            what = key.replace("met:", "met file ").replace("parameters:", "parameter values of ")
            out.append(what if key in before and key in now else f"{what} ({'added' if key in now else 'removed'})")
    return out
