"""SMILES as token sequences: a tokenizer and a vocabulary that maps tokens to integer ids and back.

Tokens (the regular expression of Schwaller et al., "Molecular Transformer", ACS Cent. Sci. 5, 1572 (2019),
reaction-SMILES regex without the ">" of reactions): a bracket atom `[nH]`, `[C@@H]`, `[O-]` is one token;
two-letter elements `Br` and `Cl` are one token; a ring-closure label `%10`..`%99` is one token, a single
digit another; bonds, branches, aromatic atoms and `.` one token each. `"".join(tokenize(s)) == s` for every
string the tokenizer accepts; a character it does not know is an error naming it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gensci.errors import InputFileError

SMILES_REGEX = re.compile(r"(\[[^\]]+]|Br?|Cl?|N|O|S|P|F|I|b|c|n|o|s|p|\(|\)|\.|=|#|-|\+|\\|/|:|~|@|\?|\*|\$|%[0-9]{2}|[0-9])")

PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"
SPECIAL_TOKENS = (PAD, BOS, EOS)  # ids 0, 1, 2 in every vocabulary


def tokenize(smiles: str) -> list[str]:
    """'CC(=O)Nc1ccc(Br)cc1' -> ['C', 'C', '(', '=', 'O', ')', 'N', 'c', '1', ...]; raises InputFileError on a
    character no token covers (the joined tokens always give back the input)."""
    tokens = SMILES_REGEX.findall(smiles)
    if sum(map(len, tokens)) != len(smiles):
        at, pos = _first_gap(smiles, tokens)
        raise InputFileError(f"SMILES {smiles!r}: character {at!r} at position {pos} is not a SMILES token")
    return tokens


def _first_gap(smiles: str, tokens: list[str]) -> tuple[str, int]:
    pos = 0
    for m in SMILES_REGEX.finditer(smiles):
        if m.start() != pos:
            break
        pos = m.end()
    return smiles[pos], pos


@dataclass(frozen=True)
class Vocabulary:
    """Tokens <-> ids. `tokens[0:3]` are <pad>, <bos>, <eos>; the rest come from the data (sorted).

    `encode(s, length)` -> ids [length]: <bos>, the tokens, <eos>, then <pad>; `decode(ids)` reads up to the first
    <eos> (or <pad>) and skips a leading <bos>. Plain data (`tokens` is a tuple of str), so it travels in `info`.
    """

    tokens: tuple[str, ...]

    @classmethod
    def from_smiles(cls, smiles: list[str]) -> "Vocabulary":
        seen = sorted({t for s in smiles for t in tokenize(s)})
        return cls(SPECIAL_TOKENS + tuple(seen))

    @property
    def index(self) -> dict[str, int]:
        return {t: i for i, t in enumerate(self.tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    pad_id, bos_id, eos_id = 0, 1, 2

    def encode(self, smiles: str, length: int) -> list[int] | None:
        """ids [length] or None when a token is not in the vocabulary or the SMILES needs more than length - 2."""
        index = self.index
        tokens = tokenize(smiles)
        if len(tokens) + 2 > length or any(t not in index for t in tokens):
            return None
        ids = [self.bos_id] + [index[t] for t in tokens] + [self.eos_id]
        return ids + [self.pad_id] * (length - len(ids))

    def decode(self, ids) -> str:
        """ids (a sequence of ints, with or without a leading <bos>) -> the SMILES string up to <eos>/<pad>."""
        out = []
        for k, i in enumerate(int(v) for v in ids):
            if k == 0 and i == self.bos_id:
                continue
            if i in (self.eos_id, self.pad_id):
                break
            out.append("" if i == self.bos_id else self.tokens[i])  # a <bos> inside a sequence spells nothing
        return "".join(out)
