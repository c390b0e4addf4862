"""A committee renames every code, class label and output in the spec: no Python change follows.

The shipped spec with every recommendation code, every outcome class label and every reported
output (and its definition) renamed to neutral names (word-boundary substitution on the YAML
text) loads, verifies with the same findings and verdicts, decides every vignette as renamed,
renders its diagrams and writes its governance pack.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

import crs_model
from crs_model.cli import main
from crs_model.model import OutcomeClass, Spec
from crs_model.verify import Report, verify
from tests.vignette_support import SPEC_PATH, check_expectations, load_vignettes

SHIPPED = crs_model.load_spec(SPEC_PATH)
VIGNETTES = load_vignettes()
CODES = {c: f"rec_{i}" for i, c in enumerate(SHIPPED.recommendations, 1)}
OUTPUTS = {o: f"out_{i}" for i, o in enumerate(SHIPPED.outputs, 1)}
NAMES = {**CODES, **OUTPUTS}
_WORD = re.compile(r"\b(" + "|".join(map(re.escape, NAMES)) + r")\b")
# every class the codes use (and the built-in one), each with a neutral label
LABELS = {c: f"Kind {chr(65 + i)}" for i, c in enumerate(OutcomeClass)}


def rename(value: Any) -> Any:
    """``value`` with every code and output name replaced as a whole word (strings, lists, keys)."""
    if isinstance(value, str):
        return _WORD.sub(lambda m: NAMES[m.group(1)], value)
    if isinstance(value, list):
        return [rename(v) for v in value]
    if isinstance(value, dict):
        return {rename(k): rename(v) for k, v in value.items()}
    return value


def renamed_text() -> str:
    text = rename(SPEC_PATH.read_text(encoding="utf-8"))
    block = "outcome_classes:\n" + "".join(f"  {c.value}: {{label: {label}}}\n" for c, label in LABELS.items())
    text, n = re.subn(r"^outcome_classes:\n(?:  .*\n)*", block, text, count=1, flags=re.M)
    assert n == 1
    return text


@pytest.fixture(scope="module")
def renamed_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("renamed") / "renamed.yaml"
    path.write_text(renamed_text(), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def renamed(renamed_path: Path) -> Spec:
    return crs_model.load_spec(renamed_path)


def test_the_copy_has_no_old_code_or_output_name(renamed_path: Path, renamed: Spec) -> None:
    text = renamed_path.read_text(encoding="utf-8")
    assert _WORD.search(text) is None
    assert list(renamed.recommendations) == list(CODES.values())
    assert list(renamed.outputs) == list(OUTPUTS.values())
    assert set(renamed.definitions) >= set(OUTPUTS.values())
    assert {o.recommendation for o in renamed.outcomes.values()} == set(CODES.values())


def _summary(rep: Report) -> dict[str, Any]:
    found: dict[str, int] = {}
    for f in rep.findings:
        key = f"{f.check}/{f.severity.value}"
        found[key] = found.get(key, 0) + 1
    return {
        "ok": rep.ok,
        "counts": rep.counts(),
        "findings": found,
        "checks": {c.name: c.status for c in rep.checks},
        "invariants": rep.invariant_status,
    }


def test_the_copy_verifies_with_the_same_findings_and_verdicts(renamed: Spec) -> None:
    shipped, copy = _summary(verify(SHIPPED)), _summary(verify(renamed))
    assert copy == shipped
    assert copy["invariants"]
    assert set(copy["invariants"].values()) == {"proven"}


@pytest.mark.parametrize("vig", VIGNETTES, ids=[v["id"] for v in VIGNETTES])
def test_every_vignette_decides_as_renamed(vig: dict[str, Any], renamed: Spec) -> None:
    d = crs_model.evaluate(vig["patient"], spec=renamed)
    got = d.to_dict()
    check_expectations(got, rename(vig["expect"]))
    assert list(got)[2 : 2 + len(OUTPUTS)] == list(OUTPUTS.values())  # outputs between outcome and actions
    original = crs_model.evaluate(vig["patient"]).to_dict()
    assert {k: v for k, v in got.items() if k != "spec"} == rename({k: v for k, v in original.items() if k != "spec"})


def test_the_copy_renders_and_reports_under_its_own_words(renamed_path: Path, tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["render", str(renamed_path), "--out", str(tmp_path / "d"), "--format", "dot"], out, err) == 0, (
        err.getvalue()
    )
    dot = (tmp_path / "d" / "renamed.dot").read_text(encoding="utf-8")
    assert _WORD.search(dot) is None
    for code, rc in zip(CODES.values(), SHIPPED.recommendations.values(), strict=True):
        assert f"{LABELS[rc.cls].upper()} · {code}<" in dot  # each outcome box: class title and code
    used = {SHIPPED.recommendations[c].cls for c in CODES} | {OutcomeClass.INSUFFICIENT}
    for cls in used:
        assert f">{LABELS[cls]}<" in dot  # the legend swatch, titled by the spec
    for suffix in ("html", "md"):
        target = tmp_path / f"pack.{suffix}"
        args = ["report", str(renamed_path), "--out", str(target), "--no-diagram"]
        assert main(args, out, err) == 0, err.getvalue()
        page = target.read_text(encoding="utf-8")
        assert _WORD.search(page) is None
        for code, cls in ((c, SHIPPED.recommendations[c].cls) for c in CODES):
            assert CODES[code] in page
            assert LABELS[cls] in page
    html = (tmp_path / "pack.html").read_text(encoding="utf-8")
    assert f'<span class="badge class-device">{LABELS[OutcomeClass.DEVICE]}</span>' in html
    batch = tmp_path / "p.jsonl"
    batch.write_text("".join(json.dumps(v["patient"]) + "\n" for v in VIGNETTES[:5]), encoding="utf-8")
    out = io.StringIO()
    assert main(["evaluate", "--spec", str(renamed_path), str(batch), "--format", "text"], out, err) == 0
    lines = out.getvalue().splitlines()
    assert len(lines) == 5
    assert all(re.match(r"^\d+: rec_\d+ out_1=", line) for line in lines), lines
