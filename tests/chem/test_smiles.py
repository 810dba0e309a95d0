"""SMILES tokens and the vocabulary: round trips, bracket atoms, two-letter elements, %nn ring labels."""

import pytest

from gensci.chem.properties import canonical_smiles, mol_from_smiles, properties
from gensci.chem.smiles import Vocabulary, tokenize
from gensci.errors import InputFileError

CASES = [
    "CC(=O)Oc1ccccc1C(=O)O",  # aspirin
    "C[C@@H](N)C(=O)O",  # chiral bracket atom
    "Clc1ccc(Br)cc1",  # two-letter elements
    "[Na+].[Cl-]",  # charges, dot
    "c1ccc2[nH]ccc2c1",  # aromatic bracket atom
    "C1CC%10CC1CCCCC%10",  # a two-digit ring label
    "F/C=C/F",  # bond directions
    "C#N",
    "O=[N+]([O-])c1ccccc1",
    "[2H]C([2H])([2H])[2H]",  # isotopes
]


@pytest.mark.parametrize("smiles", CASES)
def test_tokens_join_back_to_the_smiles(smiles):
    assert "".join(tokenize(smiles)) == smiles


def test_multi_character_tokens_are_one_token():
    tokens = tokenize("C[C@@H](Cl)c1cc%12ccBr.[nH]")
    assert {"[C@@H]", "Cl", "%12", "Br", "[nH]"} <= set(tokens)
    assert tokens.count("C") == 1 and "l" not in tokens and "%" not in tokens


def test_unknown_character_is_an_error_naming_it():
    with pytest.raises(InputFileError, match="'!'"):
        tokenize("CC!O")


def test_vocabulary_round_trip_and_limits():
    vocab = Vocabulary.from_smiles(CASES)
    assert vocab.tokens[:3] == ("<pad>", "<bos>", "<eos>")
    for s in CASES:
        ids = vocab.encode(s, 40)
        assert len(ids) == 40 and ids[0] == vocab.bos_id and vocab.eos_id in ids
        assert vocab.decode(ids) == s
    assert vocab.encode("CC(=O)Oc1ccccc1C(=O)O", 10) is None  # too long for 10 positions
    assert vocab.encode("CCI", 10) is None  # iodine is not in this vocabulary
    assert vocab.decode([vocab.bos_id, *vocab.encode("CCO", 8)[1:4], vocab.pad_id, 5]) == "CCO"


def test_properties_have_their_known_values_and_ranges():
    ethanol = mol_from_smiles("CCO")
    p = properties(ethanol)
    assert p["weight"] == pytest.approx(46.069, abs=1e-3)  # C2H6O, IUPAC standard atomic weights
    assert 0 < p["qed"] < 1 and 1 <= p["sa"] <= 10
    assert properties(mol_from_smiles("CCCCCCCC"))["logp"] > p["logp"]  # a longer alkane is more lipophilic
    assert mol_from_smiles("") is None and mol_from_smiles("C1CC") is None and canonical_smiles("OCC") == "CCO"
