"""Classical inpainting baselines. The main one: the Gaussian (simple-kriging / Wiener) conditional mean of hidden
pixels given the observed ones, under a stationary periodic prior whose covariance is the training maps' power
spectrum.

The prior (per channel, channels independent): mean mu (the training maps' pixel mean) and covariance
C(p, q) = xi((p - q) mod S), xi = inverse FFT of the mean |FFT(map - mu)|^2 / S^2, i.e. the maps' circular
autocovariance (positive semi-definite by construction, exact for periodic maps such as gensci's lensing
maps). Given observed values x_o measured with Gaussian noise of variance s^2, the hidden pixels' Gaussian
posterior is (e.g. Rasmussen & Williams 2006, "Gaussian Processes for Machine Learning", eqs. 2.22-2.24)
    mean_h = mu + C_ho (C_oo + s^2 I)^-1 (x_o - mu),   var_h = diag(C_hh - C_ho (C_oo + s^2 I)^-1 C_oh).
For a Gaussian field with this covariance it is the exact posterior; for any other field (the lensing maps are
shifted lognormal) it is the best linear predictor given the two-point function. Values are used as given
(linear space, no log transform), so the baseline needs nothing but the power spectrum.

For a shifted lognormal field x = lam (exp(g) - 1) with g Gaussian (of any mean) (gensci's lensing maps, shift lam
known from the simulator), `lognormal_conditional` applies the same formulas to g = log(1 + x / lam) and maps
back with the lognormal's moments, E[x | obs] = lam (exp(mean_g + var_g / 2) - 1). Without measurement noise this
is the exact posterior mean, the lowest expected squared error any estimator can reach (the Bayes bound); the
noise is carried into log space to first order (sigma_y / lam), which is accurate while sigma_y << lam.
`biharmonic_fill` is the prior-free classical one (as scikit-image's `inpaint_biharmonic`, here on the periodic
grid): the hidden pixels minimise the sum of the squared discrete Laplacian over the map, observed pixels fixed,
i.e. they solve (L^T L) u = 0 on the hidden set, L the 5-point Laplacian with periodic boundaries.
Shapes: maps [N, C, S, S], mask [N, C, S, S] (1 = observed). NumPy/SciPy in float64.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.linalg import cho_factor, cho_solve
from scipy.sparse.linalg import spsolve

_JITTER = 1e-9  # relative to the prior variance: keeps C_oo + s^2 I positive definite for s = 0


def periodic_covariance(maps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Training maps [N, C, S, S] -> (mean [C], circular autocovariance xi [C, S, S]; xi[c, 0, 0] = variance)."""
    x = np.asarray(maps, np.float64)
    mean = x.mean(axis=(0, 2, 3))
    power = (np.abs(np.fft.fft2(x - mean[None, :, None, None])) ** 2).mean(axis=0)  # [C, S, S]
    return mean, np.fft.ifft2(power).real / (x.shape[-1] * x.shape[-2])


