"""Test helpers shipped to users: equivariance checks, tiny batches, method contract checks."""

from gensci.testing.contract import check_method_contract
from gensci.testing.stepper import SimpleStepper

__all__ = ["SimpleStepper", "check_method_contract"]
