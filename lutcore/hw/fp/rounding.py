"""Combinational IEEE 754 helpers of the FP contract: the exact ones (widening to a wider
format, doubling, negation) used by the table unit and the core's terms, and for the
finalize one rounding to nearest even of an exact value and the two operations built on it,
the product with a small integer (``c * R``) and the halving (``* 0.5``, exact unless the
result is subnormal).

:func:`round_pack` is the one rounding: a value ``(-1)^sign * num * 2^exp`` given exactly
(an unsigned integer and a signed exponent) becomes the nearest pattern of the format, ties
to even, infinity past the largest finite value, gradual underflow below the smallest normal.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value

from ...spec import fp

__all__ = ["round_pack", "times_int", "halve", "widen", "double", "negate", "field_widths"]


def field_widths(name: str):
    f = fp.fp_format(name)
    return f.exp_bits, f.man_bits


def widen(value, src: str, dst: str):
    """``value`` (raw bits of ``src``) as raw bits of the wider or equal ``dst``, exactly:
    the fraction padded, the exponent rebiased, a subnormal normalised (its leading zeros
    counted), zeros, infinities and NaNs kept (a NaN stays a NaN)."""
    if src == dst:
        return value
    se, sm = field_widths(src)
    de, dm = field_widths(dst)
    sign, exp, frac = value[se + sm], value[sm:sm + se], value[:sm]
    bias_shift = (1 << (de - 1)) - (1 << (se - 1))
    special = exp == (1 << se) - 1
    normal = Cat(Const(0, dm - sm), frac, (exp + bias_shift)[:de], sign)
    result = Mux(special, Cat(Const(0, dm - sm), frac, Const((1 << de) - 1, de), sign), normal)
    if de == se:                        # bf16 -> fp32: same exponent, subnormals stay so
        return Mux(exp == 0, Cat(Const(0, dm - sm), frac, Const(0, de), sign), result)
    # fp16 -> fp32: a subnormal f * 2^-24 is normal in FP32: shift its leading one to the
    # hidden bit (k leading zeros in the fraction: exponent 1 - 15 - (k + 1) + 127).
    cases = Const(0, de + dm + 1)
    for k in range(sm):
        lead = frac[sm - 1 - k]
        upper_zero = frac[sm - k:] == 0 if k else Const(1)
        norm_frac = Cat(Const(0, dm - sm + k + 1), frac[:sm - 1 - k]) if k < sm - 1 \
            else Const(0, dm)
        norm = Cat(norm_frac[:dm], Const(bias_shift - k, de), sign)
        cases = Mux(upper_zero & lead, norm, cases)
    subnormal = Mux(frac == 0, Cat(Const(0, de + dm), sign), cases)
    return Mux(exp == 0, subnormal, result)


def double(value, name: str):
    """``2 * value`` (raw bits of ``name``), exact: an exponent increment (infinity when it
    reaches the top), a left shift of a subnormal's fraction (its carry becomes the
    exponent's 1), infinities, NaNs and zeros unchanged."""
    e, mbits = field_widths(name)
    sign, exp, frac = value[e + mbits], value[mbits:mbits + e], value[:mbits]
    top = (1 << e) - 1
    inc = (exp + 1)[:e]
    normal = Mux(inc == top, Cat(Const(0, mbits), Const(top, e), sign), Cat(frac, inc, sign))
    return Mux(exp == 0, Cat((frac << 1)[:mbits + 1], Const(0, e - 1), sign),
               Mux(exp == top, value, normal))


def negate(value, width: int):
    """The sign bit flipped."""
    return Cat(value[:width - 1], ~value[width - 1])


def _wire(m: Module | None, value, name: str):
    """``value`` through a named signal of module ``m`` (``value`` itself without one): an
    expression used several times is then built once, where a Value used twice would be
    copied into the netlist twice, and nested uses grow the netlist geometrically (a
    rounding built as plain expressions is megabytes of Verilog)."""
    if m is None:
        return value
    value = Value.cast(value)
    sig = Signal(value.shape(), name=name)
    m.d.comb += sig.eq(value)
    return sig


def _leading_zeros(value: Value, width: int) -> Value:
    """Leading zeros of ``value`` (``width`` when it is 0), as a priority chain."""
    count = Const(width, range(width + 1))
    for i in range(width):                   # the highest set bit wins: iterate upwards
        count = Mux(value[i], width - 1 - i, count)
    return count


