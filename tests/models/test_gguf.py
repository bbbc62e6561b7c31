"""Tests of lutcore/models/gguf.py: the block decoders against ``gguf.quants`` and bitnet.cpp's
I2_S layout, tiny models written by ``gguf.GGUFWriter`` in every supported type loaded back
code for code, and every bad input with its exact message."""

from __future__ import annotations

import os

import gguf
import numpy as np
import pytest
from ggufmodels import GGUF_TINY, i2_s_bytes, write_gguf
from tinymodels import tiny_config, tiny_tensors

from lutcore.errors import ModelError
from lutcore.models.checkpoint import Ternary
from lutcore.models.gguf import (ARCHITECTURES, decode_i2_s, decode_tq1_0, decode_tq2_0,
                                 open_gguf)

Q = gguf.GGMLQuantizationType
SUPPORTED = "supported TQ1_0, TQ2_0, I2_S, F32, F16, BF16"
Q_PROJ = "blk.0.attn_q.weight"


def _bf16(x: np.ndarray) -> np.ndarray:
    """``x`` rounded to bfloat16 by gguf's own quantizer, back as float64."""
    raw = gguf.quants.quantize(np.asarray(x, np.float32), Q.BF16)
    return gguf.quants.dequantize(raw, Q.BF16).astype(np.float64)


def _stored(t: Ternary, qtype: str) -> np.ndarray:
    """The float weights a fixture of ``qtype`` stores for a projection, as float64."""
    w = t.codes.astype(np.float32) * np.float32(t.scale)
    if qtype == "BF16":
        return _bf16(w)
    return w.astype({"F16": np.float16, "F32": np.float32}[qtype]).astype(np.float64)


def _expected_scale(t: Ternary, qtype: str) -> float:
    if qtype in ("TQ1_0", "TQ2_0"):
        return float(np.float16(t.scale))         # the block d is an f16
    if qtype == "I2_S":
        return float(np.float32(t.scale))         # one f32 after the codes
    return float(np.abs(_stored(t, qtype)).mean())  # absmean of what the file holds


# --- decoders -------------------------------------------------------------------------------

@pytest.mark.parametrize("qtype", ["TQ1_0", "TQ2_0"])
def test_tq_decoder_matches_gguf_dequantize(qtype):
    """Random bytes (every code, canonical or not) with finite f16 scales: codes x d equal
    ``gguf.quants.dequantize`` element for element."""
    rng = np.random.default_rng(1)
    size = {"TQ1_0": 54, "TQ2_0": 66}[qtype]
    blocks = rng.integers(0, 256, (40, size), dtype=np.uint8)
    blocks[:, -2:] = rng.uniform(-2, 2, 40).astype(np.float16).view(np.uint8).reshape(40, 2)
    decoded = decode_tq1_0(blocks) if qtype == "TQ1_0" else decode_tq2_0(blocks)
    q, d = decoded[0], decoded[1]
    reference = gguf.quants.dequantize(blocks, Q[qtype]).reshape(40, 256)
    np.testing.assert_array_equal((q.astype(np.float32) - 1) * d.astype(np.float32)[:, None],
                                  reference)


def test_tq1_0_canonical_bytes():
    """Every byte gguf's TQ1_0 quantizer writes is accepted; of the 256 byte values at a
    5-digit position exactly 3**5 = 243 are encodings, at a 4-digit (qh) position too
    (the fifth digit of a qh byte is unused but still a base-3 digit)."""
    rng = np.random.default_rng(2)
    written = gguf.quants.quantize(rng.integers(-1, 2, (64, 256)).astype(np.float32), Q.TQ1_0)
    assert not decode_tq1_0(written.reshape(-1, 54))[2].any()
    every = np.zeros((256, 54), np.uint8)
    every[:, :52] = np.arange(256, dtype=np.uint8)[:, None]
    bad = decode_tq1_0(every)[2]
    assert (~bad).sum(axis=0).tolist() == [243] * 52
    assert bad[1, 0] and not bad[0, 0] and not bad[255, 0]   # 1 lies between enc(0)=0, enc(1)=2


