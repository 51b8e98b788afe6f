"""Shared fixtures: where the original's reference data and the spec oracles are.

Tests that need ``../shared/reference`` find it through ``TESTBED_REFERENCE_DIR``
or next to the repository. Where it is missing they skip with the reason,
except under CI (``CI`` set), where a missing reference is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from testbed import kernel_builds

REPO = Path(__file__).resolve().parents[1]


def _shared_dir() -> Path:
    return REPO.parent / "shared"


def reference_dir() -> Path | None:
    env = os.environ.get("TESTBED_REFERENCE_DIR")
    path = Path(env) if env else _shared_dir() / "reference"
    return path if (path / "setA").is_dir() else None


def spec_dir() -> Path | None:
    env = os.environ.get("TESTBED_SPEC_DIR")
    path = Path(env) if env else (reference_dir() or _shared_dir() / "reference").parent / "spec"
    return path if path.is_dir() else None


def _missing(what: str, hint: str) -> None:
    message = f"{what} not found ({hint})"
    if os.environ.get("CI"):
        pytest.fail(message + "; CI must have ../shared beside the repository")
    pytest.skip(message)


@pytest.fixture(scope="session")
def refdir() -> Path:
    """The original's reference outputs (../shared/reference)."""
    path = reference_dir()
    if path is None:
        _missing("reference data", "set TESTBED_REFERENCE_DIR or put shared/ beside the repository")
    return path


@pytest.fixture(scope="session")
def setA(refdir: Path) -> Path:
    return refdir / "setA"


@pytest.fixture(scope="session")
def specdir() -> Path:
    """The spec folder with the Python oracles (../shared/spec)."""
    path = spec_dir()
    if path is None:
        _missing("spec oracles", "set TESTBED_SPEC_DIR or put shared/ beside the repository")
    return path


@pytest.fixture(params=list(kernel_builds.BUILDS))
def kernel_build(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test with each kernel build (testbed/kernel_builds.py), skipping one this CPU lacks."""
    from testbed import kernel

    name = request.param
    lacking = kernel_builds.missing(name)
    if lacking:
        pytest.skip(f"kernel build {name}: this CPU lacks {', '.join(lacking)}")
    before = kernel.BUILD
    kernel.use_build(name)
    yield name
    kernel.use_build(before)
