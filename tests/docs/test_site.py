"""The built site: it builds with every reference resolved, loads nothing from another
host, searches offline, and copies commands without their prompts or output."""

from __future__ import annotations

import json
import re
from pathlib import Path

from sitebuild import sphinx_build

DOCS = Path(__file__).resolve().parents[2] / "docs"
#: The sections of the index, in the order a reader meets them.
SECTIONS = ["Tutorials", "How-to guides", "Reference", "Explanations"]

# Anything the browser fetches by itself: scripts, stylesheets, images, frames, fonts.
_LOADS = re.compile(
    r"<(?:script|img|iframe|source|audio|video)\b[^>]*\bsrc=[\"']?(?:https?:)?//"
    r"|<link\b[^>]*\bhref=[\"']?(?:https?:)?//"
    r"|@import\s+(?:url\()?[\"']?(?:https?:)?//"
    r"|url\([\"']?(?:https?:)?//",
    re.IGNORECASE,
)


def test_site_builds_with_every_reference_resolved(site: Path) -> None:
    assert (site / "index.html").is_file()


def test_no_page_loads_anything_from_another_host(site: Path) -> None:
    loads = [
        f"{path.relative_to(site)}: {match.group()}"
        for path in sorted(site.rglob("*"))
        if path.suffix in {".html", ".css", ".js"}
        for match in _LOADS.finditer(path.read_text(encoding="utf-8", errors="replace"))
    ]
    assert loads == []


def test_search_works_from_files_of_the_site(site: Path) -> None:
    page = (site / "search.html").read_text(encoding="utf-8")
    scripts = re.findall(r"<script[^>]*src=\"([^\"?]+)", page)
    assert "searchindex.js" in scripts
    assert all((site / script).is_file() for script in scripts)
    index = (site / "searchindex.js").read_text(encoding="utf-8")
    terms = json.loads(index[index.index("(") + 1 : index.rindex(")")])["terms"]
    # Words of the reference and of the guides are found.
    assert {"revok", "checksum", "webhook"} <= set(terms)


def test_the_index_is_divided_into_the_four_kinds_of_documentation(site: Path) -> None:
    page = (site / "index.html").read_text(encoding="utf-8")
    captions = re.findall(r'<span class="caption-text">(.*?)<', page)
    assert captions[: len(SECTIONS)] == SECTIONS


def test_every_page_is_in_the_index(site: Path) -> None:
    pages = {p.relative_to(DOCS).with_suffix("").as_posix() for p in DOCS.rglob("*.md")}
    pages -= {p for p in pages if p.startswith("_")}
    index = (site / "index.html").read_text(encoding="utf-8")
    linked = {href.removesuffix(".html") for href in re.findall(r'href="([^"#]+)\.html', index)}
    assert pages - {"index"} <= {f"{p}" for p in linked}


def test_copy_buttons_leave_out_prompts_and_output(site: Path) -> None:
    options = (site / "_static" / "copybutton.js").read_text(encoding="utf-8")
    # The prompt (.gp) and output (.go) spans are skipped; of the rest, only prompted lines.
    assert "let exclude = '.linenos, .gp, .go';" in options
    assert "formatCopyText(text, '\\\\$ |>>> |\\\\.\\\\.\\\\. ', true, true, true" in options


def test_the_python_reference_documents_every_public_name(site: Path) -> None:
    import policyengine

    page = (site / "python-api.html").read_text(encoding="utf-8")
    missing = [
        name
        for name in policyengine.__all__
        if f'id="{getattr(policyengine, name).__module__}.{name}"' not in page
    ]
    assert missing == []
    # With the types of their parameters.
    assert 'id="policyengine.engine.Engine.check"' in page
    check = page[page.index('id="policyengine.engine.Engine.check"') :][:3000]
    assert "policyengine.request.Request" in check


def test_the_doctest_builder_runs_every_python_example(tmp_path: Path) -> None:
    summary = (sphinx_build("doctest", tmp_path) / "output.txt").read_text(encoding="utf-8")
    tests = int(re.search(r"^\s+(\d+) tests$", summary, re.M)[1])  # type: ignore[index]
    fenced = sum(
        page.read_text(encoding="utf-8").count("\n```python\n")
        for page in DOCS.rglob("*.md")
        if page.stem not in {"portal", "fastapi", "instances", "anomaly-alert", "task-webhook"}
    )
    assert tests == fenced
    assert "0 failures in tests" in summary


def test_every_heading_role_has_a_level(site: Path) -> None:
    # A toctree caption is a heading to assistive technology, and needs its level.
    missing = [
        f"{page.relative_to(site)}: {tag}"
        for page in sorted(site.rglob("*.html"))
        for tag in re.findall(r"<[^>]*role=\"heading\"[^>]*>", page.read_text(encoding="utf-8"))
        if "aria-level=" not in tag
    ]
    assert missing == []
