"""Reproduce the original testbed's stored outputs on reference set A (12 cells, 4 configurations, 3 stages).

Each value is compared at the precision the original stored it: float32 in NetCDF,
the printed decimals in CSV files. Runs go through the original's own ``.lst``
files (testbed.legacy), so the stage chaining (cold -> spin -> trans via the
original's restart CSVs) is the original's.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest

from testbed import layout
from testbed.legacy import pool_csvs, read_lst, write_pool_csv
from testbed.output import soil_variables, variables_for

from .compare import KNOWN_DIFFERENCES, Report, parse_csv, read_nc_var, text_values
from .harness import StageRun, run_stage

pytestmark = pytest.mark.reference

CONFIGS = ["casa_c", "casa_cn", "mimics_c", "mimics_cn", "corpse_c"]


@cache
def _stage(stage_dir: str) -> StageRun:
    return run_stage(Path(stage_dir))


def stage(setA: Path, config: str, name: str) -> StageRun:
    return _stage(str(setA / config / name))


def _diag(arr: np.ndarray, name: str) -> np.ndarray:
    return arr[..., layout.index("diag", name), :] if arr.ndim == 3 else arr[:, layout.index("diag", name)]


def _kinds(model, out_dir: Path, stem: str) -> list[tuple[str, Path]]:
    """The original's output files of a year: the CASA file, and the soil model's own (MIMICS, CORPSE)."""
    kinds = [("casa", out_dir / f"casaclm_pool_flux_{stem}.nc")]
    if model.soil_model != "casa":
        kinds.append((model.soil_model, out_dir / f"{model.soil_model}_pool_flux_{stem}.nc"))
    return kinds


def _skip(model, kind: str, var, own: set, annual: bool) -> bool:
    """Whether ``var`` is not in file ``kind``, or is a deliberate difference (KNOWN_DIFFERENCES)."""
    if (var in own) != (kind != "casa"):
        return True
    key = (f"{model.soil_model}-casa" if model.soil_model != "casa" and kind == "casa" else kind, var.name)
    return key in KNOWN_DIFFERENCES or (annual and ("annual", var.name) in KNOWN_DIFFERENCES)


def _at_stored_precision(ours: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Ours at the reference's stored precision: float32 files compare as float32, float64 ones as float64."""
    return ours.astype(ref.dtype)


def _compare_daily_files(run: StageRun, out_dir: Path, label_of, report: Report) -> None:
    model = run.model
    own = set(soil_variables(model.soil_model, model.icycle)) if model.soil_model != "casa" else set()
    for res in run.years:
        if res.daily is None:
            continue
        y = label_of(res)
        for kind, path in _kinds(model, out_dir, f"{y:04d}_daily"):
            assert path.is_file(), f"reference file {path} missing"
            for var in variables_for(model.soil_model, model.icycle):
                if _skip(model, kind, var, own, annual=False):
                    continue
                ref = read_nc_var(path, var.name)
                if ref is None:
                    continue
                ours = _at_stored_precision(_diag(res.daily, var.diag).T, ref)
                report.add(
                    f"{path.parent.parent.name}/{path.name}",
                    var.name,
                    ours,
                    ref,
                    lambda i: f"day {i[0] + 1}, cell {i[1] + 1}",
                )


@pytest.mark.parametrize("config", CONFIGS)
def test_cold_start_daily_netcdf_matches_original(setA: Path, config: str) -> None:
    run = stage(setA, config, "cold")
    assert [r.step.count for r in run.years] == list(range(1, 11))
    report = Report()
    _compare_daily_files(run, setA / config / "cold" / "OUT", lambda r: r.step.label, report)
    report.assert_identical()


@pytest.mark.parametrize("config", CONFIGS)
def test_transient_daily_netcdf_matches_original(setA: Path, config: str) -> None:
    run = stage(setA, config, "trans")
    assert [r.step.label for r in run.years] == list(range(1901, 1911))
    report = Report()
    _compare_daily_files(run, setA / config / "trans" / "OUT", lambda r: r.step.label, report)
    report.assert_identical()


