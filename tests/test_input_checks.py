"""Every bad input of issue 13's table is refused before any compute, naming the file, variable, cell and fix.

Each test breaks one input of a small synthetic domain, then checks that `testbed validate` and
`testbed run` both exit with an error (code 2) that names what is wrong, and that no result is written.
"""

from __future__ import annotations

import re
from pathlib import Path

import netCDF4
import numpy as np
import pytest

from testbed import inputcheck, metformat
from testbed.cli import main
from testbed.config import RunConfig, namelist_text, shipped_namelists
from testbed.forcing_tools.synthetic import make_synthetic_domain

NCELL = 8
RESULTS = ("annual.nc", "restart.nc", "checkpoint.nc", "daily_1901.nc", "cnppool_end.csv")


@pytest.fixture(scope="module")
def domain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("inputs")
    make_synthetic_domain(out / "a", ncell=NCELL, years=[1901], seed=3, per_year=False, multi_year=True)
    make_synthetic_domain(out / "b", ncell=NCELL, years=[1901], seed=4, per_year=False, multi_year=True)
    make_synthetic_domain(
        out / "nc3",
        ncell=NCELL,
        years=[1901],
        seed=3,
        per_year=False,
        multi_year=True,
        nc_format="NETCDF3_64BIT_OFFSET",
    )
    return out


def namelist(tmp_path: Path, domain: Path, *settings: str, met: Path | None = None) -> Path:
    cfg = RunConfig.defaults()
    f = domain / "a"
    cfg.override(
        [
            f"files.gridinfo={f / 'gridinfo_igbpz.csv'}",
            f"files.soil={f / 'gridinfo_soil.csv'}",
            f"files.met={met or f / 'met_1901_1901.nc'}",
            f"files.output_dir={tmp_path / 'out'}",
            "run.daily_output=true",
            "files.write_legacy_restart=true",
            *settings,
        ]
    )
    path = tmp_path / "run.nml"
    path.write_text(namelist_text(cfg))
    return path


