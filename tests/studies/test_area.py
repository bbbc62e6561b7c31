# amaranth: UnusedElaboratable=no
"""Area flow: the Yosys ``stat`` parser on a real run of a tiny design (checked against
Yosys' own JSON report), the older report layout, and the density arithmetic."""


import json

import pytest
from amaranth.hdl import Fragment, Module, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from lutcore.studies import area as synth
from lutcore.studies.area import (DesignSpec, SynthError, SynthResult, comparison_summary,
                                density, design_total, module_cells, parse_stat,
                                report_markdown)


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
    """One Yosys run of TinyMac: text reports of both flows and Yosys' JSON for the CMOS one."""
    work = tmp_path_factory.mktemp("tiny")
    (work / "tiny.v").write_text(synth.to_verilog(TinyMac()))
    script = synth.GENERIC_SCRIPT.format(verilog="tiny.v", top="top", report="cmos.txt")
    script += "tee -q -o cmos.json stat -json -tech cmos\n"
    synth.run_yosys(script, work, "cmos")
    synth.run_yosys(synth.ECP5_SCRIPT.format(verilog="tiny.v", top="top", report="ecp5.txt"),
                    work, "ecp5")
    return work


def test_parser_matches_yosys_json(tiny_run):
    text = (tiny_run / "cmos.txt").read_text()
    reference = json.loads((tiny_run / "cmos.json").read_text())["modules"]
    stats = parse_stat(text)
    assert list(stats) == ["top"]
    total = design_total(stats)
    ref = reference.get("\\top") or reference["top"]
    assert total.cells == ref["num_cells_by_type"]
    assert total.num_cells == ref["num_cells"] == sum(total.cells.values())
    assert total.transistors == int(ref["estimated_num_transistors"])
    assert not total.transistors_lower_bound          # every cell has a CMOS cost
    # A 4x4 multiplier and a 12-bit accumulator: real logic, 12 flip-flops.
    assert total.cells["$_DFF_P_"] == 12
    assert 500 < total.transistors < 5000


def test_parser_reads_ecp5_cells(tiny_run):
    total = design_total(parse_stat((tiny_run / "ecp5.txt").read_text()))
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
    assert module_cells(stats, "sub") == stats["sub"].cells
    with pytest.raises(SynthError, match="no module 'nope'"):
        module_cells(stats, "nope")


def test_parser_hierarchy_totals():
    stats = parse_stat(HIERARCHY_LAYOUT)
    assert stats["sub"].cells == {"$_AND_": 1, "$_DFF_P_": 5, "$_NAND_": 9, "$_XOR_": 7}
    total = design_total(stats)
    assert total is stats["design hierarchy"]
    assert total.num_cells == 44 and total.transistors == 412
    assert total.cells == {"$_AND_": 2, "$_DFF_P_": 10, "$_NAND_": 18, "$_XOR_": 14, "sub": 2}
    assert total.counters["memories"] == 0


def test_parser_rejects_non_report():
    with pytest.raises(SynthError, match="no '=== module ===' section"):
        parse_stat("ERROR: something else entirely\n")


def test_yosys_failure_is_reported(tmp_path):
    with pytest.raises(SynthError, match=r"yosys bad failed \(exit 1\)"):
        synth.run_yosys("read_verilog missing.v\n", tmp_path, "bad")


def _result(key, kind, transistors, lut4, products, w2a8, ccu2c=0):
    spec = DesignSpec(key, key, kind, {}, products, w2a8)
    return SynthResult(spec, transistors=transistors, lut4=lut4, ccu2c=ccu2c, ff=10)


def test_density_and_ratios():
    assert density(64, 16000, 1000) == 4.0
    assert density(64, 0) is None and density(None, 10) is None
    results = [
        # LUT: 64 plane-products/step, 32 ternary products/cycle (two planes)
        _result("lut_sym", "lut_core", 6000, 500, 64, 32.0, ccu2c=50),
        _result("pre_sym", "precompute", 2000, 100, 0, None),
        _result("lut_full", "lut_core", 7000, 650, 64, 32.0),
        _result("pre_full", "precompute", 3000, 150, 0, None),
        _result("mac_int8", "mac", 32000, 3200, 64, 64),
    ]
    s = comparison_summary(results)
    row = {r["key"]: r for r in s["rows"]}
    combined = row["lut_sym+pre"]
    assert combined["transistors"] == 8000 and combined["lut4_equiv"] == 700
    assert combined["density_w2a8_kT"] == 4.0           # 32 / 8 kT
    assert row["mac_int8"]["density_w2a8_kT"] == 2.0     # 64 / 32 kT
    assert row["lut_sym"]["lut4_equiv"] == 600           # LUT4 + 2 x CCU2C
    r = s["ratios"]
    assert r["lut_vs_mac"] == pytest.approx(2.0)
    assert r["lut_vs_mac_per_plane"] == pytest.approx(4.0)
    assert r["lut_vs_mac_lut4"] == pytest.approx((32 / 700) / (64 / 3200))
    assert r["symmetrization_saving"] == pytest.approx(0.2)    # 8000 vs 10000
    assert r["symmetrization_saving_core"] == pytest.approx(1 - 6000 / 7000)
    assert r["lut_vs_add_ternary"] is None                     # not synthesized
    assert "floor_share_lut" not in r
    meta = dict(preset="test", tile="M2 N8 K4", g=4, act_bits=8, acc_bits=32,
                table_word_bits={"symmetrized": 176, "unsymmetrized": 352})
    floored = comparison_summary(results + [_result("floor", "floor", 4000, 300, 0, None)])
    f = floored["ratios"]
    assert f["floor_share_lut"] == 0.5 and f["floor_share_mac"] == 0.125
    # compute only: LUT 32 / 4000, MAC 64 / 28000
    assert f["lut_vs_mac_compute_only"] == pytest.approx((32 / 4000) / (64 / 28000))
    assert f["symmetrization_saving_compute_only"] == pytest.approx(1 - 4000 / 6000)
    md = report_markdown(s, meta)
    assert "\nLUT vs MAC density: 2.00x\n" in md
    assert "Symmetrization area saving: 20.0%" in md
    assert "50.0% less table storage" in md


def test_comparison_designs_share_the_tile():
    from lutcore.spec.config import preset

    specs = synth.comparison_designs(preset("default"), 2, 8)
    keys = [s.key for s in specs]
    assert keys == ["lut_sym", "lut_full", "lut_elut", "pre_sym", "pre_full", "pre_elut",
                    "mac_int8", "mac_w2", "add_ternary", "add_bitserial", "floor"]
    cores = [s for s in specs if s.kind not in ("precompute", "floor")]
    assert {s.products_per_step for s in cores} == {2 * 8 * 4}
    w2a8 = {s.key: s.w2a8_products for s in specs}
    assert w2a8["lut_sym"] == w2a8["add_bitserial"] == 32      # two planes per ternary weight
    assert w2a8["mac_int8"] == w2a8["add_ternary"] == 64
    assert w2a8["lut_elut"] == 2 * 8 * 3                         # one ELUT lookup per 3 weights
    for s in specs:                                              # every spec elaborates
        Fragment.get(synth.elaborate(s), None)
