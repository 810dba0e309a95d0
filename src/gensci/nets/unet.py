"""A U-Net for diffusion on grids [B, C, H, W]: images, fields, lattices.

The architecture of DDPM (Ho et al. 2020, appendix B; hojonathanho/diffusion, diffusion_tf/models/unet.py):
residual blocks of (GroupNorm, SiLU, 3x3 conv) x 2 with the time embedding between the convolutions,
a stride-2 convolution down and nearest-neighbour upsampling + conv up per stage, skip connections from every
block of the way down, self-attention (one head, GroupNorm first) at the resolutions listed in
`attention_resolutions` and in the middle, and the Transformer sinusoidal embedding of the time step
(Vaswani et al. 2017, sec. 3.5) through a two-layer MLP.

Optional condition, added to the time embedding (as improved-diffusion adds its class embedding,
openai/improved-diffusion unet.py UNetModel.forward):
- a class label [B] (int64, 0..n_classes-1): a learned embedding;
- continuous values [B] or [B, D] (a temperature, sigma8): each value's sinusoidal embedding (at 1000 x the
  value, so differences of ~1e-3 are resolved), concatenated, through a two-layer MLP.
`drop` [B] (bool) replaces the condition of the marked items by a learned "no condition" embedding: training
with random drops gives the conditional and the unconditional model in one network, as classifier-free guidance
needs (Ho & Salimans 2022, "Classifier-Free Diffusion Guidance", Algorithm 1).

Side lengths must be divisible by 2^(len(channel_mults) - 1).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def sinusoidal_embedding(x: Tensor, dim: int, max_period: float = 10000.0) -> Tensor:
    """x [B] (any real values) -> [B, dim]: [cos(x f_i), sin(x f_i)] with f_i = max_period^(-i / half)
    (Vaswani et al. 2017, sec. 3.5; improved-diffusion nn.py timestep_embedding)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=x.device, dtype=torch.float32) / half)
    args = x.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], -1)
    return F.pad(emb, (0, dim % 2)).to(x.dtype if x.is_floating_point() else torch.float32)


class PeriodicConv2d(nn.Conv2d):
    """A convolution on a torus: the input wraps one pixel around each edge before a 3x3 kernel without padding
    (the same as padding_mode="circular", built from two concatenations: 25 % faster on a CPU)."""

    def forward(self, x: Tensor) -> Tensor:
        x = torch.cat([x[..., -1:], x, x[..., :1]], -1)
        return super().forward(torch.cat([x[..., -1:, :], x, x[..., :1, :]], -2))


def _conv3(c_in: int, c_out: int, periodic: bool, stride: int = 1) -> nn.Conv2d:
    """3x3 convolution keeping the side (halving it at stride 2); periodic: wrap around the edges, so a lattice
    or map on a torus is seen without edges, as its neighbours across the boundary are."""
    return PeriodicConv2d(c_in, c_out, 3, stride) if periodic else nn.Conv2d(c_in, c_out, 3, stride, padding=1)


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(32, channels), channels)  # 32 groups as DDPM; fewer when the block is narrower


