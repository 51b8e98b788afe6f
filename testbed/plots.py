"""Figures of testbed runs (matplotlib, Agg; imported lazily so ``import testbed`` stays fast).

Each ``*_figure`` function takes ``{run name: dataset}`` (layout of docs/outputs.md) and writes
PNG files; ``plot_command`` is the CLI entry that opens ``<run_dir>/annual.nc`` of each run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from testbed import analysis as an

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

KINDS = ("zonal", "timeseries", "map", "turnover")
DPI = 130

#: zonal panels: (quantity, title, axis label, display factor applied to the per-cell units)
ZONAL_PANELS = (
    ("soil_c", "Soil C", "soil C (kg C m⁻²)", 1e-3),
    ("mic_c", "Microbial biomass C", "microbial C (g C m⁻²)", 1.0),
    ("rel_mic", "Relative microbial biomass", "microbial C / soil C (%)", 1.0),
    ("rh", "Heterotrophic respiration", "Rh (g C m⁻² yr⁻¹)", 1.0),
    ("soil_cn", "Soil C:N", "soil C:N (g g⁻¹)", 1.0),
    ("mic_cn", "Microbial C:N", "microbial C:N (g g⁻¹)", 1.0),
)
#: map panels: (quantity, title, colour bar label, display factor, log colour scale)
MAP_PANELS = (
    ("soil_c", "Soil C", "kg C m⁻²", 1e-3, False),
    ("mic_c", "Microbial biomass C", "g C m⁻²", 1.0, False),
    ("rel_mic", "Relative microbial biomass", "%", 1.0, False),
    ("turnover", "Soil C turnover time", "yr", 1.0, True),
)


def _figure(nrows: int, ncols: int, width: float, height: float, **adjust: float) -> tuple[Figure, np.ndarray]:
    """A pyplot-free Figure (rendered by Agg) with fixed margins (``subplots_adjust`` keywords)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    fig.subplots_adjust(**adjust)
    return fig, axes


def _style(runs: Mapping[str, xr.Dataset]) -> dict[str, dict[str, Any]]:
    """One colour per run (tab10 order); C-only runs dashed."""
    import matplotlib as mpl

    colours = mpl.colormaps["tab10"].colors
    return {
        name: {"color": colours[i % len(colours)], "linestyle": "--" if an.cycle(ds) == "c" else "-"}
        for i, (name, ds) in enumerate(runs.items())
    }


def _label(name: str, ds: xr.Dataset) -> str:
    return f"{name} ({an.soil_model(ds).upper()}-{an.cycle(ds).upper()})"


def _try(func: Any, *args: Any) -> xr.DataArray | None:
    try:
        return func(*args)
    except an.MissingVariableError:
        return None


def _means(runs: Mapping[str, xr.Dataset], period: an.Period | None) -> dict[str, xr.Dataset]:
    """In-memory period means (ncell-long) of the analysis variables of every run: one compute."""
    import dask

    names = list(runs)
    lazy = [an.period_mean(an.subset(runs[n]), period) for n in names]
    return dict(zip(names, dask.compute(*lazy), strict=True))


def _compute(lazy: dict[Any, xr.DataArray | None]) -> dict[Any, xr.DataArray]:
    import dask

    keys = [k for k, v in lazy.items() if v is not None]
    return dict(zip(keys, dask.compute(*[lazy[k] for k in keys]), strict=True))


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    return path


def _period_text(period: an.Period | None) -> str:
    return f"mean {period[0]}–{period[1]}" if period else "mean of all records"


def _plain_log_labels(axis: Any) -> None:
    """Label a log axis 3, 10, 30 instead of 3x10^0, 10^1."""
    from matplotlib.ticker import FuncFormatter, LogLocator

    fmt = FuncFormatter(lambda v, _: f"{v:g}")
    axis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(fmt)
    axis.set_minor_formatter(FuncFormatter(lambda v, _: ""))


def _lat_axis(ax: Axes) -> None:
    ax.set_xlim(-90, 90)
    ax.set_xticks(np.arange(-90, 91, 30))
    ax.set_xlabel("latitude (°N)")
    ax.grid(alpha=0.3)


# ----------------------------------------------------------------------------- figures
def zonal_figure(
    runs: Mapping[str, xr.Dataset], out: str | os.PathLike[str], period: an.Period | None = None, width: float = 5.0
) -> Path:
    """Six panels of zonal means (soil C, microbial C, relative microbial C, Rh, soil C:N,
    microbial C:N), one line per run, ``width``-degree bands, time mean over ``period``."""
    means = _means(runs, period)
    lazy = {(n, q): _try(an.zonal, ds, q, width) for n, ds in means.items() for q, *_ in ZONAL_PANELS}
    data = _compute(lazy)
    style = _style(runs)
    fig, axes = _figure(2, 3, 13.5, 7.8, left=0.06, right=0.985, top=0.91, bottom=0.14, wspace=0.28, hspace=0.36)
    for ax, (q, title, ylabel, factor) in zip(axes, ZONAL_PANELS, strict=True):
        for name, ds in runs.items():
            z = data.get((name, q))
            if z is not None:
                z = z.dropna("lat_band")  # empty bands (ocean, coarse grids) would break the line
                ax.plot(z["lat_band"], z * factor, label=_label(name, ds), lw=1.8, marker="o", ms=2.5, **style[name])
        if not any((n, q) in data for n in runs):
            ax.text(0.5, 0.5, "not available for these runs", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(title)
        ax.set_ylabel(ylabel)
        _lat_axis(ax)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncols=min(len(labels), 4), frameon=False)
    fig.suptitle(f"Zonal means ({width:g}° bands, area-weighted, {_period_text(period)})")
    return _save(fig, Path(out))


