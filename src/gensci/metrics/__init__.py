"""Measurements on samples against reference data: pure functions returning dicts of floats."""
