"""Which code wrote an output: package version and, from a git checkout, commit and dirty flag.

Every output records :func:`attributes` (NetCDF global attributes; the summary CSV as
``#`` comment lines, docs/outputs.md); ``testbed --version`` prints :func:`describe`.
"""

from __future__ import annotations

import functools
import importlib.metadata
import subprocess
from collections.abc import Mapping
from pathlib import Path

#: the package's source tree: a git checkout when installed editable from one
_SOURCE = Path(__file__).resolve().parents[1]
#: attribute names, declared once
VERSION, COMMIT, DIRTY = "testbed_version", "testbed_git_commit", "testbed_git_dirty"
#: the kernel build that computed the results (testbed/kernel_builds.py; every build gives the same bits)
KERNEL = "testbed_kernel_build"


def version() -> str:
    """The installed package version (``importlib.metadata``), ``"unknown"`` if not installed."""
    try:
        return importlib.metadata.version("testbed")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(_SOURCE), *args], capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


@functools.cache
def git_state() -> tuple[str, bool] | None:
    """(commit, dirty) when the package runs from a git checkout, else None.

    The checkout must be the package's own source tree (a non-editable install inside some
    other repository's folder is not "from a git checkout"). Dirty = tracked files modified.
    """
    top = _git("rev-parse", "--show-toplevel")
    if not top or Path(top).resolve() != _SOURCE:
        return None
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no")
    if not commit or status is None:
        return None
    return commit, bool(status)


def attributes() -> dict[str, str]:
    """Provenance attributes for an output: version, commit + dirty flag ("true"/"false") from git, kernel build."""
    attrs = {VERSION: version()}
    state = git_state()
    if state:
        attrs[COMMIT] = state[0]
        attrs[DIRTY] = "true" if state[1] else "false"
    build = kernel_build()
    if build:
        attrs[KERNEL] = build
    return attrs


def kernel_build() -> str | None:
    """The kernel build this process uses (loading the kernel), None when the kernel cannot be loaded."""
    try:
        from . import kernel
    except Exception:  # noqa: BLE001 - no kernel (not built, or TESTBED_KERNEL names a build the CPU lacks)
        return None
    return kernel.BUILD


def describe(attrs: Mapping[str, object] | None = None, *, full: bool = False) -> str:
    """One line, e.g. ``testbed 0.1.0 (git 1a2b3c4d5e6f, dirty)``, of ``attrs`` (default: this code).

    ``full``: the whole commit hash instead of its first 12 digits.
    """
    a = attributes() if attrs is None else attrs
    text = f"testbed {a.get(VERSION, 'unknown')}"
    if a.get(COMMIT):
        commit = str(a[COMMIT]) if full else str(a[COMMIT])[:12]
        text += f" (git {commit}{', dirty' if str(a.get(DIRTY)) == 'true' else ''})"
    return text


def mismatch(written: Mapping[str, object]) -> str | None:
    """A warning text when a file's provenance ``written`` differs from this code's, else None.

    Compared: version, and the commit when both sides know it. Files older than provenance
    (no version attribute) also differ.
    """
    ours = attributes()
    same = str(written.get(VERSION)) == ours[VERSION]
    if same and written.get(COMMIT) and ours.get(COMMIT):
        same = str(written[COMMIT]) == ours[COMMIT]
    if same:
        return None
    theirs = describe(written) if written.get(VERSION) else "a testbed without provenance attributes"
    return f"written by {theirs}; this is {describe(ours)}"
