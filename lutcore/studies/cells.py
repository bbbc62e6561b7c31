"""Standard-cell flow: area in um^2, fmax in MHz and power in mW from a characterised Liberty
library, with open tools, where the area study (:mod:`lutcore.studies.area`) has only a
transistor estimate.

Library and tools (Debian packages, see :func:`ensure_tools`):

- ``qflow-tech-osu018``: the OSU 0.18 um standard cells (installed, or its package unpacked
  into the build cache by :func:`ensure_tools`) (``osu018_stdcells.lib``, typical
  corner, 1.8 V, 25 C). Areas are in um^2 (the LEF sizes: a 0.8 x 10 um site), delays in ns,
  capacitances in pF, leakage in nW, internal energy in pJ. The library has plain D
  flip-flops (``DFFPOSX1``, ``DFFNEGX1``) and ``DFFSR`` but no enable or synchronous-reset
  flops, so those become a plain flop plus gates; its ``LATCH`` has area 0.
- ``opensta`` (``sta``): static timing and power.

The flow, in ``workdir``:

1. YoWASP Yosys (:func:`lutcore.fpga.yosys.run_yosys`, script :data:`CELL_SCRIPT`):
   ``synth -flatten -noabc`` (the cell mapping is the one ABC run), ``dfflibmap -liberty`` (which legalizes flip-flops itself:
   enables and synchronous resets become gates, asynchronous ones ``DFFSR``), ``abc
   -liberty`` with :data:`ABC_CELL_SCRIPT` (delay target :data:`ABC_DELAY_PS`), ``stat -json
   -liberty`` into ``cells.stat.json``, then ``splitnets -ports`` and ``write_verilog -noexpr
   -noattr -simple-lhs`` into ``<top>.netlist.v`` (one bit per net and no concatenations,
   which OpenSTA's Verilog reader needs). Every cell must be a library cell: a ``$...``
   cell left over is a :class:`CellFlowError`.
2. OpenSTA (:func:`sta_script`): one ideal clock on port ``clk`` of ``period_ns``; input and
   output delays 0 ns relative to it (a port acts as a flop of the surrounding design with
   no clock-to-output delay or setup time); no wire load and no output load (the library's
   pin capacitances only, as before placement); ``report_checks -path_delay max``. Then the
   clock is redefined at ``power_mhz``, every net gets the global switching activity
   ``activity`` (transitions per clock cycle, duty 0.5; the clock net itself toggles twice a
   cycle) and ``report_power`` gives internal, switching and leakage power.

fmax: the netlist's delays do not depend on the clock period (ideal clock, zero port
delays), so the worst path needs ``period_ns - slack`` ns whatever the period, and
``fmax = 1000 / (period_ns - slack_ns)`` MHz. This OpenSTA (2.0.17, Debian 0~20191111) has
no ``report_clock_min_period``. Dynamic power is proportional to ``power_mhz * activity``;
leakage does not depend on either.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import LutcoreError
from ..fpga.yosys import YosysError, run_yosys, yosys_version

__all__ = [
    "CellFlowError", "CellLibrary", "CriticalPath", "CellNetlist", "StaReport", "CellResult",
    "PACKAGES",
    "find_library", "find_sta", "ensure_tools", "liberty_cells", "liberty_outputs",
    "buffer_fanout", "MAX_FANOUT", "FANOUT_BUFFER", "tool_versions",
    "cell_script", "sta_script", "synthesize_cells", "run_sta", "run_cells",
    "parse_cell_stat", "parse_checks", "parse_power", "fmax_mhz",
    "ABC_DELAY_PS", "ABC_CELL_SCRIPT", "CELL_SCRIPT", "DEFAULT_PERIOD_NS",
    "DEFAULT_POWER_MHZ", "DEFAULT_ACTIVITY",
]


class CellFlowError(LutcoreError):
    """A tool of the standard-cell flow failed or is missing, or its report could not be
    read; the message is one line naming the tool and its log file."""


#: Debian packages of the flow: the library and OpenSTA.
PACKAGES = ("qflow-tech-osu018", "opensta")

_LIBERTY_PACKAGE = "qflow-tech-osu018"
_LIBERTY_DIR = Path("/usr/share/qflow/tech/osu018")     # where the Debian package puts it
_LIBERTY_FILE = "osu018_stdcells.lib"
_PACKAGE_PATH = Path("usr/share/qflow/tech/osu018") / _LIBERTY_FILE    # inside the package

#: Clock period of the timing run (ns): loose enough that every design meets it; the fmax
#: does not depend on it (see the module docstring).
DEFAULT_PERIOD_NS = 10.0
#: Common clock of the power figures (MHz), with margin below fmax: at the tiny preset's tile
#: (M1 N4 K4, int8) the LUT core, its precompute unit, the INT8 MAC and the ternary adder
#: core reach 190 to 350 MHz in OSU 0.18 um.
DEFAULT_POWER_MHZ = 100.0
#: Global switching activity: transitions per clock cycle of every net (a toggle probability
#: of 0.1 per cycle), OpenSTA's ``set_power_activity -global -activity``.
DEFAULT_ACTIVITY = 0.1

#: ABC's delay target (ps): 2 ns is beyond what these datapaths reach in 0.18 um, so ABC
#: maps for minimum delay and recovers area off the critical paths only. On the MAC core,
#: targets from 1 to 10 ns changed area and delay by under 0.1%; buffering and resizing
#: (``buffer; upsize; dnsize``) cut its critical path by about 10% for 1% more area.
ABC_DELAY_PS = 2000

#: ABC script of the cell mapping: the area study's script (:data:`lutcore.studies.area.
#: ABC_SCRIPT`, without ABC's slow ``&fraig -x`` and ``scorr`` on multipliers) with the delay
#: target, then buffering of high-fanout nets and gate sizing. ``{delay}`` is in ps.
ABC_CELL_SCRIPT = ("+strash;dc2;strash;&get,-n;&dch,-f;&nf,-D,{delay};&put;"
                   "buffer;upsize,-D,{delay};dnsize,-D,{delay}")

#: Yosys script of the cell flow; ``{liberty}`` is quoted, the other files are in workdir.
CELL_SCRIPT = """\
read_verilog {verilog}
synth -flatten -noabc -top {top}
dfflibmap -liberty "{liberty}"
abc -liberty "{liberty}" -script {abc_script}
opt_clean
delete t:$scopeinfo
tee -q -o {stat} stat -json -liberty "{liberty}"
splitnets -ports
opt_clean -purge
write_verilog -noexpr -noattr -simple-lhs {netlist}
"""

STAT_FILE = "cells.stat.json"
LIBERTY_COPY = "cells.lib"
TIMING_FILE = "timing.rpt"
POWER_FILE = "power.rpt"
_STA_DONE = "lutcore: sta done"
_STA_ERROR = re.compile(r"Error: [^\n]*")
_STA_WARNING = re.compile(r"Warning: [^\n]*")


# ---------------------------------------------------------------------------------------
# Library and tools
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CellLibrary:
    """A Liberty library: ``name`` (the ``library(...)`` name), ``liberty`` path, ``node``
    label and ``units`` (the library's unit attributes, e.g. ``time_unit: "1ns"``, plus
    ``area: "um^2"``)."""

    name: str
    liberty: Path
    node: str
    units: dict[str, str] = field(default_factory=dict)


def _unpacked_dir() -> Path:
    """Where :func:`ensure_tools` unpacks the library's package when it cannot install it:
    the build cache (:func:`lutcore.cachedir.build_root`)."""
    from ..cachedir import build_root
    return build_root() / "cells"


def _liberty_path() -> Path | None:
    known = _LIBERTY_DIR / _LIBERTY_FILE
    if known.is_file():
        return known
    unpacked = _unpacked_dir() / _PACKAGE_PATH
    if unpacked.is_file():
        return unpacked
    if shutil.which("dpkg") is None:
        return None
    proc = subprocess.run(["dpkg", "-L", _LIBERTY_PACKAGE], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True)
    libs = [Path(p) for p in proc.stdout.splitlines() if p.endswith(".lib")]
    libs.sort(key=lambda p: p.name != _LIBERTY_FILE)
    return next((p for p in libs if p.is_file()), None)


_UNIT = re.compile(r"^\s*(time_unit|voltage_unit|current_unit|leakage_power_unit|"
                   r"pulling_resistance_unit)\s*:\s*\"?([^\";]+)\"?\s*;", re.M)
_CAP_UNIT = re.compile(r"^\s*capacitive_load_unit\s*\(\s*([0-9.]+)\s*,\s*(\w+)\s*\)", re.M)
_LIB_NAME = re.compile(r"^\s*library\s*\(\s*\"?([\w.-]+)\"?\s*\)", re.M)


def find_library() -> CellLibrary | None:
    """The OSU 0.18 um library of ``qflow-tech-osu018``, or None if it is not installed."""
    path = _liberty_path()
    if path is None:
        return None
    with open(path, errors="replace") as f:
        head = f.read(8000)             # the header: library name and unit attributes
    name = _LIB_NAME.search(head)
    units = {m.group(1): m.group(2).strip() for m in _UNIT.finditer(head)}
    cap = _CAP_UNIT.search(head)
    if cap:
        units["capacitive_load_unit"] = f"{cap.group(1)}{cap.group(2)}"
    units["area"] = "um^2"
    return CellLibrary(name.group(1) if name else path.stem, path, "OSU 0.18 um", units)


def find_sta() -> str | None:
    """Path of OpenSTA's ``sta``, or None."""
    return shutil.which("sta")


