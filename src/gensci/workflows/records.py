"""Records with gaps: fill them (an imputing method) or predict the disease (a classifying method), against
the scikit-learn baselines, on the test split; write filled or generated records; report.

What a run is measured by follows the method's capabilities:
- "impute" (the masking DAE): `imputation_rmse` on the test split's hidden entries, and downstream the
  five classification figures of a logistic regression trained on the method's filling of the train split
  and applied to its filling of the test split (`classifier` says so);
- "classify" (the AC-GAN): the five figures of its discriminator's auxiliary head on the test records;
- always: `baseline_<imputer>_rmse` for zeros, mean, knn, mice, and `baseline_<classifier>_<figure>` for
  logreg and gboost (gensci.metrics.records), plus 95 % bootstrap intervals (`<figure>_interval`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from gensci.config import ExperimentConfig
from gensci.data.base import DataSplits
from gensci.data.missingness import MECHANISMS
from gensci.errors import UserError
from gensci.files import atomic_write
from gensci.methods.base import Method
from gensci.metrics.anomaly import anomaly_auroc
from gensci.metrics.intervals import bootstrap_interval
from gensci.metrics.records import (CLASSIFICATION_KEYS, bootstrap_intervals, bootstrap_rmse, classification_metrics,
                                    classifier_baselines, fit_logistic, impute_baselines, imputation_rmse)
from gensci.workflows.base import (EvalOptions, Headline, ReportSection, Run, SampleOptions, Verdict, Workflow,
                                   load_data)
from gensci.workflows.verdicts import against_baseline, measured

SWEEP_RATES = (0.1, 0.3, 0.5)
IMPUTERS = ("zeros", "mean", "knn", "mice")  # gensci.metrics.records.impute_baselines
CLASSIFIERS = ("logreg", "gboost")  # gensci.metrics.records.classifier_baselines
N_BOOTSTRAP = 500


class RecordsWorkflow(Workflow):
    domain = "records"

    def periodic_eval(self, method: Method, data: DataSplits, config: ExperimentConfig) -> dict[str, float]:
        valid = data.valid.tensors
        out = {}
        if "impute" in method.capabilities:
            filled = method.impute(valid["x"], valid["observed"])
            out["val_imputation_rmse"] = imputation_rmse(filled.cpu().numpy(), valid["target"].numpy(), valid["hidden"].numpy())
        if "classify" in method.capabilities:
            p = method.classify(valid["x"])[:, 1].cpu().numpy()
            out["val_auroc"] = classification_metrics(valid["label"].numpy(), p)["auroc"]
        return out

    def evaluate(self, run: Run, options: EvalOptions) -> dict[str, Any]:
        if options.n is not None:
            raise UserError("--n does not apply to records: the whole test split is measured")
        return measure(run.method(checkpoint=options.checkpoint), run.data, seed=options.seed)

    def sample(self, run: Run, options: SampleOptions) -> list[Path]:
        """An imputer fills the test split's gaps (imputed.csv); a generator writes n records of
        `--class` (or of drawn classes) (samples.csv). Values in physical units; the label last."""
        if options.input is not None:
            raise UserError("--input is not supported for records; train on your table with data.path=FILE.csv "
                            "and `gensci sample RUN` fills its test split")
        method, data = run.method(checkpoint=options.checkpoint), run.data
        info, test = data.info, data.test.tensors
        scale, offset = np.asarray(info["feature_std"]), np.asarray(info["feature_mean"])
        if "impute" in method.capabilities:
            values = method.impute(test["x"], test["observed"]).cpu().numpy()
            labels, name = test["label"].numpy(), "imputed.csv"
        elif "sample" in method.capabilities:
            generator = torch.Generator(method.device).manual_seed(options.seed)
            out = method.sample(options.n or 100, options.class_label, generator, options.sampling())
            values, name = out["x"].cpu().numpy(), "samples.csv"
            labels = out["label"].cpu().numpy() if "label" in out else np.full(len(values), -1)
        else:
            raise UserError(f"method {run.config.method.name} neither fills gaps nor generates records")
        rows = [",".join(info["feature_names"] + ["label"])]
        rows += [",".join(f"{v:.6g}" for v in row) + f",{int(c)}" for row, c in zip(values * scale + offset, labels)]
        path = Path(options.out) if options.out is not None else run.samples_dir / name
        if path.is_dir():
            path = path / name
        atomic_write(path, "\n".join(rows) + "\n")
        return [path]

    def report(self, run: Run, metrics: dict[str, Any]) -> list[ReportSection]:
        from gensci.viz.records import plot_rmse_grid, plot_roc

        method, data = run.method(), run.data
        metrics = metrics if "baseline_mean_rmse" in metrics else measure(method, data)
        sections = []
        figures = run.figures_dir
        if "impute" in method.capabilities:
            grid = rmse_sweep(method, run.config)
            png = plot_rmse_grid(grid, figures / "records_rmse.png",
                                 title=f"{len(data.test)} test records; 95 % bootstrap intervals; the method was trained "
                                       f"under {data.info['missing'].upper()} at {100 * data.info['missing_rate']:.0f} %, "
                                       "the baselines refit for each panel and rate")
            sections.append(ReportSection("Imputation error by mechanism and rate",
                                          "RMSE on the hidden test entries, in train-split standard deviations.", [png]))
        ci = metrics.get("auroc_interval")
        title = (f"{len(data.test)} test records; method: {metrics.get('classifier', 'none')}"
                 + (f"; its AUROC 95 % bootstrap interval [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""))
        png = plot_roc(roc_inputs(method, data), figures / "records_roc.png", title=title)
        sections.append(ReportSection("Disease prediction on the test split", metrics.get("classifier", ""), [png]))
        return sections

    def headline(self, metrics: dict[str, Any]) -> dict[str, Any]:
        keys = ("imputation_rmse", "baseline_mean_rmse", "auroc", "baseline_gboost_auroc")
        return {k: metrics[k] for k in keys if k in metrics}

    def headlines(self, metrics: dict[str, Any]) -> list[Headline]:
        """The imputation RMSE and the five classification figures, each with its 95 % bootstrap interval over the
        test records, beside the scikit-learn baselines' figures on the same records."""
        n = metrics.get("n_test")
        rows = [measured(metrics, "imputation_rmse", n=n, baselines={b: metrics.get(f"baseline_{b}_rmse") for b in IMPUTERS},
                         note=f"on the {metrics.get('n_hidden_test', '?')} hidden test entries, in train-split SDs")]
        rows += [measured(metrics, k, n=n, baselines={b: metrics.get(f"baseline_{b}_{k}") for b in CLASSIFIERS},
                          note=f"classifier: {metrics.get('classifier', '?')}") for k in CLASSIFICATION_KEYS]
        return [r for r in rows if r is not None]

    def verdicts(self, metrics: dict[str, Any]) -> list[Verdict]:
        """The method against the best baseline of its task (lowest RMSE; highest AUROC), by their intervals."""
        out = []
        for key, names, pattern, higher in (("imputation_rmse", IMPUTERS, "baseline_{}_rmse", False),
                                            ("auroc", CLASSIFIERS, "baseline_{}_auroc", True)):
            row = measured(metrics, key, n=metrics.get("n_test"))
            found = [(b, metrics[pattern.format(b)]) for b in names if isinstance(metrics.get(pattern.format(b)), float)]
            if row is None or not found:
                continue
            best, _ = (max if higher else min)(found, key=lambda bv: bv[1])
            verdict = against_baseline(row, measured(metrics, pattern.format(best), n=row.n), f"{best} (the best "
                                       "baseline)", higher)
            if verdict is not None:
                out.append(verdict)
        return out

    def verdict_text(self, metrics: dict[str, Any]) -> str:
        return (f"{metrics.get('n_test', '?')} test records ({str(metrics.get('missing', '?')).upper()} at "
                f"{100 * metrics.get('missing_rate', float('nan')):.0f} % missing); 95 % bootstrap intervals over the "
                f"records ({N_BOOTSTRAP} resamples); baselines refit on the train split.")


