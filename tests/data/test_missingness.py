"""The missingness generators: requested rates, and what each mechanism depends on."""

import numpy as np
import pytest

from gensci.data.missingness import DRIVER_SHARE, hide_values
from gensci.errors import ConfigError


def independent_columns(n=4000, d=10, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d))


@pytest.mark.parametrize("mechanism", ["mcar", "mar", "mnar"])
@pytest.mark.parametrize("rate", [0.1, 0.3, 0.5])
def test_requested_rate_is_hit(mechanism, rate):
    hidden = hide_values(independent_columns(), mechanism, rate, np.random.default_rng(1))
    tolerance = 1e-4 if mechanism == "mcar" else 0.015  # MCAR hides an exact count; the others draw Bernoullis
    assert abs(hidden.mean() - rate) < tolerance


def own_value_shift(x, hidden):
    """Mean over columns of E[x_j | hidden] - E[x_j | not hidden] (columns with both kinds)."""
    cols = [j for j in range(x.shape[1]) if 0 < hidden[:, j].sum() < len(x)]
    return np.mean([x[hidden[:, j], j].mean() - x[~hidden[:, j], j].mean() for j in cols])


def driver_auroc(x, hidden, drivers, j):
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    model = LogisticRegression().fit(x[:, drivers], hidden[:, j])
    return roc_auc_score(hidden[:, j], model.decision_function(x[:, drivers]))


def test_mar_depends_on_the_observed_drivers_only():
    x = independent_columns()
    hidden = hide_values(x, "mar", 0.3, np.random.default_rng(2))
    drivers = np.flatnonzero(hidden.sum(0) == 0)
    assert len(drivers) == round(DRIVER_SHARE * x.shape[1])  # these columns are never hidden
    others = np.setdiff1d(np.arange(x.shape[1]), drivers)
    assert min(driver_auroc(x, hidden, drivers, j) for j in others) > 0.65  # the drivers predict the gaps
    assert abs(own_value_shift(x[:, others], hidden[:, others])) < 0.1  # the hidden value itself does not


def test_mnar_depends_on_the_hidden_value_and_mcar_on_nothing():
    x = independent_columns()
    mnar = hide_values(x, "mnar", 0.3, np.random.default_rng(3))
    mcar = hide_values(x, "mcar", 0.3, np.random.default_rng(3))
    assert own_value_shift(x, mnar) > 0.5  # large values go missing more often
    assert abs(own_value_shift(x, mcar)) < 0.1
    assert mnar.sum(0).min() > 0  # every column can lose values


@pytest.mark.parametrize("mechanism", ["mcar", "mar", "mnar"])
def test_real_gaps_are_never_hidden_and_the_rate_counts_known_entries(mechanism):
    x = independent_columns(2000, 6)
    x[np.random.default_rng(0).random(x.shape) < 0.2] = np.nan
    hidden = hide_values(x, mechanism, 0.3, np.random.default_rng(4))
    assert not (hidden & np.isnan(x)).any()
    assert abs(hidden.sum() / (~np.isnan(x)).sum() - 0.3) < 0.02


def test_seeded():
    x = independent_columns(500, 5)
    a, b = (hide_values(x, "mar", 0.3, np.random.default_rng(7)) for _ in range(2))
    c = hide_values(x, "mar", 0.3, np.random.default_rng(8))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_impossible_mar_rate_is_a_config_error():
    with pytest.raises(ConfigError, match="at most"):
        hide_values(independent_columns(100, 3), "mar", 0.8, np.random.default_rng(0))