def _privilege_prefix() -> list[str] | None:
    """``[]`` as root, ``["sudo", "-n"]`` when sudo works without a password, else None."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return []
    if shutil.which("sudo") and subprocess.run(
            ["sudo", "-n", "true"], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL).returncode == 0:
        return ["sudo", "-n"]
    return None


def _quiet(cmd: list[str], cwd: Path | None = None) -> bool:
    try:
        return subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=900).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _unpack_library(prefix: list[str] | None) -> None:
    """Fetch the library's package (62 kB) with ``apt-get download`` and unpack it into the
    build cache: the package itself depends on the whole qflow flow (yosys, magic, ...),
    which the study does not use."""
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        fetch = ["apt-get", "-q", "download", _LIBERTY_PACKAGE]
        if not _quiet(fetch, Path(tmp)):
            if prefix is None or not _quiet([*prefix, "apt-get", "-q", "update"]) or \
                    not _quiet(fetch, Path(tmp)):
                return
        for deb in Path(tmp).glob("*.deb"):
            if _quiet(["dpkg-deb", "-x", str(deb), str(_unpacked_dir())]):
                # qflow-tech-osu018_<version>_all.deb: the version, as dpkg would report it
                (_unpacked_dir() / f"{_LIBERTY_PACKAGE}.version").write_text(
                    deb.name.split("_")[1])


def ensure_tools(install: bool = True) -> str | None:
    """None when the library and ``sta`` are available. Otherwise, with ``install``, on a
    machine with ``apt-get``: the library's package is downloaded and unpacked into the
    build cache, and OpenSTA installed (``apt-get install --no-install-recommends opensta``)
    where we are root or ``sudo -n`` works, refreshing the package lists once if needed.
    Returns a one-line message naming the packages when the tools are still missing."""
    if find_library() is not None and find_sta() is not None:
        return None
    if install and shutil.which("apt-get"):
        prefix = _privilege_prefix()
        if find_library() is None and shutil.which("dpkg-deb"):
            _unpack_library(prefix)
        if find_sta() is None and prefix is not None:
            get = [*prefix, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-q", "-y"]
            sta = [*get, "install", "--no-install-recommends", "opensta"]
            if not _quiet(sta):
                _quiet([*get, "update"]) and _quiet(sta)
        if find_library() is not None and find_sta() is not None:
            return None
    missing = [what for what, found in (("OSU 0.18 um library", find_library()),
                                        ("OpenSTA (sta)", find_sta())) if found is None]
    return (f"standard-cell flow needs {' and '.join(missing)}: install the Debian packages "
            f"{' '.join(PACKAGES)} (apt-get install {' '.join(PACKAGES)})")


_CELL = re.compile(r"^\s*cell\s*\(\s*\"?([\w.]+)\"?\s*\)\s*\{", re.M)
_AREA = re.compile(r"^\s*area\s*:\s*([0-9.eE+-]+)\s*;", re.M)
_SEQUENTIAL = re.compile(r"^\s*(ff|latch|ff_bank|latch_bank)\s*\(", re.M)


@lru_cache(maxsize=8)
def liberty_cells(liberty: Path) -> dict[str, tuple[float, bool]]:
    """Cell name -> (area in the library's unit, sequential) of a Liberty file."""
    text = Path(liberty).read_text(errors="replace")
    starts = [(m.start(), m.group(1)) for m in _CELL.finditer(text)] + [(len(text), "")]
    cells = {}
    for (start, name), (end, _) in zip(starts, starts[1:]):
        block = text[start:end]
        area = _AREA.search(block)
        cells[name] = (float(area.group(1)) if area else 0.0, bool(_SEQUENTIAL.search(block)))
    return cells


_PIN = re.compile(r"\bpin\s*\(\s*\"?(\w+)\"?\s*\)")
_DIRECTION = re.compile(r"\bdirection\s*:\s*(\w+)")


@lru_cache(maxsize=8)
def liberty_outputs(liberty: Path) -> dict[str, frozenset[str]]:
    """Cell name -> names of its output pins, from a Liberty file."""
    text = Path(liberty).read_text(errors="replace")
    starts = [(m.start(), m.group(1)) for m in _CELL.finditer(text)] + [(len(text), "")]
    outputs = {}
    for (start, name), (end, _) in zip(starts, starts[1:]):
        block = text[start:end]
        pins = [(m.start(), m.group(1)) for m in _PIN.finditer(block)] + [(len(block), "")]
        outputs[name] = frozenset(
            pin for (a, pin), (b, _) in zip(pins, pins[1:])
            if (d := _DIRECTION.search(block, a, b)) and d.group(1) == "output")
    return outputs


#: High-fanout buffering: at most this many cell inputs on one net, and the buffer cell.
MAX_FANOUT = 16
FANOUT_BUFFER = "BUFX4"

_INSTANCE = re.compile(r"^(\s*)(\w+) (\S+) \($")
_CONNECTION = re.compile(r"^(\s*)\.(\w+)\((.*)\)(,?)$")


def buffer_fanout(netlist: str, outputs: dict[str, frozenset[str]], *,
                  max_fanout: int = MAX_FANOUT, buffer: str = FANOUT_BUFFER,
                  in_pin: str = "A", out_pin: str = "Y") -> tuple[str, int]:
    """Split every net that drives more than ``max_fanout`` cell inputs into a tree of
    ``buffer`` cells (each driving at most ``max_fanout`` inputs or buffers), as a synthesis
    tool's high-fanout repair does: ABC buffers the nets inside the logic it maps, but not
    those driven by flip-flops, which it sees as inputs (one register enable reaches a
    thousand gates in the LUT core). Works on a Yosys ``write_verilog -noexpr -simple-lhs``
    netlist; ``outputs`` gives each cell's output pins. Returns the new netlist and the
    number of buffers added. Nets driven by input ports (the clock among them: the timing run
    takes it as ideal, and ports as ideal drivers) are left alone; ports and ``assign``
    targets stay on the original net."""
    lines = netlist.splitlines()
    loads: dict[str, list[int]] = {}
    driven: set[str] = set()
    cell = None
    for i, line in enumerate(lines):
        inst = _INSTANCE.match(line)
        if inst:
            cell = inst.group(2)
            continue
        conn = _CONNECTION.match(line)
        if conn and cell is not None:
            pin, net = conn.group(2), conn.group(3).strip()
            if net.startswith("\\"):
                net += " "          # an escaped identifier ends at white space
            if pin in outputs.get(cell, ()):
                driven.add(net)
            elif net and not net.startswith(("1'", "0'")):
                loads.setdefault(net, []).append(i)
        elif line.strip() == ");":
            cell = None
    added: list[str] = []
    wires: list[str] = []

    def tree(net: str, sinks: list[int]) -> None:
        groups = [sinks[k:k + max_fanout] for k in range(0, len(sinks), max_fanout)]
        leaves = []
        for group in groups:
            n = len(added)
            name = f"\\lcbuf_{n} "
            wires.append(f"  wire {name};")
            for i in group:
                m = _CONNECTION.match(lines[i])
                lines[i] = f"{m.group(1)}.{m.group(2)}({name}){m.group(4)}"
            added.append(n)
            leaves.append((n, name))
        # The buffers' inputs are loads of ``net`` too: a tree when there are many.
        stubs = []
        for n, name in leaves:
            stubs.append(len(lines))
            lines.extend([f"  {buffer} lcbuf_cell_{n} (", f"    .{in_pin}({net}),",
                          f"    .{out_pin}({name})", "  );"])
        if len(stubs) > max_fanout:
            tree(net, [s + 1 for s in stubs])

    for net, sinks in loads.items():
        if net in driven and len(sinks) > max_fanout:
            tree(net, sinks)
    if not added:
        return netlist, 0
    # The new cells and wires go inside the module, before its endmodule.
    cells = lines[len(netlist.splitlines()):]
    body = lines[:len(netlist.splitlines())]
    end = max(i for i, line in enumerate(body) if line.strip() == "endmodule")
    out = body[:end] + wires + cells + body[end:]
    return "\n".join(out) + "\n", len(added)


def _run(cmd: list[str], timeout: float | None) -> str:
    try:
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=timeout).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


