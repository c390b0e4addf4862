"""The printable pack: `crs-model report --format pdf`, printed by headless Chromium, checked page by page.

Each page is rendered to PNG with pypdfium2 (the `browser` extra): the page count, which
pages are landscape (each diagram, alone), that no page is blank and that a diagram fills
its page, the section titles in the text (each on the page it starts), the witness blocks
expanded, the paper size, the banner of a failing spec, and the same bytes twice.
"""

from __future__ import annotations

import importlib.util
import io
import re
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from crs_model.cli import main
from crs_model.report.pdf import find_chromium
from tests.conftest import SPEC_PATH as SPEC
from tests.test_pdf_banner import FAULTY

HAS_PDFIUM = importlib.util.find_spec("pypdfium2") is not None
needs_chromium = [
    pytest.mark.skipif(find_chromium() is None, reason="no headless Chromium (apt-get install chromium; make test)"),
    pytest.mark.skipif(not HAS_PDFIUM, reason="pypdfium2 is not installed (pip install -e '.[browser]')"),
]
MM = 72 / 25.4  # PDF points per millimetre
A4 = (210 * MM, 297 * MM)
A3 = (297 * MM, 420 * MM)


@dataclass(frozen=True)
class Page:
    width: float
    height: float
    text: str
    ink: float  # the fraction of pixels that are not white
    ink_box: tuple[int, int, int, int]  # left, top, right, bottom of the non-white pixels (in pixels)
    pixels: tuple[int, int]

    @property
    def landscape(self) -> bool:
        return self.width > self.height


