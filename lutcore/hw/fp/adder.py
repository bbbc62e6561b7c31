"""A pipelined IEEE 754 binary floating-point adder, parameterised by its format.

Semantics (IEEE 754-2019 addition, the results of NumPy's ``float16`` / ``float32`` and of
``ml_dtypes.bfloat16`` bit for bit, NaNs aside):

- round to nearest, ties to even; no other rounding mode;
- subnormal inputs and outputs are supported in full (gradual underflow); nothing is flushed
  to zero;
- a finite sum that rounds past the largest finite value gives infinity of the sum's sign;
- ``inf + inf`` of one sign gives that infinity, ``inf + (-inf)`` gives NaN, and
  ``inf + finite`` gives the infinity;
- a NaN operand (quiet or signalling) gives NaN. Every NaN output is the canonical quiet NaN:
  sign 0, exponent all ones, only the top fraction bit set (so payloads and signs of input
  NaNs are not propagated, and no invalid-operation flag exists);
- an exact zero sum of operands of opposite signs (``x + (-x)``, ``(+0) + (-0)``) is ``+0``;
  ``(-0) + (-0)`` is ``-0``, ``(+0) + (+0)`` is ``+0``.

No exception flags are produced.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ...errors import LutcoreError
from ...spec.fp import FORMATS as _SPEC_FORMATS

__all__ = ["FPAdder", "FORMATS", "operand_layout"]

#: Named formats: name -> (exp_bits, man_bits), those of :data:`lutcore.spec.fp.FORMATS`.
FORMATS: dict[str, tuple[int, int]] = {name: (f.exp_bits, f.man_bits)
                                       for name, f in _SPEC_FORMATS.items()}

_EXP_RANGE = (2, 11)
_MAN_RANGE = (1, 52)

#: Pipeline stages of every adder: its latency in cycles.
STAGES = 5

# Bits kept below the significand's LSB while aligning: guard, round and sticky.
_GRS = 3


def _check(name: str, value, lo: int, hi: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"FPAdder: {name} must be an integer, not {value!r}")
    if not lo <= value <= hi:
        raise LutcoreError(f"FPAdder: {name} = {value!r} is invalid: allowed {lo}..{hi}")
    return value


def operand_layout(width: int) -> data.StructLayout:
    """Payload of the input stream: two raw IEEE bit patterns, ``a`` in the low bits."""
    return data.StructLayout({"a": unsigned(width), "b": unsigned(width)})


def _leading_zeros(value, width: int):
    """Leading zeros of the ``width``-bit ``value`` (``width`` when it is 0): a tree of
    ``ceil(log2(width))`` levels, halving the field at each."""
    if width == 1:
        return ~value[0]
    top = width // 2                               # bits in the upper part
    upper, lower = value[width - top:], value[:width - top]
    return Mux(upper.any(), _leading_zeros(upper, top),
               top + _leading_zeros(lower, width - top))


class FPAdder(wiring.Component):
    """IEEE 754 adder of ``exp_bits`` exponent and ``man_bits`` fraction bits, one addition
    per cycle, :attr:`LATENCY` = 5 cycles (semantics in the module docstring).

    Pipeline, one register after each stage:

    1. unpack and classify both operands (zero/subnormal, normal, infinity, NaN), order them
       so that ``|big| >= |small|`` (a compare of the magnitude bits), take the exponent
       difference (clamped to the aligned width) and decide the special result;
    2. align the small significand to the big one's exponent, keeping guard and round bits
       and OR-ing every bit shifted further out into a sticky LSB;
    3. add, or subtract when the signs differ (never negative, since ``|big| >= |small|``);
       an exact zero takes the sign ``+`` unless both operands are zeros of one sign;
    4. normalise: a carry out shifts right by one (sticky kept), otherwise a left shift by
       the leading-zero count, limited so that the exponent stays at least the minimum
       (a shorter shift leaves a subnormal);
    5. round to nearest, ties to even, and pack: the rounding increment is added to the
       packed exponent and fraction, so that a carry renormalises, turns the largest
       subnormal into the smallest normal, or overflows to infinity; the special results
       (infinity, canonical NaN) replace the sum here.

    An addition accepted on ``a_b`` in cycle t is offered on ``sum`` in cycle
    ``t + LATENCY``. The whole pipeline advances when ``sum`` is empty or being read
    (``a_b.ready = ~sum.valid | sum.ready``), so a stall loses and duplicates nothing;
    results leave in the order the operands came. With ``enable=True`` the owner advances
    the pipeline instead: every stage moves exactly in the cycles ``enable`` is high
    (``a_b.ready`` follows it, ``sum.ready`` is ignored), so that many adders and the
    registers beside them form one rigid pipeline stalled as a whole (the FP table unit).

    Parameters
    ----------
    exp_bits : int
        Exponent bits, 2..11.
    man_bits : int
        Fraction bits without the hidden bit, 1..52.
    enable : bool
        Add an ``enable`` input that advances the pipeline (see above).

    Members
    -------
    a_b : ``In(stream.Signature(operand_layout(width)))``
        Raw bit patterns ``a`` and ``b``.
    sum : ``Out(stream.Signature(width))``
        Raw bit pattern of ``a + b``.
    enable : ``In(1)``
        Only with ``enable=True``: the pipeline advances in the cycles it is high.

    Raises ``TypeError`` for a parameter that is not an integer and :class:`LutcoreError`
    for one out of range.
    """

    FORMATS = FORMATS

    def __init__(self, exp_bits: int = 8, man_bits: int = 23, *, enable: bool = False,
                 src_loc_at: int = 0):
        self._exp_bits = _check("exp_bits", exp_bits, *_EXP_RANGE)
        self._man_bits = _check("man_bits", man_bits, *_MAN_RANGE)
        if not isinstance(enable, bool):
            raise TypeError(f"FPAdder: enable must be True or False, not {enable!r}")
        self._enable = enable
        members = {
            "a_b": In(stream.Signature(operand_layout(self.width))),
            "sum": Out(stream.Signature(unsigned(self.width))),
        }
        if enable:
            members["enable"] = In(1)
        super().__init__(members, src_loc_at=1 + src_loc_at)

    @classmethod
    def of(cls, name: str) -> "FPAdder":
        """The adder of a named format of :data:`FORMATS` (``"fp16"``, ``"bf16"``, ``"fp32"``)."""
        if name not in FORMATS:
            raise LutcoreError(f"FPAdder.of: name = {name!r} is invalid: allowed "
                               f"{', '.join(FORMATS)}")
        return cls(*FORMATS[name], src_loc_at=1)

    @property
    def exp_bits(self) -> int:
        """Exponent bits (read-only)."""
        return self._exp_bits

    @property
    def man_bits(self) -> int:
        """Fraction bits, without the hidden bit (read-only)."""
        return self._man_bits

    @property
    def width(self) -> int:
        """Bits of a value: ``1 + exp_bits + man_bits``."""
        return 1 + self._exp_bits + self._man_bits

    @property
    def bias(self) -> int:
        """Exponent bias, ``2^(exp_bits - 1) - 1``."""
        return (1 << (self._exp_bits - 1)) - 1

    @property
    def canonical_nan(self) -> int:
        """The one NaN pattern the adder outputs: sign 0, exponent all ones, top fraction
        bit set."""
        return (((1 << self._exp_bits) - 1) << self._man_bits) | (1 << (self._man_bits - 1))

    @property
    def LATENCY(self) -> int:
        """Cycles from an accepted ``a_b`` transfer to its result on ``sum``
        (:data:`STAGES`, 5)."""
        return STAGES

    def elaborate(self, platform):
        m = Module()
        E, M, W = self._exp_bits, self._man_bits, self.width
        P = M + 1                                  # significand bits with the hidden bit
        X = P + _GRS                               # aligned significand width
        exp_max = (1 << E) - 1                     # exponent field of infinities and NaNs

        advance = Signal()
        m.d.comb += [advance.eq(self.enable if self._enable
                                else ~self.sum.valid | self.sum.ready),
                     self.a_b.ready.eq(advance)]
        valid = [Signal(name=f"valid{i}") for i in range(1, 5)]

        # Stage 1: unpack, classify, order by magnitude, exponent difference.
        s1 = Signal(data.StructLayout({
            "sign": 1, "sub": 1, "exp": E, "sig_big": P, "sig_small": P,
            "shift": range(X + 1), "nan": 1, "inf": 1}))
        a, b = self.a_b.payload.a, self.a_b.payload.b
        swap = b[:W - 1] > a[:W - 1]
        big, small = Mux(swap, b, a), Mux(swap, a, b)
        e_big, e_small = big[M:M + E], small[M:M + E]
        f_big, f_small = big[:M], small[:M]
        # Subnormals (exponent field 0) have the effective exponent 1 and no hidden bit.
        x_big = Mux(e_big == 0, 1, e_big)
        x_small = Mux(e_small == 0, 1, e_small)
        diff = (x_big - x_small)[:E]
        sub = a[W - 1] ^ b[W - 1]
        big_special = e_big == exp_max
        small_inf = (e_small == exp_max) & (f_small == 0)
        # |big| >= |small|: a NaN operand is always big.
        nan = big_special & ((f_big != 0) | (small_inf & sub))
        with m.If(advance):
            m.d.sync += [
                valid[0].eq(self.a_b.valid),
                s1.sign.eq(big[W - 1]),
                s1.sub.eq(sub),
                s1.exp.eq(x_big),
                s1.sig_big.eq(Cat(f_big, e_big != 0)),
                s1.sig_small.eq(Cat(f_small, e_small != 0)),
                s1.shift.eq(Mux(diff > X, X, diff)),
                s1.nan.eq(nan),
                s1.inf.eq(big_special & ~nan),
            ]

        # Stage 2: align the small significand, guard/round/sticky below the LSB.
        s2 = Signal(data.StructLayout({
            "sign": 1, "sub": 1, "exp": E, "big": X, "small": X, "nan": 1, "inf": 1}))
        wide = Cat(Const(0, X), Const(0, _GRS), s1.sig_small) >> s1.shift
        aligned = wide[X:2 * X] | (wide[:X] != 0)
        with m.If(advance):
            m.d.sync += [
                valid[1].eq(valid[0]),
                s2.sign.eq(s1.sign), s2.sub.eq(s1.sub), s2.exp.eq(s1.exp),
                s2.big.eq(Cat(Const(0, _GRS), s1.sig_big)),
                s2.small.eq(aligned),
                s2.nan.eq(s1.nan), s2.inf.eq(s1.inf),
            ]

        # Stage 3: add or subtract; the sign of an exact zero.
        s3 = Signal(data.StructLayout({
            "sign": 1, "exp": E, "sum": X + 1, "nan": 1, "inf": 1}))
        total = Mux(s2.sub, s2.big - s2.small, s2.big + s2.small)[:X + 1]
        with m.If(advance):
            m.d.sync += [
                valid[2].eq(valid[1]),
                s3.sign.eq(Mux((total == 0) & s2.sub, 0, s2.sign)),
                s3.exp.eq(s2.exp), s3.sum.eq(total),
                s3.nan.eq(s2.nan), s3.inf.eq(s2.inf),
            ]

        # Stage 4: leading-zero count and normalisation.
        s4 = Signal(data.StructLayout({
            "sign": 1, "exp": E + 1, "sig": X, "nan": 1, "inf": 1}))
        carry = s3.sum[X]
        low = s3.sum[:X]
        lz = Signal(range(X + 1))
        m.d.comb += lz.eq(_leading_zeros(low, X))
        limit = s3.exp - 1                          # the shift that reaches exponent 1
        shift = Signal(range(X + 1))
        m.d.comb += shift.eq(Mux(lz > limit, limit, lz))
        shifted = (low << shift)[:X]
        right = Cat(s3.sum[0] | s3.sum[1], s3.sum[2:X + 1])
        with m.If(advance):
            m.d.sync += [
                valid[3].eq(valid[2]),
                s4.sign.eq(s3.sign), s4.nan.eq(s3.nan), s4.inf.eq(s3.inf),
                s4.sig.eq(Mux(carry, right, shifted)),
                # A result without its hidden bit after the shift is subnormal: field 0.
                s4.exp.eq(Mux(carry, s3.exp + 1,
                              Mux(shifted[X - 1], s3.exp - shift, 0))),
            ]

        # Stage 5: round to nearest even, pack, special results.
        guard = s4.sig[_GRS - 1]
        sticky = s4.sig[:_GRS - 1] != 0
        up = guard & (sticky | s4.sig[_GRS])
        rounded = (Cat(s4.sig[_GRS:_GRS + M], s4.exp[:E]) + up)[:W - 1]
        infinity = Cat(Const(0, M), Const(exp_max, E), s4.sign)
        result = Mux(s4.nan, self.canonical_nan,
                     Mux(s4.inf | (s4.exp >= exp_max), infinity, Cat(rounded, s4.sign)))
        with m.If(advance):
            m.d.sync += [self.sum.valid.eq(valid[3]), self.sum.payload.eq(result)]
        return m
