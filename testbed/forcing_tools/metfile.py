"""Shared pieces of the testbed forcing format: met NetCDF writer, gridinfo/soil CSV I/O,
testbed soil layers and the texture pedotransfer functions.

The layout follows ``MET_FORMAT.md``: dimensions ``lon, lat, time, myear, nsoilyrs=6``;
float32 data variables, int32 ``cellMissing``/``cellid``; ``time == 365 * myear``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import netCDF4
import numpy as np

from .. import metformat as mf

#: Layer thicknesses assumed by the model (m), top to bottom: the one declaration in testbed.metformat.
TESTBED_DZ: tuple[float, ...] = mf.LAYER_THICKNESS_M
#: Layer interfaces (m) obtained by accumulating TESTBED_DZ: 0, 0.022, 0.080, ... 4.600.
TESTBED_ZI: np.ndarray = np.concatenate([[0.0], np.cumsum(TESTBED_DZ)])
NSOIL = mf.NSOIL_LAYERS
DAYS_PER_YEAR = mf.DAYS_PER_YEAR
FILL = mf.FILL_VALUE
#: Values at or above this magnitude are treated as fill/missing (CLM uses 1e36).
FILL_THRESHOLD = mf.FILL_THRESHOLD
SECONDS_PER_DAY = 86400.0
#: HDF5 chunk cache per written variable (bytes); small keeps memory bounded.
CHUNK_CACHE_BYTES = 1 << 20
TFRZ = 273.15

VARS_3D = tuple(n for n, v in mf.MET_VARIABLES.items() if not v.layered)
VARS_4D = tuple(n for n, v in mf.MET_VARIABLES.items() if v.layered)

VAR_ATTRS: dict[str, dict[str, str]] = {
    n: {"units": v.accepted_units[0], "long_name": v.long_name} for n, v in mf.MET_VARIABLES.items()
}

GRIDINFO_HEADER = mf.GRIDINFO_HEADER
SOIL_HEADER = mf.SOIL_HEADER


# ----------------------------------------------------------------------------------------
# met NetCDF
# ----------------------------------------------------------------------------------------
def met_name(year1: int, year2: int) -> str:
    """File name the model expects: ``met_YYYY_YYYY.nc``."""
    return f"met_{year1:04d}_{year2:04d}.nc"


class MetWriter:
    """Write one met file incrementally (blocks of days), so memory stays bounded.

    ``lat``/``lon`` are the 1-D grid coordinates (degrees); ``cell_missing``/``cellid``
    are (nlat, nlon) integer arrays; ``years`` the calendar years held by the file.
    Data blocks are written with :meth:`write_block` in the file's dimension order,
    ``(ndays, nlat, nlon)`` or ``(ndays, 6, nlat, nlon)``.
    """

    def __init__(
        self,
        path: str | Path,
        lat: np.ndarray,
        lon: np.ndarray,
        cell_missing: np.ndarray,
        cellid: np.ndarray,
        years: Sequence[int],
        *,
        title: str = "Daily forcing for the biogeochemical testbed",
        source: str = "testbed.forcing_tools",
        with_frozen: bool = True,
        compress: int = 4,
        nc_format: str = "NETCDF4",
        time_chunk: int = DAYS_PER_YEAR,
        extra_attrs: dict[str, str] | None = None,
    ) -> None:
        self.path = Path(path)
        nlat, nlon = len(lat), len(lon)
        self.years = [int(y) for y in years]
        self.ndays = DAYS_PER_YEAR * len(self.years)
        self.shape2 = (nlat, nlon)
        ds = netCDF4.Dataset(self.path, "w", format=nc_format)
        self.ds = ds
        ds.set_fill_off()
        ds.createDimension("myear", len(self.years))
        ds.createDimension("lat", nlat)
        ds.createDimension("lon", nlon)
        ds.createDimension("time", self.ndays)
        ds.createDimension("nsoilyrs", NSOIL)
        is4 = nc_format == "NETCDF4"
        kw: dict[str, object] = {}
        if is4 and compress > 0:
            kw = {"zlib": True, "complevel": int(compress), "shuffle": True}
        tch = max(1, min(int(time_chunk), self.ndays))

        v = ds.createVariable("year", "i4", ("myear",))
        v.long_name = "calendar year of each 365-day block (not read by the model)"
        v[:] = np.asarray(self.years, dtype=np.int32)
        v = ds.createVariable("lat", "f4", ("lat",))
        v.units, v.long_name = "degrees_north", "coordinate latitude"
        v[:] = np.asarray(lat, dtype=np.float32)
        v = ds.createVariable("lon", "f4", ("lon",))
        v.units, v.long_name = "degrees_east", "coordinate longitude"
        v[:] = np.asarray(lon, dtype=np.float32)
        v = ds.createVariable("time", "f4", ("time",))
        v.units = f"days since {self.years[0]:04d}-01-01 00:00:00"
        v.calendar = "noleap"
        v.long_name = "day index (not read by the model)"
        v[:] = np.arange(self.ndays, dtype=np.float32)
        v = ds.createVariable("cellMissing", "i4", ("lat", "lon"))
        v.long_name = "0 = cell simulated, 1 = cell not simulated"
        v[:] = np.asarray(cell_missing, dtype=np.int32)
        v = ds.createVariable("cellid", "i4", ("lat", "lon"))
        v.long_name = "grid cell id = (ilon-1)*nlat + ilat (1-based), must equal gridinfo ijcam"
        v[:] = np.asarray(cellid, dtype=np.int32)
        names = VARS_3D + (VARS_4D if with_frozen else VARS_4D[:2])
        self.vars = {}
        for name in names:
            if name in VARS_3D:
                dims: tuple[str, ...] = ("time", "lat", "lon")
                chunks = [tch, nlat, nlon]
            else:
                dims = ("time", "nsoilyrs", "lat", "lon")
                chunks = [tch, NSOIL, nlat, nlon]
            ckw = dict(kw)
            if is4:
                ckw["chunksizes"] = chunks
            var = ds.createVariable(name, "f4", dims, **ckw)
            if is4:
                # blocks are written once, whole chunks at a time: no need to cache them
                var.set_var_chunk_cache(size=CHUNK_CACHE_BYTES)
            var.setncattr("missing_value", FILL)
            for key, val in VAR_ATTRS[name].items():
                var.setncattr(key, val)
            self.vars[name] = var
        ds.title = title
        ds.source = source
        ds.years = f"{self.years[0]}-{self.years[-1]}"
        for key, val in (extra_attrs or {}).items():
            ds.setncattr(key, val)

    @property
    def names(self) -> tuple[str, ...]:
        """Data variables of this file."""
        return tuple(self.vars)

    def write_block(self, name: str, day0: int, data: np.ndarray) -> None:
        """Write days ``day0 .. day0+len(data)-1`` (0-based within the file) of ``name``."""
        arr = np.asarray(data, dtype=np.float32)
        self.vars[name][day0 : day0 + arr.shape[0]] = arr

    def close(self) -> None:
        """Close the file."""
        if self.ds.isopen():
            self.ds.close()

    def __enter__(self) -> MetWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ----------------------------------------------------------------------------------------
# gridinfo / soil CSV (original formats)
# ----------------------------------------------------------------------------------------
@dataclass
class GridRow:
    """One row of ``gridinfo_igbpz.csv`` (landarea m2, Ndep gN m-2 yr-1)."""

    ijcam: int
    lat: float
    lon: float
    ivt_igbp: int
    ist: int = 1
    iso: int = 1
    landarea: float = 0.0
    ndep: float = 0.0
    nfix: float = 0.1
    pwea: float = 0.0
    pdust: float = 0.0
    doy: tuple[int, int, int, int] = (-99, -99, -99, -99)
    phase: int = -99
    ivcasa: int = -99
    ilat: int = 1
    ilon: int = 1


@dataclass
class SoilRow:
    """One row of ``gridinfo_soil.csv`` (fractions and m3 m-3)."""

    ijcam: int
    lat: float
    lon: float
    sand: float
    clay: float
    silt: float
    wwilt: float
    wfield: float
    wsat: float
    extra: dict[str, float] = field(default_factory=dict)


def format_grid_row(r: GridRow) -> str:
    """Format like the original's ``(i6,a1,2(f7.2,a1),3(i3,a1),f20.4,a1,4(f8.5,a1),9(i4,a1))``."""
    ints = [*r.doy, r.phase, r.ivcasa, r.ilat, r.ilon]
    return (
        f"{r.ijcam:6d},{r.lat:7.2f},{r.lon:7.2f},{r.ivt_igbp:3d},{r.ist:3d},{r.iso:3d},"
        f"{r.landarea:20.4f},{r.ndep:8.5f},{r.nfix:8.5f},{r.pwea:8.5f},{r.pdust:8.5f},"
        + "".join(f"{i:4d}," for i in ints)
    )


