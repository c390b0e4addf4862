"""The impact report: its numbers against a Python count over the same rows, the audit's row numbering,
the comparison with an older spec, the CLI and the page's determinism and self-containment."""

from __future__ import annotations

import io
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

duckdb = pytest.importorskip("duckdb")
pq = pytest.importorskip("pyarrow.parquet")
pytest.importorskip("matplotlib")

from crs_model import load_spec  # noqa: E402
from crs_model.cli import main  # noqa: E402
from crs_model.cohort.columns import input_columns  # noqa: E402
from crs_model.cohort.impact import (  # noqa: E402
    CONSTRAINT_FIELD_PATTERN,
    FIELD_PATTERN,
    MAX_EXAMPLES,
    MAX_LEVELS,
    TOP_ERRORS,
    AuditError,
    build_audit,
    impact,
)
from crs_model.cohort.impact_html import impact_html  # noqa: E402
from crs_model.cohort.impact_report import _projected  # noqa: E402
from crs_model.cohort.readers import read_batches  # noqa: E402
from crs_model.cohort.runner import run_cohort  # noqa: E402
from crs_model.model import INSUFFICIENT_DATA, OutcomeClass  # noqa: E402
from tests.cohort_support import generated_rows, write_rows  # noqa: E402
from tests.conftest import SPEC_PATH  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OLD_PATH = ROOT / "specs" / "history" / "cytosorb_crs-0.1.0.yaml"
SPEC = load_spec(SPEC_PATH)
OLD = load_spec(OLD_PATH)
N = 3000


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """3,000 generated rows, this spec's result and the older spec's result on the same rows."""
    d = tmp_path_factory.mktemp("impact")
    rows = generated_rows(SPEC, N, seed=11, invalid_share=0.02)
    src = write_rows(SPEC, d / "in.parquet", rows)
    run_cohort(SPEC, read_batches(SPEC, str(src)), d / "new.parquet")
    run_cohort(OLD, _projected(read_batches(SPEC, str(src)), SPEC, OLD), d / "old.parquet")
    new = pq.read_table(d / "new.parquet").to_pylist()
    old = pq.read_table(d / "old.parquet").to_pylist()
    con = duckdb.connect()
    build_audit(con, SPEC, str(src), d / "new.parquet")
    build_audit(con, OLD, str(src), d / "old.parquet", name="old_audit")
    return {"dir": d, "src": src, "rows": rows, "new": new, "old": old, "con": con}


def test_numbers_equal_a_python_count_over_the_result_rows(cohort: dict[str, Any]) -> None:
    rows, res = cohort["rows"], cohort["new"]
    imp = impact(cohort["con"], SPEC)
    decided = [r for r in res if r["error"] is None]
    assert imp.total == N
    assert imp.invalid == sum(r["error"] is not None for r in res) > 0
    recs = Counter(r["recommendation"] for r in decided)
    assert dict(imp.by_recommendation) == {c: recs.get(c, 0) for c in [*SPEC.recommendations, INSUFFICIENT_DATA]}
    assert dict(imp.by_outcome) == {o: Counter(r["outcome"] for r in decided).get(o, 0) for o in SPEC.outcomes}
    assert imp.insufficient == recs[INSUFFICIENT_DATA] > 0
    alerting = {c for c, rc in SPEC.recommendations.items() if rc.cls is not OutcomeClass.NO_CONDITION}
    assert set(imp.alert_codes) == alerting
    assert imp.alerts == sum(r["recommendation"] in alerting for r in decided)
    assert imp.alerts_per_1000 == pytest.approx(1000 * imp.alerts / N)
    # inputs come from the input rows: the join on row is right only if the numbering is
    enums = [n for n, v in SPEC.variables.items() if v.type.values]
    assert [c.name for c in imp.by_input] == enums
    for c in imp.by_input:
        want = Counter(rows[r["row"]][c.name] for r in decided)
        assert dict(c.counts) == {v: want.get(v, 0) for v in [*SPEC.variables[c.name].type.values, None]}
    for c in imp.by_output:
        assert dict(c.counts) == dict(Counter(r[c.name] for r in decided))
    finite = [
        o
        for o in SPEC.outputs
        if SPEC.symbols[o].type.base in ("bool", "enum", "int") and len({r[o] for r in decided} - {None}) <= MAX_LEVELS
    ]
    assert [c.name for c in imp.by_output] == finite != []
    assert set(imp.skipped_outputs) == set(SPEC.outputs) - set(finite)
    missing = Counter(m for r in decided for m in r["missing"])
    assert dict(imp.missing) == dict(missing)
    assert [n for _, n in imp.missing] == sorted(missing.values(), reverse=True)

    def field(error: str) -> str:
        m = re.match(FIELD_PATTERN, error) or re.search(CONSTRAINT_FIELD_PATTERN, error)
        return m.group(1) if m else error[:80]

    fields = Counter(field(r["error"]) for r in res if r["error"] is not None)
    assert list(imp.error_fields) == sorted(fields.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_ERRORS]
    assert all(f in SPEC.variables for f, _ in imp.error_fields)
    assert imp.change is None


