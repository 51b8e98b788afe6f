"""A full disk and a read-only output folder, on a small tmpfs mounted by the test (skipped where the
test may not mount one: it needs root, or CAP_SYS_ADMIN, and a kernel that allows it)."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from testbed.cli import main
from testbed.config import RunConfig
from testbed.runner import prepare
from testbed.runner.assembly import expected_output_bytes
from tests.test_runner import assert_same_outputs, write_namelist

from .conftest import SETTINGS, checkpoint_step, cleanup, finish, start, temporaries, wait_for
from .test_signals import SENTENCE, assert_one_sentence, resume_command


def _mount(where: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["mount", "-t", "tmpfs", "-o", ",".join(options), "tmpfs", str(where)], capture_output=True, text=True
    )


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator:
    """mount(size_bytes) -> a fresh tmpfs of that size; every mount is undone at the end."""
    mounts: list[Path] = []

    def mount(size: int) -> Path:
        where = tmp_path / f"mnt{len(mounts)}"
        where.mkdir()
        try:
            r = _mount(where, f"size={size}")
        except FileNotFoundError:
            pytest.skip("no mount command")
        if r.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): {r.stderr.strip()}")
        mounts.append(where)
        return where

    yield mount
    for where in reversed(mounts):
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def remount(where: Path, mode: str) -> bool:
    return subprocess.run(["mount", "-o", f"remount,{mode}", str(where)], capture_output=True).returncode == 0


def needed_bytes(nml: Path) -> int:
    return expected_output_bytes(prepare(RunConfig.read(nml)))


def fill(where: Path) -> Path:
    """Write a file until the file system is full."""
    filler = where / "filler"
    block = b"\0" * 65536
    with contextlib.suppress(OSError), filler.open("wb") as f:
        while True:
            f.write(block)
            f.flush()
    return filler


def test_free_space_is_checked_before_anything_is_written(domain: Path, tmp_path: Path, tmpfs, capsys) -> None:
    nml = write_namelist(tmp_path, domain, *SETTINGS)
    needed = needed_bytes(nml)
    mnt = tmpfs(needed // 2)
    nml = write_namelist(tmp_path, domain, *SETTINGS, f"files.output_dir={mnt / 'out'}")
    assert main(["run", str(nml), "--workers", "1", "-q"]) == 2
    err = capsys.readouterr().err
    assert re.search(r"the run writes about [0-9.]+ GB here but only [0-9.]+ GB are free; free some space", err), err
    assert not (mnt / "out").exists()  # nothing written, not even the lock or the namelist copy


@pytest.mark.slow
def test_disk_full_mid_run_ends_in_the_sentence_and_resumes_after_freeing_space(
    domain: Path, reference: Path, tmp_path: Path, tmpfs
) -> None:
    needed = needed_bytes(write_namelist(tmp_path, domain, *SETTINGS))
    mnt = tmpfs(needed + (1 << 20))
    nml = write_namelist(tmp_path, domain, *SETTINGS, f"files.output_dir={mnt / 'out'}")
    out = mnt / "out"
    with cleanup(start(nml)) as proc:
        assert wait_for(proc, lambda: checkpoint_step(out) >= 2)
        filler = fill(mnt)
        code, err = finish(proc)
    assert code == 3, err
    assert_one_sentence(err)
    m = SENTENCE.search(err)
    assert m and m["what"].startswith("the disk is full"), err
    assert m["what"].endswith("; free some space"), err
    assert temporaries(out) == []
    assert checkpoint_step(out) >= 2
    filler.unlink()
    assert main([*resume_command(err), "-q"]) == 0
    assert_same_outputs(reference, out)


def test_read_only_output_folder_is_refused_in_one_sentence(domain: Path, tmp_path: Path, tmpfs, capsys) -> None:
    mnt = tmpfs(1 << 20)
    assert remount(mnt, "ro"), "cannot remount the tmpfs read-only"
    nml = write_namelist(tmp_path, domain, *SETTINGS, f"files.output_dir={mnt / 'out'}")
    assert main(["run", str(nml), "--workers", "1", "-q"]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"testbed: stopped: cannot write {mnt / 'out'}: {os.strerror(errno.EROFS)}"), err
    assert err[-1].endswith("nothing was written"), err


@pytest.mark.slow
def test_folder_turning_read_only_mid_run_ends_in_the_sentence_and_resumes(
    domain: Path, reference: Path, tmp_path: Path, tmpfs
) -> None:
    mnt = tmpfs(64 << 20)
    nml = write_namelist(tmp_path, domain, *SETTINGS, f"files.output_dir={mnt / 'out'}")
    out = mnt / "out"
    with cleanup(start(nml)) as proc:
        assert wait_for(proc, lambda: checkpoint_step(out) >= 2)
        # a file being written keeps the remount busy: try again until it goes through
        assert wait_for(proc, lambda: remount(mnt, "ro"), timeout=30), "could not remount read-only"
        code, err = finish(proc)
    assert remount(mnt, "rw")
    assert code == 3, err
    m = SENTENCE.search(err)
    assert m and m["what"].startswith("cannot write ") and m["what"].endswith(os.strerror(errno.EROFS)), err
    assert checkpoint_step(out) >= 2
    assert main([*resume_command(err), "-q"]) == 0
    assert temporaries(out) == []
    assert_same_outputs(reference, out)


def test_a_folder_that_cannot_be_cleaned_after_a_fault_still_ends_in_the_sentence(
    domain: Path, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The folder turned read-only while a temporary file was open (seen once in the mid-run test above): the
    fault path's clean-up of temporaries fails too, and the run must still end in its sentence (exit 3), not
    in an internal error; the resume removes the temporaries."""
    import testbed.runner as runner
    from testbed.atomic import TMP_SUFFIX
    from testbed.runner.folder import OutputFolder

    real_write, real_clean = runner.write_segment, OutputFolder.remove_temporaries
    state = {"segments": 0, "faulted": False}

    def read_only_on_the_second(folder, *args, **kw):
        state["segments"] += 1
        if state["segments"] == 2:
            state["faulted"] = True
            (folder.root / f".daily_0002.nc.x{TMP_SUFFIX}").write_bytes(b"partial")
            raise OSError(errno.EROFS, "Read-only file system", str(folder.root / "annual_0002.nc"))
        return real_write(folder, *args, **kw)

    def clean(self):
        if state["faulted"]:
            raise OSError(errno.EROFS, "Read-only file system", str(self.root))
        return real_clean(self)

    monkeypatch.setattr(runner, "write_segment", read_only_on_the_second)
    monkeypatch.setattr(OutputFolder, "remove_temporaries", clean)
    nml = write_namelist(tmp_path, domain, *SETTINGS)
    assert main(["run", str(nml), "--workers", "1", "-q"]) == 3
    err = capsys.readouterr().err
    assert_one_sentence(err)
    monkeypatch.undo()
    assert main([*resume_command(err), "-q"]) == 0
    assert not temporaries(tmp_path / "out")
