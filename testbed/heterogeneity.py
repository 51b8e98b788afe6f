"""Second-order (scale-transition) heterogeneity factors phi of S002 (spec seed_processes.md 3.1).

phi multiplies the flux evaluated at the grid-cell means; sigma_X = CV_X X-bar and Cov(S, M) = rho CV_S CV_M S M.
The kernel evaluates the reverse Michaelis-Menten factor hourly (fortran_core/moisture.f90); these NumPy versions
give the CASA (constant) factors and serve the tests.
"""

from __future__ import annotations

import numpy as np


def phi_reverse_mm(k, m, cv_s, cv_m, rho, cv_v=0.0, rho_vs=0.0, rho_vm=0.0):
    """V S M/(K + M): 1 - CV_M^2 K M/(K + M)^2 + rho CV_S CV_M K/(K + M), plus with Vmax heterogeneity (S002
    Eq. 16) rho_VS CV_V CV_S + rho_VM CV_V CV_M K/(K + M)."""
    r = k / (k + m)
    phi = (1.0 - ((cv_m * cv_m) * r) * (m / (k + m))) + ((rho * cv_s) * cv_m) * r
    return phi + ((rho_vs * cv_v) * cv_s + ((rho_vm * cv_v) * cv_m) * (k / (k + m)))


def phi_forward_mm(k, s, cv_s, cv_m, rho):
    """V S M/(K + S): 1 - CV_S^2 K S/(K + S)^2 + rho CV_S CV_M K/(K + S)."""
    r = k / (k + s)
    return (1.0 - ((cv_s * cv_s) * r) * (s / (k + s))) + ((rho * cv_s) * cv_m) * r


def phi_linear(cv_k, cv_c, rho):
    """k C: 1 + rho CV_k CV_C (exact, S002 Eq. 19)."""
    return 1.0 + (rho * cv_k) * cv_c


def phi_turnover(beta, cv_m):
    """M^beta: 1 + beta(beta - 1) CV_M^2 / 2 (negative correction for 0 < beta < 1)."""
    return 1.0 + ((0.5 * beta) * (beta - 1.0)) * (cv_m * cv_m)


# --------------------------------------------------------------------------- S002 two-pool model (3.3)
#: S002 Table B1: mortality rate kB (h-1), yield Y, uptake rate kM ((mg C g-1)-1 h-1), input I (mg C g-1 h-1)
KB, Y, KM, INPUT = 2.8e-4, 0.31, 1.53e-4, 6.06e-4
#: fg C per cell per mg C g-1 (the kM ratio of Table B1)
FG_PER_MG_G = 2.0537e5


def two_pool_rates(cs, cb, km, kb=KB, y=Y, inp=INPUT):
    """Tendencies of substrate and biomass: dCs = I - kM Cs Cb + kB Cb, dCb = Y kM Cs Cb - kB Cb (necromass
    recycled to substrate)."""
    u = km * cs * cb
    return inp - u + kb * cb, y * u - kb * cb


def two_pool_steady_state(km, kb=KB, y=Y, inp=INPUT, dt=50.0, max_steps=200000):
    """Integrate the per-cell two-pool model (an array of uncoupled cells, S002 alpha = 0) from Cs = Cb = 1
    to its steady state with linearly implicit steps of ``dt`` hours (positive; the fixed point of the
    scheme is the model's steady state). Returns (Cs, Cb) per cell in mg C g-1."""
    km = np.asarray(km, float)
    cs = np.ones_like(km)
    cb = np.ones_like(km)
    for step in range(max_steps):
        cs = (cs + dt * (inp + kb * cb)) / (1.0 + dt * km * cb)
        cb = cb * (1.0 + dt * y * km * cs) / (1.0 + dt * kb)
        if step % 1000 == 999:
            dcs, dcb = two_pool_rates(cs, cb, km, kb, y, inp)
            if np.all(np.abs(dcs) <= 1e-13 * inp) and np.all(np.abs(dcb) <= 1e-13 * inp):
                break
    return cs, cb


def log_uniform_mean_cs(a, b, kb=KB, y=Y):
    """S002 Eq. A16: mean steady-state Cs (mg C g-1) of kM ~ log10 U(a, b) in fg units."""
    fg = kb * (10.0**-a - 10.0**-b) / (y * (b - a) * np.log(10.0))
    return fg / FG_PER_MG_G
