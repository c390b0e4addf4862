"""The governance pack in a real headless browser (Debian's chromium driven by Playwright).

`make test` installs both (apt-get chromium when root; the `browser` pip extra).
The page must load from file:// without console errors or page errors, fetch
nothing else, show the diagram's SVG, and give a screenshot.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

import crs_model
from crs_model.cli import main
from tests.browser_support import NEEDS_BROWSER, opened
from tests.conftest import SPEC_PATH as SPEC

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    *NEEDS_BROWSER,
    pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is needed to embed the diagram"),
]


def test_report_renders_in_chromium(tmp_path: Path) -> None:
    page_path = tmp_path / "pack.html"
    err = io.StringIO()
    assert main(["report", str(SPEC), "--out", str(page_path)], io.StringIO(), err) == 0, err.getvalue()
    url = page_path.resolve().as_uri()
    shot = tmp_path / "pack.png"
    with opened(url, tmp_path / "profile", 1400) as seen:
        page = seen.page
        figures = page.locator("figure.diagram svg")
        assert figures.count() == 3  # the decision diagram, the criteria tree and the care-course diagram
        svg = figures.nth(0)
        assert svg.is_visible()
        box = svg.bounding_box()
        assert box is not None
        assert box["width"] > 400
        assert box["height"] > 300
        # the diagram is the spec's: one Graphviz node group per decision, outcome and legend
        assert page.locator("figure.diagram svg g.node").count() >= 6 + 8
        # the care diagram: one node per recommendation code (and insufficient_data), the start, the legend
        criteria = figures.nth(1)
        assert criteria.is_visible()
        assert criteria.locator("g.node").count() > 40  # every guard, gate, criterion and definition
        care = figures.nth(2)
        assert care.is_visible()
        assert care.locator("g.node").count() == len(crs_model.load_spec(SPEC).recommendations) + 3
        assert care.locator("g.edge").count() > 0
        # three inline SVGs in one page: every element id is still unique
        dupes = page.evaluate(
            "() => { const ids = [...document.querySelectorAll('[id]')].map(e => e.id);"
            " return ids.length - new Set(ids).size; }"
        )
        assert dupes == 0
        assert page.locator("h2#signoff").is_visible()
        assert page.title().startswith("CytoSorb hemoadsorption")
        page.screenshot(path=str(shot), full_page=False)
    assert seen.console_errors == []
    assert seen.page_errors == []
    assert seen.requests == [url], f"the page fetched something besides itself: {seen.requests}"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000
    keep = ROOT / "out"
    if keep.is_dir():  # `make run` creates out/ (git-ignored): leave the screenshot there for people to look at
        shutil.copyfile(shot, keep / "report_screenshot.png")
