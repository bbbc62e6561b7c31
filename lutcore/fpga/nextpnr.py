"""Read what nextpnr says about a placed and routed design.

Two sources, either or both: the JSON report (``--report``, with ``--detailed-timing-report``
for source locations) and the text log (``--log``). The JSON report is preferred for
utilisation, fmax and critical paths; the log adds the iCE40 packer's LUT/FF split and is
the fallback when the report is missing (an older nextpnr, or a run that stopped early).
The log states fmax twice, before and after routing: the last statement wins.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field

from ..errors import LutcoreError

__all__ = [
    "NextpnrError", "Utilization", "ClockFmax", "PathStep", "CriticalPath", "NextpnrReport",
    "parse_report_json", "parse_log", "merge", "summarize_path",
]


class NextpnrError(LutcoreError):
    """nextpnr's report or log could not be read."""


@dataclass(frozen=True)
class Utilization:
    used: int
    available: int

    @property
    def percent(self) -> float:
        return 100.0 * self.used / self.available if self.available else 0.0


@dataclass(frozen=True)
class ClockFmax:
    """Post-route fmax of one clock against its constraint (MHz)."""

    clock: str
    achieved_mhz: float
    constraint_mhz: float | None

    @property
    def passed(self) -> bool | None:
        if self.constraint_mhz is None:
            return None
        return self.achieved_mhz >= self.constraint_mhz

    @property
    def slack_ns(self) -> float | None:
        if not self.constraint_mhz or not self.achieved_mhz:
            return None
        return 1e3 / self.constraint_mhz - 1e3 / self.achieved_mhz


@dataclass(frozen=True)
class PathStep:
    """One segment of a timing path: ``kind`` is clk-to-q, logic, routing or setup."""

    kind: str
    delay_ns: float
    cell: str = ""           # driving cell (sink cell for setup)
    port: str = ""
    net: str = ""            # routing steps
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class CriticalPath:
    """One reported path: from/to clock edges and its segments."""

    start: str
    end: str
    steps: tuple[PathStep, ...]

    @property
    def delay_ns(self) -> float:
        return sum(s.delay_ns for s in self.steps)

    @property
    def logic_ns(self) -> float:
        return sum(s.delay_ns for s in self.steps if s.kind in ("logic", "clk-to-q", "setup"))

    @property
    def routing_ns(self) -> float:
        return sum(s.delay_ns for s in self.steps if s.kind == "routing")

    @property
    def logic_levels(self) -> int:
        return sum(1 for s in self.steps if s.kind == "logic")

    @property
    def nets(self) -> list[str]:
        return [s.net for s in self.steps if s.net]

    @property
    def signals(self) -> list[str]:
        """Distinct design signals the path runs through (``hierarchy.signal``), recovered
        from cell and net names by cutting off what synthesis and packing appended."""
        seen, out = set(), []
        for step in self.steps:
            for name in (step.cell, step.net):
                if not name:
                    continue
                signal = _design_name(name)
                if signal and signal not in seen:
                    seen.add(signal)
                    out.append(signal)
        return out

    @property
    def source_lines(self) -> list[str]:
        """Distinct design source locations (``file:line``) along the path, in path order;
        the toolchain's own techmap files are left out."""
        seen, out = set(), []
        for step in self.steps:
            for src in step.sources:
                if "/share/" in src or src in seen:
                    continue
                seen.add(src)
                out.append(src)
        return out


# Suffixes yosys techmapping and nextpnr packing append to a design name.
_TECH_SUFFIX = re.compile(r"(_SB_|_TRELLIS_|_LUT4|_CCU2|_PFUMX|_L6MUX|_DFF|_DPR16|_RAMW|"
                          r"_MULT18|_ALU54|_DP16KD|_LC$|\$|\[)")


def _design_name(name: str) -> str:
    if name.startswith("$"):
        return ""                                 # a cell nextpnr made up
    return _TECH_SUFFIX.split(name, maxsplit=1)[0].rstrip("._")


