"""Training curves from metrics.jsonl rows."""

from __future__ import annotations

from pathlib import Path

from gensci.viz.figures import plt, save_figure

SKIP = {"step", "kind", "time", "lr", "steps_per_s", "samples_per_s", "eval_seconds", "non_finite_grads", "n_samples"}


def _numeric(rows: list[dict], key: str):
    pts = [(r["step"], r[key]) for r in rows if isinstance(r.get(key), (int, float)) and not isinstance(r.get(key), bool)]
    return [p[0] for p in pts], [p[1] for p in pts]


def plot_training_curves(history: list[dict], path: Path) -> Path | None:
    """Loss terms over steps (log scale where positive) and each periodic evaluation metric."""
    train = [r for r in history if r.get("kind") == "train"]
    evals = [r for r in history if r.get("kind") == "eval"]
    train_keys = [k for k in dict.fromkeys(k for r in train for k in r) if k not in SKIP and not k.startswith("grad_norm")]
    eval_keys = [k for k in dict.fromkeys(k for r in evals for k in r) if k not in SKIP]
    panels = [("train", k) for k in train_keys] + [("eval", k) for k in eval_keys]
    if not panels:
        return None
    ncols = min(3, len(panels))
    nrows = (len(panels) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.0 * nrows), squeeze=False)
    for ax, (kind, key) in zip(axes.flat, panels):
        steps, values = _numeric(train if kind == "train" else evals, key)
        ax.plot(steps, values, marker="o" if kind == "eval" else None, ms=3, color="C0" if kind == "train" else "C1")
        if kind == "train" and values and min(values) > 0 and max(values) / max(min(values), 1e-12) > 20:
            ax.set_yscale("log")
        ax.set_title(f"{key} ({kind})", fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.tight_layout()
    return save_figure(fig, path, tight=False)
