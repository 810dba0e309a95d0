"""The reference classifier whose feature space judges generated images: trained on a data set's real
training images, scored on its held-out test images, cached on disk.

gensci downloads no Inception network: for each data config it trains a small CNN
(gensci.nets.classifier.FeatureNet) and measures generated images in its features
(gensci.metrics.images). Those numbers mean something only if the network learned the data, so its
held-out accuracy and the chance level are reported with every evaluation, and the feature-space
metrics are withheld when the accuracy is not clearly above chance (`gensci.metrics.images.withheld_reason`).

The recipe (chosen so that it also learns the real FIRST radio galaxies, whose pixels are nearly all
0 and whose training classes are unbalanced 395 / 824 / 291 / 248):
- inputs standardised per channel with the training images' mean and standard deviation;
- class-balanced batches (each item: a class drawn uniformly, then an image of it), so a network
  that answers the majority class is not a minimum;
- when the data set says its images have no preferred orientation (info["orientation_free"], true
  for sky images), each image is augmented by one of the 8 flips/rotations by 90° (label-preserving);
- Adam with a one-cycle learning rate (max 3e-3), `steps` batches of 64.
Training is seeded without touching torch's global RNG; the cache file (safetensors, written with
gensci.files.atomic_write) is keyed by the data config, seed, steps, width and REF_NET_VERSION.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gensci.data.base import default_cache_dir
from gensci.files import atomic_write
from gensci.metrics.images import Judge
from gensci.nets.classifier import FeatureNet
from gensci.ops.grid_symmetries import dihedral

REF_NET_VERSION = 2  # part of the cache file name: bump when FeatureNet or its training changes
DEFAULT_STEPS = 600


@dataclass
class ReferenceNet:
    """A trained FeatureNet with its held-out accuracy (nan without two classes), the chance level
    (the most frequent class's share of the same test images) and the number of test images."""

    net: FeatureNet
    accuracy: float
    chance: float
    n_test: int

    @torch.no_grad()
    def embed(self, images, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """images [N, C, H, W] -> (features [N, D] float64, class probabilities [N, K] float64)."""
        x = torch.as_tensor(np.asarray(images, np.float32))
        self.net.eval()
        device = next(self.net.parameters()).device
        feats, probs = [], []
        for start in range(0, len(x), batch_size):
            xb = x[start : start + batch_size].to(device)
            feats.append(self.net.features(xb).double().cpu())
            probs.append(torch.softmax(self.net(xb).double(), dim=1).cpu())
        return torch.cat(feats).numpy(), torch.cat(probs).numpy()

    def judge(self) -> Judge:
        return Judge(self.embed, self.accuracy, self.chance, self.n_test)


def train_reference_net(x, y, x_test, y_test, n_classes: int, seed: int = 0, steps: int = DEFAULT_STEPS,
                        batch_size: int = 64, width: int = 16, lr: float = 3e-3, orientation_free: bool = False) -> ReferenceNet:
    """Train FeatureNet by cross-entropy with the recipe of the module docstring; x [N, C, H, W], y [N].
    With fewer than two classes it stays at its seeded random initialisation and accuracy is nan."""
    x, y = torch.as_tensor(x).float(), torch.as_tensor(y).long().reshape(-1)
    with torch.random.fork_rng(devices=[]), torch.enable_grad():  # callers may be under no_grad
        torch.manual_seed(seed)
        net = FeatureNet(x.shape[1], n_classes, width)
        net.shift.copy_(x.mean(dim=(0, 2, 3)))
        net.scale.copy_(x.std(dim=(0, 2, 3)).clamp_min(1e-6))
        if n_classes < 2:
            warnings.warn("fewer than two classes: the reference features are an untrained CNN", stacklevel=2)
            return ReferenceNet(net.eval(), math.nan, math.nan, 0)
        g = torch.Generator().manual_seed(seed)
        by_class = [torch.nonzero(y == k).flatten() for k in range(n_classes)]
        present = torch.tensor([k for k, idx in enumerate(by_class) if len(idx)])
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
        net.train()
        for _ in range(steps):
            classes = present[torch.randint(len(present), (batch_size,), generator=g)]
            idx = torch.stack([by_class[k][torch.randint(len(by_class[k]), (), generator=g)] for k in classes.tolist()])
            xb = dihedral(x[idx], torch.randint(8, (batch_size,), generator=g)) if orientation_free else x[idx]
            loss = torch.nn.functional.cross_entropy(net(xb), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    net.eval()
    accuracy, chance, n_test = _score(net, torch.as_tensor(x_test).float(), torch.as_tensor(y_test).long().reshape(-1))
    return ReferenceNet(net, accuracy, chance, n_test)


@torch.no_grad()
def _score(net: FeatureNet, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float, int]:
    if not len(x):
        return math.nan, math.nan, 0
    pred = torch.cat([net(x[i : i + 256]).argmax(1) for i in range(0, len(x), 256)])
    chance = float(torch.bincount(y).max()) / len(y)
    return float((pred == y).float().mean()), chance, len(y)


def _arrays(split) -> tuple[torch.Tensor, torch.Tensor]:
    t = split.tensors
    return t["x"].float(), t["label"].long().reshape(-1)


def reference_net(data_splits, cache_key: str, seed: int = 0, steps: int = DEFAULT_STEPS, width: int = 16,
                  cache_dir: Path | None = None) -> ReferenceNet:
    """The reference network of a data set: loaded from GENSCI_CACHE/refnets/ (safetensors) or trained
    on `data_splits.train`, scored on the test images of the trained classes, and saved there.
    `cache_key` names the data set and its config (e.g. "galaxies-<config hash>")."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save

    stem = f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', cache_key)}-w{width}-s{steps}-seed{seed}-v{REF_NET_VERSION}"
    path = (cache_dir or default_cache_dir()) / "refnets" / f"{stem}.safetensors"
    if path.exists():
        with safe_open(str(path), "pt") as f:
            meta = f.metadata()
        net = FeatureNet(int(meta["in_channels"]), int(meta["n_classes"]), int(meta["width"]))
        net.load_state_dict(load_file(str(path)))
        return ReferenceNet(net.eval(), float(meta["accuracy"]), float(meta["chance"]), int(meta["n_test"]))
    x, y = _arrays(data_splits.train)
    x_test, y_test = _arrays(data_splits.test)
    seen = torch.isin(y_test, y.unique())  # held-out classes (anomaly detection) are not its job
    info = data_splits.info
    n_classes = int(info.get("n_classes") or int(y.max()) + 1)
    ref = train_reference_net(x, y, x_test[seen], y_test[seen], n_classes, seed, steps, width=width,
                              orientation_free=bool(info.get("orientation_free")))
    meta = {"in_channels": x.shape[1], "n_classes": n_classes, "width": width, "accuracy": ref.accuracy,
            "chance": ref.chance, "n_test": ref.n_test}
    state = {k: v.contiguous() for k, v in ref.net.state_dict().items()}
    try:
        atomic_write(path, save(state, metadata={k: str(v) for k, v in meta.items()}))
    except OSError as err:
        warnings.warn(f"could not cache the reference network at {path}: {err}", stacklevel=2)
    return ref
