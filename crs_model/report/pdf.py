"""The printable pack: the HTML pack printed to PDF by headless Chromium (its print CSS lays out the pages).

Chromium honours the pack's ``@page`` rules (paper size, a landscape page for each
diagram) and prints the backgrounds. Its PDF carries the time it was made
(``/CreationDate``, ``/ModDate``); those are set to a fixed date of the same length,
so the same pack gives the same bytes (offsets in the PDF stay valid).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from crs_model.errors import RenderError

# Debian's package, Chromium elsewhere, and Chrome; CRS_MODEL_CHROMIUM names another binary.
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT_S = 180
_DATE = re.compile(rb"/(CreationDate|ModDate) \(D:[0-9]{14}([^)]*)\)")


def find_chromium() -> str | None:
    """The Chromium to print with: ``$CRS_MODEL_CHROMIUM`` when set, else the first of :data:`BROWSERS` on PATH."""
    named = os.environ.get("CRS_MODEL_CHROMIUM")
    if named:
        return shutil.which(named)
    return next((exe for name in BROWSERS if (exe := shutil.which(name))), None)


def _fixed_date(match: re.Match[bytes]) -> bytes:
    zone = re.sub(rb"[0-9]", b"0", match.group(2))  # keep the length: the cross-reference offsets stay right
    return b"/" + match.group(1) + b" (D:20000101000000" + zone + b")"


def html_to_pdf(html_text: str) -> bytes:
    """Print an HTML page (self-contained: it fetches nothing) to PDF bytes; :class:`RenderError` when it fails."""
    exe = find_chromium()
    if exe is None:
        raise RenderError(
            "no headless Chromium found (looked for " + ", ".join(BROWSERS) + " on PATH, or $CRS_MODEL_CHROMIUM), "
            "so the PDF pack cannot be printed. Install it (Debian: apt-get install chromium; `make browser-deps` "
            "does it) or write the pack as .html and print it from a browser"
        )
    with tempfile.TemporaryDirectory(prefix="crs-model-pdf-") as tmp:
        page = Path(tmp) / "pack.html"
        pdf = Path(tmp) / "pack.pdf"
        page.write_text(html_text, encoding="utf-8")
        argv = [
            exe,
            "--headless",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-pdf-header-footer",
            f"--user-data-dir={Path(tmp) / 'profile'}",  # a fresh profile: nothing of the user's is read
            f"--print-to-pdf={pdf}",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            argv.append("--no-sandbox")  # Chromium refuses to start as root with its sandbox
        argv.append(page.as_uri())
        try:
            proc = subprocess.run(argv, capture_output=True, timeout=TIMEOUT_S, check=False)  # noqa: S603
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RenderError(f"headless Chromium ({exe}) failed to print the pack: {exc}") from None
        if proc.returncode != 0 or not pdf.is_file() or pdf.stat().st_size == 0:
            tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
            raise RenderError(f"headless Chromium ({exe}) printed no PDF (exit {proc.returncode}): {' '.join(tail)}")
        return _DATE.sub(_fixed_date, pdf.read_bytes())
