"""Reading aligned FASTA/A2M as DeepSequence does, and one-line errors naming file and line."""

import pytest

from gensci.data.sequence_alignment import read_alignment
from gensci.errors import InputFileError
from gensci.ops.sequences import ALPHABET

A2M = """>focus/1-8
ACd.EF-G
>seq2
ACde-FGG
>seq3 with X
AXd.EFGG

>seq4
a.CDEF-G
"""


def codes(text):
    return [ALPHABET.index(c) for c in text]


def test_a2m_insert_columns_are_dropped_and_bad_letters_counted(tmp_path):
    path = tmp_path / "fam.a2m"
    path.write_text(A2M)
    aln = read_alignment(path)
    assert aln.focus_columns == [0, 1, 4, 5, 6, 7]  # focus lower-case 'd' and '.' are insert columns
    assert aln.names == ["focus/1-8", "seq2", "seq4"] and aln.n_excluded == 1  # 'X' is outside the alphabet
    assert aln.seqs.tolist() == [codes("ACEF-G"), codes("AC-FGG"), codes("A-EF-G")]  # '.' -> '-', upper-cased


def test_plain_fasta_keeps_every_column(tmp_path):
    path = tmp_path / "fam.fasta"
    path.write_text(">a\nACDE\nFG\n>b\nAC-EFG\n")  # sequences may span lines
    assert read_alignment(path).seqs.tolist() == [codes("ACDEFG"), codes("AC-EFG")]


@pytest.mark.parametrize("text,line,words", [
    (">a\nACDE\n>b\nACD\n", 3, "3 columns"),
    ("ACDE\n>a\nACDE\n", 1, "before the first"),
    (">a\nAC1E\n", 2, "character '1'"),
    (">a\nacde\n>b\nACDE\n", 1, "no match columns"),
    (">a\nACXE\n>b\nACDE\n", 1, "outside the alphabet"),
])
def test_malformed_files_are_one_line_errors_with_file_and_line(tmp_path, text, line, words):
    path = tmp_path / "bad.a2m"
    path.write_text(text)
    with pytest.raises(InputFileError) as err:
        read_alignment(path)
    message = str(err.value)
    assert f"{path}:{line}:" in message and words in message and "\n" not in message


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(InputFileError, match="no such alignment file"):
        read_alignment(tmp_path / "nothing.a2m")
    (tmp_path / "empty.a2m").write_text("\n")
    with pytest.raises(InputFileError, match="no '>' records"):
        read_alignment(tmp_path / "empty.a2m")
