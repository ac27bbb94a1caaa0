"""A/B of two revisions of the library in one run: ``python -m benchmarks.ab BASE [HEAD]``.

Each side is a checkout of the library at a revision (``HEAD`` defaults to the working
tree, uncommitted changes included) driven by *this* tree's harness, so only the library
differs. The sides take turns (A B, B A, A B, ...): each turn is a short
``benchmarks.run --clients a,b`` in a fresh interpreter, whose ratio of (a) to the bare
aiohttp + msgspec baseline (b) from the same turn is what is compared, so slow drift of
the machine hits both sides alike. Prints, per workload, the median ratio of each side
and the change from A to B.

Options: ``--pairs N`` (turns per side, default 5), ``--rounds R`` (measured rounds per
turn, default 5), ``--workloads`` (default ``fan-out,list,sequential``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "xai_models_async"


def _checkout(rev: str, into: Path) -> Path:
    """A directory holding the library as of ``rev`` (``.``: the working tree) and this
    tree's harness."""
    into.mkdir(parents=True)
    if rev == ".":
        shutil.copytree(REPO_ROOT / PACKAGE, into / PACKAGE,
                        ignore=shutil.ignore_patterns("__pycache__"))
    else:
        archive = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "archive", "--format=tar", rev, PACKAGE],
            check=True, capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    shutil.copytree(REPO_ROOT / "benchmarks", into / "benchmarks",
                    ignore=shutil.ignore_patterns("__pycache__", "results"))
    return into


def _turn(side: Path, out: Path, workloads: str, rounds: int) -> dict[str, float]:
    """One short benchmark run of ``side``: workload -> ratio of (a) to (b)."""
    subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--clients", "a,b", "--workloads",
         workloads, "--rounds", str(rounds), "--out", str(out)],
        cwd=side, check=True, stdout=subprocess.DEVNULL,
    )
    data = json.loads((out / "results.json").read_text())
    return {w: cells["a"]["ratio_to_b"] for w, cells in data["workloads"].items()
            if cells.get("a", {}).get("ratio_to_b") is not None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", help="revision A (a commit, tag or branch)")
    parser.add_argument("head", nargs="?", default=".",
                        help="revision B (default: the working tree)")
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workloads", default="fan-out,list,sequential")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="xai-ab-") as tmp:
        root = Path(tmp)
        sides = {"A": _checkout(args.base, root / "A"), "B": _checkout(args.head, root / "B")}
        ratios: dict[str, dict[str, list[float]]] = {"A": {}, "B": {}}
        for pair in range(args.pairs):
            order = ("A", "B") if pair % 2 == 0 else ("B", "A")
            for name in order:
                got = _turn(sides[name], root / f"out-{name}-{pair}", args.workloads,
                            args.rounds)
                for workload, ratio in got.items():
                    ratios[name].setdefault(workload, []).append(ratio)
                print(f"turn {pair + 1}/{args.pairs} {name}: "
                      + ", ".join(f"{w} {r:.3f}x" for w, r in got.items()), flush=True)
    print(f"\nA = {args.base}, B = {args.head}; median ratio of (a) to bare aiohttp+msgspec")
    print(f"{'workload':<12} {'A':>8} {'B':>8} {'B vs A':>8}   B's turns")
    for workload in args.workloads.split(","):
        a, b = ratios["A"].get(workload), ratios["B"].get(workload)
        if not a or not b:
            print(f"{workload:<12} (no result)")
            continue
        ma, mb = statistics.median(a), statistics.median(b)
        spread = " ".join(f"{r:.3f}" for r in b)
        print(f"{workload:<12} {ma:>7.3f}x {mb:>7.3f}x {mb / ma - 1:>+7.1%}   {spread}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
