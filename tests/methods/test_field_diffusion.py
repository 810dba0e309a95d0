"""The grid diffusion method (method.name=field-diffusion): its whole sampling path with an ideal denoiser, every
parametrisation and sampler of the toolkit, value ranges, classifier-free guidance, DPS and seeding."""

import pytest
import torch
from torch import nn

from gensci.errors import ConfigError, UserError
from gensci.methods.base import SamplingOptions
from gensci.methods.diffusion.parametrisations import clip_denoised, convert
from gensci.methods.diffusion.samplers import SAMPLERS
from gensci.methods.diffusion.schedules import alpha, sigma
from gensci.methods.field_diffusion import FieldDiffusion, FieldDiffusionConfig
from gensci.testing.stepper import SimpleStepper
from gensci.config import TrainConfig

TINY = dict(width=8, channel_mults=(1, 2), n_res_blocks=1, attention_resolutions=(4,), timesteps=200)
UNIT = {"low": 0.0, "high": 1.0, "values": None}


def info(value_range=UNIT, **extra):
    return {"channels": 1, "image_size": 8, "n_classes": 3, "value_ranges": {"x": value_range}} | extra


class IdealNet(nn.Module):
    """The optimal network for model-unit data x ~ N(mu, var) per pixel, in parametrisation `kind`."""

    def __init__(self, method, mu, var, kind):
        super().__init__()
        self.method, self.mu, self.var, self.kind = [method], mu, var, kind
        self.dummy = nn.Parameter(torch.zeros(1))  # a method's device comes from its parameters

    def forward(self, z, t, condition=None, drop=None):
        g = self.method[0].gamma[(t * self.method[0].config.timesteps).round().long()].view(-1, 1, 1, 1).float()
        a, s = alpha(g), sigma(g)
        eps = s * (z - a * self.mu) / (a**2 * self.var + s**2)
        return convert(eps, "eps", self.kind, z, a, s) + 0 * self.dummy


MU = torch.linspace(-0.6, 0.6, 64).reshape(1, 1, 8, 8)  # model units
VAR = 0.09


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
@pytest.mark.parametrize("kind", ["eps", "x0", "v"])
def test_method_samples_gaussian_data_with_the_ideal_network(sampler, kind):
    """Model-unit data N(MU, VAR) is data-unit N((MU + 1) / 2, VAR / 4) for a [0, 1] range: the method's scaling,
    parametrisation conversion, sampler and final step together must reproduce it."""
    # the Gaussian leaves the declared [0, 1] range, so the clean-data estimate is not clamped here (tested below)
    method = FieldDiffusion(FieldDiffusionConfig(**TINY, parametrisation=kind, sampler=sampler, clip_denoised=False),
                            info())
    method.net = IdealNet(method, MU, VAR, kind)
    x = method.sample(3000, generator=torch.Generator().manual_seed(0), options=SamplingOptions(batch_size=3000))["x"]
    assert x.shape == (3000, 1, 8, 8)
    # all 200 steps (at 50, ancestral sampling's own discretisation lowers the variance by 18 %: test_samplers.py)
    assert (x.mean(0) - (MU[0] + 1) / 2).abs().mean() < 0.006  # std of a mean: 0.15 / sqrt(3000) = 0.003
    # measured 0.0005-0.0012; std of a variance estimate 0.0225 sqrt(2 / 3000) = 0.0006
    assert (x.var(0) - VAR / 4).abs().mean() < 0.002, float((x.var(0) - VAR / 4).abs().mean())