def test_alert_codes_can_be_chosen(cohort: dict[str, Any]) -> None:
    code = next(iter(SPEC.recommendations))
    imp = impact(cohort["con"], SPEC, alerts=[code, INSUFFICIENT_DATA])
    assert imp.alerts == sum(r["recommendation"] in (code, INSUFFICIENT_DATA) for r in cohort["new"])
    assert imp.alert_codes == (code, INSUFFICIENT_DATA)
    assert imp.alerts != impact(cohort["con"], SPEC).alerts


def _decision(r: dict[str, Any], outputs: list[str]) -> tuple[Any, ...]:
    flags = None if r["flags"] is None else sorted(r["flags"])
    return (r["recommendation"], r["outcome"], *(r[o] for o in outputs), flags)


def test_compare_counts_every_changed_row(cohort: dict[str, Any]) -> None:
    new, old = cohort["new"], cohort["old"]
    shared = [o for o in SPEC.outputs if o in OLD.outputs]
    changed = {r["row"] for r, o in zip(new, old, strict=True) if _decision(r, shared) != _decision(o, shared)}
    imp = impact(cohort["con"], SPEC, compare="old_audit")
    ch = imp.change
    assert ch is not None
    assert ch.changed == len(changed) > 0
    want = Counter((old[r]["recommendation"], new[r]["recommendation"]) for r in changed)
    assert {(a, b): n for a, b, n in ch.transitions} == dict(want)
    parts = dict(ch.by_part)
    assert parts["recommendation"] == sum(new[r]["recommendation"] != old[r]["recommendation"] for r in changed)
    assert len(ch.examples) == min(MAX_EXAMPLES, len(changed))
    kinds = {(e.old_recommendation, e.new_recommendation) for e in ch.examples}
    assert len(kinds) == min(len(want), MAX_EXAMPLES)  # the first of each transition in turn
    for e in ch.examples:
        assert e.row in changed
        assert (e.old_recommendation, e.new_recommendation) == (
            old[e.row]["recommendation"],
            new[e.row]["recommendation"],
        )
        assert dict(e.inputs) == {k: v for k, v in cohort["rows"][e.row].items() if v is not None}
        assert e.changed


def test_identical_runs_have_no_change(cohort: dict[str, Any]) -> None:
    con = cohort["con"]
    build_audit(con, SPEC, str(cohort["src"]), cohort["dir"] / "new.parquet", name="same")
    ch = impact(con, SPEC, compare="same").change
    assert ch is not None
    assert (ch.changed, ch.transitions, ch.examples) == (0, (), ())


def test_audit_numbers_rows_as_the_reader_does(cohort: dict[str, Any], tmp_path: Path) -> None:
    rows = cohort["rows"][:500]
    (tmp_path / "parts").mkdir()
    write_rows(SPEC, tmp_path / "parts" / "b.parquet", rows[300:])
    write_rows(SPEC, tmp_path / "parts" / "a.parquet", rows[:300])  # sorted path order, not creation order
    write_rows(SPEC, tmp_path / "in.csv", rows)
    write_rows(SPEC, tmp_path / "in.jsonl", rows)
    cols = [c.name for c in input_columns(SPEC)]
    for source in (tmp_path / "parts", tmp_path / "in.csv", tmp_path / "in.jsonl"):
        result = tmp_path / f"{source.name}.result.jsonl"
        run_cohort(SPEC, read_batches(SPEC, str(source)), result)
        con = duckdb.connect()
        build_audit(con, SPEC, str(source), result)
        got = con.execute("SELECT * FROM crs_audit ORDER BY row").fetchall()
        names = [d[0] for d in con.description]
        assert len(got) == len(rows)
        for i, g in enumerate(got):
            rec = dict(zip(names, g, strict=True))
            assert rec["row"] == i
            want = {k: rows[i].get(k) for k in cols if rows[i].get(k) is not None}
            have = {k: rec[k] for k in cols if rec[k] is not None}
            if rec["error"] is None:  # an invalid cell of a text format reads as absent in the audit
                assert have == pytest.approx(want), (source, i)


