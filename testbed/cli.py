"""The ``testbed`` command.

    testbed run NAMELIST [-s group.key=value ...] [--resume] [--overwrite]
    testbed spinup NAMELIST [-s group.key=value ...] [--resume] [--overwrite]
    testbed validate NAMELIST
    testbed namelist show|set|diff|new|doc
    testbed import-legacy FILE.lst [-o NAMELIST]
    testbed forcing synthetic|from-clm5|validate ...
    testbed summary RUN_DIR [RUN_DIR ...]
    testbed plot RUN_DIR [RUN_DIR ...] --kind zonal|timeseries|map|turnover
    testbed demo
    testbed --version

Every subcommand has ``--help``.
"""

from __future__ import annotations

import argparse
import gc
import shlex
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from .errors import RunAborted, TestbedError
from .soil import auto_summary
from .soil.base import CYCLE_NAMES

_EPILOG = (
    "Namelist keys are documented by `testbed namelist doc` (docs/namelist.md). "
    "Errors name the file, variable and cell concerned."
)


def _wrapped(text: str, indent: int, width: int = 92) -> str:
    """``text`` wrapped for a help text whose first line is already indented by ``indent`` spaces."""
    import textwrap

    return ("\n" + " " * indent).join(textwrap.wrap(text, width - indent))


def _config_from(args: argparse.Namespace):
    from .config import RunConfig

    cfg = RunConfig.read(args.namelist)
    cfg.override(args.set or [])
    return cfg


def _command_line(args: argparse.Namespace) -> str:
    """The command that repeats this run (with the namelist's absolute path), for logs and resume hints."""
    words = ["testbed", args.command, str(Path(args.namelist).resolve())]
    for a in args.set or []:
        words += ["-s", a]
    for flag in ("overwrite", "resume"):
        if getattr(args, flag, False):
            words.append(f"--{flag}")
    for opt in ("workers", "scheduler"):
        if getattr(args, opt, None) is not None:
            words += [f"--{opt}", str(getattr(args, opt))]
    return " ".join(shlex.quote(w) for w in words)


def _run_options(args: argparse.Namespace) -> dict:
    """The keyword arguments of ``testbed run`` and ``testbed spinup`` from their shared command-line options."""
    return {
        "resume": args.resume,
        "overwrite": args.overwrite,
        "workers": args.workers,
        "scheduler": args.scheduler,
        "progress": not args.quiet,
        "break_lock": args.break_lock,
        "command": _command_line(args),
    }


def cmd_run(args: argparse.Namespace) -> int:
    from .runner import execute, prepare

    cfg = _config_from(args)
    print(f"validating inputs of {args.namelist} ...", file=sys.stderr)
    out = execute(prepare(cfg), **_run_options(args))
    print(f"done: outputs in {out}")
    return 0