@lru_cache(maxsize=4)
def _sta_version(sta: str) -> str:
    return _run([sta, "-version"], 30) or "unknown"


def _deb_version(package: str) -> str | None:
    """The installed version of a Debian package, or None."""
    if shutil.which("dpkg-query") is None:
        return None
    proc = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", package],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def tool_versions(sta: str | None = None) -> dict[str, str | None]:
    """Versions of YoWASP Yosys, OpenSTA (``sta -version``) and the Debian packages."""
    sta = sta or find_sta()
    versions: dict[str, str | None] = {"yosys": yosys_version(),
                                       "sta": _sta_version(sta) if sta else None}
    for package in PACKAGES:
        versions[package] = _deb_version(package)
    unpacked = _unpacked_dir() / f"{_LIBERTY_PACKAGE}.version"
    if versions[_LIBERTY_PACKAGE] is None and unpacked.is_file():
        versions[_LIBERTY_PACKAGE] = unpacked.read_text().strip()
    return versions


# ---------------------------------------------------------------------------------------
# Scripts
# ---------------------------------------------------------------------------------------

def cell_script(verilog: str, top: str, liberty: Path, netlist: str,
                abc_delay_ps: int = ABC_DELAY_PS, stat: str = STAT_FILE) -> str:
    """The Yosys script (:data:`CELL_SCRIPT`) for ``verilog`` (a file in the workdir)."""
    abc = ABC_CELL_SCRIPT.format(delay=int(abc_delay_ps))
    return CELL_SCRIPT.format(verilog=verilog, top=top, liberty=liberty, abc_script=abc,
                              stat=stat, netlist=netlist)


