"""Reading a user's aligned FASTA / A2M file into integer sequences, the way DeepSequence does.

DeepSequence (github.com/debbiemarkslab/DeepSequence, DeepSequence/helper.py, commit 22e72c5,
`gen_basic_alignment` / `gen_full_alignment`): the first sequence is the focus (wild type); the columns kept
are those where the focus holds an upper-case letter or '-' (A2M match columns; lower-case letters and '.'
are insertions and are dropped); in the other sequences '.' becomes '-' and letters are upper-cased;
sequences with a letter outside the alphabet (X, B, Z, ...) are dropped (here: counted). All rows must be
equally long (A2M as plmc/jackhmmer pipelines write it, inserts padded with '.'); anything else is an
InputFileError naming the file and line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gensci.errors import InputFileError
from gensci.ops.sequences import ALPHABET

_INDEX = {c: i for i, c in enumerate(ALPHABET)}


@dataclass
class Alignment:
    names: list[str]
    seqs: np.ndarray  # [N, L] int64 states in ALPHABET order; row 0 is the focus (wild type)
    n_excluded: int  # sequences dropped for letters outside the alphabet
    focus_columns: list[int]  # the kept columns of the file's rows


def read_alignment(path: str | Path) -> Alignment:
    """Parse FASTA/A2M at `path` (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: no such alignment file (give an aligned FASTA or A2M file)")
    records: list[tuple[str, int, list[str]]] = []  # (name, header line, sequence chunks)
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            if line.startswith(">"):
                records.append((line[1:].strip() or f"sequence_{len(records) + 1}", number, []))
            elif not records:
                raise InputFileError(f"{path}:{number}: sequence before the first '>' header; expected FASTA/A2M")
            else:
                bad = next((c for c in line if not (c.isalpha() or c in "-.")), None)
                if bad is not None:
                    raise InputFileError(f"{path}:{number}: character {bad!r} in a sequence "
                                         "(allowed: letters, '-' gaps, '.' insert gaps)")
                records[-1][2].append(line)
    if not records:
        raise InputFileError(f"{path}: no '>' records; expected an aligned FASTA/A2M file")
    rows = ["".join(chunks) for _, _, chunks in records]
    width = len(rows[0])
    for (name, number, _), row in zip(records, rows):
        if len(row) != width:
            raise InputFileError(f"{path}:{number}: sequence {name!r} has {len(row)} columns, the first "
                                 f"(focus) sequence {width}: every row of an alignment must be equally long")
    focus = rows[0]
    columns = [k for k, c in enumerate(focus) if c.isupper() or c == "-"]
    if not columns:
        raise InputFileError(f"{path}:{records[0][1]}: the focus (first) sequence has no match columns "
                             "(upper-case letters or '-')")
    names, seqs, excluded = [], [], 0
    for (name, number, _), row in zip(records, rows):
        kept = "".join(row[k] for k in columns).replace(".", "-").upper()
        codes = [_INDEX.get(c, -1) for c in kept]
        if -1 in codes:
            if not seqs:
                raise InputFileError(f"{path}:{number}: the focus sequence holds {kept[codes.index(-1)]!r}, "
                                     f"outside the alphabet {ALPHABET}")
            excluded += 1
            continue
        names.append(name)
        seqs.append(codes)
    return Alignment(names, np.asarray(seqs, dtype=np.int64), excluded, columns)
