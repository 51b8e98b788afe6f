"""Reproducible synthetic forcing domain: met files plus matching gridinfo and soil tables.

Python API: :func:`make_synthetic_domain`. CLI: ``main(argv)`` (mounted as
``testbed forcing synthetic``). Everything is vectorised numpy; output is float32 on the
compact grid of the reference subsets (nlon = 1, nlat = ncell, cellid = ilat = ijcam = row) or,
for cells taken from gridinfo/soil tables, optionally on the full 96 x 144 CLM grid (MET_FORMAT.md).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..metformat import COORD_TOLERANCE_DEG
from .metfile import (
    DAYS_PER_YEAR,
    FILL,
    NSOIL,
    TESTBED_ZI,
    TFRZ,
    GridRow,
    MetWriter,
    SoilRow,
    hydraulic_properties,
    met_name,
    read_gridinfo,
    read_soil,
    write_gridinfo,
    write_soil,
)

#: Peak daily GPP (gC m-2 day-1) per IGBP type 1..18 (index 0 unused).
GPP_MAX = np.array([0, 8, 11, 7, 9, 8, 4, 2.5, 6, 6, 5, 5, 10, 0, 7, 0, 0.5, 0, 2.5], dtype=np.float64)
#: Mean wetness (0 = wilting point, 1 = saturation) per IGBP type 1..18.
WETNESS = np.array(
    [0, 0.6, 0.75, 0.6, 0.6, 0.6, 0.45, 0.3, 0.5, 0.45, 0.45, 0.9, 0.5, 0.4, 0.5, 0.7, 0.2, 0.95, 0.7],
    dtype=np.float64,
)
#: IGBP types that get no GPP (ice/water in the CASA PFT table, plus barren 16).
NO_GPP = (11, 13, 15, 17)
#: Typical |latitude| of each IGBP type, used to place types missing from the draw.
TYPE_LAT = {
    1: 55,
    2: 2,
    3: 63,
    4: 42,
    5: 50,
    6: 30,
    7: 28,
    8: -12,
    9: 10,
    10: 45,
    11: 5,
    12: 40,
    13: 35,
    14: 20,
    15: -78,
    16: 24,
    17: 65,
    18: 70,
}
#: The CLM 1.9 x 2.5 degree grid of the global tables: rows -90..90 degN, columns 0..357.5 degE.
CLM_NLAT, CLM_NLON = 96, 144
#: Layouts of the met file: compact (nlon = 1, one row per cell) or the full CLM grid.
GRIDS = ("compact", "full")
#: Days per block written on the full grid (bounds memory: ~25 MB per 6-layer block).
FULL_GRID_BLOCK_DAYS = 73
#: Candidate IGBP types per absolute-latitude zone (upper bound of zone, types).
ZONES = (
    (10.0, (2, 2, 2, 8, 9, 11, 14, 17)),
    (20.0, (8, 9, 9, 10, 7, 14, 12, 17)),
    (35.0, (7, 7, 10, 12, 16, 16, 6, 14, 13, 17)),
    (55.0, (4, 5, 1, 10, 12, 12, 14, 6, 17)),
    (66.0, (1, 1, 3, 5, 18, 17, 7)),
    (75.0, (18, 18, 3, 15, 17)),
    (91.0, (15, 15, 17, 18)),
)


@dataclass
class Domain:
    """Static cell properties of a synthetic domain (met point order)."""

    lat: np.ndarray
    lon: np.ndarray
    pft: np.ndarray
    landarea: np.ndarray
    sand: np.ndarray
    clay: np.ndarray
    silt: np.ndarray
    wwilt: np.ndarray
    wfield: np.ndarray
    wsat: np.ndarray
    ndep_annual: np.ndarray
    ijcam_source: np.ndarray
    ilat_source: np.ndarray | None = None
    ilon_source: np.ndarray | None = None

    @property
    def ncell(self) -> int:
        """Number of cells."""
        return int(self.lat.size)


def _draw_domain(ncell: int, rng: np.random.Generator) -> Domain:
    """Cells along a latitude gradient with zone-dependent IGBP types; all 18 types if ncell>=18."""
    lat = np.sort(rng.uniform(-80.0, 80.0, ncell) if ncell > 1 else np.array([45.0]))
    lon = np.round(rng.uniform(0.0, 357.5, ncell) / 2.5) * 2.5
    alat = np.abs(lat)
    pft = np.zeros(ncell, dtype=np.int64)
    lo = 0.0
    for hi, types in ZONES:
        sel = (alat >= lo) & (alat < hi)
        pft[sel] = np.asarray(types)[rng.integers(0, len(types), sel.sum())]
        lo = hi
    if ncell >= 18:  # make sure every IGBP type 1..18 appears at least once
        taken = np.zeros(ncell, dtype=bool)
        for t in range(1, 19):
            if t in pft:
                taken[np.flatnonzero(pft == t)[0]] = True
        for t in range(1, 19):
            if t in pft:
                continue
            dist = np.abs(lat - TYPE_LAT[t]) + np.where(taken, 1e9, 0.0)
            k = int(np.argmin(dist))
            pft[k] = t
            taken[k] = True
    sand = rng.uniform(0.08, 0.85, ncell)
    clay = rng.uniform(0.05, 0.5, ncell)
    scale = np.minimum(1.0, 0.95 / (sand + clay))
    sand, clay = np.round(sand * scale, 5), np.round(clay * scale, 5)
    silt = np.round(1.0 - sand - clay, 5)
    wwilt, wfield, wsat = hydraulic_properties(100 * sand, 100 * clay)
    cell_area = 1.9 * 2.5 * (111.2e3**2) * np.cos(np.deg2rad(lat))
    landarea = cell_area * rng.uniform(0.3, 1.0, ncell)
    ndep = _ndep_annual(lat, rng)
    return Domain(lat, lon, pft, landarea, sand, clay, silt, wwilt, wfield, wsat, ndep, np.arange(1, ncell + 1))


def _ndep_annual(lat: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Annual N deposition (gN m-2 yr-1): higher in the northern mid-latitudes."""
    base = 0.05 + 1.2 * np.exp(-(((lat - 35.0) / 15.0) ** 2)) + 0.3 * np.exp(-((lat / 20.0) ** 2))
    return base * rng.lognormal(0.0, 0.3, lat.size)


