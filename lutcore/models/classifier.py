"""A ternary MLP classifier (``model_type`` ``bitnet-mlp``) whose BitLinear layers run on a
chosen backend through the same :class:`~lutcore.models.bitnet.GemmEngine` as the decoder,
and the 8x8 handwritten digits it is trained on (``examples/digits``).

The model: ``sizes = [in, h1, ..., classes]``; for each layer ``i`` an RMSNorm
(``layers.i.norm.weight``, float [sizes[i]]) then a BitLinear ``sizes[i] -> sizes[i+1]``
(``layers.i.linear.weight``, the packed uint8 layout of :mod:`lutcore.models.hf`, with
``layers.i.linear.weight_scale``), a ReLU between layers, the last BitLinear's outputs the
logits. A BitLinear is the decoder's: per-token absmax int8 activations, the integer GEMM on
the backend, the float32 epilogue ``y = y_int / (s * weight_scale)``. One image is one
token (a row), so a batch of images is one GEMM per layer and the logits of an image do
not depend on the batch it is in.

The directory is read by the Hugging Face reader (``config.json``, ``model.safetensors``)
with the same checks and one-line :class:`~lutcore.errors.ModelError`\\ s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import ModelError
from ..sw.kernels.bitnet import EPS, quantize_activations_absmax
from .bitnet import F32, EngineSession, GemmEngine, Projection, rms_norm
from .checkpoint import Ternary
from .hf import CONFIG_FILE, HfCheckpoint, _read_json, _Shards

__all__ = ["MODEL_TYPE", "ClassifierConfig", "ClassifierCheckpoint", "TernaryMLP",
           "load_classifier", "digits_split", "DIGITS_HELD_OUT", "DIGITS_SEED", "DIGITS_MODEL",
           "norm_name", "linear_name"]

MODEL_TYPE = "bitnet-mlp"
#: Images of the digits data set kept out of training (a stratified split by this seed).
DIGITS_HELD_OUT = 360
DIGITS_SEED = 0
#: The committed digit classifier (trained by :mod:`lutcore.models.train_digits`).
DIGITS_MODEL = Path(__file__).resolve().parents[2] / "examples" / "digits"


def norm_name(i: int) -> str:
    """The tensor name of layer ``i``'s RMSNorm weight."""
    return f"layers.{i}.norm.weight"


def linear_name(i: int) -> str:
    """The module name of layer ``i``'s BitLinear (``.weight``, ``.weight_scale`` beside)."""
    return f"layers.{i}.linear"


@dataclass(frozen=True)
class ClassifierConfig:
    """The architecture in ``config.json``: ``sizes`` (input, hidden..., classes) and the
    RMSNorm ``rms_norm_eps``."""

    sizes: tuple[int, ...]
    rms_norm_eps: float = 1e-5

    @classmethod
    def from_dict(cls, d: dict, source: str) -> "ClassifierConfig":
        if d.get("model_type") != MODEL_TYPE:
            raise ModelError(f"{source}: model_type {d.get('model_type')!r}: a classifier is "
                             f"{MODEL_TYPE!r}")
        sizes, eps = d.get("sizes"), d.get("rms_norm_eps", 1e-5)
        if (not isinstance(sizes, list) or len(sizes) < 2 or
                not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1
                        for s in sizes)):
            raise ModelError(f"{source}: config sizes = {sizes!r}: must be a list of at least "
                             f"two positive integers (input, ..., classes)")
        if not (isinstance(eps, (int, float)) and not isinstance(eps, bool) and
                math.isfinite(eps) and eps > 0):
            raise ModelError(f"{source}: config rms_norm_eps = {eps!r}: must be a positive "
                             f"number")
        if d.get("hidden_act", "relu") != "relu":
            raise ModelError(f"{source}: config hidden_act {d['hidden_act']!r}: only 'relu' "
                             f"is supported")
        return cls(tuple(sizes), float(eps))

    def to_dict(self) -> dict:
        return {"model_type": MODEL_TYPE, "sizes": list(self.sizes),
                "rms_norm_eps": self.rms_norm_eps, "hidden_act": "relu"}

    @property
    def layers(self) -> int:
        return len(self.sizes) - 1


