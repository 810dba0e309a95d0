"""Every domain's report.html, rendered from a tiny untrained run and checked as a browser would meet it: the page
parses as strict HTML5 (html5lib, strict: any parse error fails), the verdict comes first, the pictures after it,
the raw key table and the config folded at the end, every <img> decodes to a PNG/GIF and every local link exists;
evaluation.json carries the verdicts with their reasons. The header tells where the weights come from."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import html5lib
import numpy as np
import pytest
from PIL import Image

from gensci import api
from gensci.chem.molecule import molecules_from_padded
from gensci.config import load_config, validate
from gensci.registry import METHODS
from gensci.testing.fixed_molecules import register_fixed_molecules
from gensci.testing.runs import untrained_run
from gensci.viz.report import ROLES, provenance_html
from gensci.workflows import images as wf_images
from gensci.workflows import molecules as wfm
from gensci.workflows.base import EvalOptions
from gensci.workflows.molecule_references import file_reference, qm9_molecules
from gensci.workflows.shipped import ShippedRun

EVAL = {"n_samples": 24, "periodic_n_samples": 8, "batch_size": 32}
LENSING = {"map_size": 16, "n_per_cosmology": 24, "n_valid_per_cosmology": 8, "n_test_per_cosmology": 16}
DIFFUSION = {"name": "field-diffusion", "width": 8, "channel_mults": [1, 2], "n_res_blocks": 1,
             "attention_resolutions": [], "timesteps": 20, "sampler": "ddim"}
CONFIGS = {  # one tiny run per domain (and per kind of molecule model)
    "molecules-3d": {"data": {"name": "qm9", "limit_train": 64, "limit_eval": 8},
                     "method": {"name": "edm", "hidden_nf": 16, "n_layers": 1, "timesteps": 20},
                     "eval": {"n_samples": 8, "periodic_n_samples": 4, "sampling_steps": 4}},
    "molecules-bonds": {"data": {"name": "qm9-bonds", "limit_train": 16, "limit_eval": 8},
                        "method": {"name": "fixed-molecules", "positions": True, "explicit_h": True},
                        "eval": {"n_samples": 8, "periodic_n_samples": 4}},
    "molecules-2d": {"data": {"name": "qm9-graph", "limit_train": 16, "limit_eval": 8},
                     "method": {"name": "fixed-molecules", "positions": False, "explicit_h": False},
                     "eval": {"n_samples": 8, "periodic_n_samples": 4}},
    "smiles": {"data": {"name": "qm9-smiles", "limit_train": 128, "limit_eval": 32, "n_property_molecules": 32},
               "method": {"name": "smiles-vae", "latent_dim": 4, "embed_dim": 8, "encoder_hidden": 16,
                          "decoder_hidden": 16, "decoder_layers": 1}, "eval": {"n_samples": 16, "batch_size": 16}},
    "images": {"data": {"name": "galaxies", "image_size": 16, "n_per_class": 12, "n_valid_per_class": 4,
                        "n_test_per_class": 10},
               "method": {"name": "vae", "width": 4, "latent_dim": 4, "hidden": 16}, "eval": EVAL},
    "fields": {"data": {"name": "lensing", **LENSING}, "method": DIFFUSION, "eval": EVAL | {"sampling_steps": 3}},
    "lattices": {"data": {"name": "ising", "lattice_size": 16, "temperatures": [1.8, 3.0], "n_per_temperature": 16,
                          "n_valid_per_temperature": 8, "n_test_per_temperature": 16, "n_chains": 8,
                          "burn_in_sweeps": 2, "pilot_sweeps": 10},
                 "method": {"name": "vae", "conditional": True, "width": 4, "latent_dim": 4, "hidden": 16},
                 "eval": EVAL},
    "radio": {"data": {"name": "radio", "n_train": 32, "n_valid": 16, "n_test": 24},
              "method": {"name": "dae", "channels": [4, 4, 4, 4], "kernel_size": 3}, "eval": EVAL},
    "sequence_family": {"data": {"name": "potts", "length": 8, "n_sequences": 300, "n_heldout": 40, "chains": 60,
                                 "burn_in": 30, "thin": 3, "n_doubles": 100, "cache": False},
                        "method": {"name": "sequence-vae", "latent_dim": 4, "encoder_hidden": [16],
                                   "decoder_hidden": [8, 16]}, "eval": EVAL},
    "records": {"preset": "records-dae", "overrides": ["method.hidden=[8]"]},
}
SHARED_CACHE = ("molecules", "smiles")  # QM9's parsed arrays and canonical SMILES: the user's cache (minutes once)
HISTORY = [{"step": 5, "kind": "train", "time": 1.5, "loss": 2.0}, {"step": 10, "kind": "train", "time": 3.0, "loss": 1.5}]


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """{domain: (run, metrics, report path)}, built once for the module."""
    root = tmp_path_factory.mktemp("reports")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(wf_images, "REFERENCE_STEPS", 60)  # a reference network in seconds
        mp.setattr(METHODS, "_entries", dict(METHODS._entries))  # the fixed molecules only for this module
        register_fixed_molecules()
        mp.setattr(wfm, "_reference", _small_reference)
        out = {}
        for domain, spec in CONFIGS.items():
            with pytest.MonkeyPatch.context() as local:
                if not domain.startswith(SHARED_CACHE):  # tiny simulated data, a 60-step reference net: kept apart
                    local.setenv("GENSCI_CACHE", str(root / "cache"))
                out[domain] = _render(domain, spec, root)
        yield out


def _render(domain: str, spec: dict, root: Path):
    """An untrained run with a two-row training log, evaluated (and for fields an inpainting benchmark), reported."""
    config = load_config(spec["preset"], spec["overrides"]) if "preset" in spec else validate(
        {"name": f"report-{domain}", **spec})
    run = untrained_run(config, root / domain)
    (run.path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in HISTORY))
    metrics = api.evaluate(run)
    if domain == "fields":  # an inpainting benchmark too, which the report shows
        np.savez(root / "maps.npz", images=run.data.test.tensors["x"][:2].numpy())
        np.savez(root / "mask.npz", mask=np.random.default_rng(0).uniform(size=(2, 16, 16)) < 0.5)
        api.evaluate(run, EvalOptions(n=3, steps=2, input=root / "maps.npz", mask=root / "mask.npz"))
    return run, metrics, api.report(run, metrics)


def _small_reference(info, carried):
    """A stand-in for QM9's training split (its caches take minutes to build): the first QM9 training molecules,
    or for the fixed molecules their own, measured as a user's file would be."""
    if info.get("dataset") == "qm9":
        return file_reference(qm9_molecules("train", 64), "qm9 train (first 64)")
    method = METHODS.get("fixed-molecules")
    config = method.Config(positions=True, explicit_h=carried.explicit_h)
    return file_reference(molecules_from_padded(method(config, info).sample(4), info["atom_types"]), "fixed molecules")


