"""Molecules as SMILES strings: sample, latent optimisation, prototype variations, the MOSES metrics.

- samples are written one SMILES per line (`.smi`);
- `evaluate` samples a run and measures the MOSES metrics (gensci.metrics.smiles) against the data set's test split
  (MOSES' own precomputed test statistics for the full `moses` test set), novelty against its training molecules;
- `evaluate_smiles_file` does the same for a user's `.smi` file (one SMILES per line, first field; blank lines are
  not molecules, unparsable lines count as invalid) against the MOSES test set, or `--reference FILE.smi`.
Reference statistics and canonical training sets are cached (npz, no pickles) under the gensci cache directory.
"""

from __future__ import annotations

import hashlib
import html
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gensci.chem.properties import canonical_smiles, mol_from_smiles
from gensci.chem.smiles import Vocabulary
from gensci.config import ExperimentConfig
from gensci.data.base import DataSplits, default_cache_dir
from gensci.data.smiles import MOSES_INSTALL, moses_filter_smarts, moses_reference_statistics
from gensci.errors import InputFileError, UserError
from gensci.files import atomic_write
from gensci.methods.base import Method, SamplingOptions
from gensci.metrics.smiles import ReferenceStats, canonical_set, reference_statistics, smiles_metrics
from gensci.workflows.base import (EvalOptions, Headline, ReportSection, Run, SampleOptions, Workflow, eval_sampling,
                                   periodic_sampling)
from gensci.workflows.verdicts import measured

DEFAULT_SAMPLES = 1000
MOSES_TEST = "MOSES test set (MOSES' precomputed statistics)"
VERDICT_KEYS = ("validity", "unique_at_1000", "unique_at_10000", "novelty", "fcd", "snn", "frag", "scaf", "int_div",
                "filters")
# Polykovskiy et al. 2020 (MOSES), the README's test-set table: its VAE and, for FCD, the training set itself
# (checked against /work/shared/notes; the other columns of that table are not quoted here)
MOSES_VAE = {"validity": 0.977, "unique_at_10000": 0.998, "fcd": 0.099, "snn": 0.626, "int_div": 0.856,
             "novelty": 0.695}
MOSES_TRAIN = {"fcd": 0.008}
NOTES = {"fcd": "Fréchet ChemNet distance to the test set; lower is better", "snn": "mean nearest-neighbour "
         "Tanimoto similarity to the test set", "int_div": "internal diversity (1 - mean pairwise Tanimoto)",
         "frag": "cosine similarity of BRICS fragment counts", "scaf": "cosine similarity of Bemis-Murcko scaffolds",
         "filters": "share passing MOSES' MCF and PAINS filters"}