class ClassifierCheckpoint(HfCheckpoint):
    """A ``bitnet-mlp`` directory opened for loading: the Hugging Face reader's safetensors
    access, packed-projection and float-tensor checks (:class:`HfCheckpoint`), over this
    model's config and tensor names."""

    def __init__(self, path):
        root = Path(path)
        if not root.is_dir():
            why = (f"a classifier is a directory with {CONFIG_FILE} and model.safetensors"
                   if root.exists() else "no such file or directory")
            raise ModelError(f"{root}: {why}")
        cfg_path = root / CONFIG_FILE
        self.config = ClassifierConfig.from_dict(_read_json(cfg_path), str(cfg_path))
        self.path, self.format, self.weight_scale = str(root), "hf-packed", "divide"
        self.tokenizer = None
        self.shards = _Shards(root)

    def tensors(self) -> Iterator[tuple[str, np.ndarray | Ternary]]:
        sizes = self.config.sizes
        for i in range(self.config.layers):
            yield norm_name(i), self._float(norm_name(i), (sizes[i],))
            yield linear_name(i), self._ternary(linear_name(i), (sizes[i + 1], sizes[i]))


class TernaryMLP(EngineSession):
    """A loaded classifier on one backend (build it with :func:`load_classifier`).

    ``logits(images)`` -> float32 [B, classes] for float images [B, in]; ``predict`` -> the
    argmax (ties to the lowest class). Use as a context manager (or call :meth:`close`) so
    that a device session is released.
    """

    def __init__(self, config: ClassifierConfig, norms: list[np.ndarray],
                 projections: list[Projection], engine: GemmEngine, path: str = ""):
        self.config, self.norms, self.projections = config, norms, projections
        self.engine, self.path = engine, path
        self.images = 0

    @property
    def weight_bytes(self) -> int:
        return sum(p.packed.nbytes for p in self.projections)

    def logits(self, images) -> np.ndarray:
        """Float32 logits [B, classes] of float images [B, in] (one GEMM per layer)."""
        x = np.asarray(images)
        width = self.config.sizes[0]
        if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] != width or x.dtype.kind not in "fiu":
            raise ModelError(f"images must be a real array [B, {width}] with B >= 1, got "
                             f"{x.dtype} shape {x.shape}")
        if not np.isfinite(x).all():
            raise ModelError("images contain NaN or infinity: allowed finite values")
        x = x.astype(F32)
        last = self.config.layers - 1
        with np.errstate(over="ignore", invalid="ignore"):
            for i, (norm, proj) in enumerate(zip(self.norms, self.projections)):
                h = rms_norm(x, norm, self.config.rms_norm_eps)
                xq, s = quantize_activations_absmax(h, 8, EPS, dtype=F32)
                x, = proj.epilogue(self.engine(xq, proj), s)
                if i < last:
                    x = np.maximum(x, F32(0))
        if not np.isfinite(x).all():
            raise ModelError(f"{self.path or 'the classifier'}: the forward pass overflows "
                             f"float32: its norms or scales are out of range")
        self.images += x.shape[0]
        return x

    def predict(self, images) -> np.ndarray:
        """The predicted class of each image, int64 [B]."""
        return np.argmax(self.logits(images), axis=1)


def load_classifier(path, *, backend: str = "numpy", mode: str = "elut", config="default",
                    **device_options) -> TernaryMLP:
    """Load a ``bitnet-mlp`` directory for ``backend`` (``numpy``, ``iss``, ``rtl``,
    ``uart``) and LUT ``mode`` on the core configuration ``config``; the projections are
    packed once and one device session serves every GEMM (``device_options`` as for
    :func:`~lutcore.models.load_model`, e.g. ``transport=`` for ``uart``).

    Raises:
        ModelError: a missing, corrupt or inconsistent file or tensor (one line naming it).
        LutcoreError: a bad backend, mode, configuration or option.
    """
    engine = GemmEngine(backend, mode, config, **device_options)
    ck = ClassifierCheckpoint(path)
    norms, projections = [], []
    for name, value in ck.tensors():
        if isinstance(value, Ternary):
            projections.append(engine.pack(name, value))
        else:
            norms.append(value)
    return TernaryMLP(ck.config, norms, projections, engine, path=ck.path)


def digits_split(seed: int = DIGITS_SEED, held_out: int = DIGITS_HELD_OUT):
    """The 8x8 digits of scikit-learn (``load_digits``, shipped in its wheel), split once:
    ``(x_train, y_train, x_test, y_test)``, images float32 [n, 64] of pixel values 0..16,
    the ``held_out`` test images stratified by class with ``seed``; training never sees
    them."""
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError as e:
        raise ModelError(f"the digits data set needs scikit-learn: {e}") from None
    data = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data.astype(np.float32), data.target.astype(np.int64), test_size=held_out,
        random_state=seed, stratify=data.target)
    return x_train, y_train, x_test, y_test

