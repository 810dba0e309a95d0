"""Molecule runs (EDM on QM9; models that predict bonds and charges; 2D graph models): quality during
training, sampling to SDF/XYZ, the denoising chain, the full validation under both stability protocols
with the test-split NLL, and the report.

What is measured follows what the method's samples hold (its `sample_spec` keys, never its name):
positions -> EDM's protocol (bonds from distances) and bond-length/angle distributions; bonds (+ formal
charges) -> the predicted-bond protocol (gensci.metrics.bond_protocol); no positions -> a 2D model: RDKit 2D
depictions, SDF conformers from RDKit's ETKDG (gensci.metrics.molecule_protocols).

Reference figures in the report: Hoogeboom et al., "Equivariant Diffusion for Molecule Generation in 3D"
(ICML 2022), Table 1 (NLL, atom and molecule stability; the "Data" row for QM9 itself) and Table 2
(validity, validity x uniqueness), EDM sampled with 1000 steps; Vignac et al., "MiDi: Mixed Graph and 3D
Denoising Diffusion for Molecule Generation" (ECML 2023), Table 2 (QM9 with H: the "Data" row and MiDi
with the adaptive noise schedule), the predicted-bond protocol.
"""

from __future__ import annotations

import html
import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gensci.chem.distance_bonds import check_stability
from gensci.chem.molecule import Molecule, molecules_from_padded
from gensci.chem.valences import molecule_stability
from gensci.config import ExperimentConfig
from gensci.data.base import DataSplits
from gensci.data.molecule_io import write_sdf, write_smiles, write_xyz
from gensci.errors import UserError
from gensci.methods.base import Method
from gensci.methods.molecule_conditions import N_ATOMS, ConditionRangeWarning, MoleculeConditions
from gensci.metrics.bond_protocol import MIDI_QM9_DATA
from gensci.metrics.chemistry import FRACTIONS, FUNCTIONAL_GROUPS
from gensci.metrics.distributions import molecule_stats
from gensci.metrics.molecule_protocols import Carried, evaluate_protocols
from gensci.metrics.molecules import EDM_QM9_DATA
from gensci.errors import OutcomeError
from gensci.workflows.base import (EvalOptions, Headline, ReportSection, Run, SampleOptions, Verdict, Workflow,
                                   eval_sampling, evaluation_name, periodic_sampling)
from gensci.workflows.molecule_references import qm9_data_figures
from gensci.workflows.molecule_samples import carried_by, condition_fields, save_padded
from gensci.workflows.verdicts import measured

NLL_MOLECULES = 1000  # test molecules for the NLL estimate (at most)
# QM9's training split measured by the metric code itself (qm9 for EDM's protocol; qm9-bonds for the predicted-bond
# one: 100 %, since our bonds come from the SMILES), stored with the shipped references with its sample size
GENSCI_QM9_DATA = qm9_data_figures()
MODELS = {  # EDM Tables 1-2 (1000 sampling steps); MiDi Table 2, QM9 with H, MiDi with the adaptive schedule
    "nll": -110.7, "atom_stability": 0.987, "molecule_stability": 0.820, "validity": 0.919,
    "validity_x_uniqueness": 0.907, "atom_stability_graph": 0.998, "molecule_stability_graph": 0.975,
    "validity_graph": 0.979, "uniqueness_graph": 0.976,
}
PUBLISHED = {k: {"data (paper)": {**EDM_QM9_DATA, **MIDI_QM9_DATA}.get(k),
                 "model (paper)": model, "data (gensci)": GENSCI_QM9_DATA.get(k)} for k, model in MODELS.items()}
QUALITY = ("atom_stability", "molecule_stability", "validity", "validity_x_uniqueness",
           "atom_stability_graph", "molecule_stability_graph", "validity_graph", "validity_x_uniqueness_graph")
