"""The GGUF loader: a BitNet b1.58 model in a GGUF file (llama.cpp, bitnet.cpp) as a
:class:`~lutcore.models.checkpoint.Checkpoint`.

Supported layouts (anything else is refused by name):

- architectures ``bitnet`` (llama.cpp), ``bitnet-25`` and ``bitnet-b1.58`` (bitnet.cpp); the
  converters of all three keep the Hugging Face row order of ``attn_q``/``attn_k`` (no RoPE
  permutation), so the rows are used as stored;
- ternary projections in llama.cpp ``TQ1_0`` (256-element blocks of 54 bytes: 5 base-3
  digits per byte, f16 ``d``) and ``TQ2_0`` (256-element blocks of 66 bytes: 2-bit codes
  ``w + 1``, f16 ``d``), where every block of a tensor must carry the same ``d`` (BitNet has
  one scale per tensor; all-zero blocks are ignored), and bitnet.cpp ``I2_S`` (GGML type
  36): 128-element blocks of 32 bytes, element ``j`` of a block in byte ``j % 32`` at bit
  shift ``6 - 2 * (j // 32)``, code ``w + 1``, then one f32 scale and 28 bytes of padding
  after the ``n / 4`` code bytes;
- F32, F16 and BF16 projections, quantized on load by absmean
  (:func:`~lutcore.models.checkpoint.ternary_from_float`, a block of rows at a time);
- F32, F16 and BF16 norms, token embedding and output matrix; ``output.weight`` absent
  means tied embeddings; an optional one-element F32 ``<projection>.scale`` (llama.cpp)
  multiplies the projection's scale.

The metadata, tensor table and alignment are parsed by ``gguf.GGUFReader`` with its tensor
table replaced by a raw one (:class:`_Reader`), because the reader refuses GGML types it
does not know, such as ``I2_S``; tensor data is read from its memory map and decoded here,
vectorised. Every failure is a one-line :class:`~lutcore.errors.ModelError` naming the file
and the tensor.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from ..errors import LutcoreError, ModelError
from .checkpoint import (NORMS, PROJECTIONS, SCALE_MODES, Checkpoint, ModelConfig, Ternary,
                         expected_shapes, layer_name, ternary_from_float)

__all__ = ["open_gguf", "GgufCheckpoint", "ARCHITECTURES", "I2_S", "decode_tq1_0",
           "decode_tq2_0", "decode_i2_s"]

#: The ``general.architecture`` values accepted as BitNet b1.58.
ARCHITECTURES = ("bitnet", "bitnet-25", "bitnet-b1.58")
#: bitnet.cpp's GGML type id of ``I2_S`` (unknown to the ``gguf`` package).
I2_S = 36
_EXTRA_TYPES = {I2_S: "I2_S", 37: "I8_S", 38: "TL1", 39: "TL2"}
_FLOAT_TYPES = ("F32", "F16", "BF16")
_TERNARY_TYPES = ("TQ1_0", "TQ2_0", "I2_S")
_QK_TQ = 256           # elements per TQ1_0 / TQ2_0 block
_TQ_BYTES = {"TQ1_0": 54, "TQ2_0": 66}
_QK_I2_S = 128         # elements per I2_S block (32 bytes)
_I2_S_TAIL = 32        # bytes after the codes: the f32 scale, then padding
_ITEM_BYTES = {"F32": 4, "F16": 2, "BF16": 2}

# GGUF tensor names (without ``.weight``) -> Hugging Face module names.
_GLOBAL = {"token_embd": "model.embed_tokens", "output_norm": "model.norm",
           "output": "lm_head"}
_LAYER = {"attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm",
          "attn_sub_norm": "self_attn.attn_sub_norm", "ffn_sub_norm": "mlp.ffn_sub_norm",
          "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
          "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj",
          "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj"}
_GGUF_MODULE = {hf: gg for gg, hf in _LAYER.items()}


def _type_name(type_id: int) -> str:
    """The GGML name of a type id (``gguf`` knows most; bitnet.cpp adds a few)."""
    import gguf
    if type_id in _EXTRA_TYPES:
        return _EXTRA_TYPES[type_id]
    try:
        return gguf.GGMLQuantizationType(type_id).name
    except ValueError:
        return f"{type_id} (unknown)"


# --- block decoders (vectorised over all blocks of a tensor) -------------------------------

_TQ2_SHIFTS = np.array([0, 2, 4, 6], np.uint8).reshape(1, 1, 4, 1)
_I2_S_SHIFTS = np.array([6, 4, 2, 0], np.uint8).reshape(1, 4, 1)


def decode_tq2_0(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes and scales of ``TQ2_0`` blocks.

    Args:
        blocks: uint8 [nb, 66]: 64 bytes of 2-bit codes, then the f16 ``d``. Element
            ``128*h + 32*s + m`` of a block is bits ``2s..2s+1`` of byte ``32*h + m``.

    Returns:
        ``(q, d)``: uint8 [nb, 256] codes ``w + 1`` (3 is not ternary) and float16 [nb].
    """
    nb = blocks.shape[0]
    qs = blocks[:, :64].reshape(nb, 2, 1, 32)
    q = (qs >> _TQ2_SHIFTS) & np.uint8(3)
    return q.reshape(nb, _QK_TQ), blocks[:, 64:66].copy().view(np.float16)[:, 0]


