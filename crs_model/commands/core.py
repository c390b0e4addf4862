"""``evaluate``, ``schema`` and ``check-spec``."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from crs_model.commands.common import add_spec_argument, load_or_report
from crs_model.errors import PatientError, SpecDefectError

MAX_JSON_BYTES = 1024 * 1024
MAX_LINE_BYTES = 64 * 1024


def register(sub: Any) -> None:
    p = sub.add_parser(
        "evaluate",
        help="decide for one or more patients (JSON object, JSONL batch, or a folder of .json)",
        description="Evaluate patient input against the spec. A .json file holds one object; a .jsonl "
        "file one object per line (one output line per input line). '-' reads standard input.",
    )
    p.add_argument("inputs", nargs="*", default=["-"], metavar="FILE", help="patient file(s), a folder, or '-'")
    add_spec_argument(p)
    p.add_argument(
        "--format",
        choices=("text", "json"),
        default=None,
        help="output format (default: text for single objects, json lines for JSONL input)",
    )
    p.add_argument("--jsonl", action="store_true", help="treat standard input as JSONL")
    p.add_argument("--trace", action="store_true", help="include every guard's value on the path")
    p.set_defaults(handler=cmd_evaluate)

    p = sub.add_parser("schema", help="print the JSON Schema of the patient input")
    add_spec_argument(p, positional=True)
    p.set_defaults(handler=cmd_schema)

    p = sub.add_parser("check-spec", help="load and type-check spec files (exit 0 ok, 2 problems)")
    p.add_argument("specs", nargs="*", metavar="SPEC", help="spec files (default: the bundled spec)")
    p.set_defaults(handler=cmd_check_spec)


# ------------------------------------------------------------------ check-spec
def cmd_check_spec(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    paths: list[str | None] = list(args.specs) or [None]
    status = 0
    for path in paths:
        spec = load_or_report(path, err)
        if spec is None:
            status = 2
            continue
        md = spec.metadata
        n_edges = sum(len(n.edges) for n in spec.nodes.values())
        out.write(
            f"ok: {spec.path}: {md.id} {md.version} ({md.status.value}) sha256 {spec.sha256[:12]}: "
            f"{len(spec.variables)} inputs, {len(spec.parameters)} parameters, {len(spec.definitions)} definitions, "
            f"{len(spec.nodes)} decision nodes, {n_edges} edges, {len(spec.outcomes)} outcomes, "
            f"{len(spec.invariants)} invariants, {len(spec.governance)} open questions\n"
        )
    return status


# ------------------------------------------------------------------ schema
def cmd_schema(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from crs_model.schema import patient_schema

    spec = load_or_report(args.spec, err)
    if spec is None:
        return 2
    out.write(json.dumps(patient_schema(spec), indent=2, ensure_ascii=False) + "\n")
    return 0


# ------------------------------------------------------------------ evaluate
class _InputError(Exception):
    def __init__(self, where: str, message: str) -> None:
        self.where = where
        self.message = message
        super().__init__(f"{where}: {message}")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d = dict(pairs)
    if len(d) != len(pairs):
        seen: set[str] = set()
        for k, _ in pairs:
            if k in seen:
                raise PatientError(k, f"key '{k}' appears twice in the object")
            seen.add(k)
    return d


def _loads(text: str) -> Any:
    # NaN/Infinity are read as floats so that the validator rejects them naming the
    # field, the value and the allowed range (they are never accepted)
    return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=float)


def _expand(inputs: list[str]) -> Iterator[str]:
    for item in inputs:
        p = Path(item)
        if item != "-" and p.is_dir():
            found = sorted(p.glob("*.json")) + sorted(p.glob("*.jsonl"))
            if not found:
                raise _InputError(item, "folder holds no .json or .jsonl files")
            yield from (str(f) for f in found)
        else:
            yield item


def _read(item: str, limit: int) -> str:
    import sys

    if item == "-":
        data = sys.stdin.read(limit + 1)
    else:
        try:
            with open(item, encoding="utf-8") as fh:
                data = fh.read(limit + 1)
        except OSError as exc:
            raise _InputError(item, f"cannot read: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise _InputError(item, "not UTF-8 text") from None
    if len(data) > limit:
        raise _InputError(item, f"larger than {limit} bytes")
    return data


def cmd_evaluate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from crs_model.engine import Engine

    spec = load_or_report(args.spec, err)
    if spec is None:
        return 2
    engine = Engine(spec)
    try:
        items = list(_expand(args.inputs))
    except _InputError as exc:
        err.write(f"crs-model: error: {exc}\n")
        return 2
    status = 0
    many = len(items) > 1
    for item in items:
        jsonl = item.endswith(".jsonl") or (item == "-" and args.jsonl)
        if jsonl:
            rc = _evaluate_jsonl(engine, item, args, out, err)
        else:
            rc = _evaluate_one(engine, item, args, out, err, header=many)
        status = max(status, rc)
    return status


def _evaluate_one(engine: Any, item: str, args: argparse.Namespace, out: TextIO, err: TextIO, *, header: bool) -> int:
    where = "<stdin>" if item == "-" else item
    try:
        text = _read(item, MAX_JSON_BYTES)
        try:
            patient = _loads(text)
        except json.JSONDecodeError as exc:
            raise _InputError(f"{where}:{exc.lineno}:{exc.colno}", f"invalid JSON: {exc.msg}") from None
        except ValueError as exc:
            raise _InputError(where, f"invalid JSON: {exc}") from None
        decision = engine.evaluate(patient)
    except _InputError as exc:
        err.write(f"crs-model: error: {exc}\n")
        return 2
    except PatientError as exc:
        err.write(f"crs-model: error: {where}: invalid patient: {exc.message}\n")
        return 2
    except SpecDefectError as exc:
        err.write(f"crs-model: error: {where}: spec defect, no recommendation: {exc}\n")
        return 1
    if args.format == "json":
        out.write(json.dumps(decision.to_dict(trace=args.trace), indent=2, ensure_ascii=False) + "\n")
    else:
        from crs_model.report_text import decision_text

        if header:
            out.write(f"== {where}\n")
        out.write(decision_text(decision, engine.spec, trace=args.trace) + "\n")
    return 0


def _evaluate_jsonl(engine: Any, item: str, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import sys

    where = "<stdin>" if item == "-" else item
    try:
        fh: TextIO = sys.stdin if item == "-" else open(item, encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        err.write(f"crs-model: error: {where}: cannot read: {exc.strerror}\n")
        return 2
    status = 0
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    evaluate = engine.evaluate
    write = out.write
    text_mode = args.format == "text"
    trace = args.trace
    try:
        for n, line in enumerate(fh, 1):
            try:
                if len(line) > MAX_LINE_BYTES:
                    raise PatientError("<input>", f"line longer than {MAX_LINE_BYTES} bytes")
                try:
                    patient = _loads(line)
                except json.JSONDecodeError as exc:
                    raise PatientError("<input>", f"invalid JSON at column {exc.colno}: {exc.msg}") from None
                except ValueError as exc:
                    raise PatientError("<input>", f"invalid JSON: {exc}") from None
                decision = evaluate(patient)
            except PatientError as exc:
                status = 2
                write(dumps({"line": n, "error": {"field": exc.field, "message": exc.message}}) + "\n")
                continue
            except SpecDefectError as exc:
                status = max(status, 1)
                write(dumps({"line": n, "error": {"field": None, "message": f"spec defect: {exc}"}}) + "\n")
                continue
            if text_mode:
                d = decision
                extra = f" missing={','.join(d.missing)}" if d.missing else ""
                dose = f" dose={d.tocilizumab_dose_mg:g}mg" if d.tocilizumab_dose_mg is not None else ""
                write(f"{n}: {d.recommendation} grade={d.astct_grade}{dose}{extra}\n")
            elif trace:
                write(dumps(decision.to_dict(trace=True)) + "\n")
            else:
                write(decision.to_json() + "\n")
    except UnicodeDecodeError:
        err.write(f"crs-model: error: {where}: not UTF-8 text\n")
        return 2
    finally:
        if fh is not sys.stdin:
            fh.close()
    if status == 2:
        err.write(f"crs-model: {where}: some lines were invalid (see their error records)\n")
    return status