def test_i2_s_decoder_layout():
    """By hand: element 37 of block 2 (flat 293) is byte 2*32 + 5 at shift 6 - 2*1 = 4;
    random codes round-trip through the fixture packer; the f32 scale follows the codes."""
    codes = np.zeros(512, np.int8)
    codes[293] = 1
    data = i2_s_bytes(codes, 0.75)
    assert data.size == 512 // 4 + 32
    assert data[69] == (2 << 4) | (1 << 6) | (1 << 2) | 1
    assert set(np.delete(data[:128], 69).tolist()) == {0b01010101}
    q, scale = decode_i2_s(data, 512)
    assert scale == 0.75 and np.flatnonzero(q != 1).tolist() == [293] and q[293] == 2
    codes = np.random.default_rng(3).integers(-1, 2, 128 * 7).astype(np.int8)
    q, _ = decode_i2_s(i2_s_bytes(codes, 1.0), codes.size)
    np.testing.assert_array_equal(q.astype(np.int8) - 1, codes)


# --- loading --------------------------------------------------------------------------------

def _write(tmp_path, qtype, cfg=None, seed=0, **kw):
    cfg = cfg or tiny_config(**GGUF_TINY)
    tensors = tiny_tensors(cfg, seed)
    path = tmp_path / f"model-{qtype}.gguf"
    write_gguf(path, cfg, tensors, qtype, **kw)
    return str(path), cfg, tensors


CASES = [("TQ1_0", "F32", {}), ("TQ2_0", "F32", {"tie_word_embeddings": False}),
         ("I2_S", "F16", {}), ("I2_S", "F32", {"hidden_size": 32, "intermediate_size": 44}),
         ("F16", "F16", {"tie_word_embeddings": False}), ("BF16", "BF16", {}),
         ("F32", "F32", {"hidden_size": 32, "intermediate_size": 44})]


@pytest.mark.parametrize("qtype, float_type, overrides", CASES,
                         ids=[f"{q}-{f}-{'-'.join(o) or 'gguf_tiny'}" for q, f, o in CASES])
def test_load_equals_fixture(tmp_path, qtype, float_type, overrides):
    """Codes exactly the fixture's, scales as the format stores them, floats as stored,
    the config field for field, every tensor name once."""
    cfg = tiny_config(**{**GGUF_TINY, **overrides})
    path, cfg, tensors = _write(tmp_path, qtype, cfg, float_type=float_type)
    ck = open_gguf(path)
    assert ck.config == cfg and ck.config.to_dict() == cfg.to_dict()
    assert (ck.format, ck.path, ck.tokenizer) == (f"gguf-{qtype}", path, None)
    seen = []
    for name, value in ck.tensors():
        seen.append(name)
        ref = tensors[name]
        if isinstance(ref, Ternary):
            assert value.codes.dtype == np.int8
            np.testing.assert_array_equal(value.codes, ref.codes, err_msg=name)
            assert value.scale == _expected_scale(ref, qtype), name
            assert value.scale_mode == "multiply"
        else:
            expected = {"F32": np.float32, "F16": np.float16}.get(float_type)
            expected = ref.astype(expected) if expected else _bf16(ref)
            assert value.dtype == np.float32 and value.shape == ref.shape
            np.testing.assert_array_equal(value, expected.astype(np.float32), err_msg=name)
    assert sorted(seen) == sorted(tensors) and len(seen) == len(tensors)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_architectures(tmp_path, arch):
    path, cfg, _ = _write(tmp_path, "TQ2_0", arch=arch)
    assert open_gguf(path).config == cfg


def test_weight_scale_direction(tmp_path):
    path, _, tensors = _write(tmp_path, "I2_S")
    t = dict(open_gguf(path, weight_scale="divide").tensors())
    assert t["model.layers.0.self_attn.q_proj"].scale_mode == "divide"
    assert t["model.layers.0.self_attn.q_proj"].scale == tensors[
        "model.layers.0.self_attn.q_proj"].scale
    with pytest.raises(ModelError) as err:
        open_gguf(path, weight_scale="inverse")
    assert str(err.value) == f"{path}: weight_scale 'inverse': allowed None, 'divide', 'multiply'"


def test_all_zero_block_scale_ignored(tmp_path):
    """A block whose codes are all 0 may carry any d (llama.cpp writes 0 there)."""
    def zero_row0(payload):
        payload[0, :64] = 0b01010101
        payload[0, 64:66] = np.array([7.0], np.float16).view(np.uint8)
        return payload

    path, _, tensors = _write(tmp_path, "TQ2_0", mutate={Q_PROJ: zero_row0})
    q = dict(open_gguf(path).tensors())["model.layers.0.self_attn.q_proj"]
    ref = tensors["model.layers.0.self_attn.q_proj"]
    assert not q.codes[0].any() and np.array_equal(q.codes[1:], ref.codes[1:])
    assert q.scale == float(np.float16(ref.scale))


