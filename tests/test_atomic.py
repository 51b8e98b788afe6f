"""testbed.atomic: a failed write leaves the previous file and no temporary, and names the file it could not write."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from testbed.atomic import TMP_SUFFIX, atomic_write, write_text


def test_a_write_replaces_the_file_only_when_it_succeeds(tmp_path: Path) -> None:
    target = tmp_path / "restart.nc"
    write_text(target, "old")
    with pytest.raises(ValueError), atomic_write(target) as tmp:
        tmp.write_text("half")
        raise ValueError("the writer failed")
    assert target.read_text() == "old"
    assert not list(tmp_path.glob(f"*{TMP_SUFFIX}"))
    write_text(target, "new")
    assert target.read_text() == "new"


@pytest.mark.parametrize("named", [False, True])
def test_a_full_disk_names_the_target_not_the_temporary(tmp_path: Path, named: bool) -> None:
    target = tmp_path / "spinup_checkpoint.npz"
    with pytest.raises(OSError) as info, atomic_write(target) as tmp, tmp.open("wb"):
        # a write through a file object fails without a file name; an open or rename names the temporary file
        raise OSError(errno.ENOSPC, "No space left on device", *([str(tmp)] if named else []))
    assert info.value.errno == errno.ENOSPC
    assert info.value.filename == str(target)
    assert not target.exists() and not list(tmp_path.glob(f"*{TMP_SUFFIX}"))


def test_an_error_naming_another_file_keeps_that_name(tmp_path: Path) -> None:
    other = tmp_path / "met.nc"
    with pytest.raises(FileNotFoundError) as info, atomic_write(tmp_path / "annual.nc"):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(other))
    assert info.value.filename == str(other)