def _tcl_word(text: str | Path) -> str:
    """``text`` as one Tcl word (braced)."""
    text = str(text)
    if any(c in text for c in "{}\\\n"):
        raise CellFlowError(f"sta: {text!r} cannot be passed to Tcl (braces or backslashes)")
    return "{" + text + "}"


def sta_script(liberty: Path, netlist: str, top: str, *, period_ns: float,
               power_mhz: float, activity: float, clock: str = "clk",
               timing: str = TIMING_FILE, power: str = POWER_FILE) -> str:
    """OpenSTA Tcl script: the worst max-delay path at ``period_ns`` into ``timing`` and the
    power at ``power_mhz`` with global ``activity`` into ``power`` (see the module
    docstring). OpenSTA goes on after a failed command, so failures show as ``Error:``
    lines and a missing end marker (checked by :func:`run_sta`)."""
    power_period = 1000.0 / power_mhz
    c = _tcl_word(clock)
    return f"""\
read_liberty {_tcl_word(liberty)}
read_verilog {_tcl_word(netlist)}
if {{![link_design {_tcl_word(top)}]}} {{ puts "Error: link_design {top} failed" }}
create_clock -name {c} -period {period_ns:.6g} [get_ports {c}]
set_input_delay 0 -clock {c} [delete_from_list [all_inputs] [get_ports {c}]]
set_output_delay 0 -clock {c} [all_outputs]
report_checks -path_delay max -format full -digits 4 > {_tcl_word(timing)}
create_clock -name {c} -period {power_period:.6g} [get_ports {c}]
set_power_activity -global -activity {activity:.6g} -duty 0.5
report_power -digits 6 > {_tcl_word(power)}
puts "{_STA_DONE}"
"""