def test_clip_denoised_keeps_samples_of_a_slightly_wrong_eps_net_bounded():
    """alpha_T ~ 5e-5 for the cosine schedule: an eps-net off by 0.05 puts the clean-data estimate near t = T off by
    ~80 at T = 200, which the samplers carry into the sample. Clamping the estimate to the field's range (info pixel_min,
    pixel_max) keeps the samples near the data; without it they blow up."""
    field = {"low": None, "high": None, "values": None}
    stats = dict(pixel_mean=[0.0], pixel_std=[1.0], pixel_min=[-4.0], pixel_max=[4.0])
    stds = {}
    for clip in (False, True):
        method = FieldDiffusion(FieldDiffusionConfig(**TINY, noise_schedule="cosine", sampler="ddim",
                                                     clip_denoised=clip), info(field, **stats))

        class OffNet(IdealNet):
            def forward(self, z, t, condition=None, drop=None):
                return super().forward(z, t) + 0.05

        method.net = OffNet(method, torch.zeros(1, 1, 8, 8), 1.0, "eps")
        x = method.sample(64, generator=torch.Generator().manual_seed(0), options=SamplingOptions(steps=20))["x"]
        stds[clip] = float(x.pow(2).mean().sqrt())  # root mean square: data N(0, 1) gives 1
    assert stds[False] > 10 and 0.8 < stds[True] < 1.3, stds


def test_clip_denoised_changes_eps_only_where_the_estimate_leaves_the_range():
    z, a, s = torch.tensor([0.5, 3.0, -3.0]), torch.tensor(0.8), torch.tensor(0.6)
    eps = torch.zeros(3)  # x0 = z / a = 0.625, 3.75, -3.75
    out = clip_denoised(eps, z, a, s, -1.0, 1.0)
    assert out[0] == 0 and torch.allclose((z - s * out) / a, torch.tensor([0.625, 1.0, -1.0]))
    z = z.clone().requires_grad_(True)  # straight through: d x0 / d z = 1 / alpha everywhere, clamped or not
    ((z - s * clip_denoised(eps, z, a, s, -1.0, 1.0)) / a).sum().backward()
    assert torch.allclose(z.grad, torch.full((3,), 1 / 0.8))


def test_training_targets_match_the_parametrisation():
    """The ideal network of kind k has the lowest training loss under parametrisation k (it is the minimiser of
    the expected squared error to k's target), so the target of each parametrisation is the right one."""
    x = (MU + VAR**0.5 * torch.randn(512, 1, 8, 8, generator=torch.Generator().manual_seed(0)) + 1) / 2
    for kind in ("eps", "x0", "v"):
        losses = {}
        for net_kind in ("eps", "x0", "v"):
            method = FieldDiffusion(FieldDiffusionConfig(**TINY, parametrisation=kind), info())
            method.net = IdealNet(method, MU, VAR, net_kind)
            torch.manual_seed(0)  # the same t and noise for every network
            losses[net_kind] = method.train_step({"x": x}, 0, SimpleStepper(method.optimizers(TrainConfig())))["loss"]
        others = min(v for k, v in losses.items() if k != kind)
        assert losses[kind] < 0.9 * others, (kind, losses)


def test_unbounded_fields_are_standardised_and_spins_snapped():
    field = FieldDiffusion(FieldDiffusionConfig(**TINY), info({"low": None, "high": None, "values": None},
                                                               pixel_mean=[5.0], pixel_std=[2.0]))
    x = torch.randn(4, 1, 8, 8) * 2 + 5
    assert torch.allclose(field.to_model(x), (x - 5) / 2) and torch.allclose(field.from_model(field.to_model(x)), x)
    fresh = FieldDiffusion(FieldDiffusionConfig(**TINY), info({"low": None, "high": None, "values": None}))
    assert not bool(fresh.fitted)
    batch = {"x": torch.randn(16, 1, 8, 8) * 3 - 1}
    fresh.train_step(batch, 0, SimpleStepper(fresh.optimizers(TrainConfig())))
    assert bool(fresh.fitted) and abs(float(fresh.shift) + 1) < 0.3 and abs(float(fresh.scale) - 3) < 0.3
    spins = FieldDiffusion(FieldDiffusionConfig(**TINY), info({"low": -1.0, "high": 1.0, "values": [-1.0, 1.0]}))
    assert set(spins.sample(2, generator=torch.Generator().manual_seed(0),
                            options=SamplingOptions(steps=3))["x"].unique().tolist()) <= {-1.0, 1.0}


