"""The property evaluator of EDM's conditional protocol: the regressor net, training (resumable, seeded), export
and loading without unpickling, `gensci evaluate FILE --properties`, and scoring conditional samples."""

import json

import numpy as np
import pytest
import torch
from rdkit import Chem
from rdkit.Chem import AllChem
from typer.testing import CliRunner

import gensci.workflows.molecule_files as F
import gensci.workflows.property_evaluator as pe
from gensci.chem.molecule import Molecule
from gensci.chem.rdmol import graph_from_mol
from gensci.cli import app
from gensci.data.molecule_io import write_molecules
from gensci.errors import UserError
from gensci.nets.property_egnn import PropertyEGNN
from gensci.ops.rotations import random_orthogonal

runner = CliRunner()
TINY = dict(epochs=2, batch_size=32, hidden_nf=16, n_layers=2, limit_train=160, limit_eval=48, device="cpu")


def _batch(b=3, n=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    h = torch.nn.functional.one_hot(torch.randint(0, 5, (b, n), generator=g), 5).float()
    mask = torch.ones(b, n)
    mask[0, 4:] = 0
    mask[2, 5:] = 0
    x = torch.randn(b, n, 3, generator=g) * mask[..., None]
    return h * mask[..., None], x, mask


def _reference_forward(net: PropertyEGNN, h, x, mask):
    """models_property.py EGNN written out densely: all N x N pairs, edge mask (i != j, both real), concatenated
    [h_i, h_j, |x_i - x_j|^2], attention, residual node update, masked sum readout."""
    n = x.shape[1]
    e = (mask[:, :, None] * mask[:, None, :] * (1 - torch.eye(n)))[..., None]
    d = ((x[:, :, None] - x[:, None, :]) ** 2).sum(-1, keepdim=True)
    h = net.embedding(h)
    for gcl in net.gcls:
        pairs = torch.cat([h[:, :, None].expand(-1, -1, n, -1), h[:, None, :].expand(-1, n, -1, -1), d], -1)
        m = gcl.edge_mlp(pairs)
        m = m * torch.sigmoid(gcl.att_mlp(m)) * e
        h = h + gcl.node_mlp(torch.cat([h, m.sum(2)], -1))
    return net.graph_dec((net.node_dec(h) * mask[..., None]).sum(1)).squeeze(-1)


def test_regressor_matches_the_dense_reference_and_is_invariant():
    torch.manual_seed(0)
    net = PropertyEGNN(hidden_nf=16, n_layers=3)
    h, x, mask = _batch()
    y = net(h, x, mask)
    assert y.shape == (3,)
    torch.testing.assert_close(y, _reference_forward(net, h, x, mask), rtol=1e-4, atol=1e-5)
    for reflect in (False, True):
        q = random_orthogonal(3, reflect, torch.Generator().manual_seed(1), torch.float32)
        moved = (x @ q.T + torch.tensor([1.0, -2.0, 0.5])) * mask[..., None]
        torch.testing.assert_close(net(h, moved, mask), y, rtol=1e-4, atol=1e-5)
    perm = torch.tensor([3, 1, 0, 2, 5, 4])
    torch.testing.assert_close(net(h[1:2, perm], x[1:2, perm], mask[1:2, perm]), y[1:2], rtol=1e-4, atol=1e-5)
    padded = [torch.cat([t, torch.zeros(3, 4, *t.shape[2:])], 1) for t in (h, x, mask)]
    padded[1][:, 6:] = 7.0  # garbage on padding atoms changes nothing
    torch.testing.assert_close(net(*padded), y, rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny evaluator for alpha trained for 2 epochs and exported into a temporary folder."""
    root = tmp_path_factory.mktemp("evaluator")
    run = root / "qm9-property-alpha"
    final = pe.train_evaluator(run, pe.EvaluatorConfig(property="alpha", **TINY), progress=False)
    folder = root / "evaluators"
    pe.export_evaluator(run, folder)
    return run, folder, final


def test_training_logs_every_epoch_and_measures_the_second_half(trained):
    run, _, final = trained
    lines = [json.loads(ln) for ln in (run / "metrics.jsonl").read_text().splitlines()]
    assert [ln["kind"] for ln in lines] == ["epoch", "epoch", "final"]
    assert final == lines[-1] and final["n_second_half"] == 48 and final["best_epoch"] in (0, 1)
    assert final["valid_mae"] == min(ln["valid_mae"] for ln in lines[:2])
    assert lines[0]["lr"] == pytest.approx(5e-4) and lines[1]["lr"] == pytest.approx(2.5e-4)  # cosine over 2 epochs
    assert final["mad"] > 0 and np.isfinite(final["second_half_mae"])
    saved = torch.load(run / "checkpoints" / "last.pt", weights_only=True)  # plain tensors and numbers only
    assert saved["state"]["epoch"] == 2


def test_a_stopped_training_resumes_to_the_same_weights(trained, tmp_path):
    run, _, _ = trained
    other = tmp_path / "resumed"
    config = pe.EvaluatorConfig(property="alpha", **TINY)
    stopped = pe.train_evaluator(other, config, progress=False, max_batches=7)  # 5 batches/epoch: mid epoch 1
    assert stopped["kind"] == "stopped" and (stopped["epoch"], stopped["batch"]) == (1, 2)
    with pytest.raises(UserError):
        pe.train_evaluator(other, config, progress=False)  # a second start would overwrite it
    pe.train_evaluator(other, resume=True, progress=False)
    a = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    b = torch.load(other / "checkpoints" / "last.pt", weights_only=True)
    for k in a["model"]:
        torch.testing.assert_close(a["model"][k], b["model"][k], rtol=0, atol=0)
    logged = [json.loads(ln) for ln in (other / "metrics.jsonl").read_text().splitlines()]
    assert [ln["kind"] for ln in logged] == ["epoch", "epoch", "final"]
    again = pe.train_evaluator(other, resume=True, progress=False)  # finished: nothing runs, the log stays
    assert again == logged[-1] and (other / "metrics.jsonl").read_text().count("\n") == 3


def test_an_interrupt_saves_the_batches_done_and_resume_continues_to_the_same_weights(trained, tmp_path, monkeypatch):
    """Ctrl-C or SIGTERM mid-epoch (raised here from the 8th forward pass) saves the state; --resume ends where an
    uninterrupted training does."""
    run, _, _ = trained
    other = tmp_path / "interrupted"
    calls, forward = [0], pe.PropertyEGNN.forward

    def interrupted(self, *args, **kwargs):
        calls[0] += 1
        if calls[0] == 8:
            raise KeyboardInterrupt
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(pe.PropertyEGNN, "forward", interrupted)
    stopped = pe.train_evaluator(other, pe.EvaluatorConfig(property="alpha", **TINY), progress=False)
    # 5 training batches and one validation pass in epoch 0, then epoch 1's first batch: the 8th call is batch 1
    assert stopped["kind"] == "stopped" and (stopped["epoch"], stopped["batch"]) == (1, 1)
    monkeypatch.setattr(pe.PropertyEGNN, "forward", forward)
    pe.train_evaluator(other, resume=True, progress=False)
    a = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    b = torch.load(other / "checkpoints" / "last.pt", weights_only=True)
    for k in a["model"]:
        torch.testing.assert_close(a["model"][k], b["model"][k], rtol=0, atol=0)


def test_export_ships_weights_and_baselines_that_load_without_pickle(trained):
    _, folder, final = trained
    manifest = json.loads((folder / "alpha.json").read_text())
    assert manifest["mae_second_half"]["n"] == 48
    assert manifest["mae_second_half"]["mae"] == pytest.approx(final["second_half_mae"], rel=1e-4)
    base = manifest["baselines"]
    assert base["qm9"] == manifest["mae_second_half"]["mae"] and base["naive"] > 0 and base["n_atoms"] > 0
    assert set(manifest) >= {"epochs", "cpu_hours", "command", "data", "mean", "mad"}
    evaluator = pe.load_evaluator("alpha", folder)
    with pytest.raises(UserError, match="train_evaluator.py train mu"):
        pe.load_evaluator("mu", folder)
    with pytest.raises(UserError, match="choices"):
        pe.load_evaluator("polarisability", folder)
    assert not list(folder.glob("*.pt"))
    assert evaluator.predict(*_batch()).shape == (3,)


def _embedded(smiles, name=None):
    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    AllChem.EmbedMolecule(mol, randomSeed=0)
    symbols, bonds, charges = graph_from_mol(mol)
    return Molecule(mol.GetConformer().GetPositions(), symbols, name or smiles, bonds, charges)


@pytest.fixture
def shipped(trained, monkeypatch):
    """The tiny evaluator as if shipped; QM9's reference for `evaluate FILE` cut to 50 molecules (its caches take
    minutes to build)."""
    from gensci.metrics.distributions import molecule_stats
    from gensci.metrics.molecule_protocols import MoleculeReference
    from gensci.metrics.molecules import SmilesReference
    from gensci.workflows.molecule_references import qm9_molecules

    monkeypatch.setattr(pe, "evaluators_dir", lambda: trained[1])

    def reference(remove_h, carried, distributions=True):
        plain = qm9_molecules("train", 50, remove_h)
        return MoleculeReference("qm9 (first 50)", SmilesReference.from_molecules(plain),
                                 stats_inferred=molecule_stats(plain))
    monkeypatch.setattr(F, "qm9_reference", reference)
    monkeypatch.setattr(F, "edm_smiles_cached", lambda remove_h: False)
    return pe.load_evaluator("alpha", trained[1])


def test_evaluate_file_properties_per_molecule_in_file_order(shipped, tmp_path):
    mols = [_embedded("CCO"), _embedded("CC(=O)N"), _embedded("FC(F)F")]
    path = write_molecules(tmp_path / "m.xyz", mols)
    result = runner.invoke(app, ["evaluate", str(path), "--properties", "alpha", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    values = out["properties"]["alpha"]
    batch = pe.molecules_to_batch(mols)
    assert values == pytest.approx(shipped.predict(**batch).tolist())
    assert out["properties_mean"]["alpha"] == pytest.approx(np.mean(values))
    assert out["properties_std"]["alpha"] == pytest.approx(np.std(values, ddof=1))
    assert out["properties_units"] == {"alpha": "Bohr^3"} and out["n_molecules"] == 3
    reversed_ = pe.predict_molecules(mols[::-1], ["alpha"])["properties"]["alpha"]
    assert reversed_ == pytest.approx(values[::-1], rel=1e-5)


@pytest.mark.parametrize("case, expected", [
    ("unknown", "unknown property polar"), ("missing", "no shipped property evaluator for mu"),
    ("flat", "no 3D coordinates"), ("sulfur", "molecule 2 (CS) holds S"), ("smiles", "XYZ/SDF")])
def test_evaluate_properties_bad_input_is_one_line_and_exit_2(shipped, tmp_path, case, expected):
    mols = [_embedded("CCO"), _embedded("CS" if case == "sulfur" else "CC")]
    path = write_molecules(tmp_path / "m.sdf", mols)
    names = {"unknown": "alpha,polar", "missing": "alpha,mu"}.get(case, "alpha")
    if case == "flat":  # RDKit's 2D layout: a 2D mol block, every z = 0
        blocks = []
        for smiles in ("CCO", "CC"):
            mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
            AllChem.Compute2DCoords(mol)
            blocks.append(Chem.MolToMolBlock(mol) + "$$$$\n")
        path.write_text("".join(blocks))
    if case == "smiles":
        path = tmp_path / "m.smi"
        path.write_text("CCO\n")
    result = runner.invoke(app, ["evaluate", str(path), "--properties", names, "--json"])
    assert result.exit_code == 2, result.output
    assert expected in " ".join(result.stderr.split()) and "Traceback" not in result.output


def test_score_conditional_with_one_hot_or_atomic_numbers(shipped, trained, tmp_path):
    import shutil

    folder = tmp_path / "evaluators"  # the tiny evaluator with round baselines: naive 30, #atoms 25, floor 20
    shutil.copytree(trained[1], folder)
    manifest = json.loads((folder / "alpha.json").read_text())
    manifest["baselines"] |= {"naive": 30.0, "n_atoms": 25.0, "qm9": 20.0}
    (folder / "alpha.json").write_text(json.dumps(manifest))
    mols = [_embedded("CCO"), _embedded("CC(=O)N"), _embedded("C#N"), _embedded("OCC=O")]
    batch = pe.molecules_to_batch(mols)
    own = shipped.predict(**batch)
    numbers = (batch["one_hot"] @ np.array([1, 6, 7, 8, 9])) * batch["node_mask"]
    exact = pe.score_conditional(batch["positions"], numbers.astype(int), batch["node_mask"], {"alpha": own},
                                 folder=folder)["alpha"]
    assert exact["mae"] == pytest.approx(0, abs=1e-6) and exact["n"] == 4
    assert exact["gap_closure"] == pytest.approx(3.0)  # (30 - 0) / (30 - 20)
    off = pe.score_conditional(batch["positions"], batch["one_hot"], batch["node_mask"], {"alpha": own + 2.0},
                               folder=folder)["alpha"]
    assert off["mae"] == pytest.approx(2.0) and off["gap_closure"] == pytest.approx(2.8)
    assert off["mae_edm_units"] == off["mae"] and off["edm_unit"] == "Bohr^3" and off["baseline_n_atoms"] == 25.0
    assert off["predicted"] == pytest.approx(own.tolist())
    low, high = off["mae_interval"]
    assert low <= 2.0 + 1e-6 and high >= 2.0 - 1e-6
    numbers[1, 0] = 16
    with pytest.raises(UserError, match="molecule 1: atomic number"):
        pe.score_conditional(batch["positions"], numbers.astype(int), batch["node_mask"], {"alpha": own},
                             folder=folder)
