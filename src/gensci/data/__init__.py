"""Data sets and simulators. Returns tensors and plain metadata; no nn code."""
