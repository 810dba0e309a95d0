"""Measurements of gap-filling and disease prediction on records, and the scikit-learn baselines.

Arrays are numpy: records x [N, D] in the data set's standardised units, masks [N, D] bool, labels
y [N] in {0, 1} (1 = the disease), probabilities p [N] of class 1.

- `imputation_rmse`: root mean squared error over the entries hidden on purpose (true value known),
  in train-split standard deviations, so 1.0 is what filling with the mean costs for a typical column.
- `classification_metrics`: accuracy, sensitivity (recall of the disease), specificity (recall of the
  healthy), AUROC and F1 (of the disease class) at the threshold p >= 0.5: the five figures of Hwang,
  Choi & Yoon (2017, arXiv:1711.04126, Table 3).
- Baseline imputers (`impute_baselines`): zeros (0 in physical units, the paper's "zero" filling), the
  train-split mean, k-nearest neighbours (sklearn KNNImputer, k = 5, its default) and chained equations
  (sklearn IterativeImputer, MICE-style: van Buuren & Groothuis-Oudshoorn 2011, J. Stat. Softw. 45(3)).
  Each is fit on the train split's observed values and fills the evaluated split.
- Baseline classifiers (`classifier_baselines`): logistic regression on mean-filled records and
  gradient boosting (sklearn HistGradientBoostingClassifier, which routes gaps natively).
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.experimental import enable_iterative_imputer  # noqa: F401  (makes IterativeImputer importable)
from sklearn.impute import IterativeImputer, KNNImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, roc_auc_score

IMPUTERS = ("zeros", "mean", "knn", "mice")
CLASSIFIERS = ("logreg", "gboost")
CLASSIFICATION_KEYS = ("accuracy", "sensitivity", "specificity", "auroc", "f1")


def imputation_rmse(filled: np.ndarray, truth: np.ndarray, hidden: np.ndarray) -> float:
    """sqrt(mean((filled - truth)^2)) over the hidden entries; NaN when none is hidden."""
    hidden = np.asarray(hidden, bool)
    if not hidden.any():
        return float("nan")
    diff = np.asarray(filled, np.float64)[hidden] - np.asarray(truth, np.float64)[hidden]
    return float(np.sqrt(np.mean(diff**2)))


def bootstrap_rmse(filled: dict[str, np.ndarray], truth: np.ndarray, hidden: np.ndarray, n_boot: int = 1000,
                   seed: int = 0) -> dict[str, np.ndarray]:
    """imputation_rmse of each filling over `n_boot` resamples of the records (rows, with replacement), the
    same resamples for every filling so they can be compared pairwise: name -> [n_boot]."""
    rng = np.random.default_rng(seed)
    rows = [rng.integers(0, len(truth), len(truth)) for _ in range(n_boot)]
    return {k: np.array([imputation_rmse(v[i], truth[i], hidden[i]) for i in rows]) for k, v in filled.items()}


def classification_metrics(y: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """The five figures at `threshold` (predict the disease when p >= threshold); AUROC from p itself."""
    y = np.asarray(y).astype(int)
    pred = (np.asarray(p) >= threshold).astype(int)
    pos, neg = y == 1, y == 0
    out = {
        "accuracy": float((pred == y).mean()),
        "sensitivity": float(pred[pos].mean()) if pos.any() else float("nan"),
        "specificity": float(1 - pred[neg].mean()) if neg.any() else float("nan"),
        "auroc": float(roc_auc_score(y, p)) if pos.any() and neg.any() else float("nan"),
        "f1": float(f1_score(y, pred, zero_division=0.0)),
    }
    return out


def bootstrap_intervals(y: np.ndarray, p: np.ndarray, n_boot: int = 1000, level: float = 0.95,
                        seed: int = 0) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals of the classification figures, resampling records with replacement."""
    rng = np.random.default_rng(seed)
    y, p = np.asarray(y), np.asarray(p)
    draws = {k: [] for k in CLASSIFICATION_KEYS}
    for _ in range(n_boot):
        i = rng.integers(0, len(y), len(y))
        if len(np.unique(y[i])) < 2:
            continue
        for k, v in classification_metrics(y[i], p[i]).items():
            draws[k].append(v)
    a = (1 - level) / 2
    return {k: (float(np.quantile(v, a)), float(np.quantile(v, 1 - a))) for k, v in draws.items() if v}


def impute_baselines(train_x: np.ndarray, train_observed: np.ndarray, x: np.ndarray, observed: np.ndarray,
                     physical_zero: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """Each baseline's filling of x [N, D] (seen values kept), fit on the train split's observed values.

    physical_zero [D]: where 0 in physical units lies in the standardised units (-offset / scale)."""
    train_nan = np.where(train_observed, train_x, np.nan)
    nan = np.where(observed, x, np.nan)
    mice = IterativeImputer(max_iter=10, random_state=seed, keep_empty_features=True)
    with warnings.catch_warnings():  # 10 rounds (sklearn's default) may stop before its tolerance: still MICE's answer
        warnings.simplefilter("ignore", ConvergenceWarning)
        mice_filled = mice.fit(train_nan).transform(nan)
    out = {
        "zeros": np.broadcast_to(physical_zero, x.shape),
        "mean": np.broadcast_to(np.nan_to_num(np.nanmean(train_nan, axis=0)), x.shape),
        "knn": KNNImputer(n_neighbors=5, keep_empty_features=True).fit(train_nan).transform(nan),
        "mice": mice_filled,
    }
    return {k: np.where(observed, x, v) for k, v in out.items()}


def fit_logistic(train_x: np.ndarray, train_y: np.ndarray, seed: int = 0) -> LogisticRegression:
    """L2 logistic regression (sklearn defaults, C = 1) on complete records [N, D]."""
    return LogisticRegression(max_iter=2000, random_state=seed).fit(train_x, train_y)


def classifier_baselines(train_x: np.ndarray, train_observed: np.ndarray, train_y: np.ndarray, x: np.ndarray,
                         observed: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """P(disease) [N] by each baseline classifier trained on the train split: "logreg" on records whose
    gaps hold the train mean (0 in standardised units), "gboost" with the gaps left as NaN."""
    mean_filled = np.where(train_observed, train_x, 0.0), np.where(observed, x, 0.0)
    boost = HistGradientBoostingClassifier(random_state=seed)
    boost.fit(np.where(train_observed, train_x, np.nan), train_y)
    return {
        "logreg": fit_logistic(mean_filled[0], train_y, seed).predict_proba(mean_filled[1])[:, 1],
        "gboost": boost.predict_proba(np.where(observed, x, np.nan))[:, 1],
    }
