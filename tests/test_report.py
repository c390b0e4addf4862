"""The governance pack: complete, self-contained, deterministic; HTML and Markdown."""

from __future__ import annotations

import importlib.util
import io
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

import crs_model
from crs_model.cli import main
from crs_model.errors import Location
from crs_model.model import Severity, Spec
from crs_model.report import PackInputs, gather, load_trace_map, to_html, to_markdown, trace_path
from crs_model.text import Renderer, fmt_number
from crs_model.verify.report import CheckResult, Finding, Report
from tests.conftest import SPEC_PATH as SPEC

ROOT = Path(__file__).resolve().parent.parent
HAS_VERIFIER = importlib.util.find_spec("crs_model.verify") is not None


@pytest.fixture
def spec_copy(tmp_path: Path) -> Path:
    target = tmp_path / "cytosorb_crs.yaml"
    shutil.copyfile(SPEC, target)
    return target


def fake_report(spec: Spec) -> Report:
    status = {inv.id: "proven" for inv in spec.invariants}
    status["tocilizumab_dose_cap"] = "refuted"
    md = spec.metadata
    return Report(
        spec_path=spec.path,
        spec_id=md.id,
        spec_version=md.version,
        spec_sha256=spec.sha256,
        solver_version="4.99.0",
        findings=(
            Finding(
                location=Location(spec.path, 900, 5),
                message="A tocilizumab dose is never above 800 mg: false for weight 120 kg",
                severity=Severity.ERROR,
                code="invariant",
                element="invariant:tocilizumab_dose_cap",
                witness={"weight_kg": 120.0, "etiology": "car_t"},
            ),
            Finding(
                location=Location(spec.path, 500, 9),
                message="conjunct implied",
                severity=Severity.INFO,
                code="redundant",
                element="edge:a->b",
                witness={"age_years": 3},
            ),
        ),
        invariant_status=status,
        checks=(CheckResult("invariant", "failed", 0.0, 1), CheckResult("overlap", "passed", 0.0, 0)),
    )


