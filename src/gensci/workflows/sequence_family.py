"""Protein-family runs: predict mutation effects of the wild type with the VAE and two baselines, measure them
against the simulated family's exact effects, write predictions and sequences, report.

Predicted effect of a mutant = score(mutant) - score(wild type), with score:
- the VAE: its ELBO averaged over ELBO_SAMPLES draws of z (DeepSequence, helper.py `delta_elbo`);
- the site-independent model (baseline_*): log-probability under a position weight matrix fitted on the
  weighted training alignment with a pseudocount of 1 per state (gensci.ops.sequences);
- the pseudo-likelihood Potts fit (potts_*): -E(x) of a plmc-style L2-regularised fit (gensci.ops.potts),
  fitted only while L x q <= PLM_MAX_UNITS (its couplings are dense).
Spearman's rho against the truth for all singles, the sampled doubles, and the epistatic part of the doubles
at coupled positions (double - both singles; a site-independent model has none, so it has no such key).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from gensci.config import ExperimentConfig
from gensci.data.base import DataSplits
from gensci.data.potts import MutantSet, mutant_set
from gensci.files import atomic_write
from gensci.metrics.mutation_effects import effect_metrics
from gensci.methods.base import Method
from gensci.ops.potts import energy, fit_pseudolikelihood
from gensci.ops.sequences import ALPHABET, mutate, pwm_log_frequencies, site_independent_scores, single_mutants
from gensci.workflows.base import EvalOptions, Headline, ReportSection, Run, SampleOptions, Verdict, Workflow
from gensci.workflows.verdicts import against_baseline, measured

ELBO_SAMPLES = 10  # draws of z per ELBO: DeepSequence helper.py delta_elbo's N_pred_iterations (commit 22e72c5)
PLM_MAX_UNITS = 2100  # L * q: a 100-position family; above it the dense Potts fit is skipped
PREDICTIONS = "mutation_effects.npz"
METHODS = {"": "VAE (ELBO difference)", "baseline_": "site-independent (PWM)", "potts_": "Potts fit (pseudo-likelihood)"}
BASELINES = ("baseline_", "potts_")
SETS = {"single": "all single substitutions of the wild type", "double": "random double substitutions",
        "epistasis": "doubles at coupled positions: double - both singles"}
ADDITIVE = {"baseline_"}  # no epistasis by construction (its float rounding is not a prediction)

Scorer = Callable[[torch.Tensor], torch.Tensor]  # seqs [M, L] -> scores [M] (higher = fitter)


class SequenceFamilyWorkflow(Workflow):
    domain = "sequence_family"

    def periodic_eval(self, method: Method, data: DataSplits, config: ExperimentConfig) -> dict[str, float]:
        seqs = data.valid.tensors["seq"][: config.eval.periodic_n_samples]
        elbo = method.sequence_elbo(seqs, 1, torch.Generator().manual_seed(0))
        return {"valid_elbo": float(elbo.mean())}

    def evaluate(self, run: Run, options: EvalOptions) -> dict[str, Any]:
        data, info = run.data, run.data.info
        method = run.method(checkpoint=options.checkpoint)
        scorers = scorers_for(method, data, options.seed)
        test = data.test.tensors["seq"]
        out: dict[str, Any] = {"n_sequences": len(data.train), "neff": info["neff"], "n_excluded": info["n_excluded"],
                               "elbo_samples": ELBO_SAMPLES}
        if len(test):  # held-out sequences: mean ELBO (a bound on log p) beside the PWM's exact log-likelihood
            out |= {"test_elbo": float(scorers[""](test).mean()),
                    "baseline_test_log_likelihood": float(scorers["baseline_"](test).mean()), "n_test": len(test)}
        mutants = mutant_set(run.config.data, info["wild_type"])
        if mutants is None:
            self.messages.append("no true mutation effects for a user's alignment: held-out likelihoods only; "
                                 "`gensci sample RUN` writes the predicted single-mutant effects")
            return out
        if "potts_" not in scorers:
            self.messages.append(f"Potts fit skipped: L x q = {len(info['wild_type']) * len(ALPHABET)} > {PLM_MAX_UNITS}")
        preds = {prefix: predict_effects(score, mutants, prefix not in ADDITIVE) for prefix, score in scorers.items()}
        truth = truth_sets(mutants)
        save_predictions(run.samples_dir / PREDICTIONS, preds, truth)
        for prefix, pred in preds.items():
            out.update(effect_metrics(pred, truth, prefix, interval=True))
        return out | {"n_single": len(truth["single"]), "n_double": len(truth["double"]),
                      "n_double_coupled": len(truth["epistasis"])}

    def sample(self, run: Run, options: SampleOptions) -> list[Path]:
        """samples/single_mutants.csv (every single substitution of the wild type: VAE and PWM predictions, and
        the truth for a simulated family) and samples/samples.fasta (n sequences drawn from the VAE)."""
        data, info = run.data, run.data.info
        method = run.method(checkpoint=options.checkpoint)
        scorers = scorers_for(method, data, options.seed, potts=False)
        wt = torch.tensor(info["wild_type"])
        pos, new = single_mutants(wt)
        columns = {name: (score(mutate(wt, pos, new)) - score(wt[None])).numpy() for name, score in
                   (("vae", scorers[""]), ("pwm", scorers["baseline_"]))}
        mutants = mutant_set(run.config.data, info["wild_type"])
        if mutants is not None:
            columns["true"] = mutants.true["single"].numpy()
        names = [f"{ALPHABET[wt[p]]}{p + 1}{ALPHABET[n]}" for p, n in zip(pos.tolist(), new.tolist())]
        rows = ["mutant," + ",".join(columns)] + [
            ",".join([name] + [f"{columns[c][k]:.5g}" for c in columns]) for k, name in enumerate(names)]
        out_dir = Path(options.out) if options.out is not None else run.samples_dir
        out_dir.mkdir(parents=True, exist_ok=True)
        effects = atomic_write(out_dir / "single_mutants.csv", "\n".join(rows) + "\n")
        seqs = method.sample(options.n or 100, generator=torch.Generator().manual_seed(options.seed),
                             options=options.sampling())["seq"].cpu()
        fasta = "".join(f">vae_sample_{k}\n{''.join(ALPHABET[v] for v in s.tolist())}\n" for k, s in enumerate(seqs))
        return [effects, atomic_write(out_dir / "samples.fasta", fasta)]

    def report(self, run: Run, metrics: dict[str, Any]) -> list[ReportSection]:
        from gensci.viz.sequence_family import plot_effect_scatter

        path = run.samples_dir / PREDICTIONS
        if "spearman_single" not in metrics or not path.exists():
            metrics = {**metrics, **self.evaluate(run, EvalOptions())}
        if not path.exists():  # a user's alignment: nothing to compare with
            return [ReportSection("Mutation effects", "No ground truth for a user's alignment; see "
                                  "samples/single_mutants.csv after `gensci sample`.")]
        preds, truth = load_predictions(path)
        names = {prefix: METHODS[prefix] for prefix in preds}
        png = plot_effect_scatter(preds, truth, names, run.figures_dir / "mutation_effects.png")
        text = (f"Spearman's rho of predicted against true effects (-energy change of the simulated Potts model) for "
                f"all {len(truth['single'])} single substitutions of the wild type and {len(truth['double'])} random "
                f"double ones; epistasis: the {len(truth['epistasis'])} doubles at coupled positions, double minus both "
                f"singles. 95 % bootstrap intervals over mutants in evaluation.json. VAE: ELBO averaged over "
                f"{ELBO_SAMPLES} draws.")
        return [ReportSection("Mutation effects", text, figures=[png])]

    def headline(self, metrics: dict[str, Any]) -> dict[str, Any]:
        keys = ("spearman_single", "spearman_double", "baseline_spearman_single", "baseline_spearman_double",
                "potts_spearman_single", "potts_spearman_double")
        return {k: metrics[k] for k in keys if k in metrics}

    def headlines(self, metrics: dict[str, Any]) -> list[Headline]:
        """The VAE's Spearman rho per mutant set with its bootstrap interval over the mutants, beside the PWM's and
        the Potts fit's on the same mutants; and the held-out ELBO beside the PWM's exact log-likelihood."""
        sizes = {"single": metrics.get("n_single"), "double": metrics.get("n_double"),
                 "epistasis": metrics.get("n_double_coupled")}
        rows = [measured(metrics, f"spearman_{k}", n=n, note=SETS[k], data=1.0,
                         baselines={METHODS[p]: metrics.get(f"{p}spearman_{k}") for p in BASELINES})
                for k, n in sizes.items()]
        rows.append(measured(metrics, "test_elbo", n=metrics.get("n_test"), note="mean ELBO of held-out sequences (nats)",
                             baselines={METHODS["baseline_"]: metrics.get("baseline_test_log_likelihood")}))
        return [r for r in rows if r is not None]

    def verdicts(self, metrics: dict[str, Any]) -> list[Verdict]:
        """The VAE against each baseline per mutant set, by their bootstrap intervals."""
        out = []
        for row in self.headlines(metrics):
            for prefix in BASELINES:
                if not row.name.startswith("spearman_"):
                    continue
                base = measured(metrics, f"{prefix}{row.name}", n=row.n)
                verdict = against_baseline(row, base, METHODS[prefix]) if base is not None else None
                if verdict is not None:
                    out.append(verdict)
        return out

    def verdict_text(self, metrics: dict[str, Any]) -> str:
        return ("Spearman's rho of predicted against true mutation effects (the simulated family's exact ones); 95 % "
                "bootstrap intervals over the mutants; 'data': a perfect predictor. VAE: ELBO difference averaged over "
                f"{ELBO_SAMPLES} draws of z.")


def scorers_for(method: Method, data: DataSplits, seed: int, potts: bool = True) -> dict[str, Scorer]:
    """Scores of the VAE (""), the PWM ("baseline_") and, for small families, the Potts fit ("potts_")."""
    train = data.train.tensors
    q = data.info["n_states"]
    log_freqs = pwm_log_frequencies(train["seq"], train["weight"], q)
    generator = torch.Generator().manual_seed(seed)
    out: dict[str, Scorer] = {
        "": lambda s: method.sequence_elbo(s, ELBO_SAMPLES, generator).cpu(),
        "baseline_": lambda s: site_independent_scores(log_freqs, s),
    }
    if potts and train["seq"].shape[1] * q <= PLM_MAX_UNITS:
        h, J = fit_pseudolikelihood(train["seq"], train["weight"], q)
        out["potts_"] = lambda s: -energy(h, J, s)
    return out


def predict_effects(score: Scorer, mutants: MutantSet, epistasis: bool = True) -> dict[str, np.ndarray]:
    """score(mutant) - score(wild type) for the singles and doubles, and (with `epistasis`) the doubles' epistatic
    part at coupled positions (double - single_i - single_j)."""
    wt = mutants.wild_type
    pos, new = mutants.single
    i, b, j, c = mutants.double
    base = score(wt[None])[0]
    single = score(mutate(wt, pos, new)) - base
    double = score(mutate(wt, torch.stack([i, j], 1), torch.stack([b, c], 1))) - base
    out = {"single": single.numpy(), "double": double.numpy()}
    if epistasis:
        grid = torch.zeros(len(wt), len(ALPHABET), dtype=single.dtype)
        grid[pos, new] = single
        out["epistasis"] = (double - grid[i, b] - grid[j, c])[mutants.coupled].numpy()
    return out


def truth_sets(mutants: MutantSet) -> dict[str, np.ndarray]:
    return {"single": mutants.true["single"].numpy(), "double": mutants.true["double"].numpy(),
            "epistasis": mutants.true["epistasis"][mutants.coupled].numpy()}


def save_predictions(path: Path, preds: dict[str, dict[str, np.ndarray]], truth: dict[str, np.ndarray]) -> None:
    arrays = {f"true_{k}": v for k, v in truth.items()}
    arrays |= {f"pred_{prefix or 'vae_'}{k}": v for prefix, pred in preds.items() for k, v in pred.items()}
    atomic_write(path, lambda tmp: np.savez(tmp, **arrays))


def load_predictions(path: Path) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, np.ndarray]]:
    with np.load(path) as f:
        truth = {k[5:]: f[k] for k in f.files if k.startswith("true_")}
        preds: dict[str, dict[str, np.ndarray]] = {}
        for prefix in METHODS:
            tag = f"pred_{prefix or 'vae_'}"
            found = {k[len(tag):]: f[k] for k in f.files if k.startswith(tag)}
            if found:
                preds[prefix] = found
    return preds, truth
