"""Run under torchrun by test_distributed.py: trains the toy on 2 CPU processes (gloo)."""

import faulthandler
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from gensci.config import validate
from gensci.testing.toy import register_toy, toy_config
from gensci.train.trainer import Trainer
from gensci.workflows.base import build_method, load_data

faulthandler.enable()  # an abort inside gloo then shows where Python was
register_toy()
out = Path(sys.argv[1])
cfg = validate(toy_config(batch_size=16, max_steps=12))
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
