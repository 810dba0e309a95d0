"""Test helpers shipped to users: equivariance checks, tiny batches, method contract checks."""

from gensci.testing.contract import check_method_contract
from gensci.testing.equivariance import assert_equivariant, assert_padding_invariant
from gensci.testing.stepper import SimpleStepper

__all__ = ["SimpleStepper", "assert_equivariant", "assert_padding_invariant", "check_method_contract"]
