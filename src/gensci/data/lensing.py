"""Weak-lensing convergence maps: lognormal random fields with a cosmology's convergence power spectrum.

The spectrum: P_kappa(l) of gensci.data.convergence (Eisenstein & Hu linear power, halofit non-linear
power, Limber projection to one source plane at `source_redshift`), for each (sigma8, Omega_m) of the
config (the grid of the two lists); the other parameters are fixed there.

The maps (flat sky, periodic, S x S pixels of `pixel_arcmin`): a shifted lognormal field
kappa = lambda (exp(g - sigma_g^2 / 2) - 1) with g Gaussian, so kappa >= -lambda and <kappa> = 0.
The shift lambda is minus the empty-beam convergence (the smallest kappa a source at z_s can have),
as in the lognormal model of Taruya et al. (2002, ApJ 571, 638); Hilbert, Hartlap & Schneider (2011,
A&A 536, A85) discuss how well shifted lognormals describe simulated convergence. The Gaussian's
correlation follows from the target's on the same periodic grid, xi_g = ln(1 + xi_kappa / lambda^2)
(Coles & Jones 1991, MNRAS 248, 1; as in FLASK, Xavier et al. 2016, MNRAS 459, 3693): xi_kappa is the
inverse FFT of the grid power P_kappa(|l|) / (pixel area), xi_g's FFT is the Gaussian's grid power
(negative values, a few 1e-5 of the total here, are set to 0 and the fraction is reported). The map
then has exactly the target's correlation on the grid, hence the one-point moments
    variance sigma^2 = xi_kappa(0),  skewness 3 A + A^3 with A = sigma / lambda.
The field is sampled at pixel centres (no pixel window); multipoles beyond the grid's are absent.

Shape noise (optional): white Gaussian noise of sigma_e / sqrt(n_gal A_pix) per pixel, the noise of a
convergence map from n_gal galaxies per arcmin^2 with intrinsic ellipticity dispersion sigma_e per
component (e.g. Van Waerbeke 2000, MNRAS 313, 524, Sec. 2; sigma_e = 0.26 and n_gal = 30 arcmin^-2
are round numbers for deep surveys).

Items: {"x": [1, S, S] float32 = kappa / kappa_scale (so values are of order one; physical kappa is
x * kappa_scale, the ValueRange's scale), "label": int64 cosmology index, "sigma8", "omega_m": float32}.
Conditions: `info["condition_keys"] = ["sigma8", "omega_m"]`, `info["conditions"][label]` their values.
One cosmology (the default) is an unconditional data set. Cached in GENSCI_CACHE/lensing/.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import torch
from pydantic import Field, field_validator

from gensci.config import DataConfig
from gensci.data.base import DataSplits, TensorDictDataset, config_digest, default_cache_dir
from gensci.data.convergence import Cosmology, convergence_power, empty_beam_convergence
from gensci.data.images import SPLITS, load_cached
from gensci.spec import DataSpec, TensorSpec, ValueRange

_SIM_VERSION = 1
_CHUNK = 256


class LensingDataConfig(DataConfig):
    name: Literal["lensing"] = "lensing"
    map_size: Literal[16, 32, 64, 128, 256] = Field(64, description="S pixels a side (16 and 32 for tests)")
    pixel_arcmin: float = Field(2.0, gt=0, description="pixel side in arcmin (64 x 2' = a 2.1 deg field)")
    sigma8: list[float] = Field(default_factory=lambda: [0.8], min_length=1, description="one value or a grid")
    omega_m: list[float] = Field(default_factory=lambda: [0.3], min_length=1, description="one value or a grid")
    source_redshift: float = Field(1.0, gt=0)
    shape_noise: bool = Field(False, description="add the white noise of galaxy shapes")
    galaxy_density: float = Field(30.0, gt=0, description="galaxies per arcmin^2 (with shape_noise)")
    ellipticity_dispersion: float = Field(0.26, gt=0, description="sigma_e per component (with shape_noise)")
    kappa_scale: float = Field(0.01, gt=0, description="x = kappa / kappa_scale")
    n_per_cosmology: int = Field(2000, ge=1, description="training maps per cosmology")
    n_valid_per_cosmology: int = Field(200, ge=1)
    n_test_per_cosmology: int = Field(500, ge=1)
    cache: bool = True

    @field_validator("sigma8", "omega_m", mode="before")
    @classmethod
    def _listify(cls, v):
        return [v] if isinstance(v, (int, float)) else v

    @field_validator("omega_m")
    @classmethod
    def _flat(cls, v: list[float]) -> list[float]:
        if any(not 0.05 <= x <= 1 for x in v):
            raise ValueError(f"Omega_m must be in [0.05, 1] (flat LambdaCDM, Omega_b = 0.046), got {v}")
        return v

    def cosmologies(self) -> list[Cosmology]:
        """The grid sigma8 x Omega_m, in label order."""
        return [Cosmology(sigma8=s, omega_m=o) for s, o in itertools.product(self.sigma8, self.omega_m)]


def _ell_grid(size: int, pixel_rad: float) -> np.ndarray:
    """|l| [S, S] of the FFT grid (radians^-1)."""
    f = 2 * np.pi * np.fft.fftfreq(size, d=pixel_rad)
    return np.hypot(*np.meshgrid(f, f, indexing="ij"))


class LognormalModel:
    """The grid quantities of one cosmology: the Gaussian's amplitude per FFT cell, the shift lambda,
    the target grid power (P_kappa / pixel area, 0 at l = 0) and the one-point moments it implies."""

    def __init__(self, cosmo: Cosmology, size: int, pixel_arcmin: float, z_source: float):
        self.pixel_rad = math.radians(pixel_arcmin / 60)
        ell = _ell_grid(size, self.pixel_rad)
        ells = np.geomspace(ell[ell > 0].min(), ell.max(), 160)
        p = convergence_power(ells, cosmo, z_source)
        spectrum = np.exp(np.interp(np.log(np.where(ell > 0, ell, ells[0])), np.log(ells), np.log(p)))
        self.grid_power = np.where(ell > 0, spectrum, 0.0) / self.pixel_rad**2  # variance per FFT cell
        self.shift = -empty_beam_convergence(cosmo, z_source)
        xi = np.fft.ifft2(self.grid_power).real
        power_g = np.fft.fft2(np.log1p(xi / self.shift**2)).real
        self.clipped_fraction = float(-power_g[power_g < 0].sum() / np.abs(power_g).sum())
        self.gaussian_amplitude = np.sqrt(np.clip(power_g, 0, None))
        self.gaussian_variance = float(np.clip(power_g, 0, None).mean())
        self.variance = float(xi[0, 0])
        a = math.sqrt(self.variance) / self.shift
        self.skewness = 3 * a + a**3

    def ell_power(self) -> tuple[np.ndarray, np.ndarray]:
        """(|l| [S, S], P_kappa(|l|) [S, S] in sr): the target spectrum on the grid."""
        ell = _ell_grid(len(self.grid_power), self.pixel_rad)
        return ell, self.grid_power * self.pixel_rad**2

    def maps(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n lognormal convergence maps [n, S, S] float64."""
        white = rng.normal(size=(n, *self.grid_power.shape))
        g = np.fft.ifft2(np.fft.fft2(white) * self.gaussian_amplitude).real
        return self.shift * np.expm1(g - self.gaussian_variance / 2)


