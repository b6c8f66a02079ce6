#!/usr/bin/env python3
"""fit_gelu_erf.py — dev-time fit of the erf polynomials used by the vectorised exact-erf GELU
(src/ops/gemm_gelu_avx512.h). Prints the coefficients (highest degree first) and the fit error.

  |x| <= T0:       erf(x) = x + x*P(x^2)            P degree 6, weighted toward minimax (IRLS)
  T0 < t < 4:      log(erfc(t)) = Q(t - 2.5)        Q degree 9, error weighted by erfc(t)

Needs numpy (python3-numpy). Not used at build or run time."""
import math

import numpy as np

T0 = 0.921875
erf = np.vectorize(math.erf)
erfc = np.vectorize(math.erfc)


def irls(x, target, deg, weight, err_scale):
    w = np.ones_like(x)
    for _ in range(30):
        c = np.polyfit(x, target, deg, w=w * weight)
        e = (np.polyval(c, x) - target) * err_scale
        w *= (np.abs(e) / np.abs(e).max()) ** 0.3 + 1e-3
    return c, np.abs(e).max()


s = np.linspace(0, T0 * T0, 20001)[1:]
x = np.sqrt(s)
c, err = irls(s, erf(x) / x - 1, 6, x / erf(x), x / erf(x))
print(f"P (small |x|), max relative error of erf {err:.3g}:\n  {c.tolist()}")

t = np.linspace(T0, 4.0, 40001)
c, err = irls(t - 2.5, np.log(erfc(t)), 9, np.minimum(erfc(t) * 5, 1), erfc(t))
print(f"Q (tail), max absolute error of erf {err:.3g}:\n  {c.tolist()}")
