"""Decision diagrams: content, determinism, overlays, committed DOT freshness, the render command."""

from __future__ import annotations

import html
import io
import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pydot
import pytest

import crs_model
from crs_model.cli import main
from crs_model.engine import Engine
from crs_model.errors import Location
from crs_model.model import OutcomeClass, Severity, Spec
from crs_model.render import (
    SEVERITY_COLOUR,
    Overlay,
    diagram,
    dot_text,
    outcome_class,
    views,
)
from crs_model.text import Renderer
from crs_model.verify.report import Finding
from tests.conftest import SPEC_PATH as SPEC
from tests.test_engine import FULL

ROOT = Path(__file__).resolve().parent.parent
DIAGRAMS = ROOT / "diagrams"
HAS_DOT = shutil.which("dot") is not None
needs_graphviz = pytest.mark.skipif(not HAS_DOT, reason="Graphviz 'dot' is not installed (make system-deps)")

# A grade-4 CAR-T patient after tocilizumab and corticosteroids, refractory, no contraindication.
CYTOSORB_PATIENT: dict[str, Any] = FULL


def nodes_of(g: pydot.Dot) -> dict[str, pydot.Node]:
    return {n.get_name().strip('"'): n for n in g.get_nodes()}


def edges_of(g: pydot.Dot) -> dict[tuple[str, str], pydot.Edge]:
    return {(str(e.get_source()).strip('"'), str(e.get_destination()).strip('"')): e for e in g.get_edges()}


def plain(raw: str) -> str:
    """An HTML label as plain text: tags dropped, line breaks as spaces, entities decoded."""
    if raw.startswith("<") and raw.endswith(">"):
        raw = raw[1:-1]
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", raw).split()))


def attr(obj: pydot.Node | pydot.Edge, name: str) -> str:
    return str(obj.get(name) or "").strip('"')


def label_text(obj: pydot.Node | pydot.Edge) -> str:
    return plain(attr(obj, "label"))


def title_text(g: pydot.Dot) -> str:
    return plain(str(g.get("label") or ""))


def test_dot_is_byte_identical_across_loads(spec: Spec) -> None:
    again = crs_model.load_spec(SPEC)
    for view in views(spec, split=True):
        assert dot_text(diagram(spec, view=view)) == dot_text(diagram(again, view=view))


def test_full_diagram_shows_questions_policies_guards_and_title(spec: Spec) -> None:
    g = diagram(spec)
    nodes = nodes_of(g)
    edges = edges_of(g)
    words = Renderer(spec.symbols, param_names=True)
    for nid, node in spec.nodes.items():
        text = label_text(nodes[nid])
        assert " ".join(node.question.split()) in text
        assert f"{node.hit_policy.value}:" in text
        for e in node.edges:
            etext = label_text(edges[(nid, e.target)])
            assert words.render(e.guard.ast) in etext, (e.id, etext)
            assert e.label in etext
    title = title_text(g)
    md = spec.metadata
    for piece in (md.id, md.version, md.status.value.upper(), spec.sha256):
        assert piece in title
    # parameters appear by name and value on the guards that use them
    assert "cytosorb_min_astct_grade (3" in label_text(edges[("cytosorb_indicated", "device_contraindicated")])


def test_outcomes_coloured_by_class_with_key_actions(spec: Spec) -> None:
    nodes = nodes_of(diagram(spec))
    for oid, o in spec.outcomes.items():
        cls = outcome_class(spec, o.recommendation)
        assert attr(nodes[oid], "fillcolor") == cls.fill
        text = label_text(nodes[oid])
        assert cls.title.upper() in text
        assert o.title in text
        first_words = " ".join(o.actions[0].text.split()[:3]).rstrip(".,;:")
        assert first_words in text
    assert outcome_class(spec, "consider_cytosorb").cls is OutcomeClass.DEVICE
    assert outcome_class(spec, "cytosorb_contraindicated").cls is OutcomeClass.CONTRAINDICATED
    assert outcome_class(spec, "insufficient_data").cls is OutcomeClass.INSUFFICIENT
    # the legend shows the classes the spec uses (not review), under the spec's names
    legend = label_text(nodes["legend"])
    assert legend.startswith(
        "Legend no CRS standard therapy CytoSorb specialist review contraindicated insufficient data Boxes"
    )


