"""The operands of ``lutcore gemm`` and ``lutcore compile``: ``--acts A.npy --weights W.npy``
with ``--mode``, ``--weight-bits B --zero-point Z`` and ``--allow-wrap``, loaded and checked
the same way for both before any work starts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..spec.config import CoreConfig
from ..spec.params import PARAMS
from ..sw.kernels.validate import (check_activations, check_k_match, check_ternary,
                                   check_in_range, check_weights)
from ._config import add_config_arguments
from .inputs import CliError, describe, int_in, load_npy

__all__ = ["MODES", "Operands", "add_operand_arguments", "load_operands", "weight_options"]

MODES = ("bitserial", "elut")


@dataclass(frozen=True)
class Operands:
    """Checked GEMM operands: ``a`` [M, K] and ``w`` [N, K] in int64 (every value in range),
    ``k``, and ``max_weight`` = the largest ``|w|``."""

    a: np.ndarray
    w: np.ndarray
    k: int
    max_weight: int


def add_operand_arguments(parser, out_metavar: str, out_help: str) -> None:
    """Add ``--acts``, ``--weights``, ``--out``, ``--preset/--config``, ``--mode``,
    ``--weight-bits``, ``--zero-point`` and ``--allow-wrap`` to ``parser``."""
    weight_bits = PARAMS["weight_bits"]
    parser.add_argument("--acts", required=True, metavar="A.npy",
                        help="activations, integer [M, K] within act_bits (int8 by default)")
    parser.add_argument("--weights", required=True, metavar="W.npy",
                        help="weights, integer [N, K]: ternary (-1, 0, 1), or with "
                             "--weight-bits/--zero-point B-bit codes w = q - Z")
    parser.add_argument("--out", required=True, metavar=out_metavar, help=out_help)
    add_config_arguments(parser)
    parser.add_argument("--mode", choices=MODES, default="bitserial",
                        help="LUT mode (default: bitserial)")
    parser.add_argument("--weight-bits", type=int_in(weight_bits.lo, weight_bits.hi),
                        metavar="B", help=f"bit-serial weight code bits B, "
                        f"{weight_bits.lo}..{weight_bits.hi} and at most the configuration's "
                        f"weight_bits")
    parser.add_argument("--zero-point", type=int_in(0), metavar="Z",
                        help="bit-serial weight zero point, w = q - Z, 0..2^B - 1")
    parser.add_argument("--allow-wrap", action="store_true",
                        help="accept a GEMM whose worst case overflows acc_bits; the output "
                             "wraps modulo 2^acc_bits")


def load_operands(args, config: CoreConfig, *, act_bits: int | None = None,
                  infer_weights: bool = False) -> Operands:
    """Load and check ``--acts`` and ``--weights`` for ``config`` and ``args.mode``.

    In bit-serial mode ``--weight-bits B`` (at most ``config.weight_bits``) and
    ``--zero-point Z`` (0..2^B - 1) fix the weight codes, ``w`` in ``-Z .. 2^B - 1 - Z``;
    one given alone bounds the weights by every value the other may take, and the compiler
    infers it. Without either the weights are ternary, or with ``infer_weights`` anything
    the configuration's widest codes hold (the compiler infers B and Z). ELUT takes ternary
    weights. Values of every integer dtype are range-checked before any conversion.

    Args:
        act_bits: activation width to check against (default ``config.act_bits``).
        infer_weights: see above (``lutcore compile``).

    Raises:
        LutcoreError: one line naming the argument, the value and what is allowed.
    """
    config.group(args.mode)                       # the mode must be built into the config
    bits, zero = args.weight_bits, args.zero_point
    if args.mode == "elut" and (bits is not None or zero is not None):
        raise CliError("--weight-bits/--zero-point apply to --mode bitserial only: --mode "
                       "elut takes ternary weights")
    if bits is not None and bits > config.weight_bits:
        raise CliError(f"--weight-bits {bits} is out of range for configuration "
                       f"'{config.name}': allowed 1..{config.weight_bits}")
    top = (1 << (config.weight_bits if bits is None else bits)) - 1
    if zero is not None and zero > top:
        raise CliError(f"--zero-point {zero} is out of range: allowed 0..{top} "
                       f"(--weight-bits {bits if bits is not None else config.weight_bits})")
    acts, weights = describe("--acts", args.acts), describe("--weights", args.weights)
    a = check_activations(load_npy("--acts", args.acts),
                          config.act_bits if act_bits is None else act_bits, acts)
    w = load_npy("--weights", args.weights)
    if args.mode == "elut" or (bits is None and zero is None and not infer_weights):
        w = check_ternary(w, weights)
    elif zero is None:                            # any z in 0..top
        w = check_in_range(w, -top, top, weights, f"weight codes of {top.bit_length()} bits",
                           "[N, K]")
    else:                                         # z given, B given or at most top's width
        w = check_weights(w, top.bit_length(), zero, weights)
    k = check_k_match(a.shape, w.shape, acts, weights)
    # Every value is now in range: the conversions are exact.
    a, w = a.astype(np.int64), w.astype(np.int64)
    return Operands(a, w, k, int(np.abs(w).max()))


def weight_options(args) -> dict:
    """The ``weight_bits``/``zero_point`` options given on the command line, as keyword
    options for the compiler and the backends (the ones not given are inferred there)."""
    return {key: value for key, value in (("weight_bits", args.weight_bits),
                                          ("zero_point", args.zero_point))
            if value is not None}
