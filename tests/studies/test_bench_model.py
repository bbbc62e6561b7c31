"""``lutcore bench model`` runs end to end on a small random model and prints its table (the
figures themselves are the benchmark's business, not a test's)."""

from __future__ import annotations

from lutcore.cli import main
from lutcore.models.checkpoint import ModelConfig
from lutcore.models.synthetic import write_random_hf


def test_bench_model_prints_every_row(tmp_path, capsys):
    cfg = ModelConfig(vocab_size=64, hidden_size=32, intermediate_size=40, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2)
    root = write_random_hf(tmp_path / "m", cfg)
    assert main(["bench", "model", "--model", str(root), "--prompt-tokens", "4",
                 "--decode-tokens", "2", "--presets", "tiny"]) == 0
    out = capsys.readouterr().out
    for row in ("load from HF packed", "load from cache", "resident packed weights",
                "prefill 4 tokens", "decode", "peak memory", "tiny:"):
        assert row in out, out
    # ELUT bytes per layer, by hand: K = 32 takes 7 bytes a row (q 32, k 16, v 16, o 32,
    # gate 40, up 40 rows), K = 40 takes 8 (down, 32 rows): 1488 bytes for 6912 weights.
    assert f"{8 * 1488 / 6912:.2f} bits/weight" in out
    assert (tmp_path / "m.elut.npz").exists()
