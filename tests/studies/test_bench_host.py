"""The host benchmark runs end to end on a small shape and prints the machine, its tables
with spreads, and the ratio summary."""

import argparse
import re

from lutcore.studies import bench_host as host


def parse(argv):
    parser = argparse.ArgumentParser()
    host.add_arguments(parser)
    return parser.parse_args(argv)


def test_bench_smoke(capsys):
    assert host.main(parse(["--m", "1,3", "--shapes", "80x24", "--repeats", "2",
                            "--min-seconds", "0"])) == 0
    out, err = capsys.readouterr()
    assert out.startswith("machine: ") and " cores" in out.splitlines()[0]
    assert "1 thread" in out.splitlines()[0]      # BLAS limited while the kernels ran
    assert out.splitlines()[1].startswith(("lookup loop: C (", "lookup loop: NumPy ("))
    main_part, fp_part, layers_part = out.split("FP16 activations")
    rows = [line for line in main_part.splitlines() if line.startswith("| 80x24 |")]
    assert len(rows) == 3                       # two timing rows (M = 1, 3) and one bytes row
    # Every time and ratio is "median (min..max)" with min <= median <= max.
    assert len(rows[0].split("|")) == 12          # 10 columns: 8 figures incl. both loops
    for cell in rows[0].split("|")[3:11]:
        med, lo, hi = map(float, re.fullmatch(r" ([\d.]+)x? \(([\d.]+)\.\.([\d.]+)\) ",
                                              cell).groups())
        assert lo <= med <= hi
    # 80 x 24 weights: float32 7680 B, int8 1920 B, ELUT 24 * 16 B, bit-serial 2 * 24 * 10 B
    assert rows[2].split("|")[2:6] == [" 7.5 KiB ", " 1.9 KiB ", " 384 B ", " 480 B "]
    assert rows[2].split("|")[6:8] == [" 20.0x ", " 16.0x "]
    assert re.search(r"^M = 3: ELUT [\d.]+-[\d.]+x, bit-serial [\d.]+-[\d.]+x", out, re.M)
    assert "[2/2] K x N = 80x24, M = 3" in err
    # FP16 activations: a timing row per M, then five error rows per M (BLAS, FP ELUT and
    # bit-serial with FP32, then FP16 tables and accumulators), each error a finite figure.
    fp_rows = [line for line in fp_part.splitlines() if line.startswith("| 80x24 |")]
    assert len(fp_rows) == 2 + 2 * 5
    assert [r.split("|")[3].strip() for r in fp_rows[2:7]] == \
        ["f32 BLAS", "FP ELUT", "FP bit-serial", "FP ELUT", "FP bit-serial"]
    for r in fp_rows[2:]:
        assert all(0 <= float(x) < float("inf") for x in r.split("|")[5:8])
    # the example model's layers: one row per projection stack (see below)
    assert layers_part.startswith(" on the linear layers of examples/tiny-lm")
    assert sum(line.startswith("| ") for line in layers_part.splitlines()) == 1 + 4


def test_fp_error_on_the_example_models_layers():
    """examples/tiny-lm (hidden 128, intermediate 256, 3 layers; q, k, v share their input,
    as do gate and up): four projection stacks, each measured on all 3 layers, with errors
    inside the bounds of the rounding analysis. Sums of n addends in a format of unit
    roundoff u err by at most about n * u of the magnitude; the contract's longest chain
    here (a 4-entry table plan, a partial of ceil(256 / 3 / 5) = 18 addends, the lane tree
    and the finalize) is under 32 operations: FP32 (u = 2^-24) within 32 * 2^-24 of the
    magnitude against the FP16 activations' own product; FP16 tables and accumulators
    (u = 2^-11), with the FP16 rounding of the activations, within 33 * 2^-11."""
    rows = host.fp_model_layers(host._model_path(None)[0], tokens=8)
    shapes = {r["name"]: (r["k"], r["n"], r["layers"]) for r in rows}
    assert shapes == {"q_proj+k_proj+v_proj": (128, 128 + 64 + 64, 3),
                      "o_proj": (128, 128, 3), "gate_proj+up_proj": (128, 512, 3),
                      "down_proj": (256, 128, 3)}
    for r in rows:
        e = r["errors"]
        assert 0 < e["contract"]["max_norm"] <= 32 * 2.0 ** -24
        assert 0 < e["fp16"]["max_norm"] <= 33 * 2.0 ** -11
        assert e["contract"]["max_norm"] < e["fp32"]["max_norm"] < e["fp16"]["max_norm"]
        assert 0 < e["int8"]["max_norm"] < 1


def test_spread_and_paired_ratios():
    # Ratios pair the runs of one round: round 1 is slow for both kernels alike.
    base, other = {0: 1.0, 1: 4.0, 2: 2.0}, {0: 2.0, 1: 8.0, 3: 1.0}
    assert host._ratios(base, other) == {"median": 0.5, "min": 0.5, "max": 0.5}
    assert host._spread([3.0, 1.0, 2.0]) == {"median": 2.0, "min": 1.0, "max": 3.0}
