"""Intervals of headline figures on cases with known answers, and the verdict helpers that read them."""

import numpy as np
import pytest
from scipy.stats import binomtest

from gensci.metrics.intervals import (WITHIN_2SIGMA, bootstrap_interval, proportion_interval, within_tail,
                                      wilson_interval)
from gensci.workflows.verdicts import against_baseline, against_published, measured, own_interval, within_verdict


@pytest.mark.parametrize("k, n", [(8, 10), (1, 6), (263, 1000), (0, 20), (20, 20)])
def test_wilson_matches_scipy(k, n):
    expected = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert wilson_interval(k, n) == pytest.approx((expected.low, expected.high), abs=1e-12)


def test_wilson_edges_and_size():
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0  # not empty at the edges
    assert wilson_interval(5, 0) is None and proportion_interval(0.5, 0) is None
    narrow, wide = wilson_interval(500, 1000), wilson_interval(5, 10)
    assert narrow[1] - narrow[0] < 0.07 < wide[1] - wide[0]  # shrinks like 1 / sqrt(n)
    with pytest.raises(ValueError):
        wilson_interval(11, 10)


def test_within_tail_is_the_binomial_lower_tail():
    assert WITHIN_2SIGMA == pytest.approx(0.9545, abs=1e-4)
    assert within_tail(1.0, 20) == 1.0  # all bins within: as good as the data
    assert within_tail(12 / 16, 16) == pytest.approx(0.0050, abs=2e-4)  # 12 of 16: rare for the data
    assert within_verdict("x", 15 / 16, 16, "test").ok is True and within_verdict("x", 12 / 16, 16, "test").ok is False
    assert within_verdict("x", 0.5, 0, "test").ok is None  # nothing measured: not judged


def test_bootstrap_interval_of_a_mean():
    x = np.random.default_rng(0).normal(3.0, 1.0, 400)
    lo, hi = bootstrap_interval(lambda i: x[i].mean(), len(x), n_boot=400)
    assert lo < 3.0 < hi and hi - lo == pytest.approx(2 * 1.96 / np.sqrt(400), rel=0.2)
    assert bootstrap_interval(lambda i: x[i].mean(), 1) is None


def test_measured_reads_every_interval_convention():
    metrics = {"a": 0.5, "a_interval": [0.4, 0.6], "b": 0.2, "b_lo": 0.1, "b_hi": 0.3, "c": 0.26,
               "c_95ci": "0.237-0.291", "d": 0.3, "e": True}
    assert own_interval(metrics, "a") == ((0.4, 0.6), "bootstrap")
    assert own_interval(metrics, "b") == ((0.1, 0.3), "bootstrap")
    assert own_interval(metrics, "c") == ((0.237, 0.291), "Wilson")
    assert measured(metrics, "d", n=10, proportion=True).interval == wilson_interval(3, 10)
    assert measured(metrics, "d").interval is None  # no n: no interval is invented
    assert measured(metrics, "e") is None and measured(metrics, "missing") is None


def test_published_and_baseline_verdicts():
    row = measured({"s": 0.26}, "s", n=1000, proportion=True, published=0.82)
    assert against_published(row).ok is False and "below" in against_published(row).outcome
    row.published = 0.27
    assert against_published(row).ok is True  # inside the interval: matches
    a = measured({"x": 0.9}, "x", n=200, proportion=True)
    b = measured({"x": 0.6}, "x", n=200, proportion=True)
    assert against_baseline(a, b, "base").ok is True and against_baseline(b, a, "base").ok is False
    assert against_baseline(a, b, "base", higher_is_better=False).ok is False
    close = measured({"x": 0.62}, "x", n=200, proportion=True)
    assert against_baseline(close, b, "base").ok is None  # overlapping intervals: not distinguishable
