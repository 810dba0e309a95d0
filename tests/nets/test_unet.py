"""The diffusion U-Net: shapes, and that its output depends on time and on the condition (and on nothing dropped)."""

import pytest
import torch

from gensci.nets.unet import PeriodicConv2d, UNet, sinusoidal_embedding

SMALL = dict(width=8, channel_mults=(1, 2), n_res_blocks=1, attention_resolutions=(8,), image_size=16)


def randomised(net: UNet) -> UNet:
    """The zero-initialised output layers make a fresh U-Net return 0; give every weight a random value."""
    torch.manual_seed(0)
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0, 0.3)
    return net.eval()


@pytest.mark.parametrize("channels,out,side", [(1, 1, 16), (3, 3, 16), (2, 4, 32)])
def test_shapes(channels, out, side):
    net = UNet(channels, out, **SMALL | {"image_size": side})
    x = torch.randn(2, channels, side, side)
    assert net(x, torch.rand(2)).shape == (2, out, side, side)
    assert net(x, torch.tensor(0.3)).shape == (2, out, side, side)  # one t for all
    with pytest.raises(ValueError, match="divisible"):
        net(torch.randn(1, channels, 15, 15), torch.rand(1))


def test_fresh_net_outputs_zero_and_depends_on_time():
    net = UNet(1, **SMALL)
    x = torch.randn(2, 1, 16, 16)
    assert torch.equal(net(x, torch.rand(2)), torch.zeros_like(x))  # zero-initialised head (improved-diffusion)
    net = randomised(net)
    a, b = net(x, torch.full((2,), 0.1)), net(x, torch.full((2,), 0.9))
    assert not torch.allclose(a, b, atol=1e-4)


@pytest.mark.parametrize("periodic", [True, False])
def test_a_periodic_net_commutes_with_shifts_around_the_torus(periodic):
    # circular padding: rolling the input by a multiple of the downsampling factor (2 for two stages) rolls the
    # output, including across the edges; zero padding breaks this at the borders
    net = randomised(UNet(1, periodic=periodic, **SMALL)).double()
    x, t = torch.randn(2, 1, 16, 16, dtype=torch.float64), torch.full((2,), 0.4, dtype=torch.float64)
    rolled = net(torch.roll(x, (6, -4), (2, 3)), t)
    assert torch.allclose(rolled, torch.roll(net(x, t), (6, -4), (2, 3)), atol=1e-10) == periodic


@pytest.mark.parametrize("stride", [1, 2])
def test_periodic_conv_is_torchs_circular_padding(stride):
    conv = PeriodicConv2d(2, 3, 3, stride)
    reference = torch.nn.Conv2d(2, 3, 3, stride, padding=1, padding_mode="circular")
    reference.load_state_dict(conv.state_dict())
    x = torch.randn(2, 2, 8, 8)
    assert torch.allclose(conv(x), reference(x), atol=1e-6)


def test_class_condition_and_its_null_embedding():
    net = randomised(UNet(1, n_classes=3, **SMALL))
    x, t = torch.randn(3, 1, 16, 16), torch.full((3,), 0.5)
    y0, y1 = net(x, t, torch.zeros(3, dtype=torch.long)), net(x, t, torch.ones(3, dtype=torch.long))
    assert not torch.allclose(y0, y1, atol=1e-4)
    # dropped items see the "no condition" embedding whatever their label, and equal condition=None
    drop = torch.ones(3, dtype=torch.bool)
    assert torch.allclose(net(x, t, torch.zeros(3, dtype=torch.long), drop), net(x, t, None), atol=1e-6)
    assert torch.allclose(net(x, t, torch.ones(3, dtype=torch.long), drop), net(x, t, None), atol=1e-6)
    mixed = net(x, t, torch.ones(3, dtype=torch.long), torch.tensor([False, True, False]))
    assert torch.allclose(mixed[0], y1[0], atol=1e-6) and torch.allclose(mixed[1], net(x, t, None)[1], atol=1e-6)


def test_continuous_condition():
    net = randomised(UNet(1, condition_dim=2, **SMALL))
    x, t = torch.randn(2, 1, 16, 16), torch.full((2,), 0.5)
    a = net(x, t, torch.tensor([[2.2, 0.8], [2.2, 0.8]]))
    b = net(x, t, torch.tensor([[2.3, 0.8], [2.2, 0.8]]))
    assert not torch.allclose(a[0], b[0], atol=1e-5) and torch.allclose(a[1], b[1], atol=1e-6)  # per item
    with pytest.raises(ValueError, match="2 condition value"):
        net(x, t, torch.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="unconditional"):
        UNet(1, **SMALL)(x, t, torch.tensor([1, 2]))


def test_sinusoidal_embedding():
    e = sinusoidal_embedding(torch.tensor([0.0, 5.0]), 7)
    assert e.shape == (2, 7)
    assert torch.allclose(e[0, :3], torch.ones(3)) and torch.allclose(e[0, 3:], torch.zeros(4))  # cos 0, sin 0, pad
    assert torch.allclose(e[1, 0], torch.cos(torch.tensor(5.0)))  # the first frequency is 1