def test_training_lowers_the_loss_for_every_parametrisation():
    torch.manual_seed(0)
    x = (0.5 + 0.3 * torch.sin(torch.arange(8.0))[None, None, :, None]).expand(16, 1, 8, 8)
    for kind in ("eps", "x0", "v"):
        method = FieldDiffusion(FieldDiffusionConfig(**TINY, parametrisation=kind, dropout=0.0), info())
        stepper = SimpleStepper(method.optimizers(TrainConfig(lr=3e-3)))
        losses = [method.train_step({"x": x}, i, stepper)["loss"] for i in range(60)]
        assert sum(losses[-10:]) < 0.7 * sum(losses[:10]), (kind, losses[:3], losses[-3:])


def conditional_method(**config):
    torch.manual_seed(0)
    method = FieldDiffusion(FieldDiffusionConfig(**TINY, condition="class", **config), info())
    with torch.no_grad():  # a trained-looking net: the condition must matter
        for p in method.net.parameters():
            p.normal_(0, 0.2)
    return method.eval()


def test_classifier_free_guidance_zero_is_unconditional_and_one_is_conditional():
    method = conditional_method()
    assert "conditional" in method.capabilities
    draw = lambda cond, g: method.sample(4, cond, torch.Generator().manual_seed(3),  # noqa: E731
                                         SamplingOptions(steps=5, guidance=g))["x"]
    uncond, cond = draw(None, None), draw(torch.tensor([0, 1, 2, 0]), 1.0)
    assert torch.allclose(draw(torch.tensor([0, 1, 2, 0]), 0.0), uncond, atol=1e-5)
    assert not torch.allclose(cond, uncond, atol=1e-3)
    strong = draw(torch.tensor([0, 1, 2, 0]), 3.0)
    assert not torch.allclose(strong, cond, atol=1e-3)
    assert method.describe_sampling(SamplingOptions(guidance=2.0))["guidance"] == 2.0
    with pytest.raises(UserError, match="0..2"):
        method.sample(2, torch.tensor([0, 5]))


def test_condition_dropout_trains_the_null_embedding():
    method = FieldDiffusion(FieldDiffusionConfig(**TINY, condition="class", condition_dropout=1.0), info())
    stepper = SimpleStepper(method.optimizers(TrainConfig(lr=1e-2)))
    before = method.net.class_emb.weight.detach().clone(), method.net.null_emb.detach().clone()
    for step in range(3):  # the zero-initialised head passes gradients on from the second step
        method.train_step({"x": torch.rand(4, 1, 8, 8), "label": torch.tensor([0, 1, 2, 0])}, step, stepper)
    assert torch.equal(method.net.class_emb.weight, before[0])  # every condition dropped: only the null moves
    assert not torch.equal(method.net.null_emb, before[1])


def test_value_condition_config():
    with pytest.raises(ValueError, match="condition_key"):
        FieldDiffusionConfig(condition="value")
    with pytest.raises(ValueError, match="eps, x0, v"):
        FieldDiffusionConfig(parametrisation="score")
    cfg = FieldDiffusionConfig(**TINY, condition="value", condition_key="temperature")
    assert "temperature" in FieldDiffusion.requires(cfg).items
    method = FieldDiffusion(cfg, info())
    x = method.sample(2, torch.tensor([2.0, 3.0]), torch.Generator().manual_seed(0), SamplingOptions(steps=3))["x"]
    assert x.shape == (2, 1, 8, 8)
    loss = method.train_step({"x": torch.rand(4, 1, 8, 8), "temperature": torch.rand(4)}, 0,
                             SimpleStepper(method.optimizers(TrainConfig())))["loss"]
    assert loss > 0


def test_sampling_is_seeded_and_steps_are_options():
    method = conditional_method()
    a = method.sample(3, 1, torch.Generator().manual_seed(0), SamplingOptions(steps=4, sampler="ancestral"))["x"]
    b = method.sample(3, 1, torch.Generator().manual_seed(0), SamplingOptions(steps=4, sampler="ancestral"))["x"]
    c = method.sample(3, 1, torch.Generator().manual_seed(1), SamplingOptions(steps=4, sampler="ancestral"))["x"]
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert method.describe_sampling(SamplingOptions(steps=4, sampler="ddim"))["sampler"] == "ddim"


