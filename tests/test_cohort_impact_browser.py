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
from tests.test_report_browser import CHROMIUM, FLAGS

ROOT = Path(__file__).resolve().parent.parent
OLD = ROOT / "specs" / "history" / "cytosorb_crs-0.1.0.yaml"

pytestmark = [
    pytest.mark.skipif(
        importlib.util.find_spec("playwright") is None,
        reason="Playwright is not installed (pip install -e '.[browser]'; `make test` does it)",
    ),
    pytest.mark.skipif(
        CHROMIUM is None, reason="no chromium binary (apt-get install chromium; `make test` does it as root)"
    ),
    pytest.mark.skipif(
        any(importlib.util.find_spec(m) is None for m in ("duckdb", "pyarrow", "matplotlib")),
        reason="the cohort extra is not installed (pip install -e '.[cohort]')",
    ),
]


def _main(*argv: str) -> None:
    err = io.StringIO()
    assert main(list(argv), io.StringIO(), err) == 0, err.getvalue()


def test_impact_report_renders_in_chromium(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    gen, page_path = tmp_path / "gen.parquet", tmp_path / "impact.html"
    _main("cohort-gen", "2000", "--out", str(gen), "--invalid-share", "0.02")
    _main("cohort", str(gen), "--out", str(tmp_path / "r.parquet"), "--report", str(page_path), "--compare", str(OLD))
    url = page_path.resolve().as_uri()
    console_errors: list[str] = []
    page_errors: list[str] = []
    requests: list[str] = []
    shot = tmp_path / "impact.png"
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=FLAGS,
            viewport={"width": 1300, "height": 1000},
        )
        try:
            page = context.new_page()
            page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: page_errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            response = page.goto(url, wait_until="load")
            assert response is None or response.ok
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
        finally:
            context.close()
    assert console_errors == []
    assert page_errors == []
    assert requests == [url], f"the page fetched something besides itself: {requests}"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    keep = ROOT / "out"
    if keep.is_dir():  # `make run` creates out/ (git-ignored): leave the screenshot for people to look at
        shutil.copyfile(shot, keep / "impact_screenshot.png")