def format_soil_row(r: SoilRow) -> str:
    """Format like the original's ``(i6,a1,2(f7.2,a1),6(f8.5,a1))``."""
    vals = (r.sand, r.clay, r.silt, r.wwilt, r.wfield, r.wsat)
    return f"{r.ijcam:6d},{r.lat:7.2f},{r.lon:7.2f}," + "".join(f"{v:8.5f}," for v in vals)


def write_gridinfo(path: str | Path, rows: Sequence[GridRow]) -> Path:
    """Write a gridinfo CSV (header + one line per model point, in met point order)."""
    path = Path(path)
    with open(path, "w", newline="\n") as fh:
        fh.write(GRIDINFO_HEADER + "\n")
        for r in rows:
            fh.write(format_grid_row(r) + "\n")
    return path


def write_soil(path: str | Path, rows: Sequence[SoilRow]) -> Path:
    """Write a soil CSV (header + one line per model point, in met point order)."""
    path = Path(path)
    with open(path, "w", newline="\n") as fh:
        fh.write(SOIL_HEADER + "\n")
        for r in rows:
            fh.write(format_soil_row(r) + "\n")
    return path


def read_gridinfo(path: str | Path) -> list[GridRow]:
    """Read a gridinfo CSV in the original format (testbed.metformat.read_gridinfo, as rows)."""
    t = mf.read_gridinfo(path)
    i = {k: v.astype(int) for k, v in t.items()}
    return [
        GridRow(
            ijcam=i["ijcam"][k],
            lat=t["lat"][k],
            lon=t["lon"][k],
            ivt_igbp=i["ivt_igbp"][k],
            ist=i["ist"][k],
            iso=i["iso"][k],
            landarea=t["landarea"][k],
            ndep=t["ndep"][k],
            nfix=t["nfix"][k],
            pwea=t["pwea"][k],
            pdust=t["pdust"][k],
            doy=(i["doyp1"][k], i["doyp2"][k], i["doyp3"][k], i["doyp4"][k]),
            phase=i["phase"][k],
            ivcasa=i["ivcasa"][k],
            ilat=i["ilat"][k],
            ilon=i["ilon"][k],
        )
        for k in range(len(t["ijcam"]))
    ]