def test_citation_markers_refer_to_the_legend(spec: Spec) -> None:
    g = diagram(spec)
    numbers = {eid: i for i, eid in enumerate(spec.evidence, 1)}
    legend = label_text(nodes_of(g)["legend"])
    for eid, n in numbers.items():
        assert f"[{n}] {eid} -" in legend
    edge = spec.nodes["crs_grade"].edges[1]  # cites astct_2019 and seed
    marker = "[" + ",".join(str(n) for n in sorted(numbers[c] for c in edge.cites)) + "]"
    assert marker in label_text(edges_of(g)[("crs_grade", edge.target)])


def test_committed_diagrams_are_fresh(spec: Spec) -> None:
    """A spec change cannot land without its picture."""
    stale = []
    for view in views(spec):
        suffix = "" if view == "full" else "." + view.replace("node:", "node-")
        path = DIAGRAMS / f"cytosorb_crs{suffix}.dot"
        if not path.is_file() or path.read_text(encoding="utf-8") != dot_text(diagram(spec, view=view)):
            stale.append(str(path.relative_to(ROOT)))
    assert spec.care is not None  # the shipped spec has a care course: its diagram is committed too
    from crs_model.care_diagram import care_diagram
    from crs_model.verify.successors import successors

    care = DIAGRAMS / "cytosorb_crs.care.dot"
    if not care.is_file() or care.read_text(encoding="utf-8") != dot_text(care_diagram(spec, successors(spec))):
        stale.append(str(care.relative_to(ROOT)))
    from crs_model.criteria_diagram import criteria_diagram

    criteria = DIAGRAMS / "cytosorb_crs.criteria.dot"
    if not criteria.is_file() or criteria.read_text(encoding="utf-8") != dot_text(criteria_diagram(spec)):
        stale.append(str(criteria.relative_to(ROOT)))
    assert not stale, f"stale diagrams {stale}: regenerate with `make diagrams` (crs-model render --out diagrams)"
    for view in [*views(spec), "care", "criteria"]:
        suffix = "" if view == "full" else "." + view
        assert (DIAGRAMS / f"cytosorb_crs{suffix}.svg").is_file()


def test_patient_overlay_highlights_path_and_guard_values(spec: Spec) -> None:
    decision = Engine(spec).evaluate(CYTOSORB_PATIENT)
    assert decision.recommendation == "consider_cytosorb"
    g = diagram(spec, Overlay(decision=decision, patient_label="p.json"))
    nodes, edges = nodes_of(g), edges_of(g)
    for nid in spec.nodes.keys() | spec.outcomes.keys():
        on_path = nid in decision.path
        assert (attr(nodes[nid], "penwidth") == "4") is on_path, nid
    for step in decision.trace:
        for target, value in step.guards:
            text = label_text(edges[(step.node, target)])
            word = {True: "TRUE", False: "false", None: "UNKNOWN"}[value]
            assert f"guard = {word}" in text
            if step.taken == target:
                assert attr(edges[(step.node, target)], "penwidth") == "4"
    grade = label_text(edges[("crs_grade", "crs_pathway")])
    assert "ASTCT grade = 4" in grade
    assert "patient p.json: consider_cytosorb (consider_cytosorb)" in title_text(g)
    # off-path edges were not evaluated: no guard value shown
    assert "guard =" not in label_text(edges[("tocilizumab_repeat", "give_repeat_tocilizumab")])


def test_patient_overlay_insufficient_data_shows_missing(spec: Spec) -> None:
    decision = Engine(spec).evaluate({"etiology": "car_t", "on_cytosorb": False})
    assert decision.recommendation == "insufficient_data"
    g = diagram(spec, Overlay(decision=decision))
    nodes, edges = nodes_of(g), edges_of(g)
    text = label_text(nodes["insufficient_data"])
    for name in decision.missing:
        assert name in text
    assert (decision.path[-1], "insufficient_data") in edges
    assert "guard = UNKNOWN" in label_text(edges[("crs_grade", "no_crs")])


FAKE_FINDINGS = (
    Finding(
        location=Location("specs/x.yaml", 10, 3),
        message="guards to 'a' and 'b' both hold",
        severity=Severity.ERROR,
        code="overlap",
        element="node:tocilizumab_repeat",
        witness={"etiology": "sepsis", "tocilizumab_doses": 0},
    ),
    Finding(
        location=Location("specs/x.yaml", 20, 5),
        message="edge without evidence",
        severity=Severity.WARNING,
        code="uncited",
        element="edge:crs_grade->no_crs",
    ),
    Finding(
        location=Location("specs/x.yaml", 30, 7),
        message="refuted",
        severity=Severity.ERROR,
        code="invariant",
        element="invariant:tocilizumab_dose_cap",
        witness={"weight_kg": 120},
    ),
    Finding(
        location=Location("specs/x.yaml", 40, 1),
        message="never reached",
        severity=Severity.INFO,
        code="unreachable",
        element="outcome:no_crs",
    ),
)


