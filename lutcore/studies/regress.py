"""Summary table of RTL regression runs.

The RTL tests record one row per GEMM (``record_property("rtl_run", row)``); the
``tests/rtl`` conftest collects the rows of every worker from the test reports and prints
:func:`format_table` at the end of the session (``make regress`` shows it).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable

__all__ = ["ROW_KEYS", "make_row", "format_table"]

#: The fields of one row.
ROW_KEYS = ("preset", "mode", "seed", "shape", "phases", "cycles", "predicted", "utilization",
            "useful_utilization", "ok")


def make_row(*, preset: str, mode: str, seed: int, shape, phases: int, cycles: int,
             predicted: int, utilization: float, useful_utilization: float,
             ok: bool) -> dict[str, Any]:
    """One GEMM run, JSON-serializable (test reports travel between xdist workers)."""
    return {"preset": preset, "mode": mode, "seed": int(seed),
            "shape": "x".join(str(int(d)) for d in shape), "phases": int(phases),
            "cycles": int(cycles), "predicted": int(predicted),
            "utilization": float(utilization),
            "useful_utilization": float(useful_utilization), "ok": bool(ok)}


def format_table(rows: Iterable[dict[str, Any]], builds: dict[str, float] | None = None) -> str:
    """Markdown summary: per preset and mode, GEMMs run, how many were bit-exact with equal
    cycles, total cycles, and the ranges of both utilizations (array steps / cycles, useful
    lookups / cycles x m x n); then the model builds seen."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[(row["preset"], row["mode"])].append(row)
    if not groups:
        return ""
    lines = ["| preset | mode | GEMMs | bit-exact, cycles = ISS | seeds | simulated cycles | "
             "utilization, steps (min..max) | utilization, useful (min..max) |",
             "|---|---|---|---|---|---|---|---|"]
    for (preset, mode), group in sorted(groups.items()):
        good = sum(1 for r in group if r["ok"] and r["cycles"] == r["predicted"])
        seeds = len({r["seed"] for r in group})
        cycles = sum(r["cycles"] for r in group)
        utils = [r["utilization"] for r in group]
        useful = [r["useful_utilization"] for r in group]
        lines.append(f"| {preset} | {mode} | {len(group)} | {good} | {seeds} | {cycles} | "
                     f"{min(utils):.1%}..{max(utils):.1%} | "
                     f"{min(useful):.1%}..{max(useful):.1%} |")
    if builds:
        lines.append("")
        lines.append("| model | build (s) |")
        lines.append("|---|---|")
        for name, seconds in sorted(builds.items()):
            lines.append(f"| {name} | {seconds:.0f} |")
    return "\n".join(lines)
