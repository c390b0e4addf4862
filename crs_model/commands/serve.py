"""``crs-model serve`` (a CDS Hooks 2.0 service) and ``crs-model feedback-report`` (what was done with its cards).

The web stack is the ``service`` extra; it is imported only when a command runs.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO
from urllib.parse import urlsplit

from crs_model.commands.common import add_spec_argument, load_or_report
from crs_model.errors import CrsModelError


def register(sub: Any) -> None:
    """Add ``serve`` and ``feedback-report`` to the CLI's subparsers."""
    p = sub.add_parser(
        "serve",
        help="serve the spec as an HL7 CDS Hooks 2.0 service (patient-view) with JWT authentication",
        description="Serve GET /cds-services, POST /cds-services/{id} and its /feedback over uvicorn. Every call "
        "needs a CDS Hooks JWT (ES384/RS384) signed by a key of --jwks, from an --issuer, with aud = "
        "{base-url}/cds-services/{id}. The service file <spec>.cds.yaml beside the spec gives the discovery "
        "entry, prefetch templates, suggested orders and override reasons.",
    )
    add_spec_argument(p, positional=True)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 = any free port)")
    p.add_argument(
        "--base-url",
        metavar="URL",
        help="the URL clients call, e.g. https://cds.example.org "
        "(tokens' aud is {base-url}/cds-services/{id}; default http://HOST:PORT)",
    )
    p.add_argument("--jwks", metavar="FILE", help="JWKS of the EHR's public signing keys (each with a kid)")
    p.add_argument("--issuer", action="append", default=[], metavar="ISS", help="allowed iss (repeatable)")
    p.add_argument("--service-file", metavar="FILE", help="the service file (default: <spec>.cds.yaml beside it)")
    p.add_argument(
        "--feedback-db",
        default="cds-feedback.sqlite",
        metavar="FILE",
        help="SQLite file of issued cards and feedback (default cds-feedback.sqlite)",
    )
    p.add_argument("--pack-url", metavar="URL", help="where the governance pack is published (linked on each card)")
    p.add_argument(
        "--fhir-server",
        action="append",
        default=[],
        metavar="URL",
        help="a FHIR base URL this service may read absent prefetch from, with the call's fhirAuthorization "
        "(repeatable; without it, absent prefetch is 412)",
    )
    p.add_argument("--insecure-no-auth", action="store_true", help="accept calls without a JWT (local demo only)")
    p.set_defaults(handler=cmd_serve)

    f = sub.add_parser(
        "feedback-report",
        help="summarise CDS Hooks feedback: cards issued, accepted and overridden per recommendation, and why",
        description="Read the service's SQLite feedback store and print, per spec sha256 and recommendation, "
        "how many cards were issued, accepted and overridden, with each override reason's count.",
    )
    f.add_argument("db", metavar="DB", help="the --feedback-db file of crs-model serve")
    f.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    f.set_defaults(handler=cmd_feedback_report)


def _service_args(args: argparse.Namespace, err: TextIO) -> str | None:
    """The base URL, or None after reporting a usage problem."""
    if not 0 <= args.port <= 65535:
        err.write(f"crs-model: error: --port={args.port} is not in 0..65535\n")
        return None
    base = (args.base_url or f"http://{args.host}:{args.port}").rstrip("/")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        err.write(f"crs-model: error: --base-url={base!r} is not an http(s) URL without query\n")
        return None
    for server in args.fhir_server:
        fp = urlsplit(server)
        if fp.scheme not in ("http", "https") or not fp.netloc or fp.query or fp.fragment:
            err.write(f"crs-model: error: --fhir-server={server!r} is not an http(s) FHIR base URL without query\n")
            return None
    if args.insecure_no_auth:
        if args.jwks or args.issuer:
            err.write("crs-model: error: --insecure-no-auth and --jwks/--issuer exclude each other\n")
            return None
    elif not args.jwks or not args.issuer:
        err.write("crs-model: error: serve needs --jwks FILE and at least one --issuer (or --insecure-no-auth)\n")
        return None
    return base


def build_service(args: argparse.Namespace, base_url: str, err: TextIO) -> Any:
    """The :class:`~crs_model.cdshooks.app.Service` for these arguments, or None (reported)."""
    try:
        from crs_model.cdshooks.app import Service
        from crs_model.cdshooks.auth import Verifier, load_jwks
        from crs_model.cdshooks.config import load_config
        from crs_model.cdshooks.feedback import FeedbackStore
    except ImportError as exc:
        err.write(f"crs-model: error: serve needs the service extra (pip install 'crs_model[service]'): {exc}\n")
        return None
    from crs_model.engine import Engine

    spec = load_or_report(args.spec, err)
    if spec is None:
        return None
    config = load_config(spec, args.service_file)
    verifier = None if args.insecure_no_auth else Verifier(load_jwks(args.jwks), args.issuer)
    store = FeedbackStore(args.feedback_db)
    return Service(config, Engine(spec), verifier, store, base_url, args.pack_url, fhir_servers=tuple(args.fhir_server))


def cmd_serve(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run the service until interrupted."""
    base = _service_args(args, err)
    if base is None:
        return 2
    try:
        svc = build_service(args, base, err)
    except (CrsModelError, OSError) as exc:
        err.write(f"crs-model: error: {exc}\n")
        return 2
    if svc is None:
        return 2
    import uvicorn

    from crs_model.cdshooks.app import create_app

    if args.insecure_no_auth:
        err.write("crs-model: WARNING: --insecure-no-auth: any caller can use this service; local demo only\n")
    out.write(f"CDS Hooks discovery: {base}/cds-services (service {svc.config.service_id}, aud {svc.endpoint})\n")
    out.flush()
    uvicorn.run(create_app(svc), host=args.host, port=args.port, log_level="info", server_header=False)
    svc.store.close()
    return 0


def cmd_feedback_report(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Print the feedback summary."""
    import sqlite3
    from pathlib import Path

    from crs_model.cdshooks.feedback import summarise

    if not Path(args.db).is_file():
        err.write(f"crs-model: error: {args.db}: no such feedback database\n")
        return 2
    try:
        summary = summarise(args.db)
    except sqlite3.Error as exc:
        err.write(f"crs-model: error: {args.db}: not a feedback database: {exc}\n")
        return 2
    if args.format == "json":
        out.write(json.dumps(summary, indent=2, sort_keys=True) + "\n")
        return 0
    if not summary:
        out.write("no cards issued\n")
    for sha, recs in summary.items():
        out.write(f"spec sha256 {sha}\n")
        for rec, e in recs.items():
            out.write(f"  {rec}: {e['issued']} issued, {e['accepted']} accepted, {e['overridden']} overridden\n")
            for reason, n in sorted(e["reasons"].items(), key=lambda kv: (-kv[1], kv[0])):
                out.write(f"    {n} × {reason}\n")
    return 0
