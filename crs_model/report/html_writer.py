"""The pack as one self-contained HTML page: inline CSS (``pack.css``) and inline SVG, nothing fetched."""

from __future__ import annotations

import html
import string
from importlib import resources

from crs_model.model import Spec
from crs_model.report.document import UL, B, Badge, Cell, Cite, Code, Figure, H, Outline, P, Pre, T, Table
from crs_model.report.inputs import PackInputs
from crs_model.report.sections import Sections
from crs_model.vocabulary import ALL_CLASSES, Tone

# paper -> height of a diagram on its landscape page (the page less its margins, a heading and the caption)
PAPERS = {"A4": "160mm", "A3": "245mm"}


def pack_css(paper: str = "A4") -> str:
    """The pack's style sheet: ``pack.css`` (package data) with its tone and outcome-class colours
    filled in from :mod:`crs_model.vocabulary`, so diagram and pack cannot disagree on a class colour,
    and its print pages sized for ``paper`` (one of :data:`PAPERS`)."""
    template = resources.files("crs_model.report").joinpath("pack.css").read_text(encoding="utf-8")
    badges = [
        f".badge.{t.css_class}{{color:var(--{t.css_class});border-color:var(--{t.css_class});background:{t.tint}}}"
        for t in Tone
    ]
    badges += [
        f".badge.{c.css_class}{{background:{c.fill};border-color:{c.border};color:{c.ink}}}" for c in ALL_CLASSES
    ]
    return string.Template(template).substitute(
        tone_colours=";".join(f"--{t.css_class}:{t.colour}" for t in Tone),
        badges="\n".join(badges),
        paper=paper,
        diagram_height=PAPERS[paper],
    )


def _inline_html(parts: Cell) -> str:
    out: list[str] = []
    for p in parts:
        if isinstance(p, T):
            out.append(html.escape(p.text))
        elif isinstance(p, B):
            out.append(f"<strong>{html.escape(p.text)}</strong>")
        elif isinstance(p, Code):
            out.append(f"<code>{html.escape(p.text)}</code>")
        elif isinstance(p, Badge):
            out.append(f'<span class="badge {p.kind.css_class}">{html.escape(p.text)}</span>')
        elif isinstance(p, Cite):
            out.append(
                f'<span class="cite" title="{html.escape(p.title)}">{html.escape(p.eid)}'
                f' <span class="lvl">· {html.escape(p.level)}</span></span>'
            )
        else:
            out.append(f'<a href="#{html.escape(p.anchor)}">{html.escape(p.text)}</a>')
    return "".join(out)


def _outline_html(outline: Outline) -> str:
    """Nested ``<ul class="tree">`` lists from (depth, cell) items (a deeper item opens a list in the open item)."""
    out: list[str] = []
    depth = -1
    for d, cell in outline.items:
        if d > depth:
            out.extend('<ul class="tree">' if i == 0 and depth < 0 else "<ul>" for i in range(d - depth))
        else:
            out.append("</li>")
            out.extend("</ul></li>" for _ in range(depth - d))
        out.append(f"<li>{_inline_html(cell)}")
        depth = d
    out.append("</li>")
    out.extend("</ul></li>" for _ in range(depth))
    out.append("</ul>")
    return "".join(out)


def to_html(spec: Spec, inputs: PackInputs, *, paper: str = "A4") -> str:
    """The self-contained governance pack as one HTML document (printed on ``paper``, see :data:`PAPERS`)."""
    pack = Sections(spec, inputs)
    blocks = pack.blocks()
    md = spec.metadata
    body: list[str] = []
    for b in blocks:
        if isinstance(b, H):
            body.append(f'<h{b.level} id="{html.escape(b.anchor)}">{html.escape(b.text)}</h{b.level}>')
        elif isinstance(b, P):
            body.append(f"<p>{_inline_html(b.parts)}</p>")
        elif isinstance(b, UL):
            body.append("<ul>" + "".join(f"<li>{_inline_html(i)}</li>" for i in b.items) + "</ul>")
        elif isinstance(b, Table):
            cls = f' class="{b.cls}"' if b.cls else ""
            head = "".join(f"<th>{html.escape(h)}</th>" for h in b.head)
            rows = "".join("<tr>" + "".join(f"<td>{_inline_html(c)}</td>" for c in r) + "</tr>" for r in b.rows)
            body.append(f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif isinstance(b, Pre):
            pre = f"<pre>{html.escape(b.text)}</pre>"
            body.append(f"<details><summary>{html.escape(b.summary)}</summary>{pre}</details>" if b.summary else pre)
        elif isinstance(b, Outline):
            body.append(_outline_html(b))
        elif isinstance(b, Figure):
            inner = b.svg if b.svg is not None else f"<p>{html.escape(b.fallback)}</p>"
            body.append(f'<figure class="diagram">{inner}<figcaption>{html.escape(b.caption)}</figcaption></figure>')
        else:
            cls = f"callout {b.kind.css_class}" + (f" {b.cls}" if b.cls else "")
            body.append(f'<div class="{cls}">{_inline_html(b.parts)}</div>')
    nav = "".join(
        f'<a href="#{b.anchor}">{html.escape(b.text)}</a>' for b in blocks if isinstance(b, H) and b.level == 2
    )
    signed = inputs.signed_off
    sign = '<span class="badge ok">signed off</span>' if signed else '<span class="badge bad">not signed off</span>'
    title = f"{md.title} — governance pack {md.version}"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        # Nothing may be fetched: no scripts, images, fonts or styles from anywhere.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        'img-src data:">\n'
        f"<title>{html.escape(title)}</title>\n<style>\n{pack_css(paper)}</style>\n</head>\n<body>\n"
        f"<header><h1>{html.escape(md.title)}</h1>"
        f'<div class="meta">Governance pack · spec <code>{html.escape(md.id)}</code> version '
        f"<code>{html.escape(md.version)}</code> · status <strong>{html.escape(md.status.value.upper())}</strong> · "
        f"{sign} · sha256 <code>{html.escape(spec.sha256)}</code></div></header>\n"
        f"<nav>{nav}</nav>\n<main>\n" + "\n".join(body) + "\n</main>\n</body>\n</html>\n"
    )
