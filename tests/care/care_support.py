"""A care section for ``specs/examples/mini_crs.yaml``: a small course model the care tests share."""

from __future__ import annotations

from pathlib import Path

from crs_model import load_spec
from crs_model.model import Spec

ROOT = Path(__file__).resolve().parents[2]
MINI = ROOT / "specs" / "examples" / "mini_crs.yaml"

CARE = """
care:
  description: A CRS course from onset; the team follows every recommendation.
  start: tocilizumab_doses == 0 and not corticosteroids_given
  step_hours: {min: 0, max: 24}
  clock: [hours_since_last_tocilizumab]
  spontaneous: [temperature_c, hypotension, vasopressor_count, oxygen_support, crp_mg_l,
                ferritin_ng_ml, multi_organ_dysfunction, hemodynamic_instability_persistent]
  follow:
    give_tocilizumab:
      set: {tocilizumab_doses: tocilizumab_doses + 1, hours_since_last_tocilizumab: 0}
      cites: [actemra_label]
    add_corticosteroids:
      set: {corticosteroids_given: true}
      cites: [seed]
  cites: [seed]
temporal_invariants:
  - id: cytosorb_after_both_in_course
    description: CytoSorb is considered only after tocilizumab and corticosteroids were given in the course.
    severity: error
    expr: >-
      recommendation == 'consider_cytosorb' implies
      (count_before(recommendation == 'give_tocilizumab') >= 1
       and count_before(recommendation == 'add_corticosteroids') >= 1)
    cites: [seed]
  - id: tocilizumab_not_within_8h
    description: Tocilizumab is never given twice within 8 h.
    severity: error
    expr: >-
      recommendation == 'give_tocilizumab' implies
      count_within(8, recommendation == 'give_tocilizumab') == 0
    cites: [actemra_label]
"""


def care_text(extra: str = CARE) -> str:
    """The mini spec's text with a care section (and temporal invariants) appended."""
    return MINI.read_text(encoding="utf-8") + extra


def care_spec(tmp_path: Path, extra: str = CARE) -> Spec:
    """The mini spec with ``extra`` appended, written under ``tmp_path`` and loaded."""
    p = tmp_path / "mini_care.yaml"
    p.write_text(care_text(extra), encoding="utf-8")
    return load_spec(p)
