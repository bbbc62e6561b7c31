"""Standard-cell flow (OSU 0.18 um, YoWASP Yosys, OpenSTA): the parsers on excerpts of the
tools' real reports, the scripts, and real runs checked against figures from elsewhere (cell
areas and leakage read from the .lib by a reader of this file, register bits counted by
hand, a second timing run at another period, power at two clocks and two activities)."""

import json
import re
from pathlib import Path

import pytest
from amaranth.back import verilog
from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from lutcore.errors import LutcoreError
from lutcore.studies import cells
from lutcore.studies.cells import (CellFlowError, CriticalPath, fmax_mhz, parse_cell_stat,
                                   parse_checks, parse_power)

# --------------------------------------------------------------------------------------
# Excerpts of real reports (Yosys 0.70 stat -json -liberty, OpenSTA 2.0.17)
# --------------------------------------------------------------------------------------

STAT_JSON = """\
{
   "creator": "Yosys 0.70 (git sha1 28ba3cb92, Release)",
   "invocation": "stat -json -liberty osu018_stdcells.lib ",
   "modules": {
      "\\\\tiny": {
         "num_wires":         398,
         "num_cells":         424,
         "num_submodules":       0,
         "area":              16463.000000,
         "sequential_area":    3456.000000,
         "num_cells_by_type": {
            "AND2X1": 1,
            "DFFPOSX1": 36
         }
      }
   },
      "design": {
         "num_wires":         398,
         "num_cells":         424,
         "num_submodules":       0,
         "area":              16463.000000,
         "sequential_area":    3456.000000,
         "num_cells_by_type": {
            "AND2X1": 1,
            "AND2X2": 29,
            "DFFPOSX1": 36,
            "XOR2X1": 37
         }
      }
}
"""

CHECKS_VIOLATED = """\
Startpoint: _777_ (rising edge-triggered flip-flop clocked by clk)
Endpoint: _807_ (rising edge-triggered flip-flop clocked by clk)
Path Group: clk
Path Type: max

    Delay      Time   Description
-------------------------------------------------------------
   0.0000    0.0000   clock clk (rise edge)
   0.0000    0.0000   clock network delay (ideal)
   0.0000    0.0000 ^ _777_/CLK (DFFPOSX1)
   0.3100    0.3100 v _777_/Q (DFFPOSX1)
   0.2294    0.5394 ^ _412_/Y (NAND2X1)
   0.0763    3.3804 ^ _642_/Y (AOI21X1)
   0.0000    3.3804 ^ _807_/D (DFFPOSX1)
             3.3804   data arrival time

   2.0000    2.0000   clock clk (rise edge)
   0.0000    2.0000   clock network delay (ideal)
   0.0000    2.0000   clock reconvergence pessimism
             2.0000 ^ _807_/CLK (DFFPOSX1)
  -0.1847    1.8153   library setup time
             1.8153   data required time
-------------------------------------------------------------
             1.8153   data required time
            -3.3804   data arrival time
-------------------------------------------------------------
            -1.5651   slack (VIOLATED)

"""

CHECKS_MET = """\
Startpoint: steps__payload[9] (input port clocked by clk)
Endpoint: _2560_ (rising edge-triggered flip-flop clocked by clk)
Path Group: clk
Path Type: max

    Delay      Time   Description
-------------------------------------------------------------
   0.0000    0.0000   clock clk (rise edge)
   0.0000    0.0000   clock network delay (ideal)
   0.0000    0.0000 v input external delay
   0.0000    0.0000 v steps__payload[9] (in)
   0.1061    0.1061 ^ _1913_/Y (NAND2X1)
             3.9034   data arrival time

  10.0000   10.0000   clock clk (rise edge)
   0.0000   10.0000   clock network delay (ideal)
   0.0000   10.0000   clock reconvergence pessimism
            10.0000 ^ _2560_/CLK (DFFPOSX1)
  -0.1609    9.8391   library setup time
             9.8391   data required time
-------------------------------------------------------------
             9.8391   data required time
            -3.9034   data arrival time
-------------------------------------------------------------
             5.9357   slack (MET)

"""