HEADLINE = QUALITY + ("nll",)
QM9_DATASETS = ("qm9", "qm9-bonds", "qm9-graph")
QM9_WITH_H = "qm9 train (with H)"  # the reference name of QM9 with hydrogens (molecule_references.qm9_reference)
DISTRIBUTIONS = ("atom_type_tv", "n_atoms_tv", "bond_length_w1", "bond_angle_w1")
NOTES = {"atom_stability": "atoms with the valence their element allows (bonds from distances, EDM)",
         "molecule_stability": "molecules whose atoms are all stable (bonds from distances, EDM)",
         "validity": "RDKit sanitises it (bonds from distances, no charges: EDM)",
         "validity_x_uniqueness": "validity x the distinct share of the valid",
         "atom_stability_graph": "atoms with an allowed valence under the model's own bonds and charges",
         "molecule_stability_graph": "molecules whose atoms are all stable under their own bonds and charges",
         "validity_graph": "RDKit sanitises the molecule built from its own bonds and charges",
         "validity_x_uniqueness_graph": "validity x the distinct share of the valid (own bonds)",
         "nll": "nats per molecule; lower is better",
         "atom_type_tv": "total variation of element shares from the reference's; 0 = the same",
         "n_atoms_tv": "total variation of molecule sizes from the reference's; 0 = the same",
         "bond_length_w1": "W1 of bond lengths per kind (Å), weighted by the reference's kind counts; 0 = the same",
         "bond_angle_w1": "W1 of bond angles per kind (degrees), weighted likewise; 0 = the same"}
# gensci.metrics.chemistry: RDKit on the largest fragment of the valid molecules (n = chemistry_n), except the two
# stabilities (all molecules); beside each, QM9's training split by the same code (heavy_atoms_tv and fcd_qm9: a
# random 1,000 of it, the floor at that sample size)
STRICT = ("molecule_stability_strict", "stable_and_connected")
CHEMISTRY = ("heavy_atoms_tv", "fcd_qm9", *STRICT, *FRACTIONS)
NOTES |= {"heavy_atoms_tv": "total variation of heavy-atom counts from QM9 train's; 0 = the same",
          "fcd_qm9": "Fréchet ChemNet Distance to QM9's test split; lower is better, grows as n shrinks",
          "molecule_stability_strict": "every atom at its normal valence for its charge (no H implied; own bonds)",
          "stable_and_connected": "stable under MiDi's table (own bonds) and in one piece",
          "ring7plus_fraction": "molecules with a ring of 7 or more atoms",
          "aromatic_fraction": "molecules with an aromatic atom (RDKit's perception)",
          "triple_bond_fraction": "molecules with a triple bond",
          "charged_fraction": "molecules with a formally charged atom"}
NOTES |= {f"ring{k}_fraction": f"molecules with at least one {k}-membered ring" for k in (3, 4, 5, 6)}
NOTES |= {f"group_{g}_fraction": f"molecules with {smarts} ({source})" for g, (smarts, source) in FUNCTIONAL_GROUPS.items()}
REPORT_MOLECULES = 64  # molecules drawn for the report when the evaluation's own are not kept


