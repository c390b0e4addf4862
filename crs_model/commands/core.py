"""``evaluate``, ``schema`` and ``check-spec``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from crs_model.commands.common import (
    STDIN,
    BadJson,
    add_spec_argument,
    decode_utf8,
    load_or_report,
    loads_patient,
    read_patient,
)
from crs_model.errors import InputFileError, PatientError, SpecDefectError

MAX_LINE_BYTES = 64 * 1024

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def register(sub: Any) -> None:
    """Add the ``check-spec``, ``schema`` and ``evaluate`` subcommands to ``sub``."""
    p = sub.add_parser(
        "evaluate",
        help="decide for one or more patients (JSON object, JSONL batch, or a folder of .json)",
        description="Evaluate patient input against the spec. A .json file holds one object; a .jsonl file one "
        "object per line, giving one output line per input line: the decision, or "
        '{"line": N, "error": {"field": ..., "message": ...}} (exit 2 if any line was invalid). '
        "'-' reads standard input (a JSON object, or JSONL with --jsonl). With several files or a folder, "
        '--format json prints JSON Lines: one object per file, the decision with a "file" key first, or '
        '{"file": ..., "error": {...}}; JSONL records then carry "file" too.',
    )
    p.add_argument("inputs", nargs="*", default=[], metavar="FILE", help="patient file(s), a folder, or '-' (stdin)")
    add_spec_argument(p)
    p.add_argument(
        "--format",
        choices=("text", "json"),
        default=None,
        help="output format (default: text for single objects, JSON lines for JSONL input)",
    )
    p.add_argument("--jsonl", action="store_true", help="treat standard input as JSONL")
    p.add_argument("--fhir", action="store_true", help="FILEs are FHIR R4 bundles, pooled and mapped (see fhir-map)")
    p.add_argument("--at", default=None, metavar="ISO8601", help="with --fhir: reference time (default: now, UTC)")
    p.add_argument("--trace", action="store_true", help="include every guard's value on the path")
    p.add_argument(
        "--explain",
        action="store_true",
        help='add "counterfactuals": for each other recommendation a valid change reaches, the change of '
        "the fewest inputs that reaches it (found with Z3, re-checked by the engine)",
    )
    p.set_defaults(handler=cmd_evaluate, usage=p.format_usage())

    p = sub.add_parser(
        "schema",
        help="print the JSON Schema of the patient input",
        description="Print the JSON Schema (draft 2020-12) of a spec's patient input, derived from its variables.",
    )
    add_spec_argument(p, positional=True)
    p.set_defaults(handler=cmd_schema)

    p = sub.add_parser(
        "check-spec",
        help="load and type-check spec files (exit 0 ok, 2 problems)",
        description="Load and type-check spec files; every problem is listed as file:line:col.",
    )
    p.add_argument("specs", nargs="*", metavar="SPEC", help="spec files (default: the bundled spec)")
    p.add_argument("--spec", dest="spec_option", action="append", metavar="SPEC", help="a spec file (repeatable)")
    p.set_defaults(handler=cmd_check_spec)


# ------------------------------------------------------------------ check-spec
def cmd_check_spec(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``crs-model check-spec``: load and type-check specs; exit 2 with every located problem."""
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
        from crs_model.completion import build_scope

        for name, where in build_scope(spec).opaque.items():
            loc = spec.variables[name].loc
            out.write(
                f"note: {loc.file}:{loc.line}:{loc.column}: input '{name}' is read outside a comparison with a "
                f"constant ({', '.join(where)}): when it is absent, what depends on it is decided three-valued "
                "(sound; the exact method does not fill it in)\n"
            )
    return status