def cmd_spinup(args: argparse.Namespace) -> int:
    from .spinup import run_spinup

    cfg = _config_from(args)
    print(f"validating the spin-up pipeline of {args.namelist} ...", file=sys.stderr)
    out = run_spinup(cfg, **_run_options(args))
    print(f"done: restart.nc, equilibrium.csv and run.log in {out}; transient namelist: {out / 'transient.nml'}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from .runner import prepare

    cfg = _config_from(args)
    plan = prepare(cfg, scan_met=True)
    m = plan.model
    print(
        f"{args.namelist}: OK -- {m.soil_model.upper()}-{CYCLE_NAMES[m.icycle].upper()}, {m.ncell} cells "
        f"({int(m.domain.inactive(m.casa).sum())} ice/water), {len(plan.steps)} simulated years, "
        f"{len(plan.met_files)} met file(s) checked"
    )
    return 0


def cmd_namelist(args: argparse.Namespace) -> int:
    from .config import RunConfig, diff, markdown_reference, namelist_text

    if args.action == "doc":
        print(markdown_reference())
        return 0
    if args.action == "new":
        cfg = RunConfig.defaults()
        cfg.override(args.assignments)
        target = Path(args.file)
        if target.exists() and not args.overwrite:
            raise TestbedError(f"{target} exists; pass --overwrite to replace it")
        target.write_text(namelist_text(cfg))
        print(f"wrote {target}")
        return 0
    cfg = RunConfig.read(args.file)
    if args.action == "show":
        print(namelist_text(cfg, only_changed=args.changed))
    elif args.action == "set":
        cfg.override(args.assignments)
        Path(args.file).write_text(namelist_text(cfg))
        print(f"updated {args.file}")
    elif args.action == "diff":
        if not args.assignments:
            raise TestbedError("namelist diff needs a second namelist")
        other = RunConfig.read(args.assignments[0])
        rows = diff(cfg, other)
        for path, a, b in rows:
            print(f"{path:36s} {a!r:>30} -> {b!r}")
        if not rows:
            print("no differences")
    return 0


def cmd_import_legacy(args: argparse.Namespace) -> int:
    from .migrate import import_legacy

    out = import_legacy(args.lst, args.output, overwrite=args.overwrite)
    print(f"wrote {out}")
    return 0


def cmd_forcing(args: argparse.Namespace) -> int:
    return int(args.forcing_run(args) or 0)


def cmd_summary(args: argparse.Namespace) -> int:
    from .analysis import summary_command

    summary_command([str(p) for p in args.run_dirs], args.out, period=args.period)
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from .plots import plot_command

    paths = plot_command([str(p) for p in args.run_dirs], args.kind, args.out, period=args.period)
    for p in paths:
        print(f"wrote {p}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(Path(args.out), ncell=args.cells, spin_years=args.spin_years, workers=args.workers)
    return 0


def _period(text: str) -> tuple[int, int]:
    try:
        a, b = (int(t) for t in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"period {text!r} must look like 1991:2010") from None
    return a, b


class _VersionAction(argparse.Action):
    """``--version``: package version and, from a git checkout, commit and dirty flag (testbed/provenance.py)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        from .provenance import describe

        print(describe(full=True))
        parser.exit()


def _add_forcing_tools(fsub) -> None:
    from .forcing_tools import clm5_to_met, synthetic, validate

    for name, module, help_text in [
        ("synthetic", synthetic, "reproducible synthetic domain: met files + tables"),
        ("from-clm5", clm5_to_met, "convert CLM5 history and surface data"),
        ("validate", validate, "check met files (and gridinfo/soil) as `testbed run` does, and report every problem"),
    ]:
        fp = fsub.add_parser(name, help=help_text, description=(module.__doc__ or "").strip().split("\n")[0])
        module.add_arguments(fp)
        fp.set_defaults(func=cmd_forcing, forcing_run=module.run)


def build_parser(*, forcing_tools: bool = True) -> argparse.ArgumentParser:
    """The command's parser; without ``forcing_tools`` the actions of ``testbed forcing`` are left out (their
    modules import xarray and pandas, 0.3-0.6 s that a run would otherwise spend before it starts)."""
    p = argparse.ArgumentParser(
        prog="testbed",
        description="The land biogeochemistry testbed: CASA-CNP vegetation "
        "with CASA-CN or MIMICS-CN soil, driven by daily forcing from CLM5.",
        epilog=_EPILOG,
    )
    p.add_argument("--debug", action="store_true", help="show the full Python traceback of an error")
    p.add_argument(
        "--version",
        action=_VersionAction,
        help="print the version and, from a git checkout, the commit (and whether it is dirty)",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_namelist(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("namelist", help="run namelist (.nml); `testbed namelist new run.nml` writes one")
        sp.add_argument(
            "-s",
            "--set",
            action="append",
            metavar="GROUP.KEY=VALUE",
            help="override a namelist key, e.g. -s run.cycles=40 -s parallel.workers=2 (repeatable)",
        )
        sp.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help="show the full Python traceback of an error"
        )

    def with_run_options(sp: argparse.ArgumentParser, resume_help: str, quiet_help: str) -> None:
        """The namelist and the options shared by the commands that run the model (run, spinup)."""
        with_namelist(sp)
        sp.add_argument("--resume", action="store_true", help=resume_help)
        sp.add_argument("--overwrite", action="store_true", help="replace existing outputs in the output folder")
        sp.add_argument("--workers", type=int, default=None, help="local workers (default: namelist, 0 = cores)")
        sp.add_argument(
            "--scheduler",
            default=None,
            metavar="ADDRESS",
            help="attach to a running dask.distributed scheduler, e.g. tcp://10.0.0.5:8786",
        )
        sp.add_argument(
            "--break-lock",
            action="store_true",
            help="take over an output folder whose lock was left by a run that is no longer running",
        )
        sp.add_argument("-q", "--quiet", action="store_true", help=quiet_help)

    r = sub.add_parser(
        "run",
        help="run a spin-up or transient simulation",
        epilog=_EPILOG,
        description="Validate every input, then run the simulation chunked across cells with dask. "
        "Outputs: annual.nc (and daily_YYYY.nc), restart.nc, run.log, namelist.nml.",
    )
    with_run_options(r, "continue from the last checkpoint of a killed run", "no progress bar")
    r.set_defaults(func=cmd_run)

    sp = sub.add_parser(
        "spinup",
        help="spin up to steady state in one command: staged pipeline, criteria, acceleration",
        epilog="Example: testbed spinup namelists/pipeline_mimics_cn.nml -s spinup.accelerate_max_cycles=30. "
        "Methods, stages and criteria: docs/spinup.md. " + _EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=f"""Run the stages of &spinup (keys spinup.*) one after the other, handing each stage's end state
to the next one, until the state repeats itself from one forcing cycle to the next.

stages (spinup.stages, in order; each optional):
  prespin     cycle one met year (spinup.prespin_year) prespin_cycles times, optionally with
              its own settings, e.g. prespin_set = 'files.casa_params=boreal_nfix.nml'
  accelerate  spinup.accelerate_method until the criteria hold: auto (the default) is what the
              soil model declares:
              {_wrapped(auto_summary("accelerate_method"), 14)}
              (sasu: the semi-analytic solve; anderson: per-cell Anderson acceleration;
              newton: per-cell Newton), or cycle (plain cycling)
  cycle       spinup.cycle_method until the criteria hold, a check of the accelerated state:
              auto is {_wrapped(auto_summary("cycle_method"), 14)}
              (aitken: plain cycles with per-cell extrapolation of a steady drift)
  settle      plain cycles per cell until each of its totals stood still over the last
              spinup.settle_window years (100): the per-cycle criteria hold at turning points
              of slow oscillations; a settled cell is no longer simulated

spinup.stages = 'auto' (the default) is what the soil model declares:
  {_wrapped(auto_summary("stages"), 2)}

criteria, checked after every forcing cycle (defaults: the original authors' practice):
  |global change of total soil C| < spinup.soc_global (0.01 Pg C per cycle), and
  >= spinup.cell_fraction (98 %) of vegetated cells changing by < spinup.cell_abs (1 g m-2)
  and < spinup.cell_rel (0.1 %) per cycle in spinup.criteria_variables (soil_c).

outputs in files.output_dir: equilibrium.csv and equilibrium.png (one row per cycle),
cells.csv (per-cell convergence; drifting or oscillating cells), run.log, restart_<stage>.nc,
restart.nc, and transient.nml: `testbed run transient.nml` continues from the steady state.""",
    )
    with_run_options(
        sp,
        "continue a killed spin-up from its last checkpoint (bit-identical to an uninterrupted one)",
        "no progress output",
    )
    sp.set_defaults(func=cmd_spinup)

    v = sub.add_parser(
        "validate",
        help="check every input of a run without running it",
        epilog=_EPILOG,
        description="Makes every check `testbed run` makes before computing (docs/reliability.md, "
        "'Input checks'): met files complete, dims, dtypes, units, NaN, fill values and "
        "physical ranges of every value; met grid, gridinfo and soil consistent (ids, "
        "order, coordinates) and within range; every parameter within its documented "
        "range; and the restart.",
    )
    with_namelist(v)
    v.set_defaults(func=cmd_validate)

    n = sub.add_parser("namelist", help="show, edit, compare or create namelists", epilog=_EPILOG)
    n.add_argument(
        "action",
        choices=["show", "set", "diff", "new", "doc"],
        help="show FILE | set FILE g.k=v ... | diff FILE OTHER | new FILE [g.k=v ...] | doc",
    )
    n.add_argument("file", nargs="?", default="", help="namelist file")
    n.add_argument("assignments", nargs="*", help="group.key=value (set, new) or the other file (diff)")
    n.add_argument("--changed", action="store_true", help="show: only keys that differ from the defaults")
    n.add_argument("--overwrite", action="store_true", help="new: replace an existing file")
    n.set_defaults(func=cmd_namelist)

    i = sub.add_parser(
        "import-legacy",
        help="turn an original fcasacnp_clm_testbed.lst into a namelist",
        description="Reads the .lst and its co2delta file, converts the CASA and MIMICS parameter "
        "CSVs into documented namelists next to the output, and writes a run namelist.",
    )
    i.add_argument("lst", help="the original's run-control file")
    i.add_argument("-o", "--output", default=None, help="namelist to write (default: run.nml beside the .lst)")
    i.add_argument("--overwrite", action="store_true", help="replace existing files")
    i.set_defaults(func=cmd_import_legacy)

    f = sub.add_parser("forcing", help="make or check met forcing (synthetic, from CLM5, validate)")
    fsub = f.add_subparsers(dest="forcing_command", required=True, metavar="ACTION")
    if forcing_tools:
        _add_forcing_tools(fsub)

    s = sub.add_parser("summary", help="paper-style table of global fluxes and stocks for one or more runs")
    s.add_argument("run_dirs", nargs="+", type=Path, help="run output folders (each with annual.nc)")
    s.add_argument("-o", "--out", default=None, help="also write OUT.csv and OUT.md")
    s.add_argument(
        "--period",
        type=_period,
        default=None,
        metavar="Y1:Y2",
        help="average over these years (inclusive), e.g. 1991:2010 (default: all records)",
    )
    s.set_defaults(func=cmd_summary)

    pl = sub.add_parser("plot", help="figures of one or more runs (PNG)")
    pl.add_argument("run_dirs", nargs="+", type=Path, help="run output folders (each with annual.nc)")
    pl.add_argument("--kind", choices=["zonal", "timeseries", "map", "turnover"], default="zonal")
    pl.add_argument("-o", "--out", default="figures", help="folder for the PNG files (default: figures)")
    pl.add_argument(
        "--period",
        type=_period,
        default=None,
        metavar="Y1:Y2",
        help="average over these years for zonal, map and turnover figures",
    )
    pl.set_defaults(func=cmd_plot)

    d = sub.add_parser(
        "demo",
        help="the shipped example: synthetic domain, CASA-CN and MIMICS-CN spin-up and "
        "transient, summary table and figures",
    )
    d.add_argument("--out", default="demo_output", help="folder for everything the demo writes")
    d.add_argument("--cells", type=int, default=60, help="number of synthetic cells")
    d.add_argument(
        "--spin-years",
        type=int,
        default=None,
        help="at most this many spin-up years per configuration (default: testbed.demo.SPIN_YEARS, enough for CASA "
        "and MIMICS-CN to meet the equilibrium criteria; testbed spinup stops earlier when they hold)",
    )
    d.add_argument("--workers", type=int, default=2, help="local dask workers")
    d.set_defaults(func=cmd_demo)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """The ``testbed`` command; ``argv`` None means this process's command line (the process exits next)."""
    parser = build_parser(forcing_tools="forcing" in (sys.argv[1:] if argv is None else argv))
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except RunAborted as exc:
        if args.debug:
            traceback.print_exc()
        print(f"testbed: stopped: {exc}", file=sys.stderr)
        return 3
    except TestbedError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"testbed: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("testbed: interrupted (Ctrl-C); nothing was written", file=sys.stderr)
        return 130
    except Exception as exc:  # an unexpected fault: one sentence, the traceback with --debug
        if args.debug:
            raise
        where = traceback.extract_tb(exc.__traceback__)[-1]
        print(
            f"testbed: internal error: {type(exc).__name__}: {exc} (at {Path(where.filename).name}:{where.lineno}); "
            "run again with --debug for the traceback, and please report it",
            file=sys.stderr,
        )
        return 4
    finally:
        if argv is None:
            # the interpreter's final garbage collections would traverse every object of numpy and dask (and of
            # pandas and xarray where a command imported them) once more: 0.4-0.7 s after the outputs are written
            # (docs/performance.md)
            gc.freeze()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
