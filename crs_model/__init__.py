"""crs_model: a verified decision model for CytoSorb hemoadsorption in cytokine release syndrome.

The public API for apps that embed the engine::

    import crs_model
    decision = crs_model.evaluate({"etiology": "car_t", ...})
    decision.recommendation, decision.to_dict()

Importing this package is light: z3, hypothesis, pydot and networkx are not
imported (networkx is loaded when a spec is first loaded).
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

_SPEC_NAME = "cytosorb_crs.yaml"


def bundled_spec_path() -> Path:
    """Path of the shipped CytoSorb-in-CRS spec (installed copy, else the source tree's)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "specs" / _SPEC_NAME, here.parent / "specs" / _SPEC_NAME):
        if candidate.is_file():
            try:  # shown relative in messages and reports when under the working directory
                return candidate.relative_to(Path.cwd())
            except ValueError:
                return candidate
    from crs_model.errors import Problem

    raise SpecError(Problem(None, f"bundled spec {_SPEC_NAME} not found beside {here}"))  # pragma: no cover


def load_spec(path: str | Path | None = None, *, require_signoff: bool = False) -> Spec:
    """Load and type-check a spec file (the bundled one when ``path`` is None).

    Raises :class:`SpecError` listing every problem as ``file:line:col``. With
    ``require_signoff=True`` raises :class:`SignoffError` unless the file's exact
    bytes (sha256) match a record of the sign-off file beside it.
    """
    from crs_model.loader import load_spec_file

    spec = load_spec_file(bundled_spec_path() if path is None else path)
    if require_signoff:
        from crs_model.signoff import require_signoff as _require

        _require(spec)
    return spec


@functools.lru_cache(maxsize=8)
def _engine_for(path: str) -> Engine:
    return Engine(load_spec(path))


def evaluate(patient: Mapping[str, Any], *, spec: Spec | Engine | str | Path | None = None) -> Decision:
    """Decide for one patient with ``spec`` (default: the bundled spec).

    Raises :class:`PatientError` (a ``ValueError``) naming the field on bad input.
    """
    if isinstance(spec, Engine):
        engine = spec
    elif isinstance(spec, Spec):
        engine = Engine(spec)
    else:
        engine = _engine_for(str(bundled_spec_path() if spec is None else spec))
    return engine.evaluate(patient)
