"""BitNet b1.58 quantization and a float ``BitLinear`` forward on the LUT kernels
(DESIGN §2.4).

Weights: ternary by absmean, ``scale = mean|W|``, ``Wq = clip(round(W / scale), -1, 1)``, so
``W ~ Wq * scale``. Activations: int8 per token by absmax, ``s = 127 / max|x|`` per row,
``xq = clip(round(x * s), -127, 127)``, so ``x ~ xq / s``. Then
``x @ W.T ~ (xq @ Wq.T) * scale / s``, where the integer product is :func:`lut_gemm` and is
bit-exact; only the float scaling is approximate.
"""

from __future__ import annotations

import numpy as np

from ...errors import LutcoreError
from ...spec import numerics as nx
from .gemm import PATHS, lut_gemm
from .packing import pack_weights
from .validate import (ACC_BITS_RANGE, ACT_BITS_RANGE, check_choice, check_overflow,
                       check_range)

__all__ = ["quantize_weights_absmean", "quantize_activations_absmax", "BitLinear", "EPS"]

# Floor of the absmean / absmax denominators, so an all-zero weight matrix or token quantizes
# to zeros instead of dividing by zero.
EPS = 1e-5


def _float_array(x, name: str, ndim: int | None = None) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype.kind not in "fiu":
        raise LutcoreError(f"{name} has dtype {x.dtype}: allowed real (float or integer) arrays")
    if ndim is not None and x.ndim != ndim:
        raise LutcoreError(f"{name} must be a {ndim}-D array, got {x.ndim}-D shape {x.shape}")
    if x.ndim == 0 or x.size == 0:
        raise LutcoreError(f"{name} is empty or scalar (shape {x.shape}): need at least one "
                           f"element per dimension")
    if not np.isfinite(x).all():
        raise LutcoreError(f"{name} contains NaN or infinity: allowed finite values")
    return x


def quantize_weights_absmean(w, eps: float = EPS) -> tuple[np.ndarray, float]:
    """Absmean ternary quantization of a float weight matrix (BitNet b1.58).

    Args:
        w: real array [N, K].
        eps: lower bound of the scale.

    Returns:
        ``(wq, scale)``: int8 [N, K] in {-1, 0, 1} and the float ``scale = max(mean|W|, eps)``
        with ``W ~ wq * scale``.

    Raises:
        LutcoreError: ``w`` is not a non-empty 2-D real array of finite values.
    """
    w = _float_array(w, "w", 2).astype(np.float64)
    scale = max(float(np.abs(w).mean()), eps)
    wq = np.clip(np.rint(w / scale), -1, 1).astype(np.int8)
    return wq, scale


def quantize_activations_absmax(x, act_bits: int = 8, eps: float = EPS,
                                dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
    """Per-token absmax quantization of float activations (BitNet b1.58).

    Args:
        x: real array [M, K] (one token per row).
        act_bits: activation width, 2..16; int8 gives ``qmax = 127``.
        eps: lower bound of ``max|x|`` per row.
        dtype: the float type the scaling is computed in (``float64``; the models use
            ``float32``, the precision of their forward pass).

    Returns:
        ``(xq, s)``: integers [M, K] in ``-qmax..qmax`` (int8 for act_bits <= 8, else int16)
        and the per-row scales ``s = qmax / max|x|`` [M, 1] of type ``dtype``, with
        ``x ~ xq / s``.

    Raises:
        LutcoreError: ``x`` is not a non-empty 2-D real array of finite values, or act_bits is
            out of range.
    """
    check_range("act_bits", act_bits, *ACT_BITS_RANGE)
    x = _float_array(x, "x", 2).astype(dtype, copy=False)
    qmax = nx.max_abs_activation(act_bits) - 1     # symmetric range: -128 is never produced
    s = dtype(qmax) / np.maximum(np.abs(x).max(axis=1, keepdims=True), dtype(eps))
    int_type = np.int8 if act_bits <= 8 else np.int16
    xq = np.clip(np.rint(x * s), -qmax, qmax).astype(int_type)
    return xq, s


class BitLinear:
    """A float linear layer ``y = x @ W.T (+ bias)`` run as BitNet b1.58: ternary weights by
    absmean, int8 activations per token by absmax, the integer GEMM on :func:`lut_gemm`.

    Args:
        weight: real array [N, K], quantized and packed once on construction.
        bias: optional real array [N], added in float.
        mode: ``"elut"`` or ``"bitserial"``, the packed form and LUT mode.
        act_bits: activation width (8).
        acc_bits: integer accumulator width (32); a K whose worst case could overflow it is
            refused (DESIGN §2.3).
        path: ``"fast"`` or ``"core"`` (see :func:`lut_gemm`).

    Members:
        packed: the packed ternary weights; ``weight_scale``: the absmean scale;
        in_features (K), out_features (N).

    Raises:
        LutcoreError: bad weight or bias, an unknown mode, or K too large for ``acc_bits``.
    """

    def __init__(self, weight, bias=None, *, mode: str = "elut", act_bits: int = 8,
                 acc_bits: int = 32, path: str = "fast"):
        check_range("act_bits", act_bits, *ACT_BITS_RANGE)
        check_range("acc_bits", acc_bits, *ACC_BITS_RANGE)
        check_choice("path", path, PATHS)
        wq, self.weight_scale = quantize_weights_absmean(weight)
        self.out_features, self.in_features = wq.shape
        check_overflow(self.in_features, act_bits, 1, acc_bits, allow_wrap=False)
        self.packed = pack_weights(wq, mode)
        self.mode, self.act_bits, self.acc_bits, self.path = mode, act_bits, acc_bits, path
        if bias is not None:
            bias = _float_array(bias, "bias", 1).astype(np.float64)
            if bias.shape != (self.out_features,):
                raise LutcoreError(f"bias has shape {bias.shape}: expected ({self.out_features},)"
                                   f" to match weight [N, K] = {wq.shape}")
        self.bias = bias

    def __call__(self, x) -> np.ndarray:
        """Forward ``x`` [..., K] -> float32 [..., N].

        Raises:
            LutcoreError: ``x`` is not a real array of finite values with last dimension K.
        """
        x = _float_array(x, "x")
        if x.shape[-1] != self.in_features:
            raise LutcoreError(f"x has shape {x.shape}: the last dimension must be "
                               f"K = {self.in_features}")
        lead = x.shape[:-1]
        xq, s = quantize_activations_absmax(x.reshape(-1, self.in_features), self.act_bits)
        acc = lut_gemm(xq, self.packed, self.acc_bits, act_bits=self.act_bits, path=self.path)
        y = acc * (self.weight_scale / s)
        if self.bias is not None:
            y = y + self.bias
        return y.astype(np.float32).reshape(lead + (self.out_features,))

    def __repr__(self) -> str:
        return (f"BitLinear(in_features={self.in_features}, out_features={self.out_features}, "
                f"mode={self.mode!r}, weight_bytes={self.packed.nbytes})")