def read_soil(path: str | Path) -> list[SoilRow]:
    """Read a soil CSV in the original format (testbed.metformat.read_soil, as rows)."""
    t = mf.read_soil(path)
    return [
        SoilRow(int(t["ijcam"][k]), *(float(t[c.name][k]) for c in mf.SOIL_COLUMNS[1:])) for k in range(len(t["ijcam"]))
    ]


# ----------------------------------------------------------------------------------------
# pedotransfer (texture -> hydraulic properties)
# ----------------------------------------------------------------------------------------
def clm_watsat(pct_sand: np.ndarray) -> np.ndarray:
    """Porosity (m3 m-3), Cosby et al. (1984) as in CLM: 0.489 - 0.00126 %sand."""
    return 0.489 - 0.00126 * np.asarray(pct_sand, dtype=np.float64)


def clm_bsw(pct_clay: np.ndarray) -> np.ndarray:
    """Clapp-Hornberger exponent b (-), CLM: 2.91 + 0.159 %clay."""
    return 2.91 + 0.159 * np.asarray(pct_clay, dtype=np.float64)


def clm_sucsat(pct_sand: np.ndarray) -> np.ndarray:
    """Saturated matric suction (mm), CLM: 10 * 10**(1.88 - 0.0131 %sand)."""
    return 10.0 * 10.0 ** (1.88 - 0.0131 * np.asarray(pct_sand, dtype=np.float64))


