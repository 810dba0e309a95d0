"""Chemistry shared by data, metrics and viz: valence tables, RDKit molecule building, bond perception.

A leaf package: it imports numpy, RDKit and gensci.errors/files/ops only (never data, metrics,
methods). Modules:
- `molecule`: the one `Molecule` type (atom symbols; optional positions, bonds, formal charges),
  `as_molecule` and `molecules_from_padded` (padded samples -> Molecules).
- `valences`: allowed-valence tables (`ValenceTable`) and the "predicted-bond" stability protocol of
  MiDi and its successors (keyed by element and formal charge), vectorised over padded batches.
- `distance_bonds`: EDM's bond-length tables and margins, bonds inferred from distances and EDM's
  valence check (the "distance" protocol).
- `rdmol`: an RDKit molecule from atoms + bond orders + formal charges (+ 3D conformer), its sanitised
  canonical SMILES (whole and largest fragment), ETKDG conformers for 2D graphs.
- `perception`: bond orders and formal charges of a 3D molecule whose SMILES is known.

Bond codes everywhere: 0 none, 1 single, 2 double, 3 triple, 4 aromatic (MiDi's and EDM's `bond_dict`).
RDKit is imported inside the functions that need it, so importing gensci.chem stays cheap.
"""

BOND_CODES = {0: "none", 1: "single", 2: "double", 3: "triple", 4: "aromatic"}