@dataclass
class NextpnrReport:
    utilization: dict[str, Utilization] = field(default_factory=dict)
    fmax: dict[str, ClockFmax] = field(default_factory=dict)
    critical_paths: list[CriticalPath] = field(default_factory=list)
    #: iCE40 packer: LCs used as 'LUT4 only', 'LUT4 and DFF', 'DFF only', 'CARRY only'
    pack: dict[str, int] = field(default_factory=dict)
    warnings: int = 0
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "utilization": {k: asdict(v) | {"percent": round(v.percent, 2)}
                            for k, v in self.utilization.items()},
            "fmax": {k: asdict(v) | {"passed": v.passed} for k, v in self.fmax.items()},
            "critical_paths": [summarize_path(p) for p in self.critical_paths],
            "pack": dict(self.pack),
            "warnings": self.warnings,
            "errors": list(self.errors),
        }


# -- JSON report ------------------------------------------------------------------------------

def _step_from_json(seg: dict) -> PathStep:
    kind = str(seg.get("type", ""))
    end = seg.get("to" if kind == "setup" else "from") or {}
    return PathStep(kind=kind, delay_ns=float(seg.get("delay", 0.0)),
                    cell=str(end.get("cell", "")), port=str(end.get("port", "")),
                    net=str(seg.get("net", "")) if kind == "routing" else "",
                    sources=tuple(str(s) for s in seg.get("sources", ()) or ()))


def parse_report_json(text: str) -> NextpnrReport:
    """Parse the text of a ``--report`` file. Raises :class:`NextpnrError` if it is not a
    JSON object or has none of the expected sections."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise NextpnrError(f"nextpnr report is not valid JSON: {e}") from None
    if not isinstance(data, dict) or not ({"utilization", "fmax", "critical_paths"} & set(data)):
        raise NextpnrError("nextpnr report has no 'utilization', 'fmax' or 'critical_paths'")
    rep = NextpnrReport()
    for name, u in (data.get("utilization") or {}).items():
        try:
            rep.utilization[name] = Utilization(int(u["used"]), int(u["available"]))
        except (KeyError, TypeError, ValueError):
            raise NextpnrError(f"nextpnr report: utilization of {name!r} is malformed") from None
    for clock, f in (data.get("fmax") or {}).items():
        try:
            achieved = float(f["achieved"])
        except (KeyError, TypeError, ValueError):
            raise NextpnrError(f"nextpnr report: fmax of clock {clock!r} is malformed") from None
        constraint = f.get("constraint")
        rep.fmax[clock] = ClockFmax(clock, achieved,
                                    float(constraint) if constraint is not None else None)
    for p in data.get("critical_paths") or ():
        steps = tuple(_step_from_json(seg) for seg in p.get("path", ()))
        rep.critical_paths.append(CriticalPath(str(p.get("from", "")), str(p.get("to", "")),
                                               steps))
    return rep


# -- text log ---------------------------------------------------------------------------------

_UTIL = re.compile(r"^Info:\s+([A-Za-z0-9_]+):\s+(\d+)\s*/\s*(\d+)\s+\d+%\s*$")
# A clock that misses its constraint is reported as a warning.
_FMAX = re.compile(r"^(?:Info|Warning): Max frequency for clock\s+'([^']+)':\s+([0-9.]+)\s+MHz"
                   r"(?:\s+\((PASS|FAIL) at ([0-9.]+) MHz\))?")
_PACK = re.compile(r"^Info:\s+(\d+) LCs used as (LUT4 only|LUT4 and DFF|DFF only|CARRY only)\s*$")
_PATH_HEAD = re.compile(r"^Info: Critical path report for (?:clock '([^']+)' \(([^)]*)\)|"
                        r"cross-domain path '([^']+)' -> '([^']+)'):")
_PATH_STEP = re.compile(r"^Info:\s+(clk-to-q|logic|routing|setup|source)\s+([0-9.]+)\s+"
                        r"[0-9.]+\s+(Source|Net|Setup)\s+(\S+)")
_DEFINED_LINE = re.compile(r"^Info:\s{20,}(\S+:\S+)\s*$")


def parse_log(text: str) -> NextpnrReport:
    """Parse nextpnr's text log (``--log``). Utilisation comes from the last 'Device
    utilisation' table, fmax and critical paths from the last timing report (post-route)."""
    rep = NextpnrReport()
    paths: dict[tuple[str, str], list[PathStep]] = {}
    current = None
    last_step = None
    for raw in text.splitlines():
        line = raw.rstrip()
        if line.startswith("Warning:"):
            rep.warnings += 1
        if line.startswith("ERROR:"):
            rep.errors.append(line[len("ERROR:"):].strip())
        m = _UTIL.match(line)
        if m:
            rep.utilization[m.group(1)] = Utilization(int(m.group(2)), int(m.group(3)))
            continue
        m = _PACK.match(line)
        if m:
            rep.pack[m.group(2)] = int(m.group(1))
            continue
        m = _FMAX.match(line)
        if m:
            clock = m.group(1)
            constraint = float(m.group(4)) if m.group(4) else None
            rep.fmax[clock] = ClockFmax(clock, float(m.group(2)), constraint)
            continue
        m = _PATH_HEAD.match(line)
        if m:
            if m.group(1):
                edges = m.group(2).split("->")
                start = f"{edges[0].strip()} {m.group(1)}"
                end = f"{edges[-1].strip()} {m.group(1)}"
            else:
                start, end = m.group(3), m.group(4)
            current = paths[(start, end)] = []      # a later report replaces an earlier one
            last_step = None
            continue
        if current is None:
            continue
        m = _PATH_STEP.match(line)
        if m:
            kind, delay, what, name = m.groups()
            cell, port = (name.rsplit(".", 1) + [""])[:2] if what != "Net" else ("", "")
            last_step = PathStep(kind=kind, delay_ns=float(delay), cell=cell, port=port,
                                 net=name if what == "Net" else "")
            current.append(last_step)
            continue
        m = _DEFINED_LINE.match(line)
        if m and last_step is not None:
            last_step = PathStep(**{**asdict(last_step),
                                    "sources": last_step.sources + (m.group(1),)})
            current[-1] = last_step
            continue
        if not line.startswith("Info:    ") and not line.startswith("Info:       "):
            current = None
    rep.critical_paths = [CriticalPath(s, e, tuple(steps)) for (s, e), steps in paths.items()
                          if steps]
    if not (rep.utilization or rep.fmax or rep.critical_paths or rep.errors):
        raise NextpnrError("nextpnr log has no utilisation, fmax or timing report")
    return rep


