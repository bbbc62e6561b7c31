"""compile_gemm_parts: programs over ranges of K whose images stay bounded, whose wrapped
sum is the exact GEMM, and whose compile + ISS run has a bounded peak for a long K."""

import numpy as np
import pytest

from longk import MIB, chunked_reference, long_k_operands, traced_peak
from lutcore.errors import LutcoreError
from lutcore.spec import numerics as nx
from lutcore.spec.config import preset
from lutcore.sw.compiler import compile_gemm, compile_gemm_parts
from lutcore.host import run_program

ACC_BITS = preset("default").acc_bits


def run_parts(a, w, **kw):
    """(wrapped sum of the parts' ISS outputs, number of parts, largest image bytes)."""
    total, count, largest = np.zeros((a.shape[0], w.shape[0]), np.int64), 0, 0
    for program in compile_gemm_parts(a, w, config="default", **kw):
        total = nx.wrap(total + run_program(program).output, ACC_BITS)
        count += 1
        largest = max(largest, sum(image.nbytes for image in program.images))
    return total, count, largest


@pytest.mark.parametrize("mode", ["bitserial", "elut"])
def test_long_k_parts_peak_is_bounded(mode):
    # compile_gemm of all of this K at once peaks at 27 MiB (all weight and activation
    # images, and the int64 activations); the parts stay under 1 MiB of images each.
    limit = 1 * MIB
    a, w = long_k_operands((1 << 18) - 1)
    (out, count, largest), peak = traced_peak(run_parts, a, w, mode=mode, allow_wrap=True,
                                              max_image_bytes=limit)
    assert count > 1 and largest <= limit
    np.testing.assert_array_equal(out, chunked_reference(a, w, ACC_BITS))
    assert peak <= 4 * (a.nbytes + w.nbytes) + 4 * limit + 4 * MIB, f"peak {peak / MIB:.1f} MiB"


@pytest.mark.parametrize("mode", ["bitserial", "elut"])
@pytest.mark.parametrize("limit", [20_000, 60_000, 200_000])
def test_parts_add_up_exactly(mode, limit):
    # Several rows, columns and tiles, a K that is not a whole number of groups, weights with
    # B = 3, z = 2 in bit-serial mode, and outputs that wrap: the wrapped sum is exact.
    rng = np.random.default_rng(limit)
    m, n, k = 5, 70, 4099
    a = rng.integers(-128, 128, (m, k)).astype(np.int16)
    w = rng.integers(-1, 2, (n, k)) if mode == "elut" else rng.integers(-2, 6, (n, k))
    a[:, :2000] = -128
    w[:, :2000] = w.min()
    out, count, _ = run_parts(a, w, mode=mode, allow_wrap=True, max_image_bytes=limit)
    assert count > 1
    np.testing.assert_array_equal(out, chunked_reference(a, w, ACC_BITS, step=97))


def test_one_part_is_compile_gemm():
    rng = np.random.default_rng(3)
    a, w = rng.integers(-128, 128, (3, 300)), rng.integers(-1, 2, (9, 300))
    (program,) = compile_gemm_parts(a, w, mode="elut")
    whole = compile_gemm(a, w, mode="elut")
    assert program.meta == whole.meta and program.shape == whole.shape
    for got, want in zip(program.images, whole.images, strict=True):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(program.phases, whole.phases, strict=True):
        np.testing.assert_array_equal(got.instructions, want.instructions)


@pytest.mark.parametrize("kw, message", [
    (dict(max_image_bytes=0), "max_image_bytes = 0 is invalid: allowed an integer >= 1"),
    (dict(max_image_bytes=True), "max_image_bytes = True is invalid"),
    (dict(path="fast"), "compile_gemm_parts option(s) ['path'] are unknown"),
    (dict(mode="elut", weight_bits=2), "weight_bits and zero_point apply to mode 'bitserial'"),
])
def test_refused_when_called(kw, message):
    # Refused on the call itself, before any program is asked for.
    with pytest.raises(LutcoreError) as e:
        compile_gemm_parts(np.zeros((1, 8), np.int8), np.zeros((1, 8), np.int8), **kw)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_unsigned_64_bit_inputs_are_refused_not_wrapped():
    a = np.zeros((1, 8), np.uint64)
    a[0, 3] = (1 << 63) + 5                 # read as int64 this would be negative
    with pytest.raises(LutcoreError, match=r"acts has value 9223372036854775813 at \[0, 3\]"):
        compile_gemm(a, np.zeros((1, 8), np.int8))
    w = np.zeros((1, 8), np.uint64)
    w[0, 0] = 1 << 63
    with pytest.raises(LutcoreError, match="9223372036854775808"):
        compile_gemm(np.zeros((1, 8), np.int8), w, mode="elut")