class MoleculeWorkflow(Workflow):
    domain = "molecules"

    def periodic_eval(self, method: Method, data: DataSplits, config: ExperimentConfig) -> dict[str, float]:
        """Stability and validity (every protocol that applies) of config.eval.periodic_n_samples molecules from
        the run's sampling (periodic_sampling: as evaluate, at most eval.periodic_sampling_steps steps, e.g. a
        strided sampler of 100 steps for EDM's 1000; same seed every time, so the curve shows the model changing,
        not the noise), and for methods with a likelihood the validation NLL (the selection metric for
        checkpoints/best.pt)."""
        options = periodic_sampling(method, config.eval)
        samples = method.sample(config.eval.periodic_n_samples, generator=_generator(method, config.seed),
                                options=options)
        carried = carried_by(method, data.info)
        result = evaluate_protocols(molecules_from_padded(samples, data.info["atom_types"]), carried=carried,
                                    chemistry=False)  # only QUALITY is logged
        out = {k: result[k] for k in QUALITY if k in result}
        if "log_likelihood" in method.capabilities:
            out["val_nll"] = split_nll(method, data.valid, config.eval.periodic_n_samples, config.seed)
        return out

    def selection(self, config: ExperimentConfig) -> tuple[str, str] | None:
        return ("val_nll", "min")

    def evaluate(self, run: Run, options: EvalOptions) -> dict[str, Any]:
        """n sampled molecules under every protocol that applies (gensci.metrics.molecule_protocols; novelty,
        distributions and chemistry against QM9 train for the QM9 data sets: gensci.metrics.chemistry), the
        test-split NLL and the sampling cost."""
        method, info = run.method(checkpoint=options.checkpoint), run.info  # not run.data: loading QM9 takes minutes
        n = options.n or run.config.eval.n_samples
        sampling = options.sampling(run.config.eval)
        start = time.perf_counter()
        samples = method.sample(n, generator=_generator(method, options.seed), options=sampling)
        seconds = time.perf_counter() - start
        molecules = molecules_from_padded(samples, info["atom_types"])
        described = method.describe_sampling(sampling)
        name = evaluation_name(n, described, options.seed, "", run.checkpoint_path(options.checkpoint).stem)
        files = [write_sdf(run.samples_dir / f"{name}.sdf", molecules, seed=options.seed),
                 save_padded(run.samples_dir / f"{name}.npz", samples)]  # what the report's distributions draw
        if all(m.positions is None for m in molecules):  # 2D graphs: their SMILES too
            files.append(write_smiles(run.samples_dir / f"{name}.smi", molecules))
        carried = carried_by(method, info)
        result = evaluate_protocols(molecules, _reference(info, carried), carried)
        if "log_likelihood" in method.capabilities:
            result["nll"] = split_nll(method, run.data.test, min(NLL_MOLECULES, n), options.seed)
        result |= described | {"n_molecules": n, "seconds_per_molecule": seconds / n, "device": str(method.device),
                               "checkpoint": run.loaded_from, "sample_files": [str(f) for f in files]}
        return result

    def evaluate_conditional(self, run: Run, options: EvalOptions, conditional) -> dict[str, Any]:
        """EDM's conditional protocol and the xTB check (gensci.workflows.conditional)."""
        from gensci.workflows.conditional import evaluate_conditional

        return evaluate_conditional(run, options, conditional)

    def sample(self, run: Run, options: SampleOptions) -> list[Path]:
        """n molecules as SDF (+ XYZ when they have positions, + SMILES when they are 2D graphs), or with
        options.chain the denoising trajectory as PNG strip + GIF."""
        method = run.method(checkpoint=options.checkpoint)
        generator = _generator(method, options.seed)
        if options.chain:
            if options.condition:
                raise UserError("--chain draws one molecule without conditions; --condition does not apply to it")
            return self._chain(run, method, options, generator)
        condition = sample_condition(options)
        if condition is not None and not isinstance(getattr(method, "conditions", None), MoleculeConditions):
            raise UserError(f"method {run.config.method.name} samples without --condition or --atoms")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConditionRangeWarning)
            samples = method.sample(options.n or 100, condition=condition, generator=generator,
                                    options=options.sampling())
        for w in caught:  # a value outside the training range: one line, and the samples anyway
            if issubclass(w.category, ConditionRangeWarning):
                self.messages.append(f"warning: {w.message}")
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        molecules = molecules_from_padded(samples, run.info["atom_types"])
        base = _out_base(options.out, run, "samples")
        paths = [write_sdf(base.with_suffix(".sdf"), molecules, seed=options.seed,
                           fields=condition_fields(method, samples))]
        if all(m.positions is not None for m in molecules):
            return paths + [write_xyz(base.with_suffix(".xyz"), molecules)]
        self.messages.append("2D samples: SMILES (one per line, marked valid/invalid) and an SDF of RDKit ETKDG "
                             "conformers (molecules RDKit rejects get a flat 2D layout); no XYZ file")
        return paths + [write_smiles(base.with_suffix(".smi"), molecules)]

    def _chain(self, run: Run, method: Method, options: SampleOptions, generator) -> list[Path]:
        from gensci.viz.molecules import chain_pictures

        if "chain" not in method.capabilities:
            raise UserError(f"method {run.config.method.name} has no denoising chain to show")
        tries = options.max_tries if options.until_stable else 1
        if tries < 1:
            raise UserError(f"--max-tries must be at least 1, got {tries}")
        size = {} if options.atoms is None else {"n_atoms": _atom_count(options.atoms, method)}
        for attempt in range(1, tries + 1):
            chain = method.chain(100, generator=generator, options=options.sampling(), **size)
            frames = molecules_from_padded(chain, run.info["atom_types"], "frame")
            stable = is_stable(frames[-1])
            if stable or not options.until_stable:
                break
        base = _out_base(options.out, run, "chain")
        note = f"{'stable' if stable else 'not stable'} after {attempt} chain(s)"
        paths = chain_pictures(frames, chain["t"].tolist(), base, note)
        if all(f.positions is not None for f in frames):
            paths.append(write_xyz(base.with_suffix(".xyz"), frames))
        if options.until_stable and not stable:  # the outcome asked for did not happen: a failure, files kept
            raise OutcomeError(f"chain: final molecule {note}; gave up after --max-tries {tries} (raise it, or "
                               "train longer); the last chain is kept", paths)
        self.messages.append(f"chain: final molecule {note}")
        return paths

    def report(self, run: Run, metrics: dict[str, Any]) -> list[ReportSection]:
        from gensci.viz.molecules import chain_pictures, molecule_grid

        figures = run.figures_dir
        method, info = run.method(), run.info
        carried = carried_by(method, info)
        sampling = eval_sampling(run.config.eval)  # as evaluate samples; with the step count of the evaluation shown
        if "steps" in method.sampling_options and metrics.get("sampling_steps"):
            sampling = replace(sampling, steps=int(metrics["sampling_steps"]))
        molecules = evaluated_molecules(metrics, info)
        if molecules is None:  # no kept evaluation samples (an older evaluation.json): a fresh batch
            samples = method.sample(REPORT_MOLECULES, generator=_generator(method, 0), options=sampling)
            molecules = molecules_from_padded(samples, info["atom_types"])
        shown = molecules[:12]
        titles = [f"{m.n_atoms} atoms, {'stable' if is_stable(m) else 'unstable'}" for m in shown]
        grid = molecule_grid(shown, figures / "molecules_grid.png", ncols=4, titles=titles,
                             mode="3d" if carried.positions else "2d")
        bonds = ("The model's own bonds." if carried.bonds else "Bonds inferred from the 3D geometry with EDM's rules.")
        sections = [ReportSection("Sampled molecules", bonds + ("" if carried.positions else " RDKit 2D depictions."),
                                  figures=[grid])]
        if "chain" in method.capabilities:
            chain = method.chain(60, generator=_generator(method, 0), options=sampling)
            frames = molecules_from_padded(chain, info["atom_types"], "frame")
            pictures = chain_pictures(frames, chain["t"].tolist(), figures / "chain")
            sections.append(ReportSection("Denoising chain", "One molecule from pure noise (t = 1) to the sample "
                                          "(t = 0).", figures=pictures))
        reference = _reference(info, carried)
        from gensci.workflows.conditional import conditional_sections

        return (sections + distribution_sections(molecules, reference, carried, figures)
                + chemistry_sections(metrics, reference, figures) + conditional_sections(run))

    def headline(self, metrics: dict[str, Any]) -> dict[str, Any]:
        return {k: metrics[k] for k in HEADLINE if k in metrics}

    def headlines(self, metrics: dict[str, Any]) -> list[Headline]:
        """Stability and validity (Wilson intervals over the atoms or molecules), the NLL, and the distribution
        distances; beside them QM9 as gensci measures it and as the papers report it, and the papers' models
        (only for runs measured against QM9 with hydrogens, which is what those tables are about)."""
        qm9 = metrics.get("reference") == QM9_WITH_H
        rows = []
        for key in (*HEADLINE, *DISTRIBUTIONS):
            n = metrics.get("n_atoms") if key.startswith("atom_stability") else metrics.get("n_molecules")
            paper = PUBLISHED.get(key, {}) if qm9 else {}
            source = ("MiDi Table 2" if key.endswith("_graph") else "EDM Tables 1-2") if paper else ""
            row = measured(metrics, key, n=None if key == "nll" else n, proportion=key in QUALITY,
                           data=paper.get("data (gensci)"), data_paper=paper.get("data (paper)"),
                           published=paper.get("model (paper)"), source=source, note=NOTES.get(key, ""))
            if row is not None:
                rows.append(row)
        return rows + self._chemistry_rows(metrics)

    def _chemistry_rows(self, metrics: dict[str, Any]) -> list[Headline]:
        """The chemistry figures (gensci.metrics.chemistry) beside QM9's, for runs measured against QM9."""
        qm9 = str(metrics.get("reference") or "").startswith("qm9 train")
        rows = []
        for key in CHEMISTRY:
            n = metrics.get("n_molecules") if key in STRICT else metrics.get("chemistry_n")
            row = measured(metrics, key, n=n, proportion=key not in ("heavy_atoms_tv", "fcd_qm9"),
                           data=GENSCI_QM9_DATA.get(key) if qm9 else None, note=NOTES.get(key, ""))
            if row is not None:
                rows.append(row)
        return rows

    def verdicts(self, metrics: dict[str, Any]) -> list[Verdict]:
        """Against the papers (default), and the common bond and angle kinds of the reference the samples lack."""
        out = super().verdicts(metrics)
        for part in ("bond_length", "bond_angle"):
            missing = metrics.get(f"{part}_kinds_missing")
            if isinstance(missing, list):
                kinds = part.replace("_", " ") + " kinds"
                out.append(Verdict(f"{part}_kinds", f"{len(missing)} common {kinds} missing", not missing,
                                   (f"the samples have none of {', '.join(missing)}" if missing else
                                    f"every {kinds[:-1]} making up at least 0.5 % of the reference's is present")
                                   + f" (reference: {metrics.get('reference')})"))
        chemistry = self._chemistry_verdict(metrics)
        return out + ([chemistry] if chemistry is not None else [])

    def _chemistry_verdict(self, metrics: dict[str, Any]) -> Verdict | None:
        """Whether QM9's chemistry fractions lie inside the samples' 95 % intervals; the largest gaps in words."""
        rows = [h for h in self._chemistry_rows(metrics)
                if h.name not in ("heavy_atoms_tv", "fcd_qm9") and h.interval is not None and h.data is not None]
        if not rows:
            return None
        off = sorted((h for h in rows if not h.interval[0] <= h.data <= h.interval[1]),
                     key=lambda h: -abs(h.value - h.data))
        shown = "; ".join(f"{h.name} {100 * h.value:.1f} % against QM9's {100 * h.data:.1f} %" for h in off[:5])
        if not off:
            return Verdict("chemistry", "matches QM9's chemistry", True, f"QM9's figure lies inside the samples' 95 % "
                           f"interval for all {len(rows)} chemistry fractions")
        return Verdict("chemistry", f"{len(off)} of {len(rows)} chemistry figures differ from QM9's", False,
                       f"QM9's figure lies outside the samples' 95 % interval (Wilson, n as in the table); the "
                       f"largest gaps: {shown}")

    def verdict_text(self, metrics: dict[str, Any]) -> str:
        steps = metrics.get("sampling_steps")
        text = (f"{metrics.get('n_molecules', '?')} molecules sampled"
                + (f" with {steps} steps" if steps else "") + f" ({metrics.get('seconds_per_molecule', float('nan')):.3g}"
                f" s per molecule on {metrics.get('device', 'cpu')}); protocols: "
                f"{', '.join(metrics.get('protocols', []))}; reference: {metrics.get('reference') or 'none'}. "
                "Rows without '_graph': EDM's protocol (bonds from distances); published figures from EDM Tables 1-2 "
                "(1000 sampling steps, ~1,100 epochs). Rows with '_graph': the predicted-bond protocol (the model's "
                "own bonds and charges); published figures from MiDi Table 2 (QM9 with H; MiDi, adaptive schedule). "
                "'data': QM9's training split measured by gensci (qm9 for EDM's protocol, qm9-bonds for the "
                "predicted-bond one: 100 %, not MiDi's 98.7 %, since our bonds come from the SMILES).")
        if "nll" in metrics:
            text += f" NLL in nats on min({NLL_MOLECULES}, n) random test molecules; no interval."
        if "chemistry_n" in metrics:
            text += (f" Chemistry rows (heavy atoms, rings, aromatic, triple bonds, charges, functional groups, FCD): "
                     f"RDKit on the largest fragment of the {metrics['chemistry_n']} valid molecules "
                     f"(bonds: {metrics.get('chemistry_bonds', 'own')}); strict stability and stable_and_connected "
                     "over all molecules; 'data': QM9's training split by the same code (heavy_atoms_tv and fcd_qm9: "
                     "a random 1,000 of it).")
        return text


