"""The pack as GitHub-flavoured Markdown, for a pull request description."""

from __future__ import annotations

import re

from crs_model.model import Spec
from crs_model.report.document import UL, B, Badge, Cell, Cite, Code, Figure, H, Outline, P, Pre, T, Table
from crs_model.report.inputs import PackInputs
from crs_model.report.sections import Sections


def _md_escape(text: str) -> str:
    """Markdown-literal text on one line; a leading or trailing space is kept (it separates inline pieces)."""
    inner = re.sub(r"([\\`*_\[\]<>|])", r"\\\1", " ".join(text.split()))
    lead = " " if text[:1].isspace() and inner else ""
    trail = " " if text[-1:].isspace() and inner else ""
    return lead + inner + trail


def _inline_md(parts: Cell) -> str:
    out: list[str] = []
    for p in parts:
        if isinstance(p, T):
            out.append(_md_escape(p.text) if p.text.strip() else " " if p.text else "")
        elif isinstance(p, B):
            out.append(f"**{_md_escape(p.text)}**" if p.text.strip() else "")
        elif isinstance(p, Code):
            out.append("`" + p.text.replace("`", "'") + "`")
        elif isinstance(p, Badge):
            out.append(f"**\\[{_md_escape(p.text)}\\]**")
        elif isinstance(p, Cite):
            out.append(f"\\[{_md_escape(p.eid)} · {_md_escape(p.level)}\\] ")
        else:
            out.append(f"[{_md_escape(p.text)}](#{p.anchor})")
    return "".join(out).replace("\n", " ").strip()


def to_markdown(spec: Spec, inputs: PackInputs) -> str:
    """The governance pack as GitHub-flavoured Markdown (for a pull request description)."""
    pack = Sections(spec, inputs)
    md = spec.metadata
    signed = inputs.signed_off
    lines = [
        f"# {_md_escape(md.title)} — governance pack",
        "",
        f"Spec `{md.id}` version `{md.version}` · status **{md.status.value.upper()}** · "
        f"{'signed off' if signed else '**not signed off**'} · sha256 `{spec.sha256}`",
    ]
    for b in pack.blocks():
        lines.append("")
        if isinstance(b, H):
            lines.append(f'<a id="{b.anchor}"></a>')
            lines.append("#" * b.level + " " + _md_escape(b.text))
        elif isinstance(b, P):
            lines.append(_inline_md(b.parts))
        elif isinstance(b, UL):
            lines.extend("- " + _inline_md(i) for i in b.items)
        elif isinstance(b, Table):
            head = b.head if any(b.head) else ["Field", "Value"]
            lines.append("| " + " | ".join(head) + " |")
            lines.append("|" + "---|" * len(head))
            lines.extend("| " + " | ".join(_inline_md(c) or " " for c in r) + " |" for r in b.rows)
        elif isinstance(b, Pre):
            if b.summary:
                lines.append(f"{_md_escape(b.summary)}:")
            lines.extend(["```json", b.text, "```"])
        elif isinstance(b, Outline):
            lines.extend("  " * depth + "- " + _inline_md(cell) for depth, cell in b.items)
        elif isinstance(b, Figure):
            lines.append(f"*{_md_escape(b.caption)}* {_md_escape(b.fallback)}")
        else:
            lines.append(f"> {b.kind.icon} " + _inline_md(b.parts))
    return "\n".join(lines) + "\n"
