"""The ``crs-model diff`` fixtures in tests/data/diff/: each a named edit of the shipped spec.

Regenerate after a change to the shipped spec: ``python -m tests.diff_fixtures``
(``tests/test_diff.py`` fails while a fixture is stale, as the diagram test does).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "specs" / "cytosorb_crs.yaml"
FOLDER = ROOT / "tests" / "data" / "diff"
_HEADER = (
    "# Test fixture for crs-model diff (tests/test_diff.py), derived from specs/cytosorb_crs.yaml\n"
    "# by tests/diff_fixtures.py: {}\n"
)

_CASCADE = """    expr: >-
      if hypotension_grade == 4 or hypoxia_grade == 4 then 4
      else if hypotension_grade == 3 or hypoxia_grade == 3 then 3
      else if hypotension_grade == 2 or hypoxia_grade == 2 then 2
      else 0
"""
_RUNNING_EDGES = """        - to: cytosorb_course
          when: on_cytosorb
          label: running
          cites: [seed, cytosorb_ifu]
        - to: crs_grade
          when: not on_cytosorb or cytosorb_cartridges_used == 0
          label: not running
          cites: [seed]
"""
_RUNNING_EDGES_REORDERED = """        - to: crs_grade
          when: >-
            not on_cytosorb
            or cytosorb_cartridges_used == 0
          label: not running
          cites: [seed]


        - {to: cytosorb_course, when: on_cytosorb, label: running, cites: [seed, cytosorb_ifu]}
"""


def _replace(text: str, old: str, new: str, *, places: int = 1) -> str:
    assert text.count(old) == places, f"the shipped spec no longer holds {old[:60]!r} {places} time(s)"
    return text.replace(old, new)


def _refactor(s: str) -> str:
    s = _replace(s, _RUNNING_EDGES, _RUNNING_EDGES_REORDERED)
    s = re.sub(r"\banti_cytokine_therapy_given\b", "anticytokine_treatment_received", s)
    s = _replace(
        s,
        "      question: Is CytoSorb running in this episode?",
        "      question: Is a CytoSorb cartridge currently running in this episode?",
    )
    s = _replace(
        s,
        "          text: On ECMO - place the cartridge in a side branch, never in the main stream.",
        "          text: On ECMO, put the cartridge in a side branch and never in the main stream.",
        places=2,  # the flag is declared at two outcomes
    )
    return _replace(s, "  astct_grade: {report: always}\n", "  astct_grade:\n    report: always\n")


VARIANTS = {
    "refactor": (
        "a pure refactor: the edges of the unique node cytosorb_running reordered (one in flow style),\n# the "
        "definition anti_cytokine_therapy_given renamed, a question and a flag text reworded, YAML reformatted.",
        _refactor,
    ),
    "threshold": (
        "il6_markedly_elevated_pg_ml 500 -> 1000 pg/mL (one threshold).",
        lambda s: _replace(
            s, "  il6_markedly_elevated_pg_ml:\n    value: 500\n", "  il6_markedly_elevated_pg_ml:\n    value: 1000\n"
        ),
    ),
    "flags_only": (
        "the crrt_integration flag also shows with AKI (a flags-only change).",
        lambda s: _replace(
            s,
            "          when: on_crrt\n          text: On CRRT",
            "          when: on_crrt or aki\n          text: On CRRT",
        ),
    ),
    "absent_max": (
        "organ_support_grade written as max() (equal when both grades are known; unknown when either is).",
        lambda s: _replace(s, _CASCADE, "    expr: max(hypotension_grade, hypoxia_grade)\n"),
    ),
}


def variants() -> dict[str, str]:
    """Each fixture's text, from the shipped spec as it is now."""
    shipped = SHIPPED.read_text(encoding="utf-8")
    return {name: _HEADER.format(what) + edit(shipped) for name, (what, edit) in VARIANTS.items()}


if __name__ == "__main__":
    for name, text in variants().items():
        (FOLDER / f"{name}.yaml").write_text(text, encoding="utf-8")
        print(f"wrote {FOLDER / name}.yaml")
