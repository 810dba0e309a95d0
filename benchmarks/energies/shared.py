"""What the energy-sampling scripts share: thread count and seeding of the run, the markdown table they print, and
the line saying which command made it, when, and how loaded the machine was."""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/common.py
from common import command_line, load_average  # noqa: E402


def parser(doc: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1: the figures are per one core)")
    return p


def start(args: argparse.Namespace) -> float:
    """Set the thread count; return the load average before the run (the report quotes it beside the result)."""
    torch.set_num_threads(args.threads)
    return load_average()


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def print_report(header: list[str], rows: list[list[str]], load_before: float, notes: list[str] = ()) -> None:
    print(f"`{command_line()}` ({datetime.date.today()}; load {load_before:.2f} before, {load_average():.2f} after)\n")
    print(markdown_table(header, rows))
    for note in notes:
        print(f"\n{note}")