def clm_hksat(pct_sand: np.ndarray) -> np.ndarray:
    """Saturated hydraulic conductivity (mm s-1), CLM: 0.0070556 * 10**(-0.884 + 0.0153 %sand)."""
    return 0.0070556 * 10.0 ** (-0.884 + 0.0153 * np.asarray(pct_sand, dtype=np.float64))


def clm_watfc(pct_sand: np.ndarray, pct_clay: np.ndarray) -> np.ndarray:
    """Field capacity (m3 m-3) as CLM's WATFC: watsat * (0.1 / (hksat*86400))**(1/(2b+3)).

    This is the water content at which drainage is 0.1 mm day-1 (CLM4.5/5 SoilStateInit).
    """
    ws = clm_watsat(pct_sand)
    b = clm_bsw(pct_clay)
    return ws * (0.1 / (clm_hksat(pct_sand) * SECONDS_PER_DAY)) ** (1.0 / (2.0 * b + 3.0))


def clm_wilting(pct_sand: np.ndarray, pct_clay: np.ndarray) -> np.ndarray:
    """Wilting point (m3 m-3) by Clapp-Hornberger at -150 m (1.5 MPa): watsat*(psi/sucsat)**(-1/b)."""
    ws = clm_watsat(pct_sand)
    return ws * (150000.0 / clm_sucsat(pct_sand)) ** (-1.0 / clm_bsw(pct_clay))


def original_wilting(
    pct_sand: np.ndarray, pct_clay: np.ndarray, pct_silt: np.ndarray, wfield: np.ndarray
) -> np.ndarray:
    """Wilting point (m3 m-3) of the original NetCDFTools ``hydraulicProperties``.

    A quadratic texture regression (percent inputs) giving wilting point in percent, then
    (as in the original, 4/17/2017): if it is not at least 5 points below field capacity
    (percent) it is set to ``100*wfield - 5``; if that is <= 0 it becomes ``50*wfield``.
    """
    sa = np.asarray(pct_sand, dtype=np.float64)
    cl = np.asarray(pct_clay, dtype=np.float64)
    si = np.asarray(pct_silt, dtype=np.float64)
    fc = 100.0 * np.asarray(wfield, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ww = (
            -1.5722 * si
            - 0.5423 * sa
            - 0.0072 * cl * cl
            + 0.0072 * si * si
            - 0.0059 * sa * sa
            + 160.14591 / cl
            + 6.60011 / sa
            + 0.0022 * cl * si
            - 0.0039 * cl * sa
            + 92.3851
        )
    ww = np.where((ww >= fc) | (fc - ww <= 5.0) | ~np.isfinite(ww), fc - 5.0, ww)
    ww = np.where(ww <= 0.0, 0.5 * fc, ww)
    return ww / 100.0


def hydraulic_properties(
    pct_sand: np.ndarray, pct_clay: np.ndarray, wilting: str = "original"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(wwilt, wfield, wsat) in m3 m-3 from sand and clay in percent.

    wsat = Cosby porosity, wfield = CLM WATFC; wwilt per ``wilting``: ``"original"``
    (NetCDFTools regression with the 5-point rule) or ``"clapp"`` (-1.5 MPa, Clapp-Hornberger).
    """
    sand = np.asarray(pct_sand, dtype=np.float64)
    clay = np.asarray(pct_clay, dtype=np.float64)
    wsat = clm_watsat(sand)
    wfield = clm_watfc(sand, clay)
    if wilting == "original":
        wwilt = original_wilting(sand, clay, 100.0 - sand - clay, wfield)
    elif wilting == "clapp":
        wwilt = clm_wilting(sand, clay)
    else:
        raise ValueError(f"unknown wilting-point method {wilting!r} (use 'original' or 'clapp')")
    return wwilt, wfield, wsat