def sample_condition(options: SampleOptions) -> dict[str, Any] | None:
    """The condition `gensci sample` passes to a molecule method: --condition values and --atoms (None: neither)."""
    condition = dict(options.condition or {})
    if options.atoms is not None:
        condition[N_ATOMS] = options.atoms
    return condition or None


def _atom_count(n: int, method: Method) -> int:
    limit = int(method.info.get("max_n_atoms", n))
    if not 1 <= n <= limit:
        raise UserError(f"--atoms must be in 1..{limit}, got {n}")
    return n


def is_stable(m: Molecule) -> bool:
    """Stable under the predicted-bond protocol when the molecule has bonds, else under EDM's."""
    if m.bonds is not None:
        return molecule_stability(m.atom_types, m.formal_charges, m.bonds)[0]
    return check_stability(m.positions, m.atom_types)[0]


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


def evaluated_molecules(metrics: dict[str, Any], info: dict[str, Any]) -> list[Molecule] | None:
    """The molecules an evaluation measured (its npz among metrics["sample_files"]), or None when it kept none."""
    for name in metrics.get("sample_files") or []:
        if str(name).endswith(".npz") and Path(name).is_file():
            with np.load(name, allow_pickle=False) as f:
                return molecules_from_padded({k: f[k] for k in f.files}, info["atom_types"], "evaluated")
    return None


