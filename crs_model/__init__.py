"""crs_model: a verified decision model for CytoSorb hemoadsorption in cytokine release syndrome.

The public API for apps that embed the engine::

    import crs_model
    decision = crs_model.evaluate({"etiology": "car_t", ...})
    decision.recommendation, decision.to_dict()

Importing this package is light: z3, hypothesis, pydot and networkx are not
imported, nor are they when a spec is loaded or a patient evaluated.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from crs_model.engine import Decision, Engine
from crs_model.errors import CrsModelError, PatientError, SignoffError, SpecDefectError, SpecError
from crs_model.model import Spec

__version__ = "0.1.0"

__all__ = [
    "CrsModelError",
    "Decision",
    "Engine",
    "PatientError",
    "SignoffError",
    "Spec",
    "SpecDefectError",
    "SpecError",
    "__version__",
    "bundled_spec_path",
    "evaluate",
    "load_spec",
]


@functools.cache
def bundled_spec_path() -> Path:
    """Absolute path of the shipped CytoSorb-in-CRS spec (the installed copy, else the source tree's).

    Resolved once per process; it stays valid after ``os.chdir``. Its file name is package
    data (``data/bundled_spec.txt``), so the code names no spec.
    """
    here = Path(__file__).resolve().parent
    name = (here / "data" / "bundled_spec.txt").read_text(encoding="utf-8").strip()
    for candidate in (here / "specs" / name, here.parent / "specs" / name):
        if candidate.is_file():
            return candidate
    from crs_model.errors import Problem

    raise SpecError(Problem(None, f"bundled spec {name} not found beside {here}"))  # pragma: no cover


def _shown(path: Path) -> Path:
    # messages and reports name the bundled spec relative to the working directory when it
    # lies under it (as a user would type it), so their text does not depend on the checkout
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def load_spec(path: str | Path | None = None, *, require_signoff: bool = False) -> Spec:
    """Load and type-check a spec file (the bundled one when ``path`` is None).

    Raises :class:`SpecError` listing every problem as ``file:line:col``. With
    ``require_signoff=True`` raises :class:`SignoffError` unless the file's exact
    bytes (sha256) carry a valid Ed25519-signed ``approved`` record of the sign-off
    file beside it, by a signer registered in ``SPEC.signers.yaml`` (and, for an
    ``active`` spec, the approvals ``metadata.signoff_policy`` asks for).
    """
    from crs_model.loader import load_spec_file

    spec = load_spec_file(_shown(bundled_spec_path()) if path is None else path)
    if require_signoff:
        from crs_model.signoff import require_signoff as _require

        _require(spec)
    return spec


@functools.lru_cache(maxsize=8)
def _engine_for(path: str) -> Engine:
    return Engine(load_spec(path))


@functools.cache
def _default_engine() -> Engine:
    return Engine(load_spec())


# engines compiled for Spec objects passed to evaluate(), most recent last; a Spec is a
# frozen value, so its engine can be reused for as long as the same object is passed
_SPEC_ENGINES: dict[int, tuple[Spec, Engine]] = {}
_MAX_SPEC_ENGINES = 8


def _engine_for_spec(spec: Spec) -> Engine:
    hit = _SPEC_ENGINES.get(id(spec))
    if hit is not None and hit[0] is spec:
        return hit[1]
    engine = Engine(spec)
    if len(_SPEC_ENGINES) >= _MAX_SPEC_ENGINES:
        _SPEC_ENGINES.pop(next(iter(_SPEC_ENGINES)), None)
    _SPEC_ENGINES[id(spec)] = (spec, engine)
    return engine


def evaluate(patient: Mapping[str, Any], *, spec: Spec | Engine | str | Path | None = None) -> Decision:
    """Decide for one patient with ``spec`` (default: the bundled spec).

    The engine for the bundled spec, for a spec path and for a :class:`Spec` object is
    compiled once and reused. Raises :class:`PatientError` (a ``ValueError``) naming the
    field on bad input.
    """
    if spec is None:
        return _default_engine().evaluate(patient)
    if isinstance(spec, Engine):
        return spec.evaluate(patient)
    if isinstance(spec, Spec):
        return _engine_for_spec(spec).evaluate(patient)
    return _engine_for(str(spec)).evaluate(patient)
