"""Uses of a SMILES VAE's latent space, with every decoded molecule re-scored by RDKit:

- `optimize_molecules`: gradient ascent on the property head (SmilesVAE.optimize_latent) from n prior draws; the
  start and end points are decoded greedily and scored by RDKit (Gomez-Bombarelli et al. 2018, Sec. "Optimization
  of molecules via properties of the latent space"; they search with a Gaussian process, this is plain gradient
  ascent with a Gaussian-prior penalty);
- `prototype_variations`: valid molecules decoded near a given molecule's latent mean, ranked by Tanimoto
  similarity to it. In the spirit of Harel & Radinsky, "Prototype-based compound discovery using deep generative
  models", Mol. Pharm. 15, 4406 (2018), who propose variations of a prototype drug; their convolutional encoder
  and "diversity layer" are not reproduced: here diversity comes from decoding z = mu + r * eps at growing radii r.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from gensci.chem.properties import HIGHER_IS_BETTER, PROPERTY_FUNCTIONS, canonical_smiles, mol_from_smiles
from gensci.chem.smiles import Vocabulary
from gensci.errors import UserError
from gensci.methods.base import Method
from gensci.metrics.smiles import fingerprints, tanimoto
from gensci.ops.random import sample_normal


def _require(method: Method, capability: str) -> None:
    if capability not in method.capabilities:
        raise UserError(f"method {method.config.name} cannot {capability} (it can: {', '.join(sorted(method.capabilities))})")


def _score(smiles: str, prop: str) -> float | None:
    mol = mol_from_smiles(smiles)
    return None if mol is None else round(PROPERTY_FUNCTIONS[prop](mol), 4)


def optimize_molecules(method: Method, info: dict[str, Any], prop: str, n: int, seed: int = 0, steps: int = 100,
                       lr: float = 0.05) -> tuple[list[dict[str, Any]], str]:
    """n latent optimisations of `prop` (maximised; minimised for "sa"): rows with start/end SMILES, RDKit scores
    and the head's predictions, and a one-line summary of the change among molecules valid at both ends."""
    _require(method, "optimize")
    if prop not in info["properties"]:
        raise UserError(f"--optimize {prop!r}: this model's property head knows {', '.join(info['properties'])}")
    vocab = Vocabulary(tuple(info["vocabulary"]))
    generator = torch.Generator().manual_seed(seed)
    z0 = sample_normal((n, method.config.latent_dim), generator, method.device)
    path = method.optimize_latent(z0, prop, steps=steps, lr=lr, maximize=HIGHER_IS_BETTER[prop])
    k = info["properties"].index(prop)
    with torch.no_grad():
        predicted = [method.predict_properties(z)[:, k].tolist() for z in (path[0], path[-1])]
    starts, ends = ([vocab.decode(r) for r in method.decode(z, sampler="greedy").tolist()] for z in (path[0], path[-1]))
    rows = []
    for i in range(n):
        rows.append({"start_smiles": starts[i], f"start_{prop}": _score(starts[i], prop),
                     f"start_predicted_{prop}": round(predicted[0][i], 4), "smiles": ends[i],
                     prop: _score(ends[i], prop), f"predicted_{prop}": round(predicted[1][i], 4)})
    both = [(r[f"start_{prop}"], r[prop]) for r in rows if r[f"start_{prop}"] is not None and r[prop] is not None]
    valid_end = sum(r[prop] is not None for r in rows)
    if both:
        a, b = np.array(both).T
        summary = (f"{prop}: mean {a.mean():.3f} -> {b.mean():.3f} over {len(both)} molecules valid before and after "
                   f"({valid_end} of {n} valid after {steps} gradient steps)")
    else:
        summary = f"{prop}: no molecule was valid both before and after optimisation ({valid_end} of {n} valid after)"
    return rows, summary


def prototype_variations(method: Method, info: dict[str, Any], prototype: str, n: int, seed: int = 0,
                         radii: tuple[float, ...] = (0.1, 0.2, 0.4, 0.7, 1.0, 1.5), draws: int = 200
                         ) -> list[dict[str, Any]]:
    """Up to n distinct valid molecules (not the prototype) decoded around the prototype's latent mean, ranked by
    Tanimoto similarity (Morgan, radius 2) to it: rows of smiles, similarity, radius."""
    _require(method, "encode")
    canonical = canonical_smiles(prototype)
    if canonical is None:
        raise UserError(f"--prototype {prototype!r} is not a valid SMILES (RDKit cannot read it)")
    vocab = Vocabulary(tuple(info["vocabulary"]))
    ids = vocab.encode(canonical, int(info["max_length"]))
    if ids is None:
        raise UserError(f"--prototype {prototype!r} uses a token outside this model's vocabulary or is longer than "
                        f"{int(info['max_length']) - 2} tokens")
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        mu = method.encode(torch.tensor([ids], device=method.device))[0]
    proto_fp = fingerprints([mol_from_smiles(canonical)])
    found: dict[str, float] = {}
    for radius in radii:
        z = mu + radius * sample_normal((draws, mu.shape[-1]), generator, method.device)
        for row in method.decode(z, generator).tolist():
            smiles = canonical_smiles(vocab.decode(row))
            if smiles is None or smiles == canonical or smiles in found:
                continue
            found[smiles] = radius
        if len(found) >= n:
            break
    if not found:
        return []
    names = list(found)
    sims = tanimoto(proto_fp, fingerprints([mol_from_smiles(s) for s in names]))[0]
    order = np.argsort(-sims, kind="stable")[:n]
    return [{"smiles": names[i], "similarity": round(float(sims[i]), 4), "radius": found[names[i]]} for i in order]


