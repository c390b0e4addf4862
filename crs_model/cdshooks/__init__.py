"""An HL7 CDS Hooks 2.0 service over a decision spec (``crs-model serve``).

The web stack (Starlette, uvicorn, PyJWT) is an optional extra: nothing here is imported
by ``import crs_model``. :func:`crs_model.cdshooks.app.create_app` builds the ASGI app from a
:class:`~crs_model.cdshooks.config.ServiceConfig`.
"""

from __future__ import annotations
