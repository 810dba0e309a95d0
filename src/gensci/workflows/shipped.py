"""Trained weights that ship inside gensci: sample, evaluate and demo a model without training it.

A shipped model is two files in the package folder `gensci/weights/`:
  NAME.safetensors  the EMA weights (tensors only; safetensors never unpickles anything)
  NAME.json         the manifest: the full resolved config, the data set's plain `info` the method is
                    built from, and what a scientist asks of a model: data, steps, training time, the
                    command that trained it, and the metrics measured on it (sample size, protocol).
`gensci sample NAME` / `gensci evaluate NAME` accept such a name wherever they accept a run directory.
What they write goes where --out says and nowhere else; without --out, under `runs/shipped/NAME/` (DEFAULT_OUT:
apart from `runs/NAME/`, where `gensci train NAME` would put a training of one's own), and the command line
prints every path it wrote. `export_weights(run, ...)` writes the two files from a trained run (EMA weights of
its best or last checkpoint); benchmarks/weights/ship_weights.py measures the run and calls it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from gensci.config import ExperimentConfig, validate
from gensci.errors import UserError
from gensci.files import atomic_write
from gensci.methods.base import Method
from gensci.workflows.base import Run, build_method

MAX_BYTES = 25_000_000  # shipped weight files stay under 25 MB each
DEFAULT_OUT = Path("runs") / "shipped"  # outputs of shipped weights without --out: DEFAULT_OUT / NAME


def weights_dir() -> Path:
    return Path(str(resources.files("gensci.weights")))


def shipped_names(folder: Path | None = None) -> list[str]:
    folder = folder or weights_dir()
    return sorted(p.stem for p in folder.glob("*.json") if p.with_suffix(".safetensors").exists())


def manifest(name: str, folder: Path | None = None) -> dict[str, Any]:
    folder = folder or weights_dir()
    path = folder / f"{name}.json"
    if not path.exists():
        names = shipped_names(folder)
        raise UserError(f"no shipped weights named {name!r}; shipped: {', '.join(names) or 'none'} "
                        "(or give a run directory made by `gensci train`)")
    return json.loads(path.read_text())


class ShippedRun(Run):
    """A Run backed by shipped weights instead of a run directory; outputs go to `out` (default
    runs/shipped/NAME), which is created only when something is written there."""

    def __init__(self, name: str, out: str | Path | None = None, folder: Path | None = None):
        self.name = name
        self.folder = folder or weights_dir()
        self.manifest = manifest(name, self.folder)
        self.path = self.out = Path(out) if out is not None else DEFAULT_OUT / name

    @cached_property
    def config(self) -> ExperimentConfig:
        raw = json.loads(json.dumps(self.manifest["config"]))
        if "compile" in raw["method"]:  # speed only, same function: a one-off sample should not wait 1-2 min
            raw["method"]["compile"] = False
        return validate(raw, f"shipped weights {self.name}")

    @cached_property
    def info(self) -> dict[str, Any]:
        return self.manifest["info"]

    def history(self) -> list[dict]:
        return []

    def provenance(self) -> dict[str, Any]:
        """From the manifest: steps, training minutes, CPU minutes where recorded, the command, the checkpoint."""
        m = self.manifest
        cpu = m.get("cpu_minutes", m["cpu_seconds"] / 60 if isinstance(m.get("cpu_seconds"), (int, float)) else None)
        return {"source": f"shipped weights {self.name}", "steps": m.get("steps"),
                "training_minutes": m.get("training_minutes"), "cpu_minutes": cpu, "command": m.get("command"),
                "checkpoint": f"{self.name}.safetensors (EMA weights of the run's {m.get('checkpoint') or 'checkpoint'})"}

    def checkpoint_path(self, which: str = "auto") -> Path:
        if which not in ("auto", "best", "last"):
            raise UserError(f"--checkpoint {which!r}: expected best, last or auto")
        return self.folder / f"{self.name}.safetensors"

    def method(self, ema: bool = True, device: str | torch.device | None = None, checkpoint: str = "auto") -> Method:
        from safetensors.torch import load_file

        from gensci.train.devices import resolve_device

        path = self.checkpoint_path(checkpoint)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != self.manifest.get("sha256"):
            raise UserError(f"{path}: the weights do not match their manifest (sha256); reinstall gensci")
        method = build_method(self.config, self.info)
        method.load_state_dict(load_file(str(path)))
        self.loaded_from = f"shipped weights {self.name} ({self.manifest.get('steps', '?')} training steps)"
        return method.to(resolve_device(device or self.config.train.device)).eval()


def sampling_defaults_in_method(config: dict[str, Any]) -> dict[str, Any]:
    """A config (plain dict) whose sampling defaults live in its method section. Runs trained before the method
    owned them kept them in eval (eval.sampling_steps, eval.sampler), which `evaluate` honours and `sample` does
    not: shipped weights carry them in the method, so that `gensci sample NAME` samples as the manifest's metrics
    were measured (e.g. lensing-diffusion: 100 DPM-Solver++ steps, not all 1,000 trained ones)."""
    method, ev = config["method"], config["eval"]
    for key in ("sampling_steps", "sampler"):
        if key in method and method[key] is None and ev.get(key) is not None:
            method[key], ev[key] = ev[key], None
    return config


def open_run(target: str | Path, out: str | Path | None = None) -> Run:
    """A run directory, or the name of shipped weights; what is written goes to `out` (default: the run
    directory, or runs/shipped/NAME for shipped weights)."""
    path = Path(target)
    if path.is_dir():
        return Run(path, out)
    if str(target) in shipped_names():
        return ShippedRun(str(target), out)
    names = shipped_names()
    raise UserError(f"{target}: no such run directory" + (f", nor shipped weights ({', '.join(names)})" if names else ""))


def export_weights(run: Run, name: str, record: dict[str, Any], folder: Path | None = None,
                   checkpoint: str = "auto") -> Path:
    """Write NAME.safetensors (the run's EMA weights) and NAME.json (config, info, `record`) into `folder`.

    `record` holds what the manifest must tell: data, steps, training_minutes, command, metrics (with
    n_samples and protocol). Returns the manifest's path."""
    from safetensors.torch import save_file

    folder = Path(folder) if folder is not None else weights_dir()
    method = run.method(checkpoint=checkpoint, device="cpu")
    state = {k: v.detach().contiguous().clone() for k, v in method.state_dict().items()}
    weights = folder / f"{name}.safetensors"
    atomic_write(weights, lambda tmp: save_file(state, str(tmp)))
    size = weights.stat().st_size
    if size > MAX_BYTES:
        weights.unlink()
        raise UserError(f"{name}: {size / 1e6:.1f} MB of weights; shipped weights must stay under {MAX_BYTES / 1e6:.0f} MB")
    body = {"name": name, "config": sampling_defaults_in_method(run.config.model_dump(mode="json")), "info": run.info,
            "sha256": hashlib.sha256(weights.read_bytes()).hexdigest(), "bytes": size,
            "exported": date.today().isoformat(), "checkpoint": getattr(run, "loaded_from", ""), **record}
    return atomic_write(folder / f"{name}.json", json.dumps(body, indent=2) + "\n")
