"""The BitNet decoder: logits against a float64 forward written from the architecture
(tinymodels.reference_logits), the integer GEMMs inside against int64, the KV cache against
prefill, bit-identical logits and tokens on numpy, iss and rtl, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from tinymodels import MemoryCheckpoint, reference_logits, tiny_config, tiny_tensors

from lutcore.errors import LutcoreError, ModelError
from lutcore.models import load_model
from lutcore.models.bitnet import GemmEngine
from lutcore.spec.config import preset

IDS = [1, 40, 7, 88, 13, 5, 61, 2, 30, 9, 71, 44]


def tiny_model(backend="numpy", mode="elut", seed=0, config="default", scale_mode="multiply",
               **cfg_overrides):
    cfg = tiny_config(**cfg_overrides)
    t = tiny_tensors(cfg, seed, scale_mode)
    return cfg, t, load_model(MemoryCheckpoint(cfg, t), backend=backend, mode=mode,
                              config=config)


@pytest.mark.parametrize("mode", ["elut", "bitserial"])
@pytest.mark.parametrize("tied, scale_mode", [(True, "multiply"), (False, "divide")])
def test_logits_match_a_float64_forward_from_the_architecture(mode, tied, scale_mode):
    cfg, t, m = tiny_model(mode=mode, scale_mode=scale_mode, tie_word_embeddings=tied, seed=3)
    with m:
        logits = m.forward(IDS)
    ref = reference_logits(cfg, t, IDS)
    assert logits.dtype == np.float32 and logits.shape == (len(IDS), cfg.vocab_size)
    # float32 against float64: a few units in the last place of the largest logit.
    np.testing.assert_allclose(logits, ref, rtol=0, atol=2e-6 * np.abs(ref).max())
    np.testing.assert_array_equal(logits.argmax(-1), ref.argmax(-1))


def test_every_integer_gemm_equals_int64(monkeypatch):
    seen = []
    call = GemmEngine.__call__

    def spy(self, xq, proj):
        out = call(self, xq, proj)
        seen.append((proj.name, np.array_equal(
            out, xq.astype(np.int64) @ proj.packed.unpack().astype(np.int64).T)))
        return out

    monkeypatch.setattr(GemmEngine, "__call__", spy)
    cfg, t, m = tiny_model(mode="bitserial")
    with m:
        m.forward(IDS[:5])
    # 4 GEMMs per layer for the whole prefill: q+k+v, o, gate+up, down.
    assert len(seen) == 4 * cfg.num_hidden_layers and all(ok for _, ok in seen)
    assert seen[0][0] == "+".join(f"model.layers.0.self_attn.{p}_proj" for p in "qkv")
    # and the packed weights are the loaded codes
    _, projs = m.tensors()
    for name in ("model.layers.1.mlp.down_proj", "model.layers.0.self_attn.k_proj",
                 "model.layers.1.mlp.up_proj"):
        np.testing.assert_array_equal(projs[name].packed.unpack(), t[name].codes)


@pytest.mark.parametrize("mode", ["elut", "bitserial"])
def test_stacked_gemms_give_bit_identical_logits(mode):
    from lutcore.models.bitnet import BitNetModel
    cfg, t, m = tiny_model(mode=mode, seed=9, scale_mode="divide")
    with m:
        stacked = m.forward(IDS)
        floats, projs = m.tensors()
        single = BitNetModel(cfg, floats, projs, m.engine, stack=False)
        assert single.engine is m.engine and len(single.layers[0].gemms) == 7
        np.testing.assert_array_equal(single.forward(IDS), stacked)


def test_kv_cache_decoding_equals_prefill():
    _, _, m = tiny_model(mode="elut", seed=5)
    with m:
        full = m.forward(IDS)
        m.reset()
        steps = np.concatenate([m.step([i]) for i in IDS])
    # Per-token quantization makes every integer GEMM identical; only the float attention
    # and LM head see other shapes.
    np.testing.assert_allclose(steps, full, rtol=0, atol=1e-5 * np.abs(full).max())


def test_gqa_heads_use_their_kv_group():
    # 8 query heads over 2 KV heads: query head h reads KV head h // 4 (repeat_kv).
    cfg, t, m = tiny_model(num_attention_heads=8, num_key_value_heads=2, seed=7)
    with m:
        logits = m.forward(IDS[:6])
    ref = reference_logits(cfg, t, IDS[:6])
    np.testing.assert_allclose(logits, ref, rtol=0, atol=2e-6 * np.abs(ref).max())


def test_generate_greedy_follows_the_argmax_of_the_logits():
    _, _, m = tiny_model(seed=2)
    with m:
        new = m.generate(IDS[:3], 5, stop_at_eos=False)
        # an independent replay: a fresh prefill over the growing sequence each step
        seq = list(IDS[:3])
        for _ in range(5):
            seq.append(int(m.forward(seq)[-1].argmax()))
    assert new == seq[3:]


def test_sampling_is_reproducible_from_the_seed_and_respects_top_k():
    _, _, m = tiny_model(seed=2)
    with m:
        a = m.generate(IDS[:3], 8, temperature=1.5, top_k=3, seed=11, stop_at_eos=False)
        b = m.generate(IDS[:3], 8, temperature=1.5, top_k=3, seed=11, stop_at_eos=False)
        rows = []
        m.generate(IDS[:3], 8, temperature=1.5, top_k=3, seed=11, stop_at_eos=False,
                   logits_out=rows)
    assert a == b
    for token, row in zip(a, rows):
        assert token in np.argsort(-row)[:3]


def test_generation_stops_at_eos():
    cfg, t, m = tiny_model(seed=2)
    with m:
        first = int(m.forward(IDS[:3])[-1].argmax())
    cfg2 = tiny_config(eos_token_id=first)
    with load_model(MemoryCheckpoint(cfg2, t)) as m2:
        assert m2.generate(IDS[:3], 10) == [first]


@pytest.mark.parametrize("mode", ["elut", "bitserial"])
def test_numpy_and_iss_give_bit_identical_logits_and_tokens(mode):
    out = {}
    for backend in ("numpy", "iss"):
        _, _, m = tiny_model(backend=backend, mode=mode, seed=4)
        with m:
            out[backend] = (m.forward(IDS[:6]), m.generate(IDS[:3], 3, stop_at_eos=False),
                            m.stats)
    np.testing.assert_array_equal(out["iss"][0], out["numpy"][0])
    assert out["iss"][1] == out["numpy"][1]
    assert out["numpy"][2].cycles == 0 and out["iss"][2].cycles > 0


@pytest.mark.rtl
def test_rtl_gives_the_same_logits_and_tokens_in_one_simulation(model_of):
    cfg = preset("tiny")
    model_of(cfg)
    out = {}
    for backend in ("iss", "rtl"):
        _, _, m = tiny_model(backend=backend, config=cfg, seed=4)
        with m:
            out[backend] = (m.generate(IDS[:3], 2, stop_at_eos=False), m.stats.cycles)
            if backend == "rtl":
                pid = m.engine.device.pid
                assert m.engine.device.pid == pid       # one process served every GEMM
    assert out["rtl"] == out["iss"]


@pytest.mark.parametrize("call, message", [
    (lambda m: m.forward([1, 97]), "token id 97 at position 1 is out of range: the "
                                   "vocabulary is 0..96"),
    (lambda m: m.forward([-1]), "token id -1 at position 0 is out of range"),
    (lambda m: m.forward([]), "token ids must be a non-empty 1-D list of integers"),
    (lambda m: m.forward(list(range(65))), "65 tokens exceed max_position_embeddings 64"),
    (lambda m: m.generate([1] * 60, 10), "a prompt of 60 tokens and 10 new tokens exceed "
                                         "max_position_embeddings 64"),
    (lambda m: m.generate([1], 2, temperature=-1), "temperature -1: must be a finite number"),
    (lambda m: m.generate([1], 2, top_k=-2), "top_k -2: must be an integer >= 0"),
])
def test_bad_input_is_one_line(call, message):
    _, _, m = tiny_model()
    with m, pytest.raises(ModelError) as e:
        call(m)
    assert message in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("kwargs, message", [
    (dict(backend="fpga"), "backend"),
    (dict(mode="int4"), "mode 'int4': allowed bitserial, elut"),
    (dict(backend="numpy", port="/dev/null"), "port"),
])
def test_bad_backend_options_are_refused_before_loading(kwargs, message):
    cfg = tiny_config()
    with pytest.raises(LutcoreError, match=message):
        load_model(MemoryCheckpoint(cfg, tiny_tensors(cfg)), **kwargs)


def test_uart_over_the_modelled_link_gives_the_same_tokens():
    """The uart backend through the link protocol (the bridge modelled in Python, the ISS
    behind it), one connection for the whole run."""
    from lutcore.host.iss import AcceleratorModel
    from lutcore.link.client import ModelTransport
    cfg = preset("tiny")
    out = {}
    for backend, options in (("numpy", {}), ("uart", {"transport": ModelTransport(
            AcceleratorModel(cfg), host_bits=cfg.host_bits)})):
        mcfg = tiny_config()
        with load_model(MemoryCheckpoint(mcfg, tiny_tensors(mcfg, 4)), backend=backend,
                        config=cfg, **options) as m:
            out[backend] = (m.generate(IDS[:3], 2, stop_at_eos=False), m.stats.gemms)
    assert out["uart"] == out["numpy"]


@pytest.mark.slow
@pytest.mark.rtl
@pytest.mark.parametrize("preset_name, mode", [("tiny", "bitserial"), ("default", "elut"),
                                               ("default", "bitserial")])
def test_rtl_generation_matches_numpy_over_more_tokens(model_of, preset_name, mode):
    cfg = preset(preset_name)
    model_of(cfg)
    out = {}
    for backend in ("numpy", "rtl"):
        _, _, m = tiny_model(backend=backend, mode=mode, config=cfg, seed=6)
        with m:
            out[backend] = (m.forward(IDS), m.generate(IDS[:4], 6, stop_at_eos=False))
    np.testing.assert_array_equal(out["rtl"][0], out["numpy"][0])
    assert out["rtl"][1] == out["numpy"][1]


def test_a_model_that_overflows_float32_gives_no_logits():
    cfg = tiny_config()
    t = tiny_tensors(cfg, 1)
    t["model.layers.0.mlp.ffn_sub_norm.weight"] = np.full(cfg.intermediate_size, 3e38,
                                                          np.float32)
    with load_model(MemoryCheckpoint(cfg, t)) as m, pytest.raises(ModelError) as e:
        m.forward([1, 2, 3])
    assert "the forward pass overflows float32 at the input of " \
           "model.layers.0.mlp.down_proj" in str(e.value)
