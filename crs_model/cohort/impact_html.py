"""The impact report as one self-contained HTML page: tables and inline SVG plots (matplotlib, Agg).

Every word shown about the clinical content is the spec's (recommendation labels, outcome titles,
input and output labels); every text is escaped. The page fetches nothing and needs no script.
It is byte-identical across runs: the plots are drawn with a fixed ``svg.hashsalt``, text kept as
text (``svg.fonttype: none``), the SVG metadata (date, creator) dropped, element ids prefixed per
plot so several SVGs share one page.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Sequence

from crs_model.cohort.impact import Counted, Impact, inputs_that_matter
from crs_model.model import INSUFFICIENT_DATA, OutcomeClass, Spec
from crs_model.vocabulary import class_style, outcome_class, value_text

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1100px;color:#222;
line-height:1.4;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:1px solid #ccc;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.6rem 0 1rem}th,td{border:1px solid #ccc;padding:.25rem .6rem;text-align:left;
vertical-align:top}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f3f3f3}
.meta{color:#555}.note{color:#555;font-size:.92rem}figure{margin:.8rem 0}figure svg{max-width:100%;height:auto}
code{font-size:.9em}.zero{color:#aaa}.wide{overflow-x:auto;max-width:100%}
"""

_TOP_MISSING = 15


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _pct(n: int, of: int) -> str:
    return f"{100.0 * n / of:.1f} %" if of else "-"


def _rec_label(spec: Spec, code: str | None) -> str:
    if code is None:
        return "(invalid input)"
    if code == INSUFFICIENT_DATA:
        return class_style(OutcomeClass.INSUFFICIENT, spec).title
    rc = spec.recommendations.get(code)
    return rc.label if rc is not None and rc.label else code


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[int] = ()) -> str:
    """A table of already-escaped cells; columns in ``numeric`` are right-aligned."""
    num = set(numeric)
    th = "".join(f"<th{' class=n' if i in num else ''}>{h}</th>" for i, h in enumerate(head))
    body = "".join(
        "<tr>" + "".join(f"<td{' class=n' if i in num else ''}>{c}</td>" for i, c in enumerate(r)) + "</tr>"
        for r in rows
    )
    return f"<div class=wide><table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table></div>"


def _svg(key: str, labels: Sequence[str], counts: Sequence[int], colours: Sequence[str], xlabel: str) -> str:
    """A horizontal bar chart as inline SVG (deterministic bytes, ids prefixed with ``key``)."""
    import matplotlib as mpl
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    with mpl.rc_context({"svg.hashsalt": f"crs-impact-{key}", "svg.fonttype": "none", "font.size": 9}):
        fig = Figure(figsize=(7.5, 0.32 * len(labels) + 0.9), dpi=96)
        FigureCanvasSVG(fig)
        ax = fig.add_subplot()
        ys = list(range(len(labels)))
        ax.barh(ys, counts, color=list(colours), edgecolor="#555555", linewidth=0.5)
        ax.set_yticks(ys, labels=list(labels))
        ax.invert_yaxis()
        ax.set_xlabel(xlabel)
        for spine in ("top", "right"):
            ax.spines[spine].set_visible(False)
        top = max(counts, default=0)
        for y, n in zip(ys, counts, strict=True):
            ax.text(n + top * 0.01, y, f"{n:,}", va="center", fontsize=8)
        ax.set_xlim(0, max(1, top) * 1.12)
        fig.tight_layout()
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]  # no XML declaration or DOCTYPE inside HTML
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.DOTALL)
    svg = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", svg)  # HTML gives inline SVG its namespaces
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{key}-\1"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{key}-\1)", svg)
    svg = re.sub(r'href="#([^"]+)"', rf'href="#{key}-\1"', svg)
    return f'<figure class="plot" id="plot-{_e(key)}" role="img" aria-label="{_e(xlabel)}">{svg}</figure>'


def _counted(c: Counted, total: int, label: str) -> str:
    rows = [[_e("(absent)" if v is None else value_text(v)), f"{n:,}", _pct(n, total)] for v, n in c.counts]
    return f"<h3>{_e(label)} <code>{_e(c.name)}</code></h3>" + _table(["value", "rows", "share"], rows, (1, 2))


