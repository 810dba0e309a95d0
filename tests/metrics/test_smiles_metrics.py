"""MOSES metrics on inputs with known answers."""

import socket

import numpy as np
import pytest
from rdkit import DataStructs
from rdkit.Chem import AllChem

from gensci.chem.properties import mol_from_smiles
from gensci.metrics.smiles import (fingerprints, internal_diversity, passes_filters, reference_statistics,
                                   smiles_metrics)

MOLECULES = ["CCO", "c1ccccc1", "CC(=O)Oc1ccccc1C(=O)O", "CCN(CC)CC", "O=C1CCCCC1", "c1ccc2ccccc2c1",
             "CC(C)Cc1ccc(cc1)C(C)C(=O)O", "O=C(O)c1ccccc1O", "c1ccc(cc1)C1CCNCC1", "CCOC(=O)c1ccc(N)cc1"]


def test_validity_counts_unparsable_and_empty_strings():
    ref = reference_statistics(MOLECULES, fcd=False)
    m = smiles_metrics(["CCO", "C1CC", "", "c1ccccc1"], ref, fcd=False)
    assert m["validity"] == 0.5 and m["n_valid"] == 2


def test_unique_at_k_with_duplicates():
    ref = reference_statistics(MOLECULES, fcd=False)
    m = smiles_metrics(["CCO", "OCC", "CCN", "C"], ref, ks=(2, 4), fcd=False)
    assert m["unique_at_2"] == 0.5  # CCO and OCC are one molecule
    assert m["unique_at_4"] == 0.75 and m["unique_at_4_n"] == 4


def test_novelty_against_the_training_set():
    ref = reference_statistics(MOLECULES, fcd=False)
    m = smiles_metrics(["CCO", "OCC", "CCCl", "CCBr"], ref, train={"CCO", "CCCl"}, fcd=False)
    assert m["novelty"] == pytest.approx(1 / 3)  # distinct valid: CCO, CCCl, CCBr; new: CCBr


def test_internal_diversity_of_two_molecules():
    a, b = mol_from_smiles("CCO"), mol_from_smiles("CCCO")
    legacy = [AllChem.GetMorganFingerprintAsBitVect(m, 2, nBits=1024) for m in (a, b)]  # MOSES' fingerprint call
    t = DataStructs.TanimotoSimilarity(*legacy)
    fps = fingerprints([a, b])
    # all four ordered pairs: T(a,a) = T(b,b) = 1, T(a,b) = T(b,a) = t
    assert internal_diversity(fps, 1) == pytest.approx((1 - t) / 2)
    assert internal_diversity(fps, 2) == pytest.approx(1 - np.sqrt((1 + t**2) / 2))
    assert internal_diversity(fingerprints([a, a]), 1) == pytest.approx(0.0)


def test_a_set_against_itself_and_no_download():
    def refuse(*args, **kwargs):
        raise AssertionError("FCD tried to open a network connection")

    original = socket.socket.connect
    socket.socket.connect = refuse  # ChemNet's weights must come from the installed wheel
    try:
        ref = reference_statistics(MOLECULES)
        m = smiles_metrics(MOLECULES, ref, train=set(), filter_smarts=[])
    finally:
        socket.socket.connect = original
    assert m["validity"] == 1 and m["novelty"] == 1
    assert m["snn"] == pytest.approx(1.0) and m["frag"] == pytest.approx(1.0) and m["scaf"] == pytest.approx(1.0)
    assert abs(m["fcd"]) < 1e-3
    for name in ("logp", "qed", "sa", "weight"):
        assert m[f"{name}_w1"] == pytest.approx(0.0, abs=1e-9)
    other = smiles_metrics(["CCCCCCCCCC", "CCCCCCCCCCCC", "CCCCCCCCCCCCCC"], ref)
    assert other["fcd"] > 1 and other["snn"] < 0.5 and other["logp_w1"] > 1


def test_filters():
    assert passes_filters(mol_from_smiles("CCO"), [])
    assert not passes_filters(mol_from_smiles("C[N+](C)(C)C"), [])  # charged
    assert not passes_filters(mol_from_smiles("C1CCCCCCC1"), [])  # an 8-membered ring
    assert not passes_filters(mol_from_smiles("CCP"), [])  # phosphorus is not allowed
    assert not passes_filters(mol_from_smiles("CCO"), [AllChem.MolFromSmarts("[OX2H]")])  # a filter pattern matches
