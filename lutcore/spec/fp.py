"""Floating-point formats of the FP-activation contract (docs/architecture.md,
"Floating-point activations").

Activations may be FP16 or BF16 (``int8`` names the integer path); tables are built in
``table_format`` (FP16, BF16 or FP32) and accumulated in ``acc_format`` (FP16 or FP32). Every
operation is one IEEE 754 operation in its format, rounded to nearest even, with subnormals
(gradual underflow) and infinities as IEEE defines them. This module names the formats and
gives their NumPy types; :mod:`lutcore.sw.kernels.fp` is the golden model, and
:class:`lutcore.hw.fp.FPAdder` the adder built from the same widths.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import LutcoreError

__all__ = [
    "ACC_FORMATS",
    "ACT_FORMATS",
    "FORMATS",
    "TABLE_FORMATS",
    "FpFormat",
    "as_format",
    "check_format",
    "fp_format",
    "from_bits",
    "to_bits",
]


@dataclass(frozen=True)
class FpFormat:
    """A binary floating-point format: ``exp_bits`` exponent and ``man_bits`` fraction bits
    (plus the sign)."""

    name: str
    exp_bits: int
    man_bits: int

    @property
    def width(self) -> int:
        return 1 + self.exp_bits + self.man_bits

    def holds(self, other: "FpFormat") -> bool:
        """Every value of ``other`` is a value of this format (as wide in both fields)."""
        return self.exp_bits >= other.exp_bits and self.man_bits >= other.man_bits

    @property
    def dtype(self) -> np.dtype:
        """The NumPy type: ``float16``, ``float32``, or ``ml_dtypes.bfloat16`` (NumPy itself
        has no bfloat16). NumPy and ml_dtypes add and multiply 16-bit values in float32 and
        round once more; for one operation on p-bit values a first rounding to p' >= 2p + 2
        bits never changes the second (p' = 24, p = 11 or 8), and float32 spans both
        formats' exponents and subnormals, so every operation is correctly rounded."""
        if self.name == "bf16":
            import ml_dtypes
            return np.dtype(ml_dtypes.bfloat16)
        return np.dtype({"fp16": np.float16, "fp32": np.float32}[self.name])

    @property
    def bits_dtype(self) -> np.dtype:
        """The unsigned integer type of the same width (raw bit patterns)."""
        return np.dtype(f"uint{self.width}")


#: Every format of the contract: name -> (exponent bits, fraction bits).
FORMATS: dict[str, FpFormat] = {f.name: f for f in (
    FpFormat("fp16", 5, 10), FpFormat("bf16", 8, 7), FpFormat("fp32", 8, 23))}
#: Activation formats: the integer path and the two 16-bit float formats.
ACT_FORMATS = ("int8", "fp16", "bf16")
#: Table entry formats.
TABLE_FORMATS = ("fp16", "bf16", "fp32")
#: Accumulator (and output) formats.
ACC_FORMATS = ("fp16", "fp32")
#: Partial sums per accumulator: addend i goes to partial i mod ACC_LANES, so that an adder
#: of this many pipeline stages (:class:`lutcore.hw.fp.FPAdder`) accumulates one addend per
#: cycle; the finalize adds the partials as ((p0 + p1) + (p2 + p3)) + p4.
ACC_LANES = 5


def check_format(what: str, name, allowed=tuple(FORMATS)) -> str:
    """``name`` if it is one of ``allowed``, else a one-line :class:`LutcoreError` naming
    ``what``."""
    if not isinstance(name, str) or name not in allowed:
        raise LutcoreError(f"{what} {name!r} is unknown: allowed {', '.join(allowed)}")
    return name


def fp_format(name: str) -> FpFormat:
    """The :class:`FpFormat` called ``name`` (``fp16``, ``bf16``, ``fp32``)."""
    return FORMATS[check_format("format", name)]


def as_format(values, name: str) -> np.ndarray:
    """``values`` in format ``name``, each rounded once to nearest even (exact when it
    already fits: a 16-bit value into FP32)."""
    with np.errstate(over="ignore"):
        return np.asarray(values).astype(fp_format(name).dtype)


def from_bits(raw, name: str) -> np.ndarray:
    """Raw bit patterns (any integer array holding them) as values of format ``name``."""
    f = fp_format(name)
    return np.asarray(raw).astype(f.bits_dtype).view(f.dtype)


def to_bits(values) -> np.ndarray:
    """The raw bit patterns of a float array (``float16``, ``bfloat16``, ``float32``), as
    int64."""
    values = np.asarray(values)
    return values.view(f"uint{values.dtype.itemsize * 8}").astype(np.int64)
