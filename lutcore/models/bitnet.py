"""The BitNet b1.58 decoder in NumPy, every ternary projection on a chosen backend.

The architecture is that of Hugging Face ``transformers`` (``BitNetForCausalLM``): token
embedding; per layer ``input_layernorm`` (RMSNorm) -> q/k/v projections -> RoPE (rotate-half,
``rope_theta``) -> causal grouped-query attention (softmax of ``q.k / sqrt(head_dim)``) ->
``attn_sub_norm`` -> ``o_proj`` -> residual; ``post_attention_layernorm`` -> ``relu(gate)^2 *
up`` -> ``ffn_sub_norm`` -> ``down_proj`` -> residual; final norm; LM head (the embedding when
tied).

Every projection is a BitLinear: per-token absmax int8 activations (``s = 127 / max(|x|,
1e-5)``, round half to even, clamp), the integer GEMM ``xq @ W.T`` on the backend (bit-exact
on every backend), then the float epilogue ``y = y_int / (s * scale)`` or ``y_int / s *
scale`` (:data:`~lutcore.models.checkpoint.SCALE_MODES`). All float work is float32, in the
same NumPy operations in the same order whatever the backend, so the logits are
bit-identical across backends for the same tokens.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import LutcoreError, ModelError
from ..host.devices import Session
from ..sw.compiler import resolve_config
from ..sw.kernels.bitnet import EPS, quantize_activations_absmax
from ..sw.kernels.packing import BitSerialWeights, ElutWeights, pack_bitserial, pack_elut
from ..sw.kernels.validate import check_overflow
from .checkpoint import NORMS, PROJECTIONS, ModelConfig, Ternary, layer_name

__all__ = ["BitNetModel", "Projection", "GemmEngine", "EngineSession", "ModelStats", "MODES"]

MODES = ("bitserial", "elut")
F32 = np.float32


@dataclass(frozen=True)
class Projection:
    """One GEMM of the model: the packed ternary weights (kept resident) of one projection,
    or of several that share their input stacked along N (q, k, v; gate, up: one table
    precompute and one device program for all of them), each part with its own scale.

    ``names``, ``sizes`` (rows N of each part) and ``scales`` are per part; ``scale_mode``
    is common."""

    names: tuple[str, ...]
    packed: object
    sizes: tuple[int, ...]
    scales: tuple[float, ...]
    scale_mode: str

    @property
    def name(self) -> str:
        return "+".join(self.names)

    @property
    def shape(self) -> tuple[int, int]:
        return self.packed.shape

    def epilogue(self, acc: np.ndarray, s: np.ndarray) -> list[np.ndarray]:
        """The float epilogue of the integer output ``acc`` [M, N] for activation scales
        ``s`` [M, 1] (float32), one array per part. Each element sees the same float32
        operations whether its part is stacked with others or not."""
        y = acc.astype(F32)
        scale = np.repeat(np.asarray(self.scales, F32), self.sizes)[None, :]
        y = y / (s * scale) if self.scale_mode == "divide" else y / s * scale
        return np.split(y, np.cumsum(self.sizes)[:-1], axis=1)

    def part(self, i: int) -> "Projection":
        """Part ``i`` alone (its rows of the packed weights, not a copy)."""
        n0 = sum(self.sizes[:i])
        return Projection.single(self.names[i],
                                 _packed_rows(self.packed, n0, n0 + self.sizes[i]),
                                 self.scales[i], self.scale_mode)

    @classmethod
    def single(cls, name: str, packed, scale: float, scale_mode: str) -> "Projection":
        """One projection of packed weights."""
        return cls((name,), packed, (packed.n,), (scale,), scale_mode)

    @classmethod
    def stack(cls, parts: list["Projection"]) -> "Projection":
        """Projections that share their input as one (parts of one scale mode and K)."""
        return cls(tuple(n for p in parts for n in p.names),
                   _stack_packed([p.packed for p in parts]),
                   tuple(n for p in parts for n in p.sizes),
                   tuple(x for p in parts for x in p.scales), parts[0].scale_mode)


def _packed_rows(packed, n0: int, n1: int):
    if isinstance(packed, ElutWeights):
        return ElutWeights(packed.data[n0:n1], packed.k, packed.g)
    return BitSerialWeights(packed.planes[:, n0:n1], packed.k, packed.g, packed.weight_bits,
                            packed.zero_point)


def _stack_packed(packs: list):
    first = packs[0]
    if isinstance(first, ElutWeights):
        return ElutWeights(np.concatenate([p.data for p in packs]), first.k, first.g)
    return BitSerialWeights(np.concatenate([p.planes for p in packs], axis=1), first.k,
                            first.g, first.weight_bits, first.zero_point)


#: Projections of a layer that share their input and run as one GEMM.
STACKS = (("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"),
          ("self_attn.o_proj",), ("mlp.gate_proj", "mlp.up_proj"), ("mlp.down_proj",))
assert sorted(p for group in STACKS for p in group) == sorted(PROJECTIONS)


@dataclass
class ModelStats:
    """What a model's GEMMs cost: GEMMs run, device cycles (the CYCLES CSRs of the compiled
    backends; 0 on numpy), seconds in the GEMMs, tokens run, and the cycles per token of
    every step (a prefill step counts its cycles over its tokens)."""

    gemms: int = 0
    cycles: int = 0
    gemm_seconds: float = 0.0
    tokens: int = 0
    per_token_cycles: list[int] = field(default_factory=list)


class GemmEngine:
    """The integer GEMMs of a model on one backend, in one session: ``numpy`` runs the golden
    kernels on the resident packed weights; ``iss``, ``rtl`` and ``uart`` open one device
    (:func:`~lutcore.host.open_device`) that serves every GEMM of every forward pass."""

    def __init__(self, backend: str, mode: str, config, **device_options):
        from ..host.options import check_options
        if mode not in MODES:
            raise LutcoreError(f"mode {mode!r}: allowed {', '.join(MODES)}")
        self.backend, self.mode = backend, mode
        self.config = resolve_config(config)
        self.group = self.config.group(mode)          # ConfigError if the mode is not built
        self.device_options = check_options(backend, device_options, "device")
        self._device = None
        self.stats = ModelStats()

    @property
    def device(self):
        """The backend's device, opened at the first GEMM and kept for the session."""
        if self._device is None:
            from ..host import open_device
            self._device = open_device(self.backend, self.config, **self.device_options)
        return self._device

    def pack(self, name: str, t: Ternary) -> Projection:
        """Pack a loaded projection for this engine's mode and check its K against the
        accumulator."""
        check_overflow(t.codes.shape[1], self.config.act_bits, 1, self.config.acc_bits,
                       allow_wrap=False)
        pack = pack_elut if self.mode == "elut" else pack_bitserial
        return Projection.single(name, pack(t.codes, g=self.group, name=name), t.scale,
                                 t.scale_mode)

    def __call__(self, xq: np.ndarray, proj: Projection) -> np.ndarray:
        """``xq @ W.T`` as int64 [M, N] on the backend."""
        started = time.perf_counter()
        result = self.device.gemm(xq, proj.packed, mode=self.mode)
        self.stats.gemm_seconds += time.perf_counter() - started
        self.stats.gemms += 1
        if result.cycles is not None:
            self.stats.cycles += result.cycles
        return result.output

    def close(self) -> None:
        if self._device is not None:
            self._device.close()
            self._device = None