def domain_from_tables(gridinfo: str | Path, soil: str | Path, seed: int = 0) -> Domain:
    """Cells (lat, lon, PFT, area, texture, hydraulics) from an existing gridinfo+soil pair.

    Rows are re-ordered by latitude (stable), as in the reference subsets.
    """
    g = read_gridinfo(gridinfo)
    s = read_soil(soil)
    if len(g) != len(s):
        raise ValueError(f"{gridinfo} has {len(g)} rows but {soil} has {len(s)}")
    lat = np.array([r.lat for r in g])
    order = np.argsort(lat, kind="stable")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    ndep = np.array([r.ndep for r in g])
    ndep = np.where(ndep > 0, ndep, _ndep_annual(lat, rng))

    def col(rows: list, name: str) -> np.ndarray:
        return np.array([getattr(r, name) for r in rows], dtype=np.float64)[order]

    pft = np.array([r.ivt_igbp for r in g])[order]
    pft = np.where(pft == 0, 15, pft)
    return Domain(
        lat=lat[order],
        lon=col(g, "lon"),
        pft=pft,
        landarea=col(g, "landarea"),
        sand=col(s, "sand"),
        clay=col(s, "clay"),
        silt=col(s, "silt"),
        wwilt=col(s, "wwilt"),
        wfield=col(s, "wfield"),
        wsat=col(s, "wsat"),
        ndep_annual=ndep[order],
        ijcam_source=np.array([r.ijcam for r in g])[order],
        ilat_source=np.array([r.ilat for r in g])[order],
        ilon_source=np.array([r.ilon for r in g])[order],
    )


