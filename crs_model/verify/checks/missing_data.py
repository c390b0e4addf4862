"""The missing-data check: no decision rests on an absent input (and flags hidden only by one)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import z3

from crs_model.expr import Expr
from crs_model.index import FormulaSite, SiteKind
from crs_model.model import Severity
from crs_model.verify.capi import raw_and, raw_not, raw_or
from crs_model.verify.search import LOCAL_CHUNK
from crs_model.verify.witness import added, expect_changed, expect_completion
from crs_model.verify.z3expr import Tri, Val

if TYPE_CHECKING:
    from crs_model.verify.verifier import Verifier


def run(v: Verifier) -> None:
    """Completing a patient's absent inputs never changes a known guard, output or flag.

    Compositional proof: every guard on a path, every outcome output, and
    every flag condition keeps its known value in every valid completion
    (checked formula by formula on two copies of the inputs), so by induction
    along the path a definitive outcome is the same for every completion.
    Then, per outcome and flag: a flag left out only because its input is
    absent, although a completion would show it, is reported (info).
    """
    spec, enc = v.spec, v.enc
    q, q_tr, link = enc.completion()
    p = enc.inputs
    sites = spec.index.of_kind(SiteKind.GUARD, SiteKind.OUTPUT, SiteKind.FLAG)
    formulas = [(s.element, s.formula, s.loc, _what(s)) for s in sites]
    deps_of = {id(s.formula): frozenset(s.inputs) for s in sites}  # the inputs it reads, through definitions
    memo: dict[Expr, z3.BoolRef] = {}  # the same formula at many places is asked about once
    groups: dict[frozenset[str], dict[int, z3.BoolRef]] = {}
    changes: list[z3.BoolRef] = []
    for _, formula, _, _ in formulas:
        changed = memo.get(formula.ast)
        if changed is None:
            tp, tq = enc.tr.term(formula.ast), q_tr.term(formula.ast)
            if isinstance(tp, Tri) and isinstance(tq, Tri):
                changed = raw_or(raw_and(tp.t, raw_not(tq.t)), raw_and(tp.f, raw_not(tq.f)))
            else:
                assert isinstance(tp, Val)
                assert isinstance(tq, Val)
                changed = z3.And(tp.k, z3.Or(z3.Not(tq.k), tp.v != tq.v))
            memo[formula.ast] = changed
            deps = deps_of[id(formula)]
            groups.setdefault(deps, {})[changed.get_id()] = changed
        changes.append(changed)
    # one query per set of inputs (in disjunctions of at most LOCAL_CHUNK formulas)
    # proves a whole group in the usual case: many small queries are much cheaper
    # than one disjunction over the whole spec; formula by formula only in a
    # chunk where it fails
    open_ids: set[int] = set()
    for deps in sorted(groups, key=sorted):
        group = list(groups[deps].values())
        for i in range(0, len(group), LOCAL_CHUNK):
            chunk = group[i : i + LOCAL_CHUNK]
            if v.status(link, z3.Or(*chunk), local=True):
                open_ids |= {c.get_id() for c in chunk}
    for (element, formula, loc, what), changed in zip(formulas, changes, strict=True):
        if changed.get_id() not in open_ids:
            continue
        m = v.model([link, changed], [p, q], local=True)
        if m is None:
            continue
        w, c = enc.witness(m, p), enc.witness(m, q)
        v.add(
            "missing-data",
            Severity.ERROR,
            loc,
            f"{what} ('{v.words.render(formula.ast)}') is known for this patient but changes when the "
            f"absent inputs are completed with {added(w, c)}: a decision could rest on missing data",
            element,
            w,
            expect_changed(formula, spec, c),
        )
    for o in spec.outcomes.values():
        if o.id in v.unreachable:
            continue
        po = enc.outcomes[o.id]
        for fl in o.flags:
            if fl.when is None:
                continue
            # the completion may add only inputs the flag's condition depends on
            needs = deps_of[id(fl.when)]
            same = [q.known[v] == p.known[v] for v in spec.variables if v not in needs]
            goal = [link, po.definitive, z3.Not(po.flags[fl.id]), q_tr.tri(fl.when.ast).t, *same]
            m = v.model(goal, [p])
            if m is None:
                continue
            w, c = enc.witness(m, p), enc.witness(m, q)
            v.add(  # the decision stands; only its explanatory text depends on the absent input
                "missing-data",
                Severity.INFO,
                spec.locate(fl.when, 0),
                f"outcome '{o.id}' is given without its flag '{fl.id}' ('{v.words.render(fl.when.ast)}') "
                f"because an input it needs is absent; completing the witness with {added(w, c)} "
                f"shows the flag: {fl.text.strip()}",
                f"flag:{fl.id}",
                w,
                expect_completion(o.id, fl.id, c),
            )


def _what(site: FormulaSite) -> str:
    """The formula of ``site`` as a finding names it."""
    ident = site.element.partition(":")[2]
    if site.kind is SiteKind.GUARD:
        return f"the guard of {ident}"
    if site.kind is SiteKind.OUTPUT:
        return f"output {site.detail} of '{ident}'"
    return f"flag {ident}"