def test_findings_overlay_marks_elements_and_lists_witnesses(spec: Spec) -> None:
    g = diagram(spec, Overlay(findings=FAKE_FINDINGS))
    nodes, edges = nodes_of(g), edges_of(g)
    # ordered by severity, then check: F1 invariant, F2 overlap (errors), F3 uncited (warning), F4 info
    assert "⚠ F2 (error)" in label_text(nodes["tocilizumab_repeat"])
    assert attr(nodes["tocilizumab_repeat"], "color") == SEVERITY_COLOUR["error"]
    assert "⚠ F3 (warning)" in label_text(edges[("crs_grade", "no_crs")])
    assert attr(edges[("crs_grade", "no_crs")], "color") == SEVERITY_COLOUR["warning"]
    assert "⚠ F4 (info)" in label_text(nodes["no_crs"])
    table = label_text(nodes["findings"])
    assert "F1 · error · invariant · invariant:tocilizumab_dose_cap at specs/x.yaml:30:7" in table
    assert '"weight_kg": 120' in table
    assert '"etiology": "sepsis"' in table
    assert "verifier findings: 2 error, 1 warning, 1 info" in title_text(g)


def test_flag_findings_mark_their_outcome(spec: Spec) -> None:
    flag = Finding(
        location=Location("s", 1, 1),
        message="m",
        severity=Severity.INFO,
        code="missing-data",
        element="flag:car_t_note",
    )
    nodes = nodes_of(diagram(spec, Overlay(findings=(flag,))))
    assert "⚠ F1 (info)" in label_text(nodes["consider_cytosorb"])
    assert "⚠" not in label_text(nodes["cytosorb_contraindicated"])


def test_findings_overlay_with_no_findings_says_so(spec: Spec) -> None:
    g = diagram(spec, Overlay(findings=()))
    assert "none: every check passed" in label_text(nodes_of(g)["findings"])


def test_split_gives_one_diagram_per_decision(spec: Spec) -> None:
    assert views(spec) == ["full", "overview"]  # small enough to read whole
    split = views(spec, split=True)
    assert [v for v in split if v.startswith("node:")] == [f"node:{n}" for n in spec.nodes]
    sub = nodes_of(diagram(spec, view="node:cytosorb_indicated"))
    assert "continues at tocilizumab_repeat" in label_text(sub["tocilizumab_repeat"])
    assert "crs_grade" not in sub
    with pytest.raises(ValueError, match="unknown view"):
        diagram(spec, view="node:nope")


def test_large_graphs_split_by_default(spec: Spec, monkeypatch: pytest.MonkeyPatch) -> None:
    from crs_model import diagram as diagram_module

    monkeypatch.setattr(diagram_module, "SPLIT_OVER", len(spec.nodes) - 1)
    assert len(views(spec)) == 2 + len(spec.nodes)
    assert views(spec, split=False) == ["full", "overview"]


def test_first_hit_policy_numbers_edges(tmp_path: Path) -> None:
    variant = tmp_path / "first.yaml"
    raw = SPEC.read_bytes()
    head, tail = raw.split(b"crs_grade:\n      question", 1)
    variant.write_bytes(
        head + b"crs_grade:\n      question" + tail.replace(b"hit_policy: unique", b"hit_policy: first", 1)
    )
    spec = crs_model.load_spec(variant)
    g = diagram(spec)
    assert "first: first true guard" in label_text(nodes_of(g)["crs_grade"])
    labels = [label_text(edges_of(g)[("crs_grade", e.target)]) for e in spec.nodes["crs_grade"].edges]
    assert [lab.split(" ", 1)[0] for lab in labels] == ["1.", "2.", "3."]
    assert "unique:" in label_text(nodes_of(g)["tocilizumab_given"])


def test_overview_is_compact(spec: Spec) -> None:
    full, overview = dot_text(diagram(spec)), dot_text(diagram(spec, view="overview"))
    assert len(overview) < len(full) * 0.7
    assert "Sources" not in label_text(nodes_of(diagram(spec, view="overview"))["legend"])


# ------------------------------------------------------------------ command


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