def _ar1(rng: np.random.Generator, shape: tuple[int, ...], phi: float) -> np.ndarray:
    """Stationary unit-variance AR(1) series along axis 0 (vectorised over the other axes)."""
    eps = rng.standard_normal(shape)
    out = np.empty(shape)
    out[0] = eps[0]
    c = np.sqrt(1.0 - phi * phi)
    for t in range(1, shape[0]):
        out[t] = phi * out[t - 1] + c * eps[t]
    return out


def synthetic_year(
    dom: Domain,
    year: int,
    seed: int,
    *,
    year0: int,
    warming: float = 0.0,
    ndep_trend: float = 0.0,
) -> dict[str, np.ndarray]:
    """One 365-day year of forcing for ``dom``, arrays shaped (365, ncell) / (365, 6, ncell).

    Units: GPP gC m-2 day-1, temperatures K, water m3 m-3, ndep gN m-2 day-1.
    ``warming`` (K yr-1) and ``ndep_trend`` (fraction yr-1) apply relative to ``year0``.
    The random stream depends only on (seed, year), so a year is the same in any file.
    """
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(year)]))
    n = dom.ncell
    lat = dom.lat
    alat = np.abs(lat)
    dy = year - year0
    doy = np.arange(1, DAYS_PER_YEAR + 1, dtype=np.float64)[:, None]
    # annual mean and amplitude of air temperature; seasons flipped in the south
    tmean = 299.0 - 0.0085 * lat**2 - 8.0 * (lat < -60) + warming * dy
    tamp = 1.0 + 0.25 * alat
    phase = np.where(lat >= 0, 0.0, 182.5)
    omega = 2.0 * np.pi / DAYS_PER_YEAR
    season = -np.cos(omega * (doy - 15.0 - phase))  # -1 mid-January (north), +1 mid-July
    tair = tmean + tamp * season + (1.0 + 0.04 * alat) * _ar1(rng, (DAYS_PER_YEAR, n), 0.7)
    # soil: damped, lagged seasonal wave (cos(a - b) expanded; float32 for the big arrays)
    f4 = np.float32
    zmid = 0.5 * (TESTBED_ZI[:-1] + TESTBED_ZI[1:])[:, None]  # (6, 1)
    dd = 1.8  # damping depth (m)
    a = omega * (doy - 15.0)  # (365, 1)
    b = omega * phase[None, :] + zmid / dd  # (6, n)
    amp = (tamp * np.exp(-zmid / dd)).astype(f4)  # (6, n)
    cos_a, sin_a = np.cos(a).astype(f4)[:, :, None], np.sin(a).astype(f4)[:, :, None]
    tsoil = -(cos_a * (amp * np.cos(b).astype(f4)) + sin_a * (amp * np.sin(b).astype(f4)))
    tsoil += (tmean + 1.0).astype(f4)
    noise = _ar1(rng, (DAYS_PER_YEAR, n), 0.85).astype(f4)[:, None, :]
    tsoil += (1.2 * np.exp(-zmid / 0.3)).astype(f4) * noise
    # water: total = 0.6 wilting + wetness * (sat - 0.6 wilting); frozen share below 0 C
    wet = WETNESS[dom.pft] * (0.85 + 0.3 * rng.random(n))
    wet_season = 0.12 * np.sin(omega * (doy - 60.0 - phase))  # (365, n)
    wet_noise = 0.05 * _ar1(rng, (DAYS_PER_YEAR, n), 0.9)
    wet2 = (wet + wet_season + wet_noise).astype(f4)[:, None, :]
    depth_wet = (0.03 * np.arange(NSOIL, dtype=f4))[None, :, None]
    wetness = np.clip(wet2 + depth_wet, f4(0.02), f4(0.98))
    wlo = (0.6 * dom.wwilt).astype(f4)
    total = wlo + wetness * (dom.wsat.astype(f4) - wlo)
    del wetness
    ffrz = np.clip((f4(TFRZ) - tsoil) * f4(0.5), f4(0.0), f4(0.95))
    frozen = total * ffrz
    liquid = total - frozen
    del total, ffrz
    # GPP: temperature, light (season) and water limited; zero on ice/water cells
    ftemp = np.clip((tair - TFRZ) / 12.0, 0.0, 1.0)
    light = 0.55 + 0.45 * np.cos(omega * (doy - 172.0 - phase)) * np.clip(alat / 45.0, 0.0, 1.0)
    top = liquid[:, :3, :].mean(axis=1, dtype=np.float64)
    fwat = np.clip((top - dom.wwilt) / (dom.wfield - dom.wwilt) + 0.2, 0.0, 1.0)
    gmax = GPP_MAX[dom.pft]
    gpp = gmax * ftemp * light * fwat * np.exp(0.2 * _ar1(rng, (DAYS_PER_YEAR, n), 0.5) - 0.02)
    gpp[:, np.isin(dom.pft, NO_GPP)] = 0.0
    ndep = np.broadcast_to(dom.ndep_annual * (1.0 + ndep_trend) ** dy / DAYS_PER_YEAR, (DAYS_PER_YEAR, n))
    return {
        "xcgpp": gpp.astype(np.float32),
        "xtairk": tair.astype(np.float32),
        "ndep": ndep.astype(np.float32),
        "xtsoil": tsoil.astype(np.float32),
        "xmoist": liquid.astype(np.float32),
        "xfrznmoist": frozen.astype(np.float32),
    }