def refused(capsys: pytest.CaptureFixture, nml: Path, *patterns: str) -> str:
    """`testbed validate` and `testbed run` both fail with a message matching every pattern; nothing is computed."""
    messages = []
    for argv in (["validate", str(nml)], ["run", str(nml), "--workers", "1", "-q"]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        for p in patterns:
            assert re.search(p, err), f"{argv[0]}: {p!r} not in {err!r}"
        messages.append(err)
    out = nml.parent / "out"
    for name in RESULTS:
        assert not (out / name).exists(), f"{name} was written"
    assert not list(out.glob(".parts/*")), "chunk results were written"
    # errors found by `testbed run` before its workers start leave no folder at all; the met values are
    # scanned on the workers, after the runner has made the folder, copied the namelist and opened run.log
    if out.exists():
        assert {p.name for p in out.iterdir()} <= {"namelist.nml", "run.log", ".parts"}
    return messages[0]


def edit_met(src: Path, dst: Path, edit=None, drop: str | None = None, record_time: bool = False) -> Path:
    """Copy a met file, editing variables (``edit(name, array) -> array``) or dropping one.

    ``record_time``: make time the unlimited (record) dimension.
    """
    with netCDF4.Dataset(src) as a, netCDF4.Dataset(dst, "w", format=a.file_format) as b:
        a.set_auto_mask(False)
        for name, dim in a.dimensions.items():
            b.createDimension(name, None if record_time and name == "time" else len(dim))
        for name, v in a.variables.items():
            if name == drop:
                continue
            w = b.createVariable(name, v.dtype, v.dimensions)
            w.setncatts({k: v.getncattr(k) for k in v.ncattrs() if k != "_FillValue"})
            data = np.array(v[:])
            w[:] = edit(name, data) if edit else data
    return dst


def edit_csv(src: Path, dst: Path, row: int, column: int, value: str) -> Path:
    """Copy a CSV table with field ``column`` (0-based) of data row ``row`` (1-based) replaced."""
    lines = src.read_text().splitlines()
    fields = lines[row].split(",")
    fields[column] = value
    lines[row] = ",".join(fields)
    dst.write_text("\n".join(lines) + "\n")
    return dst


def cell_text(domain: Path, npt: int) -> str:
    """'npt N (lat .., lon .., cellid ..)' of a model point, as messages print it."""
    with netCDF4.Dataset(domain / "a" / "met_1901_1901.nc") as ds:
        lat, lon = np.asarray(ds["lat"][:]), np.asarray(ds["lon"][:])
        cellid = np.asarray(ds["cellid"][:])
        j, i = metformat.met_cell_order(np.asarray(ds["cellMissing"][:]))
    c = npt - 1
    return re.escape(f"npt {npt} (lat {lat[j[c]]:.2f}, lon {lon[i[c]]:.2f}, cellid {cellid[j[c], i[c]]})")


# ---------------------------------------------------------------------------------------- met values


def test_air_temperature_in_celsius_labelled_kelvin(domain: Path, tmp_path: Path, capsys) -> None:
    met = edit_met(
        domain / "a" / "met_1901_1901.nc",
        tmp_path / "met.nc",
        lambda n, d: d - np.float32(273.15) if n == "xtairk" else d,
    )
    refused(
        capsys,
        namelist(tmp_path, domain, met=met),
        r"met\.nc: xtairk is below 180 \(-?\d.*\) at " + cell_text(domain, 1) + r" on day 1; air temperature "
        r"must be 180 to 340 K \(if it is in degrees C, add 273\.15\)",
    )


def test_gpp_multiplied_by_86400(domain: Path, tmp_path: Path, capsys) -> None:
    met = edit_met(
        domain / "a" / "met_1901_1901.nc",
        tmp_path / "met.nc",
        lambda n, d: d * np.float32(86400) if n == "xcgpp" else d,
    )
    refused(
        capsys,
        namelist(tmp_path, domain, met=met),
        r"met\.nc: xcgpp is above 100 \(.*\) at npt \d+ \(lat .*cellid \d+\) on day \d+; GPP must be 0 to 100 "
        r"gC m-2 day-1 \(larger values mean a unit error",
    )


def test_fill_value_in_soil_temperature(domain: Path, tmp_path: Path, capsys) -> None:
    def fill(name: str, d: np.ndarray) -> np.ndarray:
        if name == "xtsoil":
            d[200, 4, 5, 0] = -9999.0  # day 201, layer 5, sixth cell of the compact grid
        return d

    met = edit_met(domain / "a" / "met_1901_1901.nc", tmp_path / "met.nc", fill)
    refused(
        capsys,
        namelist(tmp_path, domain, met=met),
        r"met\.nc: xtsoil layer 5 is a fill value \(-9999\) at "
        + cell_text(domain, 6)
        + r" on day 201; active cells \(cellMissing = 0\) need a value every day; set cellMissing = 1",
    )


@pytest.mark.parametrize("record_time", [False, True])
def test_truncated_classic_met_file(domain: Path, tmp_path: Path, capsys, record_time: bool) -> None:
    src = edit_met(domain / "nc3" / "met_1901_1901.nc", tmp_path / "full.nc", record_time=record_time)
    met = tmp_path / "met.nc"
    data = src.read_bytes()
    met.write_bytes(data[: int(0.75 * len(data))])
    with netCDF4.Dataset(met) as ds:  # the library opens it, and would read the missing days as zeros
        assert ds.file_format.startswith("NETCDF3")
        assert ds.dimensions["time"].isunlimited() == record_time
    records = r"; only \d+ of its 365 records \(days\) are complete" if record_time else ""
    refused(
        capsys,
        namelist(tmp_path, domain, met=met),
        rf"met\.nc: is truncated: its header describes {len(data)} bytes but the file has "
        rf"{int(0.75 * len(data))} \(75 %\){records}\. Copy or write the file again",
    )


def test_truncated_netcdf4_met_file(domain: Path, tmp_path: Path, capsys) -> None:
    data = (domain / "a" / "met_1901_1901.nc").read_bytes()
    met = tmp_path / "met.nc"
    met.write_bytes(data[: int(0.75 * len(data))])
    refused(
        capsys,
        namelist(tmp_path, domain, met=met),
        r"met\.nc: cannot be opened as NetCDF \(.*\); the file is damaged, incomplete or not NetCDF",
    )


@pytest.mark.parametrize("record_time", [False, True])
def test_complete_classic_met_file_is_accepted(domain: Path, tmp_path: Path, record_time: bool) -> None:
    src = edit_met(domain / "nc3" / "met_1901_1901.nc", tmp_path / "met.nc", record_time=record_time)
    size, _, _, nrec = inputcheck.classic_expected_size(src)
    assert size == src.stat().st_size and nrec == (365 if record_time else 0)
    assert main(["validate", str(namelist(tmp_path, domain, met=src))]) == 0


# ------------------------------------------------------------------------------ met grid vs gridinfo


def test_met_file_of_another_domain_with_the_same_cell_count(domain: Path, tmp_path: Path, capsys) -> None:
    other = domain / "b" / "met_1901_1901.nc"
    refused(
        capsys,
        namelist(tmp_path, domain, met=other),
        r"met_1901_1901\.nc: gridinfo_igbpz\.csv row 1 \(ijcam 1\) is at lat .* but the met file's cell at "
        r"ilat 1, ilon 1 is at lat .*; the met file and the gridinfo must describe the same domain",
    )


def test_met_latitudes_shifted_by_10_degrees(domain: Path, tmp_path: Path, capsys) -> None:
    met = edit_met(
        domain / "a" / "met_1901_1901.nc", tmp_path / "met.nc", lambda n, d: d + np.float32(10) if n == "lat" else d
    )
    refused(capsys, namelist(tmp_path, domain, met=met), r"must describe the same domain \(within 0\.01 degree\)")


def test_missing_frozen_water_is_an_error_unless_allowed(domain: Path, tmp_path: Path, capsys) -> None:
    met = edit_met(domain / "a" / "met_1901_1901.nc", tmp_path / "met.nc", drop="xfrznmoist")
    refused(
        capsys,
        namelist(tmp_path, domain, met=met),
        r"met\.nc: variable xfrznmoist is missing; the model needs frozen soil water\. Add it, or set "
        r"run\.allow_missing_frozen = \.true\.",
    )
    assert main(["validate", str(namelist(tmp_path, domain, "run.allow_missing_frozen=true", met=met))]) == 0


# ------------------------------------------------------------------------------------ gridinfo, soil


@pytest.mark.parametrize(
    "column, value, pattern",
    [
        (6, "-1000.0", r"has landarea = -1000; it must be >= 0 m2"),
        (1, " 95.00", r"has lat = 95; it must be -90 to 90 degrees_north"),
        (1, "-91.00", r"has lat = -91; it must be -90 to 90 degrees_north"),
    ],
)
def test_gridinfo_out_of_range(domain: Path, tmp_path: Path, capsys, column: int, value: str, pattern: str) -> None:
    g = edit_csv(domain / "a" / "gridinfo_igbpz.csv", tmp_path / "g.csv", 3, column, value)
    refused(
        capsys,
        namelist(tmp_path, domain, f"files.gridinfo={g}"),
        r"g\.csv: row 3 \(ijcam 3, lat .*, lon .*\) " + pattern + r"\. Fix the gridinfo table",
    )


def test_soil_texture_does_not_sum_to_one(domain: Path, tmp_path: Path, capsys) -> None:
    s = domain / "a" / "gridinfo_soil.csv"
    for column in (3, 4, 5):  # sand, clay, silt: each a valid fraction, together 1.65
        s = edit_csv(s, tmp_path / "s.csv", 2, column, " 0.55000")
    refused(
        capsys,
        namelist(tmp_path, domain, f"files.soil={s}"),
        r"s\.csv: row 2 \(ijcam 2, lat .*\) has sand \+ silt \+ clay = 1\.65; the fractions must sum to 1 "
        r"within 0\.02",
    )


def test_wilting_point_above_saturation(domain: Path, tmp_path: Path, capsys) -> None:
    s = edit_csv(domain / "a" / "gridinfo_soil.csv", tmp_path / "s.csv", 4, 6, "0.60000")
    refused(
        capsys,
        namelist(tmp_path, domain, f"files.soil={s}"),
        r"s\.csv: row 4 \(ijcam 4, lat .*\) has wwilt 0\.6, wfield .*, wsat .*; the model needs 0 < wwilt < "
        r"wfield < wsat <= 1",
    )


# ---------------------------------------------------------------------------------------- parameters


def _param_file(tmp_path: Path, shipped: str, name: str, value: str) -> Path:
    """A copy of a shipped parameter namelist with the first value of ``name`` replaced."""
    lines = (shipped_namelists() / shipped).read_text().splitlines()
    k = next(i for i, ln in enumerate(lines) if ln.strip().startswith(f"{name} ="))
    head, _, values = lines[k].partition("=")
    lines[k] = f"{head}= {', '.join([value] + values.split(',')[1:])}"
    path = tmp_path / shipped
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    "name, value, rule",
    [
        ("age_slow", "0.0", r"> 0 yr"),
        ("age_met", "-0.04", r"> 0 yr"),
        ("xkoptsoil", "-1.0", r">= 0"),
    ],
)
def test_casa_parameter_out_of_range(domain: Path, tmp_path: Path, capsys, name: str, value: str, rule: str) -> None:
    p = _param_file(tmp_path, "params_casa_igbp.nml", name, value)
    refused(
        capsys,
        namelist(tmp_path, domain, f"files.casa_params={p}"),
        rf"params_casa_igbp\.nml: parameter {name} of IGBP type 1 is {float(value):g}; it must be {rule} "
        rf"\(.*\)\. Fix {name} for IGBP type 1 in the parameter file",
    )


