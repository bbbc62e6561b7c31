"""The instruction decode stages: :func:`lutcore.spec.isa.validate` in gateware (same error
codes, same priority), split over two registered stages so that ``planes * count`` is
registered before the LMMA weight range is checked on it."""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Value
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ...spec import isa
from ...spec import numerics as nx
from ...spec.config import CoreConfig
from ...spec.isa import ErrorCode, Mode, Opcode
from .signatures import equals

__all__ = ["Validate", "ValidateWeights", "steps_bits"]


def steps_bits(config: CoreConfig) -> int:
    """Width of an LMMA's ``planes * count``."""
    return isa.COUNT_BITS + nx.unsigned_bits(config.weight_bits)


def _past(base, words, depth: int):
    """``base + words > depth`` for a power-of-two ``depth`` = 2^k: the sum's bits above k,
    or bit k with any bit below it (no comparator after the adder)."""
    k = depth.bit_length() - 1
    total = Value.cast(base + words)
    return total[k + 1:].any() | (total[k] & total[:k].any())


class Validate(wiring.Component):
    """First decode stage (combinational): every rule of :func:`lutcore.spec.isa.validate`
    but an LMMA's weight range, and ``planes * count`` by shifts and adds.

    Members
    -------
    word : ``In(INSTR_BITS)``
        The instruction word.
    past_end : ``In(1)``
        The word is the pc == instr_depth marker (PC_RANGE).
    fault : ``Out(ErrorCode)``
        The first failing rule (NONE if none).
    steps : ``Out(steps_bits(config))``
        An LMMA's ``planes * count`` (valid when the planes field passed BAD_FIELD).
    """

    def __init__(self, config: CoreConfig):
        self._config = config
        super().__init__({"word": In(isa.INSTR_BITS), "past_end": In(1),
                          "fault": Out(ErrorCode), "steps": Out(steps_bits(config))})

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        word = data.View(isa.INSTRUCTION_LAYOUT, self.word)
        op = word.opcode
        is_nop = equals(op, Opcode.NOP.value)
        is_pre = op == Opcode.PRECOMP
        is_lmma = op == Opcode.LMMA
        is_store = op == Opcode.STORE
        is_halt = op == Opcode.HALT
        legal = is_nop | is_pre | is_lmma | is_store | is_halt

        # PRECOMP and LMMA share the positions of mode, count and table address.
        mode = word.precomp.mode
        count = word.precomp.count
        elut = mode == Mode.ELUT
        uses_mode = is_pre | is_lmma
        bad_mode = uses_mode & elut if not cfg.has_elut else Const(0)

        reserved = Mux(is_pre, word.precomp.reserved.any(),
                   Mux(is_lmma, word.lmma.reserved.any(),
                   Mux(is_store, word.store.reserved.any(),
                   Mux(is_nop, word.nop.reserved.any(), word.halt.reserved.any()))))
        planes = word.lmma.planes
        limit = Mux(elut, 1, cfg.weight_bits)
        bad_planes = is_lmma & (~planes.any() | (planes > limit))
        cmax = (1 << cfg.weight_bits) - 1
        c = word.store.c
        bad_c = is_store & ((c > cmax) | (c < -cmax))
        bad_field = reserved | (uses_mode & ~count.any()) | bad_planes | bad_c

        # planes * count by shifts and adds (planes <= weight_bits once BAD_FIELD passed).
        for p in range(1, cfg.weight_bits + 1):
            with m.If(planes == p):
                terms = [count << b for b in range(p.bit_length()) if p >> b & 1]
                total = terms[0]
                for t in terms[1:]:
                    total = total + t
                m.d.comb += self.steps.eq(total)

        table_addr = word.precomp.table_addr
        # The weight range of an LMMA (which needs steps) is checked in the second stage;
        # ADDR_RANGE is the last rule, so it only applies when nothing else failed.
        bad_addr = Mux(is_pre, _past(word.precomp.act_addr, count, cfg.act_depth)
                       | _past(table_addr, count, cfg.table_depth),
                   Mux(is_lmma, _past(table_addr, count, cfg.table_depth),
                   Mux(is_store, _past(word.store.out_addr, cfg.m, cfg.out_depth), 0)))

        # Priority of isa.validate: the first failing rule is reported.
        code = ErrorCode.NONE.value
        for failed, error in reversed([(self.past_end, ErrorCode.PC_RANGE),
                                       (~legal, ErrorCode.ILLEGAL_OPCODE),
                                       (bad_mode, ErrorCode.BAD_MODE),
                                       (bad_field, ErrorCode.BAD_FIELD),
                                       (bad_addr, ErrorCode.ADDR_RANGE)]):
            code = Mux(failed, error.value, code)
        m.d.comb += self.fault.as_value().eq(code)
        return m


class ValidateWeights(wiring.Component):
    """Second decode stage (combinational): the final fault code, the first stage's (``early``)
    or else ADDR_RANGE for an LMMA whose weights run past the weight buffer (on the registered
    ``steps``).

    Members
    -------
    word : ``In(INSTR_BITS)``
    early : ``In(ErrorCode)``
    steps : ``In(steps_bits(config))``
    fault : ``Out(ErrorCode)``
    """

    def __init__(self, config: CoreConfig):
        self._config = config
        super().__init__({"word": In(isa.INSTR_BITS), "early": In(ErrorCode),
                          "steps": In(steps_bits(config)), "fault": Out(ErrorCode)})

    def elaborate(self, platform):
        m = Module()
        word = data.View(isa.INSTRUCTION_LAYOUT, self.word)
        weight_past = (word.opcode == Opcode.LMMA) & _past(word.lmma.weight_addr, self.steps,
                                                           self._config.weight_depth)
        early = self.early.as_value()
        m.d.comb += self.fault.as_value().eq(
            Mux(early.any(), early,
                Mux(weight_past, ErrorCode.ADDR_RANGE.value,
                    ErrorCode.NONE.value)))
        return m
