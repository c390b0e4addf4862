"""The governance pack: one self-contained HTML page (or Markdown for a pull request).

What the committee approves: metadata and hashes, the diagram, every rule in
plain clinical words with its sources and evidence levels, parameters with their
rationale, invariants with proof status (and the counterexample when refuted),
verifier findings by severity, the seed traceability matrix, open governance
questions, and the sign-off record.

The sections are built once as a small document model
(:mod:`~crs_model.report.document`, :mod:`~crs_model.report.sections`) and
written by :func:`to_html` or :func:`to_markdown`, so the two formats cannot
drift apart. No timestamps: the same inputs give the same bytes. The HTML has
inline CSS (``pack.css``) and inline SVG and references nothing outside itself.
"""

from __future__ import annotations

from crs_model.report.html_writer import to_html
from crs_model.report.inputs import PackInputs, care_successors, gather, run_verifier, tool_versions
from crs_model.report.markdown_writer import to_markdown
from crs_model.report.trace_map import TraceEntry, TraceMap, load_trace_map, trace_path

__all__ = [
    "PackInputs",
    "TraceEntry",
    "TraceMap",
    "care_successors",
    "gather",
    "load_trace_map",
    "run_verifier",
    "to_html",
    "to_markdown",
    "tool_versions",
    "trace_path",
]
