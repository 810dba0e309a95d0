"""A plain multilayer perceptron: flattened inputs [B, in] -> [B, out]."""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn

Activation = Literal["relu", "sigmoid"]


def _activation(name: Activation) -> nn.Module:
    return {"relu": nn.ReLU, "sigmoid": nn.Sigmoid}[name]()


class MLP(nn.Module):
    """Linear layers through `dims` = [in, hidden..., out], ReLU between them; `last_hidden` sets the
    activation of the last hidden layer (DeepSequence's decoder ends its hidden stack with a sigmoid:
    Riesselman et al. 2018, Methods; run_svi.py `final_decode_nonlin="sigmoid"`, commit 3647171).
    x [B, ...] is flattened from dim 1."""

    def __init__(self, dims: list[int], last_hidden: Activation = "relu"):
        super().__init__()
        if len(dims) < 2:
            raise ValueError(f"an MLP needs at least input and output sizes, got {dims}")
        layers: list[nn.Module] = [nn.Flatten()]
        for k, (d_in, d_out) in enumerate(zip(dims, dims[1:])):
            layers.append(nn.Linear(d_in, d_out))
            if k < len(dims) - 2:
                layers.append(_activation(last_hidden if k == len(dims) - 3 else "relu"))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)