@pytest.mark.parametrize("config", CONFIGS)
def test_spinup_annual_netcdf_matches_original(setA: Path, config: str) -> None:
    run = stage(setA, config, "spin")
    model = run.model
    report = Report()
    written = [r for r in run.years if r.step.write_output]
    recorded = sorted(
        int(p.name[len("casaclm_pool_flux_") :][:4])
        for p in (setA / config / "spin" / "OUT").glob("casaclm_pool_flux_[0-9][0-9][0-9][0-9].nc")
    )
    assert [r.step.count for r in written] == recorded
    own = set(soil_variables(model.soil_model, model.icycle)) if model.soil_model != "casa" else set()
    for res in written:
        for kind, path in _kinds(model, setA / config / "spin" / "OUT", f"{res.step.count:04d}"):
            for var in variables_for(model.soil_model, model.icycle):
                if _skip(model, kind, var, own, annual=True):
                    continue
                ref = read_nc_var(path, var.name)
                if ref is None:
                    continue
                # the annual value as our annual file computes it (OutputVar.annual_value), at stored precision
                report.add(
                    path.name,
                    var.name,
                    _at_stored_precision(var.annual_value(res.annual), ref)[None, :],
                    ref,
                    lambda i: f"cell {i[1] + 1}",
                )
    report.assert_identical()


def _compare_csv(report: Report, ours_path: Path, ref_path: Path, first_col: int) -> None:
    """Numeric fields from ``first_col`` on, at the decimals printed in the reference."""
    _, ours_rows = parse_csv(ours_path)
    header, ref_rows = parse_csv(ref_path)
    assert len(ours_rows) == len(ref_rows)
    for c, (o, r) in enumerate(zip(ours_rows, ref_rows, strict=True)):
        n = min(len(o), len(r))
        for k in range(first_col, n):
            report.add(
                ref_path.name, header[k], np.array([float(o[k])]), text_values([r[k]]), lambda i, c=c: f"cell {c + 1}"
            )


@pytest.mark.parametrize("stage_name", ["cold", "spin", "trans"])
@pytest.mark.parametrize("config", CONFIGS)
def test_end_of_run_restart_csv_matches_original(setA: Path, config: str, stage_name: str, tmp_path: Path) -> None:
    run = stage(setA, config, stage_name)
    count = run.years[-1].step.count
    report = Report()
    for spec in pool_csvs(run.model.soil):
        ours = tmp_path / spec.file_name
        write_pool_csv(spec, ours, run.final_state, run.model, count)
        _compare_csv(report, ours, setA / config / stage_name / spec.file_name, first_col=0)
    report.assert_identical()


_FLUX_CSV = {
    "casabal%Fcnppyear": "npp",
    "casabal%FCrsyear": "rh",
    "casabal%FCneeyear": "nep",
    "casabal%FCrpyear": "ra",
    "casabal%FNdepyear": "ndep",
    "casabal%FNfixyear": "nfix",
    "casabal%FNsnetyear": "nnetmin",
    "casabal%FNupyear": "nuptake",
    "casabal%FNleachyear": "nleach",
    "casabal%FNlossyear": "nloss",
}


@pytest.mark.parametrize("stage_name", ["cold", "spin", "trans"])
@pytest.mark.parametrize("config", CONFIGS)
def test_last_year_flux_csv_matches_original(setA: Path, config: str, stage_name: str) -> None:
    run = stage(setA, config, stage_name)
    header, rows = parse_csv(setA / config / stage_name / "cnpflux_end.csv")
    annual = run.years[-1].annual
    active = ~run.model.domain.inactive(run.model.casa)
    report = Report()
    for k, name in enumerate(header):
        diag = _FLUX_CSV.get(name)
        if diag is None or k >= len(rows[0]):
            continue
        if (f"flux-csv-{run.model.soil_model}", name.split("%")[-1]) in KNOWN_DIFFERENCES:
            continue
        ref = text_values([r[k] for r in rows])
        decimals = len(rows[0][k].split(".")[1])
        ours = np.array([float(f"{v:.{decimals}f}") for v in _diag(annual, diag)])
        report.add("cnpflux_end.csv", name, ours[active], ref[active], lambda i: f"active cell {i[0] + 1}")
    report.assert_identical()


# ------------------------------------------------------------------------------ point files

