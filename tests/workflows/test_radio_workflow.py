import json

import numpy as np
import pytest

from gensci.config import validate
from gensci.testing.runs import untrained_run
from gensci.workflows.base import EvalOptions, SampleOptions
from gensci.workflows.radio import RadioWorkflow, measure



@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A run directory with an untrained tiny DAE, as the trainer would leave it."""
    config = validate({
        "name": "radio-test",
        "data": {"name": "radio", "n_train": 32, "n_valid": 16, "n_test": 24},
        "method": {"name": "dae", "channels": [4, 4, 4, 4], "kernel_size": 3},
        "eval": {"n_samples": 24, "periodic_n_samples": 16},
    })
    return untrained_run(config, tmp_path_factory.mktemp("run"))


def test_measure_perfect_recovery_beats_bandpass(run):
    items = run.data.test.tensors
    m = measure(items["target"], items, run.data)
    assert m["peak_accuracy"] == 1.0 and m["nmse"] == pytest.approx(0, abs=1e-9)
    assert m["false_pulse_rate"] == 0.0 and m["baseline_nmse"] > 0.1
    assert m["n_traces"] == 24 and m["n_signal"] == int(items["is_signal"].sum())


def test_evaluate_and_periodic_eval(run):
    wf = run.workflow
    assert isinstance(wf, RadioWorkflow)
    m = wf.evaluate(run, EvalOptions())
    json.dumps(m, allow_nan=False)
    assert {"peak_accuracy", "baseline_peak_accuracy", "energy_ratio_median", "snr_gain_db"} <= set(m)
    assert set(wf.headline(m)) == {"peak_accuracy", "baseline_peak_accuracy", "energy_ratio_median", "snr_gain_db"}
    quick = wf.periodic_eval(run.method(), run.data, run.config)
    assert set(quick) == {"peak_accuracy", "nmse"} and all(isinstance(v, float) for v in quick.values())


def test_sample_writes_denoised_npz(run, tmp_path):
    wf = RadioWorkflow()
    [path] = wf.sample(run, SampleOptions(n=5))
    assert path == run.path / "samples" / "denoised.npz"
    with np.load(path) as f:
        assert f["recovered"].shape == (5, 1, 500) and f["signals"].shape == (5, 1, 500)
        phys = f["recovered"] * f["scale"][:, None, None] + f["offset"][:, None, None]
        np.testing.assert_allclose(f["recovered_physical"], phys, rtol=1e-5, atol=1e-5)
    # the user's own traces, without true signals
    traces = np.random.default_rng(0).normal(size=(3, 500))
    np.savez(tmp_path / "mine.npz", traces=traces)
    [out] = wf.sample(run, SampleOptions(input=tmp_path / "mine.npz", out=tmp_path / "den.npz"))
    with np.load(out) as f:
        assert "signals" not in f and f["recovered"].shape == (3, 1, 500)
        np.testing.assert_allclose(f["traces_physical"][:, 0], traces, rtol=1e-5, atol=1e-5)


def test_report_writes_figures_and_the_verdict_compares_with_the_band_pass(run):
    wf = RadioWorkflow()
    sections = wf.report(run, {})
    figures = [f for s in sections for f in s.figures]
    assert len(figures) == 2 and all(f.exists() and f.suffix == ".png" for f in figures)
    items = run.data.test.tensors
    perfect = measure(items["target"], items, run.data)  # the true signals as the network's output
    table = wf.verdict(perfect).table
    assert set(table["peak_accuracy"]) >= {"this run", "band-pass", "n", "95 % interval"}
    assert table["peak_accuracy"]["n"] == perfect["n_signal"]  # a fraction of the pulses, with its Wilson interval
    assert perfect["nmse_interval"] == [0.0, 0.0] and perfect["baseline_nmse_interval"][0] > 0  # bootstrap, medians
    judged = {v.name: v for v in wf.verdicts(perfect)}
    assert judged["nmse"].ok is True and judged["nmse"].outcome == "better than the band-pass filter"
