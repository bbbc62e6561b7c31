"""Peak memory of the ``numpy`` backend for a long-K GEMM: bounded by a small multiple of
the inputs plus a fixed allowance, and still bit-exact (issue: 1 x 1 with K = 16,777,215 took
5.4 GB bit-serial, 2.2 GB ELUT, for 32 MB of inputs)."""

import pytest

from longk import MIB, chunked_reference, long_k_operands, traced_peak
from lutcore.spec.config import preset
from lutcore.host import run_gemm

# Tables and temporaries of one K chunk, whatever K (the unchunked kernels needed 62 MB on
# the core path and 330 MB on the fast bit-serial path at K = 2^20).
ALLOWANCE = 40 * MIB
INPUT_MULTIPLE = 4


def check_bounded(k, mode, path):
    a, w = long_k_operands(k)
    result, peak = traced_peak(run_gemm, a, w, mode=mode, config="default", allow_wrap=True,
                               path=path)
    inputs = a.nbytes + w.nbytes
    assert (result.output == chunked_reference(a, w, preset("default").acc_bits)).all()
    assert peak <= INPUT_MULTIPLE * inputs + ALLOWANCE, (
        f"peak {peak / MIB:.0f} MiB for {inputs / MIB:.0f} MiB of inputs")


@pytest.mark.parametrize("mode", ["bitserial", "elut"])
@pytest.mark.parametrize("path", ["fast", "core"])
def test_long_k_peak_is_bounded(mode, path):
    check_bounded((1 << 20) - 1, mode, path)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["bitserial", "elut"])
def test_k_16m_peak_is_bounded(mode):
    check_bounded((1 << 24) - 1, mode, "fast")
