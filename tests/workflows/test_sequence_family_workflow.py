"""Protein families end to end: train potts-vae for 50 steps, evaluate against the exact effects, sample, report;
a user's alignment; the same seed gives the same numbers."""

import json

import numpy as np
from typer.testing import CliRunner

from gensci.cli import app
from gensci.workflows.sequence_family import predict_effects

runner = CliRunner()

TINY = ["--set", "data.length=8", "--set", "data.n_sequences=300", "--set", "data.n_heldout=40", "--set", "data.chains=60",
        "--set", "data.burn_in=30", "--set", "data.thin=3", "--set", "data.n_doubles=300", "--set", "data.cache=false",
        "--set", "method.latent_dim=4", "--set", "method.encoder_hidden=[64]", "--set", "method.decoder_hidden=[16,64]",
        "--set", "train.eval_every=25", "--set", "train.progress=false", "--set", "eval.periodic_n_samples=20"]
KEYS = {"spearman_single", "spearman_double", "baseline_spearman_single", "baseline_spearman_double",
        "potts_spearman_single", "potts_spearman_double", "spearman_epistasis", "potts_spearman_epistasis"}


def train_and_evaluate(run, *extra):
    result = runner.invoke(app, ["train", "potts-vae", "--out", str(run), "--max-steps", "50", *TINY, *extra])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["evaluate", str(run), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_train_evaluate_sample_report(tmp_path):
    run = tmp_path / "potts"
    m = train_and_evaluate(run)
    assert KEYS <= set(m) and "baseline_spearman_epistasis" not in m  # a PWM has no epistasis
    assert all(-1 <= m[k] <= 1 for k in KEYS) and m["n_single"] == 8 * 19 and m["n_double"] == 300
    assert m["spearman_single_lo"] <= m["spearman_single"] <= m["spearman_single_hi"]
    # the plmc-style fit learns the simulated couplings: it ranks epistasis far better than chance
    assert m["potts_spearman_epistasis"] > 0.5 and m["potts_spearman_double"] > 0.5
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert any(r["kind"] == "eval" and "valid_elbo" in r for r in rows)

    result = runner.invoke(app, ["sample", str(run), "--n", "5"])
    assert result.exit_code == 0, result.output
    lines = (run / "samples" / "single_mutants.csv").read_text().splitlines()
    assert lines[0] == "mutant,vae,pwm,true" and len(lines) == 1 + 8 * 19
    fasta = (run / "samples" / "samples.fasta").read_text().splitlines()
    assert len(fasta) == 10 and all(len(s) == 8 for s in fasta[1::2])

    result = runner.invoke(app, ["report", str(run)])
    assert result.exit_code == 0, result.output
    assert (run / "figures" / "mutation_effects.png").exists()
    assert "data:image/png;base64" in (run / "report.html").read_text()

    # seeded: the same command gives the same numbers
    again = train_and_evaluate(tmp_path / "again")
    assert all(again[k] == m[k] for k in KEYS)


def test_a_users_alignment_and_a_malformed_one(tmp_path):
    rng = np.random.default_rng(0)
    alphabet = "ACDEFGHIKLMNPQRSTVWY"
    rows = ["".join(rng.choice(list(alphabet), 10)) for _ in range(150)]
    path = tmp_path / "fam.a2m"
    path.write_text("".join(f">s{k}\n{r}\n" for k, r in enumerate(rows)))
    run = tmp_path / "mine"
    m = train_and_evaluate(run, "--set", f"data.path={path}", "--set", "train.batch_size=50")
    assert "test_elbo" in m and "baseline_test_log_likelihood" in m and "spearman_single" not in m
    bad = tmp_path / "bad.a2m"
    bad.write_text(">a\nACDE\n>b\nACD\n")
    result = runner.invoke(app, ["train", "potts-vae", "--out", str(tmp_path / "bad"), "--max-steps", "2",
                                 "--set", f"data.path={bad}"])
    assert result.exit_code == 2 and f"{bad}:3:" in result.output and result.output.count("\n") == 1


def test_predict_effects_of_an_exact_scorer_are_the_truth():
    from gensci.data.potts import PottsDataConfig, mutant_set, random_potts
    from gensci.ops.potts import energy

    config = PottsDataConfig(length=6, n_doubles=200)
    model = random_potts(config)
    ms = mutant_set(config, [0, 1, 2, 3, 4, 5])
    pred = predict_effects(lambda s: -energy(model.h, model.J, s), ms)
    for key in ("single", "double", "epistasis"):
        np.testing.assert_allclose(pred[key], ms.true[key][ms.coupled].numpy() if key == "epistasis"
                                   else ms.true[key].numpy(), atol=1e-4)