_CASA_POINT = {
    "tsoilavg": None,
    "moistavg": "moistavg",
    "casapool%Cplant(LEAF)": "cleaf",
    "casapool%Cplant(WOOD)": "cwood",
    "casapool%Cplant(FROOT)": "cfroot",
    "casapool%Clitter(MET)": "cmet",
    "casapool%Clitter(STR)": "cstr",
    "casapool%Clitter(CWD)": "ccwd",
    "casapool%Csoil(MIC)": "cmic",
    "casapool%Csoil(SLOW)": "cslow",
    "casapool%Csoil(PASS)": "cpass",
    "casaflux%Cgpp": "gpp",
    "casaflux%Cnpp": "npp",
    "casaflux%Crmplant(WOOD)": "rm_wood",
    "casaflux%Crmplant(FROOT)": "rm_froot",
    "casaflux%Crgplant": "rg",
    "phen%phase": "phase",
    "casaflux%fracCalloc(LEAF)": "fa_leaf",
    "casaflux%fracCalloc(WOOD)": "fa_wood",
    "casaflux%fracCalloc(FROOT)": "fa_froot",
    "casaflux%Cexudate": "cexudate",
}
_CASA_POINT_SOIL = {
    "casaflux%Crsoil": "rh",
    "casapool%fT": "ft",
    "casapool%fW": "fw",
    "casaflux%CpassInpt": "cpassinpt",
    "klitter(METB)": "kl_met",
    "klitter(STR)": "kl_str",
    "klitter(CWD)": "kl_cwd",
    "ksoil(MIC)": "ks_mic",
    "ksoil(SLOW)": "ks_slow",
    "ksoil(PASS)": "ks_pass",
}
_CASA_POINT_N = {
    "casapool%Nplant(LEAF)": "nleaf",
    "casapool%Nplant(WOOD)": "nwood",
    "casapool%Nplant(FROOT)": "nfroot",
    "casapool%Nlitter(MET)": "nmet",
    "casapool%Nlitter(STR)": "nstr",
    "casapool%Nlitter(CWD)": "ncwd",
    "casapool%Nsoil(MIC)": "nmic",
    "casapool%Nsoil(SLOW)": "nslow",
    "casapool%Nsoil(PASS)": "npass",
    "casapool%Nsoilmin": "nsoilmin",
    "casaflux%Nminuptake": "nuptake",
    "casaflux%Nlittermin": "nlittermin",
    "casaflux%Nsmin": "nsoilmin_gross",
    "casaflux%Nsimm": "nsoilimmob",
    "casaflux%Nminleach": "nleach",
    "casaflux%Nminloss": "nloss",
    "xkNlimiting": "xknlimiting",
    "casaflux%NminDep": "ndep",
    "casaflux%NminFix": "nfix",
    "casaflux%NlitInptMet": "nlitinpt_met",
}
_MIMICS_POINT = {
    "LITm": "litm",
    "LITs": "lits",
    "MICr": "micr",
    "MICk": "mick",
    "SOMa": "soma",
    "SOMc": "somc",
    "SOMp": "somp",
    "fmet": "fmet",
    "tauMod": "taumod",
    "NPPan": "npp_prev",
    "ratLigN": "ligninnratio",
}
_MIMICS_POINT_N = {
    "LITmN": "litmn",
    "LITsN": "litsn",
    "MICrN": "micrn",
    "MICkN": "mickn",
    "SOMaN": "soman",
    "SOMcN": "somcn",
    "SOMpN": "sompn",
    "DIN": "din",
}
_MG_CM3 = {
    "litm",
    "lits",
    "micr",
    "mick",
    "soma",
    "somc",
    "somp",
    "litmn",
    "litsn",
    "micrn",
    "mickn",
    "soman",
    "somcn",
    "sompn",
    "din",
}


def _point_series(run: StageRun, cell: int, diag: str) -> np.ndarray:
    return np.concatenate([_diag(r.daily, diag)[cell] for r in run.years])


def _compare_point(report: Report, run: StageRun, path: Path, columns: dict[str, str | None], cell: int) -> None:
    header, rows = parse_csv(path)
    assert len(rows) == 365 * len(run.years)
    u = run.model.soil.state_to_gm2(run.model)[cell]
    for name, diag in columns.items():
        k = header.index(name)
        tokens = [r[k] for r in rows]
        ref = text_values(tokens)
        if diag is None:  # soil temperature is printed in K
            series = _point_series(run, cell, "tsoilc") + 273.15
        else:
            series = _point_series(run, cell, diag)
            if diag in _MG_CM3:
                series = series / u
        decimals = [len(t.split(".")[1]) if "." in t else 0 for t in tokens]
        ours = np.array([float(f"{v:.{d}f}") for v, d in zip(series, decimals, strict=True)])
        ours[np.isnan(ref)] = np.nan  # '****' overflow fields
        report.add(path.name, name, ours, ref, lambda i: f"row {i[0] + 2}")


