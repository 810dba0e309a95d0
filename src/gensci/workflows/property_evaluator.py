"""The property evaluator of EDM's conditional protocol: train it, ship it, load it, predict with it, score with it.

One EGNN regressor per QM9 property (gensci.nets.property_egnn), trained as EDM trains its classifiers
(ehoogeboom/e3_diffusion_for_molecules, qm9/property_prediction/main_qm9_prop.py with the README command
`--lr 5e-4 --model_name egnn`):
- data: EDM's first half of the QM9 training split (50,000; gensci.data.qm9.conditional_halves); the model kept is
  the one with the lowest MAE on QM9's valid split (17,748), and its MAE on the second half (50,000, the split the
  generators train on) is the "QM9" floor of the protocol (the figure main_qm9_prop.py prints as "best test");
- target: L1 loss on (y - mean) / MAD, mean and MAD (mean absolute deviation) of the valid split (main_qm9_prop.py
  compute_mean_mad_from_dataloader(dataloaders['valid'])); Cv less its per-atom reference as EDM's data holds it
  (gensci.metrics.properties.EDM_ATOM_REFERENCE); predictions are returned in gensci's units (PROPERTY_UNITS);
- Adam, lr 5e-4, weight decay 1e-16, batch 96, cosine annealing over the epochs, seed 1 (main_qm9_prop.py). EDM
  steps its scheduler before each epoch, so its first epoch already runs below 5e-4 and its last at 0; here epoch e
  runs at 5e-4 (1 + cos(pi e / E)) / 2, the same curve shifted by one epoch, which wastes no epoch at small E.
- EDM trains 1000 epochs; on a CPU budget `epochs` is smaller (benchmarks/conditional/README.md says how many).

A run folder (benchmarks/runs/qm9-property-PROP/) holds config.yaml, metrics.jsonl (one line per epoch, a last
"final" line) and checkpoints/last.pt (resumable mid-epoch, written atomically, loaded with weights_only=True).
`export_evaluator` writes the kept weights as safetensors plus a JSON manifest (training, MAE on the second half,
the baselines) into gensci/weights/evaluators/, which `gensci sample/evaluate NAME` never lists as generators.
"""

from __future__ import annotations

import json
import math
import time
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import yaml
from pydantic import BaseModel, ConfigDict, Field

from gensci.data import qm9
from gensci.errors import UserError
from gensci.files import atomic_write
from gensci.metrics import properties as metrics
from gensci.nets.property_egnn import PropertyEGNN
from gensci.progress import Progress
from gensci.train.trainer import sigterm_as_interrupt

PROPERTIES = tuple(qm9.PROPERTY_UNITS)
RUN_PREFIX = "qm9-property-"  # benchmarks/runs/qm9-property-PROP
TRAIN_COMMAND = "python benchmarks/conditional/train_evaluator.py train {name}  (then: ... export {name})"
_ATOMIC_NUMBERS = np.array(qm9.ATOMIC_NUMBERS)


class EvaluatorConfig(BaseModel):
    """How one property regressor is trained (defaults: main_qm9_prop.py + EDM's README command, except epochs)."""

    model_config = ConfigDict(extra="forbid")
    property: Literal["alpha", "gap", "homo", "lumo", "mu", "Cv"]
    epochs: int = Field(1000, ge=1)
    batch_size: int = Field(96, ge=1)
    lr: float = Field(5e-4, gt=0)
    weight_decay: float = 1e-16
    hidden_nf: int = Field(128, ge=1)
    n_layers: int = Field(7, ge=1)
    attention: bool = True
    seed: int = 1
    limit_train: int | None = Field(None, ge=1, description="N evenly spaced molecules of the first half (tiny runs)")
    limit_eval: int | None = Field(None, ge=1, description="N evenly spaced molecules of valid and of the second half")
    device: str = Field("auto", description="auto (CUDA when present), cpu, cuda, cuda:1, ...")
    checkpoint_minutes: float = Field(10.0, gt=0, description="also save mid-epoch this often")
    eval_batch_size: int = Field(500, ge=1)

    def net(self) -> PropertyEGNN:
        return PropertyEGNN(len(qm9.ELEMENTS), self.hidden_nf, self.n_layers, self.attention)


