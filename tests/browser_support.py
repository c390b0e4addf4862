"""Shared by the browser tests: Debian's chromium driven by Playwright, and what a page did."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# the marks of every browser test: skipped, with the reason, where Playwright or chromium is missing
NEEDS_BROWSER = [
    pytest.mark.skipif(
        importlib.util.find_spec("playwright") is None,
        reason="Playwright is not installed (pip install -e '.[browser]'; `make test` does it)",
    ),
    pytest.mark.skipif(
        CHROMIUM is None, reason="no chromium binary (apt-get install chromium; `make test` does it as root)"
    ),
]


@dataclass
class Opened:
    """A page loaded in a fresh headless chromium, with the errors and requests seen while it ran."""

    page: Any
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def duplicate_ids(self) -> int:
        """How many element ids of the page repeat another's (inline SVGs must keep ids unique)."""
        return int(
            self.page.evaluate(
                "() => { const ids = [...document.querySelectorAll('[id]')].map(e => e.id);"
                " return ids.length - new Set(ids).size; }"
            )
        )


@contextmanager
def opened(url: str, profile: Path, width: int) -> Iterator[Opened]:
    """``url`` loaded (``wait_until=load``) in chromium with a fresh user-data-dir at ``profile``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=FLAGS, viewport={"width": width, "height": 1000}
        )
        try:
            seen = Opened(context.new_page())
            seen.page.on("console", lambda m: seen.console_errors.append(m.text) if m.type == "error" else None)
            seen.page.on("pageerror", lambda e: seen.page_errors.append(str(e)))
            seen.page.on("request", lambda r: seen.requests.append(r.url))
            response = seen.page.goto(url, wait_until="load")
            assert response is None or response.ok
            yield seen
        finally:
            context.close()
