"""Packed weight forms: storage size, metadata, round trips, and agreement of the derived
core codes with the golden encoders of tables.py."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from lutcore.errors import LutcoreError
from lutcore.sw.kernels import (BitSerialWeights, ElutWeights, encode_bitserial, encode_elut,
                                pack_bitserial, pack_elut, pack_weights)


def ceil_div(a, b):
    return -(-a // b)


@pytest.mark.parametrize("n,k", [(1, 1), (3, 8), (5, 39), (7, 40), (2, 2560)])
def test_ternary_storage_size(n, k):
    rng = np.random.default_rng(k)
    w = rng.integers(-1, 2, (n, k))
    bs, el = pack_bitserial(w), pack_elut(w)
    assert bs.nbytes == 2 * n * ceil_div(k, 8)           # two planes, 8 weights per byte
    assert el.nbytes == n * ceil_div(k, 5)               # 5 weights per byte
    if k % 40 == 0:                                      # no padding: the nominal rates
        assert bs.bits_per_weight == 2.0
        assert el.bits_per_weight == 1.6
    assert bs.planes.dtype == np.uint8 and el.data.dtype == np.uint8


def test_metadata():
    w = np.zeros((4, 9), np.int8)
    bs = pack_bitserial(w, g=5)
    assert (bs.mode, bs.shape, bs.g, bs.weight_bits, bs.zero_point) == ("bitserial", (4, 9), 5,
                                                                         2, 1)
    el = pack_elut(w, g=4)
    assert (el.mode, el.shape, el.g, el.weight_bits, el.zero_point) == ("elut", (4, 9), 4, 2, 1)
    q = pack_bitserial(np.zeros((2, 3), np.int8), weight_bits=4, zero_point=8)
    assert (q.weight_bits, q.zero_point, q.nbytes) == (4, 8, 4 * 2 * 1)
    assert repr(bs) == "BitSerialWeights(shape=(4, 9), g=5, weight_bits=2, zero_point=1, nbytes=16)"
    assert repr(el) == "ElutWeights(shape=(4, 9), g=4, nbytes=8)"


def test_pack_weights_defaults_follow_default_config():
    w = np.ones((2, 6), np.int8)
    assert pack_weights(w, "bitserial").g == 4          # paper's g (DESIGN §2.1)
    assert pack_weights(w, "elut").g == 3               # DESIGN §2.2 default
    assert pack_weights(w, "elut", g=5).g == 5


def test_packed_arrays_are_read_only():
    p = pack_elut(np.ones((2, 6), np.int8))
    with pytest.raises(ValueError):
        p.data[0, 0] = 7


@pytest.mark.parametrize("make", [
    lambda x: ElutWeights(x, k=5),
    lambda x: BitSerialWeights(np.stack([x, x]), k=8),
], ids=["elut", "bitserial"])
def test_hand_built_weights_are_frozen_copies(make):
    # One byte per row: ELUT byte 121 = weights (0, 0, 0, 0, 0); bit-serial byte 0b11 sets
    # bits 0 and 1 of both planes: codes q = 3 -> w = 2 at k = 0, 1.
    source = np.array([[121], [3]], np.uint8)
    packed = make(source)
    before = packed.unpack().copy()
    source[:] = 0                                   # the caller's array changes ...
    np.testing.assert_array_equal(packed.unpack(), before)   # ... the packed one does not
    array = packed.data if packed.mode == "elut" else packed.planes
    assert not array.flags.writeable
    with pytest.raises(ValueError):
        array.setflags(write=True)


def test_known_bytes():
    # ELUT byte = sum_i 3^(4-i) (w_i + 1): weights (1, -1, 0, 0, 1) -> 2*81 + 0 + 9 + 3 + 2.
    el = pack_elut(np.array([[1, -1, 0, 0, 1, -1]]))
    assert el.data.tolist() == [[2 * 81 + 9 + 3 + 2, 0 * 81 + 1 * 27 + 9 + 3 + 1]]
    # Bit-serial: q = w + 1; weights (1, -1, 0) -> q = (2, 0, 1): plane 0 bits (0, 0, 1),
    # plane 1 bits (1, 0, 0), little bit order within a byte.
    bs = pack_bitserial(np.array([[1, -1, 0]]))
    assert bs.planes.tolist() == [[[0b100]], [[0b001]]]


@settings(max_examples=50, deadline=None)
@given(bits=st.integers(1, 4), n=st.integers(1, 5), k=st.integers(1, 45), data=st.data())
def test_round_trip_and_codes(bits, n, k, data):
    z = data.draw(st.integers(0, (1 << bits) - 1))
    g = data.draw(st.integers(2, 6))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    w = rng.integers(-z, (1 << bits) - z, (n, k))
    bs = pack_bitserial(w, g=g, weight_bits=bits, zero_point=z)
    np.testing.assert_array_equal(bs.unpack(), w)
    for sym in (True, False):
        for got, want in zip(bs.codes(sym), encode_bitserial(w, g, bits, z, sym)):
            np.testing.assert_array_equal(got, want)
    t = rng.integers(-1, 2, (n, k))
    ge = data.draw(st.integers(2, 5))
    el = pack_elut(t, g=ge)
    np.testing.assert_array_equal(el.unpack(), t)
    for got, want in zip(el.codes(), encode_elut(t, ge)):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("make,message", [
    (lambda: BitSerialWeights(np.zeros((2, 1, 1), np.uint8), k=9),
     "planes must be a uint8 array [B=2, N, ceil(K/8)=2], got uint8 shape (2, 1, 1)"),
    (lambda: BitSerialWeights(np.zeros((2, 1, 1), np.int8), k=8),
     "planes must be a uint8 array [B=2, N, ceil(K/8)=1], got int8 shape (2, 1, 1)"),
    (lambda: BitSerialWeights(np.zeros((2, 1, 1), np.uint8), k=8, g=7),
     "g = 7 is out of range: allowed 2..6"),
    (lambda: BitSerialWeights(np.zeros((2, 1, 1), np.uint8), k=8, zero_point=4),
     "zero_point = 4 is out of range: allowed 0..3"),
    (lambda: ElutWeights(np.zeros((1, 2), np.uint8), k=11),
     "data must be a uint8 array [N, ceil(K/5)=3], got uint8 shape (1, 2)"),
    (lambda: ElutWeights(np.full((1, 1), 243, np.uint8), k=5),
     "data has byte 243: allowed 0..242 (5 base-3 digits)"),
    (lambda: ElutWeights(np.zeros((1, 1), np.uint8), k=3),
     "data has nonzero padded weights past K = 3: they must be 0 (base-3 digit 1)"),
    (lambda: BitSerialWeights(np.full((2, 1, 1), 8, np.uint8), k=3),
     "planes has nonzero padding bits past K = 3: they must be 0"),
    (lambda: ElutWeights(np.zeros((1, 1), np.uint8), k=5, g=6),
     "g = 6 is out of range: allowed 2..5"),
    (lambda: pack_bitserial(np.zeros((1, 2)), g=4),
     "w has dtype float64: allowed integer dtypes (int8 expected)"),
    (lambda: pack_bitserial(np.array([[0, 3]]), weight_bits=2, zero_point=1),
     "w has value 3 at [0, 1]: allowed -1..2 (weight_bits = 2, zero_point = 1)"),
    (lambda: pack_bitserial(np.zeros((1, 2), np.int8), weight_bits=5),
     "weight_bits = 5 is out of range: allowed 1..4"),
    (lambda: pack_bitserial(np.zeros((1, 2), np.int8), g=True),
     "g = True is invalid: must be an integer in 2..6"),
    (lambda: pack_elut(np.array([[0, -2]])),
     "w is not ternary: value -2 at [0, 1]; allowed -1, 0, 1"),
    (lambda: pack_weights(np.zeros((1, 2), np.int8), "mac"),
     "mode = 'mac' is unknown: allowed 'bitserial', 'elut'"),
])
def test_errors(make, message):
    with pytest.raises(LutcoreError) as e:
        make()
    assert str(e.value) == message
