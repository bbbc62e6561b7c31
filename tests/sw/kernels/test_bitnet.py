"""BitNet b1.58 quantization and the float BitLinear forward (DESIGN §2.4)."""

import numpy as np
import pytest

from lutcore.errors import LutcoreError
from lutcore.sw.kernels import (BitLinear, quantize_activations_absmax,
                                quantize_weights_absmean)


def test_absmean_weights_by_hand():
    w = np.array([[0.5, -1.5, 0.1], [2.0, 0.0, -0.2]])
    wq, scale = quantize_weights_absmean(w)
    assert scale == pytest.approx(4.3 / 6)            # mean |W|
    # W / scale = [[0.70, -2.09, 0.14], [2.79, 0, -0.28]] -> round, clip to [-1, 1]
    assert wq.dtype == np.int8
    assert wq.tolist() == [[1, -1, 0], [1, 0, 0]]


def test_absmax_activations_by_hand():
    x = np.array([[1.0, -2.0, 0.5], [0.0, 0.0, 0.0]])
    xq, s = quantize_activations_absmax(x)
    # row 0: s = 127 / 2 -> [63.5, -127, 31.75] -> round half to even -> [64, -127, 32]
    assert xq.dtype == np.int8
    assert xq.tolist() == [[64, -127, 32], [0, 0, 0]]
    assert s[0, 0] == pytest.approx(63.5)
    assert np.isfinite(s).all()                         # an all-zero token does not divide by 0


@pytest.mark.parametrize("mode", ["elut", "bitserial"])
@pytest.mark.parametrize("path", ["fast", "core"])
def test_bitlinear_forward(mode, path):
    rng = np.random.default_rng(7)
    k, n = 96, 24
    w = rng.normal(size=(n, k))
    bias = rng.normal(size=n)
    x = rng.normal(size=(2, 3, k))
    layer = BitLinear(w, bias, mode=mode, path=path)
    y = layer(x)
    assert y.shape == (2, 3, n) and y.dtype == np.float32
    # Same maths from the quantized integers, with the GEMM done here in int64.
    wq, scale = quantize_weights_absmean(w)
    xq, s = quantize_activations_absmax(x.reshape(-1, k))
    ints = xq.astype(np.int64) @ wq.astype(np.int64).T
    want = (ints * (scale / s) + bias).reshape(2, 3, n)
    np.testing.assert_allclose(y, want, rtol=1e-6, atol=1e-5)
    # And close to the float layer with the ternary weights (activation rounding only:
    # each product term is off by at most scale * max|x| / 127 / 2).
    float_y = x @ (wq * scale).T + bias
    bound = k * scale * np.abs(x).max(axis=-1, keepdims=True) / 127 / 2
    assert (np.abs(y - float_y) <= bound + 1e-5).all()
    assert layer.packed.mode == mode and layer.in_features == k and layer.out_features == n


@pytest.mark.parametrize("make,message", [
    (lambda: BitLinear(np.zeros((2, 3)))(np.zeros((4, 5))),
     "x has shape (4, 5): the last dimension must be K = 3"),
    (lambda: BitLinear(np.zeros((2, 3)), bias=np.zeros(3)),
     "bias has shape (3,): expected (2,) to match weight [N, K] = (2, 3)"),
    (lambda: BitLinear(np.zeros(3)),
     "w must be a 2-D array, got 1-D shape (3,)"),
    (lambda: quantize_activations_absmax(np.array([[np.nan, 1.0]])),
     "x contains NaN or infinity: allowed finite values"),
    (lambda: quantize_weights_absmean(np.array([["a"]])),
     "w has dtype <U1: allowed real (float or integer) arrays"),
    (lambda: BitLinear(np.zeros((2, 3)), path="gpu"),
     "path = 'gpu' is unknown: allowed 'fast', 'core'"),
    (lambda: BitLinear(np.zeros((1, 70000)), acc_bits=24),
     "K = 70000 could overflow acc_bits = 24: worst case |O| = 8960000 > 8388607; allow "
     "wrapping (--allow-wrap / allow_wrap=True) to get the result modulo 2^24"),
])
def test_errors(make, message):
    with pytest.raises(LutcoreError) as e:
        make()
    assert str(e.value) == message
