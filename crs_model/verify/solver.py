"""The one solver factory: every solver the verifier builds comes from :func:`make_solver`.

Fixed random seed and a deterministic resource limit (an ``rlimit`` counts solver
work, so a result does not depend on machine speed, as a wall-clock timeout would).
"""

from __future__ import annotations

import z3

from crs_model.verify.limits import DEFAULT_RLIMIT

SEED = 0


def make_solver(
    ctx: z3.Context, *, rlimit: int = DEFAULT_RLIMIT, minimize_cores: bool = True, relevancy: int | None = None
) -> z3.Solver:
    """A solver in ``ctx`` with the project's settings (same results on every machine).

    Each encoding owns a fresh ``z3.Context``: term ids, and so the solver's
    choices and the witnesses it returns, do not depend on what else the process
    built before (and encodings can live in different threads).
    """
    s = z3.Solver(ctx=ctx)
    s.set("random_seed", SEED)
    s.set("rlimit", rlimit)
    s.set("core.minimize", minimize_cores)
    if relevancy is not None:
        s.set("relevancy", relevancy)
    return s


__all__ = ["SEED", "make_solver"]
