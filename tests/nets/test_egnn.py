import pytest
import torch

from gensci.nets.egnn import EGNN, reference_forward
from gensci.ops.masks import size_groups
from gensci.testing.equivariance import assert_equivariant, assert_padding_invariant



def _batch(dtype, b=3, n=7, f=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    mask = torch.rand(b, n, generator=g) < 0.7
    mask[:, 0] = mask[:, 1] = True
    mask[0, 3] = False  # a padding slot between real atoms
    m = mask.unsqueeze(-1)
    h = torch.randn(b, n, f, generator=g).to(dtype) * m
    x = torch.randn(b, n, 3, generator=g).to(dtype) * 2 * m
    return h, x, mask.to(dtype)


def _net(dtype, impl="edges", layers=3, **kw):
    torch.manual_seed(0)
    if impl == "buckets":
        kw.setdefault("group_cost", 0.0)  # one group per distinct size: exercises the regrouping
    net = EGNN(6, 16, layers, impl=impl, **kw).to(dtype)
    for block in net.blocks:  # larger coordinate updates than the 0.001-gain init, so x_out is not ~x
        torch.nn.init.normal_(block.coord_mlp[-1].weight, std=0.1)
    return net


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("impl", ["edges", "dense", "buckets"])
def test_e3_and_permutation_equivariance(dtype, impl):
    net = _net(dtype, impl)
    h, x, mask = _batch(dtype)
    errors = assert_equivariant(net, h, x, mask, generator=torch.Generator().manual_seed(1))
    assert set(errors) >= {"rotation + translation: x_out equivariant", "reflection + translation: h_out invariant",
                           "permutation: x_out"}


def test_equivariance_check_catches_a_non_equivariant_function():
    net = _net(torch.float64)
    h, x, mask = _batch(torch.float64)

    def broken(h, x, mask):  # leaks absolute coordinates into the features
        h_out, x_out = net(h + x[..., :1], x, mask)
        return h_out, x_out

    with pytest.raises(AssertionError, match="rotation"):
        assert_equivariant(broken, h, x, mask, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("impl", ["edges", "dense", "buckets"])
def test_padding_changes_nothing_and_padding_outputs_are_zero(impl):
    net = _net(torch.float64, impl)
    h, x, mask = _batch(torch.float64)
    assert assert_padding_invariant(net, h, x, mask, generator=torch.Generator().manual_seed(2)) < 1e-12


@pytest.mark.parametrize("impl", ["edges", "dense", "buckets"])
@pytest.mark.parametrize(
    "options", [{}, {"aggregation": "mean"}, {"attention": False, "tanh": False, "inv_sublayers": 2}]
)
def test_fast_implementation_equals_plain_dense_reference(impl, options):
    net = _net(torch.float64, impl, **options)
    h, x, mask = _batch(torch.float64, b=4, n=9)
    h_ref, x_ref = reference_forward(net, h, x, mask)
    h_out, x_out = net(h, x, mask)
    assert torch.allclose(h_out, h_ref * mask.unsqueeze(-1), atol=1e-12, rtol=1e-10)
    assert torch.allclose(x_out, x_ref, atol=1e-12, rtol=1e-10)
    assert (x_out - x).abs().max() > 1e-3  # the coordinates really moved


def test_gradients_match_reference_and_published_parameter_count():
    net = _net(torch.float64, "edges", layers=2)
    h, x, mask = _batch(torch.float64)
    grads = []
    for fn in (net, lambda *a: reference_forward(net, *a)):
        net.zero_grad()
        h_out, x_out = fn(h, x, mask)
        ((h_out * mask.unsqueeze(-1)).square().sum() + x_out.square().sum()).backward()
        grads.append(torch.cat([p.grad.flatten() for p in net.parameters()]))
    assert torch.allclose(grads[0], grads[1], atol=1e-10, rtol=1e-8)
    # EDM's QM9 denoiser (9 blocks, 256 wide, 5 types + charge + time in): 5.34 M parameters (baseline table)
    n = sum(p.numel() for p in EGNN(7, 256, 9, out_node_nf=6).parameters())
    assert abs(n - 5.34e6) < 0.01e6


def test_bf16_autocast_runs_and_stays_close():
    net = _net(torch.float32, layers=2)
    h, x, mask = _batch(torch.float32, b=2, n=5)
    h32, x32 = net(h, x, mask)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        h16, x16 = net(h, x, mask)
    assert x16.dtype == torch.float32  # coordinates stay fp32
    assert (x16 - x32).abs().max() < 0.05 * x32.abs().max()
    assert (h16.float() - h32).abs().max() < 0.05 * h32.abs().max()


def test_size_groups_trade_padding_against_group_count():
    sizes = torch.tensor([5, 20, 6, 19, 5, 21])
    groups = size_groups(sizes, group_cost=0.0)
    assert sorted(torch.cat(groups).tolist()) == list(range(6))
    assert all(len(set(sizes[g].tolist())) == 1 for g in groups)  # free groups: no padding at all
    two = size_groups(sizes, group_cost=100.0)
    assert [sorted(sizes[g].tolist()) for g in two] == [[5, 5, 6], [19, 20, 21]]
    assert len(size_groups(sizes, group_cost=1e6)) == 1


@pytest.mark.slow
def test_compiled_network_equals_eager_and_serves_copies():  # ~1 min: torch.compile on CPU
    import copy

    net = _net(torch.float32, "edges", layers=2)
    h, x, mask = _batch(torch.float32)
    eager = net(h, x, mask)
    net.compile = True
    twin = copy.deepcopy(net)
    for a, b in zip(net(h, x, mask), eager):
        assert torch.allclose(a, b, atol=1e-5)
    h2, x2, mask2 = _batch(torch.float32, b=5, n=11, seed=1)  # other shapes: no recompilation needed
    twin.compile = False
    for a, b in zip(net(h2, x2, mask2), twin(h2, x2, mask2)):
        assert torch.allclose(a, b, atol=1e-5)
