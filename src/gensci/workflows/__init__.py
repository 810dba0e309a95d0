"""Wiring per data domain: how a run is sampled, evaluated and reported (see base.Workflow)."""
