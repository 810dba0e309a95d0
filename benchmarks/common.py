"""Helpers shared by the benchmark scripts (imported from benchmarks/<topic>/*.py; see benchmarks/README.md).

- `wilson_interval`: the 95 % Wilson interval of a fraction of n (what every molecule/image report quotes);
- `timed`: wall seconds of a call, with the process's CPU seconds on the side (with one torch thread, CPU seconds
  are robust to other jobs on a shared machine; wall seconds are not);
- `add_to_history`, `append_rows`: how a script writes into its topic's report. A report is the current table
  first, then "## History", newest first; scripts insert their dated section right under HISTORY_MARKER (so the
  file never becomes an append-only log at its end), or add rows to a table that follows a named marker line.
"""

from __future__ import annotations

import os
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path

HISTORY_MARKER = "<!-- benchmark scripts insert their dated sections below this line, newest first -->"


def wilson_interval(fraction: float, n: int) -> str:
    """Wilson 95 % interval of a fraction of n trials, e.g. '0.006-0.029'; '-' when n is 0."""
    from scipy.stats import binomtest

    if n <= 0:
        return "-"
    ci = binomtest(round(fraction * n), n).proportion_ci(confidence_level=0.95, method="wilson")
    return f"{ci.low:.3f}-{ci.high:.3f}"


def timed(fn: Callable[[], object], cpu: list | None = None) -> float:
    """Wall seconds of fn(); appends the process CPU seconds to `cpu` when given."""
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    if cpu is not None:
        cpu.append(time.process_time() - c0)
    return time.perf_counter() - t0


def command_line() -> str:
    """The command that is running, as a reader would retype it from the repository root."""
    script = Path(sys.argv[0]).resolve()
    try:
        script = script.relative_to(Path.cwd())
    except ValueError:
        pass
    return " ".join(["python", str(script), *map(shlex.quote, sys.argv[1:])])


def load_average() -> float:
    return os.getloadavg()[0]


def run_main(main: Callable[[], None]) -> None:
    """Run a script's main as the gensci command line would: a UserError (bad input) is one line and exit code 2,
    anything else is a bug and keeps its traceback."""
    from gensci.errors import UserError

    try:
        main()
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)


def add_to_history(report: Path, section: str) -> None:
    """Insert `section` (markdown, starting with a '### date ...' heading) at the top of the report's history.
    A report without the marker (a scratch file) gets the section at its end; a missing report is created."""
    report = Path(report)
    text = report.read_text() if report.exists() else f"# {report.stem}\n\n## History\n\n{HISTORY_MARKER}\n"
    if HISTORY_MARKER in text:
        head, tail = text.split(HISTORY_MARKER, 1)
        text = f"{head}{HISTORY_MARKER}\n\n{section.strip()}\n{tail}"
    else:
        text = text.rstrip() + "\n\n" + section.strip() + "\n"
    report.write_text(text)


def append_rows(report: Path, marker: str, header: list[str], rows: list[list[str]]) -> None:
    """Add markdown table rows to the table that follows the line `marker` in `report` (creating the marker, the
    table and the report when missing). Rows are added at the table's end: the table reads oldest first."""
    report = Path(report)
    lines = report.read_text().splitlines() if report.exists() else [f"# {report.stem}", ""]
    new = ["| " + " | ".join(r) + " |" for r in rows]
    table = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *new]
    if marker not in lines:
        lines += ["", marker, "", *table]
    else:
        i = lines.index(marker) + 1
        while i < len(lines) and not lines[i].strip():  # blank lines between the marker and its table
            i += 1
        if i < len(lines) and lines[i].startswith("|"):
            while i < len(lines) and lines[i].startswith("|"):
                i += 1
            lines[i:i] = new
        else:  # the marker has no table yet
            lines[lines.index(marker) + 1:lines.index(marker) + 1] = ["", *table, ""]
    report.write_text("\n".join(lines) + "\n")