def test_inpainting_with_the_ideal_network_keeps_observed_pixels():
    method = FieldDiffusion(FieldDiffusionConfig(**TINY), info())
    method.net = IdealNet(method, MU, VAR, "eps")
    truth = ((MU + 0.3 * torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))) + 1) / 2
    mask = (torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(1)) < 0.5).float()
    out = method.inpaint(truth, mask, n=200, noise_std=0.01, generator=torch.Generator().manual_seed(2),
                         options=SamplingOptions(steps=50, batch_size=400))
    assert out.shape == (2, 200, 1, 8, 8)
    obs = mask.bool().unsqueeze(1).expand_as(out)
    assert (out - truth.unsqueeze(1))[obs].abs().mean() < 0.02
    hidden_std = out.std(1)[~mask.bool()]
    assert (hidden_std - VAR**0.5 / 2).abs().mean() < 0.02  # independent pixels: hidden ones keep the prior spread
    low = torch.nn.functional.avg_pool2d(truth, 2)
    high = method.super_resolve(low, n=50, noise_std=0.005, generator=torch.Generator().manual_seed(3),
                                options=SamplingOptions(steps=50))
    assert (torch.nn.functional.avg_pool2d(high.flatten(0, 1), 2).reshape(2, 50, 1, 4, 4) - low.unsqueeze(1)).abs().mean() < 0.02
    with pytest.raises(UserError, match="divide"):
        method.super_resolve(torch.rand(1, 1, 3, 3))


class RecordingNet(IdealNet):
    """IdealNet on the first channel of a self-conditioned input; records the second (the previous estimate)."""

    def __init__(self, *args):
        super().__init__(*args)
        self.seen = []

    def forward(self, x, t, condition=None, drop=None):
        self.seen.append((x[:, :1].detach().clone(), x[:, 1:].detach().clone()))
        return super().forward(x[:, :1], t, condition, drop)


def test_self_conditioning_feeds_each_step_the_estimate_of_the_step_before():
    config = dict(**TINY, parametrisation="v", sampler="ddim", clip_denoised=True)
    plain = FieldDiffusion(FieldDiffusionConfig(**config), info())
    plain.net = IdealNet(plain, MU, VAR, "v")
    method = FieldDiffusion(FieldDiffusionConfig(**config, self_condition=True), info())
    assert method.net.stem.in_channels == 2  # z_t and the previous estimate
    method.net = RecordingNet(method, MU, VAR, "v")
    options = SamplingOptions(steps=6, batch_size=5)
    x = method.sample(5, generator=torch.Generator().manual_seed(0), options=options)["x"]
    # a network that ignores the estimate samples exactly as without self-conditioning
    assert torch.equal(x, plain.sample(5, generator=torch.Generator().manual_seed(0), options=options)["x"])
    seen = method.net.seen
    assert len(seen) == 7 and torch.equal(seen[0][1], torch.zeros_like(seen[0][1]))  # 6 steps and the final one
    times = [int(t) for t in torch.linspace(200, 0, 7).round()][:-1] + [0]
    for (z, _), (_, fed), t in zip(seen[:-1], seen[1:], times):
        g = method.gamma[t]
        a, s = alpha(g), sigma(g)
        eps = clip_denoised(convert(IdealNet(method, MU, VAR, "v")(z, torch.tensor([t / 200])), "v", "eps", z, a, s),
                            z, a, s, -1.0, 1.0)
        assert torch.allclose(fed, (z - s * eps) / a, atol=1e-4)  # the clamped estimate, within [-1, 1]
        assert fed.abs().max() <= 1 + 1e-4


def test_self_conditioned_training_feeds_the_estimate_on_about_half_the_batches():
    method = FieldDiffusion(FieldDiffusionConfig(**TINY, self_condition=True), info())
    net = method.net = RecordingNet(method, MU, VAR, "eps")
    stepper = SimpleStepper(method.optimizers(TrainConfig()))
    torch.manual_seed(0)
    x = torch.rand(4, 1, 8, 8)
    for step in range(200):
        method.train_step({"x": x}, step, stepper)
    fed = [prev.abs().sum() > 0 for _, prev in net.seen]
    # a fed step runs the network twice: without the estimate, then with it
    n_fed = sum(fed)
    assert len(net.seen) == 200 + n_fed and 70 < n_fed < 130
    first = [i for i, f in enumerate(fed) if f][0]
    assert not fed[first - 1] and torch.equal(net.seen[first - 1][0], net.seen[first][0])  # same z_t, twice


