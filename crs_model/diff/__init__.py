"""Semantic diff of two spec versions (``crs-model diff OLD NEW``; docs/diff.md).

Decision equivalence is proven with Z3 over one shared patient, or the regions that
decide differently are listed with witnesses; element-level changes come with them.
Importing this package loads z3 (:mod:`crs_model.diff.result` alone does not).
"""

from __future__ import annotations

from crs_model.diff.compare import DEFAULT_MAX_REGIONS, diff_specs
from crs_model.diff.result import DiffResult, ElementChange, Region
from crs_model.diff.revision import RevisionError, load_side

__all__ = ["DEFAULT_MAX_REGIONS", "DiffResult", "ElementChange", "Region", "RevisionError", "diff_specs", "load_side"]