def distribution_sections(molecules: list[Molecule], reference, carried: Carried, figures: Path) -> list[ReportSection]:
    """Element shares, sizes and (with positions) bond lengths and angles of the common kinds against the
    reference's, measured as evaluate measures them: own bonds against the reference's own (perceived) ones when
    the model predicts bonds and the reference has them, else EDM's bonds inferred from distances on both sides."""
    from gensci.viz.distributions import plot_composition, plot_geometry

    own = carried.bonds and reference is not None and reference.stats_own is not None
    ref = None if reference is None else (reference.stats_own if own else reference.stats_inferred)
    if not own:
        molecules = [Molecule(m.positions, m.atom_types, m.name, None, m.formal_charges) for m in molecules]
    stats = molecule_stats(molecules)
    labels = ("generated", reference.name if reference is not None and reference.name else "reference")
    paths = [plot_composition(stats, figures / "molecule_composition.png", ref, labels)]
    if carried.positions:
        paths.append(plot_geometry(stats, figures / "bond_geometry.png", ref, labels))
    bonds = "their own bonds" if own else "bonds inferred from distances (EDM's rules)"
    text = (f"The {len(molecules)} evaluated molecules" + (f" against {html.escape(labels[1])}" if ref else "")
            + ": element shares and molecule sizes" + (f"; bond lengths and angles of the four most common kinds, "
                                                       f"with {bonds}" if carried.positions else "")
            + ". atom_type_tv, n_atoms_tv and the W1 distances of the verdict measure these differences.")
    return [ReportSection("Distributions against the reference", text, paths)]