def rms_norm(x: np.ndarray, weight: np.ndarray, eps: float) -> np.ndarray:
    """``weight * x / sqrt(mean(x^2) + eps)`` over the last axis, float32."""
    var = np.mean(np.square(x), axis=-1, keepdims=True, dtype=F32)
    return weight * (x * (F32(1) / np.sqrt(var + F32(eps))))


def rope_tables(cfg: ModelConfig, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """cos and sin [T, head_dim] of the rotate-half RoPE at ``positions``."""
    d = cfg.head_dim
    inv_freq = F32(1) / (F32(cfg.rope_theta) ** (np.arange(0, d, 2, dtype=F32) / F32(d)))
    freqs = positions.astype(F32)[:, None] * inv_freq[None, :]
    emb = np.concatenate([freqs, freqs], axis=-1)
    return np.cos(emb), np.sin(emb)


def apply_rope(x: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
    """RoPE on ``x`` [T, heads, head_dim] (rotate-half convention)."""
    half = x.shape[-1] // 2
    rotated = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    return x * cos[:, None, :] + rotated * sin[:, None, :]


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class _Layer:
    """A layer's norm weights by module name and its GEMMs by stack (:data:`STACKS`): a list
    of one stacked :class:`Projection`, or of one per projection when not stacked."""

    def __init__(self, norms: dict[str, np.ndarray], stacks: list[list[Projection]]):
        self.norms, self.stacks = norms, stacks

    @property
    def gemms(self) -> list[Projection]:
        return [g for stack in self.stacks for g in stack]


class EngineSession(Session):
    """A model's session on its :class:`GemmEngine` (``self.engine``): a context manager
    whose :meth:`close` releases the device, with the engine's backend, mode and stats."""

    engine: GemmEngine

    def close(self) -> None:
        self.engine.close()

    @property
    def backend(self) -> str:
        return self.engine.backend

    @property
    def mode(self) -> str:
        return self.engine.mode

    @property
    def stats(self) -> ModelStats:
        return self.engine.stats


class BitNetModel(EngineSession):
    """A BitNet b1.58 model: its float tensors, its ternary projections packed once
    (:class:`Projection`) and the :class:`GemmEngine` that runs them (build one with
    :func:`~lutcore.models.load_model`).

    ``forward(ids)`` -> float32 logits [T, vocab] (a prefill over ``ids`` from position 0);
    ``generate(ids, max_new_tokens, ...)`` -> the new ids. Use as a context manager (or call
    :meth:`close`) so that a device session (an rtl simulation, a port) is released.

    ``stack`` (default) runs the projections that share an input as one GEMM (q, k, v; gate,
    up): the same integer products and, element for element, the same float operations, so
    the logits are bit-identical to ``stack=False``, with fewer table precomputes and device
    programs.
    """

    def __init__(self, config: ModelConfig, floats: dict[str, np.ndarray],
                 projections: dict[str, Projection], engine: GemmEngine, *,
                 format: str = "", path: str = "", tokenizer=None, load_seconds: float = 0.0,
                 stack: bool = True):
        self.config, self.engine = config, engine
        self.format, self.path, self.tokenizer = format, path, tokenizer
        self.load_seconds = load_seconds
        floats, projections = dict(floats), dict(projections)
        self.embed = floats.pop("model.embed_tokens.weight")
        self.lm_head = floats.pop("lm_head.weight", self.embed)
        self.norm = floats.pop("model.norm.weight")
        self.layers = []
        for i in range(config.num_hidden_layers):
            norms = {n: floats.pop(layer_name(i, n) + ".weight") for n in NORMS}
            stacks = []
            for group in STACKS:
                parts = [projections.pop(layer_name(i, p)) for p in group]
                modes = {p.scale_mode for p in parts}
                stacks.append([Projection.stack(parts)] if stack and len(modes) == 1
                              else parts)
            self.layers.append(_Layer(norms, stacks))
        self.reset()

    def tensors(self) -> tuple[dict[str, np.ndarray], dict[str, Projection]]:
        """The model's float tensors and packed projections by name (what the cache keeps;
        a stacked GEMM's parts are views of its weights)."""
        floats = {"model.embed_tokens.weight": self.embed, "model.norm.weight": self.norm}
        if self.lm_head is not self.embed:
            floats["lm_head.weight"] = self.lm_head
        projs = {}
        for i, layer in enumerate(self.layers):
            floats.update({layer_name(i, n) + ".weight": w for n, w in layer.norms.items()})
            for g in layer.gemms:
                projs.update({name: g.part(j) for j, name in enumerate(g.names)})
        return floats, projs

    @property
    def weight_bytes(self) -> int:
        """Packed ternary weight bytes, all layers."""
        return sum(g.packed.nbytes for layer in self.layers for g in layer.gemms)

    def reset(self) -> None:
        """Empty the KV cache (the next token is at position 0)."""
        cfg = self.config
        shape = (cfg.num_hidden_layers, cfg.max_position_embeddings,
                 cfg.num_key_value_heads, cfg.head_dim)
        self._k = np.zeros(shape, F32)
        self._v = np.zeros(shape, F32)
        self.position = 0

    # -- the forward pass ------------------------------------------------------------------

    def _check_ids(self, ids) -> np.ndarray:
        cfg = self.config
        arr = np.asarray(ids)
        if arr.ndim != 1 or arr.size == 0 or arr.dtype.kind not in "iu":
            raise ModelError(f"token ids must be a non-empty 1-D list of integers, got "
                             f"{arr.dtype} shape {arr.shape}")
        bad = np.flatnonzero((arr < 0) | (arr >= cfg.vocab_size))
        if bad.size:
            i = int(bad[0])
            raise ModelError(f"token id {int(arr[i])} at position {i} is out of range: the "
                             f"vocabulary is 0..{cfg.vocab_size - 1}")
        end = self.position + arr.size
        if end > cfg.max_position_embeddings:
            raise ModelError(f"{end} tokens exceed max_position_embeddings "
                             f"{cfg.max_position_embeddings} of the model")
        return arr.astype(np.int64)

    def _linear(self, x: np.ndarray, stack: list[Projection]) -> list[np.ndarray]:
        """BitLinear of the input ``x`` through the GEMMs of one stack: the outputs of its
        projections in order."""
        self._check_finite(x, f"the input of {stack[0].name}")
        xq, s = quantize_activations_absmax(x, 8, EPS, dtype=F32)
        return [y for g in stack for y in g.epilogue(self.engine(xq, g), s)]

    def _attention(self, i: int, layer: _Layer, x: np.ndarray, cos, sin) -> np.ndarray:
        cfg = self.config
        t, d = x.shape[0], cfg.head_dim
        h, kvh = cfg.num_attention_heads, cfg.num_key_value_heads
        qkv, o_proj = layer.stacks[0], layer.stacks[1]
        q, k, v = self._linear(x, qkv)
        q = apply_rope(q.reshape(t, h, d), cos, sin)
        k = apply_rope(k.reshape(t, kvh, d), cos, sin)
        v = v.reshape(t, kvh, d)
        start, end = self.position, self.position + t
        self._k[i, start:end], self._v[i, start:end] = k, v
        keys, values = self._k[i, :end], self._v[i, :end]          # [S, kvh, d]
        rep = h // kvh
        qg = q.reshape(t, kvh, rep, d).transpose(1, 2, 0, 3)        # [kvh, rep, T, d]
        scores = (qg @ keys.transpose(1, 2, 0)[:, None]) * F32(d ** -0.5)   # [kvh, rep, T, S]
        future = np.arange(end)[None, :] > (start + np.arange(t))[:, None]
        scores = np.where(future, F32(-np.inf), scores)
        out = softmax(scores) @ values.transpose(1, 0, 2)[:, None]  # [kvh, rep, T, d]
        out = out.transpose(2, 0, 1, 3).reshape(t, h * d)
        out = rms_norm(out, layer.norms["self_attn.attn_sub_norm"], cfg.rms_norm_eps)
        return self._linear(out, o_proj)[0]

    def _mlp(self, layer: _Layer, x: np.ndarray) -> np.ndarray:
        gate, up = self._linear(x, layer.stacks[2])
        hidden = np.square(np.maximum(gate, F32(0))) * up
        hidden = rms_norm(hidden, layer.norms["mlp.ffn_sub_norm"], self.config.rms_norm_eps)
        return self._linear(hidden, layer.stacks[3])[0]

    def step(self, ids, *, all_logits: bool = True) -> np.ndarray:
        """Run ``ids`` at the next positions (after those in the KV cache) and return the
        float32 logits [T, vocab] (``all_logits``) or of the last token only [1, vocab]."""
        ids = self._check_ids(ids)
        cfg = self.config
        cycles0 = self.stats.cycles
        positions = np.arange(self.position, self.position + ids.size)
        cos, sin = rope_tables(cfg, positions)
        x = self.embed[ids]
        # Float32 overflow is checked once per layer (a model whose weights overflow it gives
        # no logits rather than wrong ones).
        with np.errstate(over="ignore", invalid="ignore"):
            for i, layer in enumerate(self.layers):
                h = rms_norm(x, layer.norms["input_layernorm"], cfg.rms_norm_eps)
                x = x + self._attention(i, layer, h, cos, sin)
                h = rms_norm(x, layer.norms["post_attention_layernorm"], cfg.rms_norm_eps)
                x = x + self._mlp(layer, h)
                self._check_finite(x, f"layer {i}")
            x = x if all_logits else x[-1:]
            logits = rms_norm(x, self.norm, cfg.rms_norm_eps) @ self.lm_head.T
            self._check_finite(logits, "the LM head")
        self.position += ids.size
        self.stats.tokens += ids.size
        self.stats.per_token_cycles.append((self.stats.cycles - cycles0) // ids.size)
        return logits

    def _check_finite(self, x: np.ndarray, where: str) -> None:
        if not np.isfinite(x).all():
            raise ModelError(f"{self.path or 'the model'}: the forward pass overflows float32 "
                             f"at {where}: its weights, norms or scales are out of range")

    def forward(self, ids) -> np.ndarray:
        """A prefill over ``ids`` from position 0: float32 logits [T, vocab]."""
        self.reset()
        return self.step(ids)

    def generate(self, ids, max_new_tokens: int, *, temperature: float = 0.0, top_k: int = 0,
                 seed: int | None = None, stop_at_eos: bool = True,
                 on_token: Callable[[int], None] | None = None,
                 logits_out: list | None = None) -> list[int]:
        """Prefill ``ids``, then decode up to ``max_new_tokens`` tokens (greedy when
        ``temperature`` is 0, else softmax sampling at ``temperature`` over the ``top_k``
        most likely tokens, all when 0, from ``numpy.random.default_rng(seed)``). Stops
        after the end-of-sequence token when ``stop_at_eos``. ``on_token`` is called with each
        new id as it is produced; ``logits_out`` (a list) receives each step's logits row.
        Returns the new ids."""
        from .generate import Sampler
        sampler = Sampler(temperature, top_k, seed)
        if not isinstance(max_new_tokens, int) or max_new_tokens < 0:
            raise ModelError(f"max_new_tokens {max_new_tokens!r}: must be an integer >= 0")
        self.reset()
        n_prompt = self._check_ids(ids).size
        if n_prompt + max_new_tokens - 1 > self.config.max_position_embeddings:
            raise ModelError(f"a prompt of {n_prompt} tokens and {max_new_tokens} new tokens "
                             f"exceed max_position_embeddings "
                             f"{self.config.max_position_embeddings} of the model")
        logits = self.step(ids, all_logits=False)[-1]
        new: list[int] = []
        for n in range(max_new_tokens):
            if logits_out is not None:
                logits_out.append(logits)
            token = sampler(logits)
            new.append(token)
            if on_token:
                on_token(token)
            if (stop_at_eos and token == self.config.eos_token_id) or n == max_new_tokens - 1:
                break
            logits = self.step([token], all_logits=False)[-1]
        return new
