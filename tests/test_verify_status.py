"""Honest results: an undecided query is never a pass; counts and exit codes match what is printed."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
import z3

import crs_model
from crs_model import load_spec
from crs_model.cli import main
from crs_model.signoff import signoff_path
from crs_model.verify import Verdict, to_junit, to_sarif, verify
from crs_model.verify.encoding import Undecided
from crs_model.verify.report import Check
from crs_model.verify.verifier import Verifier

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "specs" / "cytosorb_crs.yaml"
GOOD_MIN = ROOT / "tests" / "data" / "good_min.yaml"
TINY = "20000"  # enough for the shipped spec's background, not for its missing-data proof
NONLINEAR = "1000000"  # keeps the undecidable queries short


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["verify", *argv], out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def nonlinear(tmp_path: Path) -> Path:
    """good_min with a guard over ints the solver cannot decide: ``a³ + b³ = c³`` (Fermat, n = 3)."""
    text = GOOD_MIN.read_text(encoding="utf-8")
    ints = "".join(f"  {v}:\n    type: int\n    min: 1\n    max: 1000\n" for v in "abc")
    text = text.replace("definitions:\n", "").replace(
        "  il6_elevated:\n    type: bool\n    expr: il6_pg_ml >= il6_high\n    cites: [src]\n", ""
    )
    text = text.replace("parameters:\n", ints + "parameters:\n", 1)
    text = text.replace("when: not il6_elevated\n", "when: a*a*a + b*b*b == c*c*c\n")
    text = text.replace("when: il6_elevated\n", "when: not (a*a*a + b*b*b == c*c*c)\n")
    path = tmp_path / "nonlinear.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in line)


def test_nonlinear_guard_is_undecided_in_every_format(nonlinear: Path) -> None:
    code, out, _ = run(str(nonlinear), "--rlimit", NONLINEAR)
    assert code == 1
    undecided = [line for line in out.splitlines() if "[undecided]" in line]
    guard_line = _line_of(nonlinear, "when: a*a*a")
    (edge,) = [line for line in undecided if "edge start->low" in line]
    assert edge.startswith(f"{nonlinear}:{guard_line}:")
    assert ": error: [undecided]" in edge
    assert "the solver answered unknown (" in edge  # z3's reason_unknown()
    assert "--rlimit (this run: 1,000,000)" in edge
    assert "simplify the formula" in edge
    last = out.splitlines()[-1]
    assert last.startswith("FAILED:")
    # plus one decided error: with a absent, a³ + b³ = c³ is false for every a (Fermat), yet the exact
    # method (a is read in arithmetic) leaves it open - the missing-data-complete check refutes that
    complete = [line for line in out.splitlines() if ": error: [missing-data-complete]" in line]
    assert len(complete) == 1
    assert f"{len(undecided) + 1} error(s), {len(undecided)} undecided" in last

    rep = verify(load_spec(nonlinear), rlimit=int(NONLINEAR))  # the same run, in the machine formats
    assert not rep.ok
    doc = rep.to_json(timings=False)
    assert doc["summary"]["ok"] is False
    assert doc["summary"]["undecided"] == len(undecided)
    verdicts = {c["name"]: c["verdict"] for c in doc["checks"]}
    assert verdicts["contradiction"] == "unknown"
    assert verdicts["uncited"] == "proven"
    (contradiction,) = [c for c in doc["checks"] if c["name"] == "contradiction"]
    assert contradiction["undecided"] == ["edge:start->low"]
    (f,) = [f for f in doc["findings"] if f["element"] == "edge:start->low"]
    assert (f["check"], f["severity"], f["location"]["line"]) == ("undecided", "error", guard_line)

    (run_,) = to_sarif([rep], tool_version="test")["runs"]
    results = [r for r in run_["results"] if r["ruleId"] == "undecided"]
    assert len(results) == len(undecided)
    assert {r["level"] for r in results} == {"error"}
    assert "undecided" in [r["id"] for r in run_["tool"]["driver"]["rules"]]

    suite = ET.fromstring(to_junit([rep])).find("testsuite")  # noqa: S314 - parses our own output
    assert suite is not None
    errored = [c.get("name") for c in suite.findall("testcase") if c.find("error") is not None]
    assert "contradiction" in errored
    assert int(suite.get("errors", "0")) == len(errored)


def test_tiny_rlimit_on_the_shipped_spec_fails_and_keeps_what_it_proved() -> None:
    assert run(str(SHIPPED))[0] == 0
    code, out, _ = run(str(SHIPPED), "--rlimit", TINY, "--format", "json")
    doc = json.loads(out)
    assert code == 1
    assert doc["summary"]["ok"] is False
    assert doc["summary"]["undecided"] >= 1
    # the partial run keeps every invariant it proved
    assert len(doc["invariants"]) == len(crs_model.load_spec(SHIPPED).invariants)
    assert set(doc["invariants"].values()) == {"proven"}
    assert "unknown" in {c["verdict"] for c in doc["checks"]}
    code, out, _ = run(str(SHIPPED), "--rlimit", "1")  # not even the background: everything unknown
    assert code == 1
    n = len(crs_model.load_spec(SHIPPED).invariants)
    assert f"0/{n} invariants proven ({n} unknown)" in out.splitlines()[-1]


class _StopsAtThirdInvariant(Verifier):
    """The solver answers unknown on the third invariant's query only."""

    calls = -1  # counting starts with the invariant check

    def status(self, *goal: z3.BoolRef, local: bool = False, on: z3.Solver | None = None) -> bool:
        if self.calls >= 0:
            self.calls += 1
            if self.calls == 3:
                raise Undecided("max. resource limit exceeded")
        return super().status(*goal, local=local, on=on)

    def run_check(self, check: Check) -> None:
        self.calls = 0 if check is Check.INVARIANT else -1
        super().run_check(check)