def test_a_result_of_another_input_is_refused(cohort: dict[str, Any], tmp_path: Path) -> None:
    short = write_rows(SPEC, tmp_path / "short.parquet", cohort["rows"][:10])
    with pytest.raises(AuditError, match="3000 result rows for 10 input rows"):
        build_audit(duckdb.connect(), SPEC, str(short), cohort["dir"] / "new.parquet")


def test_every_text_is_escaped(cohort: dict[str, Any]) -> None:
    imp = impact(cohort["con"], SPEC)
    from dataclasses import replace

    page = impact_html(replace(imp, error_fields=(("<script>x</script>", 3),)), SPEC, input_source="a<b>.parquet")
    assert "<script" not in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page
    assert "a&lt;b&gt;.parquet" in page


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_cli_writes_a_deterministic_self_contained_report(cohort: dict[str, Any], tmp_path: Path) -> None:
    src = str(cohort["src"])
    pages = []
    for i in range(2):
        report = tmp_path / f"r{i}.html"
        code, out, err = _run("cohort", src, "--out", str(tmp_path / f"r{i}.parquet"), "--report", str(report))
        assert code == 0, err
        assert f"{report}: impact report" in out
        pages.append(report.read_text(encoding="utf-8").replace(f"r{i}.parquet", "R"))
    assert pages[0] == pages[1]  # byte-identical but for the result name
    page = pages[0]
    assert page.count("<svg") >= 3  # recommendations, each counted output, missing inputs
    for external in ("http", "<script", " src=", "@import"):
        assert external not in page
    assert SPEC.metadata.title in page
    for rc in SPEC.recommendations.values():
        assert rc.label in page
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))


def test_cli_compares_with_an_older_spec(cohort: dict[str, Any], tmp_path: Path) -> None:
    report = tmp_path / "c.html"
    argv = ["cohort", str(cohort["src"]), "--out", str(tmp_path / "c.parquet"), "--report", str(report)]
    code, _, err = _run(*argv, "--compare", str(OLD_PATH), "--alert", "consider_cytosorb")
    assert code == 0, err
    page = report.read_text(encoding="utf-8")
    ch = impact(cohort["con"], SPEC, compare="old_audit").change
    assert ch is not None
    assert f"Changes against version {OLD.metadata.version}" in page
    assert f"{ch.changed:,} of {N:,} snapshots" in page
    assert "Transition matrix" in page
    assert page.count("<tr>") > 20
    assert (
        "An alert is a row whose recommendation is one of: consider CytoSorb (<code>consider_cytosorb</code>)." in page
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--report", "{d}/r.txt"], "the report must be an .html file"),
        (["--report", "{d}/no/such/folder/r.html"], "does not exist or is not writable"),
        (["--report", "{d}"], "the report must be an .html file"),
        (["--compare", str(OLD_PATH)], "--compare needs --report FILE.html"),
        (["--report", "{d}/r.html", "--alert", "consider_cytosorbb"], "is not a recommendation code of the spec"),
        (["--report", "{d}/r.html", "--compare", "{d}/missing.yaml"], "missing.yaml"),
    ],
)
def test_cli_bad_report_arguments_exit_2(
    cohort: dict[str, Any], tmp_path: Path, extra: list[str], message: str
) -> None:
    argv = ["cohort", str(cohort["src"]), "--out", str(tmp_path / "x.parquet"), *(a.format(d=tmp_path) for a in extra)]
    code, _, err = _run(*argv)
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert not (tmp_path / "x.parquet").exists()  # refused before the run


