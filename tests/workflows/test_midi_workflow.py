"""The qm9-midi preset trains a few steps on a few real molecules, then samples and evaluates through the
molecule workflow (both objectives)."""

import pytest
import torch

import gensci.workflows.molecules as wfm
from gensci import api
from gensci.data.molecule_io import read_molecules
from gensci.metrics.molecule_protocols import MoleculeReference
from gensci.metrics.molecules import SmilesReference
from gensci.workflows.base import EvalOptions, SampleOptions

TINY = ["data.limit_train=64", "data.limit_eval=8", "method.hidden_nf=16", "method.message_nf=8", "method.edge_nf=8",
        "method.n_layers=2", "method.compile=false", "method.diffusion.timesteps=20", "train.batch_size=16",
        "train.warmup_steps=2", "train.eval_every=3", "train.checkpoint_every=3", "train.progress=false",
        "eval.n_samples=6", "eval.periodic_n_samples=4", "eval.sampling_steps=5"]


@pytest.fixture(autouse=True)
def _no_qm9_reference(monkeypatch):  # the QM9 training SMILES take minutes to build when not cached
    reference = MoleculeReference("test", SmilesReference(frozenset({"C", "CC"}), frozenset({"C", "CC"})),
                                  frozenset({"C", "CC"}))
    monkeypatch.setattr(wfm, "_reference", lambda info, carried: reference)


@pytest.mark.parametrize("objective", ["flow", "diffusion"])
def test_preset_trains_samples_and_evaluates(tmp_path, objective):
    run, result = api.train("qm9-midi", out=tmp_path / objective, overrides=TINY + [f"method.objective={objective}"],
                            max_steps=6)
    assert result.steps == 6
    evals = [r for r in run.history() if r.get("kind") == "eval"]
    assert evals and {"atom_stability", "molecule_stability_graph", "validity_graph"} <= set(evals[-1])
    metrics = api.evaluate(run, EvalOptions())  # both protocols: the samples carry positions and bonds
    assert metrics["n_molecules"] == 6 and metrics["sampling_steps"] == 5
    assert {"edm", "graph"} <= set(metrics["protocols"])
    assert 0 <= metrics["atom_stability"] <= 1 and 0 <= metrics["atom_stability_graph"] <= 1
    paths = api.sample(run, SampleOptions(n=3, steps=4, out=tmp_path / "mols.sdf"))
    assert len(read_molecules(paths[0])) == 3
    method = run.method()
    chain = method.chain(5, generator=torch.Generator().manual_seed(0))
    assert chain["bonds"].shape[0] == 5
