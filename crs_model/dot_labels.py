"""Pieces of Graphviz HTML-like labels: escaped, wrapped text in borderless tables.

Every string that reaches a label goes through :func:`esc` (or :func:`wrap`), so spec
text can never inject label markup.
"""

from __future__ import annotations

import html
import textwrap
from collections.abc import Iterable


def esc(text: str) -> str:
    """``text`` escaped for an HTML-like label (quotes included)."""
    return html.escape(text, quote=True)


def wrap(text: str, width: int) -> str:
    """Escaped text wrapped into HTML-label lines."""
    lines = textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False) or [""]
    return '<BR ALIGN="LEFT"/>'.join(esc(ln) for ln in lines)


def cut(text: str, limit: int) -> str:
    """``text`` on one line, cut at a word boundary to at most ``limit`` characters."""
    t = " ".join(text.split())
    return t if len(t) <= limit else t[: limit - 1].rsplit(" ", 1)[0] + "…"


def short(text: str, limit: int) -> str:
    """First sentence (or clause before a colon), cut at a word boundary to ``limit``."""
    t = " ".join(text.split())
    for stop in (". ", ": ", "; "):
        i = t.find(stop)
        if 0 < i < limit:
            t = t[:i]
            break
    return cut(t, limit)


def html_label(body: str) -> str:
    """``<body>``: how DOT marks a label as HTML-like."""
    return f"<{body}>"


def table(rows: Iterable[str], **attrs: str) -> str:
    """A borderless label table of ``rows``; ``attrs`` override the TABLE attributes."""
    a = {"BORDER": "0", "CELLBORDER": "0", "CELLSPACING": "1", "CELLPADDING": "2", **attrs}
    head = " ".join(f'{k}="{v}"' for k, v in a.items())
    return f"<TABLE {head}>" + "".join(rows) + "</TABLE>"


def row(content: str, *, align: str = "LEFT", size: int | None = None, colour: str | None = None) -> str:
    """One table row of label markup, optionally in a font size and colour."""
    if size is not None or colour is not None:
        fa = (f' POINT-SIZE="{size}"' if size is not None else "") + (f' COLOR="{colour}"' if colour else "")
        content = f"<FONT{fa}>{content}</FONT>"
    return f'<TR><TD ALIGN="{align}" BALIGN="LEFT">{content}</TD></TR>'
