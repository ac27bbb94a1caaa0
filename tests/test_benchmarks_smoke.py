"""Keep benchmarks/ from rotting: a tiny end-to-end run of ``python -m benchmarks.run``.

Runs wherever the ``test`` extra is installed; openai/httpx/pydantic/matplotlib are
optional and their rows (and the chart) must degrade to "unavailable"/"skipped".
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
WORKLOADS = (
    "fan-out",
    "list",
    "sequential",
    "decode",
    "memory-peak",
    "memory-rss",
    "import",
    "catalog-cached",
    "catalog-redis",
)
REDIS_VARIANTS = ("fresh fetch", "memory cache", "RedisCache, warm", "memory, stale",
                  "RedisCache, stale")


def _run_smoke(out: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--smoke", "--out", str(out), *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return (out / "results.md").read_text(encoding="utf-8")


def _redis_usable() -> bool:
    blocked = os.environ.get("XAI_BENCH_BLOCK_IMPORTS", "").split(",")
    server = os.environ.get("XAI_BENCH_REDIS_SERVER", shutil.which("redis-server"))
    return bool(server) and importlib.util.find_spec("redis") is not None and (
        "redis" not in blocked)


@pytest.mark.benchmark_smoke
def test_benchmark_smoke_run_writes_every_output(tmp_path: Path) -> None:
    text = _run_smoke(tmp_path)
    assert (tmp_path / "results.json").is_file()
    # XAI_BENCH_BLOCK_IMPORTS lets a full dev venv rehearse CI's missing packages.
    blocked = os.environ.get("XAI_BENCH_BLOCK_IMPORTS", "").split(",")
    if importlib.util.find_spec("matplotlib") is not None and "matplotlib" not in blocked:
        assert (tmp_path / "chart.png").stat().st_size > 0
    else:
        # CI's `test` extra has no matplotlib: the harness must say so, not crash.
        assert "skipped: matplotlib" in text

    rows = [line for line in text.splitlines() if line.startswith("| ")]
    for workload in WORKLOADS:
        assert any(row.startswith(f"| {workload} |") for row in rows), workload
    # The baseline needs only aiohttp + msgspec (core dependencies), so it always has a
    # number for the network workloads.
    assert any(row.startswith("| fan-out | (b)") and "x |" in row for row in rows)

    redis_rows = [row for row in rows if row.startswith("| catalog-redis |")]
    if _redis_usable():
        # Every variant measured, each as a ratio to the fresh fetch of the same run.
        for variant in REDIS_VARIANTS:
            assert any(variant in row and "x of fresh |" in row for row in redis_rows), (
                variant, redis_rows)
    else:
        assert len(redis_rows) == 1, redis_rows
        assert "skipped: redis" in redis_rows[0]


@pytest.mark.benchmark_smoke
def test_catalog_redis_is_one_clear_skip_line_without_redis_server(tmp_path: Path) -> None:
    # A machine without redis-server (XAI_BENCH_REDIS_SERVER="" rehearses one) still
    # completes the run; the workload is one row that says why it did not run.
    env = {**os.environ, "XAI_BENCH_REDIS_SERVER": ""}
    text = _run_smoke(tmp_path, "--workloads", "catalog-redis", env=env)
    rows = [line for line in text.splitlines() if line.startswith("| catalog-redis |")]
    assert rows == [
        "| catalog-redis | (a) every variant | — | — | — | — | "
        "skipped: redis-server not found (apt-get install redis-server) |"
    ]
