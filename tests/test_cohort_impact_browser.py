"""The cohort impact report in a real headless browser (Debian's chromium driven by Playwright).

As tests/test_report_browser.py: the page must load from file:// without console or page errors,
fetch nothing else, and show its plots (inline SVG) and tables.
"""

from __future__ import annotations

import importlib.util
import io
import shutil
from pathlib import Path

import pytest

from crs_model.cli import main
from tests.browser_support import NEEDS_BROWSER, opened

ROOT = Path(__file__).resolve().parent.parent
OLD = ROOT / "specs" / "history" / "cytosorb_crs-0.1.0.yaml"

pytestmark = [
    *NEEDS_BROWSER,
    pytest.mark.skipif(
        any(importlib.util.find_spec(m) is None for m in ("duckdb", "pyarrow", "matplotlib")),
        reason="the cohort extra is not installed (pip install -e '.[cohort]')",
    ),
]


def _main(*argv: str) -> None:
    err = io.StringIO()
    assert main(list(argv), io.StringIO(), err) == 0, err.getvalue()


def test_impact_report_renders_in_chromium(tmp_path: Path) -> None:
    gen, page_path = tmp_path / "gen.parquet", tmp_path / "impact.html"
    _main("cohort-gen", "2000", "--out", str(gen), "--invalid-share", "0.02")
    _main("cohort", str(gen), "--out", str(tmp_path / "r.parquet"), "--report", str(page_path), "--compare", str(OLD))
    url = page_path.resolve().as_uri()
    shot = tmp_path / "impact.png"
    with opened(url, tmp_path / "profile", 1300) as seen:
        page = seen.page
        plots = page.locator("figure.plot svg")
        assert plots.count() >= 3
        for i in range(plots.count()):
            svg = plots.nth(i)
            assert svg.is_visible()
            box = svg.bounding_box()
            assert box is not None
            assert box["width"] > 300
            assert box["height"] > 60
            assert svg.locator("text").count() > 3  # axis labels and counts, kept as text
        bars = page.locator("figure#plot-recommendations svg g[id^='recommendations-patch']")
        assert bars.count() > 10  # one bar per recommendation code, besides the axes' background
        for section in (
            "summary",
            "recommendations",
            "outcomes",
            "invalid",
            "inputs",
            "outputs",
            "missing",
            "compare",
        ):
            assert page.locator(f"h2#{section}").is_visible()
        tables = page.locator("table")
        assert tables.count() >= 8
        assert all(tables.nth(i).is_visible() for i in range(tables.count()))
        assert page.locator("h2#compare + p").inner_text().split(" of ")[0].replace(",", "").isdigit()
        dupes = page.evaluate(
            "() => { const ids = [...document.querySelectorAll('[id]')].map(e => e.id);"
            " return ids.length - new Set(ids).size; }"
        )
        assert dupes == 0
        page.screenshot(path=str(shot), full_page=True)
    assert seen.console_errors == []
    assert seen.page_errors == []
    assert seen.requests == [url], f"the page fetched something besides itself: {seen.requests}"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    keep = ROOT / "out"
    if keep.is_dir():  # `make run` creates out/ (git-ignored): leave the screenshot for people to look at
        shutil.copyfile(shot, keep / "impact_screenshot.png")
