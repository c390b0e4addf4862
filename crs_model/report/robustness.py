"""The pack's robustness table: each measured input, its error and source, its thresholds, the flips found."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crs_model.report.document import UL, B, Block, Callout, Cell, Code, H, P, T, Table
from crs_model.text import fmt_number
from crs_model.vocabulary import Tone

if TYPE_CHECKING:
    from crs_model.report.sections import Sections

_HEADING = "Threshold robustness (measurement error)"
_ANCHOR = "robustness"


def robustness_blocks(sections: Sections) -> list[Block]:
    """One row per input with a ``measurement_error``; the flips Z3 finds within it (``crs-model robustness``)."""
    spec = sections.spec
    measured = [v for v in spec.variables.values() if v.measurement_error is not None]
    if not measured:
        return [
            H(2, _HEADING, _ANCHOR),
            P([T("No input declares a measurement error, so no threshold is checked against one.")]),
        ]
    from crs_model.verify.encoding import Undecided
    from crs_model.verify.robustness import robustness

    try:
        result = robustness(spec)
    except Undecided as exc:
        return [
            H(2, _HEADING, _ANCHOR),
            Callout(Tone.BAD, [B("Robustness not decided: "), T(f"a solver query was undecided ({exc.args[0]}).")]),
        ]
    rows: list[list[Cell]] = []
    for var in measured:
        err = var.measurement_error
        assert err is not None
        cuts = spec.index.thresholds.get(var.name, ())
        flips = [g for g in result.regions if g.scope == var.name]
        rows.append(
            [
                [B(var.label), T(" "), Code(var.name)],
                [B(err.text(var.unit))],
                sections.cites(err.cites),
                [T(", ".join(fmt_number(c, var.unit) for c in cuts) or "none")],
                [
                    T(
                        f"{len(flips)}"
                        + (" (cap hit)" if any(s.cap_hit for s in result.scopes if s.name == var.name) else "")
                    )
                ],
            ]
        )
    blocks: list[Block] = [
        H(2, _HEADING, _ANCHOR),
        Table(["Input", "Error", "Source", "Thresholds it is compared with", "Flips within error"], rows),
    ]
    if result.regions:
        blocks.append(
            Callout(
                Tone.WARN,
                [
                    B(f"{len(result.regions)} region(s)"),
                    T(" where the recommendation flips within the declared errors:"),
                ],
            )
        )
        blocks.append(UL([[T(g.description)] for g in result.regions]))
    else:
        blocks.append(Callout(Tone.OK, [T("No recommendation flips within the declared errors (proven with Z3).")]))
    return blocks