def _block(xi: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """C between flat pixel indices rows and cols of an [S, S] grid with autocovariance xi [S, S]."""
    h, w = xi.shape
    dr = (rows[:, None] // w - cols[None, :] // w) % h
    dc = (rows[:, None] % w - cols[None, :] % w) % w
    return xi[dr, dc]


def gaussian_conditional(maps: np.ndarray, mask: np.ndarray, mean: np.ndarray, xi: np.ndarray,
                         noise_std: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(posterior mean, posterior std) [N, C, S, S] of each map's hidden pixels given its observed ones (the module
    docstring's formulas). Observed pixels keep their values (std 0); a map with no observed pixel gets the prior."""
    x = np.asarray(maps, np.float64)
    m = np.broadcast_to(np.asarray(mask) > 0.5, x.shape)
    filled, std = x.copy(), np.zeros_like(x)
    for c in range(x.shape[1]):
        flat_xi = xi[c]
        var0 = flat_xi[0, 0]
        for i in range(x.shape[0]):
            seen = m[i, c].ravel()
            obs, hid = np.flatnonzero(seen), np.flatnonzero(~seen)
            if len(hid) == 0:
                continue
            values = filled[i, c].reshape(-1)  # a view: hidden pixels are written in place
            if len(obs) == 0:
                values[hid], std[i, c].reshape(-1)[hid] = mean[c], np.sqrt(var0)
                continue
            c_oo = _block(flat_xi, obs, obs) + (noise_std ** 2 + _JITTER * var0) * np.eye(len(obs))
            c_ho = _block(flat_xi, hid, obs)
            factor = cho_factor(c_oo, lower=True)
            values[hid] = mean[c] + c_ho @ cho_solve(factor, x[i, c].ravel()[obs] - mean[c])
            var = var0 - np.einsum("ho,oh->h", c_ho, cho_solve(factor, c_ho.T))
            std[i, c].reshape(-1)[hid] = np.sqrt(np.clip(var, 0, None))
    return filled, std


def lognormal_conditional(maps: np.ndarray, mask: np.ndarray, train: np.ndarray, shift: float,
                          noise_std: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(posterior mean, posterior std) [N, C, S, S] of a shifted lognormal field's hidden pixels (module docstring),
    the Gaussian prior of g = log(1 + x / shift) fitted on the training maps [M, C, S, S]."""
    x, train = np.asarray(maps, np.float64), np.asarray(train, np.float64)
    if train.min() <= -shift:
        raise ValueError(f"training values reach {train.min():.4g}, below the lognormal's floor -{shift:.4g}")
    g_mean, g_xi = periodic_covariance(np.log1p(train / shift))
    g = np.log1p(np.maximum(x, -shift * (1 - 1e-9)) / shift)  # hidden pixels may hold anything
    mean_g, std_g = gaussian_conditional(g, mask, g_mean, g_xi, noise_std / shift)
    mean = shift * np.expm1(mean_g + std_g**2 / 2)
    var = shift**2 * np.exp(2 * mean_g + std_g**2) * np.expm1(std_g**2)
    observed = np.broadcast_to(np.asarray(mask) > 0.5, x.shape)
    return np.where(observed, x, mean), np.sqrt(var)


def mean_fill(maps: np.ndarray, mask: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """The trivial reference [N, C, S, S]: hidden pixels set to the prior mean [C], observed ones kept."""
    x = np.asarray(maps, np.float64)
    m = np.broadcast_to(np.asarray(mask) > 0.5, x.shape)
    return np.where(m, x, np.broadcast_to(np.asarray(mean, np.float64)[None, :, None, None], x.shape))


def periodic_laplacian(h: int, w: int) -> sparse.csr_matrix:
    """The 5-point Laplacian [h*w, h*w] of an [h, w] grid with periodic boundaries (flat index r * w + c)."""
    def ring(n: int) -> sparse.csr_matrix:  # the 1D second difference on a ring of n points
        return sparse.diags([1.0, -2.0, 1.0], [-1, 0, 1], shape=(n, n), format="lil") + sparse.csr_matrix(
            ([1.0, 1.0], ([0, n - 1], [n - 1, 0])), shape=(n, n))
    return (sparse.kron(ring(h), sparse.identity(w)) + sparse.kron(sparse.identity(h), ring(w))).tocsr()


def biharmonic_fill(maps: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Maps [N, C, S, S] with hidden pixels filled by biharmonic inpainting (module docstring); observed pixels
    kept. A map with no observed pixel has no solution: ValueError."""
    x = np.asarray(maps, np.float64)
    m = np.broadcast_to(np.asarray(mask) > 0.5, x.shape)
    lap = periodic_laplacian(*x.shape[-2:])
    roughness = (lap.T @ lap).tocsr()  # sum (L u)^2 = u^T roughness u
    filled = x.copy()
    for i, c in np.ndindex(*x.shape[:2]):
        seen = m[i, c].ravel()
        if seen.all():
            continue
        if not seen.any():
            raise ValueError(f"map {i}, channel {c}: no observed pixel, biharmonic inpainting is undetermined")
        obs, hid = np.flatnonzero(seen), np.flatnonzero(~seen)
        values = filled[i, c].reshape(-1)  # a view: hidden pixels are written in place
        rhs = -(roughness[hid][:, obs] @ values[obs])
        values[hid] = spsolve(roughness[hid][:, hid].tocsc(), rhs)
    return filled
