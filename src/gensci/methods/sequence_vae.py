"""DeepSequence-style VAE over aligned sequences (Riesselman, Ingraham & Marks 2018, Nature Methods 15:816).

gensci.methods.vae.VAE with its "categorical" likelihood: a sequence seqs [B, L] (ints) is read one-hot,
x [B, q, L]; the encoder (MLP, ReLU) gives q(z|x) = N(mu, diag(exp(logvar))), z [B, latent_dim]; the decoder
(MLP, ReLU, the last hidden layer a sigmoid) gives logits [B, q, L], a softmax over the q states at each
position. Training maximises the ELBO with each sequence weighted by DeepSequence's sequence weight
(batch["weight"], gensci.ops.sequences.sequence_weights). The predicted effect of a mutation is the ELBO
difference ELBO(mutant) - ELBO(wild type), each averaged over several draws of z (helper.py `delta_elbo`).

Defaults follow DeepSequence's run_svi.py (github.com/debbiemarkslab/DeepSequence, commit 3647171): encoder
[1500, 1500], decoder [100, 500], 30 latent dimensions. Left out, and said so: the sparse group prior on the
decoder's last layer, its Bayesian (variational) decoder weights and the global temperature; the decoder here is
fitted by maximum likelihood with AdamW's weight decay.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
from pydantic import Field
from torch import Tensor

from gensci.config import MethodConfig
from gensci.errors import UserError
from gensci.methods.vae import VAE
from gensci.nets.mlp import MLP
from gensci.ops.random import sample_categorical_rows, sample_normal
from gensci.ops.sequences import one_hot
from gensci.spec import Requirements, TensorSpec


class SequenceVAEConfig(MethodConfig):
    name: Literal["sequence-vae"] = "sequence-vae"
    latent_dim: int = Field(30, ge=1, description="DeepSequence: 30")
    encoder_hidden: list[int] = Field([1500, 1500], description="DeepSequence: [1500, 1500]")
    decoder_hidden: list[int] = Field([100, 500], min_length=1, description="DeepSequence: [100, 500]")
    beta: float = Field(1.0, gt=0, description="KL weight (1: the ELBO)")


class SequenceVAE(VAE):
    """VAE over aligned sequences; see the module docstring. seqs [B, L] ints; x [B, q, L] one-hot; z [B, D]."""

    Config = SequenceVAEConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"sample", "encode", "log_likelihood", "elbo", "anomaly_score"})

    @classmethod
    def requires(cls, config: SequenceVAEConfig) -> Requirements:
        return Requirements({"seq": TensorSpec(("L",), "int"), "weight": TensorSpec(())},
                            frozenset({"length", "n_states"}))

    @classmethod
    def sample_spec(cls, config: SequenceVAEConfig, info: dict[str, Any]) -> dict[str, TensorSpec]:
        return {"seq": TensorSpec((int(info["length"]),), "int")}

    def build(self, config: SequenceVAEConfig, info: dict[str, Any]) -> None:
        q, length = int(info["n_states"]), int(info["length"])
        self.shape = (q, length)
        self.likelihood = "categorical"
        self.encoder = MLP([q * length, *config.encoder_hidden, 2 * config.latent_dim])
        self.decoder = torch.nn.Sequential(MLP([config.latent_dim, *config.decoder_hidden, q * length], "sigmoid"),
                                           torch.nn.Unflatten(1, self.shape))

    def one_hot(self, seqs: Tensor) -> Tensor:
        """seqs [B, L] ints -> x [B, q, L] on the model's device."""
        return one_hot(seqs.to(self.device), self.shape[0]).transpose(1, 2)

    def inputs(self, batch: dict[str, Tensor]) -> Tensor:
        return self.one_hot(batch["seq"])

    def decode(self, z: Tensor) -> Tensor:
        """z [B, D] -> state probabilities [B, q, L]."""
        return self.decoder(z).softmax(dim=1)

    @torch.no_grad()
    def sequence_elbo(self, seqs: Tensor, n_samples: int = 10, generator: torch.Generator | None = None,
                      batch_size: int = 2048) -> Tensor:
        """ELBO per sequence [B] (nats) for seqs [B, L], averaged over n_samples draws of z."""
        return torch.cat([self.elbo(self.one_hot(s), n_samples, generator) for s in seqs.split(batch_size)])

    @torch.no_grad()
    def sample_batch(self, n: int, condition, generator: torch.Generator | None, options) -> dict[str, Tensor]:
        """z ~ N(0, I), then each position's state from the decoder's softmax: {"seq": [n, L] int64}."""
        if condition is not None:
            raise UserError("the sequence VAE is unconditional; sample it without a class")
        z = sample_normal((n, self.config.latent_dim), generator, self.device)
        probs = self.decode(z).transpose(1, 2)  # [n, L, q]
        return {"seq": sample_categorical_rows(probs, generator)}
