"""The Hugging Face loader on directories written by ``safetensors`` and ``tokenizers``:
the unpacked weights equal the ones the fixture packed, in both layouts, sharded or not;
the packing against the published layout written out by hand; every bad input is one line
naming the file and tensor."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hfmodels import BF16, bf16_values, write_hf
from tinymodels import tiny_config, tiny_tensors

from lutcore.errors import ModelError
from lutcore.models import load_model
from lutcore.models.checkpoint import Ternary
from lutcore.models.hf import open_hf, pack_hf_ternary, unpack_hf_ternary


def test_packed_layout_matches_the_published_description():
    # Packed row r, bits 2i..2i+1 hold original row i * rows + r as code w + 1.
    codes = np.array([[0, -1], [1, 1], [-1, 0], [1, -1], [0, 0], [-1, 1], [1, 0], [-1, -1]],
                     np.int8)
    packed = pack_hf_ternary(codes)
    rows = 2
    for r in range(rows):
        for c in range(2):
            want = sum(int(codes[i * rows + r, c] + 1) << (2 * i) for i in range(4))
            assert packed[r, c] == want
    np.testing.assert_array_equal(unpack_hf_ternary(packed, 8, "x"), codes)


@pytest.mark.parametrize("shards", [1, 3])
@pytest.mark.parametrize("tied", [True, False])
def test_packed_checkpoint_loads_the_codes_and_scales_it_was_written_with(tmp_path, shards,
                                                                         tied):
    cfg = tiny_config(tie_word_embeddings=tied)
    t = tiny_tensors(cfg, 1, "divide")
    ck = open_hf(write_hf(tmp_path / "m", cfg, t, shards=shards))
    assert ck.format == "hf-packed" and ck.weight_scale == "divide" and ck.config == cfg
    got = dict(ck.tensors())
    assert set(got) == set(t)
    for name, value in t.items():
        if isinstance(value, Ternary):
            np.testing.assert_array_equal(got[name].codes, value.codes)
            assert got[name].scale == float(bf16_values(value.scale))
            assert got[name].scale_mode == "divide"
        else:
            np.testing.assert_array_equal(got[name], bf16_values(value).astype(np.float32))
    assert ck.tokenizer.decode(ck.tokenizer.encode("hi there.").ids) == "hi there."


def test_bf16_checkpoint_is_quantized_by_absmean_on_load(tmp_path):
    cfg = tiny_config()
    t = tiny_tensors(cfg, 2, "multiply")
    ck = open_hf(write_hf(tmp_path / "m", cfg, t, layout="bf16"))
    assert ck.format == "hf-bf16"
    for name, value in ck.tensors():
        if isinstance(value, Ternary):
            w = bf16_values(t[name].codes * np.float32(t[name].scale))
            # absmean from the bf16 values, by hand
            assert value.scale == pytest.approx(np.abs(w).mean(), rel=1e-12)
            np.testing.assert_array_equal(value.codes, t[name].codes)
            assert value.scale_mode == "multiply"


def test_scale_direction_follows_the_linear_class_or_the_argument(tmp_path):
    cfg = tiny_config()
    t = tiny_tensors(cfg, 1, "multiply")
    root = write_hf(tmp_path / "m", cfg, t, linear_class="autobitlinear")
    assert open_hf(root).weight_scale == "multiply"
    assert open_hf(root, weight_scale="divide").weight_scale == "divide"
    with pytest.raises(ModelError, match="weight_scale 'up': allowed divide, multiply"):
        open_hf(root, weight_scale="up")


def test_loaded_model_runs_the_same_as_the_tensors_it_was_written_from(tmp_path):
    from tinymodels import MemoryCheckpoint
    cfg = tiny_config()
    t = tiny_tensors(cfg, 1, "divide")
    root = write_hf(tmp_path / "m", cfg, t)
    # the fixture's tensors as the file holds them (bf16 floats and scales)
    held = {k: (Ternary(v.codes, float(bf16_values(v.scale)), v.scale_mode)
                if isinstance(v, Ternary) else bf16_values(v).astype(np.float32))
            for k, v in t.items()}
    with load_model(root) as a, load_model(MemoryCheckpoint(cfg, held)) as b:
        np.testing.assert_array_equal(a.forward([1, 2, 3]), b.forward([1, 2, 3]))


def test_load_cache_is_used_when_it_matches_and_rebuilt_when_not(tmp_path):
    cfg = tiny_config()
    root = write_hf(tmp_path / "m", cfg, tiny_tensors(cfg, 1, "divide"))
    cache = tmp_path / "m.npz"
    with load_model(root, cache=cache) as a:
        first = a.forward([3, 4, 5])
    assert cache.exists()
    with load_model(root, cache=cache) as b:
        assert b.format == "hf-packed"
        np.testing.assert_array_equal(b.forward([3, 4, 5]), first)
    stamp = cache.stat().st_mtime_ns
    with load_model(root, cache=cache, mode="bitserial") as c:    # other mode: rebuilt
        np.testing.assert_array_equal(c.forward([3, 4, 5]), first)
    assert cache.stat().st_mtime_ns != stamp
    cache.write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(ModelError, match="not a readable lutcore model cache"):
        load_model(root, cache=cache)


def _edit(name, fn):
    return lambda k, v: fn(v) if k == name else v


Q = "model.layers.0.self_attn.q_proj"


def _code3(v):
    v = v.copy()
    v[1, 2] |= 0b11 << 4
    return v


@pytest.mark.parametrize("edit, message", [
    (_edit(Q + ".weight", _code3), f"tensor {Q}.weight: packed byte [1, 2] holds code 3 in "
                                   f"bits 4..5: allowed codes 0, 1, 2 (w + 1)"),
    (_edit(Q + ".weight", lambda v: v[:-1]), f"tensor {Q}.weight has shape (7, 32): expected "
                                             f"(8, 32) (ternary [32, 32] packed 4 rows per "
                                             f"byte)"),
    (_edit(Q + ".weight", lambda v: v.astype(np.int32)), f"tensor {Q}.weight has dtype I32: "
                                                         f"supported U8"),
    (_edit(Q + ".weight_scale", lambda v: None), f"tensor {Q}.weight_scale is missing "
                                                 f"(packed projections need one)"),
    (_edit(Q + ".weight_scale", lambda v: -v), f"tensor {Q}.weight_scale = -"),
    (_edit("model.norm.weight", lambda v: None), "tensor model.norm.weight is missing"),
    (_edit("model.norm.weight", lambda v: v[:5]), "tensor model.norm.weight has shape (5,): "
                                                  "expected (32,)"),
    (_edit("model.embed_tokens.weight", lambda v: v.astype(np.int8)),
     "tensor model.embed_tokens.weight has dtype I8: allowed BF16, F16, F32"),
])
def test_bad_tensors_are_one_line_naming_file_and_tensor(tmp_path, edit, message):
    cfg = tiny_config()
    root = write_hf(tmp_path / "m", cfg, tiny_tensors(cfg, 1, "divide"), edit=edit)
    with pytest.raises(ModelError) as e:
        load_model(root)
    text = str(e.value)
    assert message in text and "\n" not in text and str(root) in text


def test_bad_files_are_one_line(tmp_path):
    cfg = tiny_config()
    root = write_hf(tmp_path / "m", cfg, tiny_tensors(cfg, 1, "divide"))
    st = root / "model.safetensors"
    data = st.read_bytes()

    def fails(message, path=root):
        with pytest.raises(ModelError) as e:
            load_model(path)
        assert message in str(e.value) and "\n" not in str(e.value), str(e.value)

    fails("no such file or directory", tmp_path / "nothing")
    fails("not a model: expected a Hugging Face directory", st)
    st.write_bytes(data[:len(data) // 2])
    fails(f"{st}: not a readable safetensors file")
    st.write_bytes(b"\xff" * 16)
    fails(f"{st}: not a readable safetensors file")
    st.unlink()
    fails(f"{root}: no model.safetensors or model.safetensors.index.json")
    config = json.loads((root / "config.json").read_text())
    (root / "config.json").write_text(json.dumps({**config, "model_type": "llama"}))
    fails("model_type 'llama': supported 'bitnet'")
    (root / "config.json").write_text(json.dumps({**config, "num_key_value_heads": 3}))
    fails("num_attention_heads 4 is not a multiple of num_key_value_heads 3")
    (root / "config.json").write_text("{")
    fails("config.json: not readable JSON")
    (root / "config.json").unlink()
    fails("config.json: file not found")


def test_bf16_fixture_really_holds_bf16(tmp_path):
    # the bf16 path is exercised: the file's dtype as the safetensors library reports it
    from safetensors import safe_open
    cfg = tiny_config()
    root = write_hf(tmp_path / "m", cfg, tiny_tensors(cfg, 2), layout="bf16")
    with safe_open(str(root / "model.safetensors"), framework="numpy") as f:
        assert f.get_slice(Q + ".weight").get_dtype() == "BF16"
    assert BF16 is not None