# ---------------------------------------------------------------------------------------
# Parsers
# ---------------------------------------------------------------------------------------

def parse_cell_stat(report: str | dict) -> tuple[float, dict[str, int]]:
    """Total area (library unit, um^2) and cell counts of a Yosys ``stat -json -liberty``
    report (its text or the decoded JSON): the ``design`` totals, else the only module."""
    try:
        data = json.loads(report) if isinstance(report, str) else report
        design = data.get("design")
        if design is None:
            modules = list(data["modules"].values())
            if len(modules) != 1:
                raise KeyError("design")
            design = modules[0]
        if "area" not in design:
            raise KeyError("area")
        return float(design["area"]), {k: int(v) for k, v in
                                        design["num_cells_by_type"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise CellFlowError(f"yosys stat -json report cannot be read: {type(e).__name__} {e}"
                            " (was -liberty given?)") from None


@dataclass(frozen=True)
class CriticalPath:
    """The worst max-delay path of ``report_checks``: start and end points (port or
    instance names), data arrival and required time and slack (ns), ``met``."""

    start: str
    end: str
    arrival_ns: float
    required_ns: float
    slack_ns: float
    met: bool


_START = re.compile(r"^Startpoint:\s*(\S+)", re.M)
_END = re.compile(r"^Endpoint:\s*(\S+)", re.M)
_ARRIVAL = re.compile(r"^\s*(-?[0-9.]+)\s+data arrival time\s*$", re.M)
_REQUIRED = re.compile(r"^\s*(-?[0-9.]+)\s+data required time\s*$", re.M)
_SLACK = re.compile(r"^\s*(-?[0-9.]+)\s+slack \((MET|VIOLATED)\)", re.M)


def parse_checks(text: str) -> CriticalPath | None:
    """The first path of an OpenSTA ``report_checks -format full`` report (the worst one), or
    None when it says ``No paths found.``"""
    if "No paths found" in text:
        return None
    start, end, arrival = _START.search(text), _END.search(text), _ARRIVAL.search(text)
    required, slack = _REQUIRED.search(text), _SLACK.search(text)
    if not (start and end and arrival and required and slack):
        raise CellFlowError("sta report_checks: no Startpoint/Endpoint/arrival/slack found")
    return CriticalPath(start.group(1), end.group(1), float(arrival.group(1)),
                        float(required.group(1)), float(slack.group(1)),
                        slack.group(2) == "MET")


_POWER_ROW = re.compile(r"^(Sequential|Combinational|Macro|Pad|Total)\s+"
                        r"(\S+)\s+(\S+)\s+(\S+)\s+(\S+)", re.M)


def parse_power(text: str) -> dict[str, float]:
    """An OpenSTA ``report_power`` report (this version prints watts) -> watts:
    ``internal``, ``switching``, ``leakage``, ``total`` (the ``Total`` row) and
    ``sequential``, ``combinational`` (the total column of those rows)."""
    rows = {}
    for m in _POWER_ROW.finditer(text):
        try:
            rows[m.group(1)] = [float(m.group(i)) for i in range(2, 6)]
        except ValueError:
            continue
    if "Total" not in rows:
        raise CellFlowError("sta report_power: no 'Total' row found")
    internal, switching, leakage, total = rows["Total"]
    power = {"internal": internal, "switching": switching, "leakage": leakage, "total": total}
    for group in ("Sequential", "Combinational"):
        if group in rows:
            power[group.lower()] = rows[group][3]
    return power


def fmax_mhz(period_ns: float, slack_ns: float) -> float | None:
    """``1000 / (period_ns - slack_ns)`` MHz: the frequency at which the worst path has zero
    slack (the path's delay does not depend on the period); None if that is not positive."""
    need = period_ns - slack_ns
    return 1000.0 / need if need > 0 else None


# ---------------------------------------------------------------------------------------
# Running the flow
# ---------------------------------------------------------------------------------------

@dataclass
class CellResult:
    """Figures of one design through the cell flow (see :func:`run_cells`).

    ``area_um2`` and ``sequential_area_um2`` in um^2; ``cells`` maps library cell to count,
    ``sequential_cells`` counts its flip-flops and latches;
    ``fmax_mhz`` in MHz from the worst path at ``period_ns`` (``critical_path``, times in
    ns; None without a path that takes time, e.g. only a reset's recovery check); ``power_mw`` in mW at ``power_mhz`` and ``activity`` (keys of :func:`parse_power`);
    ``versions`` of the tools; ``seconds`` of wall time; ``error`` a one-line message when
    the flow failed and ``raise_on_error`` was False (figures not reached stay None/empty).
    ``library`` and ``node`` name the cell library (e.g. ``osu018_stdcells``, OSU 0.18 um).
    """

    top: str
    library: str
    node: str
    workdir: str
    period_ns: float
    power_mhz: float
    activity: float
    area_um2: float | None = None
    sequential_area_um2: float | None = None
    cells: dict[str, int] = field(default_factory=dict)
    sequential_cells: int | None = None
    fmax_mhz: float | None = None
    critical_path: CriticalPath | None = None
    power_mw: dict[str, float] = field(default_factory=dict)
    versions: dict[str, str | None] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CellNetlist:
    """What :func:`synthesize_cells` leaves in ``workdir``: the netlist file name, the area
    (um^2) and cell counts of ``stat -liberty``, the sequential area and notes."""

    workdir: Path
    netlist: str
    area_um2: float
    cells: dict[str, int]
    sequential_area_um2: float | None
    notes: list[str]


def _require(library: CellLibrary | None, sta: bool) -> CellLibrary:
    """``library``, or a :class:`CellFlowError` naming the packages when it (or ``sta``, if
    needed) is missing."""
    if library is None or (sta and find_sta() is None):
        raise CellFlowError(ensure_tools(install=False) or "standard-cell tools not found")
    return library


def synthesize_cells(verilog_text: str, top: str, workdir: Path, *,
                     library: CellLibrary | None = None, abc_delay_ps: int = ABC_DELAY_PS,
                     timeout: float | None = None,
                     max_fanout: int | None = MAX_FANOUT) -> CellNetlist:
    """Map ``verilog_text`` (top module ``top``) to the library's cells with YoWASP Yosys in
    ``workdir``, then buffer nets of more than ``max_fanout`` loads (:func:`buffer_fanout`;
    None: no buffering); the area includes the buffers. Raises :class:`CellFlowError` when
    Yosys fails or a cell of the netlist is not a library cell."""
    library = _require(library or find_library(), sta=False)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    verilog, netlist = f"{top}.v", f"{top}.netlist.v"
    (workdir / verilog).write_text(verilog_text)
    (workdir / STAT_FILE).unlink(missing_ok=True)
    # Yosys runs in WebAssembly, which sees the working directory but not the host's /tmp
    # (its own temporary directory is mounted there): the library goes beside the design.
    shutil.copyfile(library.liberty, workdir / LIBERTY_COPY)
    script = cell_script(verilog, top, Path(LIBERTY_COPY), netlist, abc_delay_ps)
    try:
        run_yosys(script, workdir, "cells", timeout)
    except YosysError as e:
        raise CellFlowError(f"{e} (log {workdir / 'cells.log'})") from None
    stat_path = workdir / STAT_FILE
    if not stat_path.is_file():
        raise CellFlowError(f"yosys wrote no {STAT_FILE} (log {workdir / 'cells.log'})")
    area, cells = parse_cell_stat(stat_path.read_text())
    known = liberty_cells(library.liberty)
    foreign = {c: n for c, n in cells.items() if c not in known}
    if foreign:
        listed = ", ".join(f"{c} x{n}" for c, n in sorted(foreign.items()))
        why = ("; $-cells are Yosys internal cells the library has no match for"
               if any(c.startswith("$") for c in foreign) else "")
        raise CellFlowError(f"yosys left cells that are not in {library.name}: {listed}{why} "
                            f"(log {workdir / 'cells.log'})")
    data = json.loads(stat_path.read_text()).get("design", {})
    seq = data.get("sequential_area")
    notes = [f"{c} has area 0 in {library.name}" for c in sorted(cells) if known[c][0] == 0]
    if max_fanout:
        text, added = buffer_fanout((workdir / netlist).read_text(),
                                    liberty_outputs(library.liberty), max_fanout=max_fanout)
        if added:
            (workdir / netlist).write_text(text)
            area += added * known[FANOUT_BUFFER][0]
            cells[FANOUT_BUFFER] = cells.get(FANOUT_BUFFER, 0) + added
            notes.append(f"{added} {FANOUT_BUFFER} added on nets of more than {max_fanout} "
                         f"loads")
    return CellNetlist(workdir, netlist, area, cells,
                       float(seq) if seq is not None else None, notes)


@dataclass
class StaReport:
    """What :func:`run_sta` read: the worst path (None without constrained paths), the power
    in watts (keys of :func:`parse_power`), the log file and OpenSTA's warnings."""

    critical_path: CriticalPath | None
    power_w: dict[str, float]
    log: Path
    warnings: list[str] = field(default_factory=list)


def run_sta(netlist: str, top: str, workdir: Path, *, period_ns: float = DEFAULT_PERIOD_NS,
            power_mhz: float = DEFAULT_POWER_MHZ, activity: float = DEFAULT_ACTIVITY,
            library: CellLibrary | None = None, name: str = "sta",
            timeout: float | None = None) -> StaReport:
    """Run OpenSTA on ``netlist`` (a file in ``workdir``): script ``<name>.tcl``, log
    ``<name>.log``, reports ``<name>.timing.rpt`` and ``<name>.power.rpt``."""
    if not period_ns > 0 or not power_mhz > 0 or not 0 <= activity <= 2:
        raise CellFlowError(f"sta: period_ns = {period_ns!r}, power_mhz = {power_mhz!r}, "
                            f"activity = {activity!r} are invalid: need period and clock > 0 "
                            f"and 0 <= activity <= 2")
    library = _require(library or find_library(), sta=True)
    sta = find_sta()
    workdir = Path(workdir)
    timing, power = f"{name}.{TIMING_FILE}", f"{name}.{POWER_FILE}"
    for f in (timing, power):
        (workdir / f).unlink(missing_ok=True)
    script = workdir / f"{name}.tcl"
    log = workdir / f"{name}.log"
    script.write_text(sta_script(library.liberty, netlist, top, period_ns=period_ns,
                                 power_mhz=power_mhz, activity=activity,
                                 timing=timing, power=power))
    try:
        proc = subprocess.run([sta, "-no_splash", "-exit", script.name], cwd=workdir,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        raise CellFlowError(f"sta timed out after {timeout:.0f} s (script {script})") from None
    log.write_text(proc.stdout)
    # stderr is merged into stdout: a message may start mid-line.
    errors = _STA_ERROR.findall(proc.stdout)
    warnings = _STA_WARNING.findall(proc.stdout)
    errors += [w for w in warnings if "black box" in w]      # a cell the library lacks
    if proc.returncode != 0 or errors or _STA_DONE not in proc.stdout:
        why = errors[0].strip() if errors else f"exit {proc.returncode}, script did not finish"
        raise CellFlowError(f"sta failed: {why} (log {log})")
    try:
        return StaReport(parse_checks((workdir / timing).read_text()),
                         parse_power((workdir / power).read_text()), log,
                         [w.strip() for w in warnings])
    except OSError as e:
        raise CellFlowError(f"sta wrote no report: {e} (log {log})") from None
    except CellFlowError as e:
        raise CellFlowError(f"{e} (log {log})") from None


def run_cells(verilog_text: str, top: str, workdir: Path, *,
              period_ns: float = DEFAULT_PERIOD_NS, power_mhz: float = DEFAULT_POWER_MHZ,
              activity: float = DEFAULT_ACTIVITY, timeout: float | None = None,
              abc_delay_ps: int = ABC_DELAY_PS,
              raise_on_error: bool = True) -> CellResult:
    """The whole flow on ``verilog_text`` (top module ``top``, clock port ``clk``) in
    ``workdir``: area (um^2), fmax (MHz) and power (mW at ``power_mhz`` MHz, ``activity``
    transitions per cycle). A failure raises :class:`CellFlowError`, or with
    ``raise_on_error=False`` is kept in ``error``."""
    start = time.monotonic()
    library = find_library()
    result = CellResult(top, library.name if library else "", library.node if library else "",
                        str(workdir), period_ns, power_mhz, activity)
    try:
        library = _require(library, sta=True)
        result.versions = tool_versions()
        net = synthesize_cells(verilog_text, top, workdir, library=library,
                               abc_delay_ps=abc_delay_ps, timeout=timeout)
        result.area_um2, result.cells = net.area_um2, net.cells
        result.sequential_area_um2, result.notes = net.sequential_area_um2, net.notes
        known = liberty_cells(library.liberty)
        result.sequential_cells = sum(n for c, n in net.cells.items() if known[c][1])
        sta = run_sta(net.netlist, top, workdir, period_ns=period_ns, power_mhz=power_mhz,
                      activity=activity, library=library, timeout=timeout)
        result.notes += [f"sta: {w}" for w in sta.warnings]
        result.critical_path = sta.critical_path
        if sta.critical_path is not None:
            result.fmax_mhz = fmax_mhz(period_ns, sta.critical_path.slack_ns)
        else:
            result.notes.append("no constrained timing path")
        result.power_mw = {k: v * 1e3 for k, v in sta.power_w.items()}
    except CellFlowError as e:
        if raise_on_error:
            raise
        result.error = str(e)
    result.seconds = time.monotonic() - start
    return result
