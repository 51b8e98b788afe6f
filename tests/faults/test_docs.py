"""docs/reliability.md "Faults" names only flags, exit codes, files and numbers that the code has."""

from __future__ import annotations

import errno
import inspect
import re
from pathlib import Path

import pytest

import testbed.runner as runner
from testbed import fingerprint
from testbed.cli import build_parser, main
from testbed.runner import folder
from testbed.runner.segments import ALLOWED_WORKER_DEATHS

DOC = Path(__file__).parents[2] / "docs" / "reliability.md"


@pytest.fixture(scope="module")
def faults() -> str:
    text = DOC.read_text()
    return text[text.index("\n## Faults\n") :]


def _options(parser) -> set[str]:
    out = set()
    for action in parser._actions:
        out.update(action.option_strings)
        if isinstance(action.choices, dict):  # subcommands
            for sub in action.choices.values():
                out |= _options(sub)
    return out


def test_every_flag_named_exists(faults: str) -> None:
    named = set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", faults))
    assert {"--resume", "--overwrite", "--break-lock", "--debug"} <= named
    assert named <= _options(build_parser())


def test_every_exit_code_named_exists(faults: str) -> None:
    table = faults[faults.index("### Exit codes") : faults.index("### The output folder")]
    codes = {int(c) for c in re.findall(r"^\| (\d+) \|", table, re.MULTILINE)}
    returned = {int(c) for c in re.findall(r"return (\d+)", inspect.getsource(main))}
    assert codes == returned | {0}, (codes, returned)


def test_sentences_and_numbers_are_the_code_s(faults: str) -> None:
    what = runner._what
    assert f"`{what(KeyboardInterrupt())}`" in faults
    assert f"`{what(runner.Terminated())}`" in faults
    full = what(OSError(errno.ENOSPC, "No space left on device", "FILE"))
    assert f"`{full}`" in faults
    for code in (errno.EACCES, errno.EPERM, errno.EROFS):
        assert what(OSError(code, "<reason>", "FILE")) == "cannot write FILE: <reason>"
    assert "`cannot write FILE: <reason>` (EACCES, EPERM, EROFS)" in faults
    assert f"less than {runner.NEARLY_FULL // 2**20} MiB free" in faults
    assert f"allowed-failures = {ALLOWED_WORKER_DEATHS})" in faults
    assert f"the sha256 of {fingerprint.SAMPLES}\nblocks of {fingerprint.BLOCK // 1024} KiB" in faults
    assert f"`{folder.LOCK}`" in faults
    for name in (folder.ANNUAL, folder.RESTART, folder.CHECKPOINT, folder.PARTS, folder.RUN_LOG, folder.NAMELIST):
        assert f"`{name}`" in faults