POWER = """\
Group                    Internal    Switching      Leakage        Total
                            Power        Power        Power        Power
------------------------------------------------------------------------
Sequential           8.553547e-04 4.213971e-05 5.786097e-09 8.975002e-04  57.5%
Combinational        4.439398e-04 2.199209e-04 2.872499e-08 6.638895e-04  42.5%
Macro                0.000000e+00 0.000000e+00 0.000000e+00 0.000000e+00   0.0%
Pad                  0.000000e+00 0.000000e+00 0.000000e+00 0.000000e+00   0.0%
------------------------------------------------------------------------
Total                1.299294e-03 2.620607e-04 3.451108e-08 1.561390e-03 100.0%
                            83.2%        16.8%         0.0%
"""


def test_parse_cell_stat_reads_the_design_totals():
    area, counts = parse_cell_stat(STAT_JSON)
    assert area == 16463.0
    assert counts == {"AND2X1": 1, "AND2X2": 29, "DFFPOSX1": 36, "XOR2X1": 37}
    # Decoded JSON too, and the only module when there is no design section.
    data = json.loads(STAT_JSON)
    del data["design"]
    assert parse_cell_stat(data) == (16463.0, {"AND2X1": 1, "DFFPOSX1": 36})


def test_parse_cell_stat_without_liberty_area_is_an_error():
    data = json.loads(STAT_JSON)
    del data["design"]["area"]
    with pytest.raises(CellFlowError, match=r"^yosys stat -json report cannot be read: .*"
                                            r"-liberty"):
        parse_cell_stat(data)
    with pytest.raises(LutcoreError):
        parse_cell_stat("not json")


def test_parse_checks():
    assert parse_checks(CHECKS_VIOLATED) == CriticalPath("_777_", "_807_", 3.3804, 1.8153,
                                                         -1.5651, False)
    met = parse_checks(CHECKS_MET)
    assert met == CriticalPath("steps__payload[9]", "_2560_", 3.9034, 9.8391, 5.9357, True)
    assert parse_checks("No paths found.\n") is None
    with pytest.raises(CellFlowError, match="report_checks"):
        parse_checks("Startpoint: x\n")


def test_parse_power_in_watts():
    p = parse_power(POWER)
    assert p == {"internal": 1.299294e-03, "switching": 2.620607e-04,
                 "leakage": 3.451108e-08, "total": 1.561390e-03,
                 "sequential": 8.975002e-04, "combinational": 6.638895e-04}
    assert p["internal"] + p["switching"] + p["leakage"] == pytest.approx(p["total"], 1e-6)
    with pytest.raises(CellFlowError, match="Total"):
        parse_power("Group Internal\n")


def test_fmax_from_slack():
    # The same path (3.3804 ns + 0.1847 ns setup) at 2 ns and at 10 ns.
    assert fmax_mhz(2.0, -1.5651) == pytest.approx(1000 / 3.5651)
    assert fmax_mhz(10.0, 6.4349) == pytest.approx(1000 / 3.5651)
    assert fmax_mhz(1.0, 1.0) is None


def test_scripts():
    ys = cells.cell_script("d.v", "top", Path("/lib/x.lib"), "top.netlist.v", 1500)
    assert "synth -flatten -noabc -top top" in ys
    assert 'dfflibmap -liberty "/lib/x.lib"' in ys
    assert "&nf,-D,1500" in ys and "upsize,-D,1500" in ys
    assert 'stat -json -liberty "/lib/x.lib"' in ys
    assert ys.index("splitnets -ports") < ys.index("write_verilog -noexpr -noattr")
    tcl = cells.sta_script(Path("/lib/x.lib"), "n.v", "top", period_ns=4, power_mhz=50,
                           activity=0.2)
    assert "create_clock -name {clk} -period 4 [get_ports {clk}]" in tcl
    assert "create_clock -name {clk} -period 20 [get_ports {clk}]" in tcl   # 50 MHz
    assert "set_power_activity -global -activity 0.2 -duty 0.5" in tcl
    assert tcl.index("report_checks") < tcl.index("-period 20") < tcl.index("report_power")
    with pytest.raises(CellFlowError, match="Tcl"):
        cells.sta_script(Path("/a{b}.lib"), "n.v", "top", period_ns=4, power_mhz=50,
                         activity=0.2)


def test_missing_tools_message_names_the_packages(monkeypatch):
    monkeypatch.setattr(cells, "find_sta", lambda: None)
    msg = cells.ensure_tools(install=False)
    assert "opensta" in msg and "qflow-tech-osu018" in msg and "\n" not in msg
    with pytest.raises(CellFlowError, match="opensta"):
        cells.run_cells("module top(input clk); endmodule", "top", Path("unused"))
    r = cells.run_cells("module top(input clk); endmodule", "top", Path("unused"),
                        raise_on_error=False)
    assert "opensta" in r.error and r.area_um2 is None


