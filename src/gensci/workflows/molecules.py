"""3D-molecule runs (EDM on QM9): stability/validity during training, sampling to SDF/XYZ, the denoising
chain, the full molecule validation with the test-split NLL, and the report.

Reference figures in the report: Hoogeboom et al., "Equivariant Diffusion for Molecule Generation in 3D"
(ICML 2022), Table 1 (NLL, atom and molecule stability; the "Data" row for QM9 itself) and Table 2
(validity, validity x uniqueness), EDM sampled with 1000 steps.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gensci.config import ExperimentConfig
from gensci.data.base import DataSplits
from gensci.data.molecule_io import Molecule, write_sdf, write_xyz
from gensci.errors import UserError
from gensci.methods.base import Method, SamplingOptions
from gensci.metrics.molecules import check_stability, evaluate_molecules
from gensci.workflows.base import EvalOptions, ReportSection, Run, SampleOptions, Workflow

PERIODIC_STEPS = 100  # strided sampler during training: quick, and a lower bound on the 1000-step quality
NLL_MOLECULES = 1000  # test molecules for the NLL estimate (at most)
PUBLISHED = {  # EDM Table 1 / Table 2 (1000 sampling steps); QM9 data: the "Data" rows
    "nll": {"QM9 data": None, "EDM (paper)": -110.7},
    "atom_stability": {"QM9 data": 0.990, "EDM (paper)": 0.987},
    "molecule_stability": {"QM9 data": 0.952, "EDM (paper)": 0.820},
    "validity": {"QM9 data": 0.977, "EDM (paper)": 0.919},
    "validity_x_uniqueness": {"QM9 data": 0.977, "EDM (paper)": 0.907},
}
HEADLINE = ("atom_stability", "molecule_stability", "validity", "validity_x_uniqueness", "nll")


class MoleculeWorkflow(Workflow):
    domain = "molecules"

    def periodic_eval(self, method: Method, data: DataSplits, config: ExperimentConfig) -> dict[str, float]:
        """Stability and validity of config.eval.periodic_n_samples molecules from a strided sampler of
        PERIODIC_STEPS steps (same seed every time, so the curve shows the model changing, not the noise), and
        for methods with a likelihood the validation NLL (the selection metric for checkpoints/best.pt)."""
        options = periodic_options(method)
        samples = method.sample(config.eval.periodic_n_samples, generator=_generator(method, config.seed),
                                options=options)
        result = evaluate_molecules(to_molecules(samples, data.info["atom_types"]))
        out = {k: result[k] for k in ("atom_stability", "molecule_stability", "validity", "validity_x_uniqueness")}
        if "log_likelihood" in method.capabilities:
            out["val_nll"] = split_nll(method, data.valid, config.eval.periodic_n_samples, config.seed)
        return out

    def selection(self, config: ExperimentConfig) -> tuple[str, str] | None:
        return ("val_nll", "min")

    def evaluate(self, run: Run, options: EvalOptions) -> dict[str, Any]:
        """EDM's molecule validation of n sampled molecules (same keys as metrics.molecules.evaluate_molecules,
        novelty and distributions against QM9 train) plus the test-split NLL and the sampling cost."""
        method, info = run.method(checkpoint=options.checkpoint), run.data.info
        n = options.n or run.config.eval.n_samples
        sampling = options.sampling(run.config.eval)
        start = time.perf_counter()
        samples = method.sample(n, generator=_generator(method, options.seed), options=sampling)
        seconds = time.perf_counter() - start
        molecules = to_molecules(samples, info["atom_types"])
        described = method.describe_sampling(sampling)
        write_sdf(run.samples_dir / evaluation_name(n, described, options.seed, ".sdf"), molecules)
        smiles_ref, stats_ref = _references(info)
        result = evaluate_molecules(molecules, smiles_ref, stats_ref)
        if "log_likelihood" in method.capabilities:
            result["nll"] = split_nll(method, run.data.test, min(NLL_MOLECULES, n), options.seed)
        result |= described | {"n_molecules": n, "seconds_per_molecule": seconds / n, "device": str(method.device),
                               "checkpoint": run.loaded_from}
        return result

    def sample(self, run: Run, options: SampleOptions) -> list[Path]:
        """n molecules as SDF + XYZ, or with options.chain the denoising trajectory as PNG strip + GIF."""
        method = run.method(checkpoint=options.checkpoint)
        generator = _generator(method, options.seed)
        if options.chain:
            return self._chain(run, method, options, generator)
        samples = method.sample(options.n or 100, generator=generator, options=options.sampling())
        molecules = to_molecules(samples, run.info["atom_types"])
        base = _out_base(options.out, run.samples_dir / "samples")
        return [write_sdf(base.with_suffix(".sdf"), molecules), write_xyz(base.with_suffix(".xyz"), molecules)]

    def _chain(self, run: Run, method: Method, options: SampleOptions, generator) -> list[Path]:
        if "chain" not in method.capabilities:
            raise UserError(f"method {run.config.method.name} has no denoising chain to show")
        types = run.info["atom_types"]
        tries = options.max_tries if options.until_stable else 1
        if tries < 1:
            raise UserError(f"--max-tries must be at least 1, got {tries}")
        for attempt in range(1, tries + 1):
            chain = method.chain(100, generator=generator, options=options.sampling())
            frames = to_molecules(chain, types)
            stable = bool(check_stability(frames[-1].positions, frames[-1].atom_types)[0])
            if stable or not options.until_stable:
                break
        base = _out_base(options.out, run.samples_dir / "chain")
        note = f"{'stable' if stable else 'not stable'} after {attempt} chain(s)"
        self.messages.append(f"chain: final molecule {note}" + ("" if stable or not options.until_stable else
                             f"; gave up after --max-tries {tries} (raise it, or train longer)"))
        paths = write_chain(frames, chain["t"].tolist(), base, note)
        return paths + [write_xyz(base.with_suffix(".xyz"), frames)]

    def report(self, run: Run, metrics: dict[str, Any]) -> list[ReportSection]:
        from gensci.viz.molecules import molecule_grid

        figures = run.figures_dir
        method, types = run.method(), run.info["atom_types"]
        steps = metrics.get("sampling_steps") or run.config.eval.sampling_steps
        sampling = SamplingOptions(steps=steps if "steps" in method.sampling_options else None)
        molecules = to_molecules(method.sample(12, generator=_generator(method, 0), options=sampling), types)
        titles = [f"{m.n_atoms} atoms, {'stable' if check_stability(m.positions, m.atom_types)[0] else 'unstable'}"
                  for m in molecules]
        grid = molecule_grid(molecules, figures / "molecules_grid.png", ncols=4, titles=titles)
        chain = method.chain(60, generator=_generator(method, 0), options=sampling)
        strip, gif = write_chain(to_molecules(chain, types), chain["t"].tolist(), figures / "chain", "")
        table = {k: {"this run": metrics.get(k), **PUBLISHED[k]} for k in HEADLINE}
        text = (f"{metrics.get('n_molecules', '?')} molecules sampled with {steps} "
                f"steps ({metrics.get('seconds_per_molecule', float('nan')):.3g} s per molecule on "
                f"{metrics.get('device', 'cpu')}); NLL in nats on {min(NLL_MOLECULES, len(run.data.test))} test "
                "molecules. Published EDM figures use 1000 sampling steps and ~1,100 epochs of training.")
        return [
            ReportSection("Sampled molecules", "Bonds inferred from the 3D geometry with EDM's rules.", figures=[grid]),
            ReportSection("Denoising chain", "One molecule from pure noise (t = 1) to the sample (t = 0).",
                          figures=[strip, gif]),
            ReportSection("Molecule quality", text, table=table, columns=["this run", "QM9 data", "EDM (paper)"]),
        ]

    def headline(self, metrics: dict[str, Any]) -> dict[str, Any]:
        return {k: metrics[k] for k in HEADLINE if k in metrics}


def to_molecules(samples: dict[str, torch.Tensor], atom_types: list[str]) -> list[Molecule]:
    """Padded samples/frames (positions [B, N, 3], atom_types [B, N] indices, node_mask [B, N]) -> Molecules."""
    pos, idx, mask = (samples[k].detach().cpu() for k in ("positions", "atom_types", "node_mask"))
    out = []
    for b in range(len(pos)):
        real = mask[b].bool()
        out.append(Molecule(pos[b][real].double().numpy(), [atom_types[int(i)] for i in idx[b][real]], f"sample {b}"))
    return out


def periodic_options(method: Method) -> SamplingOptions:
    """A strided sampler of at most PERIODIC_STEPS steps, for methods that take a step count."""
    if "steps" not in method.sampling_options:
        return SamplingOptions()
    full = method.describe_sampling(SamplingOptions()).get("sampling_steps") or PERIODIC_STEPS
    return SamplingOptions(steps=min(PERIODIC_STEPS, int(full)))


def split_nll(method: Method, split, n: int, seed: int, batch_size: int = 100) -> float:
    """Mean -log p(x, h, N) (nats) over a seeded random subset of n molecules of a split (all when n >= its
    size). Random, not the first n: the splits are in index order and the first molecules are the smallest
    (QM9 test: mean 15.8 atoms in the first 1,000 against 18.0 overall), which biases the NLL."""
    rows = torch.randperm(len(split), generator=torch.Generator().manual_seed(seed))[:n].sort().values.tolist()
    generator = _generator(method, seed)
    total, count = 0.0, 0
    for start in range(0, len(rows), batch_size):
        batch = split.__getitems__(rows[start : start + batch_size])[0]
        batch = {k: v.to(method.device) for k, v in batch.items()}
        nll = method.log_likelihood(batch, generator=generator)
        total, count = total + float(nll.sum()), count + len(nll)
    return total / max(count, 1)


def evaluation_name(n: int, described: dict, seed: int, suffix: str) -> str:
    """A per-evaluation output name (two evaluations of one run never overwrite each other's samples)."""
    parts = [f"evaluation_n{n}", described.get("sampler"), described.get("sampling_steps") and
             f"steps{described['sampling_steps']}", f"seed{seed}"]
    return "_".join(str(p) for p in parts if p) + suffix


def write_chain(frames: list[Molecule], times: list[float], base: Path, note: str = "") -> list[Path]:
    """A strip of 10 frames (PNG) and the whole trajectory as a GIF (last frame held), each frame with its own
    atom types (the arg-max of its noisy features), as the reference's visualize_chain."""
    from gensci.viz.molecules import figure_to_image, molecule_grid, plot_molecule_3d, write_gif
    import matplotlib.pyplot as plt

    pick = np.linspace(0, len(frames) - 1, min(10, len(frames))).round().astype(int)
    title = [f"t = {times[i]:.2f}" for i in pick]
    if note:
        title[-1] += f" ({note})"
    strip = molecule_grid([frames[i] for i in pick], base.with_suffix(".png"), ncols=len(pick), titles=title)
    half = max(float(np.abs(f.positions).max()) for f in frames) + 0.6
    images = []
    for frame, t in zip(frames, times):
        fig = plt.figure(figsize=(3, 3))
        ax = fig.add_subplot(projection="3d")
        plot_molecule_3d(ax, frame.positions, frame.atom_types, title=f"t = {t:.2f}", limits=half)
        images.append(figure_to_image(fig))
    return [strip, write_gif(images + images[-1:] * 10, base.with_suffix(".gif"), fps=10)]


def _references(info: dict[str, Any]):
    """QM9 training SMILES (novelty) and distributions, when the run is on QM9."""
    if info.get("dataset") != "qm9":
        return None, None
    from gensci.workflows.molecule_files import qm9_reference_smiles, qm9_reference_stats

    remove_h = bool(info.get("remove_h", False))
    return qm9_reference_smiles(remove_h), qm9_reference_stats(remove_h)


def _generator(method: Method, seed: int) -> torch.Generator:
    return torch.Generator(device=method.device).manual_seed(seed)


def _out_base(out: Path | None, default: Path) -> Path:
    if out is None:
        return default
    out = Path(out)
    return out / default.name if out.is_dir() or not out.suffix else out.with_suffix("")
