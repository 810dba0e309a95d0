"""Imputation and classification measures on inputs with known answers; the scikit-learn baselines."""

import numpy as np
import pytest

from gensci.metrics.records import (bootstrap_intervals, classification_metrics, classifier_baselines,
                                    impute_baselines, imputation_rmse)


def test_rmse_counts_only_hidden_entries():
    truth = np.zeros((4, 3))
    hidden = np.zeros((4, 3), bool)
    hidden[0, 0] = hidden[2, 1] = True
    filled = truth.copy()
    filled[hidden] = [2.0, -2.0]
    filled[1, 1] = 100.0  # not hidden: ignored
    assert imputation_rmse(filled, truth, hidden) == pytest.approx(2.0)
    assert np.isnan(imputation_rmse(filled, truth, np.zeros_like(hidden)))


def test_classification_figures_by_hand():
    y = np.array([1, 1, 0, 0])
    p = np.array([0.9, 0.4, 0.2, 0.6])
    m = classification_metrics(y, p)
    # TP 1, FN 1, TN 1, FP 1; AUROC: 3 of the 4 (positive, negative) pairs ranked right.
    assert m == pytest.approx({"accuracy": 0.5, "sensitivity": 0.5, "specificity": 0.5, "auroc": 0.75, "f1": 0.5})
    perfect = classification_metrics(y, np.array([0.8, 0.7, 0.1, 0.3]))
    assert perfect == pytest.approx({"accuracy": 1, "sensitivity": 1, "specificity": 1, "auroc": 1, "f1": 1})


def test_bootstrap_interval_brackets_the_estimate():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    p = np.clip(y * 0.3 + rng.uniform(0, 0.7, 200), 0, 1)
    m, ci = classification_metrics(y, p), bootstrap_intervals(y, p, 200, seed=0)
    for k, (lo, hi) in ci.items():
        assert lo <= m[k] <= hi
    a = m["accuracy"]  # a proportion: the 95 % width is about 2 x 1.96 x its binomial standard error
    assert ci["accuracy"][1] - ci["accuracy"][0] == pytest.approx(2 * 1.96 * np.sqrt(a * (1 - a) / 200), rel=0.2)


def correlated(n, seed):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 1))
    return np.hstack([z, 2 * z, -z]) + 0.01 * rng.normal(size=(n, 3))


def test_baseline_imputers():
    train, test = correlated(300, 0), correlated(100, 1)
    rng = np.random.default_rng(2)
    train_obs = rng.random(train.shape) > 0.2
    obs = rng.random(test.shape) > 0.3
    obs[:, 0] = True  # one column always seen: the chained equations can predict the others from it
    zero = np.array([-1.0, -2.0, -3.0])
    out = impute_baselines(train, train_obs, test, obs, zero)
    assert np.array_equal(out["zeros"][~obs], np.broadcast_to(zero, test.shape)[~obs])
    means = np.array([train[train_obs[:, j], j].mean() for j in range(3)])
    assert np.allclose(out["mean"][~obs], np.broadcast_to(means, test.shape)[~obs])
    for v in out.values():
        assert np.array_equal(v[obs], test[obs])  # seen values kept
    hidden = ~obs
    rmse = {k: imputation_rmse(v, test, hidden) for k, v in out.items()}
    assert rmse["mice"] < 0.1 * rmse["mean"] and rmse["knn"] < 0.5 * rmse["mean"]


def test_baseline_classifiers_learn_a_separable_rule():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 4))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    obs = rng.random(x.shape) > 0.1
    probs = classifier_baselines(x[:300], obs[:300], y[:300], x[300:], obs[300:])
    for name, p in probs.items():
        assert classification_metrics(y[300:], p)["auroc"] > 0.9, name
