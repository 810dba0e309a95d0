"""Generative objectives and samplers; each method is an nn.Module (see base.Method)."""
