import pytest
import torch

from gensci.nets.bond_egnn import BondEGNN
from gensci.testing.equivariance import assert_equivariant, assert_padding_invariant


def _batch(dtype, b=3, n=7, f=6, k=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    mask = torch.rand(b, n, generator=g) < 0.7
    mask[:, 0] = mask[:, 1] = True
    mask[0, 3] = False  # a padding slot between real atoms
    m = mask.unsqueeze(-1)
    h = torch.randn(b, n, f, generator=g).to(dtype) * m
    x = torch.randn(b, n, 3, generator=g).to(dtype) * 1.5 * m
    bonds = torch.randint(0, k, (b, n, n), generator=g).triu(1)
    bonds = bonds + bonds.transpose(1, 2)
    e = torch.nn.functional.one_hot(bonds, k).to(dtype) * (m.unsqueeze(2) & m.unsqueeze(1))
    return h, x, e, mask.to(dtype)


def _net(dtype, cond=False, **kw):
    torch.manual_seed(0)
    net = BondEGNN(6, 4, out_node_nf=5, out_edge_nf=4, hidden_nf=16, message_nf=8, edge_nf=8, n_layers=3,
                   cond_coords=cond, **kw).to(dtype)
    for layer in net.layers:  # larger coordinate updates than the 0.001-gain init, so x_out is not ~x
        torch.nn.init.normal_(layer.coord.weight, std=0.3)
    return net


def _fn(net, cond=False):
    def fn(h, x, mask, e):  # self-conditioning input transformed with x (its distances are what the net sees)
        x_out, h_out, e_out = net(h, x, e, mask, 0.8 * x if cond else None)
        return h_out, x_out, e_out
    return fn


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("cond", [False, True])
def test_e3_and_permutation_equivariance_with_edges(dtype, cond):
    net = _net(dtype, cond)
    h, x, e, mask = _batch(dtype)
    errors = assert_equivariant(_fn(net, cond), h, x, mask, edges=e, generator=torch.Generator().manual_seed(1))
    assert {"rotation + translation: x_out equivariant", "reflection + translation: e_out invariant",
            "permutation: e_out"} <= set(errors)
    x_out = net(h, x, e, mask, 0.8 * x if cond else None)[0]
    assert (x_out - x).abs().max() > 1e-2  # the coordinates really moved


def test_equivariance_check_catches_edges_that_ignore_the_permutation():
    net = _net(torch.float64)
    h, x, e, mask = _batch(torch.float64)
    fixed_e = e.clone()

    def broken(h, x, mask, e):  # uses the unpermuted edge features whatever the atom order
        return _fn(net)(h, x, mask, fixed_e)

    with pytest.raises(AssertionError, match="permutation"):
        assert_equivariant(broken, h, x, mask, edges=e, generator=torch.Generator().manual_seed(1))


def test_padding_changes_nothing_and_padding_outputs_are_zero():
    net = _net(torch.float64, cond=True)
    h, x, e, mask = _batch(torch.float64)
    err = assert_padding_invariant(_fn(net, True), h, x, mask, edges=e, generator=torch.Generator().manual_seed(2))
    assert err < 1e-12


def test_bond_logits_exactly_symmetric_zero_diagonal():
    net = _net(torch.float32)
    h, x, e, mask = _batch(torch.float32)
    _, _, bonds = net(h, x, e, mask)
    assert torch.equal(bonds, bonds.transpose(1, 2))
    assert bonds.diagonal(dim1=1, dim2=2).abs().max() == 0
    assert bonds.abs().max() > 0


def test_molecules_do_not_see_each_other():
    net = _net(torch.float64)
    h, x, e, mask = _batch(torch.float64)
    x_out, h_out, e_out = net(h, x, e, mask)
    for b in range(len(mask)):
        xb, hb, eb = net(h[b : b + 1], x[b : b + 1], e[b : b + 1], mask[b : b + 1])
        assert torch.allclose(xb[0], x_out[b], atol=1e-12) and torch.allclose(hb[0], h_out[b], atol=1e-12)
        assert torch.allclose(eb[0], e_out[b], atol=1e-12)


def test_edge_features_and_self_conditioning_reach_the_outputs():
    net = _net(torch.float64, cond=True)
    h, x, e, mask = _batch(torch.float64)
    base = net(h, x, e, mask, x)
    other_e = net(h, x, e.roll(1, -1) * e.sum(-1, keepdim=True), mask, x)
    other_cond = net(h, x, e, mask, 1.3 * x)
    for out in (other_e, other_cond):
        assert all((a - b).abs().max() > 1e-6 for a, b in zip(out, base))


def test_network_without_self_conditioning_rejects_it():
    net = _net(torch.float32)
    h, x, e, mask = _batch(torch.float32)
    with pytest.raises(ValueError, match="cond_coords"):
        net(h, x, e, mask, x)


@pytest.mark.slow
def test_compiled_network_equals_eager():  # ~1 min: torch.compile on CPU
    net = _net(torch.float32, cond=True)
    h, x, e, mask = _batch(torch.float32)
    eager = net(h, x, e, mask, x)
    net.compile = True
    for a, b in zip(net(h, x, e, mask, x), eager):
        assert torch.allclose(a, b, atol=1e-5)
    h2, x2, e2, mask2 = _batch(torch.float32, b=5, n=11, seed=1)  # other shapes: no recompilation needed
    compiled = net(h2, x2, e2, mask2, x2)
    net.compile = False
    for a, b in zip(compiled, net(h2, x2, e2, mask2, x2)):
        assert torch.allclose(a, b, atol=1e-5)
