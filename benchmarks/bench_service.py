"""CDS Hooks service latency: a typical patient-view call against the same server's discovery, same run.

Starts the shipped spec's service under uvicorn on 127.0.0.1 with JWT checks on, signs every
token before timing (the client's cost is not the server's), and reports p50/p99 and
throughput of each endpoint and the call/discovery ratios. Goal: p99 of a call <= 5x
discovery and far under CDS Hooks' "on the order of 500 ms".
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.cdshooks_support import BASE, example, hook_body, make_keys, served, token

N = 1000
WIDTH = 10
SERVICE = "/cds-services/cytosorb-crs"


async def _run(url: str, method: str, path: str, tokens: list[str], body: object | None) -> tuple[list[float], float]:
    lat: list[float] = []
    gate = asyncio.Semaphore(WIDTH)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=httpx.Limits(max_connections=WIDTH)) as c:

        async def one(tok: str) -> None:
            async with gate:
                t = time.perf_counter()
                r = await c.request(method, path, headers={"Authorization": f"Bearer {tok}"}, json=body)
                lat.append(time.perf_counter() - t)
                assert r.status_code == 200, r.status_code

        start = time.perf_counter()
        await asyncio.gather(*(one(t) for t in tokens))
        return lat, time.perf_counter() - start


def _pct(xs: list[float], p: float) -> float:
    return statistics.quantiles(xs, n=100, method="inclusive")[int(p) - 1] * 1000 if p < 100 else max(xs) * 1000


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        keys = make_keys(Path(tmp))
        body = hook_body(example("06_cart_grade4_refractory_consider_cytosorb.json"))
        with served(Path(tmp), keys) as (url, _svc):
            aud = BASE + SERVICE
            asyncio.run(_run(url, "POST", SERVICE, [token(keys, aud) for _ in range(50)], body))  # warm-up
            results = {}
            for name, method, path, b in (("discovery", "GET", "/cds-services", None), ("call", "POST", SERVICE, body)):
                lat, wall = asyncio.run(_run(url, method, path, [token(keys, aud) for _ in range(N)], b))
                results[name] = (_pct(lat, 50), _pct(lat, 99), N / wall)
    for name, (p50, p99, rps) in results.items():
        print(f"{name:9s}  p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  {rps:7.0f} req/s  ({N} requests, {WIDTH} at a time)")
    d, c = results["discovery"], results["call"]
    print(f"call/discovery: p50 {c[0] / d[0]:.2f}x  p99 {c[1] / d[1]:.2f}x  throughput {c[2] / d[2]:.2f}x")


if __name__ == "__main__":
    main()
