"""Discrete lattice diffusion (method.name=lattice-diffusion): its sampling path with the exact p(x_0 | x_t) of known
lattice distributions, value sets, training, seeding, self-conditioning and the errors a user can meet."""

import math

import pytest
import torch
from torch import nn

from gensci.config import TrainConfig
from gensci.errors import ConfigError, UserError
from gensci.methods.base import SamplingOptions
from gensci.methods.lattice_diffusion import LatticeDiffusion, LatticeDiffusionConfig
from gensci.testing.stepper import SimpleStepper

TINY = dict(width=8, channel_mults=(1, 2), n_res_blocks=1, attention_resolutions=(4,), timesteps=100)


def info(values=(-1.0, 1.0), size=8, **extra):
    return {"channels": 1, "image_size": size, "n_classes": 2,
            "value_ranges": {"x": {"low": None, "high": None, "values": list(values)}}} | extra


class ExactNet(nn.Module):
    """The exact p(x_0 | x_t) as logits for lattices drawn from a mixture of fixed lattices `modes` [M, 1, S, S]
    (state indices) with weights `prior` [M]: q(x_t | x_0) is a product over sites of abar [x_t = x_0] + (1 - abar) / K,
    so the posterior over the modes is Bayes' rule and p(x_0 site = c | x_t) sums the modes with state c there."""

    def __init__(self, method, modes, prior):
        super().__init__()
        self.method, self.modes, self.log_prior = [method], modes, prior.log()
        self.dummy = nn.Parameter(torch.zeros(1))
        self.inputs = []

    def forward(self, h, t, condition=None, drop=None):
        method = self.method[0]
        self.inputs.append(h)
        k = method.k
        xt = h[:, :k].argmax(1)  # the one-hot states (the self-conditioning channels follow them)
        a = method.abar[(t * method.config.timesteps).round().long()].view(-1, 1, 1, 1)
        match = (xt[:, None] == self.modes[None, :, 0]).float()  # [B, M, S, S]
        log_q = (torch.log(a + (1 - a) / k) * match + torch.log((1 - a) / k) * (1 - match)).sum((-1, -2))
        post = torch.softmax(log_q + self.log_prior, -1)  # [B, M]
        probs = torch.einsum("bm,mchwk->bkhw", post, nn.functional.one_hot(self.modes, k).float())
        return probs.clamp_min(1e-12).log() + 0 * self.dummy


def ferromagnet_method(steps=100, **config):
    method = LatticeDiffusion(LatticeDiffusionConfig(**TINY | {"site_skip": False} | config), info())
    modes = torch.stack([torch.zeros(1, 8, 8), torch.ones(1, 8, 8)]).long()  # all spins down, all up
    method.net = ExactNet(method, modes, torch.tensor([0.3, 0.7]))
    return method


@pytest.mark.parametrize("steps", [100, 20])
def test_sampling_with_the_exact_posterior_reproduces_a_two_mode_lattice_distribution(steps):
    """Lattices all -1 (weight 0.3) or all +1 (0.7): ancestral sampling with the exact p(x_0 | x_t), on all T steps
    and on a strided grid, must end in one of the two whole lattices, in the right proportion. Independent per-site
    decisions with a wrong posterior (or a wrong time index) leave mixed lattices."""
    method = ferromagnet_method()
    x = method.sample(400, generator=torch.Generator().manual_seed(0), options=SamplingOptions(steps=steps))["x"]
    m = x.mean((1, 2, 3))
    assert set(x.unique().tolist()) <= {-1.0, 1.0}
    assert (m.abs() == 1).float().mean() > 0.97, m
    up = (m == 1).float().mean()
    assert abs(float(up) - 0.7) < 0.07, float(up)  # binomial std at n = 400: 0.023


def test_a_potts_value_set_maps_to_states_and_back():
    method = LatticeDiffusion(LatticeDiffusionConfig(**TINY), info(values=(2.0, 0.0, 1.0)))
    assert method.k == 3 and method.values.tolist() == [0.0, 1.0, 2.0]
    x = torch.tensor([0.0, 1.0, 2.0, 1.9]).reshape(1, 1, 2, 2)
    assert method.to_states(x).flatten().tolist() == [0, 1, 2, 2]
    samples = method.sample(5, generator=torch.Generator().manual_seed(0), options=SamplingOptions(steps=3))["x"]
    assert samples.shape == (5, 1, 8, 8) and set(samples.unique().tolist()) <= {0.0, 1.0, 2.0}


def test_continuous_data_is_a_config_error():
    continuous = {"channels": 1, "image_size": 8, "value_ranges": {"x": {"low": 0.0, "high": 1.0, "values": None}}}
    with pytest.raises(ConfigError, match="declared set of values"):
        LatticeDiffusion(LatticeDiffusionConfig(**TINY), continuous)


def test_training_starts_at_log_k_and_lowers_the_cross_entropy():
    """The U-Net's last convolution starts at zero: uniform p(x_0 | x_t), cross-entropy log 2. Lattices of one spin
    each are learnt quickly (their state is visible at every t short of pure noise)."""
    torch.manual_seed(0)
    method = LatticeDiffusion(LatticeDiffusionConfig(**TINY, condition="class", site_skip=False), info())
    stepper = SimpleStepper(method.optimizers(TrainConfig(lr=3e-3)))
    spins = torch.tensor([-1.0, 1.0]).repeat(8)
    batch = {"x": spins.view(16, 1, 1, 1).expand(16, 1, 8, 8).contiguous(), "label": torch.arange(16) % 2}
    losses = [method.train_step(batch, step, stepper)["loss"] for step in range(60)]
    assert losses[0] == pytest.approx(math.log(2), abs=1e-4)
    assert sum(losses[-10:]) / 10 < 0.6 * math.log(2), losses[-10:]