def test_matplotlib_loads_only_when_a_report_is_drawn() -> None:
    from tests.conftest import modules_loaded

    code = "import crs_model, crs_model.cli, crs_model.commands.cohort, crs_model.cohort.impact_report"
    assert modules_loaded(code, ("matplotlib", "duckdb")) == []


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_older_spec_on_duckdb_equals_it_on_the_python_engine(
    cohort: dict[str, Any], tmp_path: Path, suffix: str
) -> None:
    """``--compare`` decides the older spec by the main run's engine: on DuckDB, the input's columns the
    older spec does not declare are read as absent, as the python engine's projection drops them."""
    from crs_model.cohort.duck import DuckDBBackend
    from crs_model.cohort.pipeline import run_sql_cohort
    from tests.cohort_support import mismatches

    src = write_rows(SPEC, tmp_path / f"in{suffix}", cohort["rows"])
    drop = frozenset(SPEC.variables) - frozenset(OLD.variables)
    assert drop  # the newer spec has inputs the older one does not know
    py, sql = tmp_path / "py.parquet", tmp_path / "sql.parquet"
    run_cohort(OLD, _projected(read_batches(SPEC, str(src)), SPEC, OLD), py)
    with DuckDBBackend() as backend:
        summary = run_sql_cohort(OLD, backend, str(src), sql, ignore=drop)
    assert summary.rows == N
    assert mismatches(OLD, py, sql) == []
    if suffix == ".parquet":
        assert pq.read_table(py).equals(pq.read_table(cohort["dir"] / "old.parquet"))


def test_compare_runs_the_older_spec_on_the_main_runs_engine(
    cohort: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the default engine, the older spec is never decided row by row in Python; when its types do
    not fit the file's columns (a real column for an input it declares integral), it is, and each row's
    value is reported by the older spec's validator."""
    calls: list[str] = []

    def counted(spec: Any, *a: Any, **kw: Any) -> Any:
        calls.append(spec.metadata.version)
        return run_cohort(spec, *a, **kw)

    monkeypatch.setattr("crs_model.cohort.impact_report.run_cohort", counted)
    argv = ["cohort", str(cohort["src"]), "--out", str(tmp_path / "c.parquet"), "--report", str(tmp_path / "c.html")]
    code, _, err = _run(*argv, "--compare", str(OLD_PATH))
    assert code == 0, err
    assert calls == []
    expected = impact(cohort["con"], SPEC, compare="old_audit").change
    assert expected is not None
    assert f"{expected.changed:,} of {N:,} snapshots" in (tmp_path / "c.html").read_text(encoding="utf-8")
    # an older spec whose integral temperature cannot be read from the file's real column
    text = OLD_PATH.read_text(encoding="utf-8")
    retyped = text.replace("  temperature_c:\n    type: real", "  temperature_c:\n    type: int", 1)
    assert retyped != text
    old_int = tmp_path / "old-int.yaml"
    old_int.write_text(retyped, encoding="utf-8")
    code, _, err = _run(*argv, "--compare", str(old_int))
    assert code == 0, err
    assert calls == [OLD.metadata.version]
    page = (tmp_path / "c.html").read_text(encoding="utf-8")
    assert f"Changes against version {OLD.metadata.version}" in page


@pytest.mark.parametrize("engine", ["python", "duckdb"])
def test_compare_uses_the_main_runs_semantics(cohort: dict[str, Any], tmp_path: Path, engine: str) -> None:
    """With ``--semantics three-valued`` both specs decide three-valued: the changes are between versions,
    never between semantics."""
    src = str(cohort["src"])
    new, old = tmp_path / "new3.parquet", tmp_path / "old3.parquet"
    run_cohort(SPEC, read_batches(SPEC, src), new, exact=False)
    run_cohort(OLD, _projected(read_batches(SPEC, src), SPEC, OLD), old, exact=False)
    con = duckdb.connect()
    build_audit(con, SPEC, src, new)
    build_audit(con, OLD, src, old, name="old3")
    want = impact(con, SPEC, compare="old3").change
    exact_change = impact(cohort["con"], SPEC, compare="old_audit").change
    assert want is not None
    assert exact_change is not None
    assert want.changed != exact_change.changed  # the semantics matter on these rows: the check can fail
    report = tmp_path / "s.html"
    code, _, err = _run(
        "cohort", src, "--out", str(tmp_path / "s.parquet"), "--engine", engine, "--semantics", "three-valued",
        "--report", str(report), "--compare", str(OLD_PATH),
    )  # fmt: skip
    assert code == 0, err
    assert f"{want.changed:,} of {N:,} snapshots" in report.read_text(encoding="utf-8")