def png(width: int, height: int, stride: int, gray: bytes) -> bytes:
    """A greyscale PNG of a rendered page (stdlib only: zlib)."""
    rows = b"".join(b"\x00" + gray[y * stride : y * stride + width] for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    head = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", head) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def pages(pdf_path: Path, png_dir: Path) -> list[Page]:
    """Every page of the PDF: size, text and ink, each also written as ``page-NN.png``."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(str(pdf_path))
    out = []
    try:
        for i in range(len(doc)):
            page = doc[i]
            w, h = page.get_size()
            text = page.get_textpage().get_text_range()
            bm = page.render(scale=0.5, grayscale=True)
            gray = bytes(bm.buffer)
            (png_dir / f"page-{i + 1:02d}.png").write_bytes(png(bm.width, bm.height, bm.stride, gray))
            grid = [(x, y) for y in range(0, bm.height, 2) for x in range(0, bm.width, 2)]  # every 2nd pixel
            dark = [(x, y) for x, y in grid if gray[y * bm.stride + x] < 230]
            xs, ys = [x for x, _ in dark], [y for _, y in dark]
            box = (min(xs), min(ys), max(xs), max(ys)) if dark else (0, 0, 0, 0)
            ink = len(dark) / len(grid)
            out.append(Page(w, h, " ".join(text.split()), ink, box, (bm.width, bm.height)))
    finally:
        doc.close()
    return out


def report(args: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    return main(["report", *args], io.StringIO(), err), err.getvalue()


def h2_titles(html_text: str) -> list[str]:
    import html

    return [html.unescape(t) for t in re.findall(r"<h2 id=\"[^\"]*\">([^<]*)</h2>", html_text)]


@pytest.fixture(scope="module")
def a4(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The shipped spec's pack (with the verifier) as HTML and PDF, its pages rendered."""
    d = tmp_path_factory.mktemp("pdf")
    code, err = report([str(SPEC), "--out", str(d / "pack.pdf")])
    assert code == 0, err
    code, err = report([str(SPEC), "--out", str(d / "pack.html")])
    assert code == 0, err
    return {"dir": d, "pages": pages(d / "pack.pdf", d), "html": (d / "pack.html").read_text(encoding="utf-8")}


class TestA4:
    pytestmark = needs_chromium

    def test_pages_rendered_and_none_blank(self, a4: dict[str, Any]) -> None:
        ps: list[Page] = a4["pages"]
        assert len(ps) >= len(h2_titles(a4["html"])) + 3  # a page per section at least, and the diagram pages
        for i, p in enumerate(ps, 1):
            assert p.ink > 0.001, f"page {i} is blank"
            assert p.text, f"page {i} has no text"
            assert (a4["dir"] / f"page-{i:02d}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        portrait = [p for p in ps if not p.landscape]
        assert all(p.width == pytest.approx(A4[0], abs=2) and p.height == pytest.approx(A4[1], abs=2) for p in portrait)

    def test_each_diagram_alone_on_a_landscape_page_scaled_to_it(self, a4: dict[str, Any]) -> None:
        ps: list[Page] = a4["pages"]
        figures = a4["html"].count('<figure class="diagram">')
        assert figures == 3  # decision diagram, criteria tree, care course
        land = [p for p in ps if p.landscape]
        assert len(land) == figures
        for p in land:
            assert p.width == pytest.approx(A4[1], abs=2)
            assert p.height == pytest.approx(A4[0], abs=2)
            left, top, right, bottom = p.ink_box
            w, h = p.pixels
            # scaled to the page: the drawing spans most of its width or of its height
            assert (right - left) / w > 0.6 or (bottom - top) / h > 0.6, p.text[:60]
        assert land[0].text.startswith("Decision diagram")
        assert land[1].text.startswith("Criteria")
        assert "il6_markedly_elevated_pg_ml" in land[1].text.replace("\n", "")  # the SVG's text is real text
        assert "Decision graph:" in land[0].text  # the caption stays with its diagram

    def test_every_section_starts_a_page(self, a4: dict[str, Any]) -> None:
        starts = [p.text for p in a4["pages"]]
        titles = h2_titles(a4["html"])
        assert "Criteria" in titles
        for title in titles[1:]:  # the first shares page 1 with the title block
            assert any(t.startswith(title) for t in starts), f"section {title!r} does not start a page"
        assert "Metadata and status" in starts[0]

    def test_witness_blocks_are_expanded(self, a4: dict[str, Any]) -> None:
        html_text = a4["html"]
        hidden = re.findall(r"<details><summary>[^<]*</summary><pre>([^<]*)</pre></details>", html_text)
        assert hidden, "the pack has collapsed witness blocks"
        text = " ".join(p.text for p in a4["pages"])
        import html

        for block in hidden[:5]:
            line = next(ln.strip() for ln in html.unescape(block).splitlines() if len(ln.strip()) > 12)
            assert " ".join(line.split()) in text, line


@pytest.mark.parametrize("paper", ["A3"])
def test_a3_paper(tmp_path: Path, paper: str) -> None:
    if find_chromium() is None or not HAS_PDFIUM:
        pytest.skip("no headless Chromium or pypdfium2")
    code, err = report([str(SPEC), "--out", str(tmp_path / "pack.pdf"), "--paper", paper, "--no-verify"])
    assert code == 0, err
    ps = pages(tmp_path / "pack.pdf", tmp_path)
    assert {(round(p.width), round(p.height)) for p in ps} == {
        (round(A3[0]), round(A3[1])),
        (round(A3[1]), round(A3[0])),
    }


def test_failing_spec_pdf_opens_with_the_banner(tmp_path: Path) -> None:
    if find_chromium() is None or not HAS_PDFIUM:
        pytest.skip("no headless Chromium or pypdfium2")
    code, err = report([str(FAULTY), "--out", str(tmp_path / "faulty.pdf")])
    assert code == 0, err
    first = pages(tmp_path / "faulty.pdf", tmp_path)[0].text
    assert "VERIFICATION FAILED" in first
    assert re.search(r"reports \d+ errors?", first)
    assert first.index("VERIFICATION FAILED") < first.index("Metadata and status")


def test_pdf_is_deterministic(tmp_path: Path) -> None:
    if find_chromium() is None:
        pytest.skip("no headless Chromium")
    a, b = tmp_path / "a.pdf", tmp_path / "b.pdf"
    for target in (a, b):
        code, err = report([str(SPEC), "--out", str(target), "--no-verify"])
        assert code == 0, err
    assert a.read_bytes()[:5] == b"%PDF-"
    assert b"/CreationDate (D:20000101000000" in a.read_bytes()
    assert a.read_bytes() == b.read_bytes()


def test_no_chromium_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRS_MODEL_CHROMIUM", "no-such-browser-here")
    target = tmp_path / "pack.pdf"
    code, err = report([str(SPEC), "--out", str(target), "--no-verify", "--no-diagram"])
    assert code == 2
    assert "no headless Chromium found" in err
    assert "apt-get install chromium" in err
    assert "Traceback" not in err
    assert not target.exists()


def test_pdf_format_from_the_suffix_and_an_explicit_format_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRS_MODEL_CHROMIUM", "no-such-browser-here")  # a .PDF asks for Chromium: it is a PDF
    code, err = report([str(SPEC), "--out", str(tmp_path / "pack.PDF"), "--no-verify", "--no-diagram"])
    assert code == 2
    assert "no headless Chromium found" in err
    code, err = report([str(SPEC), "--out", str(tmp_path / "pack.PDF"), "--format", "html", "--no-verify"])
    assert code == 0, err
    assert (tmp_path / "pack.PDF").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_pdf_needs_an_output_file() -> None:
    code, err = report([str(SPEC), "--format", "pdf", "--no-verify"])
    assert code == 2
    assert "--out FILE.pdf" in err