def _base3_tables() -> tuple[np.ndarray, np.ndarray]:
    """For every byte value: its five base-3 digits, most significant first (uint8 [256, 5]),
    and whether it is not the encoding of any value (bool [256]). A byte holds
    ``ceil(v * 256 / 243)`` for ``v`` in 0..242; digit ``p`` is the top digit of
    ``b * 3**p`` modulo 256."""
    b = np.arange(256, dtype=np.uint16)
    pow3 = np.array([1, 3, 9, 27, 81], np.uint16)
    digits = ((b[:, None] * pow3 % 256) * 3) >> 8
    value = digits @ np.array([81, 27, 9, 3, 1], np.uint16)
    return digits.astype(np.uint8), (value * 256 + 242) // 243 != b


_TQ1_DIGITS, _TQ1_BAD = _base3_tables()


def decode_tq1_0(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes and scales of ``TQ1_0`` blocks.

    Args:
        blocks: uint8 [nb, 54]: 48 bytes of 5 digits each (``qs``), 4 bytes of 4 digits
            (``qh``), the f16 ``d``. Digit ``p`` of byte ``m`` is element ``32p + m`` (bytes
            0..31), ``160 + 16p + m`` (bytes 32..47), ``240 + 4p + m`` (``qh``, p < 4).

    Returns:
        ``(q, d, bad)``: uint8 [nb, 256] codes ``w + 1`` in 0..2, float16 [nb], and a bool
        [nb, 52] mask of the packed bytes that are not the encoding of any base-3 value (a
        byte no writer produces, so the tensor is corrupt).
    """
    nb = blocks.shape[0]
    packed = blocks[:, :52]
    digits = _TQ1_DIGITS[packed].transpose(0, 2, 1)     # [nb, 5, 52]
    q = np.concatenate([digits[:, :, :32].reshape(nb, 160), digits[:, :, 32:48].reshape(nb, 80),
                        digits[:, :4, 48:52].reshape(nb, 16)], axis=1)
    return q, blocks[:, 52:54].copy().view(np.float16)[:, 0], _TQ1_BAD[packed]


def decode_i2_s(data: np.ndarray, n: int) -> tuple[np.ndarray, float]:
    """Codes and scale of an ``I2_S`` tensor of ``n`` elements (a multiple of 128).

    Args:
        data: uint8 [n/4 + 32]: 32-byte blocks of 128 codes (element ``j`` in byte ``j % 32``
            at shift ``6 - 2*(j // 32)``), then the f32 scale and 28 bytes of padding.

    Returns:
        ``(q, scale)``: uint8 [n] codes ``w + 1`` (3 is not ternary) and the float scale.
    """
    qs = data[:n // 4].reshape(-1, 1, 32)
    q = (qs >> _I2_S_SHIFTS) & np.uint8(3)
    return q.reshape(n), float(data[n // 4:n // 4 + 4].copy().view(np.float32)[0])


# --- the file ------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Info:
    """One tensor of the file: numpy shape (GGUF dims reversed), GGML type id, data offset."""

    name: str
    shape: tuple[int, ...]
    type_id: int
    offset: int

    @property
    def type(self) -> str:
        return _type_name(self.type_id)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


@functools.lru_cache(maxsize=None)
def _reader_class():
    import gguf

    class _Reader(gguf.GGUFReader):
        """``gguf.GGUFReader`` with a raw tensor table (:attr:`infos`) instead of its own,
        which refuses GGML types it does not know (``I2_S``)."""

        def _build_tensors(self, start_offs: int, fields: list) -> None:
            self.infos: dict[str, _Info] = {}
            for field in fields:
                _, name, _, dims, type_id, offset = field.parts
                name = bytes(name).decode("utf-8")
                if name in self.infos:
                    raise ValueError(f"duplicated tensor {name}")
                self.infos[name] = _Info(name, tuple(int(d) for d in reversed(dims.tolist())),
                                         int(type_id[0]), int(start_offs + int(offset[0])))
            self.tensors = []

    return _Reader


def _decimal(value: float) -> float:
    """A float32 metadata value as the shortest decimal that rounds to it (``1e-05``, not
    ``9.99999974e-06``), so a config read from GGUF equals the ``config.json`` it came from."""
    return float(str(np.float32(value)))


def _float_values(raw: np.ndarray, type_name: str, shape: tuple[int, ...]) -> np.ndarray:
    """F32 / F16 / BF16 bytes as a float32 array of ``shape``."""
    if type_name == "BF16":
        bits = raw.view(np.uint16).astype(np.uint32) << 16
        return bits.view(np.float32).reshape(shape)
    return raw.view({"F32": np.float32, "F16": np.float16}[type_name]).astype(
        np.float32).reshape(shape)


class GgufCheckpoint(Checkpoint):
    """A GGUF file opened by :func:`open_gguf`: metadata, tensor table and byte ranges are
    checked when it is opened; codes and scales when :meth:`tensors` decodes each."""

    def __init__(self, path: str, weight_scale: str | None = None):
        if weight_scale is not None and weight_scale not in SCALE_MODES:
            raise ModelError(f"{path}: weight_scale {weight_scale!r}: allowed None, "
                             f"{', '.join(map(repr, SCALE_MODES))}")
        self.path = str(path)
        self.scale_mode = weight_scale or "multiply"
        self._reader = self._open()
        self._size = int(self._reader.data.shape[0])
        self.infos: dict[str, _Info] = self._reader.infos
        self.architecture = self._meta("general.architecture")
        if self.architecture not in ARCHITECTURES:
            raise ModelError(f"{self.path}: architecture {self.architecture!r} is not BitNet "
                             f"b1.58: supported {', '.join(ARCHITECTURES)}")
        self.config = self._config()
        self._check_tensors()
        types = {self.infos[name].type for _, name, _, ternary in self._layout() if ternary}
        self.format = "gguf-" + "+".join(sorted(types))
        try:
            self.tokenizer = self._tokenizer()
        except Exception as exc:  # tokenizers' own errors on a malformed vocabulary
            raise ModelError(f"{self.path}: tokenizer.ggml.tokens/merges cannot make a BPE "
                             f"tokenizer ({str(exc).splitlines()[0]})") from None

    # -- opening ------------------------------------------------------------------------

    def _open(self):
        path = self.path
        if not os.path.isfile(path):
            raise ModelError(f"{path}: no such file")
        with open(path, "rb") as f:
            magic = f.read(4)
        if magic != b"GGUF":
            raise ModelError(f"{path}: not a GGUF file (starts with {magic!r}, expected b'GGUF')")
        try:
            return _reader_class()(path, "r")
        except Exception as exc:  # the gguf reader's own errors: bad header, cut-off metadata
            detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ModelError(f"{path}: corrupt or truncated GGUF header ({detail})") from None

    def _meta(self, key: str, default: Any = ModelError) -> Any:
        field = self._reader.get_field(key)
        if field is None:
            if default is ModelError:
                raise ModelError(f"{self.path}: missing metadata {key}")
            return default
        return field.contents()

    def _config(self) -> ModelConfig:
        arch = self.architecture
        tokens = self._reader.get_field("tokenizer.ggml.tokens")
        vocab = len(tokens.data) if tokens is not None else self._meta(f"{arch}.vocab_size")
        hidden = self._meta(f"{arch}.embedding_length")
        heads = self._meta(f"{arch}.attention.head_count")
        return ModelConfig(
            vocab_size=vocab, hidden_size=hidden,
            intermediate_size=self._meta(f"{arch}.feed_forward_length"),
            num_hidden_layers=self._meta(f"{arch}.block_count"),
            num_attention_heads=heads,
            num_key_value_heads=self._meta(f"{arch}.attention.head_count_kv", heads),
            max_position_embeddings=self._meta(f"{arch}.context_length"),
            rms_norm_eps=_decimal(self._meta(f"{arch}.attention.layer_norm_rms_epsilon")),
            rope_theta=_decimal(self._meta(f"{arch}.rope.freq_base", 10000.0)),
            tie_word_embeddings="output.weight" not in self.infos,
            head_dim=self._meta(f"{arch}.attention.key_length", None),
            bos_token_id=self._meta("tokenizer.ggml.bos_token_id", None),
            eos_token_id=self._meta("tokenizer.ggml.eos_token_id", None),
            source=self.path)

    @staticmethod
    def _gguf_name(layer: int, module: str) -> str:
        return f"blk.{layer}.{_GGUF_MODULE[module]}.weight"

    def _layout(self) -> Iterator[tuple[str, str, tuple[int, ...], bool]]:
        """(HF name, GGUF name, expected shape, ternary) of every tensor the model needs."""
        cfg = self.config
        yield ("model.embed_tokens.weight", "token_embd.weight",
               (cfg.vocab_size, cfg.hidden_size), False)
        yield "model.norm.weight", "output_norm.weight", (cfg.hidden_size,), False
        if not cfg.tie_word_embeddings:
            yield "lm_head.weight", "output.weight", (cfg.vocab_size, cfg.hidden_size), False
        shapes = expected_shapes(cfg)
        for layer in range(cfg.num_hidden_layers):
            for norm in NORMS:
                size = cfg.intermediate_size if norm == "mlp.ffn_sub_norm" else cfg.hidden_size
                yield (layer_name(layer, norm) + ".weight", self._gguf_name(layer, norm),
                       (size,), False)
            for proj in PROJECTIONS:
                yield layer_name(layer, proj), self._gguf_name(layer, proj), shapes[proj], True

    def _nbytes(self, info: _Info, ternary: bool) -> int:
        """Bytes of a tensor's data, after checking its type and row length."""
        where = f"{self.path}: tensor {info.name}"
        allowed = _TERNARY_TYPES + _FLOAT_TYPES if ternary else _FLOAT_TYPES
        if info.type not in allowed:
            raise ModelError(f"{where} has type {info.type}: supported {', '.join(allowed)}")
        if info.type in _ITEM_BYTES:
            return info.size * _ITEM_BYTES[info.type]
        if info.type == "I2_S":
            if info.size % _QK_I2_S:
                raise ModelError(f"{where} (I2_S) has {info.size} elements: I2_S needs a "
                                 f"multiple of {_QK_I2_S}")
            return info.size // 4 + _I2_S_TAIL
        if info.shape[-1] % _QK_TQ:
            raise ModelError(f"{where} ({info.type}) has rows of {info.shape[-1]}: "
                             f"{info.type} needs a multiple of {_QK_TQ}")
        return info.size // _QK_TQ * _TQ_BYTES[info.type]

    def _check_tensors(self) -> None:
        self._bytes: dict[str, int] = {}
        for _, name, shape, ternary in self._layout():
            info = self.infos.get(name)
            if info is None:
                raise ModelError(f"{self.path}: missing tensor {name}")
            if info.shape != shape:
                raise ModelError(f"{self.path}: tensor {name} has shape {list(info.shape)}: "
                                 f"expected {list(shape)} from the metadata")
            nbytes = self._bytes[name] = self._nbytes(info, ternary)
            if info.offset + nbytes > self._size:
                raise ModelError(f"{self.path}: tensor {name} data ends at byte "
                                 f"{info.offset + nbytes} but the file has {self._size} "
                                 f"bytes (truncated)")

    # -- tensors ------------------------------------------------------------------------

    def _raw(self, name: str) -> np.ndarray:
        info = self.infos[name]
        return self._reader.data[info.offset:info.offset + self._bytes[name]]

    def _float(self, name: str) -> np.ndarray:
        info = self.infos[name]
        return _float_values(self._raw(name), info.type, info.shape)

    def _bad(self, name: str, what: str) -> ModelError:
        return ModelError(f"{self.path}: tensor {name} ({self.infos[name].type}) {what}")

    def _codes(self, name: str, q: np.ndarray) -> np.ndarray:
        """Codes ``w + 1`` [n] -> int8 [N, K] in {-1, 0, 1}; a code 3 is refused."""
        shape = self.infos[name].shape
        bad = np.flatnonzero(q > 2)
        if bad.size:
            row, col = divmod(int(bad[0]), shape[1])
            raise self._bad(name, f"has code 3 at [{row}, {col}]: not ternary (allowed 0, 1, "
                                  f"2 for -1, 0, +1)")
        return (q.astype(np.int8) - np.int8(1)).reshape(shape)

    def _block_scale(self, name: str, q: np.ndarray, d: np.ndarray) -> float:
        """The one scale of a TQ tensor: the ``d`` every block with a nonzero code agrees on."""
        used = np.unique(d[(q != 1).any(axis=1)])
        if used.size > 1:
            raise self._bad(name, f"has blocks with different scales d ({float(used[0])!r}, "
                                  f"{float(used[1])!r}, ...): BitNet needs one scale per tensor")
        return float(used[0] if used.size else d[0])

    def _ternary(self, name: str) -> Ternary:
        info = self.infos[name]
        raw = self._raw(name)
        if info.type in _FLOAT_TYPES:
            n, k = info.shape
            width = self._bytes[name] // n

            def rows(r0: int, r1: int) -> np.ndarray:
                return _float_values(raw[r0 * width:r1 * width], info.type, (r1 - r0, k))
            try:
                return ternary_from_float(rows, (n, k))
            except LutcoreError as exc:
                raise self._bad(name, f"cannot be quantized: {exc}") from None
        if info.type == "I2_S":
            q, scale = decode_i2_s(raw, info.size)
        else:
            blocks = raw.reshape(-1, _TQ_BYTES[info.type])
            if info.type == "TQ1_0":
                q, d, bad = decode_tq1_0(blocks)
                if bad.any():
                    block, byte = np.argwhere(bad)[0]
                    raise self._bad(name, f"block {block} byte {byte} = "
                                          f"{int(blocks[block, byte])}: not a base-3 packing "
                                          f"of ternary digits")
            else:
                q, d = decode_tq2_0(blocks)
            scale = self._block_scale(name, q, d)
        codes = self._codes(name, q.reshape(-1))
        extra = self.infos.get(name[:-len("weight")] + "scale")
        if extra is not None:
            scale *= self._extra_scale(extra)
        return Ternary(codes, scale, self.scale_mode)

    def _extra_scale(self, info: _Info) -> float:
        """llama.cpp's optional one-element F32 ``<projection>.scale``."""
        if info.type != "F32" or info.size != 1 or info.offset + 4 > self._size:
            raise ModelError(f"{self.path}: tensor {info.name} ({info.type}, shape "
                             f"{list(info.shape)}): expected one F32 scale")
        return float(self._reader.data[info.offset:info.offset + 4].view(np.float32)[0])

    def tensors(self) -> Iterator[tuple[str, "np.ndarray | Ternary"]]:
        """Every tensor under its Hugging Face name; each ternary projection is decoded when
        it is reached, so only one int8 matrix is resident at a time."""
        for hf, name, _, ternary in self._layout():
            yield hf, (self._ternary(name) if ternary else self._float(name))

    # -- tokenizer ----------------------------------------------------------------------

    def _tokenizer(self):
        """A byte-level BPE ``tokenizers.Tokenizer`` from a ``gpt2`` vocabulary, else None."""
        if self._meta("tokenizer.ggml.model", None) != "gpt2":
            return None
        tokens = self._meta("tokenizer.ggml.tokens", None)
        merges = self._meta("tokenizer.ggml.merges", None)
        if not tokens or merges is None:
            return None
        from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers
        vocab = {tok: i for i, tok in enumerate(tokens)}
        pairs = [tuple(m.split(" ", 1)) for m in merges]
        llama3 = self._meta("tokenizer.ggml.pre", None) == "llama-bpe"
        tok = Tokenizer(models.BPE(vocab, pairs, ignore_merges=llama3))
        if llama3:
            tok.pre_tokenizer = pre_tokenizers.Sequence([
                pre_tokenizers.Split(Regex(_LLAMA3_SPLIT), behavior="isolated"),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
        else:
            tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        types = self._meta("tokenizer.ggml.token_type", None) or []
        special = [AddedToken(tokens[i], special=True, normalized=False)
                   for i, t in enumerate(types) if t == 3]      # 3 = CONTROL
        if special:
            tok.add_special_tokens(special)
        return tok


#: The pre-tokenizer split of Llama 3 (``tokenizer.ggml.pre == "llama-bpe"``).
_LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                 r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def open_gguf(path, *, weight_scale: str | None = None) -> GgufCheckpoint:
    """Open a BitNet b1.58 GGUF file (layouts in the module docstring).

    Args:
        path: the ``.gguf`` file.
        weight_scale: how the stored ternary scales (TQ block ``d``, I2_S scale) apply:
            None or ``"multiply"`` (GGUF's own convention, ``w = scale * code``: right for a
            file converted from float weights by absmean), or ``"divide"`` for a file whose
            converter copied the Hugging Face packed checkpoint's ``weight_scale`` into the
            scale (llama.cpp's converter writes ``codes * weight_scale``, while the Hugging
            Face ``BitLinear`` divides by it). Projections quantized on load by absmean
            always multiply.

    Returns:
        A :class:`GgufCheckpoint` (``config``, ``format`` e.g. ``gguf-TQ2_0``, ``tokenizer``,
        ``tensors()``).

    Raises:
        ModelError: missing, not GGUF, truncated or corrupt file; unknown architecture;
            missing tensor, wrong shape, unsupported type; non-ternary codes or blocks that
            disagree on the scale (when :meth:`~GgufCheckpoint.tensors` reaches them).
    """
    return GgufCheckpoint(os.fspath(path), weight_scale)
