"""The solver's resource limits: a z3-free module, so the package and its callers can name them
without loading z3."""

from __future__ import annotations

DEFAULT_RLIMIT = 50_000_000  # z3 resource units per query (deterministic, unlike a timeout)
MAX_RLIMIT = 2**32 - 1  # z3 keeps the limit in an unsigned 32-bit parameter
DEFAULT_BMC_DEPTH = 6  # steps of a care course the temporal check unrolls (``--bmc-depth``)
MAX_BMC_DEPTH = 64  # the unrolling grows linearly with the depth, the temporal counts quadratically
DEFAULT_ROBUSTNESS_CAP = 50  # regions listed per robustness question (one input, or all together)
MAX_ROBUSTNESS_CAP = 10_000