def chemistry_sections(metrics: dict[str, Any], reference, figures: Path) -> list[ReportSection]:
    """Heavy-atom counts, ring sizes, aromatic / triple-bond / charged shares and functional groups of the evaluated
    molecules (the evaluation's own figures) beside QM9's training split, when the evaluation measured them."""
    from gensci.viz.distributions import plot_chemistry

    if "chemistry_n" not in metrics:
        return []
    qm9 = reference is not None and str(reference.name).startswith("qm9 train")
    data = GENSCI_QM9_DATA if qm9 and "chemistry_n" in GENSCI_QM9_DATA else None
    path = plot_chemistry(metrics, figures / "molecule_chemistry.png", data, ("generated", "QM9 train"))
    text = (f"RDKit on the largest fragment of the {metrics['chemistry_n']} valid molecules"
            + (f" against QM9's training split ({data['chemistry_n']:,} molecules, the same code)" if data else "")
            + ": heavy atoms per molecule, and the share of molecules with a ring of each size, aromatic atoms, a "
              "triple bond, a charge and each functional group. heavy_atoms_tv and the *_fraction rows of the "
              "verdict are these numbers.")
    return [ReportSection("Chemistry against QM9" if data else "Chemistry of the molecules", text, [path])]


def _reference(info: dict[str, Any], carried: Carried):
    """QM9's training split (novelty, distributions) when the run is on a QM9 data set, else None."""
    if info.get("dataset") not in QM9_DATASETS:
        return None
    from gensci.workflows.molecule_references import qm9_reference

    return qm9_reference(bool(info.get("remove_h", False)), carried)


def _generator(method: Method, seed: int) -> torch.Generator:
    return torch.Generator(device=method.device).manual_seed(seed)


def _out_base(out: Path | None, run: Run, stem: str) -> Path:
    """Where sample files go, without suffix: `out` (a file, or a folder to hold STEM.*), else RUN/samples/STEM.
    run.samples_dir is touched only without `out`: it creates the folder."""
    if out is None:
        return run.samples_dir / stem
    out = Path(out)
    return out / stem if out.is_dir() or not out.suffix else out.with_suffix("")
