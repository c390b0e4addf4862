"""A diff's renderings: text (a terminal), Markdown (a pull-request comment), JSON and SARIF 2.1.0.

No z3 here. JSON is :meth:`DiffResult.to_dict`; SARIF follows ``crs-model verify``'s
conventions (:mod:`crs_model.verify.report`): one run, results located in the spec files,
each region a ``note`` at the new version's changed element.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from crs_model.diff.result import DECISION, KINDS, DiffResult, Region
from crs_model.verify.report import sarif_location, sarif_log

_KIND_WORDS = {
    DECISION: "decided differently",
    "rejected_by_new": "valid in the old version, rejected by the new one",
    "rejected_by_old": "valid in the new version, rejected by the old one",
}


def decision_text(d: Mapping[str, Any]) -> str:
    """A compared decision in one line: ``give_tocilizumab at give_first_tocilizumab; astct_grade 3, ...``."""
    if "rejected" in d:
        return f"rejected: {d['rejected']}"
    if "defect" in d:
        return f"spec defect: {d['defect']}"
    parts = [f"{d['recommendation']}" + (f" at {d['outcome']}" if d["outcome"] else "")]
    outs = ", ".join(f"{k} {'null' if v is None else v}" for k, v in d["outputs"].items())
    if outs:
        parts.append(outs)
    for key in ("actions", "flags"):
        if d[key]:
            parts.append(f"{key} {', '.join(d[key])}")
    return "; ".join(parts)


def _verdict(r: DiffResult) -> str:
    if r.errors:
        return "ERROR: not proven (see the errors above)"
    if r.equivalent:
        return "decision-equivalent: proven for every valid patient and every pattern of absent inputs"
    more = f" (cap of {r.cap} per kind reached: more regions differ)" if r.cap_hit else ""
    return f"behaviour differs: {len(r.regions)} region(s){more}"


def _exact(region: Region) -> str:
    return "differs too" if region.exact_differs else "agrees (the change shows only in the three-valued engine)"


def to_text(r: DiffResult) -> str:
    """The diff for a terminal."""
    lines = [f"diff {r.old.path} ({r.old.version}) -> {r.new.path} ({r.new.version})"]
    if r.only_old or r.only_new:
        lines.append(
            f"inputs only in the old version: {', '.join(r.only_old) or 'none'}; "
            f"only in the new version: {', '.join(r.only_new) or 'none'}"
        )
    if r.given:
        lines.append(f"compared only for patients with: {', '.join(r.given)}")
    for i, region in enumerate(r.regions, 1):
        tag = ", only actions/flags differ" if region.flags_only else ""
        lines.append(f"region {i}: {_KIND_WORDS[region.kind]}{tag}")
        lines.append(f"  where: {region.description}")
        lines.append(f"  witness: {json.dumps(region.witness, ensure_ascii=False)}")
        lines.append(f"  old: {decision_text(region.old)}")
        lines.append(f"  new: {decision_text(region.new)}")
        lines.append(f"  default (exact) engine: {_exact(region)}")
        if region.location is not None:
            lines.append(f"  at: {region.location} ({region.element})")
        if region.problem:
            lines.append(f"  ERROR: {region.problem}")
    lines.append(f"elements: {len(r.elements)} change(s)")
    for c in r.elements:
        at = c.new or c.old
        lines.append(f"  {c.change} {c.element}" + (f" ({at})" if at else ""))
        lines.extend(f"    {d}" for d in c.details)
    lines.extend(f"error: {e}" for e in r.errors)
    lines.append(_verdict(r))
    return "\n".join(lines) + "\n"


def to_markdown(r: DiffResult) -> str:
    """The diff as a pull-request comment."""
    head = "✅" if r.equivalent else "❌" if r.errors else "⚠️"
    out = [
        f"### {head} crs-model diff: `{r.old.path}` ({r.old.version}) → `{r.new.path}` ({r.new.version})",
        "",
        f"**{_verdict(r)}**",
        "",
    ]
    if r.only_old or r.only_new:
        out += [
            f"Inputs only in the old version: {', '.join(r.only_old) or 'none'}; "
            f"only in the new version: {', '.join(r.only_new) or 'none'}.",
            "",
        ]
    if r.regions:
        out += [
            "| # | kind | where | old | new | only actions/flags | exact engine differs |",
            "|---|---|---|---|---|---|---|",
        ]
        for i, g in enumerate(r.regions, 1):
            cells = [
                str(i),
                g.kind,
                g.description,
                decision_text(g.old),
                decision_text(g.new),
                "yes" if g.flags_only else "no",
                "yes" if g.exact_differs else "no",
            ]
            out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        out.append("")
        for i, g in enumerate(r.regions, 1):
            out += [
                f"<details><summary>Region {i} witness</summary>",
                "",
                "```json",
                json.dumps(g.witness, ensure_ascii=False, indent=1),
                "```",
                "</details>",
                "",
            ]
    if r.elements:
        out += [f"#### Element changes ({len(r.elements)})", ""]
        for c in r.elements:
            detail = "; ".join(c.details)
            out.append(f"- **{c.change}** `{c.element}`" + (f": {detail}" if detail else ""))
        out.append("")
    out += [f"- error: {e}" for e in r.errors]
    return "\n".join(out).rstrip("\n") + "\n"


def _rule(kind: str) -> str:
    return f"diff-{kind.replace('_', '-')}"


def to_sarif(r: DiffResult, *, tool_version: str) -> dict[str, Any]:
    """A SARIF 2.1.0 log: a note per region at the new version's element, an error per diff error."""
    rule_ids = [*(_rule(k) for k in KINDS), "diff-error"]
    rules = [
        {"id": rid, "name": rid.replace("-", "_"), "shortDescription": {"text": text}}
        for rid, text in zip(rule_ids, [*(_KIND_WORDS[k] for k in KINDS), "the diff could not be proven"], strict=True)
    ]
    results: list[dict[str, Any]] = []
    for i, g in enumerate(r.regions, 1):
        results.append(
            {
                "ruleId": _rule(g.kind),
                "ruleIndex": rule_ids.index(_rule(g.kind)),
                "level": "note",
                "message": {
                    "text": f"region {i}: {g.description}: old {decision_text(g.old)}; new {decision_text(g.new)}"
                },
                "locations": [sarif_location(g.location, g.element)],
                "properties": {
                    "witness": g.witness,
                    "old": g.old,
                    "new": g.new,
                    "flags_only": g.flags_only,
                    "exact_differs": g.exact_differs,
                },
            }
        )
    for e in r.errors:
        results.append(
            {
                "ruleId": "diff-error",
                "ruleIndex": len(rule_ids) - 1,
                "level": "error",
                "message": {"text": e},
                "locations": [sarif_location(None, "diff")],
            }
        )
    artifacts = [{"location": {"uri": s.path}, "hashes": {"sha-256": s.sha256}} for s in (r.old, r.new)]
    return sarif_log("crs-model diff", tool_version, rules, artifacts, results)


__all__ = ["decision_text", "to_markdown", "to_sarif", "to_text"]
