"""Property-based validation of a crs_model spec and its engine (Hypothesis).

Public facade; everything else in this package is private::

    from crs_model.testing import patients, trajectories
    from hypothesis import given

    @given(patients(spec))
    def test_invariants(p): ...

Importing this package imports Hypothesis; ``import crs_model`` never does.
"""

from __future__ import annotations

from crs_model.testing._boundaries import harvest as boundary_values
from crs_model.testing._strategies import patient_decoder, patients, trajectories

__all__ = ["boundary_values", "patient_decoder", "patients", "trajectories"]
