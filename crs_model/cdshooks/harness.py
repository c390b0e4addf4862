"""Run the app under a real uvicorn on loopback for a bounded time (tests, benchmarks, demos).

``with serving(app) as url:`` starts uvicorn in a thread on a free 127.0.0.1 port, waits
(bounded) until it listens, and always shuts it down on exit.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.applications import Starlette

STARTUP_TIMEOUT_S = 15.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(app: Starlette, *, timeout: float = STARTUP_TIMEOUT_S) -> Iterator[str]:
    """The base URL of ``app`` served on 127.0.0.1 for the duration of the ``with`` block."""
    config = uvicorn.Config(app, host="127.0.0.1", port=_free_port(), log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="cdshooks-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    try:
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start within {timeout:g} s")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout)
