"""Package data: QM9's training split as the reference of molecule evaluations (EDM SMILES, graph SMILES,
bond-length and angle distributions, the "data (gensci)" figures), read by gensci.workflows.molecule_references
and rebuilt by `OMP_NUM_THREADS=1 python -m gensci.workflows.reference_build`."""