def test_one_undecided_invariant_does_not_drop_the_others() -> None:
    spec = load_spec(SHIPPED)
    rep = _StopsAtThirdInvariant(spec).run()
    ids = [i.id for i in spec.invariants]
    assert list(rep.invariant_status) == ids  # every invariant has a status
    assert rep.invariant_status[ids[2]] == Verdict.UNKNOWN
    assert all(rep.invariant_status[i] == Verdict.PROVEN for i in ids if i != ids[2])
    (check,) = [c for c in rep.checks if c.name == "invariant"]
    assert (check.status, check.verdict, check.undecided) == ("failed", Verdict.UNKNOWN, (f"invariant:{ids[2]}",))
    (f,) = rep.undecided
    assert f.location == spec.invariants[2].formula.loc
    assert "raise --rlimit" in f.message.split("; ")[-1].split(" or ")[0]  # a resource limit: that hint first
    assert not rep.ok


def test_rlimit_must_be_positive() -> None:
    for bad in ("0", "-5", "lots", "１０", "4294967296", "1e9"):
        code, out, err = run(str(SHIPPED), "--rlimit", bad)
        assert code == 2
        assert err.startswith("crs-model: error: --rlimit=")
        assert out == ""
    assert run(str(SHIPPED), "--rlimit", "100_000", "--check", "uncited")[0] == 0
    with pytest.raises(ValueError, match="rlimit=0"):
        verify(load_spec(SHIPPED), rlimit=0)


# ------------------------------------------------------------------ counts and exit codes
def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "cytosorb_crs.yaml"
    shutil.copyfile(SHIPPED, target)
    return target


def test_unsigned_spec_warning_is_counted_in_every_format(tmp_path: Path) -> None:
    spec = _copy(tmp_path)
    code, out, err = run(str(spec), "--check", "gap")
    warnings = [line for line in out.splitlines() if ": warning: " in line]
    assert code == 0
    assert len(warnings) == 1
    assert "[signoff]" in warnings[0]
    assert "1 warning(s)" in out.splitlines()[-1]
    assert "[signoff]" not in err  # once, in the report
    doc: dict[str, Any] = json.loads(run(str(spec), "--check", "gap", "--format", "json")[1])
    assert doc["summary"]["warning"] == 1
    assert [f["element"] for f in doc["findings"] if f["check"] == "signoff"] == ["spec:sha256"]
    sarif = json.loads(run(str(spec), "--check", "gap", "--format", "sarif")[1])
    assert [r["level"] for r in sarif["runs"][0]["results"] if r["ruleId"] == "signoff"] == ["warning"]
    suite = ET.fromstring(run(str(spec), "--check", "gap", "--format", "junit")[1]).find("testsuite")  # noqa: S314
    assert suite is not None
    (case,) = [c for c in suite.findall("testcase") if c.get("name") == "signoff"]
    assert case.find("failure") is None
    assert case.find("system-out") is not None


def test_malformed_signoff_file_fails_the_run(tmp_path: Path) -> None:
    spec = _copy(tmp_path)
    signoff_path(spec).write_text("- sha256: abc\n  name: A\n  role: r\n  date: '2026-01-01'\n", encoding="utf-8")
    code, out, _ = run(str(spec), "--check", "gap")
    assert code == 1
    (line,) = [line for line in out.splitlines() if ": error: [signoff]" in line]
    assert "signoff.yaml:1:3" in line
    assert out.splitlines()[-1].startswith("FAILED:")
    assert "1 error(s)" in out.splitlines()[-1]
    doc = json.loads(run(str(spec), "--check", "gap", "--format", "json")[1])
    assert doc["summary"]["error"] == 1
    assert doc["summary"]["ok"] is False
    suite = ET.fromstring(run(str(spec), "--check", "gap", "--format", "junit")[1]).find("testsuite")  # noqa: S314
    assert suite is not None
    (case,) = [c for c in suite.findall("testcase") if c.get("name") == "signoff"]
    assert case.find("failure") is not None
    assert suite.get("failures") == "1"


def test_usage_errors_and_the_spec_alias(tmp_path: Path) -> None:
    code, _, err = run("--check", "bogus", str(SHIPPED))
    assert code == 2
    assert err.startswith("crs-model: error: unknown check bogus")
    spec = _copy(tmp_path)
    assert run("--spec", str(spec), "--check", "uncited")[1] == run(str(spec), "--check", "uncited")[1]


def test_a_warning_refutes_its_check_without_failing_the_run() -> None:
    code, out, _ = run(str(ROOT / "specs" / "examples" / "faulty" / "13_uncited_edge.yaml"), "--format", "json")
    doc = json.loads(out)
    assert code == 0
    (uncited,) = [c for c in doc["checks"] if c["name"] == "uncited"]
    assert (uncited["status"], uncited["verdict"]) == ("passed", "refuted")
    (redundant,) = [c for c in doc["checks"] if c["name"] == "redundant"]
    assert redundant["verdict"] == "proven"  # info findings are notes, they refute nothing