@pytest.mark.parametrize("name, value", [("av_r1", "-1.25e-08"), ("ko_r", "0.0")])
def test_mimics_parameter_out_of_range(domain: Path, tmp_path: Path, capsys, name: str, value: str) -> None:
    p = _param_file(tmp_path, "params_mimics.nml", name, value)
    refused(
        capsys,
        namelist(tmp_path, domain, "run.soil_model=mimics", f"files.mimics_params={p}"),
        rf"params_mimics\.nml: parameter {name} is {float(value):g}; it must be > 0 \(.*\)\. Fix {name} in the "
        "MIMICS parameter file",
    )


def test_shipped_and_reference_inputs_pass_every_check(domain: Path, tmp_path: Path, setA: Path) -> None:
    assert main(["validate", str(namelist(tmp_path, domain))]) == 0
    assert main(["validate", str(namelist(tmp_path, domain, "run.soil_model=mimics"))]) == 0
    inputs = setA / "inputs"
    nml = namelist(
        tmp_path,
        domain,
        f"files.gridinfo={inputs / 'gridinfo_igbpz.csv'}",
        f"files.soil={inputs / 'gridinfo_soil.csv'}",
        f"files.casa_params={inputs / 'pftlookup_igbp_updated4_exud0.csv'}",
        f"files.mimics_params={inputs / 'pftlookup_LIDET-MIM-REV_CN_desorb2xKO4_micCN_FI30.csv'}",
        "run.soil_model=mimics",
        met=inputs / "met" / "met_1901_1905.nc",
    )
    assert main(["validate", str(nml)]) == 0


def test_documented_checks_match_the_code() -> None:
    """docs/reliability.md's "Input checks" section is generated from metformat and params."""
    doc = (Path(__file__).parents[1] / "docs" / "reliability.md").read_text()
    begin, end = "<!-- input-checks: begin -->", "<!-- input-checks: end -->"
    assert begin in doc and end in doc
    section = doc.split(begin)[1].split(end)[0].strip()
    assert section == inputcheck.markdown_input_checks().strip(), (
        "regenerate with: python -c 'from testbed.inputcheck import markdown_input_checks; print(...)'"
    )
    for var in metformat.MET_VARIABLES.values():
        assert f"`{var.name}`" in section and str(var.valid) in section
