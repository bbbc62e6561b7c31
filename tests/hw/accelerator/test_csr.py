"""The CSRs against a cycle model written from docs/architecture.md ("Host port"): random
CTRL writes, host faults, overruns and controller stops, every CSR read every cycle."""

from __future__ import annotations

import random

import pytest

import hwbench
from hwbench import CONFIGS, HOST_BITS_CONFIGS

from lutcore.hw.accelerator.csr import ControlStatus
from lutcore.spec import isa
from lutcore.spec.isa import Csr, ErrorCode

FAULTS = [ErrorCode.HOST_ADDR, ErrorCode.BUSY_WRITE]
STOP_FAULTS = [ErrorCode.ILLEGAL_OPCODE, ErrorCode.ADDR_RANGE, ErrorCode.PC_RANGE]

HOST_CONFIGS = {"tiny": CONFIGS["tiny"], **HOST_BITS_CONFIGS}


class Model:
    """STATUS, CYCLES and the error rules as the memory map states them."""

    def __init__(self, cfg):
        self.hb = cfg.host_bits
        self.cycles_bits = min(2 * cfg.host_bits, 64)
        self.busy = self.done = 0
        self.code = ErrorCode.NONE
        self.cycles = 0

    def read(self, addr: int, pc: int) -> int:
        status = (self.busy | self.done << 1 | (self.code != ErrorCode.NONE) << 2
                  | self.code.value << 8)
        value = {Csr.ID: isa.ID_VALUE, Csr.STATUS: status, Csr.CYCLES_LO: self.cycles,
                 Csr.CYCLES_HI: self.cycles >> self.hb, Csr.PC: pc}.get(addr, 0)
        return value & ((1 << self.hb) - 1)

    def step(self, start, clear, fault, overrun, stop, stop_fault):
        had_error = self.code != ErrorCode.NONE
        if self.busy:
            self.cycles = (self.cycles + 1) % (1 << self.cycles_bits)
        if clear:
            self.done, self.code = 0, ErrorCode.NONE
        if start:                         # (only offered while idle)
            self.busy, self.done, self.code, self.cycles = 1, 0, ErrorCode.NONE, 0
        # The first error is kept; a stopping instruction's fault wins in its cycle.
        if not had_error and fault != ErrorCode.NONE:
            self.code = fault
        if not had_error and overrun:
            self.code = ErrorCode.INTERNAL
        if stop:
            self.busy, self.done = 0, 1
            if (not had_error or clear) and stop_fault != ErrorCode.NONE:
                self.code = stop_fault


@pytest.mark.parametrize("name", list(HOST_CONFIGS))
@pytest.mark.parametrize("seed", [1])
def test_csr_model(name, seed):
    cfg = HOST_CONFIGS[name]
    rng = random.Random(seed)
    dut = ControlStatus(cfg)
    model = Model(cfg)
    pc_top = cfg.instr_depth

    async def bench(ctx):
        seen = set()
        for cycle in range(700):
            start = not model.busy and rng.random() < 0.1
            stop = model.busy and rng.random() < 0.03
            inputs = dict(
                start=start, clear=rng.random() < 0.05,
                fault=rng.choice(FAULTS) if rng.random() < 0.05 else ErrorCode.NONE,
                overrun=model.busy and rng.random() < 0.01, stop=stop,
                stop_fault=(rng.choice(STOP_FAULTS) if rng.random() < 0.5 else ErrorCode.NONE))
            pc = rng.randrange(pc_top + 1)
            ctx.set(dut.host.start, inputs["start"])
            ctx.set(dut.host.clear, inputs["clear"])
            ctx.set(dut.host.fault, inputs["fault"])
            ctx.set(dut.run.stop, inputs["stop"])
            ctx.set(dut.run.fault, inputs["stop_fault"])
            ctx.set(dut.run.overrun, inputs["overrun"])
            ctx.set(dut.run.pc, pc)
            for addr in range(2 ** len(dut.read.addr)):
                ctx.set(dut.read.addr, addr)
                assert ctx.get(dut.read.data) == model.read(addr, pc), \
                    f"cycle {cycle}: CSR {addr}"
            assert (ctx.get(dut.busy), ctx.get(dut.done), ctx.get(dut.error)) == \
                (model.busy, model.done, int(model.code != ErrorCode.NONE)), f"cycle {cycle}"
            assert ctx.get(dut.run.busy) == model.busy
            assert ctx.get(dut.run.start) == inputs["start"]
            seen.add(model.code)
            await ctx.tick()
            model.step(**inputs)
        assert {ErrorCode.NONE, ErrorCode.INTERNAL, *FAULTS} <= seen

    hwbench.run(dut, bench)