def measure(method: Method, data: DataSplits, seed: int = 0) -> dict[str, Any]:
    """The method's and the baselines' figures on the test split (module docstring)."""
    test = data.test.tensors
    out: dict[str, Any] = {"n_test": len(test["label"]), "n_hidden_test": int(test["hidden"].sum()),
                           "missing": data.info["missing"], "missing_rate": data.info["missing_rate"]}
    filled, te = imputations(method, data, seed)
    draws = bootstrap_rmse(filled, te["target"], te["hidden"], N_BOOTSTRAP, seed)
    for name, f in filled.items():
        key = "imputation_rmse" if name == "method" else f"baseline_{name}_rmse"
        out[key] = imputation_rmse(f, te["target"], te["hidden"])
        finite = draws[name][np.isfinite(draws[name])]
        if len(finite):
            out[f"{key}_interval"] = np.quantile(finite, [0.025, 0.975]).tolist()
    for name, (y, p) in roc_inputs(method, data, seed).items():
        prefix = "" if name == "method" else f"baseline_{name}_"
        out.update({f"{prefix}{k}": v for k, v in classification_metrics(y, p).items()})
        if name != "method":  # a baseline: the AUROC's interval only, which the verdict compares (seconds saved)
            auroc = bootstrap_interval(lambda i: anomaly_auroc(p[i], y[i]) if 0 < y[i].sum() < len(i) else float("nan"),
                                       len(y), N_BOOTSTRAP, seed=seed)
            out.update({f"{prefix}auroc_interval": list(auroc)} if auroc else {})
        if name == "method":
            out.update({f"{k}_interval": list(v) for k, v in bootstrap_intervals(y, p, N_BOOTSTRAP, seed=seed).items()})
            out["classifier"] = ("the AC-GAN discriminator's auxiliary head" if "classify" in method.capabilities
                                 else "logistic regression on the method's filling of the train and test records")
    return {k: v for k, v in out.items() if not (isinstance(v, float) and np.isnan(v))}


