# amaranth: UnusedElaboratable=no
"""The two decode stages against :func:`lutcore.spec.isa.validate`: the fault of every word,
random and built near the field and buffer limits, chained as in the controller."""

from __future__ import annotations

import random

import pytest
from amaranth.hdl import Module
from amaranth.sim import Simulator

from hwbench import CONFIGS

from lutcore.hw.accelerator.decode import Validate, ValidateWeights
from lutcore.spec import isa
from lutcore.spec.isa import ErrorCode, Lmma, Mode, Precomp, Store


def _near(rng, depth):
    """An address or count near ``depth`` (both sides of the limit) or anywhere below it."""
    return rng.choice([rng.randrange(depth), max(0, depth - rng.randrange(1, 4)),
                       depth + rng.randrange(0, 3), rng.randrange(1, 4)])


def _word(rng, cfg) -> int:
    """A random instruction word: raw bits, or a PRECOMP / LMMA / STORE / NOP / HALT with
    fields at and around their limits, sometimes with reserved bits set."""
    mode = rng.choice([Mode.BITSERIAL, Mode.ELUT])
    kind = rng.randrange(6)
    if kind == 0:
        return rng.getrandbits(isa.INSTR_BITS)
    if kind == 1:
        instr = Precomp(mode=mode, act_addr=_near(rng, cfg.act_depth) % 2 ** isa.ADDR_BITS,
                        table_addr=_near(rng, cfg.table_depth),
                        count=rng.choice([0, 1, _near(rng, cfg.table_depth)]))
    elif kind == 2:
        instr = Lmma(mode=mode, table_addr=_near(rng, cfg.table_depth),
                     weight_addr=_near(rng, cfg.weight_depth),
                     count=rng.choice([0, 1, _near(rng, cfg.table_depth)]),
                     planes=rng.randrange(0, cfg.weight_bits + 2), clear=rng.randrange(2))
    elif kind == 3:
        cmax = (1 << cfg.weight_bits) - 1
        lo, hi = isa.field_range(isa.STORE_LAYOUT["c"].shape)
        c = rng.choice([0, cmax, -cmax, cmax + 1, -cmax - 1])
        instr = Store(out_addr=_near(rng, cfg.out_depth), c=min(max(c, lo), hi))
    else:
        instr = rng.choice([isa.Nop(), isa.Halt()])
    word = instr.encode()
    if rng.random() < 0.15:
        word |= 1 << rng.randrange(48, isa.INSTR_BITS)   # reserved bits of every format
    return word


@pytest.mark.parametrize("name", ["tiny", "default", "m3n5g3", "noelut", "g5"])
def test_fault_is_isa_validate(name):
    cfg = CONFIGS[name]
    rng = random.Random(name)
    m = Module()
    m.submodules.early = early = Validate(cfg)
    m.submodules.late = late = ValidateWeights(cfg)
    m.d.comb += [late.word.eq(early.word), late.early.eq(early.fault),
                 late.steps.eq(early.steps)]
    words = [_word(rng, cfg) for _ in range(300)]
    seen = set()

    async def bench(ctx):
        for word in words:
            past_end = rng.random() < 0.05
            ctx.set(early.word, word)
            ctx.set(early.past_end, past_end)
            fault = isa.validate(word, cfg)
            want = ErrorCode.PC_RANGE if past_end else (fault.code if fault else ErrorCode.NONE)
            got = ctx.get(late.fault)
            assert got == want, f"word {word:#018x}: fault {got}, isa.validate {want}"
            seen.add(want)

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    # Every rule was exercised (BAD_MODE only exists without ELUT).
    wanted = {ErrorCode.NONE, ErrorCode.PC_RANGE, ErrorCode.ILLEGAL_OPCODE,
              ErrorCode.BAD_FIELD, ErrorCode.ADDR_RANGE}
    assert wanted <= seen
    assert (ErrorCode.BAD_MODE in seen) == (not cfg.has_elut)
