"""What every loader hands the model: the architecture (:class:`ModelConfig`) and the
tensors under their Hugging Face names, ternary projections as :class:`Ternary` (int8 codes
and a scale), everything else as float32 arrays.

Tensor names (``L`` is the layer index)::

    model.embed_tokens.weight                       float32 [vocab, hidden]
    model.norm.weight                               float32 [hidden]
    lm_head.weight                                  float32 [vocab, hidden] (absent if tied)
    model.layers.L.input_layernorm.weight           float32 [hidden]
    model.layers.L.post_attention_layernorm.weight  float32 [hidden]
    model.layers.L.self_attn.attn_sub_norm.weight   float32 [hidden]
    model.layers.L.mlp.ffn_sub_norm.weight          float32 [intermediate]
    model.layers.L.self_attn.{q,k,v,o}_proj         Ternary
    model.layers.L.mlp.{gate,up,down}_proj          Ternary

A loader yields the ternary projections one at a time (:meth:`Checkpoint.tensors`) so that a
model packs each before the next is unpacked: at most one int8 matrix is ever resident.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Iterator

import numpy as np

from ..errors import ModelError

__all__ = ["ModelConfig", "Ternary", "Checkpoint", "PROJECTIONS", "NORMS", "SCALE_MODES",
           "layer_name", "expected_shapes"]

#: How a stored ternary scale applies: ``divide`` ``y = y_int / (s_act * scale)`` (the
#: Hugging Face ``BitLinear`` of packed checkpoints), ``multiply`` ``y = y_int / s_act *
#: scale`` (``AutoBitLinear`` offline, GGUF block scales, absmean of a float checkpoint).
SCALE_MODES = ("divide", "multiply")

#: The ternary projections of a layer, by their module path under ``model.layers.L``.
PROJECTIONS = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
               "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")
#: The RMSNorm weights of a layer.
NORMS = ("input_layernorm", "post_attention_layernorm", "self_attn.attn_sub_norm",
         "mlp.ffn_sub_norm")


def layer_name(layer: int, module: str) -> str:
    """The Hugging Face name of a module of layer ``layer``."""
    return f"model.layers.{layer}.{module}"


@dataclass(frozen=True)
class ModelConfig:
    """The BitNet b1.58 decoder architecture (the fields of a Hugging Face ``config.json``
    that the forward pass uses)."""

    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    max_position_embeddings: int = 2048
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    tie_word_embeddings: bool = True
    head_dim: int | None = None
    bos_token_id: int | None = None
    eos_token_id: int | None = None
    hidden_act: str = "relu2"
    source: str = field(default="", compare=False)

    def __post_init__(self):
        where = f"{self.source}: " if self.source else ""
        for name in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                     "num_attention_heads", "num_key_value_heads", "max_position_embeddings"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ModelError(f"{where}config {name} = {value!r}: must be a positive integer")
        if self.head_dim is None:
            if self.hidden_size % self.num_attention_heads:
                raise ModelError(f"{where}config hidden_size {self.hidden_size} is not a "
                                 f"multiple of num_attention_heads {self.num_attention_heads}")
            object.__setattr__(self, "head_dim", self.hidden_size // self.num_attention_heads)
        if self.head_dim < 2 or self.head_dim % 2:
            raise ModelError(f"{where}config head_dim = {self.head_dim}: RoPE needs an even "
                             f"head_dim >= 2")
        if self.num_attention_heads % self.num_key_value_heads:
            raise ModelError(f"{where}config num_attention_heads {self.num_attention_heads} is"
                             f" not a multiple of num_key_value_heads "
                             f"{self.num_key_value_heads}")
        if self.num_attention_heads * self.head_dim != self.hidden_size:
            raise ModelError(f"{where}config num_attention_heads x head_dim = "
                             f"{self.num_attention_heads * self.head_dim} must equal "
                             f"hidden_size {self.hidden_size} (attn_sub_norm is over hidden)")
        if self.hidden_act not in ("relu2",):
            raise ModelError(f"{where}config hidden_act {self.hidden_act!r}: only 'relu2' "
                             f"(BitNet b1.58) is supported")
        if not (self.rms_norm_eps > 0 and self.rope_theta > 0):
            raise ModelError(f"{where}config rms_norm_eps and rope_theta must be positive, got "
                             f"{self.rms_norm_eps}, {self.rope_theta}")

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "") -> "ModelConfig":
        """From a Hugging Face ``config.json`` dictionary (unknown keys ignored)."""
        names = {f.name for f in fields(cls)} - {"source"}
        kw = {k: d[k] for k in names if k in d and d[k] is not None}
        if isinstance(kw.get("eos_token_id"), list):
            kw["eos_token_id"] = kw["eos_token_id"][0]
        missing = [n for n in ("vocab_size", "hidden_size", "intermediate_size",
                               "num_hidden_layers", "num_attention_heads") if n not in kw]
        if missing:
            raise ModelError(f"{source or 'config'}: missing {', '.join(missing)}")
        kw.setdefault("num_key_value_heads", kw["num_attention_heads"])
        return cls(**kw, source=source)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "source"}

    @property
    def kv_dim(self) -> int:
        return self.num_key_value_heads * self.head_dim


def expected_shapes(cfg: ModelConfig) -> dict[str, tuple[int, int]]:
    """[N, K] of each projection of a layer."""
    h, i, kv = cfg.hidden_size, cfg.intermediate_size, cfg.kv_dim
    return {"self_attn.q_proj": (h, h), "self_attn.k_proj": (kv, h),
            "self_attn.v_proj": (kv, h), "self_attn.o_proj": (h, h),
            "mlp.gate_proj": (i, h), "mlp.up_proj": (i, h), "mlp.down_proj": (h, i)}


@dataclass(frozen=True)
class Ternary:
    """A ternary projection as loaded: ``codes`` int8 [N, K] in {-1, 0, 1}, its float
    ``scale`` and how the scale applies (:data:`SCALE_MODES`)."""

    codes: np.ndarray
    scale: float
    scale_mode: str = "multiply"


class Checkpoint:
    """A model file opened by a loader: :attr:`config`, :attr:`format` (e.g. ``hf-packed``,
    ``hf-bf16``, ``gguf-TQ2_0``), :attr:`path`, :attr:`tokenizer` (a ``tokenizers.Tokenizer``
    or None) and :meth:`tensors`, which yields ``(name, value)`` for every tensor the model
    needs (names above) with shapes checked against the config."""

    config: ModelConfig
    format: str = ""
    path: str = ""
    tokenizer: Any = None

    def tensors(self) -> Iterator[tuple[str, "np.ndarray | Ternary"]]:
        raise NotImplementedError


def ternary_from_float(read_rows, shape: tuple[int, int], chunk_rows: int = 1024) -> Ternary:
    """Absmean ternary quantization (BitNet b1.58) of a float projection read in row chunks,
    so a bf16 matrix is never converted whole: ``scale = max(mean|W|, 1e-5)``, ``codes =
    clip(round_half_even(W / scale), -1, 1)``. ``read_rows(r0, r1)`` returns rows r0..r1 as
    a float array."""
    from ..errors import LutcoreError
    from ..sw.kernels.bitnet import EPS
    n, k = shape
    total = 0.0
    for r0 in range(0, n, chunk_rows):
        part = float(np.abs(np.asarray(read_rows(r0, min(n, r0 + chunk_rows)),
                                       np.float64)).sum())
        if not np.isfinite(part):
            raise LutcoreError(f"rows {r0}..{min(n, r0 + chunk_rows) - 1} contain NaN or "
                               f"infinity: allowed finite values")
        total += part
    scale = max(total / (n * k), EPS)
    codes = np.empty((n, k), np.int8)
    for r0 in range(0, n, chunk_rows):
        r1 = min(n, r0 + chunk_rows)
        rows = np.asarray(read_rows(r0, r1), np.float64)
        codes[r0:r1] = np.clip(np.rint(rows / scale), -1, 1)
    return Ternary(codes, scale, "multiply")