def evaluators_dir() -> Path:
    """gensci/weights/evaluators/: shipped regressors (not generators; gensci.workflows.shipped never lists them)."""
    return Path(str(resources.files("gensci.weights"))) / "evaluators"


def check_properties(names) -> list[str]:
    """The names as a list; an unknown one is a UserError listing the choices."""
    parts = names.split(",") if isinstance(names, str) else [p for name in names for p in str(name).split(",")]
    names = [p.strip() for p in parts if p.strip()]
    unknown = [n for n in names if n not in PROPERTIES]
    if unknown or not names:
        raise UserError(f"unknown property {', '.join(unknown) or '(none given)'}; choices: {', '.join(PROPERTIES)}")
    return names


# ---- data --------------------------------------------------------------------------------------------------
def evaluator_data(config: EvaluatorConfig) -> dict[str, dict[str, torch.Tensor]]:
    """{"train": first half, "valid": QM9 valid, "test": second half}: one_hot, positions, node_mask, y (EDM's values)."""
    arrays = qm9.load_arrays()
    rows = {"train": _spread(qm9.split_rows("train", "first_half"), config.limit_train),
            "valid": _spread(qm9.split_rows("valid"), config.limit_eval),
            "test": _spread(qm9.split_rows("train", "second_half"), config.limit_eval)}
    out = {}
    for split, r in rows.items():
        t = qm9.molecule_tensors(arrays, r)
        n_atoms = t["node_mask"].sum(1).numpy()
        y = metrics.edm_values(config.property, t[config.property].numpy(), n_atoms)
        out[split] = {"one_hot": t["one_hot"], "positions": t["positions"], "node_mask": t["node_mask"],
                      "y": torch.from_numpy(y.astype(np.float32))}
    return out


def _spread(rows: np.ndarray, limit: int | None) -> np.ndarray:
    # evenly spaced: the valid split is sorted by QM9 index, and its first rows are the smallest molecules
    return rows if limit is None or limit >= len(rows) else rows[np.linspace(0, len(rows) - 1, limit).astype(int)]


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@torch.no_grad()
def _predict(net: PropertyEGNN, data: dict[str, torch.Tensor], batch_size: int, device) -> torch.Tensor:
    """Normalised predictions [n] on the CPU."""
    net.eval()
    n, out = len(data["node_mask"]), []
    for s in range(0, n, batch_size):
        out.append(net(*(data[k][s:s + batch_size].to(device) for k in ("one_hot", "positions", "node_mask"))).cpu())
    net.train()
    return torch.cat(out)


# ---- training ----------------------------------------------------------------------------------------------
def run_dir_of(name: str, root: Path = Path("benchmarks/runs")) -> Path:
    return root / f"{RUN_PREFIX}{name}"


