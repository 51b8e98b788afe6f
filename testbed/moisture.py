"""Soil-water retention and the water-potential rate scalar (spec seed_processes.md section 2).

Van Genuchten-Mualem retention with Carsel & Parrish (1988) class means, the class taken from sand/silt/clay
by the USDA/NRCS texture triangle (2.2), and the psi-based moisture scalar of S001 Eq. D10 (2.3). Heads h are
in cm of water, potentials psi in hPa (1 cm H2O = 0.980665 hPa). The kernel evaluates the same formulas
(fortran_core/moisture.f90: vg_theta, vg_psi, f_psi); these NumPy versions give the texture classes and serve the
tests (NumPy's SIMD ``power`` may differ from libm's ``pow`` by 1-2 ulp, so they agree with the kernel to
round-off, not bit for bit).
"""

from __future__ import annotations

import numpy as np

#: hPa per cm of water
HPA_PER_CM = 0.980665

#: S001 Table A2 (Moyano et al. 2013): optimum and threshold potential (hPa) and the exponent of Eq. D10
PSI_OPT = -30.0
PSI_TH = -158000.0
A_PSI = 1.47

#: Carsel & Parrish (1988) Table 3 class means (HYDRUS catalogue): theta_r, theta_s (m3 m-3), alpha (cm-1), n
CARSEL_PARRISH: dict[str, tuple[float, float, float, float]] = {
    "sand": (0.045, 0.43, 0.145, 2.68),
    "loamy sand": (0.057, 0.41, 0.124, 2.28),
    "sandy loam": (0.065, 0.41, 0.075, 1.89),
    "loam": (0.078, 0.43, 0.036, 1.56),
    "silt": (0.034, 0.46, 0.016, 1.37),
    "silt loam": (0.067, 0.45, 0.020, 1.41),
    "sandy clay loam": (0.100, 0.39, 0.059, 1.48),
    "clay loam": (0.095, 0.41, 0.019, 1.31),
    "silty clay loam": (0.089, 0.43, 0.010, 1.23),
    "sandy clay": (0.100, 0.38, 0.027, 1.23),
    "silty clay": (0.070, 0.36, 0.005, 1.09),
    "clay": (0.068, 0.38, 0.008, 1.09),
}
CLASSES = tuple(CARSEL_PARRISH)


def texture_class(sand: float, silt: float, clay: float) -> str:
    """USDA/NRCS texture class of fractions (0-1) that sum to 1 (checked to 1e-3)."""
    if min(sand, silt, clay) < 0 or abs(sand + silt + clay - 1.0) > 1e-3:
        raise ValueError(f"texture fractions sand {sand:g}, silt {silt:g}, clay {clay:g} must be >= 0 and sum to 1")
    sa, si, cl = 100.0 * sand, 100.0 * silt, 100.0 * clay
    if si + 1.5 * cl < 15:
        return "sand"
    if si + 2 * cl < 30:
        return "loamy sand"
    if (7 <= cl < 20 and sa > 52) or (cl < 7 and si < 50):
        return "sandy loam"
    if 7 <= cl < 27 and 28 <= si < 50 and sa <= 52:
        return "loam"
    if si >= 80 and cl < 12:
        return "silt"
    if si >= 50 and cl < 27:
        return "silt loam"
    if 20 <= cl < 35 and si < 28 and sa > 45:
        return "sandy clay loam"
    if 27 <= cl < 40 and 20 < sa <= 45:
        return "clay loam"
    if 27 <= cl < 40 and sa <= 20:
        return "silty clay loam"
    if cl >= 35 and sa > 45:
        return "sandy clay"
    if cl >= 40 and si >= 40:
        return "silty clay"
    return "clay"


def van_genuchten(sand: np.ndarray, silt: np.ndarray, clay: np.ndarray) -> dict[str, np.ndarray]:
    """Per-cell class means: ``theta_r``, ``theta_s`` (the class value; the kernel uses the host's ssat),
    ``alpha`` (cm-1), ``n`` and the class index into :data:`CLASSES` (``texture``)."""
    names = [texture_class(float(a), float(b), float(c)) for a, b, c in zip(sand, silt, clay, strict=True)]
    tab = np.array([CARSEL_PARRISH[k] for k in names]).reshape(-1, 4)
    return {
        "theta_r": tab[:, 0],
        "theta_s": tab[:, 1],
        "alpha": tab[:, 2],
        "n": tab[:, 3],
        "texture": np.array([CLASSES.index(k) for k in names], dtype=float),
    }


def theta_of_h(h_cm, theta_r, theta_s, alpha, n):
    """Volumetric water content (m3 m-3) at head ``h_cm`` (cm, <= 0)."""
    m = 1.0 - 1.0 / n
    return theta_r + (theta_s - theta_r) * (1.0 + (alpha * np.abs(h_cm)) ** n) ** (-m)


def h_of_theta(theta, theta_r, theta_s, alpha, n):
    """Head (cm, <= 0) at water content ``theta``; Se clipped to (0, 1] (-inf at or below theta_r)."""
    m = 1.0 - 1.0 / n
    se = np.minimum(1.0, (np.asarray(theta, float) - theta_r) / (theta_s - theta_r))
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(1.0 / alpha) * (se ** (-1.0 / m) - 1.0) ** (1.0 / n)
    return np.where(se > 0.0, h, -np.inf)


def theta_of_psi(psi_hpa, theta_r, theta_s, alpha, n):
    """Water content at potential ``psi_hpa`` (hPa), converting to cm with /0.980665 (spec M3)."""
    return theta_of_h(np.asarray(psi_hpa, float) / HPA_PER_CM, theta_r, theta_s, alpha, n)


def f_psi(psi_hpa):
    """S001 Eq. D10: 1 above PSI_OPT, 0 below PSI_TH, else 1 - [log10(psi/psi_opt)/log10(psi_th/psi_opt)]^a."""
    psi = np.asarray(psi_hpa, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.log10(psi / PSI_OPT) / np.log10(PSI_TH / PSI_OPT)
        f = 1.0 - np.abs(x) ** A_PSI
    return np.where(psi > PSI_OPT, 1.0, np.where(psi < PSI_TH, 0.0, f))