# --------------------------------------------------------------------------------------
# Real runs
# --------------------------------------------------------------------------------------

LIBRARY = cells.find_library()
tools = pytest.mark.skipif(
    LIBRARY is None or cells.find_sta() is None,
    reason=f"needs the Debian packages {' and '.join(cells.PACKAGES)} "
           f"(apt-get install {' '.join(cells.PACKAGES)})")


def read_liberty(path: Path) -> dict[str, dict[str, float]]:
    """Cell -> {area, leakage} of a Liberty file, by brace depth (independent of the
    module's reader)."""
    text = re.sub(r"/\*.*?\*/", "", path.read_text(), flags=re.S)
    found: dict[str, dict[str, float]] = {}
    depth, cell = 0, None
    for token in re.finditer(r"[{}]|cell\s*\(\s*\"?(\w+)\"?\s*\)|"
                             r"\b(area|cell_leakage_power)\s*:\s*([-0-9.eE+]+)", text):
        if token.group(0) == "{":
            depth += 1
        elif token.group(0) == "}":
            depth -= 1
            if depth == 1:
                cell = None
        elif token.group(1) and depth == 1:
            cell = token.group(1)
            found[cell] = {}
        elif token.group(2) and cell and depth == 2:
            found[cell][token.group(2)] = float(token.group(3))
    return found


class Tiny(wiring.Component):
    """36 register bits: a and b registered (8 + 8), their product registered (16), and a
    4-bit counter with an enable."""

    a: In(8)
    b: In(8)
    en: In(1)
    p: Out(16)
    count: Out(4)

    def elaborate(self, platform):
        m = Module()
        ra, rb = Signal(8), Signal(8)
        m.d.sync += [ra.eq(self.a), rb.eq(self.b), self.p.eq(ra * rb)]
        with m.If(self.en):
            m.d.sync += self.count.eq(self.count + 1)
        return m


TINY_REGISTER_BITS = 8 + 8 + 16 + 4


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("tiny")
    result = cells.run_cells(verilog.convert(Tiny(), name="tiny"), "tiny", workdir,
                             period_ns=10.0, power_mhz=100.0, activity=0.1, timeout=120)
    return result, workdir


@pytest.mark.yosys
@tools
def test_area_is_the_sum_of_library_cell_areas(tiny):
    result, _ = tiny
    lib = read_liberty(LIBRARY.liberty)
    assert result.error is None
    assert not [c for c in result.cells if c.startswith("$") or c not in lib]
    assert result.area_um2 == pytest.approx(
        sum(n * lib[c]["area"] for c, n in result.cells.items()), abs=1e-6)
    assert 5_000 < result.area_um2 < 50_000          # an 8x8 multiplier in 0.18 um
    assert LIBRARY.units["time_unit"] == "1ns" and LIBRARY.units["leakage_power_unit"] == "1nW"


@pytest.mark.yosys
@tools
def test_flip_flops_are_the_register_bits(tiny):
    result, _ = tiny
    lib = read_liberty(LIBRARY.liberty)
    assert result.cells["DFFPOSX1"] == TINY_REGISTER_BITS    # enable and reset become gates
    assert result.sequential_cells == TINY_REGISTER_BITS
    assert result.sequential_area_um2 == TINY_REGISTER_BITS * lib["DFFPOSX1"]["area"]


@pytest.mark.yosys
@tools
def test_power_adds_up_and_leakage_is_the_library_sum(tiny):
    result, _ = tiny
    p = result.power_mw
    assert p["internal"] > 0 and p["switching"] > 0 and p["leakage"] > 0
    assert p["internal"] + p["switching"] + p["leakage"] == pytest.approx(p["total"], 1e-5)
    assert p["sequential"] + p["combinational"] == pytest.approx(p["total"], 1e-5)
    # Liberty leakage is in nW; the report in W (here mW).
    lib = read_liberty(LIBRARY.liberty)
    leak_nw = sum(n * lib[c]["cell_leakage_power"] for c, n in result.cells.items())
    assert p["leakage"] == pytest.approx(leak_nw * 1e-6, rel=1e-5)


