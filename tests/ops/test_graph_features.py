"""DiGress's extra features on graphs with known answers, against brute-force enumeration, and under padding and
node permutation."""

import itertools
import math

import pytest
import torch

from gensci.ops.graph_features import (
    connected_components, cycle_counts, extra_feature_dims, graph_extra_features, spectral_features,
)


def graph(n: int, edges, pad: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Adjacency [1, n + pad, n + pad] and node_mask [1, n + pad] of an undirected graph on nodes 0..n-1."""
    a = torch.zeros(1, n + pad, n + pad)
    for i, j in edges:
        a[0, i, j] = a[0, j, i] = 1
    mask = torch.zeros(1, n + pad)
    mask[0, :n] = 1
    return a, mask


def ring(n: int, pad: int = 0):
    return graph(n, [(i, (i + 1) % n) for i in range(n)], pad)


def brute_force_cycles(a: torch.Tensor) -> tuple[torch.Tensor, list[int]]:
    """Simple cycles of length 3..6 by enumeration: per node (k = 3, 4, 5) [n, 3] and per graph (k = 3..6)."""
    n = len(a)
    node, total = torch.zeros(n, 3), [0, 0, 0, 0]
    for k in (3, 4, 5, 6):
        seen = set()
        for walk in itertools.permutations(range(n), k):
            edges = [(walk[i], walk[(i + 1) % k]) for i in range(k)]
            if all(a[i, j] for i, j in edges):
                key = frozenset(frozenset(e) for e in edges)
                if key not in seen:
                    seen.add(key)
                    total[k - 3] += 1
                    if k < 6:
                        node[list(walk), k - 3] += 1
    return node, total


def test_cyclohexane_has_one_six_cycle_and_a_triangle_one_triangle():
    node, total = cycle_counts(*ring(6, pad=2))  # cyclohexane / benzene's ring (bond orders do not matter)
    assert total[0].tolist() == [0, 0, 0, 1] and not node.any()
    node, total = cycle_counts(*ring(3))
    assert total[0].tolist() == [1, 0, 0, 0] and node[0, :, 0].tolist() == [1, 1, 1] and not node[..., 1:].any()
    # a 5-ring and a 4-ring sharing the edge 1-2 (the 7-cycle around both is longer than 6)
    node, total = cycle_counts(*graph(7, [(0, 1), (1, 2), (2, 3), (3, 4), (4, 0), (1, 5), (5, 6), (6, 2)]))
    assert total[0].tolist() == [0, 1, 1, 0]  # rings of 5 and 4 (1-2-6-5), no 6-cycle
    assert node[0, :, 2].tolist() == [1, 1, 1, 1, 1, 0, 0]


@pytest.mark.parametrize("seed", range(6))
def test_cycle_counts_equal_enumeration_on_random_graphs(seed):
    # dense random graphs full of triangles: DiGress's own 5-cycle formula over-counts on these (module docstring)
    g = torch.Generator().manual_seed(seed)
    n = 7
    a = (torch.rand(n, n, generator=g) < 0.25 + 0.1 * seed).float().triu(1)
    a = a + a.T
    node, total = cycle_counts(a[None], torch.ones(1, n))
    want_node, want_total = brute_force_cycles(a)
    assert torch.equal(node[0], want_node) and total[0].tolist() == want_total


def test_path_graph_eigenvalues_and_eigenvectors():
    # combinatorial Laplacian of the path P_n: eigenvalues 2 - 2 cos(pi k / n), k = 0..n-1; features divide by n
    n = 7
    a, mask = graph(n, [(i, i + 1) for i in range(n - 1)], pad=2)
    spec = spectral_features(a, mask)
    want = torch.tensor([2 - 2 * math.cos(math.pi * k / n) for k in range(1, 6)]) / n
    assert torch.allclose(spec["eigenvalues"][0], want, atol=1e-5)
    assert spec["n_components"].item() == 1 and not spec["not_lcc"].any()
    lap = torch.diag(a[0].sum(-1)) - a[0]
    for k in range(2):  # the two eigenvectors after the null space: L v = lambda v, unit norm, zero on padding
        v = spec["eigenvectors"][0, :, k]
        assert torch.allclose(lap @ v, n * want[k] * v, atol=1e-5) and abs(float(v.norm()) - 1) < 1e-5
        assert not v[n:].any()
    # fewer non-zero eigenvalues than 5: the rest are 2 (whatever the padding)
    a, mask = graph(4, [(0, 1), (1, 2), (2, 3)], pad=5)
    assert spectral_features(a, mask)["eigenvalues"][0, 3:].tolist() == [2.0, 2.0]


def test_components_and_the_largest_one():
    two_triangles_and_a_node = [(0, 1), (1, 2), (2, 0), (3, 4), (4, 5), (5, 3)]
    a, mask = graph(7, two_triangles_and_a_node, pad=1)
    count, size = connected_components(a, mask)
    assert count.item() == 3 and size[0].tolist() == [3, 3, 3, 3, 3, 3, 1, 0]
    spec = spectral_features(a, mask)
    assert spec["n_components"].item() == 3 and spec["not_lcc"][0, :, 0].tolist() == [0, 0, 0, 0, 0, 0, 1, 0]
    a, mask = graph(5, [(0, 1), (1, 2), (2, 0), (3, 4)])
    assert spectral_features(a, mask)["not_lcc"][0, :, 0].tolist() == [0, 0, 0, 1, 1]


@pytest.mark.parametrize("mode", ["none", "cycles", "eigenvalues", "all"])
def test_features_ignore_padding_and_follow_node_order(mode):
    g = torch.Generator().manual_seed(0)
    n, pad = 6, 3
    a = (torch.rand(n + pad, n + pad, generator=g) < 0.4).float().triu(1)
    a = (a + a.T)[None]
    mask = torch.zeros(1, n + pad)
    mask[0, :n] = 1
    node, glob = graph_extra_features(a, mask, mode, max_n=9)
    assert (node.shape[-1], glob.shape[-1]) == extra_feature_dims(mode)
    small_node, small_glob = graph_extra_features(a[:, :n, :n], mask[:, :n], mode, max_n=9)  # no padding at all
    assert torch.allclose(node[:, :n], small_node, atol=1e-5) and torch.allclose(glob, small_glob, atol=1e-5)
    assert not node[:, n:].any()
    perm = torch.randperm(n, generator=g)
    p_node, p_glob = graph_extra_features(a[:, perm][:, :, perm], mask[:, :n], mode, max_n=9)
    assert torch.allclose(p_glob, small_glob, atol=1e-5)
    if mode in ("cycles", "eigenvalues"):  # eigenvectors have an arbitrary sign: compare the rest
        assert torch.allclose(p_node, small_node[:, perm], atol=1e-5)
    if mode == "all":
        assert torch.allclose(p_node[..., :4], small_node[:, perm, :4], atol=1e-5)
