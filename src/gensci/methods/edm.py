"""EDM: E(3)-equivariant diffusion of 3D molecules with an EGNN denoiser.

Hoogeboom, Satorras, Vignac & Welling, "Equivariant Diffusion for Molecule Generation in 3D", ICML 2022;
reference code ehoogeboom/e3_diffusion_for_molecules ("the reference" below): en_diffusion.py
(EnVariationalDiffusion), egnn/models.py (EGNN_dynamics_QM9), qm9/models.py (DistributionNodes),
qm9/losses.py, qm9/sampling.py.

A molecule of N atoms is z = [x, h]: positions x [N, 3] in the zero-centre-of-mass subspace and features
h = `[one_hot / 4, charges / 10]` [N, K + 1] (normalize_factors (1, 4, 10)). The forward process is
q(z_t | z) = N(alpha_t z, sigma_t^2 I) with centre-of-mass-free noise on x (EDM sec. 3); the EGNN predicts
the noise eps from (z_t, t). Training minimises the L2 loss on eps (EDM eq. 17, the reference's "l2");
`log_likelihood` is the full variational bound (EDM eq. 7-11) including log p(N). Schedules, samplers and the
final step come from the diffusion toolkit (gensci.methods.diffusion), chosen by `noise_schedule` and `sampler`.
Property conditions (`conditions`) as EDM's conditional QM9 models: the normalised properties (with mask channels)
appended to every atom's features; dropout, guidance, p(M | c) and p(c, M) from gensci.methods.molecule_conditions.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
from pydantic import Field, model_validator
from torch import Tensor

from gensci.config import TrainConfig
from gensci.errors import ConfigError
from gensci.methods.base import Method, SamplingOptions
from gensci.methods.diffusion.config import DiffusionConfig
from gensci.methods.diffusion.likelihood import vlb_times, vlb_weights
from gensci.methods.diffusion.samplers import check_sampler, final_step, frame_indices, get_sampler, time_grid
from gensci.methods.molecule_conditions import (ConditionalSampling, ConditionFields, MoleculeConditions,
                                                condition_items, conditions_spec, guidance_of, guided)
from gensci.methods.diffusion.schedules import alpha, gamma_table, sigma, snr
from gensci.nets.egnn import EGNN
from gensci.ops.gaussian import gaussian_kl, gaussian_kl_isotropic, standard_normal_log_cdf_diff
from gensci.ops.masks import remove_mean, sample_com_free_gaussian, sample_masked_gaussian
from gensci.ops.random import sample_categorical
from gensci.ops.rotations import random_rotations
from gensci.spec import Requirements, TensorSpec


class EDMConfig(DiffusionConfig, ConditionFields):
    """Defaults: EDM's published QM9 run (README command + main_qm9.py defaults); the sampler, its options and
    the schedule's name are validated against the toolkit's registries (methods/diffusion/config.py)."""

    name: Literal["edm"] = "edm"
    hidden_nf: int = Field(256, ge=1, description="EGNN width (--nf)")
    n_layers: int = Field(9, ge=1, description="EGNN equivariant blocks")
    inv_sublayers: int = Field(1, ge=1, description="invariant GCL layers per block")
    attention: bool = True
    tanh: bool = Field(True, description="bounded coordinate updates, coords_range 15")
    norm_constant: float = 1.0
    normalization_factor: float = Field(1.0, gt=0, description="sum aggregation divided by this")
    aggregation: Literal["sum", "mean"] = "sum"
    noise_schedule: str = Field("polynomial_2", description="a schedule name (methods/diffusion/schedules.py)")
    nll_t_samples: int = Field(8, ge=1, description="times t per molecule in the NLL's diffusion term, one per "
                                                    "stratum (benchmarks/molecules/README.md)")
    nll_t_sampling: Literal["importance", "uniform"] = Field(
        "importance", description="t drawn in proportion to the bound's weight w_t, or uniformly (EDM's reference)")
    normalize_factors: tuple[float, float, float] = Field((1.0, 4.0, 10.0), description="x, one-hot, charges")
    include_charges: bool = True
    loss: Literal["l2", "vlb"] = "l2"
    augment_rotations: bool = Field(False, description="random rotations of training batches (off in EDM's QM9 run)")
    egnn_impl: Literal["edges", "dense", "buckets"] = Field(
        "edges", description="atom pairs as an edge list, dense on the trimmed batch, or dense per size group")
    compile: bool = Field(False, description="torch.compile the edge-list denoiser (needs a C++ compiler; "
                                             "compiles for ~1-2 min, then faster steps)")
    amsgrad: bool = Field(True, description="AdamW with amsgrad, as qm9/models.py get_optim")

    @model_validator(mode="after")
    def _t_samples_fit_the_grid(self) -> "EDMConfig":
        if self.nll_t_samples > self.timesteps:
            raise ConfigError(f"nll_t_samples ({self.nll_t_samples}) cannot exceed timesteps ({self.timesteps})")
        return self


class EDM(ConditionalSampling, Method):
    """Equivariant diffusion over (positions, atom types, charges) with an EGNN eps-predictor.

    Batches: positions [B, N, 3] (Angstrom), one_hot [B, N, K], charges [B, N, 1] (atomic numbers),
    node_mask [B, N]. Samples: the same keys plus atom_types [B, N] (index into info["atom_types"], -1 on
    padding), padded to info["max_n_atoms"].
    """

    Config = EDMConfig
    capabilities = frozenset({"sample", "chain", "log_likelihood"})
    sampling_options = frozenset({"steps", "sampler"})
    default_sample_batch = 100

    @classmethod
    def requires(cls, config: EDMConfig) -> Requirements:
        items = {"positions": TensorSpec(("N", 3)), "one_hot": TensorSpec(("N", "K")),
                 "node_mask": TensorSpec(("N",))}
        if config.include_charges:
            items["charges"] = TensorSpec(("N", 1))
        info = {"atom_types", "n_nodes_hist", "max_n_atoms"} | ({"property_stats"} if config.conditions else set())
        return Requirements(items | condition_items(config), frozenset(info), frozenset({"molecules"}))

    @classmethod
    def sample_spec(cls, config: EDMConfig, info: dict[str, Any]) -> dict[str, TensorSpec]:
        n, k = int(info.get("max_n_atoms", 29)), len(info["atom_types"])
        return {"positions": TensorSpec((n, 3), "float", "Angstrom"), "one_hot": TensorSpec((n, k)),
                "charges": TensorSpec((n, 1)), "atom_types": TensorSpec((n,), "int", "index into info atom_types, -1 pad"),
                "node_mask": TensorSpec((n,))} | conditions_spec(config)

    def describe_sampling(self, options: SamplingOptions) -> dict[str, Any]:
        name = self._sampler_name(options)
        extra = {"sampler_options": self.config.sampler_options[name]} if self.config.sampler_options.get(name) else {}
        if self.config.conditions:
            extra["guidance"] = guidance_of(self.config, options)
        return {"sampling_steps": self.steps(options) or self.config.timesteps, "sampler": name, **extra}

    def _sampler_name(self, options: SamplingOptions) -> str:
        return check_sampler(options.sampler or self.config.sampler)

    def __init__(self, config: EDMConfig, info: dict[str, Any]):
        super().__init__(config, info)
        self.atom_types = list(info["atom_types"])
        self.n_types = len(self.atom_types)
        self.n_feat = self.n_types + int(config.include_charges)
        self.max_n_atoms = int(info.get("max_n_atoms", 29))
        self.conditions = MoleculeConditions(config, info, self.max_n_atoms)
        if config.conditions:
            self.capabilities = self.capabilities | {"conditional"}
            self.sampling_options = self.sampling_options | {"guidance"}
        self.net = EGNN(
            # + time and the property context, appended as node features (EGNN_dynamics_QM9: condition_time, context)
            self.n_feat + 1 + self.conditions.width,
            config.hidden_nf, config.n_layers, out_node_nf=self.n_feat, attention=config.attention,
            tanh=config.tanh, norm_constant=config.norm_constant, inv_sublayers=config.inv_sublayers,
            normalization_factor=config.normalization_factor, aggregation=config.aggregation, impl=config.egnn_impl,
            compile=config.compile,
        )
        self.register_buffer("gamma", gamma_table(config.noise_schedule, config.timesteps, config.noise_precision),
                             persistent=False)
        self.register_buffer("n_atoms_prob", n_atoms_distribution(info["n_nodes_hist"], self.max_n_atoms),
                             persistent=False)
        sigma_0, largest = float(sigma(self.gamma[0])), max(config.normalize_factors[1:])
        if sigma_0 * 8 > 1 / largest:  # en_diffusion.py check_issues_norm_values
            raise ValueError(f"normalize_factors {largest} too large for sigma_0 = {sigma_0:.5f}: "
                             "the discrete features would not be recoverable at t = 0")

    def optimizers(self, train: TrainConfig) -> dict[str, torch.optim.Optimizer]:
        return {"main": torch.optim.AdamW(self.parameters(), lr=train.lr, betas=train.betas,
                                          weight_decay=train.weight_decay, amsgrad=self.config.amsgrad)}

    # ---- the model ----------------------------------------------------------------------
    def eps_model(self, z: Tensor, t: Tensor | float, node_mask: Tensor, context: Tensor | None = None) -> Tensor:
        """Predicted noise eps_hat(z_t, t) [B, N, 3 + F], its x part centre-of-mass free; t in [0, 1]; context [B, 2K]:
        the property features (MoleculeConditions.features; None: all absent)."""
        mask = node_mask.unsqueeze(-1)
        t = torch.as_tensor(t, dtype=z.dtype, device=z.device).reshape(-1, 1, 1).expand(z.shape[0], z.shape[1], 1)
        x = z[..., :3]
        h = [z[..., 3:], t]
        if self.conditions.width:
            context = self.conditions.features(None, len(z), z.device, z.dtype) if context is None else context
            h.append(self.conditions.nodes(context.to(z.dtype), node_mask))
        h_out, x_out = self.net(torch.cat(h, -1) * mask, x, node_mask)
        return torch.cat([remove_mean(x_out - x, node_mask), h_out.to(x.dtype)], -1)

    def encode(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """Batch -> (normalised z = `[x, h]` [B, N, 3 + F], node_mask [B, N]), in the weights' float dtype."""
        dtype = next(self.net.parameters()).dtype
        mask = batch["node_mask"].to(dtype)
        f = self.config.normalize_factors
        x = remove_mean(batch["positions"].to(dtype), mask) / f[0]
        h = [batch["one_hot"].to(dtype) / f[1]]
        if self.config.include_charges:
            h.append(batch["charges"].to(dtype) / f[2])
        return torch.cat([x] + h, -1) * mask.unsqueeze(-1), mask

    def noise(self, shape, node_mask: Tensor, generator=None, dtype: torch.dtype | None = None) -> Tensor:
        """eps [B, N, 3 + F]: CoM-free standard normal on x, masked standard normal on h (on node_mask's device,
        drawn on the generator's)."""
        b, n, d = shape
        return torch.cat([sample_com_free_gaussian((b, n, 3), node_mask, generator, dtype),
                          sample_masked_gaussian((b, n, d - 3), node_mask, generator, dtype)], -1)

    def _gammas(self, t_int: Tensor, like: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        g = self.gamma[t_int]
        return g, alpha(g).to(like.dtype).view(-1, 1, 1), sigma(g).to(like.dtype).view(-1, 1, 1)

    # ---- training -------------------------------------------------------------------------
    def train_step(self, batch: dict[str, Tensor], step: int, opt) -> dict[str, float]:
        z, mask = self.encode(batch)
        if self.config.augment_rotations:
            rot = random_rotations(len(z), dtype=z.dtype).to(z.device)
            z = torch.cat([z[..., :3] @ rot.transpose(1, 2), z[..., 3:]], -1)
        context = self._context(self.conditions.training_values(batch), z)
        t_int = torch.randint(0, self.config.timesteps + 1, (len(z),), device=z.device)
        loss_t, parts = self._diffusion_loss(z, mask, t_int, l2=self.config.loss == "l2", context=context)
        loss = loss_t.mean()
        opt.step(loss, "main")
        return {"loss": float(loss.detach()), **parts}

    def _context(self, values: Tensor | None, z: Tensor) -> Tensor | None:
        """Property features [B, 2K] of values [B, K] (NaN = absent), or None (unconditional, or none asked for)."""
        return None if values is None else self.conditions.features(values, len(z), z.device, z.dtype)

    def _diffusion_loss(self, z: Tensor, mask: Tensor, t_int: Tensor, l2: bool,
                        context: Tensor | None = None) -> tuple[Tensor, dict]:
        """Per-molecule loss at one sampled t (en_diffusion.py compute_loss, t0_always=False): the weighted
        eps error for t > 0, -log p(z | z_0) for t = 0. l2: errors divided by (3 + F) x the batch's largest
        molecule (the reference's collate trims padding to it), unit weights. vlb: (T + 1) x the bound's
        term, leaving out the terms constant in the parameters (prior KL, Gaussian constants)."""
        T = self.config.timesteps
        gamma_t, alpha_t, sigma_t = self._gammas(t_int, z)
        eps = self.noise(z.shape, mask, dtype=z.dtype)
        z_t = alpha_t * z + sigma_t * eps
        sq = (eps - self.eps_model(z_t, t_int.to(z.dtype) / T, mask, context)).square()
        denom = z.shape[-1] * mask.sum(1).max() if l2 else 1.0
        err_x, err_h = sq[..., :3].flatten(1).sum(-1) / denom, sq[..., 3:].flatten(1).sum(-1) / denom
        weight = 1.0 if l2 else (T + 1) * (snr(self.gamma[(t_int - 1).clamp(min=0)] - gamma_t) - 1).to(z.dtype)
        loss_pos = 0.5 * weight * (err_x + err_h)
        loss_zero = 0.5 * err_x - self._log_p_h_given_z0(z, z_t, gamma_t, mask)
        if not l2:
            loss_zero = (T + 1) * loss_zero
        loss = torch.where(t_int == 0, loss_zero, loss_pos)
        return loss, {"error_x": float(err_x.detach().mean()), "error_h": float(err_h.detach().mean())}

    def _log_p_h_given_z0(self, z: Tensor, z0: Tensor, gamma_0: Tensor, mask: Tensor) -> Tensor:
        """log p(h | z_0) [B]: discretised Gaussians around the one-hot (normalised over the K classes) and
        the integer charges (en_diffusion.py log_pxh_given_z0_without_constants)."""
        f, k = self.config.normalize_factors, self.n_types
        s0 = sigma(gamma_0).to(z.dtype).view(-1, 1, 1)
        m = mask.unsqueeze(-1)
        onehot, centred = z[..., 3 : 3 + k] * f[1], z0[..., 3 : 3 + k] * f[1] - 1
        log_cat = standard_normal_log_cdf_diff((centred - 0.5) / (s0 * f[1]), (centred + 0.5) / (s0 * f[1]))
        log_cat = log_cat - torch.logsumexp(log_cat, -1, keepdim=True)
        out = (log_cat * onehot * m).flatten(1).sum(-1)
        if self.config.include_charges:
            diff = torch.round(z[..., -1:] * f[2]) - z0[..., -1:] * f[2]
            log_int = standard_normal_log_cdf_diff((diff - 0.5) / (s0 * f[2]), (diff + 0.5) / (s0 * f[2]))
            out = out + (log_int * m).flatten(1).sum(-1)
        return out

    # ---- likelihood ------------------------------------------------------------------------
    @torch.no_grad()
    def log_likelihood(self, batch: dict[str, Tensor], generator: torch.Generator | None = None) -> Tensor:
        """Negative log-likelihood bound -log p(x, h, N) [B] in nats: an unbiased estimate of the VLB
        (en_diffusion.py compute_loss with t0_always=True) minus log p(N), in nll_t_samples + 1 network calls.

        The diffusion term sum_{t=1..T} L_t comes from K = nll_t_samples times per molecule, one per stratum,
        drawn in proportion to the bound's weight w_t ("importance") or uniformly ("uniform"; with K = 1 the
        reference's single uniform t): methods/diffusion/likelihood.py vlb_times. A conditional model scores
        -log p(x, h | c, N) - log p(N) with all of the batch's properties given.
        """
        z, mask = self.encode(batch)
        context = self._context(self.conditions.full_values(batch), z)
        T, f, n = self.config.timesteps, self.config.normalize_factors, mask.sum(1)
        dof_x = (n - 1) * 3
        proposal = vlb_weights(self.gamma) if self.config.nll_t_sampling == "importance" else None
        loss_t = 0.0
        for t_int, t_weight in vlb_times(len(z), T, self.config.nll_t_samples, generator, z.device, proposal):
            gamma_t, alpha_t, sigma_t = self._gammas(t_int, z)
            eps = self.noise(z.shape, mask, generator, z.dtype)
            eps_hat = self.eps_model(alpha_t * z + sigma_t * eps, t_int.to(z.dtype) / T, mask, context)
            weight = snr(self.gamma[t_int - 1] - gamma_t).to(z.dtype) - 1
            loss_t = loss_t + t_weight.to(z.dtype) * 0.5 * weight * (eps - eps_hat).square().flatten(1).sum(-1)
        # KL(q(z_1 | x) || N(0, I)) on the x subspace and the h features
        g1 = self.gamma[-1].expand(len(z)).to(z.dtype)
        a1, s1 = alpha(g1).view(-1, 1, 1), sigma(g1)
        kl_x = gaussian_kl_isotropic(a1 * z[..., :3], s1, torch.zeros_like(z[..., :3]), torch.ones_like(s1), dof_x)
        kl_h = (gaussian_kl(a1 * z[..., 3:], s1.view(-1, 1, 1)) * mask.unsqueeze(-1)).flatten(1).sum(-1)
        # reconstruction at t = 0 and its constants (log_constants_p_x_given_z0)
        gamma_0, alpha_0, sigma_0 = self._gammas(torch.zeros_like(t_int), z)
        eps0 = self.noise(z.shape, mask, generator, z.dtype)
        z0 = alpha_0 * z + sigma_0 * eps0
        eps0_hat = self.eps_model(z0, 0.0, mask, context)
        loss_0 = 0.5 * (eps0 - eps0_hat)[..., :3].square().flatten(1).sum(-1)
        loss_0 = loss_0 - self._log_p_h_given_z0(z, z0, gamma_0, mask)
        neg_const = -dof_x * (-0.5 * gamma_0.to(z.dtype) - 0.5 * math.log(2 * math.pi))
        delta_log_px = -dof_x * math.log(f[0])
        log_pn = torch.log(self.n_atoms_prob[n.long()] + 1e-30).to(z.dtype)
        return kl_x + kl_h + loss_t + neg_const + loss_0 - delta_log_px - log_pn

    # ---- sampling --------------------------------------------------------------------------
    @torch.no_grad()
    def sample_batch(self, n: int, condition, generator: torch.Generator | None,
                     options: SamplingOptions) -> dict[str, Tensor]:
        """n molecules, sizes drawn from the training histogram, `self.steps(options)` steps (None: all T) of the
        chosen sampler (options.sampler, else config.sampler) then the toolkit's final step: for "ancestral" and
        "ddim" steps + 1 network calls (samplers.network_calls(name, steps) + 1 in general; twice as many with
        guidance other than 0 and 1). condition: a resolved request (see `sample`)."""
        values, sizes = self.conditions.split(condition, self.device)
        if sizes is None:
            sizes = sample_categorical(self.n_atoms_prob.float(), n, generator)
        sample = self._denoise(sizes, options, generator, values=values)[0]
        return sample | self.conditions.carried(values, n)

    @torch.no_grad()
    def chain(self, n_frames: int = 100, generator: torch.Generator | None = None,
              options: SamplingOptions | None = None, n_atoms: int | None = None) -> dict[str, Tensor]:
        """One molecule's trajectory from noise to the final sample: n_frames states at evenly spaced steps
        (first = pure noise, last = the sample), each [n_frames, N, .] plus "t" [n_frames] (qm9/sampling.py
        sample_chain; n_atoms defaults to the histogram's mode, 19 for QM9 as the reference uses)."""
        options = options or SamplingOptions()
        n_atoms = int(self.n_atoms_prob.argmax()) if n_atoms is None else int(n_atoms)
        times = time_grid(self.config.timesteps, self.steps(options))
        keep = frame_indices(len(times), n_frames)
        sample, frames = self._denoise(torch.tensor([n_atoms], device=self.device), options, generator, keep)
        frames[-1] = sample
        out = {k: torch.cat([fr[k] for fr in frames]) for k in sample}
        out["t"] = torch.tensor([times[i] / self.config.timesteps for i in keep])
        return out

    def _denoise(self, sizes: Tensor, options: SamplingOptions, generator, keep=(),
                 values: Tensor | None = None) -> tuple[dict, list[dict]]:
        name = self._sampler_name(options)
        guidance = guidance_of(self.config, options)
        n_max, dtype = int(sizes.max()), next(self.net.parameters()).dtype
        mask = (torch.arange(n_max, device=self.device) < sizes[:, None]).to(dtype)
        b, n, d = shape = (len(sizes), n_max, 3 + self.n_feat)
        z = self.noise(shape, mask, generator, dtype)
        times = time_grid(self.config.timesteps, self.steps(options))
        frames = [self._decode(z, mask)] if 0 in keep else []

        def keep_frame(k, s, z_s):
            if k + 1 in keep:
                frames.append(self._decode(z_s, mask))

        context = None if values is None else self._context(values, z)

        def model(z_t: Tensor, t: int) -> Tensor:
            return guided(lambda c: self.eps_model(z_t, t / self.config.timesteps, mask, c), context, guidance)

        z = get_sampler(name)(
            model, z, times, self.gamma, noise=lambda: self.noise(shape, mask, generator, dtype),
            project=lambda z_s: torch.cat([remove_mean(z_s[..., :3], mask), z_s[..., 3:]], -1), callback=keep_frame,
            **self.config.sampler_options.get(name, {}),
        )
        # final step (en_diffusion.py sample_p_xh_given_z0): positions x ~ p(x | z_0) = N(x_hat, sigma_0^2 /
        # alpha_0^2) with CoM-free noise; h read off z_0 (arg-max of the one-hot bins, rounded charges)
        x_noise = lambda: torch.cat([sample_com_free_gaussian((b, n, 3), mask, generator, dtype),  # noqa: E731
                                     z.new_zeros(b, n, d - 3)], -1)
        z = torch.cat([final_step(model, z, self.gamma, x_noise)[..., :3], z[..., 3:]], -1)
        if not torch.isfinite(z).all():
            raise FloatingPointError("sampling produced non-finite values (diverged); check the checkpoint")
        return self._decode(z, mask), frames

    def _decode(self, z: Tensor, mask: Tensor) -> dict[str, Tensor]:
        """Normalised z -> positions (Angstrom), one_hot, charges, atom_types, node_mask, padded to max_n_atoms."""
        f, m = self.config.normalize_factors, mask.unsqueeze(-1)
        types = z[..., 3 : 3 + self.n_types].argmax(-1)
        out = {
            "positions": z[..., :3] * f[0] * m,
            "one_hot": torch.nn.functional.one_hot(types, self.n_types).to(z.dtype) * m,
            "charges": (torch.round(z[..., -1:] * f[2]) if self.config.include_charges else torch.zeros_like(m)) * m,
            "atom_types": torch.where(mask.bool(), types, -1),
            "node_mask": mask,
        }
        pad = self.max_n_atoms - mask.shape[1]
        return {k: _pad_nodes(v, pad, -1 if k == "atom_types" else 0) for k, v in out.items()}


def n_atoms_distribution(hist, max_n: int) -> Tensor:
    """p(N) [max_n + 1] (float64) from a histogram {n: count} (keys int or str) or a list of counts by n."""
    items = hist.items() if isinstance(hist, dict) else enumerate(hist)
    counts = torch.zeros(max_n + 1, dtype=torch.float64)
    for n, c in items:
        if not 0 <= int(n) <= max_n:
            raise ValueError(f"n_nodes_hist has a molecule size {n} outside 0..{max_n}")
        counts[int(n)] += float(c)
    if counts.sum() <= 0:
        raise ValueError("n_nodes_hist is empty")
    return counts / counts.sum()


def _pad_nodes(v: Tensor, pad: int, value) -> Tensor:
    if pad <= 0:
        return v
    shape = (v.shape[0], pad) + tuple(v.shape[2:])
    return torch.cat([v, v.new_full(shape, value)], 1)
