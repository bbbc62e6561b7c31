"""Tiny random BitNet b1.58 models for the model tests: a :class:`ModelConfig` and its
tensors under Hugging Face names (ternary projections as :class:`Ternary`), from a seed.

The shapes are chosen to exercise what real checkpoints have: GQA (more query heads than KV
heads), an odd intermediate size (not a multiple of 4, the HF packing), tied or untied
embeddings.
"""

from __future__ import annotations

import numpy as np

from lutcore.models.checkpoint import (NORMS, PROJECTIONS, Checkpoint, ModelConfig, Ternary,
                                       expected_shapes, layer_name)

TINY = dict(vocab_size=97, hidden_size=32, intermediate_size=45, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
            rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=True,
            bos_token_id=1, eos_token_id=2)


def tiny_config(**overrides) -> ModelConfig:
    return ModelConfig(**{**TINY, **overrides})


def tiny_tensors(cfg: ModelConfig, seed: int = 0,
                 scale_mode: str = "multiply") -> dict[str, np.ndarray | Ternary]:
    """Random tensors of ``cfg``: ternary codes with about 1/3 zeros, positive scales near
    the absmean of a unit-variance weight, norms near 1, an embedding of unit rows."""
    rng = np.random.default_rng(seed)
    t: dict[str, np.ndarray | Ternary] = {}
    t["model.embed_tokens.weight"] = rng.standard_normal(
        (cfg.vocab_size, cfg.hidden_size)).astype(np.float32)
    if not cfg.tie_word_embeddings:
        t["lm_head.weight"] = (0.2 * rng.standard_normal(
            (cfg.vocab_size, cfg.hidden_size))).astype(np.float32)
    t["model.norm.weight"] = (1 + 0.1 * rng.standard_normal(cfg.hidden_size)).astype(np.float32)
    shapes = expected_shapes(cfg)
    for layer in range(cfg.num_hidden_layers):
        for norm in NORMS:
            size = cfg.intermediate_size if norm == "mlp.ffn_sub_norm" else cfg.hidden_size
            t[layer_name(layer, norm) + ".weight"] = (
                1 + 0.1 * rng.standard_normal(size)).astype(np.float32)
        for proj in PROJECTIONS:
            codes = rng.integers(-1, 2, shapes[proj]).astype(np.int8)
            scale = float(np.float32(rng.uniform(0.5, 1.5)))
            if scale_mode == "divide":
                scale = float(np.float32(1 / scale))
            t[layer_name(layer, proj)] = Ternary(codes, scale, scale_mode)
    return t


class MemoryCheckpoint(Checkpoint):
    """A checkpoint held in memory (the tensors of :func:`tiny_tensors`)."""

    format, path, tokenizer = "memory", "", None

    def __init__(self, cfg: ModelConfig, tensors: dict):
        self.config, self._tensors = cfg, tensors

    def tensors(self):
        return iter(self._tensors.items())


def reference_logits(cfg: ModelConfig, t: dict, ids) -> np.ndarray:
    """The BitNet b1.58 forward pass in float64 written from the architecture (no kernels,
    no packing): logits [T, vocab]."""
    ids = np.asarray(ids)
    T, d = ids.size, cfg.head_dim
    h, kvh = cfg.num_attention_heads, cfg.num_key_value_heads

    def norm(x, w):
        return w * x / np.sqrt((x * x).mean(-1, keepdims=True) + cfg.rms_norm_eps)

    def linear(x, proj):
        s = 127.0 / np.maximum(np.abs(x).max(-1, keepdims=True), 1e-5)
        xq = np.clip(np.round(x * s), -128, 127)
        y = xq @ proj.codes.astype(np.float64).T
        return y / (s * proj.scale) if proj.scale_mode == "divide" else y / s * proj.scale

    def rope(x):                                    # x [T, heads, d]
        inv = 1.0 / cfg.rope_theta ** (np.arange(0, d, 2) / d)
        ang = np.arange(T)[:, None] * inv[None, :]
        ang = np.concatenate([ang, ang], -1)[:, None, :]
        rot = np.concatenate([-x[..., d // 2:], x[..., :d // 2]], -1)
        return x * np.cos(ang) + rot * np.sin(ang)

    f = {k: (v if isinstance(v, Ternary) else np.asarray(v, np.float64)) for k, v in t.items()}
    x = f["model.embed_tokens.weight"][ids]
    for i in range(cfg.num_hidden_layers):
        L = lambda n: f[layer_name(i, n)]           # noqa: E731
        W = lambda n: f[layer_name(i, n) + ".weight"]  # noqa: E731
        a = norm(x, W("input_layernorm"))
        q = rope(linear(a, L("self_attn.q_proj")).reshape(T, h, d))
        k = rope(linear(a, L("self_attn.k_proj")).reshape(T, kvh, d))
        v = linear(a, L("self_attn.v_proj")).reshape(T, kvh, d)
        out = np.empty((T, h, d))
        for head in range(h):                       # head -> its KV head (repeat_kv)
            g = head // (h // kvh)
            sc = q[:, head] @ k[:, g].T / np.sqrt(d)
            sc[np.triu_indices(T, 1)] = -np.inf
            p = np.exp(sc - sc.max(-1, keepdims=True))
            out[:, head] = (p / p.sum(-1, keepdims=True)) @ v[:, g]
        o = norm(out.reshape(T, h * d), W("self_attn.attn_sub_norm"))
        x = x + linear(o, L("self_attn.o_proj"))
        a = norm(x, W("post_attention_layernorm"))
        m = np.maximum(linear(a, L("mlp.gate_proj")), 0) ** 2 * linear(a, L("mlp.up_proj"))
        x = x + linear(norm(m, W("mlp.ffn_sub_norm")), L("mlp.down_proj"))
    head_w = f.get("lm_head.weight", f["model.embed_tokens.weight"])
    return norm(x, f["model.norm.weight"]) @ head_w.T
