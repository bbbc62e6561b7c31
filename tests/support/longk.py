"""Long-K GEMM helpers for the peak-memory tests.

- :func:`long_k_operands`: int8 activations [M, K] and ternary weights [N, K].
- :func:`chunked_reference`: ``A @ W.T`` wrapped to ``acc_bits``, computed here in int64 over
  slices of K (independent of the code under test, and itself of bounded memory).
- :func:`traced_peak`: the result of a call and the peak bytes NumPy and Python allocated
  during it (NumPy reports its buffers to :mod:`tracemalloc`).
"""

from __future__ import annotations

import tracemalloc

import numpy as np

MIB = 1 << 20


def long_k_operands(k: int, m: int = 1, n: int = 1, seed: int = 0):
    rng = np.random.default_rng(seed)
    a = rng.integers(-128, 128, (m, k), dtype=np.int8)
    w = rng.integers(-1, 2, (n, k), dtype=np.int8)
    return a, w


def chunked_reference(a, w, acc_bits: int, step: int = 1 << 16) -> np.ndarray:
    total = np.zeros((a.shape[0], w.shape[0]), np.int64)
    for k0 in range(0, a.shape[1], step):
        total += a[:, k0:k0 + step].astype(np.int64) @ w[:, k0:k0 + step].astype(np.int64).T
    half = np.int64(1) << np.int64(acc_bits - 1)
    return (total + half) % (2 * half) - half


def traced_peak(fn, *args, **kwargs):
    """``(fn(*args, **kwargs), peak bytes allocated during the call)``."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        result = fn(*args, **kwargs)
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