class ResBlock(nn.Module):
    """x [B, C_in, H, W], emb [B, E] -> [B, C_out, H, W] (DDPM's resnet_block), the embedding applied as a scale
    and shift after the second GroupNorm (improved-diffusion unet.py ResBlock, use_scale_shift_norm): an added
    per-channel bias would be removed by a GroupNorm with one channel per group, as narrow nets have."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int, dropout: float = 0.0, periodic: bool = False):
        super().__init__()
        self.in_layers = nn.Sequential(_norm(c_in), nn.SiLU(), _conv3(c_in, c_out, periodic))
        self.emb = nn.Sequential(nn.SiLU(), nn.Linear(emb_dim, 2 * c_out))
        self.out_norm = _norm(c_out)
        self.out_layers = nn.Sequential(nn.SiLU(), nn.Dropout(dropout), _conv3(c_out, c_out, periodic))
        nn.init.zeros_(self.out_layers[-1].weight)  # each block starts as the identity (improved-diffusion zero_module)
        nn.init.zeros_(self.out_layers[-1].bias)
        self.skip = nn.Identity() if c_in == c_out else nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        scale, shift = self.emb(emb)[:, :, None, None].chunk(2, dim=1)
        h = self.out_norm(self.in_layers(x)) * (1 + scale) + shift
        return self.skip(x) + self.out_layers(h)


class Attention(nn.Module):
    """Single-head self-attention over the H x W positions, residual (DDPM's attn_block)."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = _norm(channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.out = nn.Conv2d(channels, channels, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: Tensor, emb: Tensor | None = None) -> Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, c, h * w).transpose(-1, -2).unbind(1)
        a = F.scaled_dot_product_attention(q, k, v)  # [B, HW, C]
        return x + self.out(a.transpose(-1, -2).reshape(b, c, h, w))


class UNet(nn.Module):
    """eps/x0/v-network: (x [B, C, H, W], t [B] in [0, 1], condition, drop) -> [B, C_out, H, W].

    width: channels at full resolution; channel_mults: one stage per entry (width x mult channels), halving the
    side between stages; n_res_blocks per stage; attention_resolutions: sides (e.g. 16) with self-attention;
    n_classes > 0: a class-conditional net; condition_dim > 0: conditioned on that many continuous values;
    periodic: circular padding in every 3x3 convolution (data on a torus: Ising lattices, FFT-simulated fields).
    """

    def __init__(self, in_channels: int, out_channels: int | None = None, width: int = 64,
                 channel_mults: tuple[int, ...] = (1, 2, 2, 2), n_res_blocks: int = 2,
                 attention_resolutions: tuple[int, ...] = (16,), image_size: int = 64, dropout: float = 0.0,
                 n_classes: int = 0, condition_dim: int = 0, periodic: bool = False):
        super().__init__()
        if n_classes and condition_dim:
            raise ValueError("a UNet takes a class label or continuous values as its condition, not both")
        out_channels = out_channels or in_channels
        emb_dim = 4 * width
        self.width, self.n_classes, self.condition_dim = width, n_classes, condition_dim
        self.time_mlp = nn.Sequential(nn.Linear(width, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        if n_classes:
            self.class_emb = nn.Embedding(n_classes, emb_dim)
        if condition_dim:
            self.value_mlp = nn.Sequential(nn.Linear(condition_dim * width, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        if n_classes or condition_dim:
            self.null_emb = nn.Parameter(torch.zeros(emb_dim))  # the "no condition" embedding

        res = lambda c_in, c_out: ResBlock(c_in, c_out, emb_dim, dropout, periodic)  # noqa: E731
        self.stem = _conv3(in_channels, width, periodic)
        self.down, skips, ch, side = nn.ModuleList(), [width], width, image_size
        for i, mult in enumerate(channel_mults):
            for _ in range(n_res_blocks):
                blocks = [res(ch, width * mult)]
                ch = width * mult
                if side in attention_resolutions:
                    blocks.append(Attention(ch))
                self.down.append(nn.ModuleList(blocks))
                skips.append(ch)
            if i < len(channel_mults) - 1:
                self.down.append(nn.ModuleList([_conv3(ch, ch, periodic, stride=2)]))
                skips.append(ch)
                side //= 2
        self.middle = nn.ModuleList([res(ch, ch), Attention(ch), res(ch, ch)])
        self.up = nn.ModuleList()
        for i, mult in reversed(list(enumerate(channel_mults))):
            for j in range(n_res_blocks + 1):
                blocks = [res(ch + skips.pop(), width * mult)]
                ch = width * mult
                if side in attention_resolutions:
                    blocks.append(Attention(ch))
                if i > 0 and j == n_res_blocks:
                    blocks.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), _conv3(ch, ch, periodic)))
                    side *= 2
                self.up.append(nn.ModuleList(blocks))
        self.head = nn.Sequential(_norm(ch), nn.SiLU(), _conv3(ch, out_channels, periodic))
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)
        self.factor = 2 ** (len(channel_mults) - 1)

    def embed(self, t: Tensor, condition: Tensor | None, drop: Tensor | None) -> Tensor:
        """The embedding [B, 4 width] of time t [B] (in [0, 1]; embedded at 1000 t as DDPM's integer steps) and the
        condition (None, or drop=True for an item: the learned "no condition" embedding)."""
        emb = self.time_mlp(sinusoidal_embedding(1000 * t, self.width))
        if not (self.n_classes or self.condition_dim):
            if condition is not None:
                raise ValueError("this UNet is unconditional; it takes no condition")
            return emb
        b = len(t)
        use = torch.ones(b, dtype=torch.bool, device=t.device) if drop is None else ~drop.to(t.device).bool()
        if condition is None:
            use = torch.zeros_like(use)
            cond = self.null_emb.expand(b, -1)
        elif self.n_classes:
            cond = self.class_emb(condition.long().clamp(0, self.n_classes - 1))
        else:
            values = condition.reshape(b, -1).to(t.dtype)
            if values.shape[1] != self.condition_dim:
                raise ValueError(f"expected {self.condition_dim} condition value(s) per item, got {values.shape[1]}")
            cond = self.value_mlp(torch.cat([sinusoidal_embedding(1000 * v, self.width) for v in values.T], -1))
        return emb + torch.where(use[:, None], cond, self.null_emb.expand(b, -1))

    def forward(self, x: Tensor, t: Tensor, condition: Tensor | None = None, drop: Tensor | None = None) -> Tensor:
        if x.shape[-1] % self.factor or x.shape[-2] % self.factor:
            raise ValueError(f"image sides {tuple(x.shape[-2:])} must be divisible by {self.factor}")
        emb = self.embed(t.reshape(-1).expand(len(x)), condition, drop)
        h = self.stem(x)
        hs = [h]
        for blocks in self.down:
            for block in blocks:
                h = block(h, emb) if isinstance(block, (ResBlock, Attention)) else block(h)
            hs.append(h)
        for block in self.middle:
            h = block(h, emb)
        for blocks in self.up:
            h = torch.cat([h, hs.pop()], 1)
            for block in blocks:
                h = block(h, emb) if isinstance(block, (ResBlock, Attention)) else block(h)
        return self.head(h)
