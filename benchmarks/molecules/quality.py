"""Quality of a molecule model (EDM, MiDi, DiGress, ...): sample n with S steps, score under every protocol that
applies, Wilson intervals, one row per protocol appended to benchmarks/molecules/README.md.

    python benchmarks/molecules/quality.py RUN|NAME [--n 1000] [--steps S[,S2,...]] [--seed 0] [--threads 1]
                                           [--checkpoint auto|best|last] [--sampler NAME] [--batch-size B]
                                           [--report PATH | --no-report] [--json OUT]
    python benchmarks/molecules/quality.py RUN --curve     # the run's periodic evaluations as a table (no sampling)

RUN is a run directory made by `gensci train`, NAME the name of shipped weights (`gensci presets` marks them).
For each step count (default: the run's own, i.e. what `gensci evaluate` uses) this is `gensci evaluate`'s
measurement (gensci.api.evaluate -> gensci.workflows.molecules: n molecules sampled with seed --seed, scored by
gensci.metrics.molecule_protocols against QM9's training split). What is scored follows what the samples carry,
not the model's name:
- EDM's protocol ("edm": bonds inferred from the coordinates; Hoogeboom et al. 2022) when they have positions;
- the predicted-bond protocol ("graph": the model's own bonds and formal charges; Vignac et al. 2023, MiDi) when
  they carry bonds; stability only with explicit hydrogens (as MiDi reports QM9 without H);
- element, size, bond-length and bond-angle distances to QM9 train, and the test-split NLL for likelihood models.
Wilson 95 % intervals (scipy's binomtest): molecule stability, validity and connectedness over n, uniqueness over
the valid molecules, novelty over the unique valid ones. Seconds per molecule: wall time of the sampling alone (the
network is run once before, so torch.compile's first calls are not counted); CPU seconds per molecule: the
process's CPU time for sampling and scoring; load: the 1-minute load average at the end.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import append_rows, command_line, load_average, run_main, wilson_interval  # noqa: E402

from gensci import api  # noqa: E402
from gensci.methods.base import SamplingOptions  # noqa: E402
from gensci.workflows.base import EvalOptions, Run  # noqa: E402
from gensci.workflows.shipped import open_run  # noqa: E402

REPORT = Path(__file__).with_name("README.md")
MARKER = "<!-- quality.py appends its rows to the table below -->"
HEADER = ["date", "model", "training", "checkpoint", "sampler, steps", "protocol", "n", "mol. stable (95 %)",
          "atom stable", "valid (95 %)", "unique (95 %, of valid)", "novel (95 %, of unique)", "connected (95 %)",
          "V x U", "NLL", "TV types / sizes, W1 lengths Å / angles °", "s/mol sampling (wall)",
          "CPU s/mol (all)", "load", "command"]
PROTOCOLS = {"edm": "", "graph": "_graph"}  # gensci.metrics.molecule_protocols: protocol -> key suffix
PROTOCOL_NAMES = {"edm": "EDM (bonds from distances)", "graph": "own bonds (MiDi)"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", help="a run directory, or the name of shipped weights")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--steps", default=None, help="comma-separated step counts (default: the run's own)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--checkpoint", default="auto", choices=["auto", "best", "last"])
    ap.add_argument("--sampler", default=None, help="a sampler of the diffusion toolkit (default: the method's)")
    ap.add_argument("--batch-size", type=int, default=None, help="molecules sampled together (default: the run's)")
    ap.add_argument("--report", type=Path, default=REPORT)
    ap.add_argument("--no-report", action="store_true", help="print the rows only")
    ap.add_argument("--json", type=Path, default=None, help="also write every evaluation's full metrics here")
    ap.add_argument("--curve", action="store_true", help="print the run's periodic evaluations (no sampling)")
    args = ap.parse_args()
    # shipped weights write their sample files under benchmarks/out (ignored by git), not into ./runs
    run = open_run(args.run, out=Path(__file__).resolve().parents[1] / "out" / Path(args.run).name)
    if args.curve:
        print("\n".join(curve(run)))
        return
    torch.set_num_threads(args.threads)
    warm_up(run, args.checkpoint)
    evaluations = []
    for steps in [int(s) for s in args.steps.split(",")] if args.steps else [None]:
        options = EvalOptions(n=args.n, steps=steps, seed=args.seed, checkpoint=args.checkpoint,
                              sampler=args.sampler, batch_size=args.batch_size)
        cpu = time.process_time()
        m = api.evaluate(run, options, save=False)
        m["cpu_s_per_molecule"] = (time.process_time() - cpu) / m["n_molecules"]
        m["load_1min"] = load_average()
        evaluations.append(m)
        print(json.dumps({k: v for k, v in m.items() if not isinstance(v, (dict, list))}), flush=True)
    rows = [row for m in evaluations for row in rows_of(run, m, command_line())]
    print("\n".join("| " + " | ".join(r) + " |" for r in [HEADER, *rows]))
    if args.json:
        args.json.write_text(json.dumps(evaluations, indent=2, default=str))
    if not args.no_report:
        append_rows(args.report, MARKER, HEADER, rows)
        print(f"rows appended to {args.report}")


def warm_up(run: Run, checkpoint: str) -> None:
    """Sample a few molecules with 2 steps first: torch.compile compiles once per process, and its minutes must
    not count as sampling time (the evaluation's own sampling starts from its seed, so this changes no figure)."""
    method = run.method(checkpoint=checkpoint)
    for n in (3, 5):  # two sizes: a compiled network may specialise on the first shape
        method.sample(n, generator=torch.Generator().manual_seed(n), options=SamplingOptions(steps=2, batch_size=n))


def rows_of(run: Run, m: dict, command: str) -> list[list[str]]:
    """One table row per stability protocol that ran on this evaluation."""
    steps, minutes = training(run)
    common = [time.strftime("%Y-%m-%d %H:%M"), f"{run.config.name} ({method_name(run)})",
              f"{steps} steps, {minutes} min" if steps is not None else "untrained",
              str(m.get("checkpoint", "")), f"{m.get('sampler', '')}, {m.get('sampling_steps', '')}"]
    tail = [_fmt(m.get("nll")), distributions(m), _fmt(m.get("seconds_per_molecule")),
            _fmt(m.get("cpu_s_per_molecule")), f"{m['load_1min']:.1f}", f"`{command}`"]
    rows = []
    for protocol in [p for p in m.get("protocols", []) if p in PROTOCOLS]:
        s = PROTOCOLS[protocol]
        n = m["n_molecules"]
        rows.append(common + [PROTOCOL_NAMES[protocol], str(n),
                              with_interval(m, f"molecule_stability{s}", n),
                              _fmt(m.get(f"atom_stability{s}")),
                              with_interval(m, f"validity{s}", n),
                              with_interval(m, f"uniqueness{s}", m.get(f"n_valid{s}", 0)),
                              with_interval(m, f"novelty{s}", m.get(f"n_unique{s}", 0)),
                              with_interval(m, f"connected{s}", n),
                              _fmt(m.get(f"validity_x_uniqueness{s}"))] + tail)
    return rows


def with_interval(m: dict, key: str, n: int) -> str:
    """'0.945 (0.929-0.958)': the fraction and its Wilson 95 % interval over n; '-' when not measured."""
    value = m.get(key)
    if value is None:
        return "-"
    return f"{value:.3f} ({wilson_interval(value, n)})"


def distributions(m: dict) -> str:
    keys = ("atom_type_tv", "n_atoms_tv", "bond_length_w1", "bond_angle_w1")
    if not any(m.get(k) is not None for k in keys):
        return "-"
    return " / ".join(_fmt(m.get(k)) for k in keys)


def training(run: Run) -> tuple[int | None, int | None]:
    """Training steps and minutes: the run's metrics.jsonl, or the manifest of shipped weights."""
    train = [r for r in run.history() if r.get("kind") == "train"]
    if train:
        return train[-1]["step"], round(train[-1]["time"] / 60)
    manifest = getattr(run, "manifest", {})
    minutes = manifest.get("training_minutes")
    return manifest.get("steps"), round(minutes) if minutes is not None else None


def method_name(run: Run) -> str:
    method = run.config.method
    return method.name + (f", {method.objective}" if getattr(method, "objective", None) else "")


def curve(run: Run) -> list[str]:
    """Quality against training time: the trainer's periodic evaluations (eval.periodic_n_samples molecules, a
    fixed seed) with the mean training loss since the previous one and Wilson 95 % intervals, for every protocol
    the run's evaluations recorded."""
    history = run.history()
    evals = [r for r in history if r.get("kind") == "eval"]
    columns = [(p, s) for p, s in PROTOCOLS.items() if any(f"validity{s}" in r for r in evals)]
    header = ["step", "training min", "train loss (mean since last)", "molecules"]
    for protocol, _ in columns:
        header += [f"mol. stable, {protocol} (95 %)", f"atom stable, {protocol}", f"valid, {protocol} (95 %)",
                   f"V x U, {protocol}"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    losses, minutes = [], 0.0
    for r in history:
        if r.get("kind") == "train":
            losses.append(r["loss"])
            minutes = r["time"] / 60
        elif r.get("kind") == "eval" and any(f"validity{s}" in r for _, s in columns):
            n = r.get("n_molecules") or r.get("n_samples") or run.config.eval.periodic_n_samples
            cells = [str(r["step"]), f"{minutes:.1f}", f"{sum(losses) / len(losses):.3f}" if losses else "-", str(n)]
            for _, s in columns:
                cells += [with_interval(r, f"molecule_stability{s}", n), _fmt(r.get(f"atom_stability{s}")),
                          with_interval(r, f"validity{s}", n), _fmt(r.get(f"validity_x_uniqueness{s}"))]
            lines.append("| " + " | ".join(cells) + " |")
            losses = []
    return lines


def _fmt(v) -> str:
    if v is None:
        return "-"
    return f"{v:.4g}" if isinstance(v, float) else str(v)


if __name__ == "__main__":
    run_main(main)
