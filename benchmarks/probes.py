"""Peak memory of one client doing workload (1), in a fresh interpreter.

``python -m benchmarks.probes --client a --base-url URL --n 2000 --concurrency 64
--mode tracemalloc`` runs the fan-out once and prints one JSON line. Each probe is its own
process so that no other client's objects, caches or imported modules are in the figure.
(Import time is probed by ``run.py`` with a bare ``python -c``: importing this module would
pre-load asyncio and friends and flatter every library.)
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import re
import resource
import sys
import time
import tracemalloc

from benchmarks.catalog import language_model_id
from benchmarks.clients import make_client

__all__ = ["main"]


def _reset_peak_rss() -> bool:
    """Reset the kernel's RSS high-water mark to the current RSS (Linux >= 4.0).

    Without this, ``ru_maxrss`` still holds the peak reached while importing (memory the
    allocator has since freed and reuses), and a workload smaller than that peak shows 0.
    """
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        match = re.search(rf"^{field}:\s+(\d+) kB", f.read(), re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no {field} in /proc/self/status")
    return int(match.group(1))


async def _memory(key: str, base_url: str, n: int, concurrency: int, mode: str) -> dict[str, float]:
    ids = [language_model_id(i) for i in range(n)]
    client = make_client(key, base_url)
    try:
        # One request first: lazy imports and first-use setup are import cost (measured
        # separately), not the fan-out's memory.
        await client.get(ids[0])
        gc.collect()
        if mode == "tracemalloc":
            tracemalloc.start()
        hwm_reset = mode == "rss" and _reset_peak_rss()
        rss_before = (
            _status_kib("VmRSS")
            if hwm_reset
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        )
        started = time.perf_counter()
        results = await client.get_many(ids, concurrency)
        seconds = time.perf_counter() - started
        if mode == "tracemalloc":
            # Peak while the results are still alive: what a caller holding them pays.
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            value = float(peak)
        else:
            # KiB on Linux: how far the workload raised the RSS high-water mark above the
            # process after imports and one request (ru_maxrss if the mark cannot be reset).
            rss_after = (
                _status_kib("VmHWM")
                if hwm_reset
                else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            )
            value = float(max(0, rss_after - rss_before) * 1024)
        if len(results) != n:
            raise RuntimeError(f"expected {n} results, got {len(results)}")
    finally:
        await client.aclose()
    return {"bytes": value, "seconds": seconds, "hwm_reset": float(hwm_reset)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--client", required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--mode", choices=("tracemalloc", "rss"), required=True)
    args = parser.parse_args(argv)
    result = asyncio.run(_memory(args.client, args.base_url, args.n, args.concurrency, args.mode))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
