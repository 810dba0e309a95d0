"""What may import what (README, "Layout"): every gensci import, at module level or inside a function,
is an arrow from the importing module's layer to the imported one, and must be in this table."""

import ast
from pathlib import Path

import gensci

SRC = Path(gensci.__file__).parent

# layer -> the layers it may import (its own layer is always allowed). A layer is a package
# ("gensci.data") or a module ("gensci.methods.base"); the longest matching name decides.
LEAVES = ["gensci.errors", "gensci.files", "gensci.spec", "gensci.ops", "gensci.progress"]
ALLOWED = {
    "gensci.errors": [],
    "gensci.files": ["gensci.errors"],
    "gensci.spec": ["gensci.errors"],
    "gensci.ops": ["gensci.errors"],
    "gensci.progress": [],  # the progress display: rich only
    "gensci.chem": LEAVES,
    "gensci.registry": ["gensci.errors"],
    "gensci.config": ["gensci.errors", "gensci.registry"],
    "gensci.data": LEAVES + ["gensci.chem", "gensci.config"],
    "gensci.nets": LEAVES,
    "gensci.metrics": LEAVES + ["gensci.chem"],
    "gensci.mcmc": ["gensci.errors", "gensci.progress", "gensci.ops", "gensci.metrics"],  # samplers on energies: torch and leaves
    "gensci.methods": LEAVES + ["gensci.nets", "gensci.config"],
    "gensci.train": LEAVES + ["gensci.config", "gensci.methods.base", "gensci.data.base"],
    "gensci.viz": LEAVES + ["gensci.chem", "gensci.metrics"],
    "gensci.workflows": LEAVES + ["gensci.chem", "gensci.config", "gensci.registry", "gensci.data", "gensci.nets",
                                  "gensci.methods", "gensci.metrics", "gensci.train", "gensci.viz"],
    "gensci.testing": LEAVES + ["gensci.chem", "gensci.config", "gensci.registry", "gensci.data", "gensci.nets",
                                "gensci.methods", "gensci.metrics", "gensci.train", "gensci.viz", "gensci.workflows"],
    "gensci.api": LEAVES + ["gensci.config", "gensci.registry", "gensci.train", "gensci.viz", "gensci.workflows"],
    "gensci.cli": LEAVES + ["gensci.config", "gensci.registry", "gensci.api", "gensci.workflows"],
    "gensci.__main__": ["gensci.cli"],
    "gensci.weights": [],
    "gensci.references": [],  # package data (QM9's references)
    "gensci": [],
}


def layer(module: str) -> str:
    """The most specific entry of ALLOWED (or its allowed targets) that `module` belongs to."""
    names = set(ALLOWED) | {t for targets in ALLOWED.values() for t in targets}
    parts = module.split(".")
    for k in range(len(parts), 0, -1):
        if ".".join(parts[:k]) in names:
            return ".".join(parts[:k])
    raise AssertionError(f"{module} is in no layer")


def owner(module: str) -> str:
    parts = module.split(".")
    for k in range(len(parts), 0, -1):
        if ".".join(parts[:k]) in ALLOWED:
            return ".".join(parts[:k])
    raise AssertionError(f"{module} is in no layer of the table")


def imports(path: Path, module: str) -> list[tuple[int, str]]:
    """(line, imported gensci module) for every import statement in the file."""
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            # "from gensci.data import qm9" imports the module gensci.data.qm9
            out += [(node.lineno, f"{base}.{a.name}" if _is_module(f"{base}.{a.name}") else base) for a in node.names]
    return [(line, name) for line, name in out if name == "gensci" or name.startswith("gensci.")]


def _is_module(name: str) -> bool:
    rel = Path(*name.split(".")[1:])
    return (SRC / rel).with_suffix(".py").exists() or (SRC / rel / "__init__.py").exists()


def violations(src: Path = SRC) -> list[str]:
    found = []
    for path in sorted(src.rglob("*.py")):
        rel = path.relative_to(src.parent).with_suffix("")
        module = ".".join(rel.parts[:-1] if path.name == "__init__.py" else rel.parts)
        source = owner(module)
        allowed = set(ALLOWED[source]) | {source}
        for line, target in imports(path, module):
            if target == "gensci":
                continue
            if layer(target) not in allowed and owner(target) not in allowed:
                found.append(f"{path.relative_to(src.parent)}:{line}: {source} -> {target}")
    return found


def test_every_import_follows_the_layering_table():
    assert violations() == []


def test_the_check_catches_an_arrow_against_the_table(tmp_path):
    # a copy of the package with one forbidden arrow added: metrics importing a concrete method
    import shutil

    copy = tmp_path / "gensci"
    shutil.copytree(SRC, copy, ignore=shutil.ignore_patterns("__pycache__", "presets"))
    bad = copy / "metrics" / "radio.py"
    bad.write_text(bad.read_text() + "\n\ndef _bad():\n    from gensci.methods.edm import EDM  # noqa\n")
    assert any("gensci.metrics -> gensci.methods.edm" in v for v in violations(copy))
