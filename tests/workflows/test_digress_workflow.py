"""The qm9-digress preset trains a few steps on a few real graphs, then samples, draws its chain and evaluates through
the molecule workflow as 2D graphs (no positions: the predicted-bond protocol without EDM's)."""

import torch

import gensci.workflows.molecules as wfm
from gensci import api
from gensci.data.molecule_io import read_molecules
from gensci.metrics.molecule_protocols import MoleculeReference
from gensci.workflows.base import EvalOptions, SampleOptions

TINY = ["data.limit_train=64", "data.limit_eval=8", "method.n_layers=1", "method.dx=16", "method.de=8", "method.dy=8",
        "method.ff_x=16", "method.ff_e=8", "method.ff_y=8", "method.mlp_x=16", "method.mlp_e=8", "method.mlp_y=8",
        "method.timesteps=20", "train.batch_size=16", "train.warmup_steps=2", "train.eval_every=3",
        "train.checkpoint_every=3", "train.progress=false", "eval.n_samples=6", "eval.periodic_n_samples=4",
        "eval.sampling_steps=5"]


def test_preset_trains_samples_and_evaluates(tmp_path, monkeypatch):
    # the QM9 training graphs take minutes to index when not cached: a two-molecule reference instead
    monkeypatch.setattr(wfm, "_reference", lambda info, carried: MoleculeReference("test", graph_smiles=frozenset({"C", "CC"})))
    run, result = api.train("qm9-digress", out=tmp_path / "run", overrides=TINY, max_steps=6)
    assert result.steps == 6
    evals = [r for r in run.history() if r.get("kind") == "eval"]
    assert evals and {"validity_graph", "validity_x_uniqueness_graph"} <= set(evals[-1])
    assert "atom_stability" not in evals[-1]  # no positions: EDM's protocol does not apply
    metrics = api.evaluate(run, EvalOptions())
    assert metrics["n_molecules"] == 6 and metrics["sampling_steps"] == 5
    assert "graph" in metrics["protocols"] and "edm" in metrics["protocols_skipped"]
    assert 0 <= metrics["validity_graph"] <= 1 and "uniqueness_graph" in metrics
    paths = api.sample(run, SampleOptions(n=3, steps=4, out=tmp_path / "graphs.sdf"))
    assert [p.suffix for p in paths] == [".sdf", ".smi"] and len(read_molecules(paths[0])) == 3
    assert len(paths[1].read_text().splitlines()) == 3
    chain = api.sample(run, SampleOptions(chain=True, steps=4, out=tmp_path / "chain.gif"))
    assert sorted(p.suffix for p in chain) == [".gif", ".png"]
    assert run.method().chain(3, generator=torch.Generator().manual_seed(0))["bonds"].shape[0] == 3