class SmilesWorkflow(Workflow):
    domain = "smiles"

    def periodic_eval(self, method: Method, data: DataSplits, config: ExperimentConfig) -> dict[str, float]:
        """Validity and uniqueness of a few prior samples (seconds)."""
        smiles = draw_smiles(method, data.info, config.eval.periodic_n_samples, seed=0,
                             options=periodic_sampling(method, config.eval))
        valid = [c for c in map(canonical_smiles, smiles) if c is not None]
        return {"validity": len(valid) / len(smiles), "uniqueness": len(set(valid)) / max(len(valid), 1)}

    def sample(self, run: Run, options: SampleOptions) -> list[Path]:
        method = run.method(checkpoint=options.checkpoint)
        n = options.n or DEFAULT_SAMPLES
        if options.prototype:
            from gensci.workflows.smiles_latent import prototype_variations

            rows = prototype_variations(method, run.info, options.prototype, n, options.seed)
            return [_write_table(_out_path(options.out, run, "prototype_variations.csv"), rows)]
        if options.optimize:
            from gensci.workflows.smiles_latent import bayesian_optimize, optimize_molecules

            if options.search not in ("gradient", "bo"):
                raise UserError(f"--search {options.search!r}: expected gradient or bo")
            search = optimize_molecules if options.search == "gradient" else bayesian_optimize
            rows, summary = search(method, run.info, options.optimize, n, options.seed)
            self.messages.append(summary)
            name = "optimized" if options.search == "gradient" else "bo"
            return [_write_table(_out_path(options.out, run, f"{name}_{options.optimize}.csv"), rows)]
        smiles = draw_smiles(method, run.info, n, options.seed, options.sampling())
        path = _out_path(options.out, run, "samples.smi")
        atomic_write(path, "".join(s + "\n" for s in smiles))
        valid = sum(mol_from_smiles(s) is not None for s in smiles)
        self.messages.append(f"{valid} of {n} SMILES are valid molecules")
        return [path]

    def evaluate(self, run: Run, options: EvalOptions) -> dict[str, Any]:
        start = time.perf_counter()
        method = run.method(checkpoint=options.checkpoint)
        sampling = options.sampling(run.config.eval)
        n = options.n or run.config.eval.n_samples
        smiles = draw_smiles(method, run.info, n, options.seed, sampling)
        data_config = run.config.data
        result = measure(smiles, data_reference(data_config), data_train_set(data_config))
        return result | method.describe_sampling(sampling) | {"seconds": round(time.perf_counter() - start, 2),
                                                               "reference": reference_name(data_config)}

    def report(self, run: Run, metrics: dict[str, Any]) -> list[ReportSection]:
        """Drawings of 16 samples, and a latent interpolation between the first two test molecules."""
        from gensci.registry import DATASETS
        from gensci.viz.smiles import draw_smiles_grid
        from gensci.workflows.smiles_latent import interpolate_smiles

        method = run.method()
        smiles = draw_smiles(method, run.info, 16, seed=0, options=eval_sampling(run.config.eval))
        grid = draw_smiles_grid(smiles, run.figures_dir / "samples.png", title="16 prior samples (seed 0)")
        sections = [ReportSection("Samples", "Decoded from z ~ N(0, I) with the run's default sampler.", [grid])]
        a, b = DATASETS.get(run.config.data.name).reference_smiles(run.config.data, "test")[:2]
        try:
            frames = interpolate_smiles(method, run.info, a, b)
        except UserError as err:
            return sections + [ReportSection("Latent interpolation", f"not drawn: {err}")]
        strip = draw_smiles_grid([a, *frames, b], run.figures_dir / "interpolation.png", per_row=10,
                                 title="test molecule A, 8 greedy decodes from mu(A) to mu(B), test molecule B")
        return sections + [ReportSection("Latent interpolation", "Straight line between two posterior means.", [strip])]

    def headline(self, metrics: dict[str, Any]) -> dict[str, Any]:
        keys = ("validity", "unique_at_1000", "novelty", "int_div", "fcd", "snn")
        return {k: metrics[k] for k in keys if k in metrics}

    def headlines(self, metrics: dict[str, Any]) -> list[Headline]:
        """The MOSES metrics with Wilson intervals for the fractions (validity over the generated strings,
        uniqueness over the first k valid, novelty over the distinct valid, filters over the valid), and the MOSES
        paper's VAE beside them when the run is measured against MOSES' own test set."""
        moses = metrics.get("reference") == MOSES_TEST
        sizes = {"validity": metrics.get("n_generated"), "unique_at_1000": metrics.get("unique_at_1000_n"),
                 "unique_at_10000": metrics.get("unique_at_10000_n"), "novelty": metrics.get("n_distinct"),
                 "filters": metrics.get("n_valid")}
        rows = [measured(metrics, k, n=sizes.get(k, metrics.get("n_valid")), proportion=k in sizes,
                         published=MOSES_VAE.get(k) if moses else None, data_paper=MOSES_TRAIN.get(k) if moses else None,
                         source="MOSES paper, VAE (test set)" if moses and k in MOSES_VAE else "", note=NOTES.get(k, ""))
                for k in VERDICT_KEYS]
        return [r for r in rows if r is not None]

    def verdict_text(self, metrics: dict[str, Any]) -> str:
        notes = "; ".join(metrics.get("notes") or [])
        return (f"{metrics.get('n_generated', '?')} SMILES ({metrics.get('n_valid', '?')} valid) against "
                f"{html.escape(str(metrics.get('reference') or 'the test split'))}; novelty against the training "
                "molecules. FCD, SNN, Frag, Scaf, IntDiv: no interval (they need the whole set; see benchmarks for "
                "their spread over independent draws)." + (f" {html.escape(notes)}." if notes else ""))


def reference_name(config) -> str:
    """What `data_reference` compares with, in words (MOSES_TEST for the full MOSES test set)."""
    return MOSES_TEST if config.name == "moses" and config.limit_eval is None else f"{config.name} test split"


def _out_path(out: Path | None, run: Run, name: str) -> Path:
    """--out as given (a file), or NAME inside it when it is a folder or has no suffix; else RUN/samples/NAME."""
    if out is None:
        return run.samples_dir / name
    out = Path(out)
    return out / name if out.is_dir() or not out.suffix else out