def noise_sigma(config: LensingDataConfig) -> float:
    """Shape noise per pixel, sigma_e / sqrt(n_gal A_pix) (0 without shape noise)."""
    return config.ellipticity_dispersion / math.sqrt(config.galaxy_density * config.pixel_arcmin**2) if config.shape_noise else 0.0


def simulate(config: LensingDataConfig) -> dict[str, np.ndarray]:
    """{split}_x [N, S, S] float32 (kappa, + noise), {split}_y [N] cosmology index, per-split streams
    seeded by (seed, split, cosmology); and the models' moments per cosmology."""
    sizes = {"train": config.n_per_cosmology, "valid": config.n_valid_per_cosmology, "test": config.n_test_per_cosmology}
    models = [LognormalModel(c, config.map_size, config.pixel_arcmin, config.source_redshift) for c in config.cosmologies()]
    out: dict[str, list] = {f"{s}_{k}": [] for s in SPLITS for k in "xy"}
    for ci, model in enumerate(models):
        for si, split in enumerate(SPLITS):
            rng = np.random.default_rng([config.seed, si, ci])
            for start in range(0, sizes[split], _CHUNK):
                kappa = model.maps(min(_CHUNK, sizes[split] - start), rng)
                kappa += noise_sigma(config) * rng.normal(size=kappa.shape)
                out[f"{split}_x"].append(kappa.astype(np.float32))
            out[f"{split}_y"].append(np.full(sizes[split], ci, np.int64))
    moments = {"model_variance": [m.variance for m in models], "model_skewness": [m.skewness for m in models],
               "model_shift": [m.shift for m in models], "model_clipped_fraction": [m.clipped_fraction for m in models]}
    return {k: np.concatenate(v) for k, v in out.items()} | {k: np.array(v) for k, v in moments.items()}


