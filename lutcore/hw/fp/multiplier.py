"""A pipelined IEEE 754 binary floating-point multiplier: operands of one named format, the
product rounded once into another (or the same) named format of :data:`lutcore.spec.fp.FORMATS`.

Semantics (IEEE 754-2019 multiplication with the result rounded to ``out_format``):

- the exact product ``a * b`` rounded to nearest, ties to even, into ``out_format``; with
  FP16 operands and an FP32 result every product is exact (11 x 11 significand bits fit in
  24, and FP16's exponent range squared fits in FP32's), so no rounding logic is built for
  such a pair of formats;
- subnormal operands and results are supported in full (gradual underflow); nothing is
  flushed to zero;
- a finite product that rounds past the largest finite value gives infinity of the
  product's sign;
- ``inf * finite nonzero`` and ``inf * inf`` give an infinity of the product's sign (the XOR
  of the operands' signs); ``inf * 0`` gives NaN;
- a NaN operand (quiet or signalling) gives NaN; every NaN output is the canonical quiet NaN
  of ``out_format`` (sign 0, exponent all ones, only the top fraction bit set), as
  :class:`~lutcore.hw.fp.FPAdder` outputs;
- a zero product (an operand zero, or an underflow past half the smallest subnormal) has
  the product's sign: ``(-0) * 5 = -0``, ``(-2) * (-0) = +0``.

No exception flags are produced.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ...spec import fp
from .adder import operand_layout
from .rounding import _canonical_nan, _unpack, round_pack

__all__ = ["FpMultiplier", "product_is_exact"]

#: Pipeline stages: its latency in cycles.
STAGES = 2


def _extremes(f: fp.FpFormat) -> tuple[int, int, int]:
    """(significand bits with the hidden bit, exponent of the smallest subnormal's LSB,
    exponent of the largest finite value's leading bit) of ``f``."""
    bias = (1 << (f.exp_bits - 1)) - 1
    return f.man_bits + 1, 1 - bias - f.man_bits, (1 << f.exp_bits) - 2 - bias


def product_is_exact(in_format: str, out_format: str) -> bool:
    """Whether the product of any two finite ``in_format`` values is a finite
    ``out_format`` value: its significand (at most twice the operand's bits) fits, its
    smallest LSB is no finer than the output's subnormal LSB, and its magnitude (below
    ``2^(2 * emax + 2)``) stays below the output's largest binade."""
    p_in, low_in, emax_in = _extremes(fp.fp_format(in_format))
    p_out, low_out, emax_out = _extremes(fp.fp_format(out_format))
    return 2 * p_in <= p_out and 2 * low_in >= low_out and 2 * emax_in + 2 <= emax_out


class FpMultiplier(wiring.Component):
    """IEEE 754 multiplier: two ``in_format`` operands, their product rounded once into
    ``out_format``, one multiplication per cycle, :attr:`LATENCY` = 2 cycles (semantics in
    the module docstring).

    Pipeline, one register after each stage:

    1. unpack both operands (a subnormal has the effective exponent 1 and no hidden bit),
       multiply the significands (exact, twice their width), add the exponents, take the
       sign, and classify the special result (NaN: a NaN operand or ``inf * 0``; infinity:
       an infinite operand otherwise);
    2. normalise and round the exact product into ``out_format``
       (:func:`~lutcore.hw.fp.rounding.round_pack`: leading-zero count, shift, round to
       nearest even, overflow to infinity, gradual underflow; the normalisation alone when
       :func:`product_is_exact`), pack, and replace it by the special result.

    The stream handshake and ``enable`` are those of :class:`~lutcore.hw.fp.FPAdder`: a
    product accepted on ``a_b`` in cycle t is offered on ``product`` in cycle
    ``t + LATENCY``; the pipeline advances when ``product`` is empty or being read, or, with
    ``enable=True``, exactly in the cycles ``enable`` is high.

    Parameters
    ----------
    in_format : str
        Operand format: ``fp16``, ``bf16`` or ``fp32``.
    out_format : str
        Product format: ``fp16``, ``bf16`` or ``fp32`` (default: ``in_format``).
    enable : bool
        Add an ``enable`` input that advances the pipeline.

    Members
    -------
    a_b : ``In(stream.Signature(operand_layout(in_width)))``
        Raw bit patterns ``a`` and ``b``.
    product : ``Out(stream.Signature(out_width))``
        Raw bit pattern of ``a * b`` in ``out_format``.
    enable : ``In(1)``
        Only with ``enable=True``.

    Raises :class:`~lutcore.errors.LutcoreError` for an unknown format and ``TypeError``
    for an ``enable`` that is not a bool.
    """

    def __init__(self, in_format: str = "fp16", out_format: str | None = None, *,
                 enable: bool = False, src_loc_at: int = 0):
        owner = type(self).__name__
        self._in = fp.fp_format(fp.check_format(f"{owner}: in_format", in_format))
        out_format = in_format if out_format is None else out_format
        self._out = fp.fp_format(fp.check_format(f"{owner}: out_format", out_format))
        if not isinstance(enable, bool):
            raise TypeError(f"{owner}: enable must be True or False, not {enable!r}")
        self._enable = enable
        members = {
            "a_b": In(stream.Signature(operand_layout(self._in.width))),
            "product": Out(stream.Signature(unsigned(self._out.width))),
        }
        if enable:
            members["enable"] = In(1)
        super().__init__(members, src_loc_at=1 + src_loc_at)

    @property
    def in_format(self) -> str:
        """Operand format name (read-only)."""
        return self._in.name

    @property
    def out_format(self) -> str:
        """Product format name (read-only)."""
        return self._out.name

    @property
    def exact(self) -> bool:
        """Every product is exact in ``out_format`` (:func:`product_is_exact`)."""
        return product_is_exact(self._in.name, self._out.name)

    @property
    def canonical_nan(self) -> int:
        """The one NaN pattern the multiplier outputs (of ``out_format``)."""
        return _canonical_nan(self._out)

    @property
    def LATENCY(self) -> int:
        """Cycles from an accepted ``a_b`` transfer to its product (:data:`STAGES`, 2)."""
        return STAGES

    def elaborate(self, platform):
        m = Module()
        fin, fout = self._in, self._out
        p, low, emax = _extremes(fin)

        advance = Signal()
        m.d.comb += [advance.eq(self.enable if self._enable
                                else ~self.product.valid | self.product.ready),
                     self.a_b.ready.eq(advance)]

        # Stage 1: unpack, multiply the significands, add the exponents, classify.
        s1 = Signal(data.StructLayout({
            "valid": 1, "sign": 1, "num": 2 * p,
            "exp": range(2 * low, 2 * (emax - fin.man_bits) + 1),  # LSB of the product
            "nan": 1, "inf": 1}))
        sa, _, fa, siga, scalea, speciala = _unpack(self.a_b.payload.a, fin.name, m)
        sb, _, fb, sigb, scaleb, specialb = _unpack(self.a_b.payload.b, fin.name, m)
        nan_a, nan_b = speciala & (fa != 0), specialb & (fb != 0)
        zero_a, zero_b = siga == 0, sigb == 0             # exponent and fraction 0
        nan = nan_a | nan_b | (speciala & zero_b) | (specialb & zero_a)
        with m.If(advance):
            m.d.sync += [
                s1.valid.eq(self.a_b.valid),
                s1.sign.eq(sa ^ sb),
                s1.num.eq(siga * sigb),
                s1.exp.eq(scalea + scaleb),
                s1.nan.eq(nan),
                s1.inf.eq((speciala | specialb) & ~nan),
            ]

        # Stage 2: one rounding into the output format, special results.
        top = (1 << fout.exp_bits) - 1
        infinity = Cat(Const(0, fout.man_bits), Const(top, fout.exp_bits), s1.sign)
        rounded = round_pack(s1.sign, s1.num, s1.exp, fout.name, exact=self.exact, m=m)
        result = Mux(s1.nan, self.canonical_nan, Mux(s1.inf, infinity, rounded))
        with m.If(advance):
            m.d.sync += [self.product.valid.eq(s1.valid), self.product.payload.eq(result)]
        return m
