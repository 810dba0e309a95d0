import math

import pytest
import torch

from gensci.config import TrainConfig, validate
from gensci.errors import ConfigError
from gensci.methods.base import SamplingOptions
from gensci.methods.diffusion.samplers import SAMPLERS, network_calls
from gensci.methods.edm import EDM, EDMConfig, n_atoms_distribution
from gensci.ops.masks import masked_mean
from gensci.testing import SimpleStepper, check_method_contract
from gensci.testing.equivariance import assert_equivariant, assert_padding_invariant

INFO = {"atom_types": ["H", "C", "N", "O", "F"], "atomic_numbers": [1, 6, 7, 8, 9], "max_n_atoms": 7,
        "n_nodes_hist": {"3": 2, "4": 5, "5": 3}}
SMALL = dict(hidden_nf=32, n_layers=2, timesteps=100)



def molecules(repeat: int = 1, seed: int = 0):
    """Four small random 'molecules' padded to 7 atoms, CoM-free, in the data's batch format."""
    g = torch.Generator().manual_seed(seed)
    n = torch.tensor([3, 4, 5, 4])
    mask = (torch.arange(7) < n[:, None]).float()
    x = torch.randn(4, 7, 3, generator=g) * 1.5 * mask[..., None]
    x = (x - masked_mean(x, mask)) * mask[..., None]
    types = torch.randint(0, 5, (4, 7), generator=g)
    batch = {"positions": x, "one_hot": torch.nn.functional.one_hot(types, 5).float() * mask[..., None],
             "charges": torch.tensor([1.0, 6, 7, 8, 9])[types][..., None] * mask[..., None], "node_mask": mask}
    return {k: v.repeat(repeat, *[1] * (v.dim() - 1)) for k, v in batch.items()}


def edm(**kw):
    torch.manual_seed(0)
    return EDM(EDMConfig(**(SMALL | kw)), INFO)


def conditional_edm(**kw):
    from test_molecule_conditions import toy_info  # the toy training set's statistics, by the data module's code

    torch.manual_seed(0)
    return EDM(EDMConfig(**(SMALL | {"conditions": ["alpha", "mu"]} | kw)), INFO | toy_info())


def test_contract():
    check_method_contract(EDM, INFO, molecules(), config=EDMConfig(**SMALL), sample_kwargs={"options": SamplingOptions(steps=4)})


def test_noise_is_centre_of_mass_free_and_masked():
    method, batch = edm(), molecules()
    eps = method.noise((4, 7, 9), batch["node_mask"], torch.Generator().manual_seed(0))
    assert masked_mean(eps[..., :3], batch["node_mask"]).abs().max() < 1e-6
    assert (eps[batch["node_mask"] == 0] == 0).all()


@pytest.mark.parametrize("conditional", [False, True])
def test_denoiser_is_e3_equivariant_and_ignores_padding(conditional):
    method, batch = (conditional_edm() if conditional else edm()), molecules()
    for block in method.net.blocks:
        torch.nn.init.normal_(block.coord_mlp[-1].weight, std=0.1)
    z, mask = method.encode(batch)
    t = torch.full((4,), 0.3)
    values = torch.tensor([[40.0, float("nan")], [50.0, 5.0], [float("nan"), 4.0], [60.0, 6.0]])
    context = method.conditions.features(values, 4, "cpu", torch.float64) if conditional else None

    def fn(h, x, node_mask):  # eps_hat split into (features, positions); positions are noise: translation-invariant
        out = method.eps_model(torch.cat([x, h], -1), t, node_mask, context)
        return out[..., 3:], out[..., :3]

    h, x = z[..., 3:].double(), z[..., :3].double()
    method.double()
    assert_equivariant(fn, h, x, mask.double(), translation="invariant", generator=torch.Generator().manual_seed(0))
    assert_padding_invariant(fn, h, x, mask.double(), generator=torch.Generator().manual_seed(0))
    out = method.eps_model(z.double(), t.double(), mask.double())
    assert masked_mean(out[..., :3], mask.double()).abs().max() < 1e-12


