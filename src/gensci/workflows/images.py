"""Image runs (galaxies, FIRST, the user's image folders): sample grids, the image metrics with the
mode-collapse flag, VAE reconstructions / latent movies / anomaly AUROC, and side-by-side comparisons.

The metrics live in gensci.metrics.images; the feature-space ones are measured with a reference
classifier that gensci trains on the run's real training images (gensci.workflows.reference_net,
cached per data config and seed), and are withheld when its held-out accuracy is not clearly above
chance. Generated images are compared with the test split; for conditional models the labels are
balanced over the classes, so `class_accuracy` weighs every class equally.

Anomaly detection: when the data set was trained on a subset of its classes, its `info` lists
the others as `held_out_classes` (their images appear only in the test split). A VAE is then also
scored on the test split by the AUROC for "held-out class" of two scores: the negative ELBO
(`anomaly_auroc`), and the negative ELBO corrected for the image's PNG length (`anomaly_auroc_complexity`:
Serrà et al. 2020's correction of the likelihood's bias towards simple images; see vae_metrics).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gensci.config import ExperimentConfig
from gensci.data.base import DataSplits, config_digest
from gensci.errors import UserError
from gensci.files import atomic_write
from gensci.methods.base import Method, SamplingOptions
from gensci.workflows.base import (EvalOptions, Headline, ReportSection, Run, SampleOptions, Verdict, Workflow,
                                   eval_sampling, evaluation_name, periodic_sampling)
from gensci.workflows.reference_net import ReferenceNet
from gensci.workflows.reference_net import reference_net as trained_reference_net
from gensci.workflows.verdicts import measured

HEADLINE = ("fd_local", "kd_local", "coverage", "duplicate_rate", "mode_collapse", "class_accuracy", "elbo", "anomaly_auroc",
            "anomaly_auroc_complexity", "reference_accuracy", "feature_metrics_withheld")
COMPARE = ("fd_local", "kd_local", "precision", "recall", "density", "coverage", "duplicate_rate", "c2st_auc",
           "pixel_hist_distance", "power_spectrum_distance", "class_mix_distance", "class_accuracy", "elbo", "anomaly_auroc",
           "anomaly_auroc_complexity", "mode_collapse", "reference_accuracy", "reference_chance", "n_samples")
METRIC_NOTES = {
    "fd_local": "Fréchet distance in the reference-net features (biased at small N; lower is better)",
    "kd_local": "kernel (MMD², cubic kernel) distance in the same features; 0 ideal",
    "precision": "fraction of samples inside the real-feature manifold (k = 5)",
    "recall": "fraction of real images inside the sample manifold",
    "density": "how many real neighbourhoods contain each sample (≈ 1 for real data)",
    "coverage": "fraction of real images with a sample among their 5 nearest neighbours (≈ 0.97 for real data)",
    "class_mix_distance": "total variation between the class mixes the reference net sees in samples and real images",
    "duplicate_rate": "samples with a near-duplicate among the samples (≈ 0.01 for real data)",
    "c2st_auc": "real-vs-generated classifier AUC; 0.5 ideal",
    "pixel_hist_distance": "Wasserstein-1 distance of pixel intensities",
    "power_spectrum_distance": "mean |log10 P_gen(k) / P_real(k)| of radial power spectra",
    "class_accuracy": "conditional samples classified as their requested class",
    "elbo": "mean evidence lower bound per test image (nats)",
    "anomaly_auroc": "AUROC of the VAE anomaly score (negative ELBO) for held-out classes",
    "anomaly_auroc_complexity": "AUROC of the negative ELBO corrected for the PNG length (Serrà et al. 2020)",
    "reference_accuracy": "held-out accuracy of the reference classifier whose features the metrics use",
    "reference_chance": "the most frequent class's share of those held-out images (chance accuracy)",
}
VERDICT_KEYS = ("fd_local", "kd_local", "precision", "recall", "coverage", "duplicate_rate", "c2st_auc",
                "class_accuracy", "elbo", "anomaly_auroc", "anomaly_auroc_complexity", "pixel_hist_distance",
                "power_spectrum_distance")
PROPORTIONS = {"precision", "recall", "coverage", "duplicate_rate", "class_accuracy"}  # fractions of n images
# what a second draw of real images scores (gensci.metrics.images): coverage 1 - 2^-5 for large n (Naeem et al. 2020,
# Sec. 4), duplicate rate 0.01 by construction (duplicate_rate), c2st AUC 0.5 (indistinguishable sets)
REAL_DATA = {"coverage": 0.97, "duplicate_rate": 0.01, "c2st_auc": 0.5}
REFERENCE_STEPS: int | None = None  # reference-net training steps (None: reference_net's default; tests lower it)
_REF_NETS: dict[tuple[str, int | None], ReferenceNet] = {}  # per-process cache (also cached on disk)


# -- helpers ---------------------------------------------------------------------------------------
def reference_net(data: DataSplits, config: ExperimentConfig) -> ReferenceNet:
    """The reference classifier/feature net of this data config: trained once on its training images
    (gensci.workflows.reference_net, cached on disk), then kept in this process."""
    digest = config_digest(config.data.model_dump(mode="json"))
    key = f"{config.data.name}-{digest}"
    steps = {"steps": REFERENCE_STEPS} if REFERENCE_STEPS else {}
    if (key, REFERENCE_STEPS) not in _REF_NETS:
        with torch.enable_grad():  # the trainer's periodic evaluation runs under no_grad
            _REF_NETS[key, REFERENCE_STEPS] = trained_reference_net(data, key, seed=config.data.seed, **steps)
    return _REF_NETS[key, REFERENCE_STEPS]


def value_range(data: DataSplits):
    """The declared range of the images (gensci.spec.ValueRange), or None when the spec gives none."""
    return data.spec.ranges.get("x") if data.spec is not None else None


def is_conditional(method: Method) -> bool:
    return "conditional" in method.capabilities


def condition_labels(method: Method, labels: torch.Tensor) -> torch.Tensor | None:
    """The labels a method's per-image uses (ELBO, reconstruction) need: `labels` for a conditional
    method, None otherwise."""
    return labels.to(method.device) if is_conditional(method) else None


@torch.no_grad()
def draw(method: Method, n: int, seed: int = 0, options: SamplingOptions | None = None, class_label: int | None = None,
         labels: torch.Tensor | None = None):
    """n samples on the CPU: (x [n, C, H, W], labels [n] or None). Conditional models get `labels`
    ([n], e.g. those of a test split) when given, else `class_label` for all, else labels cycling over
    the classes; one seeded CPU generator makes it reproducible."""
    g = torch.Generator().manual_seed(seed)
    if labels is not None and is_conditional(method):
        return method.sample(n, condition=labels, generator=g, options=options)["x"].float().cpu(), labels
    labels = None
    if is_conditional(method):
        k = int(method.info["n_classes"])
        if class_label is not None and not 0 <= class_label < k:
            names = method.info.get("class_names") or list(range(k))
            raise UserError(f"--class {class_label}: this model has classes 0..{k - 1} ({', '.join(map(str, names))})")
        labels = torch.full((n,), class_label) if class_label is not None else torch.arange(n) % k
    elif class_label is not None:
        raise UserError("--class needs a class-conditional model (e.g. preset galaxy-acgan, or method.conditional=true)")
    return method.sample(n, condition=labels, generator=g, options=options)["x"].float().cpu(), labels


def write_samples(run: Run, options: SampleOptions, x: torch.Tensor, labels: torch.Tensor | None,
                  arrays: dict[str, np.ndarray] | None = None, span: tuple[float, float] | None = None,
                  grid: int | None = None) -> list[Path]:
    """Write samples x [n, C, H, W] as RUN/samples/samples[_classK].npz (or options.out) with keys
    "images", "labels" (conditional models) and any `arrays` (e.g. the condition values, physical
    units), and a PNG grid beside it (one row per class when the labels cycle over the classes; at most
    `grid` images without labels)."""
    from gensci.viz.images import grid_per_class, image_grid

    stem = "samples" if options.class_label is None else f"samples_class{options.class_label}"
    out = Path(options.out) if options.out is not None else run.samples_dir / f"{stem}.npz"
    if out.is_dir() or out.suffix == "":
        out = out / f"{stem}.npz"
    out = out.with_suffix(".npz")  # numpy appends .npz to any other name: the file would not be where it is said
    content = {"images": x.numpy()} | ({"labels": labels.numpy()} if labels is not None else {}) | (arrays or {})
    atomic_write(out, lambda tmp: np.savez_compressed(tmp, **content))
    png = out.with_suffix(".png")
    names = run.info.get("class_names") or []
    if labels is not None and options.class_label is None:
        grid_per_class(x, labels, names, png, per_class=min(8, max(1, len(x) // len(names))), span=span)
    else:
        title = f"class {options.class_label}: {names[options.class_label]}" if options.class_label is not None else ""
        image_grid(x[:grid], png, nrow=8, title=title, span=span)
    return [out, png]


def write_evaluation_samples(run: Run, options: EvalOptions, described: dict[str, Any], fake: torch.Tensor,
                             labels: torch.Tensor | None, real: torch.Tensor) -> list[Path]:
    """The images an evaluation measured, to look at: an npz of all and a PNG grid (8 per class, or the first
    64), named by checkpoint, n, sampler, steps and seed (evaluation_name), on the real images' display scale."""
    from gensci.metrics.images import pixel_span

    name = evaluation_name(len(fake), described, options.seed, ".npz", run.checkpoint_path(options.checkpoint).stem)
    span = pixel_span(value_range(run.data), real, fake)
    return write_samples(run, SampleOptions(out=run.samples_dir / name), fake, labels, span=span, grid=64)


