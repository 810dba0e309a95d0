import torch

from gensci.ops.kabsch import equivariant_ot, hungarian_match, kabsch_rotation, permute_nodes
from gensci.ops.masks import remove_mean
from gensci.ops.rotations import random_orthogonal


def _clouds(b=4, n=9, seed=0):
    g = torch.Generator().manual_seed(seed)
    mask = torch.ones(b, n)
    mask[1, 6:] = 0
    mask[3, 2] = 0  # padding between real atoms
    y = remove_mean(torch.randn(b, n, 3, generator=g, dtype=torch.float64) * 2, mask)
    return y, mask, g


def _small_rotations(b, degrees, g):
    axis = torch.nn.functional.normalize(torch.randn(b, 3, generator=g, dtype=torch.float64), dim=-1)
    skew = torch.zeros(b, 3, 3, dtype=torch.float64)
    skew[:, 0, 1], skew[:, 0, 2], skew[:, 1, 2] = -axis[:, 2], axis[:, 1], -axis[:, 0]
    return torch.linalg.matrix_exp((skew - skew.transpose(1, 2)) * torch.pi * degrees / 180)


def _rotate_and_permute(y, mask, g, rots):
    """A rigidly rotated (rots [B, 3, 3]), atom-shuffled copy x of y, and the shuffle."""
    b, n, _ = y.shape
    shuffle = torch.stack([torch.arange(n) for _ in range(b)])
    for i in range(b):
        real = mask[i].bool().nonzero().squeeze(1)
        shuffle[i, real] = real[torch.randperm(len(real), generator=g)]
    x = permute_nodes(y, shuffle) @ rots.transpose(1, 2)
    return x * mask.unsqueeze(-1), shuffle


def test_kabsch_recovers_a_rotation_exactly():
    y, mask, g = _clouds()
    q = torch.stack([random_orthogonal(3, False, g, torch.float64) for _ in range(len(y))])
    x = y @ q.transpose(1, 2)
    rot = kabsch_rotation(x, y, mask)
    assert torch.allclose(rot, q.transpose(1, 2), atol=1e-10)
    assert torch.allclose(x @ rot.transpose(1, 2), y, atol=1e-10)


def test_rotated_and_permuted_copy_is_recovered_exactly():
    # Hungarian matching before the rotation is known (equivariant OT's order) finds the shuffle when the rotation
    # moves atoms less than their spacing; a prior sample is matched the same way, without a true answer
    y, mask, g = _clouds()
    x, shuffle = _rotate_and_permute(y, mask, g, _small_rotations(len(y), 8.0, g))
    perm = hungarian_match(x, y, mask)
    matched = permute_nodes(x, perm)
    aligned = matched @ kabsch_rotation(matched, y, mask).transpose(1, 2)
    assert torch.allclose(aligned * mask.unsqueeze(-1), y, atol=1e-10)
    assert torch.equal(permute_nodes(shuffle.unsqueeze(-1), perm).squeeze(-1)[mask.bool()],
                       torch.arange(y.shape[1]).expand_as(shuffle)[mask.bool()])  # the shuffle is undone
    assert torch.equal(perm[~mask.bool()], torch.arange(y.shape[1]).expand_as(perm)[~mask.bool()])  # padding stays
    assert torch.allclose(equivariant_ot(x, y, mask), y, atol=1e-10)


def test_mirror_image_gets_a_proper_rotation_not_a_reflection():
    y, mask, g = _clouds()
    mirrors = torch.stack([random_orthogonal(3, True, g, torch.float64) for _ in range(len(y))])  # det -1
    x = y @ mirrors.transpose(1, 2)  # atom i of x is atom i of y, reflected
    rot = kabsch_rotation(x, y, mask)
    assert torch.allclose(torch.linalg.det(rot), torch.ones(len(y), dtype=torch.float64))
    err = ((x @ rot.transpose(1, 2) - y) * mask.unsqueeze(-1)).square().sum((1, 2))
    assert (err > 1e-3).all()  # a chiral cloud cannot be rotated onto its mirror image


def test_matching_within_classes_never_crosses_them():
    y, mask, g = _clouds()
    classes = torch.randint(0, 3, y.shape[:2], generator=g)
    x = y + 1.5 * torch.randn(y.shape, generator=g, dtype=torch.float64)  # atom i of x has the class of atom i of y
    free, within = hungarian_match(x, y, mask), hungarian_match(x, y, mask, classes=classes)
    real = mask.bool()
    assert torch.equal(classes.gather(1, within)[real], classes[real])
    assert not torch.equal(classes.gather(1, free)[real], classes[real])  # unrestricted matching crosses classes
