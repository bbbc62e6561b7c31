"""The ``numpy`` GEMM backend: the golden kernels on the host CPU (see lutcore.backends).

``run_gemm`` runs a ternary GEMM the way the configured core would compute it, bit-exact:
the output width is ``config.acc_bits`` and the activation width ``config.act_bits``; the
weights are packed for ``config.g`` (bit-serial) or ``config.elut_g`` (ELUT). By default the
host fast path computes the lookups (byte-indexed tables over 8 activations per bit plane,
or 5 per ELUT byte; see :mod:`lutcore.sw.kernels.gemm`), which gives the same integers as the
core's own g; ``path="core"`` uses the configured g and table symmetrization instead.
No hardware time is modelled, so ``cycles`` and ``utilization`` are None.
"""

from __future__ import annotations

import time

from ...backends import GemmResult
from ...errors import LutcoreError
from ...spec.config import CoreConfig, preset
from .gemm import FAST_GROUP, PATHS, lut_gemm
from .packing import pack_bitserial, pack_elut
from .validate import check_activations, check_choice, check_k_match, check_overflow, check_ternary

__all__ = ["run_gemm"]

_OPTIONS = ("allow_wrap", "path")


def run_gemm(a, w, *, mode: str = "bitserial", config: CoreConfig | str = "default",
             allow_wrap: bool = False, path: str = "fast", **options) -> GemmResult:
    """Run ``O = A @ W.T`` on the host with the golden LUT kernels.

    Args:
        a: int8 activations [M, K] (any integer dtype within ``config.act_bits``).
        w: ternary weights [N, K].
        mode: ``"bitserial"`` or ``"elut"`` (must be built into ``config``).
        config: the core configuration whose widths and group sizes to follow, or a preset
            name.
        allow_wrap: accept a K whose worst case overflows ``config.acc_bits``; the output
            then wraps modulo 2^acc_bits (DESIGN §2.3).
        path: ``"fast"`` (host path) or ``"core"`` (the configured table geometry).

    Returns:
        GemmResult with ``output`` int64 [M, N]; ``info`` holds the path, the lookup group
        size, the packed weight bytes and the wall time in seconds.

    Raises:
        LutcoreError: bad inputs, an unknown option, or a GEMM that could overflow without
            ``allow_wrap``. ConfigError: an unknown preset, or ``mode`` not built into
            ``config``.
    """
    if options:
        raise LutcoreError(f"backend 'numpy' does not take option(s) {sorted(options)}: "
                           f"allowed {', '.join(_OPTIONS)}")
    if isinstance(config, str):
        config = preset(config)
    if not isinstance(config, CoreConfig):
        raise LutcoreError(f"config must be a CoreConfig or a preset name, got "
                           f"{type(config).__name__}")
    check_choice("mode", mode, ("bitserial", "elut"))
    check_choice("path", path, PATHS)
    g = config.group(mode)                  # raises ConfigError if the mode is not built
    a = check_activations(a, config.act_bits, "a")
    w = check_ternary(w, "w")
    k = check_k_match(a.shape, w.shape)
    check_overflow(k, config.act_bits, 1, config.acc_bits, bool(allow_wrap))
    packed = pack_bitserial(w, g=g) if mode == "bitserial" else pack_elut(w, g=g)
    start = time.perf_counter()
    out = lut_gemm(a, packed, config.acc_bits, act_bits=config.act_bits, path=path,
                   symmetrize=config.symmetrize)
    seconds = time.perf_counter() - start
    return GemmResult(out, info={
        "backend": "numpy", "path": path,
        "lookup_group": FAST_GROUP[mode] if path == "fast" else g,
        "weight_bytes": packed.nbytes, "seconds": seconds,
    })