@pytest.mark.yosys
@tools
def test_slack_moves_with_the_period_and_fmax_does_not(tiny):
    result, workdir = tiny
    path = result.critical_path
    assert path.met and path.end != path.start
    netlist = "tiny.netlist.v"
    other = cells.run_sta(netlist, "tiny", workdir, period_ns=2.5, name="p2_5")
    assert other.critical_path.slack_ns == pytest.approx(path.slack_ns - 7.5, abs=2e-4)
    assert other.critical_path.arrival_ns == pytest.approx(path.arrival_ns, abs=1e-4)
    assert not other.critical_path.met
    assert cells.fmax_mhz(2.5, other.critical_path.slack_ns) == \
        pytest.approx(result.fmax_mhz, rel=1e-4)
    # fmax: arrival plus the flop's setup time (the gap between period and required time).
    setup = 10.0 - path.required_ns
    assert result.fmax_mhz == pytest.approx(1000 / (path.arrival_ns + setup), rel=1e-4)
    assert 100 < result.fmax_mhz < 1000
    # Both ends of the worst path are flip-flops of the netlist (register to register).
    text = (workdir / netlist).read_text()
    for inst in (path.start, path.end):
        assert re.search(rf"DFFPOSX1 {re.escape(inst)} \(", text)


@pytest.mark.yosys
@tools
def test_dynamic_power_scales_with_clock_and_activity(tiny):
    result, workdir = tiny
    base = {k: v / 1e3 for k, v in result.power_mw.items()}       # W at 100 MHz, 0.1
    half = cells.run_sta("tiny.netlist.v", "tiny", workdir, power_mhz=50.0,
                         name="f50").power_w
    busy = cells.run_sta("tiny.netlist.v", "tiny", workdir, activity=0.2,
                         name="a02").power_w
    dynamic = lambda p: p["internal"] + p["switching"]             # noqa: E731
    assert dynamic(half) == pytest.approx(dynamic(base) / 2, rel=1e-3)
    assert half["leakage"] == pytest.approx(base["leakage"], rel=1e-6)
    assert busy["switching"] == pytest.approx(2 * base["switching"], rel=1e-3)
    # The clock toggles every cycle whatever the data activity: flip-flop internal power
    # at the clock pin does not double.
    assert busy["sequential"] < 2 * base["sequential"]


@pytest.mark.yosys
@tools
def test_registered_mac_core(tmp_path):
    from lutcore.hw.verilog import generate_verilog
    text = generate_verilog("lutcore_mac_core", None, m=1, n=1, g=2, act_bits=8, acc_bits=18,
                            weight_bits=8, zero_point=128)
    r = cells.run_cells(text, "lutcore_mac_core", tmp_path, timeout=120)
    lib = read_liberty(LIBRARY.liberty)
    assert r.area_um2 == pytest.approx(sum(n * lib[c]["area"] for c, n in r.cells.items()))
    assert r.fmax_mhz > cells.DEFAULT_POWER_MHZ       # the common power clock is reachable
    assert r.power_mw["total"] > 0 and r.seconds > 0
    assert r.versions["sta"] and r.versions["yosys"]


@pytest.mark.yosys
@tools
def test_failures_are_one_line_naming_the_tool_and_log(tmp_path):
    blackbox = ("(* blackbox *) module bb(input a, output y); endmodule\n"
                "module top(input clk, input a, output reg y);\n"
                "  wire t; bb u(.a(a), .y(t)); always @(posedge clk) y <= t;\nendmodule\n")
    with pytest.raises(CellFlowError, match=r"^yosys left cells that are not in "
                                            r"osu018_stdcells: bb x1 \(log .*cells\.log\)$"):
        cells.run_cells(blackbox, "top", tmp_path / "bb")
    r = cells.run_cells("module top(input clk;\nendmodule\n", "top", tmp_path / "syntax",
                        raise_on_error=False)
    assert r.error.startswith("yosys cells failed") and "cells.log" in r.error
    assert "\n" not in r.error and r.area_um2 is None
    (tmp_path / "bad.v").write_text("module top(clk); input clk; FOOCELL u(.A(clk));\n"
                                    "endmodule\n")
    with pytest.raises(CellFlowError, match=r"^sta failed: .*FOOCELL.* \(log .*sta\.log\)$"):
        cells.run_sta("bad.v", "top", tmp_path)


# --------------------------------------------------------------------------------------
# High-fanout buffering
# --------------------------------------------------------------------------------------