def round_pack(sign: Value, num: Value, exp: Value, name: str, *,
               exact: bool = False, m: Module | None = None) -> Value:
    """The pattern of format ``name`` nearest to ``(-1)^sign * num * 2^exp`` (``num`` an
    unsigned value, ``exp`` a signed value), ties to even; ``num = 0`` gives a zero of
    ``sign``.

    ``exact=True`` is the caller's promise that every value it passes is a finite value of
    the format (no bit below the ULP, no overflow), e.g. the product of two FP16 values in
    FP32: only the normalisation is built, no rounding.

    With a module ``m`` every intermediate value goes through a named signal of ``m``
    (use it in gateware: the netlist stays small; see :func:`_wire`)."""
    f = fp.fp_format(name)
    e, mbits = f.exp_bits, f.man_bits
    bias = (1 << (e - 1)) - 1
    num = _wire(m, num, "rp_num")
    exp = _wire(m, exp, "rp_exp")
    width = len(num)
    lz = _wire(m, _leading_zeros(num, width), "rp_lz")
    top = _wire(m, (exp.as_signed() + (width - 1) - lz).as_signed(), "rp_top")   # log2 |v|
    quantum = _wire(m, Mux(top > 1 - bias, top, 1 - bias) - mbits, "rp_quantum")  # ULP
    drop = _wire(m, (quantum - exp).as_signed(), "rp_drop")   # bits below the ULP
    # Left: exact (no bits dropped); the significand fits mbits + 1 bits.
    left_amount = Mux(drop < 0, -drop, 0)[:mbits.bit_length()]      # at most mbits
    left = _wire(m, (num << left_amount)[:mbits + 2], "rp_left")
    if exact:
        return _pack(sign, num, left[:mbits + 1], quantum, e, mbits, bias, m)
    # Right: keep guard and sticky; ``drop`` beyond the width drops everything.
    clamp = width + 2
    right_amount = _wire(m, Mux(drop > clamp, clamp, Mux(drop > 0, drop, 0))
                         [:clamp.bit_length()], "rp_right")
    wide = Cat(Const(0, 2), num)                              # two extra bits below
    shifted = _wire(m, wide >> right_amount, "rp_shifted")    # [1] guard, [0] sticky part
    lost_mask = (Const(1, clamp + 3) << right_amount) - 1     # bits of wide shifted out
    sticky = (wide & lost_mask[:width + 2]).any() | shifted[0]
    guard = shifted[1]
    kept = shifted[2:]
    up = guard & (sticky | kept[0])
    rounded = (kept + up)[:mbits + 2]
    sig = _wire(m, Mux(drop > 0, rounded, left), "rp_sig")
    # A carry into the next binade: one more exponent step, the significand halved (exact:
    # its low bit is 0 after such a carry).
    carry = sig[mbits + 1]
    sig = _wire(m, Mux(carry, sig[1:], sig[:mbits + 1]), "rp_norm")
    return _pack(sign, num, sig, quantum + carry, e, mbits, bias, m)


def _pack(sign: Value, num: Value, sig: Value, quantum: Value, e: int, mbits: int,
          bias: int, m: Module | None = None) -> Value:
    """Pack the ``mbits + 1``-bit significand ``sig`` (hidden bit on top for a normal value)
    whose LSB weighs ``2^quantum``: a subnormal's exponent field is 0, infinity past the
    largest finite value, a zero of ``sign`` for ``num = 0``."""
    normal = sig[mbits]
    biased = _wire(m, Mux(normal, quantum + mbits + bias, 0), "rp_biased")
    top_exp = (1 << e) - 1
    inf = Cat(Const(0, mbits), Const(top_exp, e), sign)
    packed = Cat(sig[:mbits], biased[:e], sign)
    zero = Cat(Const(0, e + mbits), sign)
    return Mux(num == 0, zero, Mux(biased.as_signed() >= top_exp, inf, packed))


def _canonical_nan(f: fp.FpFormat) -> int:
    """The adder's NaN: sign 0, exponent all ones, the top fraction bit."""
    return (((1 << f.exp_bits) - 1) << f.man_bits) | (1 << (f.man_bits - 1))


def _unpack(x: Value, name: str, m: Module | None = None):
    x = _wire(m, x, "x")
    f = fp.fp_format(name)
    e, mbits = f.exp_bits, f.man_bits
    bias = (1 << (e - 1)) - 1
    sign, exp, frac = x[e + mbits], x[mbits:mbits + e], x[:mbits]
    top = (1 << e) - 1
    sig = Cat(frac, exp != 0)                                  # hidden bit for normals
    scale = _wire(m, (Mux(exp == 0, 1, exp) - bias - mbits).as_signed(), "scale")  # 2^scale
    return sign, exp, frac, sig, scale, exp == top


def times_int(x: Value, c: Value, name: str, *, m: Module | None = None) -> Value:
    """``c * x`` rounded once (``c`` a small signed value): NaN for a NaN or ``0 * inf``,
    an infinity of the product's sign for ``inf * c``, a zero of that sign for a zero.
    ``m``: build through named signals of that module (:func:`round_pack`)."""
    f = fp.fp_format(name)
    sign, exp, frac, sig, scale, special = _unpack(x, name, m)
    c = c.as_signed()
    mag = Mux(c < 0, -c, c)[:len(c)]
    psign = sign ^ (c < 0)
    nan = Const(_canonical_nan(f), f.width)
    inf = Cat(Const(0, f.man_bits), Const((1 << f.exp_bits) - 1, f.exp_bits), psign)
    product = round_pack(psign, sig * mag, scale, name, m=m)
    is_nan = special & (frac != 0)
    return Mux(is_nan | (special & (mag == 0)), nan, Mux(special, inf, product))


def halve(x: Value, name: str, *, m: Module | None = None) -> Value:
    """``x * 0.5``: exact for a normal result, rounded to nearest even for a subnormal one;
    infinities, NaNs (as the canonical NaN) and zeros keep their class and sign.
    ``m``: build through named signals of that module (:func:`round_pack`)."""
    f = fp.fp_format(name)
    sign, exp, frac, sig, scale, special = _unpack(x, name, m)
    nan = Const(_canonical_nan(f), f.width)
    x = _wire(m, x, "x")
    return Mux(special, Mux(frac != 0, nan, x), round_pack(sign, sig, scale - 1, name, m=m))