class Collector(HTMLParser):
    """Tags, external references and text of an HTML document."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.refs: list[str] = []
        self.ids: list[str] = []
        self.hrefs: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for k, v in attrs:
            if k in ("src", "srcset", "data", "poster", "xlink:href", "action") and v:
                self.refs.append(v)
            if k == "href" and v:
                self.hrefs.append(v)
            if k == "id" and v:
                self.ids.append(v)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(doc: str) -> Collector:
    c = Collector()
    c.feed(doc)
    c.close()
    return c


def plain_text(doc: str) -> str:
    return " ".join(" ".join(parse(doc).text).split())


def test_html_is_complete(spec: Spec) -> None:
    doc = to_html(spec, PackInputs(verify_report=fake_report(spec), svg="<svg><g/></svg>"))
    text = plain_text(doc)
    md = spec.metadata
    for piece in (md.title, md.id, md.version, "DRAFT", spec.sha256, "NOT SIGNED OFF"):
        assert piece in text
    words = Renderer(spec.symbols)
    for node in spec.nodes.values():
        assert " ".join(node.question.split()) in text
        for e in node.edges:
            assert words.render(e.guard.ast) in text
    for name, p in spec.parameters.items():
        assert name in text
        assert " ".join(p.rationale.split())[:60] in text
        if not isinstance(p.value, bool):
            assert fmt_number(p.value, p.unit) in text
    for o in spec.outcomes.values():
        assert o.title in text
        for a in o.actions:
            assert " ".join(a.text.split()) in text
    for inv in spec.invariants:
        assert inv.id in text
    for g in spec.governance:
        assert g.title in text
        assert " ".join(g.conservative_choice.split()) in text
    for eid in spec.evidence:
        assert eid in text
    assert "expert opinion" in text
    assert "GRADE very low" in text
    assert "<svg><g/></svg>" in doc


def test_html_proof_status_counterexample_and_findings(spec: Spec) -> None:
    doc = to_html(spec, PackInputs(verify_report=fake_report(spec)))
    text = plain_text(doc)
    assert text.count("proven") >= len(spec.invariants) - 1
    assert "REFUTED" in text
    assert "Counterexample for tocilizumab_dose_cap" in text
    assert '"weight_kg": 120.0' in text
    # findings grouped by severity, errors first
    assert text.index("Error (1)") < text.index("Info (1)")
    assert "Warning (" not in text
    assert "conjunct implied" in text
    # info witnesses are collapsed, error witnesses shown
    assert "<details><summary>Witness patient</summary><pre>{\n  &quot;age_years&quot;: 3\n}</pre></details>" in doc
    assert f"{spec.path}:900:5" in text


def test_html_without_verifier_says_so(spec: Spec) -> None:
    text = plain_text(to_html(spec, PackInputs(verify_note="not available in this build")))
    assert "Proof status unknown: not available in this build" in text
    assert "The verifier was not run: not available in this build" in text
    assert "not verified" in text


def test_html_is_self_contained_and_well_formed(spec: Spec) -> None:
    doc = to_html(spec, gather(spec, verifier=False))
    c = parse(doc)
    assert c.refs == []  # no src=, no external objects
    assert "script" not in c.tags
    assert "link" not in c.tags
    assert "style" in c.tags
    for href in c.hrefs:
        assert href.startswith("#"), href
        assert href[1:] in c.ids, f"dangling anchor {href}"
    assert len(c.ids) == len(set(c.ids)), "duplicate ids"
    # the only URLs are XML namespace names inside the inline SVG
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", doc))
    assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}, urls
    if shutil.which("dot"):
        assert "<svg" in doc
        assert "<?xml" not in doc
        assert "<!DOCTYPE svg" not in doc


def test_pack_is_deterministic(spec: Spec) -> None:
    again = crs_model.load_spec(SPEC)
    a = gather(spec, verifier=False)
    b = gather(again, verifier=False)
    assert to_html(spec, a) == to_html(again, b)
    assert to_markdown(spec, a) == to_markdown(again, b)


def test_traceability_absent_then_present(spec_copy: Path) -> None:
    spec = crs_model.load_spec(spec_copy)
    assert load_trace_map(spec_copy) is None
    text = plain_text(to_html(spec, gather(spec, verifier=False, svg=False)))
    assert f"No traceability map: {trace_path(spec_copy)} is absent" in text

    trace_path(spec_copy).write_text(
        "- id: s1\n"
        "  match: failed standard therapies including anti-IL-6 therapy\n"
        "  section: Indications\n"
        "  encoded_by: [node:cytosorb_indicated, invariant:cytosorb_after_tocilizumab_and_steroids]\n"
        "- id: s2\n"
        "  match: post-treatment IL-6 levels >620 pg/mL\n"
        "  section: Monitoring\n"
        "  encoded_by: [flag:no_such_flag]\n"
        "- id: s3\n"
        "  match: reductions are typically seen within 24-48 hours\n"
        "  section: Monitoring\n"
        "  not_encoded: descriptive, no decision depends on it\n",
        encoding="utf-8",
    )
    tm = load_trace_map(spec_copy)
    assert tm is not None
    assert [e.id for e in tm.entries] == ["s1", "s2", "s3"]
    text = plain_text(to_html(spec, gather(spec, verifier=False, svg=False)))
    assert "3 seed statements from" in text
    assert "2 encoded, 1 not encoded" in text
    assert "“failed standard therapies including anti-IL-6 therapy”" in text
    assert "node:cytosorb_indicated" in text
    assert "flag:no_such_flag unknown element" in text
    assert "not encoded descriptive, no decision depends on it" in text


def test_shipped_traceability_map_is_rendered(spec: Spec) -> None:
    import yaml

    path = trace_path(spec.path)
    if not path.is_file():
        pytest.skip(f"{path} is not in this tree")
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    entries = raw["statements"] if isinstance(raw, dict) else raw
    tm = load_trace_map(spec.path)
    assert tm is not None
    assert tm.problems == ()
    assert [e.id for e in tm.entries] == [e["id"] for e in entries]
    doc = to_html(spec, gather(spec, verifier=False, svg=False))
    text = plain_text(doc)
    assert f"{len(entries)} seed statements from" in text
    assert "unknown element" not in text
    assert 'href="#node-cytosorb_indicated"' in doc  # encoded elements link to their rule


def test_trace_map_as_mapping_with_entries(spec_copy: Path) -> None:
    trace_path(spec_copy).write_text(
        "entries:\n  - {id: a, match: x, section: s, encoded_by: [outcome:no_crs]}\n", encoding="utf-8"
    )
    tm = load_trace_map(spec_copy)
    assert tm is not None
    assert tm.entries[0].encoded_by == ("outcome:no_crs",)


def test_markdown_tables_are_well_formed(spec: Spec) -> None:
    md = to_markdown(spec, PackInputs(verify_report=fake_report(spec)))
    assert md.startswith(f"# {spec.metadata.title} — governance pack")
    lines = md.splitlines()
    in_code = False
    for i, line in enumerate(lines):
        if line.startswith("```"):
            in_code = not in_code
        if in_code or not line.startswith("|"):
            continue
        cells = len(re.findall(r"(?<!\\)\|", line))
        header = i
        while header > 0 and lines[header - 1].startswith("|"):
            header -= 1
        assert cells == len(re.findall(r"(?<!\\)\|", lines[header])), line
    assert "<svg" not in md
    assert "**\\[REFUTED\\]**" in md
    assert "\\[actemra\\_label · GRADE low\\]" in md
    assert "No records in `" in md  # inline pieces keep their separating space
    assert '"weight_kg": 120.0' in md
    for g in spec.governance:
        assert f"### {g.title}" in md.replace("\\", "")


def test_report_command_writes_html_and_markdown(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    html_path = tmp_path / "pack.html"
    assert main(["report", str(SPEC), "--out", str(html_path)], out, err) == 0, err.getvalue()
    assert html_path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    md_path = tmp_path / "pack.md"
    assert main(["report", str(SPEC), "--out", str(md_path), "--no-verify"], out, err) == 0
    assert md_path.read_text(encoding="utf-8").startswith("# ")
    out = io.StringIO()
    assert main(["report", str(SPEC), "--format", "markdown", "--no-verify"], out, err) == 0
    assert out.getvalue() == md_path.read_text(encoding="utf-8")
    if not HAS_VERIFIER:
        assert "verifier" in err.getvalue() or "crs_model.verify" in err.getvalue()


def test_pack_with_the_real_verifier(spec: Spec) -> None:
    inputs = gather(spec, svg=False)
    assert inputs.verify_report is not None
    text = plain_text(to_html(spec, inputs))
    status = inputs.verify_report.invariant_status
    assert set(status) == {inv.id for inv in spec.invariants}
    assert "Proof status unknown" not in text
    assert f"Z3 solver {inputs.verify_report.solver_version}" in text


def test_markup_in_spec_text_is_escaped(spec_copy: Path) -> None:
    raw = spec_copy.read_text(encoding="utf-8")
    raw = raw.replace(
        "title: CytoSorb hemoadsorption in cytokine release syndrome",
        "title: 'CytoSorb <script>alert(1)</script> & <b>CRS</b>'",
        1,
    )
    raw = raw.replace("question: What is the ASTCT CRS grade?", "question: 'Grade < 2 & \"x\" <i>?'", 1)
    spec_copy.write_text(raw, encoding="utf-8")
    spec = crs_model.load_spec(spec_copy)
    doc = to_html(spec, gather(spec, verifier=False))
    tags = parse(doc).tags
    assert "script" not in tags
    assert "i" not in tags
    assert "b" not in tags
    assert "CytoSorb <script>alert(1)</script> & <b>CRS</b>" in plain_text(doc)
    md = to_markdown(spec, gather(spec, verifier=False, svg=False))
    assert "<script>" not in md
    if shutil.which("dot"):  # Graphviz accepts the escaped HTML labels
        from crs_model.render import diagram, dot_text, run_graphviz

        svg = run_graphviz(dot_text(diagram(spec)), "svg").decode()
        assert "Grade &lt; 2 &amp; &quot;x&quot; &lt;i&gt;?" in svg
