"""The trainer: loop, budgets, EMA, checkpoints, resume, logging, torch.distributed."""