@pytest.mark.parametrize("config", CONFIGS)
def test_cold_start_point_csv_matches_original(setA: Path, config: str) -> None:
    run = stage(setA, config, "cold")
    point = read_lst(setA / config / "cold" / "fcasacnp_clm_testbed.lst").point_index  # the set's own .lst, line 27
    cell = point - 1
    report = Report()
    columns = dict(_CASA_POINT)
    if run.model.soil_model == "casa":
        columns.update(_CASA_POINT_SOIL)
    if run.model.icycle == 2:
        columns.update(_CASA_POINT_N)
    _compare_point(report, run, setA / config / "cold" / f"POINT_casa_{point}.csv", columns, cell)
    if run.model.soil_model == "mimics":
        mcols = dict(_MIMICS_POINT)
        if run.model.icycle == 2:
            mcols.update(_MIMICS_POINT_N)
        _compare_point(report, run, setA / config / "cold" / f"POINT_mimics_{point}.csv", mcols, cell)
    if run.model.soil_model == "corpse":
        _compare_corpse_point(report, run, setA / config / "cold" / f"POINT_corpse_{point}.csv", cell)
    report.assert_identical()


_SPECIES = ("LABILE", "RECALCTRNT", "DEADMICRB")


def _corpse_point_columns() -> dict[str, tuple[tuple[str, ...], float]]:
    """POINT_corpse columns: (diagnostics summed, factor to the file's kg m-2); cumulative CO2 is kept in kg."""
    cols: dict[str, tuple[tuple[str, ...], float]] = {"Ts": (("ts_corpse",), 1.0)}
    for k, sp in enumerate(_SPECIES, start=1):
        cols[f"litter_unprotect({sp})"] = ((f"lit_unprot_{k}",), 1e-3)
        cols[f"litter_protect({sp})"] = ((f"lit_c_p{k}_rhiz", f"lit_c_p{k}_bulk"), 1e-3)
    cols["litter_livingMicrobe"] = (("lit_livemic",), 1e-3)
    cols["litter_CO2"] = (("lit_co2cum",), 1.0)
    for k, sp in enumerate(("LABILE", "slow", "DEADMICRB"), start=1):
        cols[f"soil_unprotect(1.{sp})"] = ((f"soil_unprot_{k}",), 1e-3)
    for k, sp in enumerate(_SPECIES, start=1):
        cols[f"soil_protect(1.{sp})"] = ((f"soil_prot_{k}",), 1e-3)
    cols["soil_livingMicrobe"] = (("soil_livemic",), 1e-3)
    cols["soil_CO2"] = (("soil_co2cum",), 1.0)
    cols["protectedProd"] = (("protected_prod",), 1e-3)
    return cols


def _compare_corpse_point(report: Report, run: StageRun, path: Path, cell: int) -> None:
    header, rows = parse_csv(path)
    assert len(rows) == 365 * len(run.years)
    for name, (diags, factor) in _corpse_point_columns().items():
        k = header.index(name)
        ref = text_values([r[k] for r in rows])
        series = sum(_point_series(run, cell, d) for d in diags) * factor
        ours = np.array([float(f"{v:.6f}") for v in series])
        report.add(path.name, name, ours, ref, lambda i: f"row {i[0] + 2}")


@pytest.mark.parametrize("config", ["mimics_c", "mimics_cn"])
@pytest.mark.parametrize("stage_name", ["cold", "trans"])
def test_mimics_diagnostic_csv_matches_original(setA: Path, config: str, stage_name: str) -> None:
    run = stage(setA, config, stage_name)
    header, rows = parse_csv(setA / config / stage_name / "mimics_diagnostic.csv")
    last = run.years[-1].daily[:, :, -1]
    report = Report()
    for name, diag in [("lignin:N", "ligninnratio"), ("fmet", "fmet")]:
        k = header.index(name)
        ref = text_values([r[k] for r in rows])
        ours = np.array([float(f"{v:.10f}") for v in last[:, layout.index("diag", diag)]])
        report.add("mimics_diagnostic.csv", name, ours, ref, lambda i: f"cell {i[0] + 1}")
    report.assert_identical()


@pytest.mark.parametrize("config", CONFIGS)
def test_budgets_close_every_year_in_reference_runs(setA: Path, config: str) -> None:
    """run_years stops on a violation; here we also check the residuals are round-off, not zeroed."""
    run = stage(setA, config, "cold")
    active = ~run.model.domain.inactive(run.model.casa)
    for res in run.years:
        gpp = _diag(res.annual, "gpp")
        assert (gpp[active] > 0).all()
        c_store = sum(res.state[:, layout.index("state", n)] for n in ("cleaf", "cwood", "cfroot", "cslow"))
        assert np.all(np.abs(res.c_residual) <= 1e-12 * np.maximum(c_store, 1.0) + 1e-9)
        if res.n_residual is not None:
            assert np.all(np.isfinite(res.n_residual))
