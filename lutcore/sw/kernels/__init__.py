"""Golden model and host CPU path: bit-exact vectorised NumPy kernels (DESIGN §2).

- :mod:`.tables`: activation tables (symmetrized and full bit-serial, ELUT) and weight
  encoding;
- :mod:`.packing`: packed weights (:class:`BitSerialWeights`, :class:`ElutWeights`);
- :mod:`.gemm`: ``lut_gemm`` (host fast path and core path) and the int64 reference;
- :mod:`.native`: the fast path's lookup-and-sum loop compiled from C (``lookup.c``), with the
  NumPy loop as its fallback and its test oracle;
- :mod:`.bitnet`: BitNet b1.58 quantization and ``BitLinear``;
- :mod:`.validate`: input checks shared by the kernels and the compiler;
- :mod:`.backend`: the ``numpy`` GEMM backend.

Typical use::

    from lutcore.sw.kernels import pack_elut, lut_gemm, reference_gemm
    packed = pack_elut(w)              # ternary int8 [N, K] -> 1.6 bits/weight
    o = lut_gemm(a, packed)            # int8 [M, K] -> int64 [M, N], wrapped to 32 bits
    assert (o == reference_gemm(a, w)).all()
"""

from .bitnet import EPS, BitLinear, quantize_activations_absmax, quantize_weights_absmean
from .gemm import FAST_GROUP, PATHS, lut_gemm, reference_gemm, ternary_gemm
from .packing import (BitSerialWeights, ElutWeights, pack_bitserial, pack_elut,
                      pack_weights)
from .tables import (balanced_ternary_digits, bitserial_full_tables, bitserial_tables,
                     elut_tables, encode_bitserial, encode_elut, group_activations,
                     num_groups)
from .validate import check_activations, check_k_match, check_overflow, check_ternary

__all__ = [
    # GEMM
    "reference_gemm", "lut_gemm", "ternary_gemm", "PATHS", "FAST_GROUP",
    # packed weights
    "BitSerialWeights", "ElutWeights", "pack_bitserial", "pack_elut", "pack_weights",
    # BitNet b1.58
    "quantize_weights_absmean", "quantize_activations_absmax", "BitLinear", "EPS",
    # golden tables and codes (DESIGN §2.1, §2.2)
    "num_groups", "group_activations", "bitserial_tables", "bitserial_full_tables",
    "encode_bitserial", "balanced_ternary_digits", "elut_tables", "encode_elut",
    # input checks
    "check_activations", "check_ternary", "check_k_match", "check_overflow",
]