def parse_strictly(path: Path):
    """The page as an element tree; html5lib raises on the first parse error (an unclosed or misnested tag)."""
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
    return parser.parse(path.read_text(encoding="utf-8"))


def roles(tree) -> list[str]:
    return [s.get("class", "").removeprefix("report-") for s in tree.iter("section") if s.get("class", "").startswith("report-")]


@pytest.mark.parametrize("domain", list(CONFIGS))
def test_report_is_valid_html_and_leads_with_the_verdict(pages, domain):
    run, metrics, path = pages[domain]
    tree = parse_strictly(path)
    order = roles(tree)
    assert order[0] == "verdict", order
    assert order == sorted(order, key=ROLES.index), order  # verdict, figures, measurements, training, config
    assert order[-1] == "config" and "figures" in order and "training" in order
    top = [s for s in tree.iter("section") if s.get("class", "").startswith("report-")]
    for section in top:
        folded = section.find("details") is not None
        assert folded == (section.get("class") in ("report-measurements", "report-config")), section.get("class")
    verdict = top[0]
    headers = [th.text or "" for th in verdict.iter("th")]
    assert "this run" in headers and "n" in headers  # every headline figure with its sample size
    assert verdict.find(".//ul") is not None or not metrics["verdicts"]  # the verdicts in words, when there are any
    header = tree.find(".//p[@class='provenance']")
    assert "training run" in "".join(header.itertext()) and "10 training steps" in "".join(header.itertext())


@pytest.mark.parametrize("domain", list(CONFIGS))
def test_every_image_loads_and_every_link_exists(pages, domain):
    run, _, path = pages[domain]
    tree = parse_strictly(path)
    images = list(tree.iter("img"))
    assert images, "a report without a picture"
    for img in images:
        src = img.get("src")
        assert src.startswith("data:image/") and ";base64," in src, src[:40]
        picture = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1], validate=True)))
        assert picture.format in ("PNG", "GIF") and f"image/{picture.format.lower()}" in src
        picture.verify()  # truncated or corrupt data raise
        assert min(picture.size) >= 50  # a real picture, not a placeholder
    for link in tree.iter("a"):
        href = link.get("href", "")
        if href and not href.startswith(("http://", "https://", "#", "data:")):
            assert (path.parent / href).exists(), href


@pytest.mark.parametrize("domain", list(CONFIGS))
def test_evaluation_carries_verdicts_with_reasons(pages, domain):
    run, metrics, _ = pages[domain]
    saved = json.loads((run.out / "evaluation.json").read_text())
    assert saved["verdicts"] == metrics["verdicts"]
    for name, v in metrics["verdicts"].items():
        assert set(v) == {"verdict", "ok", "reason"} and v["reason"].strip() and v["ok"] in (True, False, None), name
    expected = {"images": {"reference_network"}, "fields": {"power_spectrum_within_2sigma", "pdf_within_2sigma"},
                "lattices": {"observables_within_2sigma", "correlation_within_2sigma"},
                "molecules-3d": {"bond_length_kinds", "bond_angle_kinds"}}
    assert expected.get(domain, set()) <= set(metrics["verdicts"])


def test_domain_specific_verdict_tables(pages):
    lattices = pages["lattices"][2].read_text()
    assert "Per temperature" in lattices and "T = 1.8" in lattices  # the verdict per temperature
    fields = pages["fields"][2].read_text()
    assert "Inpainting benchmark" in fields and "inpainting_rmse" in fields
    molecules = pages["molecules-3d"][2].read_text()
    assert "qm9 train (first 64)" in molecules  # the distributions are drawn against the reference
    figures = {p.name for p in pages["molecules-3d"][0].figures_dir.iterdir()}
    assert {"molecule_composition.png", "bond_geometry.png", "molecule_chemistry.png"} <= figures
    assert "Chemistry against QM9" in molecules and "ring3_fraction" in molecules  # gensci.metrics.chemistry


def test_header_of_shipped_weights_comes_from_the_manifest(tmp_path):
    run = ShippedRun("qm9-midi", out=tmp_path)
    text = provenance_html(run, {})
    manifest = run.manifest
    assert f"{manifest['steps']:,} training steps" in text and f"{manifest['training_minutes']:.1f} min" in text
    assert "shipped weights qm9-midi" in text and manifest["command"].split()[0] in text
    assert " 0 steps" not in text and "0.0 min" not in text