def train_evaluator(run_dir, config: EvaluatorConfig | None = None, resume: bool = False, progress: bool = True,
                    max_batches: int | None = None) -> dict:
    """Train (or, resume=True, continue) the regressor of run_dir; returns the last metrics line.

    A new run needs `config` and an empty run_dir; resume reads run_dir/config.yaml and its last checkpoint.
    max_batches: stop (after saving) once this many batches ran in this call -- for timing and tests.
    """
    run_dir = Path(run_dir)
    ckpt_path, log_path = run_dir / "checkpoints" / "last.pt", run_dir / "metrics.jsonl"
    if resume:
        if not (run_dir / "config.yaml").exists():
            raise UserError(f"{run_dir}: no config.yaml to resume (start it without --resume)")
        config = EvaluatorConfig(**yaml.safe_load((run_dir / "config.yaml").read_text()))
    elif config is None:
        raise UserError("a new evaluator training needs its config")
    elif ckpt_path.exists():
        raise UserError(f"{run_dir} already holds a training; resume it (--resume) or pick another folder")
    else:
        atomic_write(run_dir / "config.yaml", yaml.safe_dump(config.model_dump(), sort_keys=False))
    device = _device(config.device)
    data = evaluator_data(config)
    y_valid = data["valid"]["y"].double()
    mean, mad = float(y_valid.mean()), float((y_valid - y_valid.mean()).abs().mean())
    torch.manual_seed(config.seed)
    net = config.net().to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    state = {"epoch": 0, "batch": 0, "loss_sum": 0.0, "count": 0, "best_val": math.inf, "best_epoch": -1,
             "cpu_s": 0.0, "wall_s": 0.0}
    best = {k: v.detach().clone() for k, v in net.state_dict().items()}
    if resume and ckpt_path.exists():
        saved = torch.load(ckpt_path, map_location=device, weights_only=True)
        net.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        best = saved["best"]
        state = saved["state"]
        _keep_log_before(log_path, state["epoch"])  # epochs logged after the checkpoint are run again
    train = {k: v.to(device) for k, v in data["train"].items()}
    n = len(train["y"])
    n_batches = math.ceil(n / config.batch_size)
    last_line: dict = {}
    cpu0, wall0, saved_at, ran = time.process_time(), time.perf_counter(), time.perf_counter(), 0

    def save() -> None:
        nonlocal cpu0, wall0, saved_at
        now_cpu, now_wall = time.process_time(), time.perf_counter()
        state["cpu_s"] += now_cpu - cpu0
        state["wall_s"] += now_wall - wall0
        cpu0, wall0, saved_at = now_cpu, now_wall, now_wall
        payload = {"model": net.state_dict(), "optimizer": optimizer.state_dict(), "best": best, "state": dict(state)}
        atomic_write(ckpt_path, lambda tmp: torch.save(payload, tmp))

    done = state["epoch"] * n_batches + state["batch"]
    with Progress(f"evaluator {config.property}: batch", config.epochs * n_batches, unit="batches",
                  completed=done, enabled=progress) as bar, sigterm_as_interrupt():
        try:
            while state["epoch"] < config.epochs:
                epoch = state["epoch"]
                for group in optimizer.param_groups:  # cosine annealing over the epochs (module docstring)
                    group["lr"] = config.lr * (1 + math.cos(math.pi * epoch / config.epochs)) / 2
                order = torch.randperm(n, generator=torch.Generator().manual_seed(config.seed * 1_000_003 + epoch))
                for b in range(state["batch"], n_batches):
                    idx = order[b * config.batch_size:(b + 1) * config.batch_size].to(device)
                    pred = net(train["one_hot"][idx], train["positions"][idx], train["node_mask"][idx])
                    loss = (pred - (train["y"][idx] - mean) / mad).abs().mean()
                    if not torch.isfinite(loss):
                        raise FloatingPointError(f"loss is {loss.item()} at epoch {epoch}, batch {b}")
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    state["loss_sum"] += loss.item() * len(idx)
                    state["count"] += len(idx)
                    state["batch"], ran = b + 1, ran + 1
                    bar.advance(1, loss=state["loss_sum"] / state["count"], epoch=epoch)
                    if max_batches is not None and ran >= max_batches:
                        save()
                        return {"kind": "stopped", "epoch": epoch, "batch": b + 1, **_times(state)}
                    if time.perf_counter() - saved_at > 60 * config.checkpoint_minutes:
                        save()
                pred = _predict(net, data["valid"], config.eval_batch_size, device) * mad + mean
                val_mae = float((pred.double() - y_valid).abs().mean())
                if val_mae < state["best_val"]:
                    state["best_val"], state["best_epoch"] = val_mae, epoch
                    best = {k: v.detach().clone() for k, v in net.state_dict().items()}
                last_line = {"kind": "epoch", "epoch": epoch, "lr": optimizer.param_groups[0]["lr"],
                             "train_l1_normalised": state["loss_sum"] / state["count"], "valid_mae": val_mae,
                             "best_valid_mae": state["best_val"], "best_epoch": state["best_epoch"]}
                state.update(epoch=epoch + 1, batch=0, loss_sum=0.0, count=0)
                save()
                _append(log_path, last_line | _times(state))
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM: keep the batches done; continue with --resume
            save()
            return {"kind": "stopped", "epoch": state["epoch"], "batch": state["batch"], **_times(state)}
    if state["best_epoch"] >= 0 and not _final_logged(log_path):
        net.load_state_dict(best)
        pred = _predict(net, data["test"], config.eval_batch_size, device) * mad + mean
        test_mae = float((pred.double() - data["test"]["y"].double()).abs().mean())
        last_line = {"kind": "final", "epochs": config.epochs, "best_epoch": state["best_epoch"],
                     "valid_mae": state["best_val"], "second_half_mae": test_mae, "n_second_half": len(pred),
                     "mean": mean, "mad": mad, **_times(state)}
        _append(log_path, last_line)
    elif not last_line:  # resumed a finished training: nothing ran
        last_line = json.loads(log_path.read_text().splitlines()[-1])
    return last_line


