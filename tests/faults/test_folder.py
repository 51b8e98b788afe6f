"""The output folder: its lock, --overwrite, --break-lock, resume refusing changed inputs, the namelist copy,
and the sentences of faults injected in-process (cheap stand-ins for the subprocess tests)."""

from __future__ import annotations

import errno
import json
import os
import shlex
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

import testbed.runner as runner
from testbed.cli import main
from tests.test_runner import assert_same_outputs, write_namelist

from .conftest import SETTINGS, cleanup, finish, start, temporaries, wait_for
from .test_signals import SENTENCE

SHORT = ("run.cycles=1", "run.checkpoint_interval=1", "parallel.chunk_size=6")
ONE = ("--workers", "1", "-q")


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def write_lock(out: Path, pid: int, host: str | None = None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / ".testbed.lock").write_text(
        json.dumps(
            {
                "pid": pid,
                "host": host or socket.gethostname(),
                "started": "2026-01-01 00:00:00",
                "command": "testbed run x",
            }
        )
    )


def stop_at_finish(monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> None:
    """The next run stops with ``exc`` once every year is done, before its final outputs: the checkpoint stays."""

    def fail(*args, **kwargs):
        raise exc

    monkeypatch.setattr(runner, "finish", fail)


def test_folder_in_use_is_refused_naming_its_owner(domain: Path, tmp_path: Path, capsys) -> None:
    owner = subprocess.Popen(["sleep", "60"])
    try:
        nml = write_namelist(tmp_path, domain, *SHORT)
        write_lock(tmp_path / "out", owner.pid)
        assert main(["run", str(nml), *ONE]) == 2
        err = capsys.readouterr().err
        assert f"output folder is in use by process {owner.pid} on {socket.gethostname()}" in err
        assert "--break-lock" not in err  # a live owner's lock is never broken
        assert main(["run", str(nml), *ONE, "--break-lock"]) == 2
        assert list((tmp_path / "out").iterdir()) == [tmp_path / "out" / ".testbed.lock"]
    finally:
        owner.kill()
        owner.wait()


def test_stale_lock_is_reported_and_broken_with_break_lock(domain: Path, tmp_path: Path, capsys) -> None:
    nml = write_namelist(tmp_path, domain, *SHORT)
    pid = dead_pid()
    write_lock(tmp_path / "out", pid)
    assert main(["run", str(nml), *ONE]) == 2
    err = capsys.readouterr().err
    assert f"output folder is locked by process {pid} on {socket.gethostname()}" in err
    assert "which is no longer running" in err and "pass --break-lock" in err
    assert main(["run", str(nml), *ONE, "--break-lock"]) == 0
    err = capsys.readouterr().err
    assert f"took over the lock left by process {pid}" in err
    assert f"took over the lock left by process {pid}" in (tmp_path / "out" / "run.log").read_text()
    assert not (tmp_path / "out" / ".testbed.lock").exists()


def test_lock_of_another_host_is_not_taken_over_by_resume(domain: Path, tmp_path: Path, capsys) -> None:
    nml = write_namelist(tmp_path, domain, *SHORT)
    write_lock(tmp_path / "out", dead_pid(), host="some-other-host")
    assert main(["run", str(nml), *ONE, "--resume"]) == 2
    assert "or runs on another host); if no run uses this folder, pass --break-lock" in capsys.readouterr().err


@pytest.mark.slow
def test_second_run_on_a_running_folder_is_refused_and_the_first_finishes(
    domain: Path, reference: Path, tmp_path: Path, capsys
) -> None:
    nml = write_namelist(tmp_path, domain, *SETTINGS)
    out = tmp_path / "out"
    with cleanup(start(nml)) as proc:
        assert wait_for(proc, lambda: (out / "checkpoint.nc").exists())
        assert main(["run", str(nml), *ONE, "--overwrite"]) == 2
        assert f"output folder is in use by process {proc.pid}" in capsys.readouterr().err
        code, err = finish(proc, timeout=120)
    assert code == 0, err
    assert_same_outputs(reference, out)


@pytest.mark.slow
def test_overwrite_removes_every_previous_output_and_never_an_input(domain: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    out.mkdir()
    forcing = domain / "forcing"
    for name in ("gridinfo_igbpz.csv", "gridinfo_soil.csv", "met_1901_1903.nc"):
        shutil.copy(forcing / name, out / name)  # inputs kept inside the output folder
    inputs = {p.name: p.read_bytes() for p in out.iterdir()}
    local = (
        f"files.gridinfo={out / 'gridinfo_igbpz.csv'}",
        f"files.soil={out / 'gridinfo_soil.csv'}",
        f"files.met={out / 'met_1901_1903.nc'}",
    )
    first = write_namelist(
        tmp_path,
        domain,
        *local,
        "run.cycles=2",
        "run.daily_output=true",
        "run.checkpoint_interval=3",
        "files.write_legacy_restart=true",
    )
    assert main(["run", str(first), *ONE]) == 0
    assert {p.name for p in out.glob("daily_*.nc")} == {f"daily_{k:04d}.nc" for k in range(1, 7)}
    (out / ".annual.nc.abc.tmp").write_text("left by a killed run")
    second = write_namelist(tmp_path, domain, *local, "run.cycles=1")
    assert main(["run", str(second), *ONE]) == 2
    assert "pass --overwrite to replace them" in capsys.readouterr().err
    assert main(["run", str(second), *ONE, "--overwrite"]) == 0
    names = {p.name for p in out.iterdir()}
    assert names == {*inputs, "annual.nc", "restart.nc", "run.log", "namelist.nml"}, names
    assert all((out / n).read_bytes() == b for n, b in inputs.items())


@pytest.mark.slow
def test_overwrite_refuses_to_delete_an_input_named_like_an_output(domain: Path, tmp_path: Path, capsys) -> None:
    """Continuing a run from its own restart.nc into the same folder with --overwrite."""
    nml = write_namelist(tmp_path, domain, *SHORT)
    assert main(["run", str(nml), *ONE]) == 0
    restart = tmp_path / "out" / "restart.nc"
    before = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    again = write_namelist(tmp_path, domain, *SHORT, "run.start=restart", f"files.restart_in={restart}")
    assert main(["run", str(again), *ONE, "--overwrite"]) == 2
    assert "--overwrite would delete restart.nc, which is an input of this run" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()} == before  # nothing removed


def test_resume_refuses_an_edited_parameter_file_or_met_file(
    domain: Path, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    from testbed.config import RunConfig

    params = tmp_path / "casa.nml"
    shutil.copy(RunConfig.defaults().resolve(RunConfig.defaults().get("files.casa_params")), params)
    met = tmp_path / "met.nc"
    shutil.copy(domain / "forcing" / "met_1901_1903.nc", met)
    nml = write_namelist(tmp_path, domain, *SHORT, f"files.casa_params={params}", f"files.met={met}")
    stop_at_finish(monkeypatch, KeyboardInterrupt())
    assert main(["run", str(nml), *ONE]) == 3
    assert "interrupted (Ctrl-C / SIGINT). kept: the checkpoint after simulated year 3" in capsys.readouterr().err
    monkeypatch.undo()

    text = params.read_text()
    params.write_text(text.replace("  age_slow =", "  age_slow  =", 1))  # same values, other bytes
    assert main(["run", str(nml), *ONE, "--resume"]) == 2
    err = capsys.readouterr().err
    assert "cannot be resumed: these inputs changed since the run started: files.casa_params. Restore" in err

    _edit_first_value(params, "age_slow")
    assert main(["run", str(nml), *ONE, "--resume"]) == 2
    err = capsys.readouterr().err
    assert "changed since the run started: files.casa_params; parameter values of files.casa_params." in err

    params.write_text(text)
    os.utime(met, ns=(met.stat().st_atime_ns, met.stat().st_mtime_ns + 10**9))
    assert main(["run", str(nml), *ONE, "--resume"]) == 2
    assert f"these inputs changed since the run started: met file {met}." in capsys.readouterr().err
    os.utime(met, ns=(met.stat().st_atime_ns, met.stat().st_mtime_ns - 10**9))
    assert main(["run", str(nml), *ONE, "--resume"]) == 0


def _edit_first_value(path: Path, name: str) -> None:
    """Multiply the first value of parameter ``name`` in a namelist by 1.01 (still within its range)."""
    lines = path.read_text().splitlines()
    k = next(i for i, line in enumerate(lines) if line.strip().startswith(f"{name} "))
    key, values = lines[k].split("=", 1)
    first, *rest = values.split(",")
    lines[k] = f"{key}= {','.join([repr(float(first) * 1.01), *rest])}"
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.slow
def test_fault_before_the_first_checkpoint_says_how_to_run_again(
    domain: Path, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    nml = write_namelist(tmp_path, domain, *SHORT)
    out = tmp_path / "out"

    def full(folder, *args, **kwargs):
        target = folder.parts / "annual_0000000.nc"
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))

    monkeypatch.setattr(runner, "write_segment", full)
    assert main(["run", str(nml), *ONE]) == 3
    err = capsys.readouterr().err.strip()
    assert err.splitlines()[-1] == (
        f"testbed: stopped: the disk is full: cannot write {out / '.parts' / 'annual_0000000.nc'}; free some space. "
        f"nothing was kept (no year had finished). Run again with: testbed run {nml.resolve()} --workers 1 "
        "--overwrite"
    )
    assert temporaries(out) == [] and not (out / ".testbed.lock").exists()
    monkeypatch.undo()
    again = shlex.split(err.split("Run again with: ")[1])
    assert main([*again[1:], "-q"]) == 0


@pytest.mark.slow
def test_unwritable_file_mid_run_is_a_fault_with_the_resume_command(
    domain: Path, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    nml = write_namelist(tmp_path, domain, *SHORT)
    target = tmp_path / "out" / "annual.nc"
    stop_at_finish(monkeypatch, PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(target)))
    assert main(["run", str(nml), *ONE]) == 3
    m = SENTENCE.search(capsys.readouterr().err)
    assert m and m["what"] == f"cannot write {target}: {os.strerror(errno.EACCES)}"
    monkeypatch.undo()
    assert main([*shlex.split(m["cmd"])[1:], "-q"]) == 0


def test_unexpected_error_is_one_line_and_debug_shows_the_traceback(
    domain: Path, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    nml = write_namelist(tmp_path, domain, *SHORT)

    def broken(*args, **kwargs):
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(runner, "prepare", broken)
    assert main(["run", str(nml), "-q"]) == 4
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("testbed: internal error: ZeroDivisionError: float division by zero (at ")
    assert err[-1].endswith("run again with --debug for the traceback, and please report it")
    assert not any("Traceback" in line for line in err)
    with pytest.raises(ZeroDivisionError):
        main(["run", str(nml), "-q", "--debug"])


def test_namelist_copy_validates_and_reruns_from_the_output_folder(
    domain: Path, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    nml = write_namelist(tmp_path / "a", domain, *SHORT, "run.cycle=c")
    assert main(["run", str(nml), *ONE]) == 0
    out = tmp_path / "a" / "out"
    log = (out / "run.log").read_text()
    assert "max |C budget residual|" in log and "N budget" not in log  # a C-only run has no N budget
    moved = tmp_path / "elsewhere"
    shutil.copytree(out, moved)
    monkeypatch.chdir(tmp_path)
    assert main(["validate", str(moved / "namelist.nml")]) == 0
    assert ": OK -- CASA-C," in capsys.readouterr().out
