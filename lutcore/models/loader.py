"""``load_model``: open a checkpoint in any supported format, pack its ternary projections
once for a LUT mode (or read them from the load cache), and hand back a
:class:`~lutcore.models.bitnet.BitNetModel` on a backend."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from ..errors import ModelError
from .bitnet import BitNetModel, GemmEngine, Projection
from .cache import read_cache, write_cache
from .checkpoint import Checkpoint, Ternary

__all__ = ["open_checkpoint", "load_model", "FORMATS"]

#: The formats :func:`open_checkpoint` reads, by how they are recognised.
FORMATS = {
    "hf-packed": "a directory with config.json and model.safetensors (uint8 packed ternary "
                 "projections with weight_scale)",
    "hf-bf16": "a directory with config.json and model.safetensors (bf16/f16/f32 "
               "projections, quantized on load by absmean)",
    "gguf": "a .gguf file (projections TQ1_0, TQ2_0, I2_S, or F32/F16/BF16 quantized on load)",
}


def open_checkpoint(path, *, weight_scale: str | None = None) -> Checkpoint:
    """Open ``path``: a Hugging Face directory or a ``.gguf`` file (:data:`FORMATS`)."""
    p = Path(path)
    if not p.exists():
        raise ModelError(f"{p}: no such file or directory")
    if p.is_dir():
        from .hf import open_hf
        return open_hf(p, weight_scale=weight_scale)
    if p.suffix.lower() == ".gguf":
        from .gguf import open_gguf
        return open_gguf(p, weight_scale=weight_scale)
    raise ModelError(f"{p}: not a model: expected a Hugging Face directory (config.json, "
                     f"model.safetensors) or a .gguf file")


def load_model(path, *, backend: str = "numpy", mode: str = "elut", config="default",
               weight_scale: str | None = None, cache=None,
               progress: Callable[[str], None] | None = None,
               **device_options) -> BitNetModel:
    """Load a BitNet b1.58 model for ``backend`` (``numpy``, ``iss``, ``rtl``, ``uart``) and
    LUT ``mode`` (``elut`` or ``bitserial``) on the core configuration ``config``.

    Args:
        path: a Hugging Face directory or a ``.gguf`` file, or an opened
            :class:`~lutcore.models.checkpoint.Checkpoint`.
        weight_scale: how a stored scale applies (``divide`` or ``multiply``); by default
            what the format says (see :mod:`lutcore.models.hf`).
        cache: a ``.npz`` path for the load cache: read when it matches the checkpoint,
            mode and group size, else (re)written after loading.
        progress: called with a short line as layers load.
        device_options: the backend's device options (rtl: seed, idle, stall, waves; uart:
            port, baud, ...), checked before anything loads. The device itself opens at
            the first GEMM and serves every GEMM until the model is closed.

    Raises:
        ModelError: a missing, corrupt or unsupported file or tensor (one line naming it).
        LutcoreError: a bad backend, mode, configuration or option.
    """
    started = time.perf_counter()
    engine = GemmEngine(backend, mode, config, **device_options)
    tokenizer = None
    if isinstance(path, Checkpoint):
        ck, path, cache = path, path.path, None
    else:
        ck = None
    hit = read_cache(cache, path, mode, engine.group) if cache else None
    if hit is not None:
        cfg, floats, packed, fmt = hit
        projections = {n: Projection.single(n, *value) for n, value in packed.items()}
        tok = Path(path) / "tokenizer.json"
        if tok.exists():
            from .tokenizer import load_tokenizer
            tokenizer = load_tokenizer(tok)
        elif Path(path).suffix.lower() == ".gguf":
            tokenizer = open_checkpoint(path, weight_scale=weight_scale).tokenizer
    else:
        ck = ck or open_checkpoint(path, weight_scale=weight_scale)
        cfg, fmt, tokenizer = ck.config, ck.format, ck.tokenizer
        floats, projections = {}, {}
        for name, value in ck.tensors():
            if isinstance(value, Ternary):
                projections[name] = engine.pack(name, value)
            else:
                floats[name] = value
            if progress and name.endswith("mlp.down_proj"):
                progress(f"packed {name.rsplit('.mlp', 1)[0]}")
        if cache:
            write_cache(cache, path, fmt, mode, engine.group, cfg, floats, projections)
    return BitNetModel(cfg, floats, projections, engine, format=fmt, path=str(path),
                       tokenizer=tokenizer, load_seconds=time.perf_counter() - started)
