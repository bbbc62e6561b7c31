"""FP16 MAC tensor core: the floating-point baseline of the LUT Tensor Core paper (its
"FP16 tensor core" and the MAC dot-product unit of its Fig. 12): FP16 x FP16 multipliers,
FP32 adder trees and FP32 accumulators.

Every product of a step is one :class:`~lutcore.hw.fp.multiplier.FpMultiplier` (exact for
FP16 into FP32), so each unit does ``g`` multiplications a cycle, as the INT8
:class:`~lutcore.hw.baselines.MACCore` does; the accumulation and the finalize are the FP
LUT core's (:class:`~lutcore.hw.fp.FpAccumulator`, :mod:`lutcore.hw.fp.datapath`), so the
two FP cores differ only in how a unit's step term is made.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ...spec import fp
from ..fp import FpAccumulator
from ..fp.adder import STAGES
from ..fp.datapath import (adder_tree, emit_rows, finalize_sequence, partial_registers,
                           row_layout)
from ..fp.multiplier import STAGES as MULTIPLIER_STAGES
from ..fp.multiplier import FpMultiplier
from .common import check_int

__all__ = ["FpMacCore"]

#: Operand (activation and weight) formats of :class:`FpMacCore`.
OPERAND_FORMATS = fp.ACT_FORMATS[1:]


class FpMacCore(wiring.Component):
    """``m x n`` FP multiply-accumulate units, each a ``g``-long dot product per step
    (``m * n * g`` multiplications a cycle).

    Arithmetic, in this order (what :attr:`step_latency` and :attr:`finalize_latency`
    time):

    - products: ``p_i = a[r][i] * w[c][i]``, two ``operand_format`` values rounded once
      into ``acc_format`` (exact for FP16 into FP32);
    - step sum: the balanced tree over ``i < g``, terms 2j and 2j + 1 paired at each level
      and an odd last term carried up, e.g. ``(p0 + p1) + (p2 + p3)`` for ``g = 4``;
    - accumulation: the step sum counted ``k`` from the last ``clear`` is added to partial
      ``k mod 5`` of the FP contract's accumulator (a fresh partial reads +0);
    - finalize: the unit's output is ``((s0 + s1) + (s2 + s3)) + s4`` of its partials
      ``s0..s4``. Every addition is one IEEE operation in ``acc_format``, rounded to nearest
      even.

    Timing: a step accepted in cycle t reaches its accumulator in cycle
    ``t + step_latency`` (2 for the multipliers + 5 per tree level). A finalize is accepted
    when none is running and holds the steps back; it waits for the steps ahead of it,
    reads the partials out in 5 cycles, adds them in 15, and offers row 0
    :attr:`finalize_latency` cycles after its acceptance, then a row per cycle while
    ``rows.ready``. The accumulators keep their values (the read-out adds -0), so a second
    finalize gives the same rows.

    Parameters
    ----------
    m, n : int
        Rows (1..16) and columns (1..512) of units.
    g : int
        Products per unit and step, the dot product's K (1..64).
    operand_format : str
        Activations and weights: ``fp16`` or ``bf16``.
    acc_format : str
        Products, sums and outputs: ``fp16`` or ``fp32``.

    Members
    -------
    steps : ``In(stream.Signature(step_layout))``
        ``acts[r][i]`` and ``weights[c][i]``: raw ``operand_format`` bits; ``clear``: this
        step starts new sums. Ready but while a finalize is offered or runs.
    finalize : ``In(stream.Signature(1))``
        A request to read the sums out (its payload is ignored).
    rows : ``Out(stream.Signature(row_layout))``
        ``word``: the n outputs of row ``row`` (raw ``acc_format``); ``last``.

    Raises ``TypeError`` for a tile parameter that is not an integer and
    :class:`~lutcore.errors.LutcoreError` for one out of range or an unknown format.
    """

    def __init__(self, *, m: int, n: int, g: int, operand_format: str = "fp16",
                 acc_format: str = "fp32"):
        owner = type(self).__name__
        self._m = check_int(owner, "m", m)
        self._n = check_int(owner, "n", n)
        self._g = check_int(owner, "g", g, "baseline_g")
        self._operand = fp.fp_format(fp.check_format(f"{owner}: operand_format",
                                                      operand_format, OPERAND_FORMATS))
        self._acc = fp.fp_format(fp.check_format(f"{owner}: acc_format", acc_format,
                                                  fp.ACC_FORMATS))
        super().__init__({
            "steps": In(stream.Signature(self.step_layout)),
            "finalize": In(stream.Signature(1)),
            "rows": Out(stream.Signature(self.row_layout)),
        })

    m = property(lambda self: self._m)
    n = property(lambda self: self._n)
    g = property(lambda self: self._g)
    operand_format = property(lambda self: self._operand.name)
    acc_format = property(lambda self: self._acc.name)

    @property
    def products_per_step(self) -> int:
        """Multiplications per step (per cycle at full rate): ``m * n * g``."""
        return self._m * self._n * self._g

    @property
    def step_layout(self) -> data.StructLayout:
        word = unsigned(self._operand.width)
        return data.StructLayout({
            "acts": data.ArrayLayout(data.ArrayLayout(word, self._g), self._m),
            "weights": data.ArrayLayout(data.ArrayLayout(word, self._g), self._n),
            "clear": unsigned(1),
        })

    @property
    def row_layout(self) -> data.StructLayout:
        return row_layout(self._m, self._n, self._acc)

    @property
    def tree_levels(self) -> int:
        """Adder levels of a unit's step sum, ``ceil(log2 g)``."""
        return (self._g - 1).bit_length()

    @property
    def step_latency(self) -> int:
        """Cycles from a step's acceptance to its sum at the accumulator."""
        return MULTIPLIER_STAGES + STAGES * self.tree_levels

    @property
    def _emit_at(self) -> int:
        """The finalize counter once the outputs are valid: the steps' wait, the read-out
        (5) and the partials' tree (3 levels of 5)."""
        return self.step_latency - 1 + fp.ACC_LANES + 3 * STAGES

    @property
    def finalize_latency(self) -> int:
        """Cycles from a finalize's acceptance to row 0 being offered."""
        return self._emit_at + 2

    def elaborate(self, platform):
        m = Module()
        acc, op = self._acc, self._operand
        step = self.steps.payload
        accept = self.steps.valid & self.steps.ready

        # -- products, their tree, and the step's valid and clear alongside ---------------
        a_valid, a_clear = accept, step.clear
        for k in range(self.step_latency):
            nv, nc = Signal(name=f"valid{k}"), Signal(name=f"clear{k}")
            m.d.sync += [nv.eq(a_valid), nc.eq(a_clear)]
            a_valid, a_clear = nv, nc
        busy, t, flush, start = finalize_sequence(m, self.finalize, self.steps,
                                                  step_latency=self.step_latency,
                                                  emit_at=self._emit_at)
        minus_zero = Const(1 << (acc.width - 1), acc.width)
        outputs = {}
        for r in range(self._m):
            for c in range(self._n):
                products = []
                for i in range(self._g):
                    mul = FpMultiplier(op.name, acc.name, enable=True)
                    m.submodules[f"mul_{r}_{c}_{i}"] = mul
                    m.d.comb += [mul.enable.eq(1), mul.a_b.valid.eq(1),
                                 mul.a_b.payload.a.eq(step.acts[r][i]),
                                 mul.a_b.payload.b.eq(step.weights[c][i])]
                    products.append(mul.product.payload)
                total, _ = adder_tree(m, products, acc, f"tree_{r}_{c}")
                unit = FpAccumulator(acc.name)
                m.submodules[f"acc_{r}_{c}"] = unit
                m.d.comb += [unit.en.eq(a_valid | flush), unit.clear.eq(a_valid & a_clear),
                             unit.addend.eq(Mux(flush, minus_zero, total))]
                outputs[r, c], _ = adder_tree(
                    m, partial_registers(m, unit, flush, acc, f"u{r}_{c}"), acc,
                    f"lanes_{r}_{c}")

        emit_rows(m, self.rows, outputs, busy=busy, t=t, start=start, emit_at=self._emit_at,
                  mrows=self._m, ncols=self._n)
        return m
