"""Turn a benchmark run into results.md, results.json and chart.png."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.clients import CLIENTS, blocked_imports

if TYPE_CHECKING:
    from benchmarks.run import Cell, RunResult

__all__ = ["machine_info", "write_reports"]

_DISTRIBUTIONS = (
    "xai-models-async",
    "aiohttp",
    "msgspec",
    "openai",
    "httpx2",
    "httpx",
    "pydantic",
    "matplotlib",
)
_BYTES_WORKLOADS = ("memory-peak", "memory-rss")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git(*args: str) -> str:
    root = Path(__file__).resolve().parent.parent
    return subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=True, timeout=10
    ).stdout.strip()


def _git_revision() -> str:
    try:
        rev = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--", "xai_models_async")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    # The library is often measured mid-development; say when the tree was not committed.
    return f"{rev} (library has uncommitted changes)" if dirty else rev


def machine_info() -> dict[str, Any]:
    versions: dict[str, str] = {}
    for name in _DISTRIBUTIONS:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    for name in blocked_imports():
        versions[name] = f"{versions.get(name, '?')} (blocked by XAI_BENCH_BLOCK_IMPORTS)"
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "versions": versions,
        "date_utc": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "git": _git_revision(),
    }


def _format(workload: str, value: float) -> str:
    if workload in _BYTES_WORKLOADS:
        return f"{value / 2**20:.2f} MiB"
    if value < 1e-3:
        return f"{value * 1e6:.1f} µs"
    if value < 1.0:
        return f"{value * 1e3:.2f} ms"
    return f"{value:.3f} s"


def _ratio(cell: Cell, baseline: Cell | None) -> float | None:
    """The median of the per-round ratios (each round's sample over the baseline's sample
    from the same round), or the ratio of the medians when the rounds do not pair up.
    On a shared VM a round's samples swing by up to 4x; the two clients of one round
    see the same machine, so their ratio is steady where the ratio of medians jumped
    (list: 1.00x and 1.37x in two runs of the same code, 1.01x both paired)."""
    if baseline is None or cell.median is None or not baseline.median:
        return None
    if len(cell.samples) == len(baseline.samples) and all(baseline.samples):
        return statistics.median(
            [a / b for a, b in zip(cell.samples, baseline.samples, strict=True)])
    return cell.median / baseline.median


def _ratios(result: RunResult) -> dict[str, dict[str, float | None]]:
    return {
        workload: {key: _ratio(cell, row.get("b")) for key, cell in row.items()}
        for workload, row in result.cells.items()
    }


def _percent(values: list[float]) -> str:
    return f"{statistics.median(values):.0%}" if values else "—"


def _markdown(result: RunResult, machine: dict[str, Any], chart_note: str, smoke: bool) -> str:
    from benchmarks.run import TARGETS, WORKLOADS

    sizes = result.sizes
    ratios = _ratios(result)
    lines: list[str] = [
        "# xai-models-async benchmarks"
        + (" (SMOKE RUN: tiny sizes, not a result)" if smoke else ""),
        "",
        f"Medians of {sizes.rounds} measured round(s) after {sizes.warmup_rounds} warm-up "
        f"round(s), clients interleaved in every round (a b c d, b c d a, ...); memory "
        f"probes: {min(sizes.memory_rounds, sizes.rounds)} round(s), each a fresh "
        "interpreter. **Ratio to (b)** is the median over rounds of this client's sample "
        "divided by the baseline's sample from the same round: below 1.00 is faster/smaller "
        "than bare aiohttp + msgspec, above is slower/larger. See `benchmarks/README.md`.",
        "",
        f"Sizes: catalog {sizes.models} language models; (1) {sizes.fan_out} gets at "
        f"concurrency {sizes.concurrency}; (2) list x {sizes.list_repeats}; (3) "
        f"{sizes.sequential} gets; (4) median time of one decode ({sizes.decode_repeats} "
        f"per sample); (7) {sizes.catalog_reads} catalog reads, first one uncached; (8) "
        f"time of one catalog read, mean of {sizes.redis_reads} per sample, **ratio to (a)'s "
        "fresh fetch** (no cache) of the same run, not to (b).",
        "",
        "| Workload | Client | Median | Ratio to (b) | Min – max | Server CPU | Notes |",
        "|---|---|---:|---:|---|---:|---|",
    ]
    for workload in WORKLOADS:
        if workload.key == "catalog-redis" and result.redis is not None:
            lines += _redis_rows(result)
        row = result.cells.get(workload.key)
        if row is None:
            continue
        for key, cell in row.items():
            label = CLIENTS[key].label
            if cell.unavailable or cell.median is None:
                reason = cell.unavailable or "no samples"
                lines.append(f"| {workload.key} | {label} | — | — | — | — | {reason} |")
                continue
            ratio = ratios[workload.key][key]
            spread = (
                f"{_format(workload.key, min(cell.samples))} – "
                f"{_format(workload.key, max(cell.samples))}"
            )
            notes: list[str] = []
            if key == "c" and workload.key in ("fan-out", "sequential"):
                notes.append("`/v1/models/{id}`")
            if key == "c" and workload.key == "list":
                notes.append(f"`/v1/models` (same {sizes.models} objects, smaller shape)")
            if workload.key == "decode":
                notes.append(result.decode_paths.get(key, ""))
            if cell.client_cpu:
                notes.append(f"client CPU {_percent(cell.client_cpu)}")
            lines.append(
                f"| {workload.key} | {label} | {_format(workload.key, cell.median)} | "
                f"{'—' if ratio is None else f'{ratio:.2f}x'} | {spread} | "
                f"{_percent(cell.server_cpu)} | {'; '.join(n for n in notes if n)} |"
            )
    lines += [
        "",
        "## Targets for (a)",
        "",
        "| Workload | Target | (a) ratio | Met? |",
        "|---|---:|---:|---|",
    ]
    for workload_key, limit in TARGETS.items():
        ratio = ratios.get(workload_key, {}).get("a")
        verdict: str
        if ratio is None:
            verdict = "not measured"
            shown = "—"
        else:
            verdict = "yes" if ratio <= limit else "**NO**"
            shown = f"{ratio:.2f}x"
        lines.append(f"| {workload_key} | ≤ {limit:.2f}x | {shown} | {verdict} |")
    unavailable = {k: r for k, r in result.clients.items() if r}
    lines += ["", "## Clients", ""]
    for key, why in result.clients.items():
        info = CLIENTS[key]
        state = f"**unavailable: {why}**" if why else info.detail
        lines.append(f"- {info.label}: {state}")
    skipped = [CLIENTS[k].label for k in CLIENTS if k not in result.clients]
    if skipped:
        lines.append(f"- not selected (XAI_BENCH_ONLY / --clients): {', '.join(skipped)}")
    lines += [
        "",
        f"Chart: {chart_note}",
        "",
        "## Machine",
        "",
        f"- CPU: {machine['cpu_model']}, {machine['cores']} cores",
        f"- Python: {machine['python']} on {machine['platform']}",
        f"- Versions: {', '.join(f'{k} {v}' for k, v in machine['versions'].items())}",
        f"- Date: {machine['date_utc']}; repository at {machine['git']}",
        f"- Server: `benchmarks.server --impl {result.server_impl}` in its own process; "
        f"body sizes: {', '.join(f'{k} {v:,} B' for k, v in result.body_bytes.items())}",
        f"- Whole run: {result.wall_seconds:.0f} s",
    ]
    if unavailable:
        lines += ["", "Some clients could not run here; their rows say why."]
    return "\n".join(lines) + "\n"


_REDIS_NOTES = {
    "fresh": "1.00x reference: 5 list fetches + JSON decode per read",
    "memory": "cache_ttl=60, warm; no request",
    "redis": "cache_ttl=60, RedisCache, warm: GET + msgpack decode per list; no request",
    "memory-stale": "stale_while_revalidate: timed read returns the stale catalog while "
    "one refresh per list runs",
    "redis-stale": "as memory-stale, entries in Redis",
}


def _redis_rows(result: RunResult) -> list[str]:
    """The catalog-redis rows: one per cache variant of (a), ratios to its fresh fetch."""
    from benchmarks.redis_read import BASELINE, VARIANTS

    cells = result.redis or {}
    baseline = cells.get(BASELINE)
    reasons = {cell.unavailable for cell in cells.values()}
    if len(reasons) == 1 and None not in reasons:
        # Skipped as a whole (no redis-server, no redis-py): one clear line, not five.
        return [f"| catalog-redis | (a) every variant | — | — | — | — | {reasons.pop()} |"]
    lines: list[str] = []
    for variant, label in VARIANTS.items():
        cell = cells[variant]
        if cell.unavailable or cell.median is None:
            reason = cell.unavailable or "no samples"
            lines.append(f"| catalog-redis | {label} | — | — | — | — | {reason} |")
            continue
        ratio = _ratio(cell, baseline)
        spread = f"{_format('', min(cell.samples))} – {_format('', max(cell.samples))}"
        notes = [_REDIS_NOTES[variant]]
        if variant == "redis" and "redis-entry" in result.redis_facts:
            notes.append(f"language-model list entry {result.redis_facts['redis-entry']:,} B")
        lines.append(
            f"| catalog-redis | {label} | {_format('', cell.median)} | "
            f"{'—' if ratio is None else f'{ratio:.2f}x of fresh'} | {spread} | — | "
            f"{'; '.join(notes)} |"
        )
    return lines


def _chart(result: RunResult, path: Path, smoke: bool) -> str:
    """Draw the chart; return a sentence for results.md either way."""
    if "matplotlib" in blocked_imports():
        return "skipped: matplotlib blocked by XAI_BENCH_BLOCK_IMPORTS"
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display on CI or servers
        import matplotlib.pyplot as plt
    except ImportError as exc:
        return f"skipped: matplotlib not installed ({exc})"
    from benchmarks.run import WORKLOADS

    ratios = _ratios(result)
    workloads = [w.key for w in WORKLOADS if any(v for v in ratios.get(w.key, {}).values())]
    keys = [k for k in CLIENTS if k in result.clients]
    colors = {"a": "#1f77b4", "b": "#7f7f7f", "c": "#d62728", "d": "#2ca02c"}
    fig, ax = plt.subplots(figsize=(13, 6), dpi=110)
    width = 0.8 / max(1, len(keys))
    for offset, key in enumerate(keys):
        xs: list[float] = []
        ys: list[float] = []
        for index, workload in enumerate(workloads):
            ratio = ratios[workload].get(key)
            if ratio:
                xs.append(index + (offset - (len(keys) - 1) / 2) * width)
                ys.append(ratio)
        bars = ax.bar(xs, ys, width, label=CLIENTS[key].label, color=colors.get(key))
        for bar, ratio in zip(bars, ys, strict=True):
            ax.annotate(
                f"{ratio:.2f}" if ratio < 10 else f"{ratio:.0f}",
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=7,
                xytext=(0, 2),
                textcoords="offset points",
            )
    ax.axhline(1.0, color="black", linewidth=1, linestyle="--")
    # Ratios span from ~0.01 (cached catalog) to ~10 (openai): only a log axis shows both.
    ax.set_yscale("log")
    ax.set_xticks(range(len(workloads)))
    ax.set_xticklabels(workloads)
    ax.set_ylabel("median ÷ median of (b) aiohttp+msgspec  (log; lower is better)")
    title = "xai-models-async vs alternatives: ratio to bare aiohttp + msgspec"
    ax.set_title(title + (" — SMOKE RUN" if smoke else ""))
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(axis="y", which="both", alpha=0.25)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return f"`{path.name}` (ratio to (b) per workload, log scale, dashed line = 1.0)"


def write_reports(result: RunResult, out: Path, *, smoke: bool) -> list[Path]:
    machine = machine_info()
    chart_path = out / "chart.png"
    chart_note = _chart(result, chart_path, smoke)
    if chart_note.startswith("skipped"):
        # A chart left over from an earlier run would silently disagree with these numbers.
        chart_path.unlink(missing_ok=True)
    md_path = out / "results.md"
    md_path.write_text(_markdown(result, machine, chart_note, smoke), encoding="utf-8")
    ratios = _ratios(result)
    raw = {
        "smoke": smoke,
        "machine": machine,
        "sizes": asdict(result.sizes),
        "server_impl": result.server_impl,
        "body_bytes": result.body_bytes,
        "wall_seconds": result.wall_seconds,
        "clients": {
            k: {"label": CLIENTS[k].label, "unavailable": r} for k, r in result.clients.items()
        },
        "decode_paths": result.decode_paths,
        "chart": chart_note,
        "workloads": {
            workload: {
                key: {
                    "unit": "bytes" if workload in _BYTES_WORKLOADS else "seconds",
                    "samples": cell.samples,
                    "median": cell.median,
                    "ratio_to_b": ratios[workload][key],
                    "unavailable": cell.unavailable,
                    "server_cpu_share": cell.server_cpu,
                    "client_cpu_share": cell.client_cpu,
                }
                for key, cell in row.items()
            }
            for workload, row in result.cells.items()
        },
        "catalog_redis": None
        if result.redis is None
        else {
            "unit": "seconds per catalog read",
            "ratio_to": "fresh",
            "facts_bytes": result.redis_facts,
            "variants": {
                variant: {
                    "samples": cell.samples,
                    "median": cell.median,
                    "ratio_to_fresh": _ratio(cell, result.redis.get("fresh")),
                    "unavailable": cell.unavailable,
                }
                for variant, cell in result.redis.items()
            },
        },
    }
    json_path = out / "results.json"
    json_path.write_text(json.dumps(raw, indent=2) + "\n", encoding="utf-8")
    written = [md_path, json_path]
    if chart_path.exists():
        written.append(chart_path)
    return written
