"""Random BitNet b1.58 checkpoints in the Hugging Face packed format, for benchmarks at real
model shapes: :data:`BITNET_2B` has the shapes of BitNet-b1.58-2B-4T. Written with the
``safetensors`` library, a few layers per shard, so that memory stays near one shard."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import ModelError
from .checkpoint import NORMS, PROJECTIONS, ModelConfig, expected_shapes, layer_name
from .hf import CONFIG_FILE, INDEX_FILE, pack_hf_ternary

__all__ = ["BITNET_2B", "write_random_hf"]

#: The architecture of BitNet-b1.58-2B-4T (its published config.json).
BITNET_2B = ModelConfig(vocab_size=128256, hidden_size=2560, intermediate_size=6912,
                        num_hidden_layers=30, num_attention_heads=20, num_key_value_heads=5,
                        max_position_embeddings=4096, rms_norm_eps=1e-5, rope_theta=500000.0,
                        tie_word_embeddings=True, bos_token_id=128000, eos_token_id=128001)
LAYERS_PER_SHARD = 6
ROWS_PER_CHUNK = 8192


def _bf16(x: np.ndarray) -> np.ndarray:
    import ml_dtypes
    return x.astype(ml_dtypes.bfloat16)


def write_random_hf(path, cfg: ModelConfig = BITNET_2B, *, seed: int = 0,
                    progress: Callable[[str], None] | None = None) -> Path:
    """Write a random model of ``cfg`` to the directory ``path`` (packed uint8 ternary
    projections with a bf16 ``weight_scale`` to divide by, bf16 embedding and norms)."""
    from safetensors.numpy import save_file
    root = Path(path)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ModelError(f"{root}: cannot create the directory ({e.strerror})") from None
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    shards: list[dict[str, np.ndarray]] = [{}]
    emb = np.empty((cfg.vocab_size, cfg.hidden_size), _bf16(np.zeros(1, np.float32)).dtype)
    for r0 in range(0, cfg.vocab_size, ROWS_PER_CHUNK):
        r1 = min(cfg.vocab_size, r0 + ROWS_PER_CHUNK)
        emb[r0:r1] = _bf16(rng.standard_normal((r1 - r0, cfg.hidden_size), np.float32))
    shards[0]["model.embed_tokens.weight"] = emb
    shards[0]["model.norm.weight"] = _bf16(np.ones(cfg.hidden_size, np.float32))
    if not cfg.tie_word_embeddings:
        shards[0]["lm_head.weight"] = _bf16(
            0.02 * rng.standard_normal((cfg.vocab_size, cfg.hidden_size), np.float32))
    shapes = expected_shapes(cfg)
    files, weight_map = [], {}

    def flush() -> None:
        name = f"model-{len(files) + 1:05d}.safetensors"
        save_file(shards[-1], str(root / name), metadata={"format": "pt"})
        files.append(name)
        weight_map.update({k: name for k in shards[-1]})
        shards[-1] = {}

    for layer in range(cfg.num_hidden_layers):
        out = shards[-1]
        for norm in NORMS:
            size = cfg.intermediate_size if norm == "mlp.ffn_sub_norm" else cfg.hidden_size
            out[layer_name(layer, norm) + ".weight"] = _bf16(np.ones(size, np.float32))
        for proj in PROJECTIONS:
            codes = rng.integers(-1, 2, shapes[proj], dtype=np.int8)
            out[layer_name(layer, proj) + ".weight"] = pack_hf_ternary(codes)
            # BitLinear divides by weight_scale: 1 / absmean of a small-variance weight
            out[layer_name(layer, proj) + ".weight_scale"] = _bf16(
                np.array([rng.uniform(20, 60)], np.float32))
        if (layer + 1) % LAYERS_PER_SHARD == 0 or layer == 0:
            flush()
            if progress:
                progress(f"wrote layers 0..{layer} ({time.perf_counter() - started:.0f} s)")
    if shards[-1]:
        flush()
    config = {"model_type": "bitnet", "architectures": ["BitNetForCausalLM"],
              **cfg.to_dict(), "quantization_config": {"quant_method": "bitnet",
                                                       "linear_class": "bitlinear"}}
    (root / CONFIG_FILE).write_text(json.dumps(config, indent=2))
    (root / INDEX_FILE).write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return root
