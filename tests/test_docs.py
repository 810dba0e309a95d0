"""The documentation: the MkDocs site in docs/ builds with --strict (no broken link, anchor, image or docstring
reference), the strict settings do catch rot, and the README stays a short front door whose links resolve."""

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"


def mkdocs_build(config: Path, site: Path) -> subprocess.CompletedProcess:
    # NO_MKDOCS_2_WARNING: Material prints a banner about its successor on every build; it is not a docs problem.
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config),
                           "--site-dir", str(site)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def nav_pages(nav) -> list[str]:
    """Every page file named in mkdocs.yml's nav, in order."""
    out = []
    for item in nav:
        value = next(iter(item.values())) if isinstance(item, dict) else item
        out += nav_pages(value) if isinstance(value, list) else [value]
    return out


def test_the_site_builds_strictly_with_every_page(tmp_path):
    result = mkdocs_build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert result.returncode == 0, result.stdout + result.stderr
    pages = nav_pages(yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"])
    assert len(pages) >= 9 + 11  # the domain pages and the API reference at least
    for page in pages:
        stem = page[: -len(".md")]  # directory URLs: cli.md -> cli/index.html, reference/index.md -> itself
        html = tmp_path / "site" / (stem + ".html" if Path(page).name == "index.md" else stem + "/index.html")
        assert html.exists(), f"{page} was not rendered"
    # the API reference really holds the docstrings (mkdocstrings ran, not an empty page)
    methods = (tmp_path / "site" / "reference" / "methods" / "index.html").read_text()
    assert "gensci.methods.edm" in methods and "EDM" in methods


def test_strict_settings_catch_a_broken_link_anchor_image_and_an_orphan_page(tmp_path):
    """The same validation settings on a tiny site with one of each kind of rot: the build must fail naming each."""
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# Home\n\n[gone](missing.md) [no anchor](#nowhere) ![img](figures/none.png)\n")
    (docs / "orphan.md").write_text("# Not in the nav\n")
    config.update(docs_dir=str(docs), nav=[{"Home": "index.md"}], plugins=["search"], exclude_docs=None)
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(config))
    result = mkdocs_build(tmp_path / "mkdocs.yml", tmp_path / "site")
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    for rot in ("missing.md", "#nowhere", "figures/none.png", "orphan.md"):
        assert rot in out, f"{rot} not reported:\n{out}"


def test_every_domain_page_has_commands_and_a_results_table():
    pages = sorted((DOCS / "domains").glob("*.md"))
    assert len(pages) == 10
    for page in pages:
        text = page.read_text()
        commands = re.findall(r"```\w*\n(.*?)```", text, re.S)
        assert any("gensci " in block for block in commands), f"{page.name}: no gensci command"
        assert re.search(r"^\|.*\|\n\|[-:| ]+\|$", text, re.M), f"{page.name}: no table"
        assert re.search(r"^#{2,3} Results", text, re.M), f"{page.name}: no results section"


def test_figures_are_small_and_each_is_shown_somewhere():
    shown = README.read_text() + "".join(p.read_text() for p in DOCS.rglob("*.md"))
    figures = sorted((DOCS / "figures").glob("*.png"))
    assert figures
    for png in figures:
        assert png.stat().st_size < 300_000, f"{png.name}: {png.stat().st_size} bytes; shrink it"
        assert f"figures/{png.name}" in shown, f"{png.name} is shown on no page"


def test_the_readme_is_a_short_front_door_whose_links_resolve():
    text = README.read_text()
    assert len(text.splitlines()) <= 300
    # .ci/run reads the test command between these markers
    block = re.search(r"<!-- test-command -->\n```\n(.+)\n```\n<!-- /test-command -->", text)
    assert block and block.group(1).startswith('pip install ".[test]"'), "test-command block missing or changed"
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [link for link in links if not re.match(r"[a-z]+://", link)]
    assert any(link.startswith("docs/domains/") for link in local)
    for link in local:
        assert (ROOT / link).exists(), f"README links to {link}, which does not exist"


def test_every_repository_path_the_docs_name_exists():
    """Paths in code spans and commands (benchmark reports and scripts, shipped weights, tests) rot silently in
    Markdown, which mkdocs does not check: each one named must be in the repository."""
    pattern = re.compile(r"(?<![\w/.])((?:benchmarks|src/gensci|examples|tests|docs)/[\w./-]*\w)")
    for page in [README, *sorted(DOCS.rglob("*.md"))]:
        for path in sorted(set(pattern.findall(page.read_text()))):
            assert (ROOT / path).exists(), f"{page.relative_to(ROOT)} names {path}, which does not exist"