@pytest.mark.parametrize("pre", [None, "llama-bpe"])
def test_tokenizer(tmp_path, pre):
    """A gpt2 vocabulary becomes a byte-level BPE: 'ab ab' -> ['ab', 'Ġab'] by the two
    merges; printable ASCII are their own tokens, 'Ġ' is the byte-level space. The vocabulary
    size comes from the token list."""
    vocab = [chr(c) for c in range(33, 127)] + ["Ġ", "ab", "Ġab"]
    assert len(vocab) == tiny_config().vocab_size
    path, _, _ = _write(tmp_path, "TQ2_0", vocab=vocab, merges=["a b", "Ġ ab"], pre=pre)
    ck = open_gguf(path)
    enc = ck.tokenizer.encode("ab ab!")
    assert enc.ids == [95, 96, 0]
    assert ck.tokenizer.decode(enc.ids) == "ab ab!"
    assert ck.config.vocab_size == len(vocab)


def test_projection_scale_tensor(tmp_path):
    """llama.cpp's optional ``<projection>.scale`` multiplies the stored scale."""
    scale = {"blk.1.ffn_down.scale": np.array([2.5], np.float32)}
    path, _, tensors = _write(tmp_path, "TQ2_0", extra=scale)
    down = dict(open_gguf(path).tensors())["model.layers.1.mlp.down_proj"]
    assert down.scale == float(np.float16(tensors["model.layers.1.mlp.down_proj"].scale)) * 2.5
    path, _, _ = _write(tmp_path, "TQ2_0", extra={"blk.1.ffn_down.scale": np.ones(2, np.float16)})
    assert _error(path) == (f"{path}: tensor blk.1.ffn_down.scale (F16, shape [2]): expected one"
                            f" F32 scale")


# --- bad input ------------------------------------------------------------------------------

def _error(path, **kw) -> str:
    with pytest.raises(ModelError) as err:
        ck = open_gguf(path, **kw)
        dict(ck.tensors())
    message = str(err.value)
    assert "\n" not in message
    return message


def test_missing_and_not_gguf(tmp_path):
    path = tmp_path / "none.gguf"
    assert _error(path) == f"{path}: no such file"
    path.write_bytes(b"PK\x03\x04 not a model")
    assert _error(path) == (f"{path}: not a GGUF file (starts with b'PK\\x03\\x04', "
                            f"expected b'GGUF')")


def test_truncated(tmp_path):
    """Cut in the tensor data: the last tensor's end (from gguf's own reader of the intact
    file) lies past the new end of file. Cut in the metadata: a corrupt header."""
    path, _, _ = _write(tmp_path, "TQ2_0")
    last = gguf.GGUFReader(path).tensors[-1]
    assert last.name == "blk.1.ffn_down.weight"
    end = last.data_offset + last.n_bytes
    os.truncate(path, end - 64)
    assert _error(path) == (f"{path}: tensor blk.1.ffn_down.weight data ends at byte {end} but "
                            f"the file has {end - 64} bytes (truncated)")
    os.truncate(path, 200)
    assert _error(path).startswith(f"{path}: corrupt or truncated GGUF header (")


def _flip_tq2_0(payload):      # row 2 = block 2; byte 5, bits 4..5 -> element 32*2 + 5
    payload[2, 5] |= 0x30
    return payload


def _flip_i2_s(payload):       # flat 256 + 37: block 2, byte 2*32 + 37 % 32 at shift 4
    payload[69] |= 0x30
    return payload


def _flip_tq1_0(payload):      # row 3 = block 3; byte value 1 encodes no base-3 value
    payload[3, 10] = 1
    return payload


def _two_scales(payload):      # block 1's d differs from the others'
    payload[1, 64:66] = np.array([0.25], np.float16).view(np.uint8)
    return payload


