"""DiGress's graph transformer: permutation-equivariant, symmetric edge logits, blind to padding."""

import pytest
import torch

from gensci.nets.graph_transformer import GraphTransformer, masked_pool

SMALL = dict(n_layers=2, dx=16, de=8, dy=8, n_head=4, ff_x=16, ff_e=8, ff_y=8, mlp_x=16, mlp_e=8, mlp_y=8)


def inputs(b=2, n=6, in_x=7, in_e=5, in_y=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, n, in_x, generator=g)
    e = torch.randn(b, n, n, in_e, generator=g)
    e = e + e.transpose(1, 2)
    y = torch.randn(b, in_y, generator=g)
    mask = torch.ones(b, n, dtype=torch.bool)
    mask[1, 4:] = False
    return x, e, y, mask


def net(**kw):
    torch.manual_seed(0)
    return GraphTransformer(7, 5, 3, 4, 4, **(SMALL | kw)).eval()


def test_node_and_edge_outputs_permute_with_the_nodes():
    model = net()
    x, e, y, mask = inputs()
    mask[:] = True
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    lx, le = model(x, e, y, mask)
    px, pe = model(x[:, perm], e[:, perm][:, :, perm], y, mask)
    assert torch.allclose(px, lx[:, perm], atol=1e-5)
    assert torch.allclose(pe, le[:, perm][:, :, perm], atol=1e-5)
    assert not torch.allclose(lx[:, 0], lx[:, 1], atol=1e-3)  # not trivially constant


def test_edge_logits_are_symmetric_and_zero_on_the_diagonal():
    lx, le = net()(*inputs())
    assert torch.equal(le, le.transpose(1, 2))
    assert not le.diagonal(dim1=1, dim2=2).any()


def test_padding_changes_nothing():
    model = net()
    x, e, y, mask = inputs()
    lx, le = model(x, e, y, mask)
    assert not lx[1, 4:].any() and not le[1, 4:].any() and not le[1, :, 4:].any()
    # junk in the padding, and two more padding nodes: the real outputs stay the same
    g = torch.Generator().manual_seed(1)
    x2, e2 = torch.randn(2, 8, 7, generator=g), torch.randn(2, 8, 8, 5, generator=g)
    x2[:, :6], e2[:, :6, :6] = x, e
    x2[1, :4], e2[1, :4, :4] = x[1, :4], e[1, :4, :4]
    e2 = torch.where(torch.ones(8, 8).triu().bool()[None, :, :, None], e2, e2.transpose(1, 2))
    mask2 = torch.zeros(2, 8, dtype=torch.bool)
    mask2[:, :6] = mask
    lx2, le2 = model(x2, e2, y, mask2)
    real = mask
    assert torch.allclose(lx2[:, :6][real], lx[real], atol=1e-5)
    pairs = real.unsqueeze(1) & real.unsqueeze(2)
    assert torch.allclose(le2[:, :6, :6][pairs], le[pairs], atol=1e-5)


def test_a_one_atom_graph_is_finite():
    x, e, y, mask = inputs()
    mask[1, 1:] = False
    lx, le = net()(x, e, y, mask)
    assert torch.isfinite(lx).all() and torch.isfinite(le).all()


def test_masked_pool_statistics():
    v = torch.tensor([[[1.0], [3.0], [100.0]]])
    mask = torch.tensor([[True, True, False]])
    assert masked_pool(v, mask)[0].tolist() == pytest.approx([2.0, 1.0, 3.0, 1.0], abs=1e-3)  # mean min max std
    assert masked_pool(v, torch.zeros(1, 3, dtype=torch.bool))[0].tolist() == pytest.approx([0, 0, 0, 0], abs=1e-3)


def test_head_count_must_divide_the_width():
    with pytest.raises(ValueError, match="multiple"):
        GraphTransformer(7, 5, 3, 4, 4, **(SMALL | {"n_head": 3}))