@dataclass
class Layout:
    """Where the cells of a :class:`Domain` sit in the met file (MET_FORMAT.md, cell order).

    ``lat``/``lon`` the grid coordinates (float32), ``missing``/``cellid`` (nlat, nlon) int32,
    ``ilat``/``ilon`` each domain cell's 1-based grid position, ``point`` the domain index of
    model point k (longitude index outer, latitude index inner).
    """

    grid: str
    lat: np.ndarray
    lon: np.ndarray
    missing: np.ndarray
    cellid: np.ndarray
    ilat: np.ndarray
    ilon: np.ndarray
    point: np.ndarray

    def scatter(self, data: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Put per-cell ``data`` (days, [6,] ncell) into grid block ``out`` (days, [6,] nlat, nlon)."""
        out[..., self.ilat - 1, self.ilon - 1] = data
        return out


def make_layout(dom: Domain, grid: str = "compact") -> Layout:
    """Compact layout (nlat = ncell, nlon = 1) or the full CLM 96 x 144 grid at the cells' ilat/ilon.

    The full grid needs cells from gridinfo tables of that grid (ijcam = (ilon-1)*96 + ilat, lat/lon
    within COORD_TOLERANCE_DEG of the grid point); other cells are missing (cellMissing = 1, data 1e36).
    """
    n = dom.ncell
    if grid == "compact":
        ilat = np.arange(1, n + 1)
        return Layout(
            grid,
            dom.lat.astype(np.float32),
            np.zeros(1, dtype=np.float32),
            np.zeros((n, 1), dtype=np.int32),
            ilat.astype(np.int32)[:, None],
            ilat,
            np.ones(n, dtype=np.int64),
            np.arange(n),
        )
    if grid != "full":
        raise ValueError(f"grid must be one of {GRIDS}, not {grid!r}")
    if dom.ilat_source is None or dom.ilon_source is None:
        raise ValueError("grid='full' needs cells from gridinfo/soil tables (their ilat, ilon)")
    ilat, ilon = dom.ilat_source.astype(np.int64), dom.ilon_source.astype(np.int64)
    nlat, nlon = CLM_NLAT, CLM_NLON
    if ilat.min() < 1 or ilat.max() > nlat or ilon.min() < 1 or ilon.max() > nlon:
        raise ValueError(f"gridinfo ilat/ilon outside the {nlat} x {nlon} CLM grid")
    ids = (ilon - 1) * nlat + ilat
    if np.unique(ids).size != n:
        raise ValueError("gridinfo lists a grid cell (ilat, ilon) twice")
    bad = np.flatnonzero(ids != dom.ijcam_source)
    if bad.size:
        raise ValueError(f"gridinfo ijcam {int(dom.ijcam_source[bad[0]])} != (ilon-1)*{nlat}+ilat = {int(ids[bad[0]])}")
    lat = np.linspace(-90.0, 90.0, nlat)
    lon = np.arange(nlon) * (360.0 / nlon)
    dlat = np.abs(dom.lat - lat[ilat - 1])
    dlon = np.abs((dom.lon - lon[ilon - 1] + 180.0) % 360.0 - 180.0)
    bad = np.flatnonzero((dlat > COORD_TOLERANCE_DEG) | (dlon > COORD_TOLERANCE_DEG))
    if bad.size:
        k = bad[0]
        raise ValueError(
            f"gridinfo cell {int(dom.ijcam_source[k])} at ({dom.lat[k]:.2f}, {dom.lon[k]:.2f}) is not "
            f"at the CLM grid point ({lat[ilat[k] - 1]:.2f}, {lon[ilon[k] - 1]:.2f})"
        )
    missing = np.ones((nlat, nlon), dtype=np.int32)
    missing[ilat - 1, ilon - 1] = 0
    cellid = (np.arange(nlon)[None, :] * nlat + np.arange(1, nlat + 1)[:, None]).astype(np.int32)
    return Layout(
        grid, lat.astype(np.float32), lon.astype(np.float32), missing, cellid, ilat, ilon, np.lexsort((ilat, ilon))
    )


def _write_tables(out_dir: Path, dom: Domain, lay: Layout, ndep_mean: np.ndarray, prefix: str) -> list[Path]:
    """gridinfo, soil and cells.csv rows in model point order (``lay.point``)."""
    grid, soil = [], []
    for c in lay.point:
        ilat, ilon = int(lay.ilat[c]), int(lay.ilon[c])
        ijcam = int(lay.cellid[ilat - 1, ilon - 1])
        lat, lon = float(dom.lat[c]), float(dom.lon[c])
        grid.append(
            GridRow(
                ijcam=ijcam,
                lat=lat,
                lon=lon,
                ivt_igbp=int(dom.pft[c]),
                landarea=float(dom.landarea[c]),
                ndep=float(ndep_mean[c]),
                ilat=ilat,
                ilon=ilon,
            )
        )
        soil.append(
            SoilRow(
                ijcam,
                lat,
                lon,
                float(dom.sand[c]),
                float(dom.clay[c]),
                float(dom.silt[c]),
                float(dom.wwilt[c]),
                float(dom.wfield[c]),
                float(dom.wsat[c]),
            )
        )
    paths = [
        write_gridinfo(out_dir / f"gridinfo_igbpz{prefix}.csv", grid),
        write_soil(out_dir / f"gridinfo_soil{prefix}.csv", soil),
    ]
    cells = out_dir / f"cells{prefix}.csv"
    g = lay.grid
    with open(cells, "w") as fh:
        fh.write(f"npt,ijcam_{g},ilat_{g},ilon_{g},ijcam_source,lat,lon,ivt_igbp\n")
        for k, (c, r) in enumerate(zip(lay.point, grid, strict=True)):
            fh.write(
                f"{k + 1},{r.ijcam},{r.ilat},{r.ilon},{int(dom.ijcam_source[c])},"
                f"{dom.lat[c]:.2f},{dom.lon[c]:.2f},{int(dom.pft[c])}\n"
            )
    paths.append(cells)
    return paths


def make_synthetic_domain(
    out_dir: str | Path,
    ncell: int = 12,
    years: Sequence[int] | range = range(1901, 1906),
    seed: int = 20240531,
    *,
    per_year: bool = True,
    multi_year: bool = True,
    warming: float = 0.0,
    ndep_trend: float = 0.0,
    gridinfo: str | Path | None = None,
    soil: str | Path | None = None,
    compress: int = 0,
    nc_format: str = "NETCDF4",
    with_frozen: bool = True,
    table_suffix: str = "",
    grid: str = "compact",
) -> dict[str, list[Path]]:
    """Write a reproducible synthetic domain to ``out_dir`` and return the paths.

    ``ncell`` cells along a latitude gradient (ignored when ``gridinfo``/``soil`` are given:
    cells then come from that table pair, re-ordered by latitude). ``years``: calendar years;
    one ``met_YYYY_YYYY.nc`` per year if ``per_year`` and one ``met_Y1_Y2.nc`` if
    ``multi_year``. ``warming`` in K yr-1, ``ndep_trend`` fraction yr-1 (relative to the
    first year). ``grid``: ``"compact"`` (nlat = ncell, nlon = 1, rows sorted by latitude) or
    ``"full"`` (the 96 x 144 CLM grid, cells at the tables' ilat/ilon, every other point missing
    with 1e36; needs ``gridinfo``/``soil``, written in blocks of days); a cell gets the same
    values on either layout. ``compress``: zlib level (default 0 = none, fastest;
    4 as in the reference files). Same arguments give identical files.
    Returns ``{"met_year": [...], "met_multi": [...], "tables": [gridinfo, soil, cells]}``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    years = [int(y) for y in years]
    if not years:
        raise ValueError("no years requested")
    if (gridinfo is None) != (soil is None):
        raise ValueError("give both gridinfo and soil, or neither")
    if gridinfo is not None and soil is not None:
        dom = domain_from_tables(gridinfo, soil, seed)
    else:
        if ncell < 1:
            raise ValueError("ncell must be >= 1")
        dom = _draw_domain(ncell, np.random.default_rng(np.random.SeedSequence([seed, 0])))
    lay = make_layout(dom, grid)
    n = dom.ncell
    attrs = {
        "title": "Synthetic daily forcing for the biogeochemical testbed",
        "source": f"testbed.forcing_tools.synthetic seed={seed} grid={grid}",
    }
    common = dict(with_frozen=with_frozen, compress=compress, nc_format=nc_format, **attrs)
    geo = (lay.lat, lay.lon, lay.missing, lay.cellid)
    multi = None
    result: dict[str, list[Path]] = {"met_year": [], "met_multi": [], "tables": []}
    if multi_year:
        path = out / met_name(years[0], years[-1])
        multi = MetWriter(path, *geo, years, **common)
        result["met_multi"].append(path)
    ndep_sum = np.zeros(n)
    buffers: dict[tuple[int, ...], np.ndarray] = {}  # full grid: fill everywhere, cells overwritten
    try:
        for iy, year in enumerate(years):
            data = synthetic_year(dom, year, seed, year0=years[0], warming=warming, ndep_trend=ndep_trend)
            ndep_sum += data["ndep"].astype(np.float64).sum(axis=0)
            writers = []
            if per_year and not (multi_year and len(years) == 1):
                path = out / met_name(year, year)
                writers.append(MetWriter(path, *geo, [year], **common))
                result["met_year"].append(path)
            elif per_year:
                result["met_year"].append(out / met_name(year, year))
            for name in ("xcgpp", "xtairk", "ndep", "xtsoil", "xmoist", "xfrznmoist"):
                if name == "xfrznmoist" and not with_frozen:
                    continue
                step = DAYS_PER_YEAR if grid == "compact" else FULL_GRID_BLOCK_DAYS
                for d0 in range(0, DAYS_PER_YEAR, step):
                    part = data[name][d0 : d0 + step]  # (days, [6,] ncell)
                    if grid == "compact":
                        block = part[..., None]
                    else:
                        shape = (step, *part.shape[1:-1], *lay.missing.shape)
                        if shape not in buffers:
                            buffers[shape] = np.full(shape, FILL, dtype=np.float32)
                        block = lay.scatter(part, buffers[shape][: part.shape[0]])
                    for w in writers:
                        w.write_block(name, d0, block)
                    if multi is not None:
                        multi.write_block(name, iy * DAYS_PER_YEAR + d0, block)
            for w in writers:
                w.close()
    finally:
        if multi is not None:
            multi.close()
    ndep_mean = ndep_sum / len(years)
    result["tables"] = _write_tables(out, dom, lay, ndep_mean, table_suffix)
    return result


def _parse_years(text: str) -> list[int]:
    """'1901:1905' or '1901-1905' (inclusive) or '1901,1903'."""
    text = text.strip()
    for sep in (":", "-"):
        if sep in text[1:]:
            a, b = text.split(sep, 1)
            return list(range(int(a), int(b) + 1))
    return [int(x) for x in text.split(",") if x]


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the synthetic-generator options to ``parser`` (for mounting as a subcommand)."""
    parser.add_argument("out_dir", help="output directory (created if needed)")
    parser.add_argument("--ncell", type=int, default=12, help="number of cells (default 12)")
    parser.add_argument("--years", default="1901:1905", help="years, inclusive range '1901:1905' or list '1901,1902'")
    parser.add_argument("--seed", type=int, default=20240531, help="random seed")
    parser.add_argument(
        "--no-per-year", dest="per_year", action="store_false", help="do not write met_YYYY_YYYY.nc per year"
    )
    parser.add_argument(
        "--no-multi-year", dest="multi_year", action="store_false", help="do not write the multi-year file met_Y1_Y2.nc"
    )
    parser.add_argument("--warming", type=float, default=0.0, help="air/soil warming trend, K per year (default 0)")
    parser.add_argument(
        "--ndep-trend", type=float, default=0.0, help="relative N deposition trend per year, e.g. 0.01 (default 0)"
    )
    parser.add_argument("--gridinfo", help="take cells from this gridinfo CSV (with --soil)")
    parser.add_argument("--soil", help="soil CSV matching --gridinfo")
    parser.add_argument(
        "--compress", type=int, default=0, help="zlib level 0-9 for NETCDF4 output (default 0 = none, fastest)"
    )
    parser.add_argument(
        "--format",
        dest="nc_format",
        default="NETCDF4",
        choices=["NETCDF4", "NETCDF4_CLASSIC", "NETCDF3_64BIT_OFFSET"],
        help="NetCDF file format (default NETCDF4)",
    )
    parser.add_argument("--no-frozen", dest="with_frozen", action="store_false", help="omit xfrznmoist")
    parser.add_argument(
        "--grid",
        choices=GRIDS,
        default="compact",
        help="compact: nlon=1, nlat=ncell (default); full: the 96 x 144 CLM grid at the gridinfo's ilat/ilon "
        "(needs --gridinfo/--soil), other points missing",
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    """Stand-alone parser (``python -m testbed.forcing_tools.synthetic``)."""
    p = argparse.ArgumentParser(
        prog="testbed forcing synthetic",
        description="Write a reproducible synthetic met domain with gridinfo and soil tables.",
    )
    return add_arguments(p)


def run(args: argparse.Namespace) -> int:
    """Execute parsed arguments; returns the exit status."""
    paths = make_synthetic_domain(
        args.out_dir,
        ncell=args.ncell,
        years=_parse_years(args.years),
        seed=args.seed,
        per_year=args.per_year,
        multi_year=args.multi_year,
        warming=args.warming,
        ndep_trend=args.ndep_trend,
        gridinfo=args.gridinfo,
        soil=args.soil,
        compress=args.compress,
        nc_format=args.nc_format,
        with_frozen=args.with_frozen,
        grid=args.grid,
    )
    for group in paths.values():
        for p in group:
            print(p)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point."""
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