def test_tiny_edm_overfits_a_handful_of_molecules():
    method, batch = edm(), molecules(repeat=8)
    stepper = SimpleStepper(method.optimizers(TrainConfig(lr=2e-3)))
    losses = [method.train_step(batch, step, stepper)["loss"] for step in range(150)]
    start, end = sum(losses[:10]) / 10, sum(losses[-40:]) / 40
    assert end < 0.5 * start, (start, end)


def test_samples_shapes_seeded_com_free_and_sizes_from_histogram():
    method = edm().eval()
    s1 = method.sample(7, generator=torch.Generator().manual_seed(3), options=SamplingOptions(steps=5))
    s2 = method.sample(7, generator=torch.Generator().manual_seed(3), options=SamplingOptions(steps=5))
    assert all(torch.equal(s1[k], s2[k]) for k in s1)
    assert s1["positions"].shape == (7, 7, 3) and s1["one_hot"].shape == (7, 7, 5) and s1["charges"].shape == (7, 7, 1)
    sizes = s1["node_mask"].sum(1)
    assert set(sizes.tolist()) <= {3.0, 4.0, 5.0}
    assert masked_mean(s1["positions"], s1["node_mask"]).abs().max() < 1e-4
    real = s1["node_mask"].bool()
    assert (s1["atom_types"][~real] == -1).all() and (s1["atom_types"][real] >= 0).all()
    assert torch.equal(s1["one_hot"][real].argmax(-1), s1["atom_types"][real])
    s3 = method.sample(7, generator=torch.Generator().manual_seed(4), options=SamplingOptions(steps=5))
    assert not torch.equal(s1["positions"], s3["positions"])


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
@pytest.mark.parametrize("steps", [1, 7, None])
def test_network_calls_equal_the_samplers_count_plus_final_step(steps, sampler):
    method = edm(timesteps=20).eval()
    calls = []
    method.net.register_forward_hook(lambda *a: calls.append(1))
    options = SamplingOptions(steps=steps, batch_size=3, sampler=sampler)
    out = method.sample(5, generator=torch.Generator().manual_seed(0), options=options)
    batches = 2
    assert len(calls) == batches * (network_calls(sampler, steps or 20) + 1)
    assert masked_mean(out["positions"], out["node_mask"]).abs().max() < 1e-4
    assert method.describe_sampling(options) == {"sampling_steps": steps or 20, "sampler": sampler}


def test_sampler_from_config_or_per_call_and_unknown_names_are_config_errors():
    method = edm(timesteps=20, sampler="ddim", sampler_options={"ddim": {"eta": 0.0}}).eval()
    assert method.describe_sampling(SamplingOptions()) == {"sampling_steps": 20, "sampler": "ddim",
                                                           "sampler_options": {"eta": 0.0}}
    assert method.describe_sampling(SamplingOptions(steps=4, sampler="langevin")) == {"sampling_steps": 4,
                                                                                      "sampler": "langevin"}
    assert method.sampling_options == {"steps", "sampler"}
    draw = lambda **kw: method.sample(3, generator=torch.Generator().manual_seed(0),  # noqa: E731
                                      options=SamplingOptions(steps=4, **kw))["positions"]
    assert torch.equal(draw(), draw(sampler="ddim")) and not torch.equal(draw(), draw(sampler="ancestral"))
    with pytest.raises(ConfigError, match="unknown sampler 'nonsense'; choices: ancestral, ddim, dpmpp2m, langevin"):
        draw(sampler="nonsense")
    for bad, match in [({"sampler": "nonsense"}, "method.sampler: unknown sampler 'nonsense'; choices: ancestral"),
                       ({"noise_schedule": "quadratic"}, "method.noise_schedule: unknown noise schedule"),
                       ({"sampler_options": {"ddim": {"snr": 1}}}, "sampler 'ddim' has no option 'snr'"),
                       ({"nll_t_samples": 30, "timesteps": 20}, "cannot exceed timesteps")]:
        with pytest.raises(ConfigError, match=match):  # what `gensci train ... --set method.X=...` runs
            validate({"data": {"name": "qm9"}, "method": {"name": "edm", **bad}})