def impact_html(
    impact: Impact, spec: Spec, *, input_source: str = "", result: str = "", old_spec: Spec | None = None
) -> str:
    """The impact report of ``impact`` (computed for ``spec``; ``old_spec``: the spec it is compared with)."""
    t = impact.total
    md = spec.metadata
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(md.title)} - cohort impact report</title><style>{_CSS}</style></head><body>",
        f"<h1>Cohort impact report</h1><p class=meta>{_e(md.title)} - version {_e(md.version)} "
        f"({_e(md.status.value)}), spec SHA-256 <code>{_e(spec.sha256[:16])}</code></p>",
        f"<p class=meta>Input <code>{_e(input_source)}</code>, result <code>{_e(result)}</code></p>",
        '<h2 id="summary">Summary</h2>',
        _table(
            ["", "rows", "share"],
            [
                ["snapshots", f"{t:,}", _pct(t, t)],
                ["decided (valid input)", f"{impact.decided:,}", _pct(impact.decided, t)],
                ["invalid input (no decision)", f"{impact.invalid:,}", _pct(impact.invalid, t)],
                [_e(_rec_label(spec, INSUFFICIENT_DATA)), f"{impact.insufficient:,}", _pct(impact.insufficient, t)],
                ["alerts", f"{impact.alerts:,}", _pct(impact.alerts, t)],
            ],
            (1, 2),
        ),
        f"<p><strong>{impact.alerts_per_1000:.1f} alerts per 1,000 snapshots.</strong> "
        f"{_alert_words(impact, spec)}</p>",
    ]
    parts += _recommendations(impact, spec)
    parts += _outcomes(impact, spec)
    parts += _invalid(impact)
    parts.append('<h2 id="inputs">Decided rows by enumerated input</h2>')
    if not impact.by_input:
        parts.append("<p class=note>The spec declares no enumerated input.</p>")
    for c in impact.by_input:
        parts.append(_counted(c, impact.decided, spec.variables[c.name].label or c.name))
    parts += _outputs(impact, spec)
    parts += _missing(impact, spec)
    if impact.change is not None:
        parts += _change(impact, spec, old_spec)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _alert_words(impact: Impact, spec: Spec) -> str:
    if not impact.alert_codes:
        return "No recommendation code counts as an alert."
    codes = ", ".join(f"{_e(_rec_label(spec, c))} (<code>{_e(c)}</code>)" for c in impact.alert_codes)
    return f"An alert is a row whose recommendation is one of: {codes}."


def _recommendations(impact: Impact, spec: Spec) -> list[str]:
    t = impact.total
    styles = [outcome_class(spec, c) for c, _ in impact.by_recommendation]
    rows = [
        [_e(_rec_label(spec, c)), f"<code>{_e(c)}</code>", _e(s.title), f"{n:,}", _pct(n, t)]
        for (c, n), s in zip(impact.by_recommendation, styles, strict=True)
    ]
    labels = [_rec_label(spec, c) for c, _ in impact.by_recommendation]
    counts = [n for _, n in impact.by_recommendation]
    return [
        '<h2 id="recommendations">Rows by recommendation</h2>',
        "<p class=note>Shares are of all snapshots; invalid rows have no recommendation.</p>",
        _svg("recommendations", labels, counts, [s.fill for s in styles], "snapshots"),
        _table(["recommendation", "code", "class", "rows", "share"], rows, (3, 4)),
    ]


def _outcomes(impact: Impact, spec: Spec) -> list[str]:
    rows = [
        [
            _e(spec.outcomes[o].title),
            f"<code>{_e(o)}</code>",
            _e(_rec_label(spec, spec.outcomes[o].recommendation)),
            f"{n:,}",
            _pct(n, impact.total),
        ]
        for o, n in impact.by_outcome
    ]
    return [
        '<h2 id="outcomes">Rows by outcome</h2>',
        _table(["outcome", "id", "recommendation", "rows", "share"], rows, (3, 4)),
    ]


def _invalid(impact: Impact) -> list[str]:
    out = ['<h2 id="invalid">Invalid rows</h2>']
    if not impact.invalid:
        return [*out, "<p>No row was invalid.</p>"]
    rows = [[f"<code>{_e(f)}</code>", f"{n:,}", _pct(n, impact.invalid)] for f, n in impact.error_fields]
    out.append(
        f"<p>{impact.invalid:,} rows ({_pct(impact.invalid, impact.total)}) were rejected by the validator. "
        "Most frequent fields named by the error (or the start of the message):</p>"
    )
    return [*out, _table(["field", "rows", "share of invalid"], rows, (1, 2))]


