"""Tiny random BitNet b1.58 models for the model tests: a :class:`ModelConfig` and its
tensors under Hugging Face names (ternary projections as :class:`Ternary`), from a seed.

The shapes are chosen to exercise what real checkpoints have: GQA (more query heads than KV
heads), an intermediate size that is not a multiple of 4 or 5, tied or untied embeddings.
"""

from __future__ import annotations

import numpy as np

from lutcore.models.checkpoint import (NORMS, PROJECTIONS, ModelConfig, Ternary,
                                       expected_shapes, layer_name)

TINY = dict(vocab_size=97, hidden_size=32, intermediate_size=44, num_hidden_layers=2,
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
