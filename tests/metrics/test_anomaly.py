"""Anomaly scores: AUROC, PNG complexity and the complexity-corrected likelihood score."""

import numpy as np
import pytest

from gensci.metrics import anomaly as A
from gensci.spec import UNIT_INTERVAL


def test_anomaly_auroc():
    assert A.anomaly_auroc([0.1, 0.2, 0.9, 0.8], [0, 0, 1, 1]) == 1.0
    assert A.anomaly_auroc([0.9, 0.8, 0.1, 0.2], [0, 0, 1, 1]) == 0.0


def test_compressed_bits_grow_with_complexity_and_correct_the_score():
    rng = np.random.default_rng(3)
    flat, noisy = np.full((3, 3, 16, 16), 0.1), rng.uniform(0, 1, (3, 3, 16, 16))
    bits = A.compressed_bits(np.concatenate([flat, noisy]), UNIT_INTERVAL)
    assert bits.shape == (6,) and bits[:3].max() * 5 < bits[3:].min()  # noise does not compress
    assert bits[3:].min() > 0.9 * 16 * 16 * 3 * 8  # ~8 bits per noisy 8-bit value
    grey = A.compressed_bits(noisy[:, :1] * 40 - 20)  # unbounded: quantised over the set's range; any channel count
    five = A.compressed_bits(np.repeat(noisy[:, :1], 5, axis=1), UNIT_INTERVAL)
    assert grey.shape == (3,) and five == pytest.approx(5 * A.compressed_bits(noisy[:, :1], UNIT_INTERVAL))
    # S = -log p - L ln 2: an image the model finds likely only because it is simple scores as typical
    nll = np.array([100.0, 1000.0])
    assert A.complexity_corrected_score(nll, np.array([100.0, 1400.0])) == pytest.approx(nll - [100 * np.log(2), 1400 * np.log(2)])
    # fitted exchange rate: typical images follow nll = 0.1 bits + 50; an anomaly lies above that line
    fit_bits = rng.uniform(1000, 5000, 50)
    test_bits = np.array([1000.0, 5000.0, 1000.0])
    test_nll = 0.1 * test_bits + 50 + np.array([0.0, 0.0, 30.0])  # the raw nll ranks the complex normal image highest
    s = A.complexity_corrected_score(test_nll, test_bits, 0.1 * fit_bits + 50, fit_bits)
    assert s == pytest.approx([0, 0, 30]) and test_nll.argmax() == 1 and s.argmax() == 2
