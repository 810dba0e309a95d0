"""Radio-trace denoising runs: measure the network against the band-pass filter, write denoised traces, report.

Metrics are computed on traces with their zero restored (gensci.data.radio: physical units
via the data spec's `ValueRange.to_physical`), so the min-max offset biases neither argmax nor energies.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gensci.config import ExperimentConfig
from gensci.data.base import DataSplits
from gensci.data.radio import load_traces
from gensci.metrics.intervals import bootstrap_interval
from gensci.metrics.radio import (bandpass_baseline, energy_ratio_summary, nmse, peak_accuracy, radio_metrics,
                                  snr_gain_db)
from gensci.methods.base import Method
from gensci.spec import DataSpec
from gensci.workflows.base import EvalOptions, Headline, ReportSection, Run, SampleOptions, Verdict, Workflow
from gensci.workflows.verdicts import against_baseline, measured
from gensci.errors import UserError
from gensci.files import atomic_write

METRIC_NOTES = {
    "peak_accuracy": "pulse maximum within ±2% of the trace (±10 samples) of the true one",
    "energy_ratio_median": "median of sum(recovered²)/sum(true²) (1 is right)",
    "energy_ratio_width68": "half the 16-84% width of that ratio",
    "snr_gain_db": "median 10·log10(noise power before / residual power after)",
    "nmse": "median sum((recovered - true)²)/sum(true²)",
    "spectral_correlation": "mean Pearson correlation of |FFT| spectra",
    "false_pulse_rate": "noise-only traces with a recovered peak above 2× the noise RMS",
}


IDEAL = {"peak_accuracy": 1.0, "energy_ratio_median": 1.0, "nmse": 0.0, "spectral_correlation": 1.0,
         "false_pulse_rate": 0.0}  # a perfect recovery
LOWER_IS_BETTER = {"nmse", "false_pulse_rate"}


class RadioWorkflow(Workflow):
    domain = "radio"

    def periodic_eval(self, method: Method, data: DataSplits, config: ExperimentConfig) -> dict[str, float]:
        items = _head(data.valid, config.eval.periodic_n_samples)
        rec, true, _ = _physical(method.denoise(items["input"]), items, data.spec)
        s = items["is_signal"].numpy()
        return {"peak_accuracy": peak_accuracy(rec[s], true[s]), "nmse": nmse(rec[s], true[s])}

    def evaluate(self, run: Run, options: EvalOptions) -> dict[str, Any]:
        items = _head(run.data.test, options.n or run.config.eval.n_samples)
        method = run.method(checkpoint=options.checkpoint)
        recovered = method.denoise(items["input"], options.batch_size or run.config.eval.batch_size)
        return measure(recovered, items, run.data)

    def sample(self, run: Run, options: SampleOptions) -> list[Path]:
        """Denoise the test split (or the user's npz `options.input`) into an npz: recovered, traces
        (scaled as the network sees them), scale, offset, and both in physical units."""
        if options.input is not None:
            items = load_traces(options.input, getattr(run.config.data, "trace_length", None))
        else:
            items = _head(run.data.test, options.n or len(run.data.test))
        recovered = run.method(checkpoint=options.checkpoint).denoise(items["input"], options.batch_size or run.config.eval.batch_size)
        to_physical = run.spec.ranges["input"].to_physical
        arrays = {"recovered": recovered, "traces": items["input"], "scale": items["scale"], "offset": items["offset"]}
        arrays["recovered_physical"] = to_physical(recovered, items)
        arrays["traces_physical"] = to_physical(items["input"], items)
        if "target" in items:
            arrays["signals"] = items["target"]
            arrays["signals_physical"] = to_physical(items["target"], items)
        out = Path(options.out) if options.out is not None else run.samples_dir / "denoised.npz"
        if out.is_dir():
            out = out / "denoised.npz"
        out = out.with_suffix(".npz")  # numpy appends .npz to any other name: the file would not be where it is said
        atomic_write(out, lambda tmp: np.savez(tmp, **{k: v.cpu().numpy() for k, v in arrays.items()}))
        return [out]

    def report(self, run: Run, metrics: dict[str, Any]) -> list[ReportSection]:
        from gensci.viz.radio import plot_spectra, plot_traces

        info = run.data.info
        items = _head(run.data.test, run.config.eval.n_samples)
        recovered = run.method().denoise(items["input"], run.config.eval.batch_size)
        if "peak_accuracy" not in metrics:
            metrics = {**metrics, **measure(recovered, items, run.data)}
        signal = items["is_signal"].numpy()
        rec, true, noisy = _physical(recovered, items, run.data.spec)
        base = bandpass_baseline(noisy, info["sampling_rate_mhz"], info["band_mhz"])
        per_trace = items["scale"].double().numpy()[:, None]  # show every trace at its min-max scale, zero kept
        rec, true, noisy, base = (x[signal] / per_trace[signal] for x in (rec, true, noisy, base))
        figures = run.figures_dir
        pick = _examples(items, signal)
        traces_png = plot_traces(noisy[pick], true[pick], rec[pick], figures / "radio_traces.png",
                                 title="test traces (scaled, zero = no signal)", baseline=base[pick])
        spectra_png = plot_spectra(true, rec, info["sampling_rate_mhz"], figures / "radio_spectra.png",
                                   title="mean spectrum of signal traces", band_mhz=info["band_mhz"])
        text = (f"{metrics.get('n_traces', '?')} test traces ({metrics.get('n_signal', '?')} with a pulse). "
                f"The band-pass baseline is a zero-phase Butterworth filter over {info['band_mhz']} MHz.")
        return [ReportSection("Denoised traces", text, figures=[traces_png, spectra_png])]

    def headline(self, metrics: dict[str, Any]) -> dict[str, Any]:
        keys = ("peak_accuracy", "baseline_peak_accuracy", "energy_ratio_median", "snr_gain_db")
        return {k: metrics[k] for k in keys if k in metrics}

    def headlines(self, metrics: dict[str, Any]) -> list[Headline]:
        """Each figure of the network beside the band-pass filter's on the same traces: Wilson intervals for the
        fractions (peak accuracy over the pulses, false pulses over the noise-only traces), bootstrap ones for
        the medians."""
        rows = []
        for key, note in METRIC_NOTES.items():
            n = metrics.get("n_signal") if key != "false_pulse_rate" else metrics.get("n_traces", 0) - metrics.get("n_signal", 0)
            proportion = key in ("peak_accuracy", "false_pulse_rate")
            row = measured(metrics, key, n=n, proportion=proportion, note=note,
                           data=IDEAL.get(key), baselines={"band-pass": metrics.get(f"baseline_{key}")})
            if row is not None:
                rows.append(row)
        return rows

    def verdicts(self, metrics: dict[str, Any]) -> list[Verdict]:
        """The network against the band-pass filter wherever both figures have intervals and one way is better
        (not the energy ratio: 1 is right, and either side of it is wrong)."""
        out = []
        for row in self.headlines(metrics):
            if row.name.startswith("energy_ratio"):
                continue
            base = measured(metrics, f"baseline_{row.name}", n=row.n, proportion=row.interval_kind == "Wilson")
            verdict = against_baseline(row, base, "the band-pass filter", row.name not in LOWER_IS_BETTER) if base else None
            if verdict is not None:
                out.append(verdict)
        return out

    def verdict_text(self, metrics: dict[str, Any]) -> str:
        return (f"{metrics.get('n_traces', '?')} test traces ({metrics.get('n_signal', '?')} with a pulse); the network "
                "and the band-pass filter on the same traces. 'data': the value of a perfect recovery.")


def measure(recovered: torch.Tensor, items: dict[str, torch.Tensor], data: DataSplits) -> dict[str, Any]:
    """Network metrics and, as baseline_*, the band-pass filter's, for scaled `recovered` [N, 1, L]; the medians'
    95 % bootstrap intervals as <figure>_interval."""
    if "target" not in items:
        raise UserError("measuring needs the true signals (items without 'target')")
    info = data.info
    rec, true, noisy = _physical(recovered, items, data.spec)
    signal = items["is_signal"].numpy()
    base = bandpass_baseline(noisy, info["sampling_rate_mhz"], info["band_mhz"])
    out: dict[str, Any] = radio_metrics(rec, true, noisy, signal)
    out.update({f"baseline_{k}": v for k, v in radio_metrics(base, true, noisy, signal).items()})
    out = {k: v for k, v in out.items() if not math.isnan(v)}  # NaN is not JSON: a metric without traces is left out
    for prefix, recovered_ in (("", rec), ("baseline_", base)):
        out.update({f"{prefix}{k}_interval": v for k, v in median_intervals(recovered_, true, noisy, signal).items()})
    return {**out, "n_traces": int(len(signal)), "n_signal": int(signal.sum())}


def median_intervals(rec: np.ndarray, true: np.ndarray, noisy: np.ndarray, signal: np.ndarray) -> dict[str, list]:
    """95 % bootstrap intervals (over the signal traces) of the median figures: SNR gain, NMSE, energy ratio."""
    r, t, n = rec[signal], true[signal], noisy[signal]
    figures = {"snr_gain_db": lambda i: snr_gain_db(r[i], t[i], n[i]), "nmse": lambda i: nmse(r[i], t[i]),
               "energy_ratio_median": lambda i: energy_ratio_summary(r[i], t[i])["energy_ratio_median"]}
    out = {k: bootstrap_interval(f, len(r)) for k, f in figures.items()}
    return {k: list(v) for k, v in out.items() if v is not None}


def _physical(recovered: torch.Tensor, items: dict[str, torch.Tensor], spec: DataSpec) -> tuple[np.ndarray, ...]:
    """recovered, true, noisy [N, L] in physical units (float64 numpy), through the data spec's value range."""
    per_item = {"scale": items["scale"].double(), "offset": items["offset"].double()}
    traces = (recovered.detach().cpu(), items["target"], items["input"])
    return tuple(spec.ranges["input"].to_physical(x.double(), per_item)[:, 0].numpy() for x in traces)


def _examples(items: dict[str, torch.Tensor], signal: np.ndarray) -> np.ndarray:
    """Three signal traces to plot: at the 10%, 50% and 90% SNR quantiles when the SNR is known."""
    n = int(signal.sum())
    if "snr" not in items or n < 3:
        return np.arange(min(n, 3))
    order = np.argsort(items["snr"].numpy()[signal])
    return order[[n // 10, n // 2, (9 * n) // 10]]


def _head(dataset, n: int) -> dict[str, torch.Tensor]:
    """The first n items of a TensorDictDataset split as one batch."""
    return dataset.__getitems__(list(range(min(n, len(dataset)))))[0]
