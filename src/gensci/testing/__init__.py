"""Test helpers shipped to users: equivariance checks, tiny batches, method contract checks."""

from gensci.testing.stepper import SimpleStepper

__all__ = ["SimpleStepper"]
