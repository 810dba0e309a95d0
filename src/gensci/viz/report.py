"""report.html: one page a person reads first. Figures are saved beside it and embedded."""

from __future__ import annotations

import base64
import html
import json
import mimetypes
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from gensci.files import atomic_write
from gensci.viz.curves import plot_training_curves


@dataclass
class ReportSection:
    """One block of report.html: a heading, optional prose/HTML, figures (PNG/GIF paths), a metric table."""

    title: str
    text: str = ""
    figures: list[Path] = field(default_factory=list)
    table: dict[str, Any] | None = None
    columns: list[str] | None = None  # for a table whose values are rows (dict of dicts)

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{margin-bottom:.2em} h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0} td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f4f4f4} td:first-child,th:first-child{text-align:left}
img{max-width:100%;border:1px solid #eee;margin:.4em 0} .muted{color:#777;font-size:.9em}
.flag{background:#fde2e1;color:#8a1c12;padding:.4em .8em;border-radius:4px;font-weight:600;display:inline-block}
pre{background:#f7f7f7;padding:.8em;overflow-x:auto;font-size:.85em}
"""


def fmt(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return ", ".join(fmt(x) for x in v)
    return html.escape(str(v))


def table_html(table: dict[str, Any], columns: list[str] | None = None) -> str:
    """A metric table: {key: value}, or {row: {column: value}} with `columns`."""
    if columns:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in ["", *columns])
        rows = "".join(
            f"<tr><td>{html.escape(str(k))}</td>" + "".join(f"<td>{fmt(row.get(c, ''))}</td>" for c in columns) + "</tr>"
            for k, row in table.items()
        )
        return f"<table><tr>{head}</tr>{rows}</table>"
    rows = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{fmt(v)}</td></tr>" for k, v in table.items())
    return f"<table><tr><th>measure</th><th>value</th></tr>{rows}</table>"


def embed(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "image/png"
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f'<figure><img src="data:{mime};base64,{data}" alt="{html.escape(path.name)}"><figcaption class="muted">{html.escape(path.name)}</figcaption></figure>'


def section_html(section) -> str:
    parts = [f"<h2>{html.escape(section.title)}</h2>"]
    if section.text:
        parts.append(f"<p>{section.text}</p>")
    if section.table:
        parts.append(table_html(section.table, section.columns))
    parts += [embed(Path(f)) for f in section.figures if Path(f).exists()]
    return "\n".join(parts)


def page(title: str, subtitle: str, sections: Iterable) -> str:
    body = "\n".join(section_html(s) for s in sections)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1><p class='muted'>{subtitle}</p>{body}</body></html>"
    )


def write_run_report(run, metrics: dict[str, Any], extra_sections: list) -> Path:
    cfg = run.config
    history = run.history()
    train_rows = [r for r in history if r.get("kind") == "train"]
    last = train_rows[-1] if train_rows else {}
    subtitle = (
        f"{html.escape(cfg.description or cfg.name)} — data <b>{cfg.data.name}</b>, method <b>{cfg.method.name}</b>; "
        f"{last.get('step', 0)} steps in {last.get('time', 0) / 60:.1f} min"
    )
    scalar = {k: v for k, v in metrics.items() if not isinstance(v, (dict, list))}
    sections = [ReportSection("Measurements", table=scalar)] + list(extra_sections)
    curves = plot_training_curves(history, run.figures_dir / "training_curves.png")
    if curves:
        sections.append(ReportSection("Training", "Loss terms per logged step and periodic evaluations (EMA weights).", [curves]))
    sections.append(ReportSection("Configuration", f"<pre>{html.escape(cfg.to_yaml())}</pre>"))
    out = atomic_write(run.path / "report.html", page(f"gensci report: {cfg.name}", subtitle, sections))
    atomic_write(run.path / "evaluation.json", json.dumps(metrics, indent=2))
    return out