def images_of(split, classes=None, n: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, labels) of a TensorDictDataset split, optionally only `classes`, at most the first n."""
    x, y = split.tensors["x"], split.tensors["label"]
    if classes is not None:
        keep = torch.isin(y, torch.as_tensor(list(classes)))
        x, y = x[keep], y[keep]
    return x[:n], y[:n]


def trained_classes(info: dict) -> list[int] | None:
    held = set(info.get("held_out_classes") or [])
    return [k for k in range(int(info.get("n_classes") or 0)) if k not in held] if held else None


@torch.no_grad()
def vae_metrics(method: Method, data: DataSplits, seed: int = 0, batch_size: int = 250) -> dict[str, float]:
    """elbo (mean over test images of the trained classes) and, with held-out classes, the AUROC for
    "held-out class" of two anomaly scores on the test split: -ELBO (anomaly_auroc) and -ELBO corrected
    for input complexity (anomaly_auroc_complexity: gensci.metrics.anomaly.complexity_corrected_score,
    its exchange rate between -ELBO and the PNG length fitted on the validation images, which hold
    only trained classes)."""
    from gensci.metrics.anomaly import anomaly_auroc, complexity_corrected_score, compressed_bits

    g = torch.Generator().manual_seed(seed)

    def neg_elbo(x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
        return -torch.cat([method.elbo(x[i : i + batch_size].to(method.device), generator=g,
                                       labels=condition_labels(method, y[i : i + batch_size])).cpu()
                           for i in range(0, len(x), batch_size)]).numpy()

    x, y = images_of(data.test)
    nll = neg_elbo(x, y)
    held = torch.as_tensor(list(data.info.get("held_out_classes") or []), dtype=y.dtype)
    is_held = torch.isin(y, held).numpy()
    out = {"elbo": float(-nll[~is_held].mean())}
    if is_held.any() and (~is_held).any():
        valid, valid_y = images_of(data.valid)
        span = value_range(data)
        corrected = complexity_corrected_score(nll, compressed_bits(x, span), neg_elbo(valid, valid_y),
                                               compressed_bits(valid, span))
        out["anomaly_auroc"] = anomaly_auroc(nll, is_held)
        out["anomaly_auroc_complexity"] = anomaly_auroc(corrected, is_held)
        out["elbo_held_out"] = float(-nll[is_held].mean())
    return out


# -- the workflow ----------------------------------------------------------------------------------
class ImageWorkflow(Workflow):
    domain = "images"

    def prepare(self, data: DataSplits, config: ExperimentConfig) -> None:
        """Build (or load) the reference network before training, so that its one-off training
        does not count against the run's time budget at the first periodic evaluation."""
        reference_net(data, config)

    def periodic_eval(self, method: Method, data: DataSplits, config: ExperimentConfig) -> dict[str, float]:
        """kd_local and coverage of ~200 samples against as many validation images (when the reference
        network is trusted), the pixel-histogram distance, + ELBO for VAEs."""
        from gensci.metrics.images import features, kernel_distance, pixel_hist_distance, prdc

        n = min(config.eval.periodic_n_samples, 200)
        real, real_y = images_of(data.valid, trained_classes(data.info), n)
        fake, _ = draw(method, len(real), seed=0, options=periodic_sampling(method, config.eval))
        out = {"pixel_hist_distance": pixel_hist_distance(fake, real, value_range=value_range(data))}
        judge = reference_net(data, config).judge()
        if judge.withheld_reason() is None:
            fr, ff = features(judge, real), features(judge, fake)
            out["kd_local"] = kernel_distance(ff, fr)
            if len(real) > 5:
                out["coverage"] = prdc(fr, ff)["coverage"]
        if "elbo" in method.capabilities:
            out["elbo"] = float(method.elbo(real.to(method.device), generator=torch.Generator().manual_seed(0),
                                            labels=condition_labels(method, real_y)).mean())
        return out

    def evaluate(self, run: Run, options: EvalOptions) -> dict[str, Any]:
        from gensci.metrics.images import image_metrics
        from gensci.workflows.inpainting import evaluate_inpainting, wants_inpainting

        if wants_inpainting(options):
            return evaluate_inpainting(run, options)

        method, data, cfg = run.method(checkpoint=options.checkpoint), run.data, run.config
        n = options.n or cfg.eval.n_samples
        sampling = options.sampling(cfg.eval)
        fake, labels = draw(method, n, options.seed, sampling)
        real, _ = images_of(data.test, trained_classes(data.info))
        judge = reference_net(data, cfg).judge()
        metrics = image_metrics(fake, real, judge, labels=labels, value_range=value_range(data))
        metrics |= method.describe_sampling(sampling)
        if "elbo" in method.capabilities:
            metrics.update(vae_metrics(method, data, options.seed, sampling.batch_size or cfg.eval.batch_size))
        metrics["sample_files"] = [str(p) for p in write_evaluation_samples(run, options, metrics, fake, labels, real)]
        return {k: v for k, v in metrics.items() if not (isinstance(v, float) and np.isnan(v))}

    def sample(self, run: Run, options: SampleOptions) -> list[Path]:
        """An npz (images float32 [n, C, H, W] in the data's range, labels for conditional models) and a PNG grid;
        with options.input: posterior samples given the measured images (gensci.workflows.posterior)."""
        from gensci.workflows.posterior import posterior_samples, wants_posterior

        if wants_posterior(options):
            return posterior_samples(run, options)
        method = run.method(checkpoint=options.checkpoint)
        x, labels = draw(method, options.n or 64, options.seed, options.sampling(), options.class_label)
        return write_samples(run, options, x, labels)

    def report(self, run: Run, metrics: dict[str, Any]) -> list[ReportSection]:
        from gensci.viz.images import grid_per_class, image_grid, plot_pixel_hist, plot_power_spectra, strip, write_gif

        from gensci.metrics.images import pixel_span

        method, data, fig = run.method(), run.data, run.figures_dir
        names = data.info.get("class_names") or []
        real, real_y = images_of(data.test, trained_classes(data.info))
        fake, labels = draw(method, min(len(real), 512), seed=0, options=eval_sampling(run.config.eval))
        span = pixel_span(value_range(data), real, fake)  # one display scale for real and generated images
        sections = []
        if labels is not None:
            grid = grid_per_class(fake, labels, names, fig / "samples_per_class.png", title="samples, one row per class",
                                  span=span)
        else:
            grid = image_grid(fake[:64], fig / "samples.png", title="samples", span=span)
        real_grid = grid_per_class(real, real_y, names, fig / "real_per_class.png", title="real test images", span=span)
        sections.append(ReportSection("Samples", "Generated (top) and real (bottom) images.", [grid, real_grid]))
        if "interpolate" in method.capabilities:
            x = real[:8].to(method.device)
            pairs = torch.stack([x, method.reconstruct(x)], 1).flatten(0, 1).cpu()
            recon = image_grid(pairs, fig / "reconstructions.png", nrow=8, title="real / reconstruction (pairs)", span=span)
            a, b = _two_classes(real_y)
            frames = method.interpolate(real[a], real[b], n_frames=12).cpu()
            ends = torch.cat([real[a : a + 1], frames, real[b : b + 1]])
            movie = [strip(ends, fig / "interpolation.png", title="real A | decoded latent path A → B | real B", span=span),
                     write_gif(frames, fig / "interpolation.gif", span=span)]
            sections.append(ReportSection("Reconstructions and the latent movie",
                                          "Decoded straight-line path between the posterior means of two test galaxies.",
                                          [recon, *movie]))
        sections.append(ReportSection("Image statistics", "Radially averaged power spectra and pixel-value histograms.", [
            plot_power_spectra(real, fake, fig / "power_spectra.png"),
            plot_pixel_hist(real, fake, fig / "pixel_hist.png", value_range=value_range(data))]))
        return sections

    def headline(self, metrics: dict[str, Any]) -> dict[str, Any]:
        return {k: metrics[k] for k in HEADLINE if k in metrics}

    def headlines(self, metrics: dict[str, Any]) -> list[Headline]:
        """The image metrics with their n (samples, or real test images for coverage and recall; the smaller of
        the two for the duplicate rate, which subsamples both) and Wilson intervals for the proportions; beside
        them what real images score (the calibrations in gensci.metrics.images)."""
        n, n_real = metrics.get("n_samples"), metrics.get("n_reference")
        sizes = {"coverage": n_real, "recall": n_real, "duplicate_rate": min(n or 0, n_real or 0) or None}
        rows = []
        for key in VERDICT_KEYS:
            row = measured(metrics, key, n=sizes.get(key, n), proportion=key in PROPORTIONS, data=REAL_DATA.get(key),
                           note=METRIC_NOTES.get(key, ""))
            if row is not None:
                rows.append(row)
        for row in rows:
            if row.name == "class_accuracy":  # the reference network on real held-out images: the data's own figure
                row.data = metrics.get("reference_accuracy")
        return rows

    def verdicts(self, metrics: dict[str, Any]) -> list[Verdict]:
        """Whether the feature metrics could be trusted (the reference network's skill), and mode collapse with
        its reason (duplicates, dropped classes, and the classes that could not be judged)."""
        from gensci.metrics.images import collapse_reason

        out = []
        if "reference_accuracy" in metrics:
            judge = (f"held-out accuracy {metrics['reference_accuracy']:.3f} against chance "
                     f"{metrics['reference_chance']:.3f}")
            withheld = metrics.get("feature_metrics_withheld")
            out.append(Verdict("reference_network", "feature metrics withheld" if withheld else "trusted",
                               None if withheld else True, withheld or judge))
        if "duplicate_rate" in metrics or "feature_metrics_withheld" in metrics:
            collapsed = metrics.get("mode_collapse")
            outcome = "MODE COLLAPSE" if collapsed else ("not measured" if collapsed is None else "no collapse")
            out.append(Verdict("mode_collapse", outcome, None if collapsed is None else not collapsed,
                               collapse_reason(metrics)))
        return out

    def verdict_text(self, metrics: dict[str, Any]) -> str:
        return (f"{metrics.get('n_samples', '?')} generated images against {metrics.get('n_reference', '?')} real test "
                "images; feature metrics in the reference network's features (trained on this data set: comparable "
                "only between runs on the same data and reference seed). Mode collapse is about diversity only; "
                "fidelity (precision, fd/kd, c2st) is reported beside it.")

    def compare_table(self, runs: list[Run], metrics: list[dict]) -> ReportSection:
        return compare_runs(runs, metrics)

    def compare_sections(self, runs: list[Run], metrics: list[dict], out_dir: Path | None = None) -> list[ReportSection]:
        """`gensci compare` figures (the table is `compare_runs`): every run's power spectrum and pixel
        histogram against the real test images in one plot each, and a sample grid per run.
        Figures go to `out_dir` (default: compare_figures/ beside the first run)."""
        from gensci.metrics.images import pixel_span
        from gensci.viz.images import image_grid, plot_pixel_hist, plot_power_spectra

        out_dir = Path(out_dir) if out_dir is not None else runs[0].path.parent / "compare_figures"
        data = runs[0].data
        real, _ = images_of(data.test, trained_classes(data.info))
        fakes = {_name(r, runs): draw(m, min(len(real), 256), seed=0, options=eval_sampling(r.config.eval))[0]
                 for r in runs for m in [r.method()]}
        span = pixel_span(value_range(data), real, *fakes.values())
        grids = [image_grid(x[:32], out_dir / f"samples_{name.replace('/', '_')}.png", title=name, span=span)
                 for name, x in fakes.items()]
        stats = [plot_power_spectra(real, fakes, out_dir / "power_spectra.png"),
                 plot_pixel_hist(real, fakes, out_dir / "pixel_hist.png", value_range=value_range(data))]
        return [ReportSection("Image statistics of all runs", "Real test images in black.", figures=stats),
                ReportSection("Samples of each run", figures=grids)]


