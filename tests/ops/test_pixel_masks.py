import pytest
import torch

from gensci.ops.pixel_masks import box_mask, random_pixel_mask


@pytest.mark.parametrize("observed", [0.3, 0.5, 0.7])
def test_random_pixel_mask_observes_the_requested_fraction(observed):
    m = random_pixel_mask(64, 32, observed, torch.Generator().manual_seed(0))
    assert m.shape == (64, 1, 32, 32) and set(m.unique().tolist()) <= {0.0, 1.0}
    assert abs(float(m.mean()) - observed) < 0.01  # 65,536 pixels: std 0.002
    again = random_pixel_mask(64, 32, observed, torch.Generator().manual_seed(0))
    assert torch.equal(m, again)


def test_box_mask_hides_one_square_of_the_requested_area():
    m = box_mask(50, 32, 0.25, torch.Generator().manual_seed(1))
    hidden = (m == 0).squeeze(1)
    assert (hidden.flatten(1).sum(1) == 16 * 16).all()
    rows, cols = hidden.any(2), hidden.any(1)
    assert (rows.sum(1) == 16).all() and (cols.sum(1) == 16).all()  # one contiguous 16 x 16 square
    assert len({tuple(r.nonzero()[0].tolist()) for r in rows}) > 5  # at random positions
    with pytest.raises(ValueError):
        box_mask(1, 8, 1.0)