def _outputs(impact: Impact, spec: Spec) -> list[str]:
    out = ['<h2 id="outputs">Decided rows by reported output</h2>']
    for c in impact.by_output:
        label = spec.outputs[c.name].label or spec.symbols[c.name].label or c.name
        labels = ["(unknown)" if v is None else value_text(v) for v, _ in c.counts]
        out.append(_counted(c, impact.decided, label))
        out.append(_svg(f"output-{c.name}", labels, [n for _, n in c.counts], ["#9ecae1"] * len(labels), label))
    if impact.skipped_outputs:
        out.append(
            "<p class=note>Not counted by value (a real number, or more distinct values than a table can show): "
            + ", ".join(f"<code>{_e(n)}</code>" for n in impact.skipped_outputs)
            + ".</p>"
        )
    return out


def _missing(impact: Impact, spec: Spec) -> list[str]:
    out = [
        '<h2 id="missing">Missing inputs</h2>',
        f"<p>{impact.insufficient:,} snapshots ({_pct(impact.insufficient, impact.total)}) got "
        f"{_e(_rec_label(spec, INSUFFICIENT_DATA))}. Inputs most often listed as missing by a decision:</p>",
    ]
    if not impact.missing:
        return [*out, "<p>No decision listed a missing input.</p>"]
    top = impact.missing[:_TOP_MISSING]
    labels = [spec.variables[m].label or m if m in spec.variables else m for m, _ in top]
    rows = [
        [_e(lab), f"<code>{_e(m)}</code>", f"{n:,}", _pct(n, impact.decided)]
        for lab, (m, n) in zip(labels, top, strict=True)
    ]
    return [
        *out,
        _svg("missing", labels, [n for _, n in top], ["#fdd49e"] * len(top), "decided snapshots listing the input"),
        _table(["input", "name", "rows", "share of decided"], rows, (2, 3)),
    ]


def _change(impact: Impact, spec: Spec, old_spec: Spec | None) -> list[str]:
    ch = impact.change
    assert ch is not None
    old = old_spec.metadata.version if old_spec is not None else "the compared spec"
    out = [
        '<h2 id="compare">Changes against version ' + _e(old) + "</h2>",
        f"<p>{ch.changed:,} of {impact.total:,} snapshots ({_pct(ch.changed, impact.total)}) get a different "
        "decision (recommendation, outcome, a reported output both versions declare, or flags).</p>",
        _table(["part that changed", "rows"], [[f"<code>{_e(p)}</code>", f"{n:,}"] for p, n in ch.by_part], (1,)),
    ]
    if not ch.changed:
        return out
    olds = sorted({a for a, _, _ in ch.transitions}, key=lambda c: (c is not None, c or ""))
    news = sorted({b for _, b, _ in ch.transitions}, key=lambda c: (c is not None, c or ""))
    cell = {(a, b): n for a, b, n in ch.transitions}
    old_words = old_spec or spec  # an old recommendation in the old spec's words
    head = ["old \u2192 new", *(_e(_rec_label(spec, b)) for b in news), "rows"]
    rows = [
        [
            _e(_rec_label(old_words, a)),
            *(f"{cell[(a, b)]:,}" if (a, b) in cell else "<span class=zero>0</span>" for b in news),
            f"{sum(n for x, _, n in ch.transitions if x == a):,}",
        ]
        for a in olds
    ]
    out += [
        "<h3>Transition matrix of the changed rows (old recommendation by row, new by column)</h3>",
        _table(head, rows, tuple(range(1, len(news) + 2))),
        f"<h3>Example rows (up to {len(ch.examples)}, the first of each transition in turn)</h3>",
    ]
    matter = inputs_that_matter(spec, old_spec) if old_spec is not None else ()
    shown = set(matter)
    ex = [
        [
            str(e.row),
            _e(f"{_rec_label(old_words, e.old_recommendation)} / {e.old_outcome or '-'}"),
            _e(f"{_rec_label(spec, e.new_recommendation)} / {e.new_outcome or '-'}"),
            _e(", ".join(e.changed)),
            _e(", ".join(f"{k}={value_text(v)}" for k, v in e.inputs if k in shown or not shown) or "(none known)"),
        ]
        for e in ch.examples
    ]
    if matter:
        out.append(
            "<p class=note>Inputs shown: the known values of the inputs whose role changed (declared by the new "
            "version only, or compared with other thresholds): "
            + ", ".join(f"<code>{_e(n)}</code>" for n in matter)
            + ".</p>"
        )
    return [*out, _table(["row", "old (recommendation / outcome)", "new", "changed", "known inputs"], ex, (0,))]
