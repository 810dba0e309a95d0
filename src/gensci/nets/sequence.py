"""Recurrent networks over token sequences (SMILES): a GRU encoder to a Gaussian posterior and a GRU decoder
conditioned on a latent vector, as in the MOSES VAE (molsets 0.3.1, moses/vae/model.py: the encoder's last hidden
state -> mu, logvar; the decoder's initial hidden state and every input step get z).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class GRUEncoder(nn.Module):
    """ids [B, L] (padding id 0), lengths [B] -> (mu [B, Z], logvar [B, Z]) from the last hidden state(s) of a
    (bi)directional GRU over token embeddings."""

    def __init__(self, vocab_size: int, embed_dim: int, hidden: int, latent_dim: int, n_layers: int = 1,
                 bidirectional: bool = True, dropout: float = 0.0):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.rnn = nn.GRU(embed_dim, hidden, n_layers, batch_first=True, bidirectional=bidirectional,
                          dropout=dropout if n_layers > 1 else 0.0)
        self.out = nn.Linear(hidden * (2 if bidirectional else 1), 2 * latent_dim)

    def forward(self, ids: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        packed = nn.utils.rnn.pack_padded_sequence(self.embed(ids), lengths.cpu(), batch_first=True,
                                                   enforce_sorted=False)
        _, h = self.rnn(packed)  # h: [layers * directions, B, H]
        directions = 2 if self.rnn.bidirectional else 1
        last = torch.cat(list(h[-directions:]), dim=-1)
        return self.out(last).chunk(2, dim=-1)


class GRUDecoder(nn.Module):
    """A GRU language model conditioned on z [B, Z]: h_0 = W z (every layer), input at each step = [embed(token), z].

    `forward(ids [B, T], z)` -> logits [B, T, V] for the next token after each input token (teacher forcing);
    `step(token [B], z, h)` -> (logits [B, V], h) for autoregressive sampling."""

    def __init__(self, vocab_size: int, embed_dim: int, hidden: int, latent_dim: int, n_layers: int = 3,
                 dropout: float = 0.0):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.latent_to_hidden = nn.Linear(latent_dim, hidden)
        self.rnn = nn.GRU(embed_dim + latent_dim, hidden, n_layers, batch_first=True,
                          dropout=dropout if n_layers > 1 else 0.0)
        self.out = nn.Linear(hidden, vocab_size)

    def initial_state(self, z: Tensor) -> Tensor:
        return self.latent_to_hidden(z).unsqueeze(0).repeat(self.rnn.num_layers, 1, 1).contiguous()

    def forward(self, ids: Tensor, z: Tensor) -> Tensor:
        x = torch.cat([self.embed(ids), z.unsqueeze(1).expand(-1, ids.shape[1], -1)], dim=-1)
        output, _ = self.rnn(x, self.initial_state(z))
        return self.out(output)

    def step(self, token: Tensor, z: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
        x = torch.cat([self.embed(token), z], dim=-1).unsqueeze(1)
        output, h = self.rnn(x, h)
        return self.out(output[:, 0]), h


class PropertyHead(nn.Module):
    """mu [B, Z] -> standardised properties [B, P]: a two-layer MLP (Gomez-Bombarelli et al. 2018 predict the
    properties from the latent mean with a multi-layer perceptron, Sec. "Methods")."""

    def __init__(self, latent_dim: int, n_properties: int, hidden: int = 64):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(latent_dim, hidden), nn.Tanh(), nn.Linear(hidden, n_properties))

    def forward(self, mu: Tensor) -> Tensor:
        return self.net(mu)
