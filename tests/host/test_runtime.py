"""The one runtime (lutcore.host.runtime) over the ISS transport: the int64 reference, the
per-phase host sequence as docs/architecture.md states it, the sync and async drivers,
faults, and the parts of a long-K GEMM."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from lutcore.host import ProgramRun, Runtime, add_parts, compile_parts, drive_async
from lutcore.host.iss import IssTransport
from lutcore.host.transport import Read, WaitDone, Write
from lutcore.spec import isa
from lutcore.spec.config import PRESETS, preset
from lutcore.sw.compiler import compile_gemm
from lutcore.sw.iss import ExecutionError

CSR = 0 << isa.REGION_SHIFT                  # region 0 (docs/architecture.md, "Host port")


def operands(seed, m, n, k):
    rng = np.random.default_rng(seed)
    return rng.integers(-128, 128, (m, k)), rng.integers(-1, 2, (n, k))


def reference(a, w, acc_bits):
    out = np.asarray(a, np.int64) @ np.asarray(w, np.int64).T
    return (out + (1 << (acc_bits - 1))) % (1 << acc_bits) - (1 << (acc_bits - 1))


@pytest.mark.parametrize("mode", ["bitserial", "elut"])
@pytest.mark.parametrize("name,shape", [("tiny", (3, 11, 37)), ("tiny", (1, 7, 1100)),
                                        ("default", (5, 130, 5)), ("large", (2, 65, 301))])
def test_runtime_over_iss_equals_int64_reference(name, shape, mode):
    cfg = PRESETS[name]
    a, w = operands(hash((name, shape, mode)) % 1000, *shape)
    program = compile_gemm(a, w, config=cfg, mode=mode)
    run = Runtime(IssTransport(cfg), cfg).run(program)
    np.testing.assert_array_equal(run.output, reference(a, w, cfg.acc_bits))
    assert len(run.phases) == len(program.phases)
    assert all(p.done and not p.error for p in run.phases)


class Recorder:
    """A transport that logs the operations and answers from an ISS transport."""

    def __init__(self, config):
        self.inner = IssTransport(config)
        self.log = []

    def write(self, addrs, data):
        self.log.append(("write", addrs.copy(), data.copy()))
        self.inner.write(addrs, data)

    def read(self, addrs):
        self.log.append(("read", np.asarray(addrs).copy()))
        return self.inner.read(addrs)

    def wait_done(self, max_cycles):
        self.log.append(("wait", max_cycles))

    def reset(self):
        self.log.append(("reset",))

    def close(self):
        pass


def test_phase_sequence_is_the_documented_one():
    """Per phase: images and instructions, STATUS, CTRL clear then start, wait, STATUS,
    CYCLES_LO, CYCLES_HI, PC, then the output words (addresses from the memory map)."""
    cfg = preset("tiny")
    a, w = operands(1, 5, 33, 70)
    program = compile_gemm(a, w, config=cfg, mode="bitserial")
    assert len(program.phases) >= 2
    rec = Recorder(cfg)
    Runtime(rec, cfg).run(program)
    ops = iter(rec.log)
    for index in range(len(program.phases)):
        kind, addrs, data = next(ops)
        writes = program.host_writes(index)
        assert kind == "write" and np.array_equal(addrs, writes[0])
        # the last words written are the phase's instructions, at instruction address 0 up
        n_instr = len(program.phases[index].instructions)
        assert addrs[-1] >> isa.REGION_SHIFT == 1 and len(addrs) >= n_instr
        kind, addrs = next(ops)
        assert kind == "read" and addrs.tolist() == [CSR | 2]                 # STATUS
        kind, addrs, data = next(ops)
        assert kind == "write" and addrs.tolist() == [CSR | 1, CSR | 1]       # CTRL, CTRL
        assert data.tolist() == [0b10, 0b01]                                  # clear, start
        kind, limit = next(ops)
        assert kind == "wait" and limit > isa.TIMING.START
        kind, addrs = next(ops)
        assert kind == "read" and addrs.tolist() == [CSR | 2, CSR | 3, CSR | 4, CSR | 5]
        kind, addrs = next(ops)
        assert kind == "read" and np.array_equal(addrs, program.host_reads(index))
    assert next(ops, None) is None


def test_async_driver_gives_the_same_run():
    cfg = preset("default")
    a, w = operands(2, 3, 70, 50)
    program = compile_gemm(a, w, config=cfg, mode="elut")

    class Async:
        def __init__(self):
            self.inner = IssTransport(cfg)

        def __getattr__(self, name):
            method = getattr(self.inner, name)

            async def call(*args):
                return method(*args)
            return call

    runtime = Runtime(Async(), cfg)
    run = asyncio.run(runtime.run_async(program))
    sync = Runtime(IssTransport(cfg), cfg).run(program)
    np.testing.assert_array_equal(run.output, sync.output)
    assert run.phase_cycles == sync.phase_cycles
    # the generator is driven by hand too: the first operation is the phase-0 writes
    steps = runtime.steps(program)
    assert isinstance(next(steps), Write)


def test_fault_stops_the_program_and_names_the_phase():
    cfg = preset("tiny")
    a, w = operands(3, 5, 33, 70)
    program = compile_gemm(a, w, config=cfg)
    program.phases[1].instructions[1] = np.uint64(0xE)                 # an illegal opcode
    run = Runtime(IssTransport(cfg), cfg).run(program)
    assert run.output is None and len(run.phases) == 2
    assert run.phases[1].code is isa.ErrorCode.ILLEGAL_OPCODE and run.phases[1].pc == 1
    with pytest.raises(ExecutionError, match=r"^phase 1 pc 1 error ILLEGAL_OPCODE"):
        run.raise_on_fault()


def test_host_fault_while_loading_stops_before_the_start():
    """A load the memory map refuses (a write to the read-only TABLE region) sets HOST_ADDR;
    the runtime reads STATUS before starting and stops there."""
    cfg = preset("tiny")
    a, w = operands(4, 1, 4, 8)
    program = compile_gemm(a, w, config=cfg)
    transport = IssTransport(cfg)
    transport.write(np.array([3 << isa.REGION_SHIFT], np.uint64), np.array([1], np.uint64))
    run = Runtime(transport, cfg).run(program)
    assert run.phases[0].code is isa.ErrorCode.HOST_ADDR and transport.model.starts == 0


def test_program_for_another_config_is_refused():
    a, w = operands(5, 1, 4, 8)
    program = compile_gemm(a, w, config="tiny")
    cfg = preset("default")
    with pytest.raises(Exception, match=r"program is for config 'tiny', the device runs "
                                        r"'default'"):
        Runtime(IssTransport(cfg), cfg).run(program)


def test_parts_add_modulo_acc_bits():
    cfg = preset("tiny")
    a, w = operands(6, 2, 5, 30)
    # A bound of one byte forces one K group per part: ceil(30 / g) parts.
    parts = list(compile_parts(a, w, config=cfg, mode="bitserial", max_image_bytes=1))
    assert len(parts) == -(-30 // cfg.g)
    outs = [Runtime(IssTransport(cfg), cfg).run(p).output for p in parts]
    np.testing.assert_array_equal(add_parts(outs, cfg.acc_bits), reference(a, w, 24))
    top = (1 << 23) - 1
    assert add_parts([np.array([[top]]), np.array([[1]])], 24).tolist() == [[-(1 << 23)]]


def test_run_record_counts():
    cfg = preset("default")
    a, w = operands(7, 4, 64, 64)
    program = compile_gemm(a, w, config=cfg)
    run: ProgramRun = Runtime(IssTransport(cfg), cfg).run(program)
    # every output word is read once, sub-word by sub-word
    subs = -(-cfg.out_word_bits // cfg.host_bits)
    assert sum(p.reads for p in run.phases) == sum(len(p.reads) for p in program.phases) * subs
    assert run.utilization == pytest.approx(program.lookups() / run.cycles)