# ------------------------------------------------------------------ schema
def cmd_schema(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``crs-model schema``: print the JSON Schema of a spec's patient input."""
    from crs_model.schema import patient_schema

    spec = load_or_report(args.spec, err)
    if spec is None:
        return 2
    out.write(json.dumps(patient_schema(spec), indent=2, ensure_ascii=False) + "\n")
    return 0


# ------------------------------------------------------------------ evaluate
def _expand(inputs: list[str]) -> Iterator[str]:
    for item in inputs:
        p = Path(item)
        if item != "-" and p.is_dir():
            found = sorted(p.glob("*.json")) + sorted(p.glob("*.jsonl"))
            if not found:
                raise InputFileError(item, "the folder holds no .json or .jsonl files")
            yield from (str(f) for f in found)
        else:
            yield item


def cmd_evaluate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``crs-model evaluate``: decide for one patient and print the decision."""
    from crs_model.engine import Engine

    inputs: list[str] = args.inputs
    if not inputs:
        if sys.stdin is not None and sys.stdin.isatty():  # nobody is going to type a patient in
            err.write(args.usage)
            err.write("crs-model: error: evaluate: no patient given (FILE, a folder, or '-' for standard input)\n")
            return 2
        inputs = ["-"]
    spec = load_or_report(args.spec, err)
    if spec is None:
        return 2
    if args.fhir:
        from crs_model.commands.fhir import evaluate_fhir

        return evaluate_fhir(args, spec, out, err)
    engine = Engine(spec)
    try:
        items = list(_expand(inputs))
    except InputFileError as exc:
        err.write(f"crs-model: error: {exc}\n")
        return 2
    status = 0
    # several inputs, or a folder (however many files it holds): every result names its file
    many = len(items) > 1 or any(i != "-" and Path(i).is_dir() for i in inputs)
    for item in items:
        if item.endswith(".jsonl") or (item == "-" and args.jsonl):
            rc = _evaluate_jsonl(engine, item, args, out, err, many=many)
        else:
            rc = _evaluate_one(engine, item, args, out, err, many=many)
        status = max(status, rc)
    return status


_UNDECIDED_TEXT = "the solver could not decide what would change this decision (resource limit)"


def _counterfactuals(decision: Any, err: TextIO, where: str) -> tuple[Any, ...] | None:
    """``decision.counterfactuals()`` (``--explain``), or None, reported on ``err``, when the solver could
    not decide a query: then no change is claimed minimal and no recommendation out of reach."""
    from crs_model.verify.encoding import Undecided

    try:
        return decision.counterfactuals()  # type: ignore[no-any-return]  # a tuple of Counterfactual
    except Undecided as exc:
        err.write(f"crs-model: error: {where}: {_UNDECIDED_TEXT}: {exc}\n")
        return None


def _evaluate_one(engine: Any, item: str, args: argparse.Namespace, out: TextIO, err: TextIO, *, many: bool) -> int:
    where = STDIN if item == "-" else item
    lines = many and args.format == "json"  # a folder in JSON: one JSON line per file
    try:
        decision = engine.evaluate(read_patient(item))
    except InputFileError as exc:
        message, field, rc = f"cannot read: {exc.reason}", "<input>", 2
        text = f"{where}: {message}"
    except BadJson as exc:
        message, field, rc = f"invalid JSON: {exc.message}", "<input>", 2
        text = exc.located(where)
    except PatientError as exc:
        message, field, rc = exc.message, exc.field, 2
        text = f"{where}: invalid patient: {exc.message}"
    except SpecDefectError as exc:
        message, field, rc = f"spec defect, no recommendation: {exc}", None, 1
        text = f"{where}: {message}"
    else:
        cfs = _counterfactuals(decision, err, where) if args.explain else None
        if args.explain and cfs is None:
            return 1
        if lines or args.format == "json":
            d = decision.to_dict(trace=args.trace)
            if cfs is not None:
                d["counterfactuals"] = [c.to_dict() for c in cfs]
            if lines:
                out.write(_dumps({"file": where, **d}) + "\n")
            else:
                out.write(json.dumps(d, indent=2, ensure_ascii=False) + "\n")
        else:
            from crs_model.report_text import counterfactuals_text, decision_text

            if many:
                out.write(f"== {where}\n")
            out.write(decision_text(decision, engine.spec, trace=args.trace) + "\n")
            if cfs is not None:
                out.write(counterfactuals_text(cfs) + "\n")
        return 0
    if lines:
        out.write(_dumps({"file": where, "error": {"field": field, "message": message}}) + "\n")
    err.write(f"crs-model: error: {text}\n")
    return rc


def _evaluate_jsonl(engine: Any, item: str, args: argparse.Namespace, out: TextIO, err: TextIO, *, many: bool) -> int:
    from crs_model.fileio import iter_lines, open_regular
    from crs_model.report_text import counterfactuals_text, decision_line

    where = STDIN if item == "-" else item
    try:
        if item != "-":
            fh: BinaryIO = open_regular(item)
        elif sys.stdin is None:
            raise InputFileError(STDIN, "standard input is closed")
        else:
            fh = sys.stdin.buffer
    except InputFileError as exc:
        err.write(f"crs-model: error: {exc}\n")
        return 2
    # with several inputs every record names its file: '{"file":...,' then the record's own keys
    head = '{"file":' + _dumps(where) + "," if many else "{"
    status = 0
    evaluate = engine.evaluate
    write = out.write
    text_mode = args.format == "text"
    trace = args.trace
    explain = args.explain
    try:
        for n, raw in enumerate(iter_lines(fh, MAX_LINE_BYTES), 1):
            try:
                if raw is None:
                    raise PatientError("<input>", f"line longer than {MAX_LINE_BYTES} bytes")
                try:
                    patient = loads_patient(decode_utf8(raw))
                except BadJson as exc:
                    at = f" at column {exc.column}" if exc.column is not None else ""
                    raise PatientError("<input>", f"invalid JSON{at}: {exc.message}") from None
                decision = evaluate(patient)
            except PatientError as exc:
                status = 2
                write(f'{head}"line":{n},"error":' + _dumps({"field": exc.field, "message": exc.message}) + "}\n")
                continue
            except SpecDefectError as exc:
                status = max(status, 1)
                write(f'{head}"line":{n},"error":' + _dumps({"field": None, "message": f"spec defect: {exc}"}) + "}\n")
                continue
            cfs: tuple[Any, ...] | None = None
            if explain:
                cfs = _counterfactuals(decision, err, f"{where}:{n}")
                if cfs is None:
                    status = max(status, 1)
                    write(f'{head}"line":{n},"error":' + _dumps({"field": None, "message": _UNDECIDED_TEXT}) + "}\n")
                    continue
            if text_mode:
                write(f"{n}: {decision_line(decision, engine.spec)}\n")
                if cfs is not None:
                    write(counterfactuals_text(cfs, indent="  ") + "\n")
            elif cfs is not None:
                record = decision.to_dict(trace=trace)
                record["counterfactuals"] = [c.to_dict() for c in cfs]
                write(head + _dumps(record)[1:] + "\n")
            elif trace:
                write(head + _dumps(decision.to_dict(trace=True))[1:] + "\n")
            elif many:
                write(head + decision.to_json()[1:] + "\n")
            else:
                write(decision.to_json() + "\n")
    finally:
        if item != "-":
            fh.close()
    if status == 2:
        err.write(f"crs-model: error: {where}: some lines were invalid (see their error records)\n")
    return status
