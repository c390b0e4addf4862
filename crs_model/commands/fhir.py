"""``crs-model fhir-map`` and the ``--fhir`` input of ``evaluate``: FHIR R4 bundles -> patient."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any, TextIO

from crs_model.commands.common import BadJson, add_spec_argument, decode_utf8, load_or_report, loads_json
from crs_model.errors import FhirError, InputFileError, PatientError, SpecDefectError, SpecError

MAX_BUNDLE_BYTES = 32 * 1024 * 1024


def register(sub: Any) -> None:
    """Add the ``fhir-map`` subcommand to the CLI's subparsers."""
    p = sub.add_parser(
        "fhir-map",
        help="map FHIR R4 bundles to the spec's patient input, with provenance and what was ignored",
        description="Pool every resource of the given FHIR R4 JSON files (Bundles of any type, bare resources, "
        "or lists of them) and map them to the patient input through the mapping file beside the spec "
        '(SPEC.fhir.yaml). Prints {"patient", "provenance", "ignored"}. Exit 0 mapped, 2 bad input '
        "(not JSON, not FHIR, a unit the mapping does not accept, a value outside its domain).",
    )
    p.add_argument("bundles", nargs="+", metavar="BUNDLE", help="FHIR R4 JSON files")
    add_spec_argument(p)
    add_fhir_options(p, mapping=True)
    p.add_argument("--format", choices=("json", "text"), default="json", help="output format (default: json)")
    p.set_defaults(handler=cmd_fhir_map, usage=p.format_usage())


def add_fhir_options(p: argparse.ArgumentParser, *, mapping: bool) -> None:
    """``--at`` (and ``--mapping``) for the commands that read FHIR."""
    p.add_argument("--at", default=None, metavar="ISO8601", help="reference time with a zone (default: now, UTC)")
    if mapping:
        p.add_argument("--mapping", default=None, metavar="FILE", help="mapping file (default: SPEC.fhir.yaml)")


def _at(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise FhirError(None, f"--at {text!r} is not an ISO 8601 time (e.g. 2026-12-01T12:00:00Z)") from None
    if at.tzinfo is None:
        raise FhirError(None, f"--at {text!r} has no time zone (add Z or +hh:mm)")
    return at


def _read(path: str) -> Any:
    from crs_model.fileio import read_regular

    return loads_json(decode_utf8(read_regular(path, MAX_BUNDLE_BYTES)), parse_constant=_no_constant)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def map_files(args: argparse.Namespace, spec: Any, err: TextIO) -> Any:
    """Read and map ``args.bundles`` (or ``args.inputs``); the :class:`Mapped`, or None after reporting."""
    from crs_model.fhir import to_patient

    paths: list[str] = getattr(args, "bundles", None) or args.inputs
    try:
        at = _at(args.at)
        docs = []
        for path in paths:
            try:
                docs.append(_read(path))
            except BadJson as exc:
                err.write(f"crs-model: error: {exc.located(path)}\n")
                return None
        return to_patient(docs, at=at, spec=spec, mapping=getattr(args, "mapping", None))
    except (InputFileError, FhirError) as exc:
        err.write(f"crs-model: error: {exc}\n")
    except PatientError as exc:
        err.write(f"crs-model: error: invalid patient: {exc.message}\n")
    except SpecError as exc:
        for problem in exc.problems:
            err.write(f"{problem}\n")
        err.write("crs-model: error: FHIR mapping file not loaded\n")
    return None


def _text(mapped: Any) -> str:
    lines = []
    for name, value in mapped.patient.items():
        sources = []
        for p in mapped.provenance.get(name, []):
            raw = f" {json.dumps(p['value'])}" if "value" in p else ""
            unit = f" {p['unit']}" if "unit" in p else ""
            sources.append(f"{p.get('resource', p.get('rule', ''))}{raw}{unit}")
        lines.append(f"{name} = {json.dumps(value)}  <- {'; '.join(sources)}")
    for item in mapped.ignored:
        lines.append(f"ignored {item['resource']}: {item['reason']}")
    return "\n".join(lines)


def cmd_fhir_map(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``crs-model fhir-map``: print the mapped patient, its provenance and what was ignored."""
    spec = load_or_report(args.spec, err)
    if spec is None:
        return 2
    mapped = map_files(args, spec, err)
    if mapped is None:
        return 2
    if args.format == "text":
        out.write(_text(mapped) + "\n")
    else:
        out.write(json.dumps(mapped.to_dict(), indent=2, ensure_ascii=False) + "\n")
    return 0


def evaluate_fhir(args: argparse.Namespace, spec: Any, out: TextIO, err: TextIO) -> int:
    """``crs-model evaluate --fhir BUNDLE...``: map, then decide; JSON output adds the provenance."""
    from crs_model.engine import Engine

    mapped = map_files(args, spec, err)
    if mapped is None:
        return 2
    engine = Engine(spec)
    try:
        decision = engine.evaluate(mapped.patient)
    except PatientError as exc:
        err.write(f"crs-model: error: invalid patient: {exc.message}\n")
        return 2
    except SpecDefectError as exc:
        err.write(f"crs-model: error: spec defect, no recommendation: {exc}\n")
        return 1
    if args.format == "json":
        d = decision.to_dict(trace=args.trace)
        d["fhir"] = {"patient": mapped.patient, "provenance": mapped.provenance, "ignored": mapped.ignored}
        out.write(json.dumps(d, indent=2, ensure_ascii=False) + "\n")
    else:
        from crs_model.report_text import decision_text

        out.write(decision_text(decision, spec, trace=args.trace) + "\n")
    return 0
