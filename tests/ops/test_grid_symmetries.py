"""Grid symmetries for augmentation: each keeps what the data's distribution keeps (the values of a grid, the bonds
of a periodic lattice) and reaches every orientation, offset or relabelling."""

import torch

from gensci.methods.grid_net import augmented
from gensci.methods.lattice_diffusion import LatticeDiffusionConfig
from gensci.ops.grid_symmetries import dihedral, random_shift, random_state_permutation


def bonds(x):
    """Sum of nearest-neighbour products with periodic edges, per grid."""
    return (x * (x.roll(1, -1) + x.roll(1, -2))).sum((1, 2, 3))


def test_dihedral_gives_the_eight_orientations():
    x = torch.arange(16.0).reshape(1, 1, 4, 4).expand(8, 1, 4, 4)
    out = dihedral(x, torch.arange(8))
    assert torch.equal(out[0], x[0]) and torch.equal(out[1], torch.rot90(x[0], 1, (-2, -1)))
    assert torch.equal(out[4], x[0].flip(-1))
    assert len({tuple(o.flatten().tolist()) for o in out}) == 8


def test_random_shift_is_a_cyclic_shift_and_reaches_every_offset():
    x = torch.arange(16.0).reshape(1, 1, 4, 4).expand(400, 2, 4, 4)
    out = random_shift(x, torch.Generator().manual_seed(0))
    offsets = set()
    for grid in out:
        dy, dx = (int(i) for i in (grid[0] == 0).nonzero()[0])  # where the first value went
        assert torch.equal(grid, x[0].roll((dy, dx), (-2, -1)))  # both channels moved together
        offsets.add((dy, dx))
    assert len(offsets) == 16


def test_state_permutation_relabels_whole_lattices_and_keeps_their_bonds():
    states = torch.randint(2, (200, 1, 6, 6), generator=torch.Generator().manual_seed(1))
    out = random_state_permutation(states, 2, torch.Generator().manual_seed(2))
    same = (out == states).flatten(1).all(1)
    flipped = (out == 1 - states).flatten(1).all(1)
    assert bool((same | flipped).all()) and 70 < int(flipped.sum()) < 130  # each lattice whole, about half flipped
    spins = lambda s: 2.0 * s - 1  # noqa: E731
    assert torch.equal(bonds(spins(out)), bonds(spins(states)))


def test_augmented_batches_keep_each_periodic_lattices_bonds():
    torch.manual_seed(0)
    x = torch.randint(2, (64, 1, 8, 8)).float() * 2 - 1
    out = augmented(LatticeDiffusionConfig(symmetries=("square", "shift")), x)
    assert torch.equal(bonds(out), bonds(x)) and torch.equal(out.sum((1, 2, 3)), x.sum((1, 2, 3)))
    assert not torch.equal(out, x)
    assert torch.equal(augmented(LatticeDiffusionConfig(), x), x)  # no symmetries: the batch as it is