def _times(state: dict) -> dict:
    return {"cpu_hours": round(state["cpu_s"] / 3600, 4), "wall_hours": round(state["wall_s"] / 3600, 4)}


def _append(path: Path, line: dict) -> None:
    old = path.read_text() if path.exists() else ""
    atomic_write(path, old + json.dumps(line) + "\n")


def _keep_log_before(path: Path, epoch: int) -> None:
    if path.exists():
        lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
        keep = [ln for ln in lines if json.loads(ln).get("kind") != "epoch" or json.loads(ln)["epoch"] < epoch]
        atomic_write(path, "".join(ln + "\n" for ln in keep))


def _final_logged(path: Path) -> bool:
    return path.exists() and any(json.loads(ln).get("kind") == "final" for ln in path.read_text().splitlines() if ln)


# ---- shipping and loading ------------------------------------------------------------------------------------
def export_evaluator(run_dir, folder: Path | None = None, command: str | None = None, seed: int = 0) -> Path:
    """Write PROP.safetensors (the kept weights) and PROP.json (manifest: training, the MAE on the second half with
    its interval, the three baselines and the #atoms medians) into `folder` (default evaluators_dir())."""
    from safetensors.torch import save_file

    run_dir = Path(run_dir)
    log = [json.loads(ln) for ln in (run_dir / "metrics.jsonl").read_text().splitlines() if ln.strip()] \
        if (run_dir / "metrics.jsonl").exists() else []
    final = next((ln for ln in log if ln.get("kind") == "final"), None)
    if final is None:
        raise UserError(f"{run_dir}: the training has not finished (no 'final' line in metrics.jsonl); resume it")
    config = EvaluatorConfig(**yaml.safe_load((run_dir / "config.yaml").read_text()))
    saved = torch.load(run_dir / "checkpoints" / "last.pt", map_location="cpu", weights_only=True)
    net = config.net()
    net.load_state_dict(saved["best"])
    name = config.property
    evaluator = PropertyEvaluator(net, {"property": name, "mean": final["mean"], "mad": final["mad"]})
    data = evaluator_data(config)
    test = data["test"]
    n_atoms = test["node_mask"].sum(1).numpy()
    predicted = evaluator.predict(test["one_hot"], test["positions"], test["node_mask"], config.eval_batch_size)
    truth = test["y"].numpy() + metrics.EDM_ATOM_REFERENCE.get(name, 0.0) * n_atoms  # gensci's units
    floor = metrics.mae_with_interval(predicted, truth, seed=seed)
    first = data["train"]
    medians = metrics.n_atoms_medians(first["node_mask"].sum(1).numpy(),
                                      first["y"].numpy() + metrics.EDM_ATOM_REFERENCE.get(name, 0.0)
                                      * first["node_mask"].sum(1).numpy())
    n_atoms_pred = metrics.n_atoms_predict(medians, n_atoms)
    naive = metrics.naive_mae(metrics.edm_values(name, predicted, n_atoms), test["y"].numpy(), seed=seed)
    unit, scale = metrics.EDM_UNITS[name]
    manifest = {
        "kind": "property evaluator (EDM's conditional protocol)", "property": name,
        "unit": qm9.PROPERTY_UNITS[name], "edm_unit": unit, "edm_scale": scale,
        "net": {"in_node_nf": len(qm9.ELEMENTS), "hidden_nf": config.hidden_nf, "n_layers": config.n_layers,
                "attention": config.attention},
        "mean": final["mean"], "mad": final["mad"],
        "normalisation": "mean and MAD of QM9's valid split" + (
            f" of EDM's values ({name} less {metrics.EDM_ATOM_REFERENCE[name]} per atom)"
            if name in metrics.EDM_ATOM_REFERENCE else ""),
        "data": f"trained on EDM's first half of QM9 train ({len(first['y']):,} molecules); kept: the epoch with the "
                f"lowest MAE on QM9 valid ({len(data['valid']['y']):,}); measured on the second half",
        "epochs": final["epochs"], "best_epoch": final["best_epoch"], "cpu_hours": final["cpu_hours"],
        "wall_hours": final["wall_hours"], "config": config.model_dump(),
        "command": command or TRAIN_COMMAND.format(name=name),
        "mae_second_half": {"mae": floor["mae"], "interval": floor["interval"], "n": floor["n"]},
        "baselines": {"qm9": floor["mae"], "naive": naive, "n_atoms": metrics.mae(n_atoms_pred, truth),
                      "n_atoms_medians": {str(k): v for k, v in medians.items()}, "n": floor["n"],
                      "how": "naive: MAE against the second half's labels shuffled (seed 0, EDM's values); n_atoms: "
                             "the first half's median per atom count; qm9: the evaluator's MAE on the second half"},
        "published_edm": {k: metrics.PUBLISHED[k][name] for k in ("naive", "n_atoms", "qm9")},
        "date": date.today().isoformat(),
    }
    folder = Path(folder) if folder is not None else evaluators_dir()
    weights = folder / f"{name}.safetensors"
    atomic_write(weights, lambda tmp: save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp)))
    atomic_write(folder / f"{name}.json", json.dumps(manifest, indent=1) + "\n")
    return folder / f"{name}.json"


