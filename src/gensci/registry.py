"""Names -> classes for methods, data sets, workflows and presets.

Entries are "module:attribute" strings imported on first use, so listing the
data sets does not import RDKit or torch-heavy modules, and `data/`, `nets/`, `metrics/`
need not import this module (they import only `ops`: tests/test_layering.py checks the import rules).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib import resources
from typing import Any

from gensci.errors import UnknownNameError


@dataclass(frozen=True)
class Entry:
    target: str  # "package.module:attribute"
    summary: str  # one line for `gensci datasets` / `gensci presets`


class Registry:
    """A named table of lazily imported objects; unknown names list the choices."""

    def __init__(self, kind: str, entries: dict[str, Entry]):
        self.kind = kind
        self._entries = dict(entries)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def summary(self, name: str) -> str:
        return self._entry(name).summary

    def register(self, name: str, target: str, summary: str = "") -> None:
        """Add an entry (for users' own methods or data sets)."""
        self._entries[name] = Entry(target, summary)

    def get(self, name: str) -> Any:
        module, _, attr = self._entry(name).target.partition(":")
        return getattr(importlib.import_module(module), attr)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def _entry(self, name: str) -> Entry:
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(f"unknown {self.kind} {name!r}; choices: {', '.join(self.names())}") from None


METHODS = Registry(
    "method",
    {
        "dae": Entry("gensci.methods.dae:DAE", "denoising autoencoder (input -> target regression)"),
        "vae": Entry("gensci.methods.vae:VAE", "Gaussian (beta-)VAE with analytic KL"),
        "gan": Entry("gensci.methods.gan:GAN", "GAN family: minimax, acgan, wgan-gp, wgan-div"),
        "edm": Entry("gensci.methods.edm:EDM", "E(3)-equivariant diffusion of 3D molecules (EGNN denoiser)"),
        "field-diffusion": Entry("gensci.methods.field_diffusion:FieldDiffusion",
                           "DDPM-style diffusion on grids (images, fields, lattices) with a U-Net; DDIM, Langevin, DPS"),
        "lattice-diffusion": Entry("gensci.methods.lattice_diffusion:LatticeDiffusion",
                                   "discrete (categorical) diffusion of lattice states (Ising spins) with a U-Net"),
        "midi": Entry("gensci.methods.midi:MiDi",
                      "3D molecules with bonds and charges: flow matching (SemlaFlow) or MiDi diffusion"),
        "sequence-vae": Entry("gensci.methods.sequence_vae:SequenceVAE",
                              "DeepSequence-style VAE over aligned sequences: mutation effects as ELBO differences"),
        "smiles-vae": Entry("gensci.methods.smiles_vae:SmilesVAE",
                            "SMILES VAE with a property head on the latent mean (chemical VAE, Gomez-Bombarelli 2018)"),
        "digress": Entry("gensci.methods.digress:DiGress",
                         "molecular graphs (atoms, charges, bonds; no coordinates): DiGress discrete diffusion"),
    },
)

DATASETS = Registry(
    "dataset",
    {
        "radio": Entry(
            "gensci.data.radio:RadioData",
            "simulated cosmic-ray radio traces (500 samples; background/uniform/cosine noise)",
        ),
        "radio-file": Entry("gensci.data.radio:RadioFileData", "your own radio traces from an npz file"),
        "qm9": Entry(
            "gensci.data.qm9:QM9Data",
            "QM9: 130,831 small organic molecules with 3D coordinates (from the qm9pack package)",
        ),
        "qm9-bonds": Entry(
            "gensci.data.qm9_bonds:QM9BondsData",
            "QM9 with explicit H, 3D, plus Kekule bonds and formal charges (perceived once from xyz + SMILES)",
        ),
        "qm9-graph": Entry(
            "gensci.data.qm9_bonds:QM9GraphData",
            "QM9 heavy atoms only (<= 9, implicit H) with Kekule bonds and formal charges",
        ),
        "galaxies": Entry(
            "gensci.data.galaxies:GalaxyData",
            "simulated galaxy images: barred spiral / elliptical / spiral (RGB, 64x64)",
        ),
        "first": Entry(
            "gensci.data.firstgalaxy:FirstGalaxyData",
            "2,158 real FIRST radio-galaxy images in 4 classes (firstgalaxydata package, optional)",
        ),
        "images": Entry("gensci.data.images:ImageFolderData", "your own images: one subfolder per class"),
        "lensing": Entry("gensci.data.lensing:LensingData",
                         "lognormal weak-lensing convergence maps per cosmology (sigma8, Omega_m; 64x64 of 2')"),
        "ising": Entry("gensci.data.ising:IsingData", "2D Ising lattices across T_c, Wolff-sampled (32x32, 10 temperatures)"),
        "potts": Entry("gensci.data.potts:PottsData",
                       "simulated protein family (Potts model + MCMC, exact mutation effects), or your A2M/FASTA"),
        "records": Entry("gensci.data.records:RecordsData",
                         "clinical records with gaps (MCAR/MAR/MNAR): breast-cancer, diabetes or your CSV (data.path)"),
        "moses": Entry("gensci.data.smiles:MosesData",
                       "MOSES benchmark SMILES (1.6M ZINC molecules; needs: pip install --no-deps molsets)"),
        "qm9-smiles": Entry("gensci.data.smiles:QM9SmilesData", "QM9's 130,831 SMILES (canonical, RDKit) in EDM's split"),
    },
)

# A workflow wires a data domain to its metrics, samples and report (see workflows/base.py).
WORKFLOWS = Registry(
    "workflow",
    {
        "radio": Entry("gensci.workflows.radio:RadioWorkflow", "denoise radio traces"),
        "molecules": Entry("gensci.workflows.molecules:MoleculeWorkflow", "3D molecules"),
        "images": Entry("gensci.workflows.images:ImageWorkflow", "images with class labels"),
        "fields": Entry("gensci.workflows.fields:FieldWorkflow", "scalar fields: spectra, PDFs, Minkowski functionals, peaks"),
        "lattices": Entry("gensci.workflows.lattices:LatticeWorkflow", "spin lattices: thermodynamics per temperature"),
        "sequence_family": Entry("gensci.workflows.sequence_family:SequenceFamilyWorkflow",
                                 "aligned protein families: mutation effects against PWM and Potts baselines"),
        "records": Entry("gensci.workflows.records:RecordsWorkflow", "records with gaps: impute, predict the disease"),
        "smiles": Entry("gensci.workflows.smiles:SmilesWorkflow", "molecules as SMILES strings"),
    },
)


def load_plugins() -> None:
    """Import user extensions named in GENSCI_PLUGINS ("pkg.module" or "pkg.module:function", comma-separated).

    A plug-in registers its own data sets/methods with e.g. `DATASETS.register(name, "pkg.mod:Class", "summary")`.
    """
    import os

    for spec in filter(None, (s.strip() for s in os.environ.get("GENSCI_PLUGINS", "").split(","))):
        module, _, func = spec.partition(":")
        mod = importlib.import_module(module)
        if func:
            getattr(mod, func)()


def preset_names() -> list[str]:
    files = resources.files("gensci.presets").iterdir()
    return sorted(f.name[: -len(".yaml")] for f in files if f.name.endswith(".yaml"))


def preset_text(name: str) -> str:
    if name not in preset_names():
        raise UnknownNameError(f"unknown preset {name!r}; choices: {', '.join(preset_names())}")
    return resources.files("gensci.presets").joinpath(f"{name}.yaml").read_text()
