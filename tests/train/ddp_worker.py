"""Run under torchrun by test_distributed.py: trains on 2 CPU processes (gloo).

argv: OUT [toy|toy-timed-cosine|wgan-gp|midi|edm-compiled]. `wgan-gp` is the galaxy WGAN-GP preset shrunk to 16x16 images: two
optimisers and a double-backward penalty, the case DDP is most fragile in. `edm-compiled` is
qm9-edm-small cut to 2 blocks (more than DDP's first 1 MB gradient bucket) with its torch.compile'd EGNN:
Dynamo's DDP graph splitting at bucket boundaries once broke it. `midi` is qm9-midi with self-conditioning: some
steps make an extra (no-grad) forward pass, which every process must make alike.
"""

import faulthandler
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from gensci.config import load_config, validate
from gensci.testing.toy import register_toy, toy_config
from gensci.train.trainer import Trainer
from gensci.workflows.base import build_method, load_data

faulthandler.enable()  # an abort inside gloo then shows where Python was
register_toy()
# preset shrunk for the test -> its overrides (the toy is built directly)
SHRUNK = {
    "wgan-gp": ("galaxy-wgan-gp", ["data.image_size=16", "data.n_per_class=16", "data.n_valid_per_class=4",
                                   "data.n_test_per_class=8", "data.cache=false", "method.g_width=4",
                                   "method.d_width=4", "train.batch_size=8", "train.max_steps=10"]),
    "midi": ("qm9-midi", ["data.limit_train=64", "data.limit_eval=16", "method.n_layers=2", "method.compile=false",
                          "method.self_condition=true", "train.batch_size=8", "train.max_steps=6"]),
    "edm-compiled": ("qm9-edm-small", ["data.limit_train=64", "data.limit_eval=16", "method.n_layers=2",
                                       "method.compile=true", "train.batch_size=8", "train.max_steps=3"]),
}
out, which = Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "toy"
if which == "toy":
    cfg = validate(toy_config(batch_size=16, max_steps=12))
elif which == "toy-timed-cosine":  # the learning rate follows the clock: rank 0's, on every rank
    raw = toy_config(batch_size=16, max_steps=None, max_minutes=0.01, lr_schedule="cosine")
    cfg = validate({**raw, "method": {**raw["method"], "delay_s": 0.02}})
else:
    preset, overrides = SHRUNK[which]
    cfg = load_config(preset, overrides + ["train.eval_every=1000", "train.progress=false"])
trainer = Trainer(cfg, out / "run", lambda info: build_method(cfg, info), load_data(cfg))
start = torch.cat([p.detach().flatten().clone() for p in trainer.method.parameters()])
trainer.fit()
flat = torch.cat([p.detach().flatten() for p in trainer.method.parameters()])
gathered = [torch.zeros_like(flat) for _ in range(dist.get_world_size())]
dist.all_gather(gathered, flat)
if dist.get_rank() == 0:
    diff = max((g - gathered[0]).abs().max().item() for g in gathered)
    (out / "ddp_report.txt").write_text(f"{diff} {(flat - start).abs().max().item()}")
trainer.close()
