"""Building blocks of the verdicts every workflow gives (`Workflow.headlines` / `verdicts`): a headline figure with
its n and interval read from an evaluation, a figure against its published value, a "fraction of bins within
2 sigma" against what a second draw of the data gives, and one figure against a baseline's.

Intervals come from the evaluation's own keys where it made them (bootstrap: `<key>_interval` [lo, hi],
`<key>_lo` / `<key>_hi`; `<key>_95ci` "lo-hi"), else, for a proportion of n items, Wilson's
(gensci.metrics.intervals). A figure without either is shown without an interval, never with an invented one.
"""

from __future__ import annotations

import math
from typing import Any

from gensci.metrics.intervals import WITHIN_2SIGMA, proportion_interval, within_tail
from gensci.viz.report import Headline, Verdict


def measured(metrics: dict[str, Any], key: str, n: int | None = None, proportion: bool = False,
             **fields: Any) -> Headline | None:
    """metrics[key] as a Headline (None when not measured or not a number), with its interval (module docstring);
    `fields` fill the rest (data, published, baselines, source, note)."""
    value = metrics.get(key)
    if not _number(value):
        return None
    interval, kind = own_interval(metrics, key)
    if interval is None and proportion and n:
        interval, kind = proportion_interval(float(value), int(n)), "Wilson"
    return Headline(key, value, n=n, interval=interval, interval_kind=kind if interval else "", **fields)


def own_interval(metrics: dict[str, Any], key: str) -> tuple[tuple[float, float] | None, str]:
    """The interval an evaluation stored beside `key`, in any of the conventions of the module docstring."""
    pair = metrics.get(f"{key}_interval")
    if isinstance(pair, (list, tuple)) and len(pair) == 2:
        return (float(pair[0]), float(pair[1])), "bootstrap"
    lo, hi = metrics.get(f"{key}_lo"), metrics.get(f"{key}_hi")
    if _number(lo) and _number(hi):
        return (float(lo), float(hi)), "bootstrap"
    text = metrics.get(f"{key}_95ci")
    if isinstance(text, str) and "-" in text.strip("-"):
        lo_text, _, hi_text = text.rpartition("-")
        return (float(lo_text), float(hi_text)), "Wilson"
    return None, ""


def against_published(h: Headline, higher_is_better: bool = True) -> Verdict | None:
    """Where the published model's figure lies against this run's 95 % interval: matched (inside it), or this
    run is clearly below / above it. None without an interval or a published figure."""
    if h.interval is None or not _number(h.published):
        return None
    lo, hi = h.interval
    where = f"published {h.published:.4g}" + (f" ({h.source})" if h.source else "")
    reason = f"{h.value:.4g} (95 % interval {lo:.4g} – {hi:.4g}, n = {h.n}) against the {where}"
    if lo <= h.published <= hi:
        return Verdict(h.name, "matches the published figure", True, reason)
    better = (lo > h.published) == higher_is_better
    return Verdict(h.name, f"{'above' if lo > h.published else 'below'} the published figure", better, reason)


def within_verdict(name: str, fraction: float, n_bins: int, what: str) -> Verdict:
    """A "fraction of bins within 2 sigma of the data" against a second draw of the data (which gives ~0.95):
    consistent unless fewer than 5 % of such draws would score as low (gensci.metrics.intervals.within_tail)."""
    if not n_bins or not _number(fraction):
        return Verdict(name, "not judged", None, f"no {what} bins were measured")
    k, tail = round(fraction * n_bins), within_tail(fraction, n_bins)
    reason = (f"{k} of {n_bins} {what} bins within 2σ of the test data; a second draw of the data has "
              f"{WITHIN_2SIGMA:.3f} of its bins within, and scores {k} or fewer with probability {tail:.2g} "
              "(binomial, bins taken as independent)")
    if tail >= 0.05:
        return Verdict(name, "consistent with the data", True, reason)
    return Verdict(name, "differs from the data", False, reason)


def against_baseline(h: Headline, baseline: Headline, name: str, higher_is_better: bool = True) -> Verdict | None:
    """This run's figure against a baseline's (`name`, measured on the same items), both with intervals: better or
    worse only when the two 95 % intervals do not overlap (a conservative reading), else not distinguishable."""
    if h.interval is None or baseline.interval is None:
        return None
    (lo, hi), (blo, bhi) = h.interval, baseline.interval
    reason = (f"{h.value:.4g} ({lo:.4g} – {hi:.4g}) against {name} {baseline.value:.4g} ({blo:.4g} – {bhi:.4g}); "
              f"95 % intervals, n = {h.n}")
    if lo > bhi or hi < blo:
        better = (lo > bhi) == higher_is_better
        return Verdict(h.name, f"{'better' if better else 'worse'} than {name}", better, reason)
    return Verdict(h.name, f"not distinguishable from {name}", None, reason + ": the intervals overlap")


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
