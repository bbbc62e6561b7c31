"""Tiny BitNet b1.58 GGUF files for the loader tests, written with ``gguf.GGUFWriter``.

Ternary projections in ``TQ1_0`` / ``TQ2_0`` (quantized by ``gguf.quants``), ``I2_S`` (packed
here from bitnet.cpp's ``quantize_i2_s`` layout; the writer takes the bytes as an int8 array
with the raw type id 36, which it does not need to know) or as floats ``codes * scale`` in
``F16`` / ``BF16`` / ``F32``.
"""

from __future__ import annotations

from typing import Callable

import gguf
import numpy as np

from lutcore.models.checkpoint import NORMS, PROJECTIONS, ModelConfig, Ternary, layer_name

Q = gguf.GGMLQuantizationType
I2_S = 36

#: Hugging Face module under ``model.layers.L`` -> GGUF tensor name (without ``blk.L.``).
GGUF_MODULES = {"input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
                "self_attn.attn_sub_norm": "attn_sub_norm", "mlp.ffn_sub_norm": "ffn_sub_norm",
                "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
                "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
                "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
                "mlp.down_proj": "ffn_down"}

#: A config whose every row length is a multiple of 256 (TQ1_0 / TQ2_0 blocks), with GQA.
GGUF_TINY = dict(hidden_size=256, intermediate_size=512, num_attention_heads=4,
                 num_key_value_heads=2)


def gguf_name(layer: int, module: str) -> str:
    return f"blk.{layer}.{GGUF_MODULES[module]}.weight"


def i2_s_bytes(codes: np.ndarray, scale: float) -> np.ndarray:
    """bitnet.cpp ``quantize_i2_s``: element ``i`` (flat) is in block ``i // 128``; within the
    block, element ``j`` goes to byte ``j % 32`` at shift ``6 - 2 * (j // 32)`` as ``w + 1``;
    the f32 scale follows the ``n / 4`` code bytes, padded to 32 bytes."""
    flat = codes.reshape(-1).astype(np.int64) + 1
    i = np.arange(flat.size)
    byte = (i // 128) * 32 + (i % 128) % 32
    shift = 6 - 2 * ((i % 128) // 32)
    out = np.zeros(flat.size // 4 + 32, np.uint8)
    np.add.at(out, byte, (flat << shift).astype(np.uint8))   # disjoint bit fields: add = or
    out[flat.size // 4:flat.size // 4 + 4] = np.array([scale], np.float32).view(np.uint8)
    return out


def ternary_payload(t: Ternary, qtype: str) -> tuple[np.ndarray, int]:
    """(array for ``GGUFWriter.add_tensor``, raw type id) of a ternary projection."""
    w = t.codes.astype(np.float32) * np.float32(t.scale)
    if qtype == "I2_S":
        return i2_s_bytes(t.codes, t.scale), I2_S
    return gguf.quants.quantize(w, Q[qtype]), Q[qtype]


def float_payload(x: np.ndarray, qtype: str) -> tuple[np.ndarray, int]:
    x = np.asarray(x, np.float32)
    if qtype == "F32":
        return x, Q.F32
    if qtype == "F16":
        return x.astype(np.float16), Q.F16
    return gguf.quants.quantize(x, Q[qtype]), Q[qtype]


def write_gguf(path, cfg: ModelConfig, tensors: dict, qtype: str, *, arch: str = "bitnet-b1.58",
               float_type: str = "F32", types: dict[str, str] | None = None,
               mutate: dict[str, Callable[[np.ndarray], np.ndarray]] | None = None,
               vocab: list[str] | None = None, merges: list[str] | None = None,
               pre: str | None = None, drop: tuple[str, ...] = (),
               extra: dict[str, np.ndarray] | None = None) -> None:
    """Write ``tensors`` (from ``tinymodels.tiny_tensors``, scale_mode multiply) of ``cfg`` to
    ``path``.

    Args:
        qtype: the projections' type: ``TQ1_0``, ``TQ2_0``, ``I2_S``, ``F16``, ``BF16``, ``F32``
            (float types store ``codes * scale``).
        arch: ``general.architecture``; float_type: type of the embedding, output and norms.
        types: per GGUF tensor name, a type overriding ``qtype`` / ``float_type`` (any type
            ``gguf.quants`` writes, e.g. ``Q8_0``, or an int type id written as raw bytes).
        mutate: per GGUF tensor name, a function applied to its payload before it is written.
        vocab, merges, pre: a ``gpt2`` tokenizer to store (``pre``: its pre-tokenizer).
        drop: GGUF tensor names not to write; extra: more tensors to write as they are.
    """
    types, mutate = types or {}, mutate or {}
    w = gguf.GGUFWriter(str(path), arch)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    w.add_rope_freq_base(cfg.rope_theta)
    w.add_bos_token_id(cfg.bos_token_id)
    w.add_eos_token_id(cfg.eos_token_id)
    if vocab is None:
        w.add_vocab_size(cfg.vocab_size)
    else:
        w.add_tokenizer_model("gpt2")
        w.add_token_list(vocab)
        w.add_token_merges(merges or [])
        if pre is not None:
            w.add_tokenizer_pre(pre)

    entries = [("token_embd.weight", tensors["model.embed_tokens.weight"]),
               ("output_norm.weight", tensors["model.norm.weight"])]
    if "lm_head.weight" in tensors:
        entries.append(("output.weight", tensors["lm_head.weight"]))
    for layer in range(cfg.num_hidden_layers):
        for module in NORMS:
            entries.append((gguf_name(layer, module),
                            tensors[layer_name(layer, module) + ".weight"]))
        for module in PROJECTIONS:
            entries.append((gguf_name(layer, module), tensors[layer_name(layer, module)]))

    for name, value in entries:
        if name in drop:
            continue
        kind = types.get(name, qtype if isinstance(value, Ternary) else float_type)
        if isinstance(kind, int):                       # raw bytes under an arbitrary type id
            payload, raw = np.zeros(value.codes.size // 4, np.uint8), kind
        elif isinstance(value, Ternary) and kind in ("TQ1_0", "TQ2_0", "I2_S"):
            payload, raw = ternary_payload(value, kind)
        else:
            x = value.codes * np.float32(value.scale) if isinstance(value, Ternary) else value
            payload, raw = float_payload(x, kind)
        if name in mutate:
            payload = mutate[name](payload.copy())
        shape = value.codes.shape if isinstance(value, Ternary) else np.shape(value)
        if raw == I2_S or isinstance(kind, int):
            # The writer would look up an unknown type's block size for a uint8 array; as
            # int8 with an explicit shape it writes the bytes and the type id unchanged.
            w.add_tensor(name, payload.view(np.int8), raw_shape=shape, raw_dtype=raw)
        elif payload.dtype == np.uint8:
            w.add_tensor(name, payload, raw_dtype=raw)
        else:
            w.add_tensor(name, payload)
    for name, value in (extra or {}).items():
        w.add_tensor(name, value)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