class PropertyEvaluator:
    """A trained regressor with its normalisation; `predict` returns values in gensci's units (PROPERTY_UNITS)."""

    def __init__(self, net: PropertyEGNN, manifest: dict):
        self.net, self.manifest, self.name = net.eval(), manifest, manifest["property"]

    def predict(self, one_hot, positions, node_mask, batch_size: int = 500) -> np.ndarray:
        """one_hot [B, N, 5] (H, C, N, O, F), positions [B, N, 3] in Angstrom, node_mask [B, N] -> [B]."""
        device = next(self.net.parameters()).device
        data = {"one_hot": torch.as_tensor(one_hot, dtype=torch.float32),
                "positions": torch.as_tensor(positions, dtype=torch.float32),
                "node_mask": torch.as_tensor(node_mask, dtype=torch.float32)}
        y = _predict(self.net, data, batch_size, device).double().numpy() * self.manifest["mad"] + self.manifest["mean"]
        return y + metrics.EDM_ATOM_REFERENCE.get(self.name, 0.0) * data["node_mask"].sum(1).numpy()


def load_evaluator(name: str, folder: Path | None = None, device: str = "cpu") -> PropertyEvaluator:
    """The shipped regressor of one property (safetensors: nothing is unpickled)."""
    from safetensors.torch import load_file

    check_properties([name])
    folder = Path(folder) if folder is not None else evaluators_dir()
    path = folder / f"{name}.json"
    if not path.exists() or not path.with_suffix(".safetensors").exists():
        raise UserError(f"no shipped property evaluator for {name} in {folder}; train and export one: "
                        + TRAIN_COMMAND.format(name=name))
    manifest = json.loads(path.read_text())
    spec = manifest["net"]
    net = PropertyEGNN(spec["in_node_nf"], spec["hidden_nf"], spec["n_layers"], spec["attention"])
    net.load_state_dict(load_file(str(path.with_suffix(".safetensors")), device=device))
    return PropertyEvaluator(net.to(device), manifest)


# ---- molecules in, predictions and scores out ---------------------------------------------------------------
def atoms_one_hot(atoms, node_mask) -> np.ndarray:
    """[B, N, 5] one-hot over H, C, N, O, F from a one-hot [B, N, 5] or atomic numbers [B, N]; an element outside
    QM9's is a UserError naming the molecule (0-based index)."""
    atoms, mask = np.asarray(atoms), np.asarray(node_mask) > 0
    if atoms.ndim == 3:
        if atoms.shape[-1] != len(qm9.ELEMENTS):
            raise UserError(f"one-hot atom types need {len(qm9.ELEMENTS)} columns (H, C, N, O, F), got {atoms.shape[-1]}")
        return atoms.astype(np.float32) * mask[..., None]
    known = (atoms[..., None] == _ATOMIC_NUMBERS).any(-1) | ~mask
    if not known.all():
        k = int(np.nonzero(~known.all(1))[0][0])
        bad = sorted(set(atoms[k][~known[k]].tolist()))
        raise UserError(f"molecule {k}: atomic number(s) {bad} outside QM9's H, C, N, O, F; the property "
                        "evaluators know only those")
    return ((atoms[..., None] == _ATOMIC_NUMBERS) & mask[..., None]).astype(np.float32)