def timeseries_figure(runs: Mapping[str, xr.Dataset], out: str | os.PathLike[str]) -> Path:
    """Global NPP, Rh (Pg C yr-1), soil C (Pg C) and cumulative NEP (Pg C) against year."""
    import dask

    names = list(runs)
    sums = dict(zip(names, dask.compute(*[an.collapse_cells(an.subset(runs[n])) for n in names]), strict=True))
    data: dict[Any, xr.DataArray] = {}
    for name, ds in sums.items():
        for q in ("npp", "rh", "soil_c", "nep"):
            v = _try(an.total, ds, q)
            if v is not None:
                data[(name, q)] = v
        if (name, "nep") in data:
            data[(name, "cum_nep")] = an.cumulative_over_years(data[(name, "nep")])
    panels = (
        ("npp", "Global NPP", "NPP (Pg C yr⁻¹)"),
        ("rh", "Global heterotrophic respiration", "Rh (Pg C yr⁻¹)"),
        ("soil_c", "Global soil C", "soil C (Pg C)"),
        ("cum_nep", "Cumulative NEP", "cumulative NEP (Pg C)"),
    )
    from matplotlib.ticker import MaxNLocator

    style = _style(runs)
    fig, axes = _figure(2, 2, 11.0, 7.6, left=0.08, right=0.98, top=0.91, bottom=0.14, wspace=0.25, hspace=0.36)
    for ax, (q, title, ylabel) in zip(axes, panels, strict=True):
        for name, ds in runs.items():
            s = data.get((name, q))
            if s is None:
                continue
            yr = an.years(s)
            marker = "o" if s.sizes["time"] <= 30 else None
            ax.plot(yr, s, marker=marker, ms=3.5, lw=1.6, label=_label(name, ds), **style[name])
        if q == "cum_nep":
            ax.axhline(0.0, color="0.5", lw=0.8)
        ax.set_title(title)
        ax.set_ylabel(ylabel)
        ax.set_xlabel("year")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncols=min(len(labels), 4), frameon=False)
    fig.suptitle("Global totals (area-weighted, ice/water/urban/wetland cells masked)")
    return _save(fig, Path(out))


def _grid_step(x: np.ndarray, default: float) -> float:
    step = np.diff(np.unique(np.round(x, 4)))
    return float(np.median(step[step > 0])) if np.any(step > 0) else default


def _fit_markers(fig: Figure, ax: Axes, dlon: float, dlat: float) -> None:
    """Resize the square markers of ``ax`` so that each covers one dlon x dlat grid cell."""
    ax.apply_aspect()
    pos = ax.get_position()
    w_in, h_in = pos.width * fig.get_figwidth(), pos.height * fig.get_figheight()
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    side = 72.0 * max(w_in * dlon / (x1 - x0), h_in * dlat / (y1 - y0)) * 1.02
    for coll in ax.collections:
        coll.set_sizes([float(np.clip(side, 0.5, 40.0)) ** 2])


def map_figure(name: str, ds: xr.Dataset, out: str | os.PathLike[str], period: an.Period | None = None) -> Path:
    """2x2 maps of one run (cells on lon/lat, coloured): soil C, microbial C, relative
    microbial C and turnover time, time mean over ``period``. Masked cells in grey."""
    from matplotlib.colors import LogNorm

    mean = _means({name: ds}, period)[name]
    lazy = {q: _try(an.field, mean, q) for q, *_ in MAP_PANELS}
    lazy["active"] = an.active_mask(mean)
    lazy["lon"], lazy["lat"] = mean["lon"], mean["lat"]
    data = _compute(lazy)
    lon = np.where(data["lon"].values > 180, data["lon"].values - 360, data["lon"].values)
    lat, active = data["lat"].values, data["active"].values.astype(bool)
    fig, axes = _figure(2, 2, 13.0, 6.4, left=0.06, right=0.99, top=0.9, bottom=0.08, wspace=0.1, hspace=0.32)
    size = 4.0  # refined by _fit_markers once the layout is known
    for ax, (q, title, units, factor, log) in zip(axes, MAP_PANELS, strict=True):
        ax.scatter(lon[~active], lat[~active], s=size, c="0.72", marker="s", linewidths=0)
        v = data.get(q)
        if v is None:
            ax.text(0.5, 0.5, "not available", ha="center", va="center", transform=ax.transAxes)
        else:
            vals = v.values * factor
            ok = active & np.isfinite(vals) & ((vals > 0) if log else True)
            finite = vals[ok]
            lo, hi = np.percentile(finite, [2, 98]) if finite.size else (0.0, 1.0)
            norm = LogNorm(max(lo, 1e-3), max(hi, lo * 1.01, 1e-3)) if log else None
            sc = ax.scatter(
                lon[ok],
                lat[ok],
                c=vals[ok],
                s=size,
                marker="s",
                linewidths=0,
                cmap="viridis",
                norm=norm,
                vmin=None if log else lo,
                vmax=None if log else hi,
            )
            cb = fig.colorbar(sc, ax=ax, label=units, shrink=0.95, extend="both", pad=0.02)
            if log:
                _plain_log_labels(cb.ax.yaxis)
        ax.set_title(title)
        ax.set_xlim(-180, 180)
        ax.set_ylim(-60, 90)
        ax.set_aspect("equal")
        ax.set_xticks(np.arange(-180, 181, 60))
        ax.set_yticks(np.arange(-60, 91, 30))
        ax.set_xlabel("longitude (°E)")
        ax.set_ylabel("latitude (°N)")
        ax.grid(alpha=0.3)
    dlon, dlat = _grid_step(lon, 2.5), _grid_step(lat, 1.875)
    for ax in axes:
        _fit_markers(fig, ax, dlon, dlat)
    fig.suptitle(f"{_label(name, ds)}, {_period_text(period)} (grey: masked cells)")
    return _save(fig, Path(out))


