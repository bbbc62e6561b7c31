"""Write tiny BitNet checkpoints as Hugging Face directories with the formats' own writers
(``safetensors`` for the weights, bf16 through ``ml_dtypes``; ``tokenizers`` for
``tokenizer.json``)."""

from __future__ import annotations

import json
from pathlib import Path

import ml_dtypes
import numpy as np
from safetensors.numpy import save_file
from tokenizers import Tokenizer, decoders, models

from lutcore.models.checkpoint import ModelConfig, Ternary
from lutcore.models.hf import pack_hf_ternary

BF16 = ml_dtypes.bfloat16
#: The characters of the fixture tokenizer, one token each after the three specials.
CHARS = " abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.,!?0123456789"


def write_tokenizer(path: Path) -> Tokenizer:
    """A character tokenizer (BPE without merges): ``<unk>`` 0, ``<s>`` 1, ``</s>`` 2, then
    :data:`CHARS`."""
    vocab = {tok: i for i, tok in enumerate(["<unk>", "<s>", "</s>"] + list(CHARS))}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    tok.decoder = decoders.Fuse()
    tok.save(str(path))
    return tok


def bf16_values(x: np.ndarray) -> np.ndarray:
    """``x`` rounded to bf16, as float64 (what a bf16 file holds)."""
    return np.asarray(x, np.float32).astype(BF16).astype(np.float64)


def write_hf(root, cfg: ModelConfig, tensors: dict, *, layout: str = "packed",
             shards: int = 1, tokenizer: bool = True, float_dtype=BF16,
             linear_class: str | None = None, edit=None) -> Path:
    """Write ``tensors`` (``tiny_tensors``) as a Hugging Face BitNet directory.

    ``layout`` ``packed``: uint8 projections in the 4-rows-per-byte layout with
    ``weight_scale`` beside; ``bf16``: projections as ``codes * scale`` in ``float_dtype``.
    ``shards`` > 1 splits the tensors over files named by an index. ``edit(name, array) ->
    array`` may alter a tensor as written (bad-input tests).
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    out: dict[str, np.ndarray] = {}
    for name, value in tensors.items():
        if isinstance(value, Ternary):
            if layout == "packed":
                out[name + ".weight"] = pack_hf_ternary(value.codes)
                out[name + ".weight_scale"] = np.array([value.scale], np.float32).astype(BF16)
            else:
                assert value.scale_mode == "multiply"
                out[name + ".weight"] = (value.codes * np.float32(value.scale)).astype(
                    float_dtype)
        else:
            out[name] = np.asarray(value, np.float32).astype(float_dtype)
    if edit is not None:
        out = {k: edit(k, v) for k, v in out.items()}
        out = {k: v for k, v in out.items() if v is not None}
    config = {"model_type": "bitnet", "architectures": ["BitNetForCausalLM"],
              "hidden_act": "relu2", **cfg.to_dict()}
    if linear_class:
        config["quantization_config"] = {"quant_method": "bitnet", "linear_class": linear_class}
    (root / "config.json").write_text(json.dumps(config, indent=1))
    names = sorted(out)
    if shards == 1:
        save_file(out, str(root / "model.safetensors"), metadata={"format": "pt"})
    else:
        weight_map = {}
        for s in range(shards):
            file = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
            part = {n: out[n] for n in names[s::shards]}
            save_file(part, str(root / file), metadata={"format": "pt"})
            weight_map.update({n: file for n in part})
        (root / "model.safetensors.index.json").write_text(
            json.dumps({"metadata": {}, "weight_map": weight_map}))
    if tokenizer:
        write_tokenizer(root / "tokenizer.json")
    return root
