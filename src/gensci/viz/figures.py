"""Where every figure is made and saved: the non-interactive backend, and one atomic save."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no screen needed; set once here for every gensci figure
import matplotlib.pyplot as plt  # noqa: E402

from gensci.files import atomic_write  # noqa: E402

__all__ = ["plt", "save_figure"]


def save_figure(fig, path, dpi: int = 110, tight: bool = True, **savefig_kwargs) -> Path:
    """Save a matplotlib figure atomically (PNG unless the suffix says otherwise) and close it."""
    path = Path(path)
    if tight:
        savefig_kwargs.setdefault("bbox_inches", "tight")
    savefig_kwargs.setdefault("facecolor", "white")
    fmt = path.suffix.lstrip(".") or "png"
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format=fmt, **savefig_kwargs))
    plt.close(fig)
    return path