def test_sampling_is_seeded_and_conditions_are_checked():
    method = LatticeDiffusion(LatticeDiffusionConfig(**TINY, condition="class"), info())
    draw = lambda seed, **kw: method.sample(4, generator=torch.Generator().manual_seed(seed),  # noqa: E731
                                            options=SamplingOptions(steps=5), **kw)["x"]
    assert torch.equal(draw(0, condition=1), draw(0, condition=1))
    assert not torch.equal(draw(0, condition=1), draw(1, condition=1))
    with pytest.raises(UserError, match="class condition"):
        draw(0, condition=5)
    with pytest.raises(UserError, match="does not apply"):
        method.sample(2, options=SamplingOptions(sampler="ddim"))


def test_self_conditioning_feeds_each_step_the_previous_posterior():
    """Step k + 1's extra input channels are step k's p(x_0 | x_t) (zeros at the first step)."""
    method = ferromagnet_method(self_condition=True)
    method.sample(3, generator=torch.Generator().manual_seed(0), options=SamplingOptions(steps=4))
    inputs = method.net.inputs
    assert len(inputs) == 4 and inputs[0].shape[1] == 4
    assert torch.equal(inputs[0][:, 2:], torch.zeros_like(inputs[0][:, 2:]))
    # the estimate fed at step k + 1 is the softmax of the logits computed at step k (same time and states)
    times = [round(k * 100 / 4) for k in range(4, 0, -1)]
    for k in range(3):
        logits = method.net(inputs[k], torch.tensor([times[k] / 100.0]).expand(3))
        method.net.inputs.pop()
        assert torch.allclose(inputs[k + 1][:, 2:], logits.softmax(1), atol=1e-6)


def test_the_site_skip_starts_the_network_at_the_posterior_of_each_site_alone():
    """The U-Net's last convolution starts at zero, so with the site skip p(x_0 | x_t) is q(x_t | x_0 = c) normalised
    over c: near-certain of the observed state at low noise, uniform at t = T. The skip is what the network corrects."""
    method = LatticeDiffusion(LatticeDiffusionConfig(**TINY), info())
    xt = torch.randint(0, 2, (3, 1, 8, 8), generator=torch.Generator().manual_seed(0))
    for t, a in ((1, float(method.abar[1])), (50, float(method.abar[50])), (100, float(method.abar[100]))):
        p0 = method.logits(xt, t).softmax(-1)
        kept = (a + (1 - a) / 2) / (a + (1 - a) / 2 + (1 - a) / 2)  # the observed state's posterior
        assert torch.allclose(p0.gather(-1, xt[..., None]), torch.full_like(p0[..., :1], kept), atol=1e-5), t
    assert float(method.logits(xt, 1).detach().softmax(-1).max(-1).values.min()) > 0.998  # abar_1 = 0.9983 at T = 100
    off = LatticeDiffusion(LatticeDiffusionConfig(**TINY, site_skip=False), info())
    off.load_state_dict(method.state_dict())
    assert torch.allclose(off.logits(xt, 1).softmax(-1), torch.full((3, 1, 8, 8, 2), 0.5))


def test_the_states_symmetry_trains_on_relabelled_lattices(monkeypatch):
    """symmetries=states: a batch of all-up lattices reaches the noise as all-up and all-down lattices alike."""
    import gensci.methods.lattice_diffusion as L

    seen = []
    noisy = L.discrete.sample_noisy
    monkeypatch.setattr(L.discrete, "sample_noisy", lambda x0, *a, **k: seen.append(x0) or noisy(x0, *a, **k))
    method = LatticeDiffusion(LatticeDiffusionConfig(**TINY, symmetries=("states", "square")), info())
    stepper = SimpleStepper(method.optimizers(TrainConfig()))
    torch.manual_seed(0)
    method.train_step({"x": torch.ones(64, 1, 8, 8)}, 0, stepper)
    up = seen[0].flatten(1).float().mean(1)  # state 1 is +1
    assert set(up.tolist()) == {0.0, 1.0} and 16 < int(up.sum()) < 48


@pytest.mark.parametrize("alpha, low_share", [(1.0, 0.25), (0.5, 0.5)])
def test_training_times_cover_1_to_T_and_time_alpha_favours_low_noise(alpha, low_share):
    """t = ceil(T u), u ~ Beta(alpha, 1): P(t <= T/4) = (1/4)^alpha (0.25 uniform, 0.5 at alpha = 0.5)."""
    method = LatticeDiffusion(LatticeDiffusionConfig(**TINY, time_alpha=alpha), info())
    torch.manual_seed(0)
    t = method.training_times(40000, "cpu")
    assert t.dtype == torch.long and int(t.min()) == 1 and int(t.max()) == 100
    assert abs(float((t <= 25).float().mean()) - low_share) < 0.01
    with pytest.raises(ValueError):
        LatticeDiffusionConfig(time_alpha=0)
