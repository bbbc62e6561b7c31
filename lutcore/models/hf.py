"""The Hugging Face BitNet b1.58 directory: ``config.json``, ``model.safetensors`` (or shards
named by ``model.safetensors.index.json``) and, if present, ``tokenizer.json``.

Two weight layouts, told apart by the dtype of the projections:

* ``hf-packed`` (the published ``BitLinear`` checkpoints): each projection is uint8
  ``[ceil(out/4), in]``; packed row ``r``, bits ``2i..2i+1`` (LSB first) hold original row
  ``i * ceil(out/4) + r`` as the code ``w + 1`` (3 is not a code). Beside it
  ``<proj>.weight_scale`` (one value).
* ``hf-bf16`` (master weights, bf16/f16/f32): quantized on load by absmean
  (:func:`~lutcore.models.checkpoint.ternary_from_float`), read a block of rows at a time.

The direction of ``weight_scale`` (:data:`~lutcore.models.checkpoint.SCALE_MODES`) is a
parameter, because published converters disagree: by default ``divide`` (``y = y_int / (s *
weight_scale)``, the ``BitLinear`` of Hugging Face ``transformers``), or ``multiply`` when
``quantization_config.linear_class`` is ``autobitlinear``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import ModelError
from .checkpoint import (NORMS, PROJECTIONS, SCALE_MODES, Checkpoint, ModelConfig, Ternary,
                         expected_shapes, layer_name, ternary_from_float)

__all__ = ["open_hf", "HfCheckpoint", "unpack_hf_ternary", "pack_hf_ternary",
           "CONFIG_FILE", "WEIGHTS_FILE", "INDEX_FILE", "TOKENIZER_FILE"]

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"
TOKENIZER_FILE = "tokenizer.json"

#: Ternary weights per byte of the packed layout.
VALUES_PER_BYTE = 4
FLOAT_DTYPES = ("BF16", "F16", "F32")
ROWS_PER_READ = 1024


def pack_hf_ternary(codes: np.ndarray) -> np.ndarray:
    """Ternary int8 [N, K] -> the packed uint8 [ceil(N/4), K] layout above (rows past N are
    code 0, as the reference packer leaves them)."""
    n, k = codes.shape
    rows = -(-n // VALUES_PER_BYTE)
    q = np.zeros((VALUES_PER_BYTE * rows, k), np.uint8)
    q[:n] = codes + 1
    q = q.reshape(VALUES_PER_BYTE, rows, k)
    shifts = (2 * np.arange(VALUES_PER_BYTE, dtype=np.uint8))[:, None, None]
    return np.bitwise_or.reduce(q << shifts, axis=0).astype(np.uint8)


def unpack_hf_ternary(packed: np.ndarray, n: int, where: str) -> np.ndarray:
    """The packed layout -> ternary int8 [n, K]; a code 3 is a :class:`ModelError` naming
    ``where`` and the first bad position."""
    rows, k = packed.shape
    shifts = (2 * np.arange(VALUES_PER_BYTE, dtype=np.uint8))[:, None, None]
    q = (packed[None] >> shifts) & np.uint8(3)             # [4, rows, K]
    bad = np.argwhere(q == 3)
    if bad.size:
        i, r, c = (int(v) for v in bad[0])
        raise ModelError(f"{where}: packed byte [{r}, {c}] holds code 3 in bits {2 * i}.."
                         f"{2 * i + 1}: allowed codes 0, 1, 2 (w + 1)")
    return (q.reshape(VALUES_PER_BYTE * rows, k)[:n].astype(np.int8) - np.int8(1))


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelError(f"{path}: not readable JSON ({e})") from None
    if not isinstance(data, dict):
        raise ModelError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


class _Shards:
    """The safetensors files of a checkpoint, read with the ``safetensors`` library; a
    tensor is read as a NumPy array (bf16 through ``ml_dtypes``), whole or by rows.

    The library maps a file into memory; a file is opened for each read and closed after
    it, so that the pages of tensors already read leave the process instead of adding up to
    the whole checkpoint (resident memory stays near the packed model)."""

    def __init__(self, root: Path):
        try:
            import ml_dtypes  # noqa: F401  (registers bfloat16 with NumPy)
            from safetensors import safe_open
        except ImportError as e:
            raise ModelError(f"reading {root} needs the 'models' extra (safetensors, "
                             f"ml-dtypes): {e}") from None
        self._safe_open = safe_open
        self.root = root
        index = root / INDEX_FILE
        if index.exists():
            weight_map = _read_json(index).get("weight_map")
            if not isinstance(weight_map, dict):
                raise ModelError(f"{index}: no 'weight_map' object")
            files = sorted(set(weight_map.values()))
        elif (root / WEIGHTS_FILE).exists():
            weight_map, files = None, [WEIGHTS_FILE]
        else:
            raise ModelError(f"{root}: no {WEIGHTS_FILE} or {INDEX_FILE}")
        self.where: dict[str, Path] = {}
        self.infos: dict[str, tuple[str, list[int]]] = {}
        for name in files:
            path = root / name
            if not path.exists():
                raise ModelError(f"{path}: file not found (named by {INDEX_FILE})")
            with self._open(path) as handle:
                for key in handle.keys():
                    if weight_map is None or weight_map.get(key) == name:
                        s = handle.get_slice(key)
                        self.where[key] = path
                        self.infos[key] = (s.get_dtype(), list(s.get_shape()))

    def _open(self, path: Path):
        try:
            return self._safe_open(str(path), framework="numpy")
        except Exception as e:                # SafetensorError, OSError: corrupt file
            raise ModelError(f"{path}: not a readable safetensors file "
                             f"({_first_line(e)})") from None

    def info(self, name: str, what: str = "") -> tuple[Path, str, list[int]]:
        if name not in self.where:
            raise ModelError(f"{self.root}: tensor {name} is missing{what}")
        return (self.where[name], *self.infos[name])

    def _read(self, name: str, rows: slice | None) -> np.ndarray:
        path = self.where[name]
        try:
            with self._open(path) as handle:
                if rows is None:
                    return handle.get_tensor(name)
                return handle.get_slice(name)[rows]
        except ModelError:
            raise
        except Exception as e:
            raise ModelError(f"{path}: tensor {name} cannot be read ({_first_line(e)})") from None

    def rows(self, name: str, r0: int, r1: int) -> np.ndarray:
        return self._read(name, slice(r0, r1))

    def read(self, name: str) -> np.ndarray:
        return self._read(name, None)


def _first_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


class HfCheckpoint(Checkpoint):
    """A Hugging Face BitNet directory opened for loading (see the module docstring)."""

    def __init__(self, path, *, weight_scale: str | None = None):
        root = Path(path)
        if not root.exists():
            raise ModelError(f"{root}: no such file or directory")
        if not root.is_dir():
            raise ModelError(f"{root}: a Hugging Face model is a directory with {CONFIG_FILE} "
                             f"and {WEIGHTS_FILE}")
        cfg_path = root / CONFIG_FILE
        raw = _read_json(cfg_path)
        arch = raw.get("model_type")
        if arch != "bitnet":
            raise ModelError(f"{cfg_path}: model_type {arch!r}: supported 'bitnet' "
                             f"(BitNet b1.58)")
        quant = raw.get("quantization_config") or {}
        if weight_scale is None:
            weight_scale = ("multiply" if quant.get("linear_class") == "autobitlinear"
                            else "divide")
        if weight_scale not in SCALE_MODES:
            raise ModelError(f"weight_scale {weight_scale!r}: allowed {', '.join(SCALE_MODES)}")
        self.weight_scale = weight_scale
        self.path = str(root)
        self.config = ModelConfig.from_dict(raw, source=str(cfg_path))
        self.shards = _Shards(root)
        first = layer_name(0, PROJECTIONS[0]) + ".weight"
        dtype = self.shards.info(first)[1]
        if dtype == "U8":
            self.format = "hf-packed"
        elif dtype in FLOAT_DTYPES:
            self.format = "hf-bf16"
        else:
            raise ModelError(f"{self.shards.info(first)[0]}: tensor {first} has dtype {dtype}:"
                             f" supported U8 (packed ternary) or {', '.join(FLOAT_DTYPES)}")
        self.tokenizer = None
        tok = root / TOKENIZER_FILE
        if tok.exists():
            from .tokenizer import load_tokenizer
            self.tokenizer = load_tokenizer(tok)

    def _float(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        path, dtype, got = self.shards.info(name)
        self._float_shape(path, name, dtype, got, shape)
        out = np.empty(shape, np.float32)
        for r0 in range(0, shape[0], ROWS_PER_READ):
            r1 = min(shape[0], r0 + ROWS_PER_READ)
            out[r0:r1] = self.shards.rows(name, r0, r1)
        if not np.isfinite(out).all():
            raise ModelError(f"{path}: tensor {name} holds NaN or infinity")
        return out

    def _ternary(self, name: str, shape: tuple[int, int]) -> Ternary:
        weight = name + ".weight"
        path, dtype, got = self.shards.info(weight)
        n, k = shape
        if self.format == "hf-bf16":
            self._float_shape(path, weight, dtype, got, shape)
            return ternary_from_float(lambda r0, r1: self.shards.rows(weight, r0, r1), shape)
        packed_shape = (-(-n // VALUES_PER_BYTE), k)
        if dtype != "U8":
            raise ModelError(f"{path}: tensor {weight} has dtype {dtype}: a packed checkpoint "
                             f"holds U8 projections")
        if tuple(got) != packed_shape:
            raise ModelError(f"{path}: tensor {weight} has shape {tuple(got)}: expected "
                             f"{packed_shape} (ternary [{n}, {k}] packed 4 rows per byte)")
        codes = unpack_hf_ternary(self.shards.read(weight), n, f"{path}: tensor {weight}")
        scale_name = name + ".weight_scale"
        spath, sdtype, sshape = self.shards.info(scale_name, " (packed projections need one)")
        if sdtype not in FLOAT_DTYPES or int(np.prod(sshape)) != 1:
            raise ModelError(f"{spath}: tensor {scale_name} is {sdtype} {tuple(sshape)}: "
                             f"expected one float value")
        scale = float(np.asarray(self.shards.read(scale_name), np.float32).reshape(-1)[0])
        if not (np.isfinite(scale) and scale > 0):
            raise ModelError(f"{spath}: tensor {scale_name} = {scale}: must be positive")
        return Ternary(codes, scale, self.weight_scale)

    @staticmethod
    def _float_shape(path, name, dtype, got, shape) -> None:
        if dtype not in FLOAT_DTYPES:
            raise ModelError(f"{path}: tensor {name} has dtype {dtype}: allowed "
                             f"{', '.join(FLOAT_DTYPES)}")
        if tuple(got) != tuple(shape):
            raise ModelError(f"{path}: tensor {name} has shape {tuple(got)}: expected "
                             f"{tuple(shape)}")

    def tensors(self) -> Iterator[tuple[str, np.ndarray | Ternary]]:
        cfg = self.config
        emb = (cfg.vocab_size, cfg.hidden_size)
        yield "model.embed_tokens.weight", self._float("model.embed_tokens.weight", emb)
        yield "model.norm.weight", self._float("model.norm.weight", (cfg.hidden_size,))
        if not cfg.tie_word_embeddings:
            yield "lm_head.weight", self._float("lm_head.weight", emb)
        shapes = expected_shapes(cfg)
        for layer in range(cfg.num_hidden_layers):
            for norm in NORMS:
                size = cfg.intermediate_size if norm == "mlp.ffn_sub_norm" else cfg.hidden_size
                name = layer_name(layer, norm) + ".weight"
                yield name, self._float(name, (size,))
            for proj in PROJECTIONS:
                name = layer_name(layer, proj)
                yield name, self._ternary(name, shapes[proj])


def open_hf(path, *, weight_scale: str | None = None) -> HfCheckpoint:
    """Open a Hugging Face BitNet directory (see the module docstring)."""
    return HfCheckpoint(path, weight_scale=weight_scale)
