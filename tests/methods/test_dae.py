import pytest
import torch

from gensci.errors import UserError
from gensci.config import ConfigError, TrainConfig, validate
from gensci.methods.dae import DAE, DAEConfig
from gensci.nets.conv1d import ConvDenoiser1d
from gensci.registry import METHODS
from gensci.testing import SimpleStepper


INFO = {"trace_length": 500, "sampling_rate_mhz": 180.0, "band_mhz": [30.0, 80.0], "noise": "background"}


def test_bottleneck_is_16_by_31_and_length_round_trips():
    net = ConvDenoiser1d()
    code, features = net.encode(torch.randn(2, 1, 500))
    assert code.shape == (2, 16, 31) and [f.shape[-1] for f in features] == [500, 250, 125, 62]
    assert net(torch.randn(2, 1, 500)).shape == (2, 1, 500)
    assert net(torch.randn(3, 1, 123)).shape == (3, 1, 123)  # odd lengths come back exactly


def test_center_passes_a_constant_offset_through():
    torch.manual_seed(0)
    net = ConvDenoiser1d()
    x = torch.rand(2, 1, 500)
    assert torch.allclose(net(x + 0.25), net(x) + 0.25, atol=1e-5)


def _pulses(n=16, width=5.0, freq=1.0):
    t = torch.arange(500.0)
    centers = torch.linspace(150, 350, n).view(n, 1, 1)
    target = 0.5 + 0.3 * torch.exp(-0.5 * ((t - centers) / width) ** 2) * torch.cos(freq * (t - centers))
    return {"target": target, "input": target + 0.05 * torch.randn(n, 1, 500)}


@pytest.mark.parametrize("skip, width, freq", [(False, 20.0, 0.0), (True, 5.0, 1.0)])
def test_train_steps_reduce_loss(skip, width, freq):
    # the plain autoencoder learns broad bumps at once; oscillating wavelets need the skips to be quick
    torch.manual_seed(0)
    method = DAE(DAEConfig(skip=skip), INFO)
    batch = _pulses(n=8, width=width, freq=freq)
    stepper = SimpleStepper(method.optimizers(TrainConfig(lr=1e-3)))
    losses = [method.train_step(batch, step, stepper)["loss"] for step in range(40)]
    assert all(isinstance(v, float) for v in losses)
    assert losses[-1] < 0.3 * losses[0]


def test_denoise_is_batched_eval_and_sample_raises():
    method = DAE(DAEConfig(channels=[4, 4, 4, 4], kernel_size=3), INFO)
    assert METHODS.get("dae") is DAE and method.capabilities == {"denoise"}
    x = torch.rand(7, 1, 500)
    out = method.denoise(x, batch_size=3)
    assert out.shape == (7, 1, 500) and not out.requires_grad and method.training
    with torch.no_grad():
        assert torch.allclose(out, method.net(x), atol=1e-6)
    with pytest.raises(UserError, match="does not generate"):
        method.sample(4)


def test_state_dict_round_trip_and_config_checks():
    a = DAE(DAEConfig(loss="l1"), INFO)
    b = DAE(DAEConfig(loss="l1"), INFO)
    b.load_state_dict(a.state_dict())
    x = torch.rand(2, 1, 500)
    assert torch.equal(a.denoise(x), b.denoise(x))
    with pytest.raises(ValueError, match="odd"):
        DAEConfig(kernel_size=4)
    with pytest.raises(ConfigError, match="method.chanels"):
        validate({"data": {"name": "radio"}, "method": {"name": "dae", "chanels": [8]}})