FIELD = {"low": None, "high": None, "values": None}


def test_log_transform_diffuses_log_of_the_distance_to_the_floor():
    method = FieldDiffusion(FieldDiffusionConfig(**TINY, transform="log"), info(FIELD, pixel_floor=[-3.0]))
    assert not bool(method.fitted)  # pixel_mean/std of x do not standardise log(x - floor)
    x = -3 + torch.exp(0.5 * torch.randn(16, 1, 8, 8) + 1)
    method.train_step({"x": x}, 0, SimpleStepper(method.optimizers(TrainConfig())))
    assert abs(float(method.shift) - 1) < 0.1 and abs(float(method.scale) - 0.5) < 0.05
    assert torch.allclose(method.to_model(x), ((x + 3).log() - method.shift) / method.scale)
    assert torch.allclose(method.from_model(method.to_model(x)), x, atol=1e-5)
    assert bool((method.from_model(torch.full((1, 1, 8, 8), -40.0)) >= -3).all())  # never below the floor
    slope = method.units_per_data_unit(x)
    assert slope.shape == x.shape and torch.allclose(slope, 1 / ((x + 3) * method.scale))
    with pytest.raises(UserError, match="floor"):
        method.to_model(torch.full((1, 1, 8, 8), -3.0))
    with pytest.raises(ConfigError, match="super-resolution"):
        method.super_resolve(torch.rand(1, 1, 4, 4))
    # the floor's sources, in order: the config, info["pixel_floor"], a value range with a low end only
    assert FieldDiffusion(FieldDiffusionConfig(**TINY, transform="log", log_floor=-7),
                          info(FIELD, pixel_floor=[-3.0])).floor == [-7.0]
    assert FieldDiffusion(FieldDiffusionConfig(**TINY, transform="log"), info(FIELD | {"low": -2.0})).floor == [-2.0]
    with pytest.raises(ConfigError, match="floor"):
        FieldDiffusion(FieldDiffusionConfig(**TINY, transform="log"), info(FIELD))


def test_log_transform_inpainting_measures_the_observed_pixels_in_log_space():
    """Model-unit data N(MU, VAR) with shift 0, scale 1 is x = floor + exp(N(MU, VAR)): DPS must keep the observed
    pixels and give hidden ones the prior's spread in log space; the data-unit noise is carried by the slope."""
    method = FieldDiffusion(FieldDiffusionConfig(**TINY, transform="log", log_floor=-3), info(FIELD))
    method.fitted.fill_(True)  # shift 0, scale 1
    method.net = IdealNet(method, MU, VAR, "eps")
    log_truth = MU + VAR**0.5 * torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    truth = log_truth.exp() - 3
    mask = (torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(1)) < 0.5).float()
    observed = torch.where(mask > 0, truth, torch.full_like(truth, -100.0))  # hidden values below the floor: unused
    out = method.inpaint(observed, mask, n=200, noise_std=0.01, generator=torch.Generator().manual_seed(2),
                         options=SamplingOptions(steps=50, batch_size=400))
    assert out.shape == (2, 200, 1, 8, 8) and bool((out > -3).all())
    obs = mask.bool().unsqueeze(1).expand_as(out)
    assert (out - truth.unsqueeze(1))[obs].abs().mean() < 0.02
    hidden_log_std = (out + 3).log().std(1)[~mask.bool()]
    assert (hidden_log_std - VAR**0.5).abs().mean() < 0.03


def test_relabelling_states_is_not_a_symmetry_of_a_continuous_field():
    with pytest.raises(ValueError, match="lattice-diffusion only"):  # pydantic wraps it; load_config reports it
        FieldDiffusionConfig(symmetries=("states",))
