"""One command for every benchmark: ``python -m benchmarks.run [--smoke] [--out DIR]``.

Starts the local server in its own process, runs the workloads interleaved (a b c d a b c d
...) for several rounds, discards the warm-up round, and writes ``results.md``,
``results.json`` and ``chart.png`` (see ``benchmarks/README.md``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.catalog import build_catalog, language_model_id
from benchmarks.clients import (
    CLIENTS,
    BenchClient,
    ClientUnavailableError,
    make_client,
    make_decoder,
)
from benchmarks.redis_read import VARIANTS as REDIS_VARIANTS
from benchmarks.redis_read import RedisBench, unavailable_reason

__all__ = ["Sizes", "main"]

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "benchmarks" / "results"

# What "importing the library" means for each client: enough to construct it.
IMPORT_STATEMENTS: dict[str, str] = {
    # Attribute access too, in case the package resolves AsyncClient lazily.
    "a": "import xai_models_async; xai_models_async.AsyncClient",
    "b": "import aiohttp, msgspec",
    "c": "from openai import AsyncOpenAI",
    "d": "import httpx, pydantic",
}


@dataclass(frozen=True)
class Workload:
    key: str
    title: str
    unit: str  # how the median is shown: "s", "ms", "MiB"
    clients: str  # which clients can do it at all


WORKLOADS: tuple[Workload, ...] = (
    Workload("fan-out", "(1) fan-out: get x N at concurrency C", "s", "abcd"),
    Workload("list", "(2) list: language-models list x L, sequential", "s", "abcd"),
    Workload("sequential", "(3) sequential: S gets one after another", "s", "abcd"),
    Workload("decode", "(4) decode only: list body -> typed objects, per decode", "ms", "abd"),
    Workload("memory-peak", "(5) memory: tracemalloc peak during (1)", "MiB", "abcd"),
    Workload("memory-rss", "(5) memory: peak RSS rise during (1)", "MiB", "abcd"),
    Workload("import", "(6) import time, fresh interpreter", "ms", "abcd"),
    Workload("catalog-cached", "(7) catalog reads x K (a: cache_ttl=60)", "s", "ab"),
    # Rows per cache variant of (a), as ratios to (a)'s uncached fetch: redis_read.py.
    Workload("catalog-redis", "(8) catalog read: RedisCache vs memory vs fresh", "ms", "a"),
)
#: Workloads whose rows are not one per client (they have their own cells in RunResult).
OWN_ROWS = frozenset({"catalog-redis"})

TARGETS: dict[str, float] = {
    "fan-out": 1.10,
    "list": 1.10,
    "sequential": 1.10,
    "decode": 1.05,
    "memory-peak": 1.10,
}


@dataclass(frozen=True)
class Sizes:
    models: int
    fan_out: int
    concurrency: int
    list_repeats: int
    sequential: int
    decode_repeats: int
    catalog_reads: int
    redis_reads: int
    rounds: int
    warmup_rounds: int
    memory_rounds: int


FULL = Sizes(
    models=2000,
    fan_out=2000,
    concurrency=64,
    list_repeats=50,
    sequential=500,
    decode_repeats=20,
    catalog_reads=50,
    redis_reads=20,
    # 21: on a shared 2-core VM single rounds vary by 2x; at 11 rounds two runs of the
    # same code put decode at 1.13x and 0.99x, sequential at 1.16x and 1.03x.
    rounds=21,
    warmup_rounds=1,
    # Each memory probe is a fresh interpreter running a whole fan-out; peak memory barely
    # varies between runs, so fewer rounds keep a full run near 10 minutes on 2 cores.
    memory_rounds=3,
)
SMOKE = Sizes(
    models=40,
    fan_out=40,
    concurrency=8,
    list_repeats=2,
    sequential=10,
    decode_repeats=2,
    catalog_reads=3,
    redis_reads=2,
    rounds=1,
    warmup_rounds=0,
    memory_rounds=1,
)


@dataclass
class Cell:
    """Every sample of one (workload, client) pair, plus why it has none."""

    samples: list[float] = field(default_factory=list)
    unavailable: str | None = None
    # Extra per-sample facts: CPU share of server and client during timed runs.
    server_cpu: list[float] = field(default_factory=list)
    client_cpu: list[float] = field(default_factory=list)

    @property
    def median(self) -> float | None:
        return statistics.median(self.samples) if self.samples else None


# --------------------------------------------------------------------------- server


class Server:
    """The benchmark server subprocess, with a view of its CPU time."""

    def __init__(self, models: int, impl: str) -> None:
        self.impl = impl
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.server", "--models", str(models), "--impl", impl],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError(f"benchmark server did not start (said {line!r})")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"

    def cpu_seconds(self) -> float:
        """User+system CPU of the server so far (Linux /proc; 0.0 elsewhere)."""
        try:
            with open(f"/proc/{self._proc.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


# --------------------------------------------------------------------------- workloads


def _check_count(result: Any, expected: int, what: str) -> None:
    # Cheap proof that every client really fetched and decoded what it was asked to.
    if len(result) != expected:
        raise RuntimeError(f"{what}: expected {expected} objects, got {len(result)}")


async def _timed(server: Server, cell: Cell, work: Callable[[], Awaitable[None]]) -> None:
    gc.collect()
    server_before = server.cpu_seconds()
    cpu_before = time.process_time()
    started = time.perf_counter()
    await work()
    wall = time.perf_counter() - started
    cell.samples.append(wall)
    cell.client_cpu.append((time.process_time() - cpu_before) / wall)
    cell.server_cpu.append((server.cpu_seconds() - server_before) / wall)


async def _run_network(
    workload: str, key: str, server: Server, sizes: Sizes, cell: Cell, record: bool
) -> None:
    ids = [language_model_id(i) for i in range(sizes.models)]
    fan_ids = [ids[i % len(ids)] for i in range(sizes.fan_out)]
    seq_ids = [ids[i % len(ids)] for i in range(sizes.sequential)]
    target = cell if record else Cell()
    client: BenchClient = make_client(
        key, server.url, cache_ttl=60.0 if workload == "catalog-cached" and key == "a" else None
    )
    try:
        # One request before the clock starts: first-use setup (lazy imports, the first
        # connection) is the same for every client and belongs to import/connect cost.
        await client.get(ids[0])

        async def fan_out() -> None:
            _check_count(await client.get_many(fan_ids, sizes.concurrency), len(fan_ids), key)

        async def list_() -> None:
            for _ in range(sizes.list_repeats):
                _check_count(await client.list_language(), sizes.models, key)

        async def sequential() -> None:
            for model_id in seq_ids:
                await client.get(model_id)

        async def catalog() -> None:
            for _ in range(sizes.catalog_reads):
                await client.catalog()

        work = {
            "fan-out": fan_out,
            "list": list_,
            "sequential": sequential,
            "catalog-cached": catalog,
        }[workload]
        await _timed(server, target, work)
    finally:
        await client.aclose()


def _run_decode(key: str, body: bytes, sizes: Sizes, cell: Cell, record: bool) -> None:
    decode, _ = make_decoder(key)
    _check_count(decode(body), sizes.models, key)
    gc.collect()
    started = time.perf_counter()
    for _ in range(sizes.decode_repeats):
        decode(body)
    if record:
        # Seconds per decode of the whole list body.
        cell.samples.append((time.perf_counter() - started) / sizes.decode_repeats)


def _run_probe(command: list[str], timeout: float) -> dict[str, float]:
    done = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ClientUnavailableError(f"probe failed: {tail[0]}")
    parsed: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return parsed


def _memory_probe(key: str, server: Server, sizes: Sizes, mode: str) -> float:
    result = _run_probe(
        [
            sys.executable,
            "-m",
            "benchmarks.probes",
            "--client",
            key,
            "--base-url",
            server.url,
            "--n",
            str(sizes.fan_out),
            "--concurrency",
            str(sizes.concurrency),
            "--mode",
            mode,
        ],
        timeout=180,
    )
    return result["bytes"]


def _import_probe(key: str) -> float:
    # A bare interpreter: nothing imported but what `python -c` always has.
    code = (
        "import time\n"
        "t = time.perf_counter()\n"
        f"{IMPORT_STATEMENTS[key]}\n"
        "print('{\"seconds\": %r}' % (time.perf_counter() - t))\n"
    )
    return _run_probe([sys.executable, "-c", code], timeout=60)["seconds"]


# --------------------------------------------------------------------------- orchestration


@dataclass
class RunResult:
    sizes: Sizes
    clients: dict[str, str | None]  # key -> None if available, else the reason
    cells: dict[str, dict[str, Cell]]
    decode_paths: dict[str, str]
    body_bytes: dict[str, int]
    server_impl: str
    wall_seconds: float = 0.0
    # catalog-redis: variant -> cell (None: not selected), and sizes it observed.
    redis: dict[str, Cell] | None = None
    redis_facts: dict[str, int] = field(default_factory=dict)


def _selected_clients(cli: str | None) -> list[str]:
    raw = cli or os.environ.get("XAI_BENCH_ONLY") or "abcd"
    keys = [k.strip() for k in raw.replace(",", " ").split() if k.strip()]
    if len(keys) == 1 and len(keys[0]) > 1:  # "abcd" written without separators
        keys = list(keys[0])
    unknown = [k for k in keys if k not in CLIENTS]
    if unknown:
        raise SystemExit(f"unknown client(s) {unknown}; choose from {list(CLIENTS)}")
    return [k for k in CLIENTS if k in keys]


async def _probe_availability(keys: list[str], server: Server) -> dict[str, str | None]:
    status: dict[str, str | None] = {}
    for key in keys:
        try:
            client = make_client(key, server.url)
            try:
                await client.get(language_model_id(0))
            finally:
                await client.aclose()
            status[key] = None
        except ClientUnavailableError as exc:
            status[key] = str(exc)
        except Exception as exc:
            # A half-written library may fail in any way; report it, keep the others going.
            status[key] = f"{type(exc).__name__}: {exc}"
    return status


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _rounds(sizes: Sizes) -> Iterator[tuple[int, bool]]:
    for index in range(sizes.warmup_rounds + sizes.rounds):
        yield index, index >= sizes.warmup_rounds


async def _run_all(
    sizes: Sizes, keys: list[str], workloads: list[str], server: Server
) -> RunResult:
    from benchmarks.clients import library_supports_cache_ttl

    catalog = build_catalog(sizes.models)
    list_body = catalog.body("/v1/language-models")
    status = await _probe_availability(keys, server)
    for key, reason in status.items():
        if reason:
            _log(f"{CLIENTS[key].label} unavailable: {reason}")
    cells: dict[str, dict[str, Cell]] = {
        w.key: {} for w in WORKLOADS if w.key in workloads and w.key not in OWN_ROWS
    }
    decode_paths: dict[str, str] = {}
    for workload in WORKLOADS:
        if workload.key not in cells:
            continue
        for key in keys:
            cell = cells[workload.key][key] = Cell()
            if key not in workload.clients:
                cell.unavailable = {
                    "decode": "n/a: no public decode-only API",
                    "catalog-cached": "n/a: no catalog/caching equivalent",
                }.get(workload.key, "n/a")
            elif status[key] and not (workload.key == "decode" and key == "a"):
                # The decode path of (a) needs only xai_models_async.types, not AsyncClient.
                cell.unavailable = f"unavailable: {status[key]}"
            elif (
                workload.key == "catalog-cached"
                and key == "a"
                and not (library_supports_cache_ttl())
            ):
                cell.unavailable = "n/a: not implemented yet (AsyncClient has no cache_ttl)"
    for workload_key in ("decode",):
        if workload_key in cells:
            for key, cell in cells[workload_key].items():
                if cell.unavailable is None:
                    try:
                        decode_paths[key] = make_decoder(key)[1]
                    except ClientUnavailableError as exc:
                        cell.unavailable = f"unavailable: {exc}"

    async def attempt(cell: Cell, label: str, step: Callable[[], Awaitable[None]]) -> None:
        try:
            await step()
        except Exception as exc:
            # One client failing mid-run (e.g. the library under construction) must not
            # throw away everyone else's numbers.
            cell.unavailable = f"failed: {type(exc).__name__}: {exc}"
            cell.samples.clear()
            _log(f"  {label} failed: {cell.unavailable}")

    def step(
        workload: str, key: str, cell: Cell, index: int, record: bool
    ) -> Callable[[], Awaitable[None]] | None:
        """The coroutine factory for one measurement, or None when this round has none."""
        if workload in ("fan-out", "list", "sequential", "catalog-cached"):
            return lambda: _run_network(workload, key, server, sizes, cell, record)
        if workload == "decode":

            async def decode() -> None:
                _run_decode(key, list_body, sizes, cell, record)

            return decode
        if workload.startswith("memory"):
            if index >= sizes.warmup_rounds + sizes.memory_rounds:
                return None
            mode = "tracemalloc" if workload == "memory-peak" else "rss"

            async def memory() -> None:
                # In a thread, so the event loop (idle meanwhile) stays healthy.
                value = await asyncio.to_thread(_memory_probe, key, server, sizes, mode)
                if record:
                    cell.samples.append(value)

            return memory

        async def imports() -> None:
            value = await asyncio.to_thread(_import_probe, key)
            if record:
                cell.samples.append(value)

        return imports

    redis_cells: dict[str, Cell] | None = None
    redis_bench: RedisBench | None = None
    if "catalog-redis" in workloads:
        redis_cells = {variant: Cell() for variant in REDIS_VARIANTS}
        reason = (
            "not selected: needs client (a)" if "a" not in keys
            else f"unavailable: {status['a']}" if status["a"]
            else unavailable_reason()
        )
        if reason is None:
            redis_bench = RedisBench(server.url, sizes.models, sizes.redis_reads)
            try:
                await asyncio.to_thread(redis_bench.start)
            except (OSError, RuntimeError) as exc:
                reason, redis_bench = f"skipped: redis-server did not start: {exc}", None
        if reason is not None:
            _log(f"catalog-redis {reason}")
            for cell in redis_cells.values():
                cell.unavailable = reason

    try:
        for index, record in _rounds(sizes):
            total = sizes.warmup_rounds + sizes.rounds
            _log(f"round {index + 1}/{total}{'' if record else ' (warm-up, discarded)'}")
            # Each round starts with the next client: going first (right after another
            # workload's garbage) measured up to 1.3x slower on decode on this VM.
            shift = index % len(keys)
            order = keys[shift:] + keys[:shift]
            for workload in WORKLOADS:
                row = cells.get(workload.key)
                if row is None:
                    continue
                # Interleaved: every client takes its turn at this workload before the next.
                for key in order:
                    cell = row[key]
                    if cell.unavailable:
                        continue
                    work = step(workload.key, key, cell, index, record)
                    if work is not None:
                        await attempt(cell, f"{workload.key} {CLIENTS[key].label}", work)
            if redis_bench is not None and redis_cells is not None:
                _record_redis_round(await redis_bench.round(), redis_cells, record)
    finally:
        if redis_bench is not None:
            await asyncio.to_thread(redis_bench.stop)
    return RunResult(
        sizes=sizes,
        clients=status,
        cells=cells,
        decode_paths=decode_paths,
        body_bytes={
            "/v1/language-models": len(list_body),
            "/v1/models": len(catalog.body("/v1/models")),
            "/v1/language-models/{id} (mean)": round(
                statistics.mean(
                    len(catalog.body(f"/v1/language-models/{i}"))
                    for i in catalog.language_model_ids
                )
            ),
            "/v1/models/{id} (mean)": round(
                statistics.mean(
                    len(catalog.body(f"/v1/models/{i}")) for i in catalog.language_model_ids
                )
            ),
        },
        server_impl=server.impl,
        redis=redis_cells,
        redis_facts=dict(redis_bench.facts) if redis_bench is not None else {},
    )


def _record_redis_round(
    results: dict[str, float | str], cells: dict[str, Cell], record: bool
) -> None:
    for variant, value in results.items():
        cell = cells[variant]
        if cell.unavailable:
            continue
        if isinstance(value, str):
            # As for the other workloads: a failed variant shows why, never a partial median.
            cell.unavailable = value
            cell.samples.clear()
            _log(f"  catalog-redis {variant} {value}")
        elif record:
            cell.samples.append(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark xai-models-async against peers.")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one round")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    parser.add_argument("--rounds", type=int, help="override the number of measured rounds")
    parser.add_argument(
        "--clients", help="subset of a,b,c,d (default: $XAI_BENCH_ONLY or all four)"
    )
    parser.add_argument(
        "--workloads", help=f"comma-separated subset of {','.join(w.key for w in WORKLOADS)}"
    )
    parser.add_argument("--server-impl", choices=("raw", "aiohttp"), default="raw")
    args = parser.parse_args(argv)

    sizes = SMOKE if args.smoke else FULL
    if args.rounds is not None:
        sizes = Sizes(**{**asdict(sizes), "rounds": args.rounds})
    keys = _selected_clients(args.clients)
    workloads = (
        [w.strip() for w in args.workloads.split(",")]
        if args.workloads
        else [w.key for w in WORKLOADS]
    )
    started = time.perf_counter()
    server = Server(sizes.models, args.server_impl)
    try:
        result = asyncio.run(_run_all(sizes, keys, workloads, server))
    finally:
        server.stop()
    result.wall_seconds = time.perf_counter() - started

    from benchmarks.report import write_reports

    args.out.mkdir(parents=True, exist_ok=True)
    written = write_reports(result, args.out, smoke=args.smoke)
    for path in written:
        _log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