def molecules_to_batch(molecules) -> dict[str, np.ndarray]:
    """gensci.chem.molecule.Molecule list -> padded one_hot, positions, node_mask. Each molecule needs positions and
    QM9's elements; the UserError names the molecule (1-based, file order). Whether a file holds 3D coordinates at
    all is gensci.workflows.molecule_files.properties_file's check."""
    symbol_column = {s: k for k, s in enumerate(qm9.ELEMENTS)}
    width = max(m.n_atoms for m in molecules)
    one_hot = np.zeros((len(molecules), width, len(qm9.ELEMENTS)), np.float32)
    positions = np.zeros((len(molecules), width, 3), np.float32)
    mask = np.zeros((len(molecules), width), np.float32)
    for k, m in enumerate(molecules):
        label = f"molecule {k + 1}" + (f" ({m.name})" if m.name else "")
        if m.positions is None:
            raise UserError(f"{label} has no coordinates; the property evaluators need 3D geometries")
        outside = sorted(set(m.atom_types) - set(symbol_column))
        if outside:
            raise UserError(f"{label} holds {', '.join(outside)}, outside QM9's H, C, N, O, F; the property "
                            "evaluators know only those")
        one_hot[k, np.arange(m.n_atoms), [symbol_column[s] for s in m.atom_types]] = 1
        positions[k, : m.n_atoms] = m.positions
        mask[k, : m.n_atoms] = 1
    return {"one_hot": one_hot, "positions": positions, "node_mask": mask}


def predict_molecules(molecules, names, folder: Path | None = None) -> dict:
    """`properties` {name: [per-molecule predictions]}, `properties_mean`, `properties_std`, `properties_units` and
    each evaluator's own MAE on QM9 (`properties_evaluator_mae`), in gensci's units."""
    names = check_properties(names)
    evaluators = {name: load_evaluator(name, folder) for name in names}  # a missing one fails before any work
    batch = molecules_to_batch(molecules)
    values = {name: ev.predict(**batch) for name, ev in evaluators.items()}
    return {"properties": {k: v.tolist() for k, v in values.items()},
            "properties_mean": {k: float(v.mean()) for k, v in values.items()},
            "properties_std": {k: float(v.std(ddof=1)) if len(v) > 1 else None for k, v in values.items()},
            "properties_units": {k: qm9.PROPERTY_UNITS[k] for k in names},
            "properties_evaluator_mae": {k: ev.manifest["mae_second_half"] for k, ev in evaluators.items()}}


def score_conditional(positions, atoms, node_mask, requested: dict, folder: Path | None = None, seed: int = 0) -> dict:
    """Score conditional samples: positions [B, N, 3] (Angstrom), atoms (one-hot [B, N, 5] or atomic numbers
    [B, N]), node_mask [B, N], requested {property: [B] values asked for, gensci's units}. Returns per property
    gensci.metrics.properties.conditional_scores (MAE with its bootstrap interval, the baselines, gap closure) plus
    the same MAE in EDM's table units (`mae_edm_units`, `edm_unit`) and the evaluator's predictions."""
    names = check_properties(list(requested))
    one_hot = atoms_one_hot(atoms, node_mask)
    n_atoms = np.asarray(node_mask).astype(bool).sum(1)
    out = {}
    for name in names:
        evaluator = load_evaluator(name, folder)
        target = np.asarray(requested[name], dtype=np.float64)
        if target.shape != n_atoms.shape:
            raise UserError(f"{name}: {len(target)} requested values for {len(n_atoms)} molecules")
        predicted = evaluator.predict(one_hot, positions, node_mask)
        scores = metrics.conditional_scores(predicted, target, n_atoms, evaluator.manifest["baselines"], seed=seed)
        unit, scale = metrics.EDM_UNITS[name]
        out[name] = scores | {"unit": qm9.PROPERTY_UNITS[name], "mae_edm_units": scores["mae"] * scale,
                              "edm_unit": unit, "predicted": predicted.tolist()}
    return out