def merge(report: NextpnrReport | None, log: NextpnrReport | None) -> NextpnrReport:
    """The JSON report, completed from the log (pack split, warnings, errors, and anything
    the report lacks)."""
    if report is None and log is None:
        raise NextpnrError("neither a nextpnr report nor a log to read")
    if report is None:
        return log
    if log is None:
        return report
    return NextpnrReport(
        utilization=report.utilization or log.utilization,
        fmax=report.fmax or log.fmax,
        critical_paths=report.critical_paths or log.critical_paths,
        pack=log.pack or report.pack,
        warnings=log.warnings,
        errors=log.errors,
    )


def summarize_path(path: CriticalPath, *, max_nets: int = 12) -> dict:
    """A compact, JSON-friendly description of a path."""
    first = next((s for s in path.steps if s.cell), None)
    last = next((s for s in reversed(path.steps) if s.cell), None)
    nets = path.nets
    return {
        "from": path.start,
        "to": path.end,
        "delay_ns": round(path.delay_ns, 3),
        "logic_ns": round(path.logic_ns, 3),
        "routing_ns": round(path.routing_ns, 3),
        "logic_levels": path.logic_levels,
        "start_cell": first.cell if first else "",
        "end_cell": last.cell if last else "",
        "nets": nets if len(nets) <= max_nets else nets[:max_nets // 2] + ["..."]
        + nets[-max_nets // 2:],
        "signals": path.signals,
        "source_lines": path.source_lines,
    }
