"""FP datapath pieces shared by the cores with FP accumulators (the FP LUT core and the FP16
MAC baseline): a balanced tree of pipelined adders, the registers that catch an
:class:`~lutcore.hw.fp.FpAccumulator`'s partial sums as a finalize reads them out, and the
finalize's sequence (wait for the steps in flight, read out, emit one row per beat)."""

from __future__ import annotations

from amaranth.hdl import Module, Signal, unsigned
from amaranth.lib import data

from ...spec import fp
from ...spec import numerics as nx
from .._mux import select
from .adder import STAGES, FPAdder

__all__ = ["adder_tree", "partial_registers", "finalize_sequence", "emit_rows", "row_layout"]


def row_layout(m: int, n: int, fmt: fp.FpFormat) -> data.StructLayout:
    """A beat of the ``rows`` stream: ``word``, the n outputs of row ``row`` (raw ``fmt``
    bits), and ``last``, set on row ``m - 1``."""
    return data.StructLayout({
        "word": data.ArrayLayout(unsigned(fmt.width), n),
        "row": unsigned(nx.unsigned_bits(m - 1)),
        "last": unsigned(1),
    })


def adder_tree(m: Module, terms, fmt: fp.FpFormat, name: str):
    """Balanced tree of always-enabled :class:`FPAdder` over ``terms`` (raw ``fmt`` values):
    terms 2i and 2i + 1 are paired at each level and an odd last term is carried up a level
    through ``STAGES`` registers, so ``(t0 + t1) + (t2 + t3)`` for four terms and
    ``((t0 + t1) + (t2 + t3)) + t4`` for five. Returns ``(sum, levels)``: the sum arrives
    ``STAGES * levels`` cycles after its terms."""
    terms = list(terms)
    level = 0
    while len(terms) > 1:
        paired = []
        for i in range(0, len(terms) - 1, 2):
            adder = FPAdder(fmt.exp_bits, fmt.man_bits, enable=True)
            m.submodules[f"{name}_l{level}_{i // 2}"] = adder
            m.d.comb += [adder.enable.eq(1), adder.a_b.valid.eq(1),
                         adder.a_b.payload.a.eq(terms[i]), adder.a_b.payload.b.eq(terms[i + 1])]
            paired.append(adder.sum.payload)
        odd = terms[len(terms) & ~1:]
        if odd:                                   # carried up a level: delay it alike
            late = odd[0]
            for k in range(STAGES):
                reg = Signal(fmt.width, name=f"{name}_l{level}_carry{k}", reset_less=True)
                m.d.sync += reg.eq(late)
                late = reg
            paired.append(late)
        terms = paired
        level += 1
    return terms[0], level


def partial_registers(m: Module, accumulator, flush, fmt: fp.FpFormat, name: str):
    """``ACC_LANES`` registers that take ``accumulator``'s partial of its current lane in
    every cycle ``flush`` is high: after the five read-out cycles (addends of -0, see
    :class:`~lutcore.hw.fp.FpAccumulator`) register k holds partial k, and keeps it."""
    regs = [Signal(fmt.width, name=f"{name}_p{k}", reset_less=True)
            for k in range(fp.ACC_LANES)]
    with m.If(flush):
        for k, reg in enumerate(regs):
            with m.If(accumulator.lane == k):
                m.d.sync += reg.eq(accumulator.partial)
    return regs


def finalize_sequence(m: Module, finalize, steps, *, step_latency: int, emit_at: int):
    """The finalize's control: ``finalize`` is accepted when no finalize is running, and
    ``steps`` only while none is running or offered. A counter ``t`` starts at 0 the cycle
    after the acceptance (``start``) and stops at ``emit_at``; ``flush`` is high for the
    ``ACC_LANES`` cycles from ``t = step_latency - 1`` on, right after the addend of the
    last step before the finalize (accepted at least a cycle earlier, ``step_latency``
    cycles from acceptance to its accumulator). Returns ``(busy, t, flush, start)``;
    :func:`emit_rows` ends ``busy``."""
    busy = Signal()
    t = Signal(range(emit_at + 1))
    flush = Signal()
    start = finalize.valid & finalize.ready
    first = step_latency - 1
    m.d.comb += [finalize.ready.eq(~busy), steps.ready.eq(~busy & ~finalize.valid),
                 flush.eq(busy & (t >= first) & (t < first + fp.ACC_LANES))]
    with m.If(start):
        m.d.sync += [busy.eq(1), t.eq(0)]
    with m.Elif(busy & (t < emit_at)):
        m.d.sync += t.eq(t + 1)
    return busy, t, flush, start


def emit_rows(m: Module, rows, outputs, *, busy, t, start, emit_at: int, mrows: int,
              ncols: int) -> None:
    """Offer ``outputs[r, c]`` (valid from ``t = emit_at`` on) on the ``rows`` stream, row r
    in the ``word`` of its beat with ``row`` and ``last``, rows 0..mrows-1 one per cycle
    while ``rows.ready``; the last row's transfer ends ``busy``."""
    emit_row = Signal(range(mrows + 1))
    with m.If(start):
        m.d.sync += emit_row.eq(0)
    with m.If(rows.valid & rows.ready):
        m.d.sync += rows.valid.eq(0)
        with m.If(rows.payload.last):
            m.d.sync += busy.eq(0)
    ready = busy & (t == emit_at)
    with m.If(ready & (emit_row < mrows) & (~rows.valid | rows.ready)):
        m.d.sync += [rows.valid.eq(1), rows.payload.row.eq(emit_row),
                     rows.payload.last.eq(emit_row == mrows - 1),
                     emit_row.eq(emit_row + 1)]
        index = emit_row[:max(1, (mrows - 1).bit_length())]
        for c in range(ncols):
            m.d.sync += rows.payload.word[c].eq(
                select([outputs[r, c] for r in range(mrows)], index) if mrows > 1
                else outputs[0, c])
