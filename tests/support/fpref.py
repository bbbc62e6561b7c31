"""An exact IEEE 754 reference in Python integers, independent of NumPy: formats, decode,
round to nearest even, and the operations of the floating-point contract on bit patterns
(addition, multiplication, negation, scaling by a power of two, conversion, product with a
small integer). Used by the FP adder and multiplier tests and the FP golden-model tests."""

from __future__ import annotations

from dataclasses import dataclass

from lutcore.spec.fp import FORMATS


@dataclass(frozen=True)
class Fmt:
    """A binary interchange-style format: ``exp_bits`` exponent and ``man_bits`` fraction
    bits, and its landmark bit patterns."""

    exp_bits: int
    man_bits: int

    @property
    def width(self) -> int:
        return 1 + self.exp_bits + self.man_bits

    @property
    def bias(self) -> int:
        return (1 << (self.exp_bits - 1)) - 1

    @property
    def exp_max(self) -> int:
        return (1 << self.exp_bits) - 1

    @property
    def sign(self) -> int:
        return 1 << (self.width - 1)

    @property
    def inf(self) -> int:
        return self.exp_max << self.man_bits

    @property
    def nan(self) -> int:
        """The canonical quiet NaN."""
        return self.inf | (1 << (self.man_bits - 1))

    @property
    def max_finite(self) -> int:
        return self.inf - 1

    @property
    def min_normal(self) -> int:
        return 1 << self.man_bits

    @property
    def one(self) -> int:
        return self.bias << self.man_bits

    def pattern(self, exponent: int, fraction: int = 0, sign: int = 0) -> int:
        return (sign << (self.width - 1)) | (exponent << self.man_bits) | fraction


FMT = {name: Fmt(f.exp_bits, f.man_bits) for name, f in FORMATS.items()}
FP64 = Fmt(11, 52)


def decode(x: int, f: Fmt) -> tuple[int, str, int, int]:
    """(sign, kind, significand, exponent): ``kind`` is ``"nan"``, ``"inf"`` or ``"finite"``,
    a finite value being ``(-1)^sign * significand * 2^exponent``."""
    sign = x >> (f.width - 1)
    e, frac = (x >> f.man_bits) & f.exp_max, x & ((1 << f.man_bits) - 1)
    if e == f.exp_max:
        return sign, "nan" if frac else "inf", 0, 0
    if e == 0:
        return sign, "finite", frac, 1 - f.bias - f.man_bits
    return sign, "finite", frac | (1 << f.man_bits), e - f.bias - f.man_bits


def round_nearest_even(sign: int, num: int, exp2: int, f: Fmt) -> int:
    """Bit pattern nearest to ``(-1)^sign * num * 2^exp2`` (``num > 0``), ties to even,
    infinity past the largest finite value."""
    top = num.bit_length() - 1 + exp2                    # floor(log2 |value|)
    quantum = max(top, 1 - f.bias) - f.man_bits          # exponent of the ULP there
    if exp2 >= quantum:
        sig = num << (exp2 - quantum)
    else:
        drop = quantum - exp2
        sig, rest, half = num >> drop, num & ((1 << drop) - 1), 1 << (drop - 1)
        if rest > half or (rest == half and sig & 1):
            sig += 1
    if sig >> (f.man_bits + 1):                          # rounded up to the next binade
        sig, quantum = sig >> 1, quantum + 1
    biased = quantum + f.man_bits + f.bias if sig >> f.man_bits else 0
    if biased >= f.exp_max:
        return (sign << (f.width - 1)) | f.inf
    return f.pattern(biased, sig & ((1 << f.man_bits) - 1), sign)


def exact_add(a: int, b: int, f: Fmt) -> int:
    """IEEE 754 ``a + b`` in round-to-nearest-even from the exact sum (canonical NaN)."""
    sa, ka, ma, ea = decode(a, f)
    sb, kb, mb, eb = decode(b, f)
    if "nan" in (ka, kb) or (ka == kb == "inf" and sa != sb):
        return f.nan
    if ka == "inf" or kb == "inf":
        return (sa if ka == "inf" else sb) << (f.width - 1) | f.inf
    low = min(ea, eb)
    total = (-1) ** sa * (ma << (ea - low)) + (-1) ** sb * (mb << (eb - low))
    if total == 0:
        return (sa << (f.width - 1)) if sa == sb else 0
    return round_nearest_even(int(total < 0), abs(total), low, f)


def exact_mul(a: int, b: int, f: Fmt, out: Fmt | None = None) -> int:
    """IEEE 754 ``a * b`` of two ``f`` patterns, the exact product rounded once to nearest
    even into ``out`` (default ``f``): NaN (canonical) for a NaN operand or ``inf * 0``, an
    infinity or a zero of the product's sign."""
    out = f if out is None else out
    sa, ka, ma, ea = decode(a, f)
    sb, kb, mb, eb = decode(b, f)
    sign = sa ^ sb
    zero_a, zero_b = ka == "finite" and ma == 0, kb == "finite" and mb == 0
    if "nan" in (ka, kb) or (ka == "inf" and zero_b) or (kb == "inf" and zero_a):
        return out.nan
    if "inf" in (ka, kb):
        return (sign << (out.width - 1)) | out.inf
    if zero_a or zero_b:
        return _signed_zero(sign, out)
    return round_nearest_even(sign, ma * mb, ea + eb, out)


def _signed_zero(sign: int, f: Fmt) -> int:
    return sign << (f.width - 1)


def negate(x: int, f: Fmt) -> int:
    """``-x``: the sign bit flipped (exact; NaN stays NaN)."""
    return x ^ f.sign


def exact_sub(a: int, b: int, f: Fmt) -> int:
    return exact_add(a, negate(b, f), f)


def scale_pow2(x: int, k: int, f: Fmt) -> int:
    """``x * 2^k`` rounded once (exact unless it overflows or lands among subnormals)."""
    s, kind, sig, e = decode(x, f)
    if kind != "finite":
        return f.nan if kind == "nan" else x
    if sig == 0:
        return x
    return round_nearest_even(s, sig, e + k, f)


def convert(x: int, src: Fmt, dst: Fmt) -> int:
    """``x`` of format ``src`` rounded once into ``dst``."""
    s, kind, sig, e = decode(x, src)
    if kind == "nan":
        return dst.nan
    if kind == "inf":
        return (s << (dst.width - 1)) | dst.inf
    if sig == 0:
        return _signed_zero(s, dst)
    return round_nearest_even(s, sig, e, dst)


def times_int(c: int, x: int, f: Fmt) -> int:
    """``c * x`` for a small integer c, rounded once (``0 * inf`` is NaN)."""
    s, kind, sig, e = decode(x, f)
    sign = s ^ int(c < 0)
    if kind == "nan" or (kind == "inf" and c == 0):
        return f.nan
    if kind == "inf":
        return (sign << (f.width - 1)) | f.inf
    if c == 0 or sig == 0:
        return _signed_zero(sign, f)
    return round_nearest_even(sign, abs(c) * sig, e, f)


def is_nan(x: int, f: Fmt) -> bool:
    return decode(x, f)[1] == "nan"