def compare_runs(runs: list[Run], metrics: list[dict]) -> ReportSection:
    """The runs side by side: one row per run, the image metrics as columns; collapse flagged."""
    rows = {}
    for run, m in zip(runs, metrics):
        train = [r for r in run.history() if r.get("kind") == "train"]
        row = {"method": _method_label(run), "steps": train[-1]["step"] if train else 0,
               "minutes": round(train[-1]["time"] / 60, 2) if train else 0.0}
        rows[_name(run, runs)] = row | {k: m[k] for k in COMPARE if k in m}
    columns = list(dict.fromkeys(c for row in rows.values() for c in row))
    data = {json.dumps(r.config.data.model_dump(mode="json"), sort_keys=True) for r in runs}
    text = "" if len(data) == 1 else "<span class='flag'>the runs use different data configs: compare with care</span> "
    collapsed = [name for name, row in rows.items() if row.get("mode_collapse")]
    text += f"Mode collapse in: <b>{', '.join(collapsed)}</b>." if collapsed else "No run is flagged for mode collapse."
    return ReportSection("Runs side by side", text, table=rows, columns=columns)


def _two_classes(labels: torch.Tensor) -> tuple[int, int]:
    """Indices of the first two images of different classes (else the first two)."""
    other = torch.nonzero(labels != labels[0])
    return 0, int(other[0]) if len(other) else min(1, len(labels) - 1)


def _method_label(run: Run) -> str:
    m = run.config.method
    return f"{m.name}:{m.objective}" if hasattr(m, "objective") else f"{m.name}:{getattr(m, 'net', '')}".rstrip(":")


def _name(run: Run, runs: list[Run]) -> str:
    names = [r.path.name for r in runs]
    return run.path.name if names.count(run.path.name) == 1 else f"{run.path.parent.name}/{run.path.name}"