def _fanout_netlist(loads: int) -> str:
    cells_text = ["  DFFPOSX1 src (", "    .CLK(clk),", "    .D(d),", "    .Q(\\en.q )", "  );"]
    for i in range(loads):
        cells_text += [f"  AND2X1 g{i} (", "    .A(\\en.q ),", f"    .B(b{i}),", f"    .Y(y{i})",
                       "  );"]
    return "\n".join(["module m(clk, d);", "  input clk;", "  input d;", *cells_text,
                      "endmodule"]) + "\n"


def _drivers_and_loads(text: str):
    """net -> number of cell inputs, read back independently (pin names A/B/D are inputs)."""
    loads = {}
    for net in re.findall(r"\.(?:A|B|D)\((.*?)\)", text):
        loads[net.strip()] = loads.get(net.strip(), 0) + 1
    return loads


OUTPUTS = {"DFFPOSX1": frozenset({"Q"}), "AND2X1": frozenset({"Y"}),
           "BUFX4": frozenset({"Y"})}


@pytest.mark.parametrize("loads, buffers", [(16, 0), (40, 3), (300, 19 + 2)])
def test_buffer_fanout_builds_trees_of_at_most_16_loads(loads, buffers):
    # 300 loads: 19 buffers of 16 (the last 12), whose 19 inputs need 2 more.
    text, added = cells.buffer_fanout(_fanout_netlist(loads), OUTPUTS, max_fanout=16)
    assert added == buffers
    fan = _drivers_and_loads(text)
    assert max(fan.values()) <= 16
    # Every AND gate still hangs off the register, through buffers only.
    assert text.count("AND2X1 ") == loads and text.count("BUFX4 ") == buffers
    assert sum(v for k, v in fan.items() if k.startswith("\\lcbuf") or k == "\\en.q") \
        == loads + buffers


@pytest.mark.yosys
def test_buffered_netlist_times_in_sta(tmp_path):
    """One flip-flop driving 40 others: OpenSTA reads the buffered netlist, and the path
    through the buffers is faster than the one flip-flop driving every input."""
    if cells.find_library() is None or cells.find_sta() is None:
        pytest.skip(cells.ensure_tools(install=False))
    lines = ["module fan(clk, d);", "  input clk;", "  input d;", "  wire q;",
             "  DFFPOSX1 src (", "    .CLK(clk),", "    .D(d),", "    .Q(q)", "  );"]
    for i in range(40):
        lines += [f"  DFFPOSX1 r{i} (", "    .CLK(clk),", "    .D(q),", f"    .Q(o{i})", "  );"]
    flat = "\n".join(lines + ["endmodule"]) + "\n"
    buffered, added = cells.buffer_fanout(flat, cells.liberty_outputs(cells.find_library().liberty))
    assert added == 3                               # 40 loads in groups of 16
    arrival = {}
    for name, text in (("flat", flat), ("buffered", buffered)):
        (tmp_path / f"{name}.v").write_text(text)
        sta = cells.run_sta(f"{name}.v", "fan", tmp_path, name=name)
        arrival[name] = sta.critical_path.arrival_ns
    assert arrival["buffered"] < arrival["flat"]


@pytest.mark.slow
def test_library_package_is_unpacked_into_the_build_cache(tmp_path, monkeypatch):
    """Without the system copy, ensure_tools fetches the 62 kB package and unpacks it into
    the cache (not its qflow dependencies), and the version is the package's."""
    import shutil
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        pytest.skip("needs apt-get and dpkg-deb")
    monkeypatch.setenv("LUTCORE_BUILD", str(tmp_path))
    monkeypatch.setattr(cells, "_LIBERTY_DIR", Path("/nonexistent/osu018"))
    monkeypatch.setattr(cells, "_deb_version", lambda package: None)
    monkeypatch.setattr(cells.shutil, "which",
                        lambda name, _which=shutil.which: None if name == "dpkg" else _which(name))
    assert cells.find_library() is None
    cells._unpack_library(cells._privilege_prefix())
    lib = cells.find_library()
    assert lib is not None and lib.liberty.is_relative_to(tmp_path / "cells")
    assert lib.name == "osu018_stdcells" and "DFFPOSX1" in cells.liberty_cells(lib.liberty)
    assert re.fullmatch(r"\d[\w.+~-]*", cells.tool_versions()["qflow-tech-osu018"])
