"""Which recommendation can follow which: proven pairs on the mini+care fixture, the care diagram, the pack."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from crs_model import Engine, load_spec
from crs_model.care_diagram import START_NODE, care_diagram
from crs_model.cli import main
from crs_model.course import CourseSemantics
from crs_model.diagram import dot_text
from crs_model.model import Spec
from crs_model.report import gather, to_markdown
from crs_model.verify.story import replay
from crs_model.verify.successors import START, Follows, Successors, successors
from tests.care.care_support import care_spec, care_text
from tests.test_render import plain

ALL = (
    "no_crs",
    "supportive_care",
    "give_tocilizumab",
    "add_corticosteroids",
    "continue_standard_therapy",
    "consider_cytosorb",
    "cytosorb_contraindicated",
    "insufficient_data",
)
CYTOSORB_SIDE = ("continue_standard_therapy", "consider_cytosorb", "cytosorb_contraindicated")

# Derived by hand from mini_crs.yaml and the care fixture. A course starts with no tocilizumab and no
# corticosteroids; doses grow only by give_tocilizumab, corticosteroids only by add_corticosteroids; the device
# contraindication (platelets, pregnancy, anticoagulation) is held, so consider_cytosorb and
# cytosorb_contraindicated never follow each other.
#  - the start: grade 0, 1 or >= 2 (first dose) or an unknown grade;
#  - give_tocilizumab (now one dose, no steroids): grade 0, 1, >= 2 -> add corticosteroids, or unknown;
#  - after corticosteroids (one dose, steroids): grade 0, 1, >= 2 -> the CytoSorb side, or unknown;
#  - no_crs, supportive_care and insufficient_data happen in every one of those states: anything follows.
EXPECTED: dict[str, set[str]] = {
    START: {"no_crs", "supportive_care", "give_tocilizumab", "insufficient_data"},
    "no_crs": set(ALL),
    "supportive_care": set(ALL),
    "insufficient_data": set(ALL),
    "give_tocilizumab": {"no_crs", "supportive_care", "add_corticosteroids", "insufficient_data"},
    "add_corticosteroids": {"no_crs", "supportive_care", *CYTOSORB_SIDE, "insufficient_data"},
    "continue_standard_therapy": {"no_crs", "supportive_care", *CYTOSORB_SIDE, "insufficient_data"},
    "consider_cytosorb": {"no_crs", "supportive_care", "continue_standard_therapy", "consider_cytosorb"}
    | {"insufficient_data"},
    "cytosorb_contraindicated": {"no_crs", "supportive_care", "continue_standard_therapy"}
    | {"cytosorb_contraindicated", "insufficient_data"},
}


@pytest.fixture(scope="module")
def mini(tmp_path_factory: pytest.TempPathFactory) -> Spec:
    return care_spec(tmp_path_factory.mktemp("succ"))


@pytest.fixture(scope="module")
def succ(mini: Spec) -> Successors:
    return successors(mini)


def test_pairs_match_the_hand_derivation(succ: Successors) -> None:
    assert succ.depth == 6
    assert succ.codes == ALL
    assert succ.edges(Follows.UNKNOWN) == []
    got: dict[str, set[str]] = {}
    for a, b in succ.edges():
        got.setdefault(a, set()).add(b)
    assert got == EXPECTED
    # every pair has a verdict, and the absent ones are proven absent
    assert len(succ.verdicts) == (len(ALL) + 1) * len(ALL)
    assert len(succ.edges(Follows.NO)) == len(succ.verdicts) - sum(len(v) for v in EXPECTED.values())
    assert ("give_tocilizumab", "give_tocilizumab") in succ.edges(Follows.NO)


def test_witness_courses_replay_through_the_reference_semantics(mini: Spec, succ: Successors) -> None:
    assert succ.problems == ()
    engine = Engine(mini, exact=False)  # the procedure the model checker encodes
    sem = CourseSemantics(engine)
    assert set(succ.witnesses) == set(succ.edges())
    for (a, b), course in succ.witnesses.items():
        recs = [s.recommendation for s in course]
        assert recs[-1] == b
        assert (recs[-2] if len(recs) > 1 else START) == a
        assert sem.starts(engine.validator.validate(course[0].inputs))
        run = replay(sem, course, None)
        assert run.disagreement is None, (a, b)
        assert [h.decision.recommendation for h in run.history] == recs
        assert succ.stories[(a, b)][-1].endswith(f" {b}")
    # shortest courses: the CytoSorb side needs a dose and then corticosteroids first
    assert [s.recommendation for s in succ.witnesses[("add_corticosteroids", "consider_cytosorb")]] == [
        "give_tocilizumab",
        "add_corticosteroids",
        "consider_cytosorb",
    ]
    assert len(succ.witnesses[(START, "no_crs")]) == 1


def test_depth_bounds_the_pairs(mini: Spec) -> None:
    one = successors(mini, depth=1)
    assert {a for a, _ in one.edges()} == {START}
    three = successors(mini, depth=3)  # consider_cytosorb is reached at step 3 at the earliest: nothing follows it
    assert not [p for p in three.edges() if p[0] == "consider_cytosorb"]
    assert ("add_corticosteroids", "consider_cytosorb") in three.edges()
    with pytest.raises(ValueError, match="at least 1"):
        successors(mini, depth=0)
    with pytest.raises(ValueError, match="no care section"):
        successors(load_spec(Path(__file__).resolve().parents[2] / "specs" / "examples" / "mini_crs.yaml"))


def test_undecided_pairs_are_dashed_never_proven(mini: Spec, succ: Successors) -> None:
    low = successors(mini, rlimit=3000)  # too little solver work for some pairs
    unknown = low.edges(Follows.UNKNOWN)
    assert unknown
    # what it did decide agrees with the full budget
    for pair, verdict in low.verdicts.items():
        if verdict is not Follows.UNKNOWN:
            assert succ.verdicts[pair] is verdict, pair
    g = care_diagram(mini, low)
    edges = {(str(e.get_source()).strip('"'), str(e.get_destination()).strip('"')): e for e in g.get_edges()}
    for a, b in unknown:
        e = edges[(START_NODE if a == START else a, b)]
        assert e.get("style") == "dashed"
        assert "undecided" in str(e.get("label"))
    for a, b in low.edges():
        assert edges[(START_NODE if a == START else a, b)].get("style") is None
    assert "not proven" in dot_text(g)
    assert len(edges) == len(unknown) + len(low.edges())


def test_care_dot_is_deterministic_and_says_what_it_proves(mini: Spec, succ: Successors) -> None:
    g = care_diagram(mini, succ)
    assert dot_text(g) == dot_text(care_diagram(mini, successors(mini)))
    text = plain(dot_text(g))  # label text without the line breaks of wrapping
    names = {n.get_name().strip('"') for n in g.get_nodes()}
    assert set(ALL) | {START_NODE, "legend"} <= names
    assert len(g.get_edges()) == len(succ.edges())
    assert "proven reachable in one consultation, courses up to 6 steps from the start" in text
    assert "hours pass 0–24 h between consultations" in text
    assert "inputs that change by themselves: temperature, hypotension" in text
    # each node lists what following it does, in the spec's words
    assert "tocilizumab doses given ← tocilizumab doses given + 1" in text
    assert "hours since last tocilizumab ← 0 h" in text
    assert "corticosteroids given ← yes" in text
    assert "undecided" not in text


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out, err), out.getvalue(), err.getvalue()


def test_render_writes_and_checks_the_care_diagram(tmp_path: Path, mini: Spec, succ: Successors) -> None:
    spec_file = tmp_path / "mini_care.yaml"
    spec_file.write_text(care_text(), encoding="utf-8")
    code, out, err = _run("render", str(spec_file), "--out", str(tmp_path / "d"), "--format", "dot")
    assert code == 0, err
    care = tmp_path / "d" / "mini_care.care.dot"
    assert f"wrote {care}" in out
    assert care.read_text(encoding="utf-8") == dot_text(care_diagram(load_spec(spec_file), succ))
    assert _run("render", str(spec_file), "--out", str(tmp_path / "d"), "--check")[0] == 0
    care.write_text("digraph stale {}\n", encoding="utf-8")
    code, _, err = _run("render", str(spec_file), "--out", str(tmp_path / "d"), "--check")
    assert code == 1
    assert f"stale: {care}" in err


def test_render_without_the_verifier_skips_the_care_diagram(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec_file = tmp_path / "mini_care.yaml"
    spec_file.write_text(care_text(), encoding="utf-8")
    monkeypatch.setitem(sys.modules, "crs_model.verify.successors", None)  # import raises ImportError
    code, _, err = _run("render", str(spec_file), "--out", str(tmp_path), "--format", "dot")
    assert code == 0, err
    assert "care diagram skipped: the care diagram needs the verifier" in err
    assert (tmp_path / "mini_care.dot").is_file()
    assert not (tmp_path / "mini_care.care.dot").exists()


def test_pack_has_the_care_course_section(mini: Spec) -> None:
    md = to_markdown(mini, gather(mini, svg=False))
    section = md[md.index("## Care course") : md.index("## Verification findings")]
    assert "| A course starts when | tocilizumab doses given = 0 and not corticosteroids given |" in section
    assert "| Hours between consultations | 0–24 h |" in section
    assert "| Clock inputs (grow with the hours) | hours since last tocilizumab |" in section
    assert "`give_tocilizumab` | tocilizumab doses given ← tocilizumab doses given + 1;" in section
    assert "`add_corticosteroids` | corticosteroids given ← yes |" in section
    assert "changes no input: `no_crs`, `supportive_care`" in section
    # the temporal invariants with the verifier's BMC verdict and depth
    assert "`tocilizumab_not_within_8h` |" in section
    assert section.count("**\\[proven\\]** (depth 6)") == 2
    # the successor table and the witness courses
    assert "| `give_tocilizumab` | `no_crs`, `supportive_care`, `add_corticosteroids`, `insufficient_data` |" in section
    assert "Witness courses (54)" in section
    assert "See diagrams/mini\\_care.care.svg" in section


def test_pack_without_a_care_section_has_none() -> None:
    spec = load_spec(Path(__file__).resolve().parents[2] / "specs" / "examples" / "mini_crs.yaml")
    md = to_markdown(spec, gather(spec, verifier=False, svg=False))
    assert "Care course" not in md


def test_pack_without_the_verifier_says_the_pairs_are_not_computed(mini: Spec) -> None:
    md = to_markdown(mini, gather(mini, verifier=False, svg=False))
    assert "Not computed: the verifier was not run (--no-verify)." in md
    assert "BMC verdicts unknown" in md
    assert "proven" not in md[md.index("## Care course") : md.index("## Verification findings")]
