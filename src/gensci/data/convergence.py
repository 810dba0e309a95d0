"""The convergence power spectrum P_kappa(l) of a flat LambdaCDM cosmology, for the lensing maps.

A stated model, not a simulation; each step is a published formula:
- linear matter power P_lin(k) = A k^n_s T(k)^2, with the no-wiggle transfer function of Eisenstein &
  Hu (1998, ApJ 496, 605, eqs. 26 and 28-31; as coded in komatsu5147/MatterPower.jl,
  src/eisensteinhu.jl @ 68167c1), normalised to sigma8 with a top-hat of 8 Mpc/h at z = 0;
- linear growth in flat LambdaCDM, D(a) ∝ E(a) ∫_0^a da' / (a' E(a'))^3 (Heath 1977, MNRAS 179, 351),
  D(z = 0) = 1;
- non-linear power by halofit with the revised coefficients of Takahashi et al. (2012, ApJ 761, 152,
  Appendix A, for w = -1; as coded in komatsu5147/MatterPower.jl, src/halofit.jl @ 68167c1);
- Limber's approximation for sources on one plane at z_s (e.g. Bartelmann & Schneider 2001, Phys.
  Rep. 340, 291, Sec. 6):
      P_kappa(l) = 9/4 Omega_m^2 (H0/c)^4 ∫_0^chi_s dchi ((chi_s - chi)/chi_s)^2 (1+z)^2 P_nl((l+1/2)/chi, z).
Fixed (not conditions): h = 0.7, Omega_b = 0.046, n_s = 0.97, T_CMB = 2.725 K, no massive neutrinos.
sigma8 and Omega_m (with Omega_Lambda = 1 - Omega_m) are the parameters a lensing data set varies.

Units: k in h/Mpc, P(k) in (Mpc/h)^3, comoving distances chi in Mpc/h, l dimensionless, P_kappa in sr.
The empty-beam convergence (`empty_beam_convergence`, delta = -1 along the line of sight) is the
smallest convergence a source at z_s can have; the lognormal maps use it as their shift.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import integrate, optimize

C_OVER_H0 = 2997.92458  # c / H0 in Mpc/h


@dataclass(frozen=True)
class Cosmology:
    sigma8: float = 0.8
    omega_m: float = 0.3
    h: float = 0.7
    omega_b: float = 0.046
    n_s: float = 0.97

    def e(self, z):
        """H(z) / H0 in flat LambdaCDM (radiation neglected)."""
        return np.sqrt(self.omega_m * (1 + np.asarray(z, float)) ** 3 + 1 - self.omega_m)

    def omega_m_of_z(self, z):
        return self.omega_m * (1 + np.asarray(z, float)) ** 3 / self.e(z) ** 2

    def comoving_distance(self, z) -> np.ndarray:
        """chi(z) in Mpc/h."""
        z = np.atleast_1d(np.asarray(z, float))
        grid = np.linspace(0, z.max(), 2049)
        chi = integrate.cumulative_trapezoid(1 / self.e(grid), grid, initial=0) * C_OVER_H0
        return np.interp(z, grid, chi)

    def growth(self, z) -> np.ndarray:
        """Linear growth factor D(z) / D(0) (Heath 1977)."""
        a = 1 / (1 + np.atleast_1d(np.asarray(z, float)))

        def unnormalised(a_end: float) -> float:
            integral = integrate.quad(lambda x: (x * self.e(1 / x - 1)) ** -3, 1e-8, a_end)[0]
            return float(self.e(1 / a_end - 1) * integral)

        return np.array([unnormalised(x) for x in a]) / unnormalised(1.0)

    def transfer(self, k) -> np.ndarray:
        """Eisenstein & Hu (1998) no-wiggle transfer function (eqs. 26, 28-31), k in h/Mpc."""
        om_h2, fb = self.omega_m * self.h**2, self.omega_b / self.omega_m
        k_mpc = np.asarray(k, float) * self.h
        alpha = 1 - 0.328 * np.log(431 * om_h2) * fb + 0.38 * np.log(22.3 * om_h2) * fb**2
        s = 44.5 * np.log(9.83 / om_h2) / np.sqrt(1 + 10 * (fb * om_h2) ** 0.75)
        gamma = om_h2 * (alpha + (1 - alpha) / (1 + (0.43 * k_mpc * s) ** 4))
        q = k_mpc * (2.725 / 2.7) ** 2 / gamma
        l0 = np.log(2 * np.e + 1.8 * q)
        return l0 / (l0 + (14.2 + 731 / (1 + 62.5 * q)) * q**2)

    def _shape(self, k):
        return np.asarray(k, float) ** self.n_s * self.transfer(k) ** 2

    @property
    def amplitude(self) -> float:
        """A in P_lin(k, 0) = A k^n_s T(k)^2 so that sigma(8 Mpc/h) = sigma8 (top-hat window)."""
        lnk = np.linspace(np.log(1e-5), np.log(1e3), 4000)
        k = np.exp(lnk)
        x = 8.0 * k
        window = 3 * (np.sin(x) - x * np.cos(x)) / x**3
        sigma2 = integrate.trapezoid(k**3 * self._shape(k) * window**2, lnk) / (2 * np.pi**2)
        return self.sigma8**2 / sigma2

    def nonlinear_power(self, k, z: float) -> np.ndarray:
        """Halofit (Takahashi et al. 2012) P_nl(k, z) in (Mpc/h)^3, k in h/Mpc."""
        k = np.asarray(k, float)
        amp = self.amplitude * self.growth(z)[0] ** 2
        lnq = np.linspace(np.log(1e-4), np.log(1e4), 3000)
        q = np.exp(lnq)
        d2_grid = amp * q**3 * self._shape(q) / (2 * np.pi**2)

        def moment(ln_r: float, power: int) -> float:  # ∫ Δ²_L(q) y^power exp(-y²) dlnq, y = qR
            y2 = (q * np.exp(ln_r)) ** 2
            return float(integrate.trapezoid(d2_grid * y2 ** (power / 2) * np.exp(-y2), lnq))

        ln_r = optimize.brentq(lambda lr: np.log(moment(lr, 0)), np.log(1e-3), np.log(1e2))
        m2, m4 = moment(ln_r, 2), moment(ln_r, 4)
        k_sigma, n = np.exp(-ln_r), -3 + 2 * m2
        c = -((-4 * m2 + 4 * m4) - (2 * m2) ** 2)  # -d² ln sigma² / d ln R² at sigma = 1
        om = self.omega_m_of_z(z)
        a_n = 10 ** (1.5222 + 2.8553 * n + 2.3706 * n**2 + 0.9903 * n**3 + 0.2250 * n**4 - 0.6038 * c)
        b_n = 10 ** (-0.5642 + 0.5864 * n + 0.5716 * n**2 - 1.5474 * c)
        c_n = 10 ** (0.3698 + 2.0404 * n + 0.8161 * n**2 + 0.5869 * c)
        gamma_n = 0.1971 - 0.0843 * n + 0.8460 * c
        alpha_n = abs(6.0835 + 1.3373 * n - 0.1959 * n**2 - 5.5274 * c)
        beta_n = 2.0379 - 0.7354 * n + 0.3157 * n**2 + 1.2490 * n**3 + 0.3980 * n**4 - 0.1682 * c
        nu_n = 10 ** (5.2105 + 3.6902 * n)
        f1, f2, f3 = om**-0.0307, om**-0.0585, om**0.0743
        y = k / k_sigma
        d2_lin = amp * k**3 * self._shape(k) / (2 * np.pi**2)
        d2_q = d2_lin * (1 + d2_lin) ** beta_n / (1 + alpha_n * d2_lin) * np.exp(-y / 4 - y**2 / 8)
        d2_h = a_n * y ** (3 * f1) / (1 + b_n * y**f2 + (c_n * f3 * y) ** (3 - gamma_n)) / (1 + nu_n / y**2)
        return (d2_q + d2_h) * 2 * np.pi**2 / k**3


def _lensing_kernel_grid(cosmo: Cosmology, z_source: float, n: int = 96):
    """Quadrature points of the line-of-sight integral: chi [n] (Mpc/h), z [n], weights dchi [n]."""
    chi_s = float(cosmo.comoving_distance(z_source)[0])
    z_grid = np.linspace(0, z_source, 4097)
    chi_grid = cosmo.comoving_distance(z_grid)
    chi = (np.arange(n) + 0.5) / n * chi_s  # midpoint rule in chi
    return chi, np.interp(chi, chi_grid, z_grid), np.full(n, chi_s / n), chi_s


def convergence_power(ell, cosmo: Cosmology, z_source: float = 1.0) -> np.ndarray:
    """P_kappa(l) [len(ell)] in steradians by Limber's approximation (module docstring)."""
    ell = np.asarray(ell, float)
    chi, z, dchi, chi_s = _lensing_kernel_grid(cosmo, z_source)
    total = np.zeros_like(ell)
    for c, zz, w in zip(chi, z, dchi):
        total += w * ((chi_s - c) / chi_s) ** 2 * (1 + zz) ** 2 * cosmo.nonlinear_power((ell + 0.5) / c, zz)
    return 2.25 * cosmo.omega_m**2 / C_OVER_H0**4 * total


def empty_beam_convergence(cosmo: Cosmology, z_source: float = 1.0) -> float:
    """kappa_empty = -3/2 Omega_m (H0/c)^2 ∫ chi (chi_s - chi)/chi_s (1+z) dchi (delta = -1 everywhere):
    the lower bound of the convergence, used as the lognormal shift (Taruya et al. 2002, ApJ 571, 638)."""
    chi, z, dchi, chi_s = _lensing_kernel_grid(cosmo, z_source, 512)
    return float(-1.5 * cosmo.omega_m / C_OVER_H0**2 * np.sum(dchi * chi * (chi_s - chi) / chi_s * (1 + z)))