def test_chain_runs_from_noise_to_the_sample():
    method = edm(timesteps=20).eval()
    chain = method.chain(6, generator=torch.Generator().manual_seed(0), n_atoms=5)
    assert chain["positions"].shape == (6, 7, 3) and chain["t"].tolist() == pytest.approx([1, 0.8, 0.6, 0.4, 0.2, 0])
    assert (chain["node_mask"].sum(1) == 5).all()
    assert method.chain(3).get("node_mask")[0].sum() == 4  # default size: the histogram's mode
    again = method.chain(6, generator=torch.Generator().manual_seed(0), n_atoms=5)
    assert torch.equal(chain["positions"], again["positions"])


def test_log_likelihood_is_finite_seeded_and_drops_with_training():
    method, batch = edm(), molecules()
    nll = method.eval().log_likelihood(batch, generator=torch.Generator().manual_seed(0))
    assert nll.shape == (4,) and torch.isfinite(nll).all()
    assert torch.equal(nll, method.log_likelihood(batch, generator=torch.Generator().manual_seed(0)))
    # an impossible size costs ~ -log(1e-30) = 69 nats more
    odd = {k: v[:1] for k, v in molecules().items()}
    odd["node_mask"] = odd["node_mask"].clone()
    odd["node_mask"][0, :2] = 1
    odd["node_mask"][0, 2:] = 0
    assert float(method.log_likelihood(odd, torch.Generator().manual_seed(0))[0]) > 40
    def avg(m):
        return float(torch.stack([m.log_likelihood(batch, torch.Generator().manual_seed(s)) for s in range(8)]).mean())

    before = avg(method)
    stepper = SimpleStepper(method.train().optimizers(TrainConfig(lr=2e-3)))
    for step in range(100):
        method.train_step(molecules(repeat=8), step, stepper)
    assert avg(method.eval()) < before - 5  # nats


def test_vlb_training_loss_runs():
    method = edm(loss="vlb")
    out = method.train_step(molecules(), 0, SimpleStepper(method.optimizers(TrainConfig())))
    assert math.isfinite(out["loss"])


def test_histogram_forms_and_checks():
    p = n_atoms_distribution({"3": 1, 5: 3}, 6)
    assert p.tolist() == pytest.approx([0, 0, 0, 0.25, 0, 0.75, 0])
    assert n_atoms_distribution([0, 0, 0, 1, 0, 3], 6).tolist() == p.tolist()
    with pytest.raises(ValueError, match="outside"):
        n_atoms_distribution({"40": 1}, 29)
    with pytest.raises(ValueError, match="normalize_factors"):
        EDM(EDMConfig(**SMALL, noise_precision=1e-2), INFO)


