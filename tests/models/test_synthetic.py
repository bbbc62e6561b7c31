"""The random checkpoint writer of the model benchmark: a directory the HF loader reads back
as the architecture it was given, with ternary codes of about 1/3 each and scales to divide
by."""

from __future__ import annotations

import numpy as np

from lutcore.models.checkpoint import ModelConfig, Ternary
from lutcore.models.hf import open_hf
from lutcore.models.synthetic import BITNET_2B, write_random_hf


def test_the_2b_shapes_are_the_published_ones():
    c = BITNET_2B
    assert (c.hidden_size, c.intermediate_size, c.num_hidden_layers, c.num_attention_heads,
            c.num_key_value_heads, c.vocab_size, c.head_dim) == (2560, 6912, 30, 20, 5,
                                                                 128256, 128)


def test_written_model_reads_back(tmp_path):
    cfg = ModelConfig(vocab_size=50, hidden_size=16, intermediate_size=24, num_hidden_layers=7,
                      num_attention_heads=2, num_key_value_heads=1)
    ck = open_hf(write_random_hf(tmp_path / "r", cfg, seed=3))
    assert ck.config == cfg and ck.format == "hf-packed" and ck.weight_scale == "divide"
    codes = [v.codes for _, v in ck.tensors() if isinstance(v, Ternary)]
    assert len(codes) == 7 * 7
    allc = np.concatenate([c.ravel() for c in codes])
    for value in (-1, 0, 1):
        assert abs(np.mean(allc == value) - 1 / 3) < 0.03
    assert len(list((tmp_path / "r").glob("model-*.safetensors"))) == 3   # layer 0, 0..5, 6