def draw_smiles(method: Method, info: dict[str, Any], n: int, seed: int, options: SamplingOptions) -> list[str]:
    """n SMILES decoded from the method's samples (token ids -> strings with the data's vocabulary)."""
    generator = torch.Generator().manual_seed(seed)
    tokens = method.sample(n, generator=generator, options=options)["tokens"]
    vocab = Vocabulary(tuple(info["vocabulary"]))
    return [vocab.decode(row) for row in tokens.tolist()]


def measure(smiles: list[str], reference: ReferenceStats, train: set[str] | None) -> dict[str, Any]:
    """smiles_metrics with MOSES' filters when molsets is installed (else say why not); NaN -> None (JSON)."""
    notes = []
    try:
        smarts = moses_filter_smarts()
    except UserError:
        smarts = None
        notes.append(f"filters not measured: MOSES' MCF/PAINS SMARTS come with molsets ({MOSES_INSTALL})")
    result = smiles_metrics(smiles, reference, train, filter_smarts=smarts)
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in result.items()} | {"notes": notes}


def data_reference(config) -> ReferenceStats:
    """Reference statistics of the configured SMILES data set's test split: MOSES' own precomputed ones for the full
    MOSES test set, else computed from the split (cached)."""
    if config.name == "moses" and config.limit_eval is None:
        return ReferenceStats(**moses_reference_statistics("test"))
    from gensci.registry import DATASETS

    return cached_reference(DATASETS.get(config.name).reference_smiles(config, "test"))


def data_train_set(config) -> set[str]:
    """Canonical SMILES of the data set's training molecules (MOSES: its whole training file, valid split included)."""
    from gensci.registry import DATASETS

    data = DATASETS.get(config.name)
    smiles = data.raw_splits(config)["train"] + (data.raw_splits(config)["valid"] if config.name == "moses" else [])
    return cached_canonical_set(smiles)


def cached_reference(smiles: list[str]) -> ReferenceStats:
    path = _cache_path("reference_v1", smiles)
    if path.exists():
        with np.load(path, allow_pickle=False) as f:
            return ReferenceStats.from_arrays({k: f[k] for k in f.files})
    stats = reference_statistics(smiles)
    atomic_write(path, lambda tmp: np.savez_compressed(tmp, **stats.as_arrays()))
    return stats


def cached_canonical_set(smiles: list[str]) -> set[str]:
    """RDKit canonical forms (this RDKit version) of valid SMILES, as a set; cached by the list's content."""
    path = _cache_path("canonical_v1", smiles)
    if path.exists():
        with np.load(path, allow_pickle=False) as f:
            return set(f["smiles"].tolist())
    canonical = np.array(sorted(canonical_set(smiles)))  # with a progress display: MOSES' takes minutes
    atomic_write(path, lambda tmp: np.savez_compressed(tmp, smiles=canonical))
    return set(canonical.tolist())


def _cache_path(kind: str, smiles: list[str]) -> Path:
    key = hashlib.sha1("\n".join(smiles).encode()).hexdigest()[:16]
    return default_cache_dir() / "smiles" / f"{kind}_{len(smiles)}_{key}.npz"


def read_smiles_file(path: str | Path) -> list[str]:
    """The first field of every non-blank line of a .smi file (a header "SMILES" line is skipped)."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise InputFileError(f"{path}: cannot read as text ({err})") from None
    fields = [line.split()[0] for line in lines if line.strip()]
    if fields and fields[0].lower() == "smiles":
        fields = fields[1:]
    if not fields:
        raise InputFileError(f"{path}: no SMILES (expected one per line)")
    return fields


def evaluate_smiles_file(path: str | Path, reference: str | Path | None = None) -> dict[str, Any]:
    """The MOSES metrics of a .smi file: against the MOSES test set (novelty against MOSES' training set), or
    against the molecules of `reference` (a .smi file; novelty against them too)."""
    start = time.perf_counter()
    smiles = read_smiles_file(path)
    if reference is not None:
        ref_smiles = read_smiles_file(reference)
        ref, train, against = cached_reference(ref_smiles), cached_canonical_set(ref_smiles), str(reference)
    else:
        from gensci.data.smiles import MosesDataConfig

        config = MosesDataConfig()
        ref, train, against = data_reference(config), data_train_set(config), "MOSES test set (novelty: MOSES train)"
    result = measure(smiles, ref, train)
    return result | {"file": str(path), "reference": against, "seconds": round(time.perf_counter() - start, 2)}


def _write_table(path: Path, rows: list[dict[str, Any]]) -> Path:
    """A CSV with one row per molecule (columns from the first row)."""
    import csv
    import io

    buf = io.StringIO()
    if rows:
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return atomic_write(path, buf.getvalue())
