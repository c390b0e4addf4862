"""Running Graphviz: DOT source in, SVG/PNG/PDF bytes out (and its version for the pack)."""

from __future__ import annotations

import shutil
import subprocess

from crs_model.errors import RenderError

FORMATS = ("dot", "svg", "png", "pdf")


def graphviz_binary() -> str | None:
    """The path of Graphviz's ``dot`` on PATH, or None."""
    return shutil.which("dot")


def graphviz_version() -> str | None:
    """``dot - graphviz version 2.43.0 (0)`` -> ``2.43.0``; None when Graphviz is missing."""
    exe = graphviz_binary()
    if exe is None:
        return None
    try:
        proc = subprocess.run([exe, "-V"], capture_output=True, text=True, timeout=30, check=False)  # noqa: S603
    except OSError:
        return None
    words = (proc.stderr or proc.stdout).split()
    return words[words.index("version") + 1] if "version" in words else None


def run_graphviz(dot_source: str, fmt: str) -> bytes:
    """Lay out ``dot_source`` with Graphviz into ``fmt`` (svg|png|pdf); raises :class:`RenderError`."""
    if fmt not in FORMATS or fmt == "dot":
        raise RenderError(f"unsupported image format {fmt!r} (choose from svg, png, pdf)")
    exe = graphviz_binary()
    if exe is None:
        raise RenderError(
            "Graphviz 'dot' was not found on PATH, so svg/png/pdf cannot be produced. Install Graphviz "
            "(Debian: apt-get install graphviz; `make system-deps` does it) or use --format dot"
        )
    try:
        proc = subprocess.run(  # noqa: S603 - fixed argv, our own DOT on stdin
            [exe, f"-T{fmt}"], input=dot_source.encode("utf-8"), capture_output=True, timeout=120, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RenderError(f"Graphviz 'dot -T{fmt}' failed to run: {exc}") from None
    if proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", "replace").strip()
        raise RenderError(f"Graphviz 'dot -T{fmt}' failed (exit {proc.returncode}): {msg}")
    return proc.stdout


def svg_inline(svg: bytes | str, id_prefix: str = "") -> str:
    """Graphviz SVG from its ``<svg`` element on: no XML prolog, no DOCTYPE (an external DTD URL), for inline HTML.

    ``id_prefix`` is put before every element id, so two diagrams in one page keep unique ids
    (Graphviz numbers ``graph0``, ``node1`` ... in every SVG).
    """
    text = svg.decode("utf-8") if isinstance(svg, bytes) else svg
    start = text.find("<svg")
    text = text[start:] if start >= 0 else text
    return text.replace(' id="', f' id="{id_prefix}') if id_prefix else text
