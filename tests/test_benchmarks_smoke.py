"""Keep benchmarks/ from rotting: a tiny end-to-end run of ``python -m benchmarks.run``.

Runs wherever the ``test`` extra is installed; openai/httpx/pydantic/matplotlib are
optional and their rows (and the chart) must degrade to "unavailable"/"skipped".
"""

from __future__ import annotations

import importlib.util
import os
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
)


@pytest.mark.benchmark_smoke
def test_benchmark_smoke_run_writes_every_output(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--smoke", "--out", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]

    results_md = tmp_path / "results.md"
    assert results_md.is_file()
    assert (tmp_path / "results.json").is_file()
    text = results_md.read_text(encoding="utf-8")
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