def interpolate_smiles(method: Method, info: dict[str, Any], a: str, b: str, n_frames: int = 8) -> list[str]:
    """Greedy decodes of n_frames points on the straight line between the latent means of SMILES a and b."""
    _require(method, "interpolate")
    vocab, length = Vocabulary(tuple(info["vocabulary"])), int(info["max_length"])
    ids = [vocab.encode(s, length) for s in (a, b)]
    if any(i is None for i in ids):
        raise UserError(f"cannot interpolate {a!r} -> {b!r}: a token outside the vocabulary or longer than {length - 2}")
    frames = method.interpolate(torch.tensor(ids[0]), torch.tensor(ids[1]), n_frames)
    return [vocab.decode(r) for r in frames.tolist()]


def bayesian_optimize(method: Method, info: dict[str, Any], prop: str, n: int, seed: int = 0, n_initial: int = 20,
                      n_candidates: int = 2000) -> tuple[list[dict[str, Any]], str]:
    """Bayesian optimisation of the RDKit score of `prop` over the latent space (Gomez-Bombarelli et al. 2018 search
    their latent space with a Gaussian process): a scikit-learn GaussianProcessRegressor (Matern 5/2 + white noise)
    on (z, score of the greedy decode), then n rounds of: the prior draw, among n_candidates, with the largest
    expected improvement (Jones et al. 1998) is decoded and scored. An invalid decode scores the worst value seen
    minus one. Rows: one per evaluated point (iteration < 0: the initial random design)."""
    from scipy.stats import norm
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import Matern, WhiteKernel

    _require(method, "decode")
    if prop not in PROPERTY_FUNCTIONS:
        raise UserError(f"--optimize {prop!r}: choices are {', '.join(PROPERTY_FUNCTIONS)}")
    sign = 1.0 if HIGHER_IS_BETTER[prop] else -1.0
    vocab = Vocabulary(tuple(info["vocabulary"]))
    generator = torch.Generator().manual_seed(seed)
    dim = method.config.latent_dim

    def evaluate(z: torch.Tensor) -> list[tuple[str, float | None]]:
        decoded = [vocab.decode(r) for r in method.decode(z, sampler="greedy").tolist()]
        return [(s, _score(s, prop)) for s in decoded]

    zs = sample_normal((n_initial, dim), generator, method.device)
    results = evaluate(zs)
    rows = [{"iteration": -1, "smiles": s, prop: v} for s, v in results]
    for it in range(n):
        scores = np.array([sign * v if v is not None else np.nan for _, v in results])
        worst = np.nanmin(scores) - 1.0 if np.isfinite(scores).any() else -1.0
        y = np.where(np.isfinite(scores), scores, worst)
        gp = GaussianProcessRegressor(Matern(nu=2.5) + WhiteKernel(), normalize_y=True, random_state=seed)
        gp.fit(zs.cpu().numpy(), y)
        candidates = sample_normal((n_candidates, dim), generator, method.device)
        mean, std = gp.predict(candidates.cpu().numpy(), return_std=True)
        gain = (mean - y.max()) / np.maximum(std, 1e-9)
        ei = (mean - y.max()) * norm.cdf(gain) + std * norm.pdf(gain)
        best = candidates[int(np.argmax(ei))][None]
        (s, v), = evaluate(best)
        zs, results = torch.cat([zs, best]), results + [(s, v)]
        rows.append({"iteration": it, "smiles": s, prop: v})
    found = [r for r in rows if r["iteration"] >= 0 and r[prop] is not None]
    initial = [r[prop] for r in rows if r["iteration"] < 0 and r[prop] is not None]
    pick = max if sign > 0 else min
    summary = (f"{prop}: best of {len(initial)} valid random decodes {pick(initial) if initial else 'none'}; "
               f"best of {len(found)} valid BO proposals {pick(r[prop] for r in found) if found else 'none'} "
               f"({n} rounds)")
    return [r for r in rows if r["iteration"] >= 0], summary
