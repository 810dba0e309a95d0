"""A SMILES variational autoencoder with a property head on the latent mean: the "chemical VAE" of
Gomez-Bombarelli et al., "Automatic chemical design using a data-driven continuous representation of molecules",
ACS Cent. Sci. 4, 268 (2018).

Networks (gensci.nets.sequence) follow the MOSES VAE (Polykovskiy et al. 2020; molsets 0.3.1, moses/vae/):
a GRU encoder gives q(z|x) = N(mu, diag(exp(logvar))), z [B, Z]; a GRU decoder reads z at every step and is
trained with teacher forcing (the true previous token as input). Loss per batch, as moses/vae/model.py:

    recon = mean over real next tokens of -log p(x_t | x_<t, z)
    kl    = mean over molecules of KL(q(z|x) || N(0, I))  (closed form, summed over Z)
    loss  = recon + w(step) * kl + property_weight * mse(head(mu), standardised properties)

w rises linearly from kl_weight_start to kl_weight_end over kl_anneal_steps (moses/vae/misc.py KLAnnealer, per
epoch there, per step here; MOSES' defaults 0 -> 0.05, moses/vae/config.py). The property head (logP, QED, SA,
standardised with the training split's mean and std; NaN targets are left out) makes the latent space
organised by the properties, so gradient steps on head(z) lead to molecules with better values (the paper's
Fig. 4; it uses Gaussian-process optimisation, we also offer plain gradient ascent: `optimize_latent`).

Shapes: tokens [B, L] int (<bos>=1 ... <eos>=2, <pad>=0, gensci.chem.smiles.Vocabulary); z, mu, logvar [B, Z];
properties [B, P].
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor

from gensci.config import MethodConfig
from gensci.errors import UserError
from gensci.methods.base import Method, SamplingOptions
from gensci.nets.sequence import GRUDecoder, GRUEncoder, PropertyHead
from gensci.ops.gaussian import gaussian_kl_logvar
from gensci.ops.random import sample_categorical_rows, sample_normal
from gensci.spec import Requirements, TensorSpec

PAD, BOS, EOS = 0, 1, 2  # gensci.chem.smiles.SPECIAL_TOKENS


class SmilesVAEConfig(MethodConfig):
    name: Literal["smiles-vae"] = "smiles-vae"
    latent_dim: int = Field(128, ge=1, description="Z (MOSES VAE d_z = 128)")
    embed_dim: int = Field(64, ge=1, description="token embedding size")
    encoder_hidden: int = Field(256, ge=1, description="encoder GRU width (MOSES q_d_h = 256)")
    encoder_bidirectional: bool = True
    decoder_hidden: int = Field(512, ge=1, description="decoder GRU width (MOSES d_d_h = 512)")
    decoder_layers: int = Field(3, ge=1, description="decoder GRU layers (MOSES d_n_layers = 3)")
    kl_weight_start: float = Field(0.0, ge=0, description="KL weight at step 0 (MOSES kl_w_start = 0)")
    kl_weight_end: float = Field(0.05, ge=0, description="KL weight after annealing (MOSES kl_w_end = 0.05)")
    kl_anneal_steps: int = Field(10_000, ge=0, description="steps of the linear KL annealing")
    property_weight: float = Field(1.0, ge=0, description="weight of the property head's MSE (0: no head loss)")
    property_hidden: int = Field(64, ge=1)
    temperature: float = Field(1.0, gt=0, description="softmax temperature of the 'multinomial' sampler")
    sampler: Literal["multinomial", "greedy"] = Field("multinomial", description="default token choice when sampling")


class SmilesVAE(Method):
    """Chemical VAE on token ids; see the module docstring for the objective and the papers."""

    Config = SmilesVAEConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"sample", "encode", "decode", "interpolate", "optimize"})
    sampling_options: ClassVar[frozenset[str]] = frozenset({"sampler"})
    samplers: ClassVar[tuple[str, ...]] = ("multinomial", "greedy")

    @classmethod
    def requires(cls, config: SmilesVAEConfig) -> Requirements:
        return Requirements({"tokens": TensorSpec(("L",), "int"), "properties": TensorSpec(("P",))},
                            frozenset({"vocabulary", "max_length", "properties", "property_mean", "property_std"}),
                            frozenset({"smiles"}))

    @classmethod
    def sample_spec(cls, config: SmilesVAEConfig, info: dict[str, Any]) -> dict[str, TensorSpec]:
        return {"tokens": TensorSpec((int(info["max_length"]),), "int")}

    def __init__(self, config: SmilesVAEConfig, info: dict[str, Any]):
        super().__init__(config, info)
        vocab, z = len(info["vocabulary"]), config.latent_dim
        self.max_length = int(info["max_length"])
        self.property_names = list(info["properties"])
        self.encoder = GRUEncoder(vocab, config.embed_dim, config.encoder_hidden, z,
                                  bidirectional=config.encoder_bidirectional)
        self.decoder = GRUDecoder(vocab, config.embed_dim, config.decoder_hidden, z, config.decoder_layers)
        self.head = PropertyHead(z, len(self.property_names), config.property_hidden)
        self.register_buffer("property_mean", torch.tensor(info["property_mean"], dtype=torch.float32))
        self.register_buffer("property_std", torch.tensor(info["property_std"], dtype=torch.float32))

    # -- the model ---------------------------------------------------------------------------
    def encode(self, tokens: Tensor) -> tuple[Tensor, Tensor]:
        """tokens [B, L] -> (mu [B, Z], logvar [B, Z])."""
        lengths = (tokens != PAD).sum(1).clamp(min=1)
        return self.encoder(tokens[:, : int(lengths.max())], lengths)

    def kl_weight(self, step: int) -> float:
        c = self.config
        if c.kl_anneal_steps == 0:
            return c.kl_weight_end
        return c.kl_weight_start + (c.kl_weight_end - c.kl_weight_start) * min(1.0, step / c.kl_anneal_steps)

    def terms(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """recon (mean token NLL), kl (mean over molecules), prop (MSE over known standardised properties)."""
        tokens = batch["tokens"]
        tokens = tokens[:, : int((tokens != PAD).sum(1).max())]
        mu, logvar = self.encode(tokens)
        z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
        logits = self.decoder(tokens[:, :-1], z)
        recon = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1), ignore_index=PAD)
        kl = gaussian_kl_logvar(mu, logvar).sum(-1).mean()
        target = (batch["properties"] - self.property_mean) / self.property_std
        known = torch.isfinite(target)
        error = (self.head(mu) - torch.where(known, target, torch.zeros_like(target))).pow(2)
        prop = (error * known).sum() / known.sum().clamp(min=1)
        return {"recon": recon, "kl": kl, "prop": prop}

    def train_step(self, batch: dict[str, Tensor], step: int, opt) -> dict[str, float]:
        t = self.terms(batch)
        w = self.kl_weight(step)
        loss = t["recon"] + w * t["kl"] + self.config.property_weight * t["prop"]
        opt.step(loss, "main")
        return {"loss": float(loss.detach()), "recon": float(t["recon"].detach()), "kl": float(t["kl"].detach()),
                "property_mse": float(t["prop"].detach()), "kl_weight": float(w)}

    # -- decoding ----------------------------------------------------------------------------
    @torch.no_grad()
    def decode(self, z: Tensor, generator: torch.Generator | None = None, sampler: str | None = None,
               temperature: float | None = None) -> Tensor:
        """z [B, Z] -> tokens [B, L] (<bos> first, <pad> after <eos>); sampler "greedy" (argmax) or
        "multinomial" (softmax(logits / temperature)), default from the config."""
        sampler = sampler or self.config.sampler
        if sampler not in self.samplers:
            raise UserError(f"sampler {sampler!r} does not apply to smiles-vae (choices: {', '.join(self.samplers)})")
        temperature = temperature or self.config.temperature
        n = len(z)
        out = torch.full((n, self.max_length), PAD, dtype=torch.long, device=z.device)
        out[:, 0] = BOS
        token, h = out[:, 0], self.decoder.initial_state(z)
        done = torch.zeros(n, dtype=torch.bool, device=z.device)
        for t in range(1, self.max_length):
            logits, h = self.decoder.step(token, z, h)
            if sampler == "greedy":
                token = logits.argmax(-1)
            else:
                token = sample_categorical_rows(torch.softmax(logits / temperature, -1), generator)
            token = torch.where(done, torch.full_like(token, PAD), token)
            out[:, t] = token
            done |= token == EOS
            if bool(done.all()):
                break
        return out

    @torch.no_grad()
    def sample_batch(self, n: int, condition, generator: torch.Generator | None,
                     options: SamplingOptions) -> dict[str, Tensor]:
        """Decode z ~ N(0, I): {"tokens": [n, L]}."""
        if condition is not None:
            raise UserError("smiles-vae is unconditional; use --optimize or --prototype to steer it")
        z = sample_normal((n, self.config.latent_dim), generator, self.device)
        return {"tokens": self.decode(z, generator, options.sampler)}

    def describe_sampling(self, options: SamplingOptions) -> dict[str, Any]:
        sampler = options.sampler or self.config.sampler
        return {"sampler": sampler} | ({"temperature": self.config.temperature} if sampler == "multinomial" else {})

    # -- uses of the latent space --------------------------------------------------------------
    def predict_properties(self, z: Tensor) -> Tensor:
        """The head's properties in physical units [B, P] (order: info["properties"])."""
        return self.head(z) * self.property_std + self.property_mean

    def optimize_latent(self, z: Tensor, prop: str, steps: int = 100, lr: float = 0.05, maximize: bool = True,
                        prior_weight: float = 1.0) -> Tensor:
        """Gradient ascent on the head's prediction of `prop` from z [B, Z]: the path [steps + 1, B, Z].

        Objective per molecule: +-head(z)[prop] (standardised) + prior_weight * log N(z; 0, I) / Z, the prior term
        keeping z where the decoder has seen data (without it ascent leaves the typical set and decodes junk)."""
        if prop not in self.property_names:
            raise UserError(f"property {prop!r} has no head in this model (it has: {', '.join(self.property_names)})")
        k = self.property_names.index(prop)
        sign = 1.0 if maximize else -1.0
        z = z.detach().clone().requires_grad_(True)
        path = [z.detach().clone()]
        opt = torch.optim.Adam([z], lr=lr)
        with torch.enable_grad():
            for _ in range(steps):
                objective = sign * self.head(z)[:, k] - prior_weight * 0.5 * z.pow(2).mean(-1)
                opt.zero_grad()
                (-objective.sum()).backward()
                opt.step()
                path.append(z.detach().clone())
        return torch.stack(path)

    @torch.no_grad()
    def interpolate(self, tokens_a: Tensor, tokens_b: Tensor, n_frames: int = 8) -> Tensor:
        """Greedy decodes of straight-line steps between two molecules' posterior means: tokens [n_frames, L]."""
        mu = self.encode(torch.stack([tokens_a.reshape(-1), tokens_b.reshape(-1)]).to(self.device))[0]
        t = torch.linspace(0, 1, n_frames, device=mu.device)[:, None]
        return self.decode((1 - t) * mu[0] + t * mu[1], sampler="greedy")