BAD = {
    "unknown arch": (dict(qtype="TQ2_0", arch="llama"),
                     "architecture 'llama' is not BitNet b1.58: supported bitnet, bitnet-25, "
                     "bitnet-b1.58"),
    "missing tensor": (dict(qtype="TQ2_0", drop=("blk.1.ffn_sub_norm.weight",)),
                       "missing tensor blk.1.ffn_sub_norm.weight"),
    "unsupported type": (dict(qtype="TQ2_0", types={Q_PROJ: "Q8_0"}),
                         f"tensor {Q_PROJ} has type Q8_0: {SUPPORTED}"),
    "unknown type id": (dict(qtype="I2_S", types={Q_PROJ: 99}),
                        f"tensor {Q_PROJ} has type 99 (unknown): {SUPPORTED}"),
    "quantized norm": (dict(qtype="TQ2_0", types={"output_norm.weight": "TQ2_0"}),
                       "tensor output_norm.weight has type TQ2_0: supported F32, F16, BF16"),
    "TQ2_0 code 3": (dict(qtype="TQ2_0", mutate={"blk.0.attn_v.weight": _flip_tq2_0}),
                     "tensor blk.0.attn_v.weight (TQ2_0) has code 3 at [2, 69]: not ternary "
                     "(allowed 0, 1, 2 for -1, 0, +1)"),
    "I2_S code 3": (dict(qtype="I2_S", mutate={"blk.1.ffn_up.weight": _flip_i2_s}),
                    "tensor blk.1.ffn_up.weight (I2_S) has code 3 at [1, 37]: not ternary "
                    "(allowed 0, 1, 2 for -1, 0, +1)"),
    "TQ1_0 bad byte": (dict(qtype="TQ1_0", mutate={Q_PROJ: _flip_tq1_0}),
                       f"tensor {Q_PROJ} (TQ1_0) block 3 byte 10 = 1: not a base-3 packing of "
                       f"ternary digits"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_file(tmp_path, case):
    kw, message = BAD[case]
    path, _, _ = _write(tmp_path, **kw)
    assert _error(path) == f"{path}: {message}"


def test_blocks_disagree_on_scale(tmp_path):
    path, _, tensors = _write(tmp_path, "TQ2_0", mutate={Q_PROJ: _two_scales})
    d = float(np.float16(tensors["model.layers.0.self_attn.q_proj"].scale))
    low, high = sorted([0.25, d])
    assert _error(path) == (f"{path}: tensor {Q_PROJ} (TQ2_0) has blocks with different scales "
                            f"d ({low!r}, {high!r}, ...): BitNet needs one scale per tensor")


def test_wrong_shapes(tmp_path):
    cfg = tiny_config(**GGUF_TINY)
    tensors = tiny_tensors(cfg)
    tensors["model.layers.0.input_layernorm.weight"] = np.ones(255, np.float32)
    path = tmp_path / "norm.gguf"
    write_gguf(path, cfg, tensors, "TQ2_0")
    assert _error(path) == (f"{path}: tensor blk.0.attn_norm.weight has shape [255]: expected "
                            f"[256] from the metadata")
    tensors = tiny_tensors(cfg)
    k = tensors["model.layers.1.self_attn.k_proj"]
    tensors["model.layers.1.self_attn.k_proj"] = Ternary(np.vstack([k.codes, k.codes]), k.scale)
    path = tmp_path / "k.gguf"
    write_gguf(path, cfg, tensors, "I2_S")
    assert _error(path) == (f"{path}: tensor blk.1.attn_k.weight has shape [256, 256]: expected "
                            f"[128, 256] from the metadata")


def test_block_size_mismatch(tmp_path):
    """TQ rows must hold whole 256-element blocks; an I2_S tensor whole 128-element blocks."""
    small = tiny_config(hidden_size=32, intermediate_size=45, num_key_value_heads=1)
    path, _, _ = _write(tmp_path, "I2_S", small, types={Q_PROJ: int(Q.TQ2_0)})
    assert _error(path) == (f"{path}: tensor {Q_PROJ} (TQ2_0) has rows of 32: TQ2_0 needs a "
                            f"multiple of 256")
    path, _, _ = _write(tmp_path, "I2_S", small)
    assert _error(path) == (f"{path}: tensor blk.0.ffn_gate.weight (I2_S) has 1440 elements: I2_S"
                            f" needs a multiple of 128")


def test_bad_tokenizer(tmp_path):
    vocab = [chr(c) for c in range(33, 127)] + ["Ġ", "ab", "Ġab"]
    path, _, _ = _write(tmp_path, "TQ2_0", vocab=vocab, merges=["a b", "x y"])
    assert _error(path) == (f"{path}: tokenizer.ggml.tokens/merges cannot make a BPE tokenizer "
                            f"(Error while initializing BPE: Token `xy` out of vocabulary)")
