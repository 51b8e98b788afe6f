"""`testbed import-legacy` + `testbed run` reproduce every setA stage's stored outputs (issue: run system).

This goes through the CLI, the namelist, dask chunking and the NetCDF writers,
and compares the files we write with the original's, at the original's stored
precision.
"""

from __future__ import annotations

from pathlib import Path

import netCDF4
import numpy as np
import pytest
import xarray as xr

from testbed.cli import main
from testbed.output import soil_variables, variables_for

from .compare import KNOWN_DIFFERENCES, Report, parse_csv, read_nc_var, text_values

pytestmark = pytest.mark.reference

#: one quick representative stage; the other eleven are marked slow (`make test` runs them all)
CASES = [
    pytest.param(c, s, marks=() if (c, s) == ("casa_cn", "cold") else pytest.mark.slow)
    for c in ("casa_c", "casa_cn", "mimics_c", "mimics_cn", "corpse_c")
    for s in ("cold", "spin", "trans")
]


def _run_stage(setA: Path, config: str, stage: str, out: Path) -> Path:
    nml = out / "run.nml"
    assert main(["import-legacy", str(setA / config / stage / "fcasacnp_clm_testbed.lst"), "-o", str(nml)]) == 0
    assert main(["run", str(nml), "--workers", "2", "-s", "parallel.chunk_size=5", "--quiet"]) == 0
    return out / "output"


def _reference_files(stage_dir: Path, label: int, daily: bool, soil_model: str) -> list[tuple[str, Path]]:
    suffix = "_daily" if daily else ""
    files = [("casa", stage_dir / "OUT" / f"casaclm_pool_flux_{label:04d}{suffix}.nc")]
    if soil_model != "casa":
        files.append((soil_model, stage_dir / "OUT" / f"{soil_model}_pool_flux_{label:04d}{suffix}.nc"))
    return files


def _compare_file(report: Report, ours: xr.Dataset, ref_files, soil_model: str, icycle: int, annual: bool) -> None:
    for kind, path in ref_files:
        assert path.is_file(), path
        with netCDF4.Dataset(path) as ds:
            names = set(ds.variables)
        own = set(soil_variables(soil_model, icycle)) if soil_model != "casa" else set()
        for var in variables_for(soil_model, icycle):
            if (var in own) != (kind != "casa") or var.name not in names:
                continue
            key = (f"{soil_model}-casa" if soil_model != "casa" and kind == "casa" else kind, var.name)
            if key in KNOWN_DIFFERENCES or (annual and ("annual", var.name) in KNOWN_DIFFERENCES):
                continue
            if var.name in ("thetaLiq", "fW") and soil_model == "mimics" and kind == "casa":
                continue
            ref = read_nc_var(path, var.name)
            report.add(
                f"{path.parent.parent.name}/{path.name}",
                var.name,
                ours[var.name].values,
                ref.astype(ours[var.name].dtype),  # our files hold float32 (docs/outputs.md); CORPSE's float64
                lambda i: f"record {i[0] + 1}, cell {i[1] + 1}",
            )


def _labels_written(stage_dir: Path, daily: bool = False) -> list[int]:
    """The year labels of the original's CASA NetCDF files in the stage's OUT folder (the set's own record)."""
    suffix = "_daily.nc" if daily else ".nc"
    names = [p.name for p in (stage_dir / "OUT").glob(f"casaclm_pool_flux_[0-9][0-9][0-9][0-9]{suffix}")]
    return sorted(
        int(n[len("casaclm_pool_flux_") :][:4])
        for n in names
        if n.endswith(suffix) and (daily or not n.endswith("_daily.nc"))
    )


@pytest.mark.parametrize(("config", "stage"), CASES)
def test_imported_legacy_run_reproduces_reference(setA: Path, tmp_path: Path, config: str, stage: str) -> None:
    out = _run_stage(setA, config, stage, tmp_path)
    stage_dir = setA / config / stage
    soil_model, icycle = config.split("_")[0], (2 if config.endswith("cn") else 1)
    report = Report()
    annual = xr.open_dataset(out / "annual.nc", decode_times=xr.coders.CFDatetimeCoder(use_cftime=True))
    labels = annual["year"].values.tolist()
    if stage == "spin":
        assert labels == _labels_written(stage_dir)
        for k, label in enumerate(labels):
            _compare_file(
                report,
                annual.isel(time=[k]),
                _reference_files(stage_dir, label, False, soil_model),
                soil_model,
                icycle,
                annual=True,
            )
    else:
        expect = _labels_written(stage_dir, daily=True)
        assert labels == expect
        for label in expect:
            with xr.open_dataset(
                out / f"daily_{label:04d}.nc", decode_times=xr.coders.CFDatetimeCoder(use_cftime=True)
            ) as daily:
                _compare_file(
                    report,
                    daily,
                    _reference_files(stage_dir, label, True, soil_model),
                    soil_model,
                    icycle,
                    annual=False,
                )
    # the original's restart CSVs, written because import-legacy sets files.write_legacy_restart
    for name in ["cnppool_end.csv"] + ([f"{soil_model}pool_end.csv"] if soil_model != "casa" else []):
        _, ours_rows = parse_csv(out / name)
        header, ref_rows = parse_csv(stage_dir / name)
        for c, (o, r) in enumerate(zip(ours_rows, ref_rows, strict=True)):
            for k in range(min(len(o), len(r))):
                report.add(
                    name, header[k], np.array([float(o[k])]), text_values([r[k]]), lambda i, c=c: f"cell {c + 1}"
                )
    report.assert_identical()
    annual.close()
