"""Draw the small PNGs under docs/figures/ that the domain pages show.

Each comes in well under a minute on one thread, from the weights that ship inside gensci or from the
built-in simulators (what the data look like); nothing is trained. Run from the repository root:

    OMP_NUM_THREADS=1 python docs/make_figures.py            # all
    OMP_NUM_THREADS=1 python docs/make_figures.py galaxies   # one

Figures of trained runs other than the shipped ones are not drawn here: each domain page says what
`gensci report RUN` draws instead. The PNGs are reduced to a small palette so the repository stays light.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

FIGURES = Path(__file__).parent / "figures"


def shrink(path: Path, width: int = 1200, colours: int = 96) -> Path:
    """Resize to at most `width` pixels and keep a palette of `colours`: a docs figure needs no more."""
    img = Image.open(path).convert("RGB")
    if img.width > width:
        img = img.resize((width, round(img.height * width / img.width)), Image.LANCZOS)
    img.quantize(colors=colours, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    return path


def save(fig, name: str, **kwargs) -> Path:
    path = FIGURES / name
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return shrink(path, **kwargs)


def qm9_midi_chain() -> Path:
    """One molecule made from noise by the shipped `qm9-midi` weights, until it is stable (the CLI's own picture)."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "gensci", "sample", "qm9-midi", "--chain", "--until-stable",
                        "--out", f"{tmp}/chain.gif"], cwd=tmp, check=True, stdout=subprocess.DEVNULL)
        path = FIGURES / "qm9-midi-chain.png"
        Image.open(f"{tmp}/chain.png").save(path)
    return shrink(path, width=1400)


def qm9_midi_molecules() -> Path:
    """Eight molecules sampled by the shipped `qm9-midi` weights, drawn with their own bonds."""
    from gensci.data.molecule_io import read_molecules
    from gensci.viz.molecules import molecule_grid

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "gensci", "sample", "qm9-midi", "--n", "8", "--out", f"{tmp}/mols.sdf"],
                       cwd=tmp, check=True, stdout=subprocess.DEVNULL)
        path = molecule_grid(read_molecules(f"{tmp}/mols.sdf"), FIGURES / "qm9-midi-molecules.png", ncols=4,
                             panel=2.0)
    return shrink(path, width=900)


def galaxies() -> Path:
    """The simulated galaxies, four of each class (gensci.data.galaxies.render)."""
    from gensci.data.galaxies import render

    rng = np.random.default_rng(0)
    names = ("barred spiral (0)", "elliptical (1)", "spiral (2)")
    fig, axes = plt.subplots(3, 4, figsize=(6, 4.6))
    for label, row in enumerate(axes):
        for ax, img in zip(row, render(label, 4, 64, rng)):
            ax.imshow(img.transpose(1, 2, 0))
            ax.set_xticks([]), ax.set_yticks([])
        row[0].set_ylabel(names[label], fontsize=8)
    return save(fig, "galaxies-data.png")


def lensing() -> Path:
    """Lognormal convergence maps of the default cosmology, and their power spectrum against the target."""
    from gensci.data.lensing import LensingDataConfig, LognormalModel
    from gensci.metrics.fields import power_spectra

    config = LensingDataConfig()
    model = LognormalModel(config.cosmologies()[0], config.map_size, config.pixel_arcmin, config.source_redshift)
    maps = model.maps(64, np.random.default_rng(0))
    fig, axes = plt.subplots(1, 4, figsize=(11, 2.6), gridspec_kw={"width_ratios": [1, 1, 1, 1.5]})
    for ax, m in zip(axes[:3], maps):
        ax.imshow(m / config.kappa_scale, cmap="inferno")
        ax.set_xticks([]), ax.set_yticks([])
    axes[0].set_title("κ / 0.01, 64 × 2′", fontsize=8, loc="left")
    ell, power = power_spectra(maps, config.pixel_arcmin)
    axes[3].loglog(ell, ell * (ell + 1) * power.mean(axis=0) / (2 * np.pi), "o-", ms=3, label="64 maps")
    axes[3].xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    axes[3].yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    axes[3].set_xlabel("ℓ")
    axes[3].set_ylabel("ℓ(ℓ+1) P(ℓ) / 2π")
    axes[3].legend(fontsize=8)
    return save(fig, "lensing-data.png")


def ising() -> Path:
    """Wolff-sampled Ising lattices below, near and above T_c (gensci.data.ising)."""
    from gensci.data.ising import measure_thinning, sample_configurations

    rng = np.random.default_rng(0)
    temps = (1.8, 2.27, 2.8)
    fig, axes = plt.subplots(1, 6, figsize=(10, 2))
    for k, t in enumerate(temps):
        thin = measure_thinning(32, t, rng, n_chains=8, pilot_sweeps=30)["thinning"]
        for j, lattice in enumerate(sample_configurations(32, t, 2, thin, rng, n_chains=2)):
            ax = axes[2 * k + j]
            ax.imshow(lattice, cmap="gray", vmin=-1, vmax=1)
            ax.set_xticks([]), ax.set_yticks([])
            ax.set_title(f"T = {t}", fontsize=8)
    return save(fig, "ising-data.png", colours=16)


def radio() -> Path:
    """Simulated traces (background noise): the noisy input, the true pulse, and the band-pass baseline."""
    from gensci.data.radio import RadioDataConfig, simulate
    from gensci.metrics.radio import bandpass_baseline

    config = RadioDataConfig()
    sim = simulate(config, 64, np.random.default_rng(1))
    rows = np.flatnonzero(sim["is_signal"])[:3]
    noisy, true = sim["traces"][rows], sim["signals"][rows]
    baseline = bandpass_baseline(noisy, config.sampling_rate_mhz, config.band_mhz)
    fig, axes = plt.subplots(len(rows), 2, figsize=(10, 5), sharex=True)
    for (left, right), n, s, b, snr in zip(axes, noisy, true, baseline, sim["snr"][rows]):
        left.plot(n, color="0.4", lw=0.7)
        left.set_ylabel(f"SNR {snr:.1f}", fontsize=8)
        right.plot(b, color="tab:blue", lw=0.8, label="band-pass 30-80 MHz")
        right.plot(s, color="k", lw=1.2, label="true pulse")
    axes[0, 0].set_title("noisy trace (background noise)", fontsize=9)
    axes[0, 1].set_title("true pulse and the band-pass baseline", fontsize=9)
    axes[0, 1].legend(fontsize=7, loc="upper right")
    for ax in axes[-1]:
        ax.set_xlabel("sample (180 MHz)")
    return save(fig, "radio-data.png")


ALL = {"qm9-midi-chain": qm9_midi_chain, "qm9-midi-molecules": qm9_midi_molecules, "galaxies": galaxies,
       "lensing": lensing, "ising": ising, "radio": radio}


def cpu_seconds() -> float:
    """User + system CPU time of this process and of the finished `gensci` subprocesses it waited for."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"figures to draw (default: all): {', '.join(ALL)}")
    names = parser.parse_args().names or list(ALL)
    if unknown := set(names) - set(ALL):
        parser.error(f"unknown figure(s) {sorted(unknown)}; choices: {', '.join(ALL)}")
    FIGURES.mkdir(exist_ok=True)
    for name in names:
        start, wall = cpu_seconds(), time.perf_counter()
        path = ALL[name]()
        print(f"{path}: {path.stat().st_size / 1024:.0f} KiB, {time.perf_counter() - wall:.1f} s wall, "
              f"{cpu_seconds() - start:.1f} CPU-s (with the gensci commands it ran)")


if __name__ == "__main__":
    main()
