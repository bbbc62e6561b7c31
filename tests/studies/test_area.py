# amaranth: UnusedElaboratable=no
"""Area study: the density arithmetic and report, the designs of the comparison, the Verilog
the study synthesizes (the hw entry's, the same as ``lutcore verilog`` writes), and a quick
``lutcore synth`` on the tiny preset."""

import json
import re

import pytest
from amaranth.hdl import Fragment

from lutcore.cli import main
from lutcore.errors import LutcoreError
from lutcore.hw import verilog as hv
from lutcore.spec.config import preset
from lutcore.studies import area as synth
from lutcore.studies.area import (DesignSpec, SynthResult, comparison_summary, density,
                                  report_markdown)


def _result(key, component, transistors, lut4, products, w2a8, ccu2c=0):
    spec = DesignSpec(key, key, component, {}, products, w2a8)
    return SynthResult(spec, transistors=transistors, lut4=lut4, ccu2c=ccu2c, ff=10)


def test_density_and_ratios():
    assert density(64, 16000, 1000) == 4.0
    assert density(64, 0) is None and density(None, 10) is None
    results = [
        # LUT: 64 plane-products/step, 32 ternary products/cycle (two planes)
        _result("lut_sym", "lutcore_lut_core", 6000, 500, 64, 32.0, ccu2c=50),
        _result("pre_sym", "lutcore_table_precompute", 2000, 100, 0, None),
        _result("lut_full", "lutcore_lut_core", 7000, 650, 64, 32.0),
        _result("pre_full", "lutcore_table_precompute", 3000, 150, 0, None),
        _result("mac_int8", "lutcore_mac_core", 32000, 3200, 64, 64),
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
    floored = comparison_summary(results + [_result("floor", "lutcore_accumulator_array", 4000, 300, 0, None)])
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
    specs = synth.comparison_designs(preset("default"), 2, 8)
    keys = [s.key for s in specs]
    assert keys == ["lut_sym", "lut_full", "lut_elut", "pre_sym", "pre_full", "pre_elut",
                    "mac_int8", "mac_w2", "add_ternary", "add_bitserial", "floor"]
    assert [s.component for s in specs] == (
        ["lutcore_lut_core"] * 3 + ["lutcore_table_precompute"] * 3 + ["lutcore_mac_core"] * 2
        + ["lutcore_adder_core"] * 2 + ["lutcore_accumulator_array"])
    cores = [s for s in specs if s.products_per_step]
    assert len(cores) == 7 and {s.products_per_step for s in cores} == {2 * 8 * 4}
    w2a8 = {s.key: s.w2a8_products for s in specs}
    assert w2a8["lut_sym"] == w2a8["add_bitserial"] == 32      # two planes per ternary weight
    assert w2a8["mac_int8"] == w2a8["add_ternary"] == 64
    assert w2a8["lut_elut"] == 2 * 8 * 3                         # one ELUT lookup per 3 weights
    for s in specs:                                              # every spec elaborates
        Fragment.get(synth.elaborate(s), None)


def test_study_writes_the_verilog_of_lutcore_verilog(tmp_path):
    """The study's Verilog comes from the hw entry: for the tiny preset it is the file
    `lutcore verilog` writes, and a baseline's top module carries its registered name."""
    tiny = preset("tiny")
    hv.write_verilog(tiny, tmp_path / "verilog")
    for spec in synth.config_designs(tiny):
        result = synth.synthesize(spec, tmp_path / "study", flows=())
        assert result.error is None and result.transistors is None
        study = (tmp_path / "study" / spec.key / f"{spec.key}.v").read_text()
        assert study == (tmp_path / "verilog" / f"{spec.component}.v").read_text()
    floor = synth.floor_spec("floor", "floor", m=1, n=2, term_bits=4, acc_bits=16)
    synth.synthesize(floor, tmp_path / "study", flows=())
    text = (tmp_path / "study" / "floor" / "floor.v").read_text()
    assert re.search(r"^module lutcore_accumulator_array\(", text, re.M)


def test_a_yosys_failure_is_kept_in_the_result(tmp_path):
    spec = synth.precompute_spec("pre", "pre", m=1, g=2, act_bits=4)
    result = synth.synthesize(spec, tmp_path, flows=("cmos",), timeout=1e-3)
    assert result.error == f"YosysError: yosys cmos timed out after 0 s in {tmp_path / 'pre'}"
    with pytest.raises(LutcoreError, match=r"^synthesis failed for pre \(see out\)$"):
        synth.check_designs([result.to_dict()], "out")


@pytest.mark.parametrize("text, message", [
    ("2x8", None), ("16X512", None),
    ("2x", "'2x' is invalid: expected MxN"),
    ("0x8", "'0x8': m = 0 is invalid: allowed 1..16"),
    ("2x513", "'2x513': n = 513 is invalid: allowed 1..512"),
])
def test_parse_tile(text, message):
    import argparse
    if message is None:
        m, n = (int(x) for x in text.lower().split("x"))
        assert synth.parse_tile(text) == (m, n)
    else:
        with pytest.raises(argparse.ArgumentTypeError, match=re.escape(message)):
            synth.parse_tile(text)


def test_cli_synth_tiny(tmp_path, capsys):
    """`lutcore synth --preset tiny` (CMOS only): the tiny core and its precompute unit."""
    out = tmp_path / "area"
    assert main(["synth", "--preset", "tiny", "--no-ecp5", "--out", str(out), "-j", "1"]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out / 'area.md'} and {out / 'area.json'}" in printed
    doc = json.loads((out / "area.json").read_text())
    assert doc["meta"]["config"] == preset("tiny").to_dict()
    core, pre = doc["designs"]
    assert (core["spec"]["key"], pre["spec"]["key"]) == ("lut_tiny", "pre_tiny")
    # Tiny: M1 N4 K4, so 16 products per step; the precompute unit has none of its own.
    assert core["spec"]["products_per_step"] == 16 and pre["spec"]["products_per_step"] == 0
    for d in (core, pre):
        assert d["error"] is None and d["transistors"] > 1000 and d["lut4"] is None
    per_kt = 16 / (core["transistors"] / 1000)
    assert core["density"]["per_step_per_ktransistor"] == pytest.approx(per_kt)
    md = (out / "area.md").read_text()
    total = core["transistors"] + pre["transistors"]
    assert f"| LUT core + precompute | 16 | {total:,} |" in md


@pytest.mark.parametrize("args, message", [
    (["--config", "missing.json"], "--config 'missing.json' cannot be read: no such file"),
    (["--tile", "0x8"], "argument --tile: '0x8': m = 0 is invalid: allowed 1..16"),
    (["--jobs", "0"], "argument --jobs/-j: 0 is out of range: allowed >= 1"),
    (["--timeout", "-1"], "argument --timeout: "),
    (["--preset", "tiny", "--config", "c.json"], "argument --config: not allowed with argument"),
    (["--out", "file"], "--out 'file' is an existing file: expected a directory"),
])
def test_cli_synth_errors_are_one_line(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file").write_text("")
    assert main(["synth", *(args if "--out" in args else [*args, "--out", "out"])]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"lutcore synth: error: {message}")
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


# -- standard-cell rows -------------------------------------------------------------------

@pytest.mark.parametrize("key, bits, expected", [
    # m=2 n=8 g=4: 64 lookups of g activations a step; ELUT groups of 3.
    ("lut_sym", 1, 64), ("lut_sym", 2, 32), ("lut_sym", 4, 16),
    ("lut_elut", 1, 64), ("lut_elut", 2, 48), ("lut_elut", 4, 16),
    ("mac_int8", 1, 64), ("mac_int8", 4, 64),
    ("add_ternary", 2, 64), ("add_ternary", 4, None),
    ("add_bitserial", 4, 16),
])
def test_products_per_cycle_by_weight_width(key, bits, expected):
    assert synth.products_at(key, bits, 2, 8, 4, 3) == expected


def _cell_result(key, um2, mhz, mw, clock=100.0):
    r = SynthResult(DesignSpec(key, key, "c", {}, 0, None))
    r.area_um2, r.fmax_mhz, r.power_mw = um2, mhz, mw
    r.cells = {"clock_mhz": clock}
    return r


def test_cell_rows_sum_core_and_precompute_and_count_tops_by_hand():
    results = [_cell_result("lut_sym", 400_000, 150.0, 20.0),
               _cell_result("pre_sym", 100_000, 300.0, 5.0),
               _cell_result("lut_sym_w4", 420_000, 140.0, 21.0),
               _cell_result("mac_int8", 2_000_000, 120.0, 100.0)]
    rows = {(r["key"], r["weight_bits"]): r
            for r in synth.cell_rows(results, 2, 8, 4, 3)}
    w2 = rows[("lut_sym+pre", 2)]
    assert (w2["area_um2"], w2["power_mw"], w2["fmax_mhz"]) == (500_000, 25.0, 150.0)
    # 32 products a cycle x 2 ops x 100 MHz = 6.4 GOPS on 0.5 mm^2 and 25 mW.
    assert w2["tops_per_mm2"] == pytest.approx(0.0128)
    assert w2["tops_per_w"] == pytest.approx(0.256)
    w4 = rows[("lut_sym+pre", 4)]
    assert w4["components"] == ["lut_sym_w4", "pre_sym"] and w4["area_um2"] == 520_000
    assert w4["tops_per_mm2"] == pytest.approx(16 * 2 * 100e6 / 1e12 / 0.52)
    mac = rows[("mac_int8", 1)]
    assert mac["tops_per_mm2"] == pytest.approx(64 * 2 * 100e6 / 1e12 / 2.0)
    assert rows[("lut_full+pre", 2)]["error"] == "not synthesized: lut_full, pre_full"
    ratios = synth.cell_ratios(list(rows.values()))
    # MAC at W2: 64 products x 2 ops x 100 MHz on 2 mm^2 = 0.0064 TOPS/mm^2.
    assert ratios["lut_vs_mac_area_w2"] == pytest.approx(0.0128 / 0.0064)
    assert ratios["lut_vs_mac_power_w1"] == pytest.approx(
        (64 * 2e8 / 1e12 / 0.025) / (64 * 2e8 / 1e12 / 0.1))
    assert ratios["symmetrization_saving_area"] is None


def test_a_failed_cell_flow_is_kept_in_its_row():
    bad = _cell_result("mac_int8", None, None, None)
    bad.cells_error = "CellFlowError: sta failed: Error: x (log y)"
    (row,) = [r for r in synth.cell_rows([bad], 2, 8, 4, 3)
              if r["key"] == "mac_int8" and r["weight_bits"] == 2]
    assert row["error"].startswith("mac_int8: CellFlowError: sta failed")
    assert row["tops_per_mm2"] is None


def test_ladder_rungs_and_savings_by_hand():
    results = [_cell_result("lut_full", 300.0, 100.0, 30.0),
               _cell_result("pre_full", 100.0, 100.0, 10.0),
               _cell_result("lut_negunit", 220.0, 100.0, 24.0),
               _cell_result("pre_sym", 80.0, 100.0, 6.0),
               _cell_result("lut_sym", 210.0, 100.0, 22.0)]
    full, negunit, sym = synth.ladder_rows(results)
    assert (full["area_um2"], negunit["area_um2"], sym["area_um2"]) == (400.0, 300.0, 290.0)
    assert full["area_step_saving"] is None
    assert negunit["area_step_saving"] == pytest.approx(0.25)       # 400 -> 300
    assert sym["area_step_saving"] == pytest.approx(1 - 290 / 300)
    assert sym["area_total_saving"] == pytest.approx(1 - 290 / 400)
    assert sym["power_total_saving"] == pytest.approx(1 - 28 / 40)


def test_ladder_design_is_the_symmetrized_core_negating_in_the_unit():
    (spec,) = synth.ladder_designs(preset("tiny"), 2, 8)
    core = synth.elaborate(spec)
    assert core.negate_in_unit and core.symmetrize and (core.m, core.n) == (2, 8)
    Fragment.get(core, None)            # it elaborates (and is not left unused)


# -- FP16 activations -----------------------------------------------------------------------

def test_fp_designs_build_the_stated_cores():
    specs = {s.key: s for s in synth.fp_designs(1, 2, 4)}
    assert sorted(specs) == ["fp_lut", "fp_lut_w4", "fp_mac", "fp_pre"]
    # Built here, as the registry builds them (and not elaborated: the cores are large).
    lut, lut4, mac = (hv.component_class(specs[k].component)(**specs[k].params)
                      for k in ("fp_lut", "fp_lut_w4", "fp_mac"))
    assert (lut.m, lut.n, lut.g, lut.weight_bits, lut.symmetrize) == (1, 2, 4, 2, True)
    assert (lut._table.name, lut._acc.name) == ("fp16", "fp32")
    assert lut4.weight_bits == 4
    assert (mac.m, mac.n, mac.g, mac.operand_format, mac.acc_format) == (1, 2, 4, "fp16",
                                                                         "fp32")
    assert specs["fp_pre"].component == "lutcore_fp_table_precompute"
    assert specs["fp_pre"].params["table_format"] == "fp16"
    assert specs["fp_lut"].products_per_step == specs["fp_mac"].products_per_step == 8
    # Bit-serial LUT: one plane a cycle; the MAC multiplies every width as FP16.
    assert [synth.fp_products_at("fp_lut+pre", b, 1, 4, 4) for b in (1, 2, 4)] == [16, 8, 4]
    assert [synth.fp_products_at("fp_mac", b, 1, 4, 4) for b in (1, 2, 4)] == [16, 16, 16]


def test_fp_cell_rows_and_ratios_by_hand():
    results = [_cell_result("fp_lut", 400_000, 120.0, 40.0),
               _cell_result("fp_lut_w4", 420_000, 110.0, 42.0),
               _cell_result("fp_pre", 100_000, 200.0, 10.0),
               _cell_result("fp_mac", 3_200_000, 150.0, 320.0)]
    rows = {(r["key"], r["weight_bits"]): r for r in synth.fp_cell_rows(results, 1, 4, 4)}
    w1 = rows[("fp_lut+pre", 1)]
    assert (w1["area_um2"], w1["power_mw"], w1["fmax_mhz"]) == (500_000, 50.0, 120.0)
    assert w1["components"] == ["fp_lut", "fp_pre"]
    # 16 products x 2 FLOPs x 100 MHz = 3.2 GFLOPs on 0.5 mm^2 and 50 mW.
    assert w1["tops_per_mm2"] == pytest.approx(0.0064)
    assert w1["tops_per_w"] == pytest.approx(0.064)
    w4 = rows[("fp_lut+pre", 4)]
    assert w4["components"] == ["fp_lut_w4", "fp_pre"] and w4["area_um2"] == 520_000
    assert w4["tops_per_mm2"] == pytest.approx(4 * 2e8 / 1e12 / 0.52)
    mac = rows[("fp_mac", 2)]
    assert mac["tops_per_mm2"] == pytest.approx(16 * 2e8 / 1e12 / 3.2)       # 0.001
    ratios = synth.fp_cell_ratios(list(rows.values()))
    assert ratios["lut_vs_mac_area_w1"] == pytest.approx(0.0064 / 0.001)
    assert ratios["lut_vs_mac_power_w2"] == pytest.approx(
        (8 * 2e8 / 1e12 / 0.05) / (16 * 2e8 / 1e12 / 0.32))
    assert ratios["paper_lut_vs_mac_area_w1"] == pytest.approx(61.55 / 3.39)
    md = "\n".join(synth.fp_cell_report(list(rows.values()), ratios, {
        "node": "n", "library": "l", "tile": "M1 N4 K4", "products": 16, "clock_mhz": 100.0,
        "activity": 0.1}))
    assert "| FP16 MAC tensor core (FP16 x FP16, FP32 acc) | W2A-FP16 | 3,200,000 |" in md
    assert "W1 x FP16 LUT vs FP16 MAC: 6.40x TFLOPs/mm^2" in md
    assert "2.96 TFLOPs/mm^2 (Table 1)" in md and "18.16x" in md


def test_cli_synth_fp16_refuses_a_tile(tmp_path, capsys):
    assert main(["synth", "--fp16", "--tile", "1x2", "--out", str(tmp_path / "o")]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith("--fp16 is invalid with --all or --tile: it has its own tile")


@pytest.mark.slow
@pytest.mark.yosys
def test_fp_comparison_through_the_cell_flow(tmp_path):
    """The smallest FP comparison (one unit, g = 2) through the real standard-cell flow:
    every row measured, the LUT rows the sum of core and precompute, the areas the library
    cells' sum, and the report and JSON written."""
    from lutcore.studies import cells
    if cells.find_library() is None or cells.find_sta() is None:
        pytest.skip(cells.ensure_tools(install=False))
    doc = synth.run_fp_comparison(tmp_path, m=1, n=1, g=2, jobs=2)
    rows = {(r["key"], r["weight_bits"]): r for r in doc["rows"]}
    designs = {d["spec"]["key"]: d for d in doc["designs"]}
    assert not [r for r in rows.values() if r["error"]]
    for key, d in designs.items():
        lib = cells.liberty_cells(cells.find_library().liberty)
        counts = d["cells"]["cell_counts"]
        assert d["area_um2"] == pytest.approx(sum(n * lib[c][0] for c, n in counts.items()))
        assert d["fmax_mhz"] > 0 and d["power_mw"] > 0, key
    w2 = rows[("fp_lut+pre", 2)]
    assert w2["area_um2"] == pytest.approx(designs["fp_lut"]["area_um2"]
                                           + designs["fp_pre"]["area_um2"])
    assert w2["products_per_cycle"] == 1 and rows[("fp_mac", 2)]["products_per_cycle"] == 2
    assert (tmp_path / "area_fp16.md").read_text() == doc["markdown"]
    assert json.loads((tmp_path / "area_fp16.json").read_text())["ratios"] == doc["ratios"]


# -- sweeps on Dask, figures kept per design digest ------------------------------------------

def _small_specs():
    return [synth.precompute_spec(f"pre_g{g}", f"pre g{g}", m=1, g=g, act_bits=4)
            for g in (2, 3)]


def test_figures_are_kept_and_a_changed_design_is_synthesized_again(tmp_path):
    lines = []
    first = synth.synthesize_all(_small_specs(), tmp_path, flows=("cmos",),
                                 progress=lines.append)
    again = synth.synthesize_all(_small_specs(), tmp_path, flows=("cmos",),
                                 progress=lines.append)
    assert not any(r.cached for r in first) and all(r.cached for r in again)
    assert [r.transistors for r in again] == [r.transistors for r in first]
    assert sum("kept from an earlier run" in line for line in lines) == 2
    # Figures kept with a failure (written by an older version) are never reused.
    kept = tmp_path / "pre_g3" / "result.json"
    doc = json.loads(kept.read_text())
    doc["figures"]["cells_error"] = "CellFlowError: tools missing"
    kept.write_text(json.dumps(doc))
    again = synth.synthesize_all(_small_specs(), tmp_path, flows=("cmos",),
                                 progress=lines.append)
    assert [r.cached for r in again] == [True, False]
    assert again[1].cells_error is None and again[1].transistors == first[1].transistors
    # Another activation width is another Verilog text: synthesized, not taken from the file.
    changed = synth.precompute_spec("pre_g2", "pre g2", m=1, g=2, act_bits=5)
    (r,) = synth.synthesize_all([changed], tmp_path, flows=("cmos",), progress=lines.append)
    assert not r.cached and r.transistors > first[0].transistors
    # Another flow list is another digest too.
    (r,) = synth.synthesize_all([changed], tmp_path, flows=(), progress=lines.append)
    assert not r.cached and r.transistors is None


def test_local_dask_cluster_gives_the_serial_figures_in_order(tmp_path):
    serial = synth.synthesize_all(_small_specs(), tmp_path / "serial", flows=("cmos",),
                                  progress=lambda _: None)
    lines = []
    parallel = synth.synthesize_all(_small_specs(), tmp_path / "dask", jobs=2,
                                    flows=("cmos",), progress=lines.append)
    assert [r.spec.key for r in parallel] == ["pre_g2", "pre_g3"]
    assert [r.transistors for r in parallel] == [r.transistors for r in serial]
    assert lines[0].startswith("synthesizing 2 designs on 2 local Dask workers")
    assert lines[-1].startswith("[####################] [2/2]")


@pytest.mark.slow
def test_a_timed_out_synthesis_is_reported_in_its_row_on_dask(tmp_path):
    results = synth.synthesize_all(_small_specs(), tmp_path, jobs=2, flows=("cmos",),
                                   timeout=1e-3, progress=lambda _: None)
    assert [r.error.split(" in ")[0] for r in results] == \
        ["YosysError: yosys cmos timed out after 0 s"] * 2


def test_unreachable_scheduler_is_one_line(tmp_path, capsys, monkeypatch):
    import socket
    from lutcore import tasks
    monkeypatch.setattr(tasks, "CONNECT_TIMEOUT", "2s")
    with socket.socket() as s:      # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    status = main(["synth", "--preset", "tiny", "--no-ecp5", "--out", str(tmp_path),
                   "--scheduler", f"tcp://127.0.0.1:{port}"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status != 0 and len(err) == 1
    assert err[0].startswith(f"lutcore synth: error: --scheduler tcp://127.0.0.1:{port}: "
                             "cannot connect: ")


def test_designs_of_a_config_with_lookups_build():
    """A configuration with L lookups: its full-tile LUT core and the precompute unit of its
    m * L tables build from the registry and elaborate (m * L beyond the 16 rows a tile may
    have), and the table-word figure of the L = 1 comparison ignores the config's L."""
    cfg = preset("large").replace(lookups=5, n=8)
    core, pre = synth.full_tile_designs(cfg)
    assert core.params["lookups"] == pre.params["lookups"] == 5
    unit = hv.build_component(pre.component, **pre.params)
    lut = hv.build_component(core.component, **core.params)
    Fragment.get(unit, None)
    Fragment.get(lut, None)
    assert (unit.rows, lut.lookups) == (4 * 5, 5)
    assert synth.table_word_bits(cfg, 2) == synth.table_word_bits(cfg.replace(lookups=1), 2)
