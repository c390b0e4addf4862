"""``diff_specs``: prove two spec versions decision-equivalent, or list the regions where they differ.

Each region found by :class:`~crs_model.diff.regions.RegionSearch` is re-run through both
versions' engines in both modes: the three-valued engine must reproduce it (else the run
has an error, never a silently dropped region), and the exact (default) engine's answer
labels it ``exact_differs``.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping, Sequence
from typing import Any

from crs_model.diagnostics import Location
from crs_model.diff.atoms import parse_given
from crs_model.diff.elements import element_changes
from crs_model.diff.pair import Pair
from crs_model.diff.regions import Found, RegionSearch
from crs_model.diff.rerun import Runner, differs_beyond_notes
from crs_model.diff.result import (
    KINDS,
    REJECTED_BY_NEW,
    REJECTED_BY_OLD,
    DiffResult,
    ElementChange,
    Region,
    SpecRef,
)
from crs_model.diff.wording import condition, describe
from crs_model.errors import PatientError, SpecDefectError
from crs_model.model import Spec, Variable
from crs_model.verify.encoding import Undecided
from crs_model.verify.limits import DEFAULT_RLIMIT

DEFAULT_MAX_REGIONS = 20


def _ref(spec: Spec) -> SpecRef:
    return SpecRef(spec.path, spec.metadata.id, spec.metadata.version, spec.sha256)


def _reproduces(kind: str, old: dict[str, object], new: dict[str, object], flags_only: bool) -> str | None:
    """None when the three-valued engines show what the region claims, else why not."""
    if kind == REJECTED_BY_NEW:
        ok = "rejected" not in old and "rejected" in new
    elif kind == REJECTED_BY_OLD:
        ok = "rejected" in old and "rejected" not in new
    else:
        ok = "rejected" not in old and "rejected" not in new and old != new
        if ok and flags_only and differs_beyond_notes(old, new):
            return "the region is proven to differ only in actions and flags, but the witness differs in more"
    return None if ok else f"the engines do not reproduce a {kind.replace('_', ' ')} difference on the witness"


def _locate(
    new: Spec, found: Found, path: tuple[str, ...], changed: tuple[ElementChange, ...]
) -> tuple[str, Location | None]:
    """The new version's element a region points at: the changed element on the witness's path nearest
    the decision, else a changed element reading the region's inputs, else the first change located in
    the new version."""
    located = [c for c in changed if c.new is not None]
    ids = {c.element: c for c in located}
    # nearest the decision first: the outcome, then the path's edges and nodes backwards
    on_path = [f"outcome:{path[-1]}"] if path else []
    for a, b in reversed(list(itertools.pairwise(path))):
        on_path += [f"edge:{a}->{b}", f"node:{a}"]
    for el in on_path:
        if el in ids:
            return el, ids[el].new
    names = {a.input for a in found.atoms}
    for c in located:
        if any(names & set(site.inputs) for site in new.index.by_element.get(c.element, ())):
            return c.element, c.new
    if located:
        return located[0].element, located[0].new
    return "graph", new.graph_loc


def _new_path(runner: Runner, new: Spec, witness: dict[str, Any]) -> tuple[str, ...]:
    """The new version's three-valued path for ``witness`` (none when it rejects it or meets a defect)."""
    try:
        return runner.engines(exact=False)[1].evaluate({k: v for k, v in witness.items() if k in new.variables}).path
    except (PatientError, SpecDefectError):
        return ()


def _region(
    f: Found, runner: Runner, new: Spec, changed: tuple[ElementChange, ...], variables: Mapping[str, Variable]
) -> Region:
    """A found region with its witness re-run through both versions in both modes, worded and located."""
    o3, n3 = runner.run(f.witness, exact=False)
    oe, ne = runner.run(f.witness, exact=True)
    element, loc = _locate(new, f, _new_path(runner, new, f.witness), changed)
    return Region(
        kind=f.kind,
        description=describe(f.atoms, variables),
        conditions=tuple(condition(a) for a in f.atoms),
        witness=f.witness,
        old=o3,
        new=n3,
        flags_only=f.flags_only,
        exact_old=oe,
        exact_new=ne,
        exact_differs=oe != ne,
        element=element,
        location=loc,
        problem=_reproduces(f.kind, o3, n3, f.flags_only),
    )


def diff_specs(
    old: Spec,
    new: Spec,
    *,
    max_regions: int = DEFAULT_MAX_REGIONS,
    rlimit: int = DEFAULT_RLIMIT,
    given: Sequence[str] = (),
) -> DiffResult:
    """The semantic diff of ``old`` and ``new`` (at most ``max_regions`` regions of each kind), over the
    patients ``given`` describes (``NAME=VALUE`` each; raises :class:`GivenError` on a bad one)."""
    t0 = time.perf_counter()
    changed = element_changes(old, new)
    pair = Pair(old, new, rlimit=rlimit)
    fixed = [parse_given(g, pair.inputs.variables) for g in given]
    search = RegionSearch(pair, fixed)
    runner = Runner(old, new)
    t_encode = time.perf_counter() - t0
    variables = {**old.variables, **new.variables}  # the new version's labels and units win
    regions: list[Region] = []
    errors: list[str] = []
    cap_hit = False

    def found(f: Found) -> None:
        region = _region(f, runner, new, changed, variables)
        if region.problem:
            errors.append(f"{region.problem}: {region.witness}")
        regions.append(region)

    for kind in KINDS:
        try:
            cap_hit = search.regions(kind, max_regions, found) or cap_hit
        except Undecided as exc:
            errors.append(
                f"undecided while searching {kind.replace('_', ' ')} regions: the solver answered "
                f"unknown ({exc}); raise --rlimit"
            )
    return DiffResult(
        old=_ref(old),
        new=_ref(new),
        regions=tuple(regions),
        elements=changed,
        cap=max_regions,
        cap_hit=cap_hit,
        errors=tuple(errors),
        only_old=pair.old_only,
        only_new=pair.new_only,
        given=tuple(describe([a], variables) for a in fixed),
        timings={"encode_s": t_encode, "total_s": time.perf_counter() - t0, "queries": float(search.queries)},
    )


__all__ = ["DEFAULT_MAX_REGIONS", "diff_specs"]