def cache_path(config: LensingDataConfig, cache_dir: Path | None = None) -> Path:
    key = config.model_dump(mode="json", exclude={"cache", "kappa_scale"}) | {"version": _SIM_VERSION}
    digest = config_digest(key)
    return (cache_dir or default_cache_dir()) / "lensing" / f"lensing_{config.map_size}px_{digest}.npz"


LENSING_INFO = frozenset({"channels", "image_size", "n_classes", "class_names", "dataset", "pixel_arcmin",
                          "condition_keys", "conditions", "kappa_scale", "model"})


class LensingData:
    """Lognormal convergence maps per cosmology (module docstring)."""

    Config: ClassVar[type[LensingDataConfig]] = LensingDataConfig

    @classmethod
    def spec(cls, config: LensingDataConfig) -> DataSpec:
        s = config.map_size
        return DataSpec(
            domain="fields",
            items={"x": TensorSpec((1, s, s), "float", f"convergence / {config.kappa_scale}"),
                   "label": TensorSpec((), "int", "cosmology index (the condition)"),
                   "sigma8": TensorSpec(()), "omega_m": TensorSpec(())},
            info=LENSING_INFO,
            ranges={"x": ValueRange(unit=f"convergence kappa (dimensionless); pixels of {config.pixel_arcmin} arcmin",
                                    scale=config.kappa_scale)},
        )

    @classmethod
    def load(cls, config: LensingDataConfig) -> DataSplits:
        arrays = load_cached(cache_path(config), lambda: simulate(config), config.cache)
        conditions = [[c.sigma8, c.omega_m] for c in config.cosmologies()]
        table = torch.tensor(conditions, dtype=torch.float32)

        def split(name: str) -> TensorDictDataset:
            y = torch.from_numpy(arrays[f"{name}_y"]).long()
            x = torch.from_numpy(arrays[f"{name}_x"] / config.kappa_scale).float()[:, None]
            return TensorDictDataset({"x": x, "label": y, "sigma8": table[y, 0], "omega_m": table[y, 1]})

        train = split("train")
        info = {
            "channels": 1,
            "image_size": config.map_size,
            "pixel_arcmin": config.pixel_arcmin,
            "n_classes": len(conditions),
            "class_names": [f"σ8={s:g}, Ωm={o:g}" for s, o in conditions],
            "condition_keys": ["sigma8", "omega_m"],
            "conditions": conditions,  # conditions[label] = [sigma8, omega_m]
            "kappa_scale": config.kappa_scale,
            "dataset": "lensing",
            "source_redshift": config.source_redshift,
            "noise_sigma": noise_sigma(config),
            "model": {k[len("model_"):]: arrays[k].tolist() for k in arrays if k.startswith("model_")},
            "pixel_mean": [float(train.tensors["x"].mean())],
            "pixel_std": [float(train.tensors["x"].std())],  # a diffusion model standardises by these
            "pixel_min": [float(train.tensors["x"].min())],  # and clamps its clean-data estimate to these
            "pixel_max": [float(train.tensors["x"].max())],
            # no map goes below minus the largest shift (a diffusion model with transform=log diffuses log(x - floor));
            # shape noise has no floor
            "pixel_floor": None if config.shape_noise else [-float(arrays["model_shift"].max()) / config.kappa_scale],
        }
        return DataSplits(train, split("valid"), split("test"), info)
