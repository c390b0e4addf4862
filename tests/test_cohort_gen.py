"""The synthetic-cohort generator's invalid rows, its pool and its determinism (crs-model cohort-gen)."""

from __future__ import annotations

import io
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("duckdb")
pq = pytest.importorskip("pyarrow.parquet")

from crs_model import load_spec  # noqa: E402
from crs_model.cli import main  # noqa: E402
from crs_model.cohort.columns import input_columns  # noqa: E402
from crs_model.cohort.generate import CONSTRAINT_SHARE, generate  # noqa: E402
from crs_model.cohort.violations import candidates, find_violations  # noqa: E402
from crs_model.errors import PatientError  # noqa: E402
from crs_model.patient import PatientValidator  # noqa: E402

SPEC = load_spec(None)
VALIDATOR = PatientValidator(SPEC)
NAMES = [c.name for c in input_columns(SPEC)]
CONSTRAINT_IDS = [c.id for c in SPEC.constraints]


def _rows(n: int, **kw: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for batch in generate(SPEC, n, batch_rows=211, **kw):
        out.extend(dict(zip(batch, vals, strict=True)) for vals in zip(*batch.values(), strict=True))
    return out


def _why(row: dict[str, Any]) -> str | None:
    """None for a valid row, else which constraint rejects it or ``domain`` for an out-of-domain value."""
    try:
        VALIDATOR.validate(row)
    except PatientError as exc:
        hit = [c for c in CONSTRAINT_IDS if exc.message.startswith(f"inconsistent input ({c})")]
        return hit[0] if hit else "domain"
    return None


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_every_breakable_constraint_gets_rows_each_rejected_by_it_alone() -> None:
    pool = [[p.get(k) for k in NAMES] for p in _rows(400, seed=2, absent_share=0.0, invalid_share=0.0)]
    found = find_violations(SPEC, NAMES, pool, random.Random(2))  # noqa: S311 - a seeded search
    # the shipped spec's constraints can each be broken by changing one input they read
    assert [group[0].constraint for group in found] == CONSTRAINT_IDS
    for group in found:
        assert len({v.row for v in group}) == len(group)
        for v in group:
            row = dict(zip(NAMES, v.row, strict=True))
            assert _why(row) == v.constraint, row
            # every value stays in its declared domain: only the constraint is broken
            for k, x in row.items():
                if x is not None and isinstance(x, int | float) and not isinstance(x, bool):
                    var = SPEC.variables[k]
                    assert var.minimum is None or x >= var.minimum
                    assert var.maximum is None or x <= var.maximum


def test_invalid_kinds_keep_their_documented_proportions() -> None:
    rows = _rows(12000, seed=9, invalid_share=0.25, absent_share=0.2)
    kinds = Counter(_why(r) for r in rows)
    invalid = len(rows) - kinds[None]
    assert 0.23 <= invalid / len(rows) <= 0.27
    broken = invalid - kinds["domain"]
    assert abs(broken / invalid - CONSTRAINT_SHARE) <= 0.04
    # each constraint is drawn equally often (absences never hide the violation)
    per = [kinds[c] for c in CONSTRAINT_IDS]
    assert min(per) >= 0.6 * broken / len(per), per


def test_no_invalid_rows_when_the_share_is_zero() -> None:
    assert all(_why(r) is None for r in _rows(2000, seed=4, invalid_share=0.0))


def test_candidates_stay_inside_the_domain() -> None:
    for v in SPEC.variables.values():
        for x in candidates(SPEC, v):
            VALIDATOR.validate({v.name: x})  # in domain; alone, no constraint can be false
            if isinstance(x, int | float) and not isinstance(x, bool):
                assert v.minimum is None or x >= v.minimum, (v.name, x)
                assert v.maximum is None or x <= v.maximum, (v.name, x)
            elif v.type.values:
                assert x in v.type.values


def test_the_pool_bounds_the_distinct_patients(tmp_path: Path) -> None:
    clean = {"absent_share": 0.0, "invalid_share": 0.0}
    assert len({tuple(r.values()) for r in _rows(500, seed=3, pool_size=3, **clean)}) <= 3
    assert len({tuple(r.values()) for r in _rows(500, seed=3, pool_size=400, **clean)}) > 100
    out = tmp_path / "c.parquet"
    argv = ["cohort-gen", "200", "--out", str(out), "--pool", "2", "--invalid-share", "0", "--absent-share", "0"]
    code, text, err = _run(*argv)
    assert code == 0, err
    assert "200 rows" in text
    table = pq.read_table(out).to_pylist()
    assert len(table) == 200
    assert len({tuple(r.values()) for r in table}) <= 2
    code, _, err = _run("cohort-gen", "10", "--out", str(out), "--pool", "0")
    assert code == 2
    assert "--pool=0 is not a positive count" in err
    with pytest.raises(ValueError, match="pool_size=0"):
        next(generate(SPEC, 5, pool_size=0))


def test_the_same_seed_gives_byte_identical_parquet(tmp_path: Path) -> None:
    paths = [tmp_path / f"{name}.parquet" for name in ("a", "b", "c")]
    for path, seed in zip(paths, ("5", "5", "6"), strict=True):
        assert _run("cohort-gen", "3000", "--out", str(path), "--seed", seed, "--invalid-share", "0.1")[0] == 0
    a, b, c = (p.read_bytes() for p in paths)
    assert a == b
    assert a != c


def test_the_generator_loads_hypothesis_only_when_it_generates() -> None:
    code = (
        "import sys, crs_model.cohort.generate, crs_model.cohort.violations\n"
        "assert 'hypothesis' not in sys.modules, 'imported at module load'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
