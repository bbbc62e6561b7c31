"""The FP contract's accumulator: ``ACC_LANES`` interleaved partial sums kept by one pipelined
:class:`~lutcore.hw.fp.FPAdder` (docs/architecture.md, "Floating-point activations").

Addend i (counted from the last clear) is added to partial ``i mod 5``: the adder's five
pipeline stages hold the five partials, and each accepted addend meets the partial that
leaves the pipeline in that cycle, which is the one its lane last produced five addends
earlier. No floating-point adder has to finish in one cycle.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ...spec import fp
from .adder import STAGES, FPAdder

__all__ = ["FpAccumulator"]

assert STAGES == fp.ACC_LANES, "one partial sum per adder stage"


class FpAccumulator(wiring.Component):
    """One accumulator of ``ACC_LANES`` partial sums in the format ``name``.

    In a cycle with ``en`` high, ``addend`` is added to the partial of its lane (``clear``
    starts a new sum: this addend is lane 0 and the lanes' old values are dropped; a lane
    not yet written since the clear reads +0). Everything else holds still while ``en`` is
    low, so the lanes follow the count of addends, never the cycles between them.

    Reading the partials: after the last addend, five more cycles with ``en`` high and
    ``addend = -0`` (an identity: ``x + (-0) = x`` for every x, -0 and NaN included) bring
    each partial to ``partial`` in turn; ``lane`` says whose it is. The partials keep their
    values (they have come round again), and ``x + (-0)`` leaves a later addend's lane
    unchanged (five more addends, the same lane mod 5).

    Members
    -------
    en, clear : ``In(1)``
    addend : ``In(width)``: raw bits.
    partial : ``Out(width)``: in a cycle with ``en`` high, the partial of lane ``lane``
        before this cycle's addend is added to it (+0 for a lane not written since the clear).
    lane : ``Out(range(ACC_LANES))``: the lane of this cycle's addend.
    """

    def __init__(self, name: str = "fp32"):
        self._format = fp.fp_format(name)
        super().__init__({
            "en": In(1), "clear": In(1),
            "addend": In(self._format.width),
            "partial": Out(self._format.width),
            "lane": Out(range(fp.ACC_LANES)),
        })

    @property
    def format(self) -> fp.FpFormat:
        return self._format

    def elaborate(self, platform):
        m = Module()
        f = self._format
        m.submodules.adder = adder = FPAdder(f.exp_bits, f.man_bits, enable=True)
        lanes = fp.ACC_LANES
        lane = Signal(range(lanes))          # lane of the next addend
        written = Signal(lanes)              # lanes written since the clear
        this_lane = Mux(self.clear, 0, lane)
        fresh = self.clear | ~written.bit_select(this_lane, 1)
        m.d.comb += [
            self.lane.eq(this_lane),
            self.partial.eq(Mux(fresh, 0, adder.sum.payload)),
            adder.enable.eq(self.en),
            adder.a_b.valid.eq(self.en),
            adder.a_b.payload.a.eq(self.partial),
            adder.a_b.payload.b.eq(self.addend),
        ]
        with m.If(self.en):
            m.d.sync += lane.eq(Mux(this_lane == lanes - 1, 0, this_lane + 1))
            with m.If(self.clear):
                m.d.sync += written.eq(1)
            with m.Else():
                m.d.sync += written.eq(written | (1 << this_lane))
        return m
