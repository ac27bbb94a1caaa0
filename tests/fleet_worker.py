"""One worker process of a fleet sharing a RedisCache, driven by tests/test_shared_cache.py.

``python tests/fleet_worker.py BASE_URL REDIS_URL PREFIX CACHE_TTL LOCK_TIMEOUT CALLERS``

Prints ``ready``, then for each line ``go`` on stdin runs CALLERS concurrent
``client.catalog()`` calls and prints ``done N`` (N: models in each catalog, which must
all agree) or ``error ...``; ``exit`` or end of input stops it. Public API only, as a
user's worker would be written.
"""

from __future__ import annotations

import asyncio
import sys

import xai_models_async as xm


async def main(base_url: str, redis_url: str, prefix: str, ttl: float,
               lock_timeout: float, callers: int) -> None:
    loop = asyncio.get_running_loop()
    # timeout=2: the test counts API requests, and on a loaded two-core machine a Redis
    # round trip can outlast the default 0.25 s, which (rightly) sends that call to the API.
    async with xm.RedisCache(redis_url, prefix=prefix, lock_timeout=lock_timeout,
                             timeout=2.0) as cache, \
            xm.AsyncClient("fleet-key", base_url=base_url, cache_ttl=ttl, cache=cache,
                           timeout=30) as client:
        print("ready", flush=True)
        while True:
            line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
            if line != "go":
                return
            try:
                catalogs = await asyncio.gather(*(client.catalog() for _ in range(callers)))
            except xm.XAIError as error:
                print(f"error {error}", flush=True)
                continue
            sizes = {len(catalog) for catalog in catalogs}
            print(f"done {sizes.pop()}" if len(sizes) == 1 else f"error sizes {sizes}",
                  flush=True)


if __name__ == "__main__":
    base, redis, prefix, ttl, lock, callers = sys.argv[1:7]
    asyncio.run(main(base, redis, prefix, float(ttl), float(lock), int(callers)))