def turnover_figure(
    runs: Mapping[str, xr.Dataset], out: str | os.PathLike[str], period: an.Period | None = None, width: float = 5.0
) -> Path:
    """Soil C turnover time (soil C / NPP, yr): zonal (ratio of zonal means) and per cell
    against soil temperature (``tsoilC``; latitude if absent), log scale."""
    means = _means(runs, period)
    lazy: dict[Any, xr.DataArray | None] = {}
    use_t = all("tsoilC" in m.data_vars for m in means.values())
    for name, m in means.items():
        lazy[(name, "zonal")] = _try(an.zonal, m, "turnover", width)
        tau = _try(an.field, m, "turnover")
        lazy[(name, "cell")] = None if tau is None else tau.where(an.active_mask(m))
        lazy[(name, "x")] = m["tsoilC"] if use_t else m["lat"]
    data = _compute(lazy)
    style = _style(runs)
    fig, axes = _figure(1, 2, 12.0, 5.0, left=0.07, right=0.98, top=0.85, bottom=0.12, wspace=0.22)
    for name, ds in runs.items():
        z = data.get((name, "zonal"))
        if z is not None:
            z = z.dropna("lat_band")
            axes[0].plot(z["lat_band"], z, lw=1.8, marker="o", ms=2.5, label=_label(name, ds), **style[name])
        tau = data.get((name, "cell"))
        if tau is not None:
            axes[1].scatter(
                data[(name, "x")], tau, s=9, alpha=0.6, color=style[name]["color"], linewidths=0, label=_label(name, ds)
            )
    axes[0].set_title(f"Zonal soil C turnover time ({width:g}° bands)")
    _lat_axis(axes[0])
    axes[1].set_title("Soil C turnover time per cell")
    axes[1].set_xlabel("soil temperature (°C)" if use_t else "latitude (°N)")
    axes[1].grid(alpha=0.3)
    for ax in axes:
        ax.set_yscale("log")
        _plain_log_labels(ax.yaxis)
        ax.set_ylabel("turnover time (yr)")
    axes[0].legend(frameon=False, fontsize="small")
    fig.suptitle(f"Inferred soil C turnover time = soil C / NPP ({_period_text(period)})")
    return _save(fig, Path(out))


# ----------------------------------------------------------------------------- CLI entry
def plot_runs(
    runs: Mapping[str, xr.Dataset], kind: str, out_dir: str | os.PathLike[str], period: an.Period | None = None
) -> list[Path]:
    """Draw figures of ``kind`` (zonal | timeseries | map | turnover) into ``out_dir``."""
    out = Path(out_dir)
    if kind == "zonal":
        return [zonal_figure(runs, out / "zonal.png", period)]
    if kind == "timeseries":
        return [timeseries_figure(runs, out / "timeseries.png")]
    if kind == "map":
        return [map_figure(name, ds, out / f"map_{name}.png", period) for name, ds in runs.items()]
    if kind == "turnover":
        return [turnover_figure(runs, out / "turnover.png", period)]
    raise ValueError(f"unknown plot kind {kind!r}; choose from {', '.join(KINDS)}")


def plot_command(run_dirs: list[str], kind: str, out_dir: str, period: an.Period | None = None) -> list[Path]:
    """CLI entry: open ``<run_dir>/annual.nc`` of each run (named by the directory's basename),
    save PNGs of ``kind`` in ``out_dir`` and return their paths."""
    if kind not in KINDS:
        raise ValueError(f"unknown plot kind {kind!r}; choose from {', '.join(KINDS)}")
    runs = {name: an.open_run(d) for name, d in zip(an.run_names(run_dirs), run_dirs, strict=True)}
    try:
        return plot_runs(runs, kind, out_dir, period)
    finally:
        for ds in runs.values():
            ds.close()