@needs_graphviz
def test_render_command_writes_dot_and_images(tmp_path: Path) -> None:
    code, out, err = run("render", str(SPEC), "--out", str(tmp_path), "--format", "svg,png,pdf")
    assert code == 0, err
    for suffix in ("dot", "svg", "png", "pdf"):
        assert (tmp_path / f"cytosorb_crs.{suffix}").stat().st_size > 1000
        assert (tmp_path / f"cytosorb_crs.overview.{suffix}").is_file()
    assert (tmp_path / "cytosorb_crs.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "cytosorb_crs.pdf").read_bytes()[:5] == b"%PDF-"
    box = re.search(rb"/MediaBox \[ ?0 0 ([\d.]+) ([\d.]+) ?\]", (tmp_path / "cytosorb_crs.pdf").read_bytes())
    assert box is not None
    assert float(box[1]) <= 1191  # A3 landscape, in points
    assert float(box[2]) <= 842
    svg = ET.parse(tmp_path / "cytosorb_crs.svg").getroot()  # noqa: S314 - our own Graphviz output
    texts = " ".join(t.text or "" for t in svg.iter("{http://www.w3.org/2000/svg}text"))
    assert "Consider CytoSorb hemoadsorption" in texts
    assert f"wrote {tmp_path / 'cytosorb_crs.pdf'}" in out


def test_render_without_graphviz_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    code, _, err = run("render", str(SPEC), "--out", str(tmp_path / "d"), "--format", "dot,svg")
    assert code == 2
    assert "Graphviz 'dot' was not found" in err
    assert "Traceback" not in err
    # DOT alone needs no Graphviz
    code, _, err = run("render", str(SPEC), "--out", str(tmp_path / "d"), "--format", "dot")
    assert code == 0, err
    assert (tmp_path / "d" / "cytosorb_crs.dot").read_text(encoding="utf-8") == dot_text(
        diagram(crs_model.load_spec(SPEC))
    )


def test_render_bad_format_and_bad_patient_exit_2(tmp_path: Path) -> None:
    code, _, err = run("render", str(SPEC), "--out", str(tmp_path), "--format", "dot,gif")
    assert code == 2
    assert "choose from dot, svg, png, pdf" in err
    bad = tmp_path / "bad.json"
    bad.write_text('{"weight_kg": -5}', encoding="utf-8")
    code, _, err = run("render", str(SPEC), "--out", str(tmp_path), "--format", "dot", "--patient", str(bad))
    assert code == 2
    assert "weight_kg" in err
    assert not list(tmp_path.glob("*.dot"))


def test_render_patient_overlay_file(tmp_path: Path) -> None:
    patient = tmp_path / "grade4.json"
    patient.write_text(json.dumps(CYTOSORB_PATIENT), encoding="utf-8")
    code, out, err = run("render", str(SPEC), "--out", str(tmp_path), "--format", "dot", "--patient", str(patient))
    assert code == 0, err
    dot = (tmp_path / "cytosorb_crs.patient-grade4.dot").read_text(encoding="utf-8")
    assert "guard = TRUE" in dot
    assert "consider_cytosorb via cytosorb_running -> crs_grade -> crs_pathway -> tocilizumab_given" in out


def test_render_check_detects_stale_diagrams(tmp_path: Path) -> None:
    code, _, _ = run("render", str(SPEC), "--out", str(tmp_path), "--format", "dot")
    assert code == 0
    code, out, _ = run("render", str(SPEC), "--out", str(tmp_path), "--check")
    assert code == 0
    assert "match" in out
    spec_copy = tmp_path / "cytosorb_crs.yaml"
    spec_copy.write_bytes(SPEC.read_bytes().replace(b"version: 0.2.0", b"version: 0.2.1", 1))
    code, _, err = run("render", str(spec_copy), "--out", str(tmp_path), "--check")
    assert code == 1
    assert "stale:" in err
    assert f"crs-model render {spec_copy} --out {tmp_path}" in err


def test_render_findings_needs_or_uses_the_verifier(tmp_path: Path) -> None:
    import importlib.util

    if importlib.util.find_spec("crs_model.verify") is None:
        code, _, err = run("render", str(SPEC), "--out", str(tmp_path), "--format", "dot", "--findings")
        assert code == 2
        assert "needs the verifier" in err
        return
    code, _, err = run("render", str(SPEC), "--out", str(tmp_path), "--format", "dot", "--findings")
    assert code == 0, err
    dot = (tmp_path / "cytosorb_crs.findings.dot").read_text(encoding="utf-8")
    assert "Verifier findings" in dot