def test_cli_unknown_sampler_fails_at_load_with_one_line_listing_the_samplers(tmp_path):
    from typer.testing import CliRunner

    from gensci.cli import app

    args = ["train", "qm9-edm-small", "--max-steps", "1", "--out", str(tmp_path / "r"),
            "--set", "method.sampler=nonsense"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 2 and "Traceback" not in result.output and not (tmp_path / "r").exists()
    lines = [line for line in result.output.splitlines() if "ancestral" in line]
    assert len(lines) == 1, result.output
    assert all(name in lines[0] for name in ["method.sampler", "nonsense", *SAMPLERS]), result.output


# ---- golden numbers: EDM before the diffusion toolkit ------------------------------------------------------------
def checksums(x: torch.Tensor) -> list[float]:
    x = x.double()
    w = torch.arange(x.numel(), dtype=torch.float64).reshape(x.shape) / x.numel()
    return [float(v) for v in (x.sum(), x.abs().sum(), x.square().sum(), (w * x).sum())]


def tiny_edm(**kw):
    torch.manual_seed(0)
    return EDM(EDMConfig(hidden_nf=16, n_layers=1, timesteps=20, **kw), INFO).eval()


# Recorded on commit bbab2a3 (EDM's hard-wired ancestral loop and final step, before the toolkit) with exactly
# the calls below: positions checksums (sum, |.| sum, squared sum, position-weighted sum), atom types and the
# charge sum of 4 samples from the untrained model in float64 (its untrained chain amplifies rounding, so float64
# makes the comparison exact), and the float32 NLL of molecules() with generator seed 0.
GOLDEN_SAMPLES = {
    5: ([-2.2737367544323206e-13, 6346.813599995946, 1038558.2857064554, 132.20290170169235],
        [[2, 2, 2, 2, 2, -1, -1], [2, 2, 2, 2, 2, -1, -1], [2, 2, 2, 2, -1, -1, -1], [2, 2, 2, 2, 2, -1, -1]],
        638082.0),
    None: ([-1.1368683772161603e-13, 5094.389613268301, 667457.3077881483, 103.20272884676217],
           [[4, 2, 2, 2, 2, -1, -1], [4, 2, 2, 2, 2, -1, -1], [2, 2, 4, 4, -1, -1, -1], [2, 2, 2, 2, 2, -1, -1]],
           817143.0),
}
GOLDEN_NLL = [84.60319519042969, 180360.5, 111.69859313964844, 158302.078125]


@pytest.mark.parametrize("steps", [5, None])
def test_default_ancestral_sampler_reproduces_edm_before_the_toolkit(steps):
    method = tiny_edm().double()
    assert method.config.sampler == "ancestral"
    s = method.sample(4, generator=torch.Generator().manual_seed(0), options=SamplingOptions(steps=steps))
    sums, types, charges = GOLDEN_SAMPLES[steps]
    got = checksums(s["positions"])
    assert got[0] == pytest.approx(sums[0], abs=1e-9) and got[1:] == pytest.approx(sums[1:], rel=1e-9)
    assert s["atom_types"].tolist() == types and float(s["charges"].sum()) == charges


def test_one_t_sample_nll_reproduces_edm_before_the_toolkit():
    method = tiny_edm(nll_t_samples=1, nll_t_sampling="uniform")
    nll = method.log_likelihood(molecules(), generator=torch.Generator().manual_seed(0))
    assert nll.tolist() == pytest.approx(GOLDEN_NLL, rel=1e-5)


def test_more_t_samples_shrink_the_nll_spread_and_keep_its_mean():
    """Fixed tiny model (T = 20), 16 seeds x 8 copies of each molecule: the std of the per-molecule estimate falls
    with nll_t_samples (K = T uniform strata visit every t once, leaving only the noise's spread), importance
    sampling beats uniform at equal K, and every estimator's mean agrees within its sampling error (unbiased)."""
    method, batch, stats = edm(timesteps=20).eval(), molecules(repeat=8), {}
    for sampling, k in [("uniform", 1), ("uniform", 4), ("uniform", 20), ("importance", 1), ("importance", 4)]:
        method.config.nll_t_samples, method.config.nll_t_sampling = k, sampling
        calls = []
        hook = method.net.register_forward_hook(lambda *a: calls.append(1))
        draws = torch.stack([method.log_likelihood(batch, torch.Generator().manual_seed(s)) for s in range(16)])
        hook.remove()
        assert len(calls) == 16 * (k + 1)
        draws = draws.view(16, 8, 4).flatten(0, 1)  # [16 seeds x 8 copies, 4 molecules]
        stats[sampling, k] = draws.mean(0), draws.std(0), draws.std(0) / len(draws) ** 0.5
    spread = {key: value[1] for key, value in stats.items()}
    assert (spread["uniform", 4] < 0.7 * spread["uniform", 1]).all(), spread
    assert (spread["uniform", 20] < 0.2 * spread["uniform", 1]).all(), spread
    assert (spread["importance", 4] < 0.7 * spread["importance", 1]).all(), spread
    assert (spread["importance", 4] < spread["uniform", 4]).all(), spread
    for key, (mean, _, sem) in stats.items():
        assert ((mean - stats["uniform", 20][0]).abs() < 4 * sem + 4 * stats["uniform", 20][2]).all(), (key, stats)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_cpu_generator_samples_and_scores_a_model_on_cuda_as_on_cpu():
    cpu, cuda = tiny_edm().double(), tiny_edm().double().cuda()
    options = SamplingOptions(steps=5)
    a = cpu.sample(4, generator=torch.Generator().manual_seed(0), options=options)
    b = cuda.sample(4, generator=torch.Generator().manual_seed(0), options=options)
    assert torch.equal(a["node_mask"], b["node_mask"].cpu())
    assert torch.allclose(a["positions"], b["positions"].cpu(), rtol=1e-6, atol=1e-6)
    batch = molecules()
    nll_cpu = cpu.log_likelihood(batch, torch.Generator().manual_seed(0))
    nll_cuda = cuda.log_likelihood({k: v.cuda() for k, v in batch.items()}, torch.Generator().manual_seed(0))
    assert torch.allclose(nll_cpu, nll_cuda.cpu(), rtol=1e-6)


# ---- property conditions (gensci.methods.molecule_conditions) -------------------------------------------------------
def conditional_batch():
    return molecules() | {"alpha": torch.tensor([40.0, 45.0, 55.0, 45.0]), "mu": torch.tensor([0.5, 2.0, 3.0, 1.0])}


def test_conditional_contract_and_conditional_likelihood():
    from test_molecule_conditions import toy_info

    config = EDMConfig(**SMALL, conditions=["alpha", "mu"])
    check_method_contract(EDM, INFO | toy_info(), conditional_batch(), config=config,
                          sample_kwargs={"options": SamplingOptions(steps=4), "condition": {"alpha": 50.0, "mu": 2.0}})
    method = conditional_edm().eval()
    batch = conditional_batch()
    nll = method.log_likelihood(batch, generator=torch.Generator().manual_seed(0))
    shifted = method.log_likelihood(batch | {"alpha": batch["alpha"] + 30}, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(nll).all() and not torch.equal(nll, shifted)  # the properties reach the bound


def test_conditional_sampling_guidance_and_atom_counts():
    method = conditional_edm().eval()
    for p in method.net.embedding.parameters():  # make the context matter in the untrained network
        torch.nn.init.normal_(p, std=0.5)
    calls = []
    method.net.register_forward_hook(lambda *_: calls.append(1))
    g = lambda: torch.Generator().manual_seed(2)  # noqa: E731
    zero = method.sample(3, condition={"alpha": 70.0, "n_atoms": 6}, generator=g(), options=SamplingOptions(steps=4, guidance=0))
    plain = method.sample(3, condition={"n_atoms": 6}, generator=g(), options=SamplingOptions(steps=4))
    assert torch.equal(zero["positions"], plain["positions"]) and len(calls) == 2 * (4 + 1)
    sharp = method.sample(3, condition={"alpha": 70.0, "n_atoms": 6}, generator=g(), options=SamplingOptions(steps=4, guidance=2))
    assert len(calls) == 2 * (4 + 1) + 2 * (4 + 1) and not torch.equal(sharp["positions"], zero["positions"])
    assert (sharp["conditions"][:, 0] == 70).all() and sharp["conditions"][:, 1].isnan().all()
    # atom counts from p(M | alpha) of the toy set (alpha = 10 n + U(0, 3)): the largest alpha gives 7-atom molecules
    big = method.sample(4, condition={"alpha": 72.0}, generator=g(), options=SamplingOptions(steps=2))
    assert (big["node_mask"].sum(1) == 7).all()
    assert method.describe_sampling(SamplingOptions(guidance=3.0))["guidance"] == 3.0