def roc_inputs(method: Method, data: DataSplits, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(labels, P(disease)) on the test split for the method (when it predicts) and the baseline classifiers."""
    train, test = data.train.tensors, data.test.tensors
    tr, te = _numpy(train), _numpy(test)
    y = te["label"]
    p = _method_probabilities(method, train, test, seed)
    out = {"method": (y, p)} if p is not None else {}
    baselines = classifier_baselines(tr["x"], tr["observed"], tr["label"], te["x"], te["observed"], seed)
    return out | {name: (y, q) for name, q in baselines.items()}


def rmse_sweep(method: Method, config: ExperimentConfig, rates=SWEEP_RATES,
               n_boot: int = 200) -> dict[str, dict[str, dict[float, tuple[float, float, float]]]]:
    """RMSE on the hidden test entries for every mechanism and rate: the trained method (as it is) and the
    baselines (refit on each variant's train split), with a 95 % bootstrap interval over the test records.
    `rmse[mechanism][name][rate] = (rmse, low, high)`."""
    grid: dict[str, dict[str, dict[float, tuple[float, float, float]]]] = {}
    for mech in MECHANISMS:
        for rate in rates:
            data = load_data(config.model_copy(update={"data": config.data.model_copy(update={"missing": mech,
                                                                                              "missing_rate": rate})}))
            filled, te = imputations(method, data, config.seed)
            draws = bootstrap_rmse(filled, te["target"], te["hidden"], n_boot, config.seed)
            for name, f in filled.items():
                lo, hi = np.quantile(draws[name], [0.025, 0.975])
                value = imputation_rmse(f, te["target"], te["hidden"])
                grid.setdefault(mech, {}).setdefault(name, {})[rate] = (value, float(lo), float(hi))
    return grid


def imputations(method: Method, data: DataSplits, seed: int = 0) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The test split filled by the method (an imputing one only: "method") and by each baseline, and the
    test split's arrays (x, observed, target, hidden, ...)."""
    tr, te = _numpy(data.train.tensors), _numpy(data.test.tensors)
    filled = {}
    if "impute" in method.capabilities:
        filled["method"] = method.impute(data.test.tensors["x"], data.test.tensors["observed"]).cpu().numpy()
    zero = -(te["offset"][0] / te["scale"][0])
    filled |= impute_baselines(tr["x"], tr["observed"], te["x"], te["observed"], zero, seed)
    return filled, te


def _method_probabilities(method: Method, train: dict, test: dict, seed: int) -> np.ndarray | None:
    if "classify" in method.capabilities:
        return method.classify(test["x"])[:, 1].cpu().numpy()
    if "impute" in method.capabilities:
        filled_train = method.impute(train["x"], train["observed"]).cpu().numpy()
        filled_test = method.impute(test["x"], test["observed"]).cpu().numpy()
        return fit_logistic(filled_train, train["label"].numpy(), seed).predict_proba(filled_test)[:, 1]
    return None


def _numpy(items: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    return {k: v.numpy() for k, v in items.items()}
