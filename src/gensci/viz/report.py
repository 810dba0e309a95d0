"""report.html: one page a person reads first, leading with the answer. Figures are saved beside it and embedded.

The page, in this order (sections are sorted by their `role`, so a workflow cannot reorder it by accident):
  header        where the weights come from (a run's steps and training time from metrics.jsonl; shipped
                weights' steps, training time and command from their manifest);
  verdict       the headline figures (this run vs the data vs a baseline vs the published figure, each with
                its n and 95 % interval) and the domain's verdicts with their reasons in words;
  figures       the pictures and distribution plots that back the verdict;
  measurements  every measured key (folded);
  training      the training curves;
  config        the resolved config (folded).
This module only lays out what the workflows measured and drew; the verdicts come from them
(gensci.workflows.base.Workflow.verdict).
"""

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
    role: str = "figures"  # one of ROLES: where the section goes on the page
    collapsed: bool = False  # folded (<details>) until the reader opens it
    parts: list["ReportSection"] = field(default_factory=list)  # sub-blocks, each under its own smaller heading


ROLES = ("verdict", "figures", "measurements", "training", "config")  # the page's order


@dataclass
class Headline:
    """One row of the verdict table: a headline figure of this run beside the data's, baselines' and a paper's."""

    name: str
    value: Any
    n: int | None = None  # the items behind `value` (molecules, test images, bins), stated beside it
    interval: tuple[float, float] | None = None  # 95 %
    interval_kind: str = ""  # how it was made: "Wilson", "bootstrap"
    data: Any = None  # the same figure for the real data, measured by gensci
    data_paper: Any = None  # ... and as a paper reports it
    baselines: dict[str, Any] = field(default_factory=dict)  # the classical methods a scientist would use instead
    published: Any = None  # a published model's figure
    source: str = ""  # where `published` / `data_paper` come from
    note: str = ""  # what the figure means, which way is better


@dataclass
class Verdict:
    """A judgement with its reason in words. ok: True (good), False (a problem), None (not judged, or information)."""

    name: str
    outcome: str
    ok: bool | None
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {"verdict": self.outcome, "ok": self.ok, "reason": self.reason}


STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{margin-bottom:.2em} h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0} td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f4f4f4} td:first-child,th:first-child{text-align:left}
img{max-width:100%;border:1px solid #eee;margin:.4em 0} .muted{color:#777;font-size:.9em}
.flag{background:#fde2e1;color:#8a1c12;padding:.4em .8em;border-radius:4px;font-weight:600;display:inline-block}
pre{background:#f7f7f7;padding:.8em;overflow-x:auto;font-size:.85em}
details>summary{cursor:pointer} details>summary>h2{display:inline-block;margin:.4em 0}
ul.verdicts{list-style:none;padding-left:0} ul.verdicts li{margin:.3em 0}
.ok{color:#17663a;font-weight:600} .bad{color:#8a1c12;font-weight:600} .na{color:#777;font-weight:600}
.provenance{font-size:.95em;color:#444}
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


MARKS = {True: ("ok", "✓"), False: ("bad", "✗"), None: ("na", "–")}


def verdicts_html(verdicts: Iterable[Verdict]) -> str:
    """The verdicts as a list: a mark, the outcome in bold, the reason."""
    items = []
    for v in verdicts:
        css, mark = MARKS[v.ok]
        items.append(f"<li class='{css}-verdict'><span class='{css}'>{mark} {html.escape(v.name)}: "
                     f"{html.escape(v.outcome)}</span> — {html.escape(v.reason)}</li>")
    return f"<ul class='verdicts'>{''.join(items)}</ul>" if items else ""


def interval_text(h: Headline) -> str:
    if h.interval is None:
        return ""
    return f"{fmt(float(h.interval[0]))} – {fmt(float(h.interval[1]))}" + (f" ({h.interval_kind})" if h.interval_kind else "")


def headline_table(headlines: Iterable[Headline]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Rows {name: {column: value}} and the columns that any row fills, in a fixed order."""
    rows: dict[str, dict[str, Any]] = {}
    for h in headlines:
        row = {"this run": h.value, "95 % interval": interval_text(h), "n": h.n, "data": h.data,
               "data (paper)": h.data_paper, **h.baselines, "published": h.published, "source": h.source,
               "meaning": h.note}
        rows[h.name] = {k: v for k, v in row.items() if v is not None and v != ""}
    order = ["this run", "95 % interval", "n", "data", "data (paper)"]
    baselines = list(dict.fromkeys(b for h in headlines for b in h.baselines))
    columns = [c for c in [*order, *baselines, "published", "source", "meaning"] if any(c in r for r in rows.values())]
    return rows, columns


def verdict_section(headlines: list[Headline], verdicts: list[Verdict], text: str = "",
                    parts: Iterable[ReportSection] = ()) -> ReportSection:
    """The page's first section: the verdicts in words, the headline table, then any per-condition tables."""
    rows, columns = headline_table(headlines)
    intro = verdicts_html(verdicts) + (f"<p>{text}</p>" if text else "")
    return ReportSection("Verdict", intro, table=rows or None, columns=columns, role="verdict", parts=list(parts))


def section_html(section: ReportSection, level: int = 2) -> str:
    """A section as <section class="report-ROLE">: heading, text, table, figures, parts; folded when collapsed."""
    heading = f"<h{level}>{html.escape(section.title)}</h{level}>"
    body = []
    if section.text:
        body.append(f"<div class='text'>{section.text}</div>")
    if section.table:
        body.append(table_html(section.table, section.columns))
    body += [embed(Path(f)) for f in section.figures if Path(f).exists()]
    body += [section_html(p, min(level + 1, 6)) for p in section.parts]
    inner = (f"<details><summary>{heading}</summary>{''.join(body)}</details>" if section.collapsed
             else heading + "\n".join(body))
    if level > 2:  # a part of a section: a block inside it, not a section of the page
        return f"<div class='report-part'>{inner}</div>"
    return f"<section class='report-{html.escape(section.role)}'>{inner}</section>"


def page(title: str, subtitle: str, sections: Iterable) -> str:
    body = "\n".join(section_html(s) for s in sections)
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1><p class='provenance'>{subtitle}</p>"
        f"{body}</body></html>"
    )


def provenance_html(run, metrics: dict[str, Any]) -> str:
    """The header: data and method, and where the weights come from (`run.provenance()`)."""
    cfg, prov = run.config, run.provenance()
    parts = [f"{html.escape(cfg.description or cfg.name)} — data <b>{html.escape(cfg.data.name)}</b>, "
             f"method <b>{html.escape(cfg.method.name)}</b>."]
    steps = prov.get("steps")
    minutes = prov.get("training_minutes")
    trained = (f"{steps:,} training steps" if isinstance(steps, int) else "training steps unknown")
    trained += f", {minutes:.1f} min of training" if isinstance(minutes, (int, float)) else ""
    cpu = prov.get("cpu_minutes")
    trained += f" ({cpu:.1f} CPU-min)" if isinstance(cpu, (int, float)) else ""
    parts.append(f"<b>{html.escape(prov['source'])}</b>: {trained}.")
    if prov.get("command"):
        parts.append(f"Trained with <code>{html.escape(str(prov['command']))}</code>.")
    loaded = metrics.get("checkpoint") or prov.get("checkpoint")
    if loaded:
        parts.append(f"Weights: {html.escape(str(loaded))}.")
    return " ".join(parts)


def write_run_report(run, metrics: dict[str, Any], sections: list[ReportSection]) -> Path:
    """report.html of a run: the workflow's `sections` (its verdict and figures) with the header, every
    measured key (folded), the training curves and the config (folded), in the order of ROLES."""
    cfg = run.config
    scalar = {k: v for k, v in metrics.items() if not isinstance(v, (dict, list))}
    sections = list(sections) + [ReportSection("All measurements", "Every key of the evaluation (evaluation.json).",
                                               table=scalar, role="measurements", collapsed=True)]
    curves = plot_training_curves(run.history(), run.figures_dir / "training_curves.png")
    if curves:
        sections.append(ReportSection("Training", "Loss terms per logged step and periodic evaluations (EMA weights).",
                                      [curves], role="training"))
    sections.append(ReportSection("Configuration", f"<pre>{html.escape(cfg.to_yaml())}</pre>", role="config",
                                  collapsed=True))
    unknown = {s.role for s in sections} - set(ROLES)
    if unknown:
        raise ValueError(f"report sections with unknown roles {sorted(unknown)}; expected one of {ROLES}")
    sections.sort(key=lambda s: ROLES.index(s.role))  # stable: a workflow's own order is kept within a role
    out = atomic_write(run.out / "report.html", page(f"gensci report: {cfg.name}", provenance_html(run, metrics),
                                                     sections))
    atomic_write(run.out / "evaluation.json", json.dumps(metrics, indent=2))
    return out
