"""cocotb bench: the board design (UART link + device) on Verilator, driven by the real host
code (:mod:`lutcore.link.client`, and the ``uart`` device of :mod:`lutcore.host`) through a
simulated serial line.

The host code is blocking Python; it runs in a :func:`cocotb.bridge` thread and reaches the
simulation through :class:`SimSerial`, whose ``write``/``read`` resume coroutines that drive
the ``rx`` pin and decode the ``tx`` pin bit by bit.

Parameters come from the environment (set by the pytest wrapper):
``LUTCORE_TB_DIVISOR`` (cycles per bit), ``LUTCORE_TB_CONFIG`` (JSON of the CoreConfig),
``LUTCORE_TB_DEVICE`` (scratchpad | accelerator), ``LUTCORE_TB_SEED``.
"""

from __future__ import annotations

import os
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.task import bridge, resume
from cocotb.triggers import ClockCycles, RisingEdge

from ..spec.config import CoreConfig
from ..link import protocol as proto
from ..host import run_gemm
from ..link.client import BufferedTransport, Link
from ..link.model import MemoryDevice

DIVISOR = int(os.environ.get("LUTCORE_TB_DIVISOR", "8"))
CONFIG = CoreConfig.from_json(os.environ.get("LUTCORE_TB_CONFIG", '{"name": "tiny"}'))
DEVICE = os.environ.get("LUTCORE_TB_DEVICE", "scratchpad")
SEED = int(os.environ.get("LUTCORE_TB_SEED", "1"))
SCRATCHPAD_DEPTH = int(os.environ.get("LUTCORE_TB_DEPTH", "1024"))
#: Simulated seconds of the host's timeouts are counted as this many cycles each.
CYCLES_PER_SECOND = 200_000


class SimSerial(BufferedTransport):
    """A serial line into the design: the host-side ``Transport`` of :mod:`lutcore.link.client`
    (blocking methods, called from a bridge thread) backed by two coroutines on the pins.

    ``corrupt``: indices of bytes (counted over everything sent) whose bit 3 is flipped on
    the line. Bytes are sent with random idle between them (less than a byte time).
    """

    def __init__(self, dut, divisor: int, rng: random.Random, corrupt=()):
        super().__init__()
        self.dut = dut
        self.divisor = divisor
        self.rng = rng
        self.corrupt = set(corrupt)
        self.outgoing = bytearray()
        self.sent = 0
        self._read = resume(self._read_async)

    async def drive(self):
        self.dut.rx.value = 1
        while True:
            if not self.outgoing:
                await RisingEdge(self.dut.clk)
                continue
            byte = self.outgoing.pop(0)
            if self.sent in self.corrupt:
                byte ^= 0x08
            self.sent += 1
            if self.rng.random() < 0.3:
                await ClockCycles(self.dut.clk, self.rng.randint(1, 8 * self.divisor))
            for bit in [0, *((byte >> i) & 1 for i in range(8)), 1]:
                self.dut.rx.value = bit
                await ClockCycles(self.dut.clk, self.divisor)

    async def listen(self):
        while True:
            await RisingEdge(self.dut.clk)
            if int(self.dut.tx.value):
                continue
            await ClockCycles(self.dut.clk, self.divisor // 2)
            assert int(self.dut.tx.value) == 0, "start bit shorter than half a bit"
            value = 0
            for i in range(8):
                await ClockCycles(self.dut.clk, self.divisor)
                value |= int(self.dut.tx.value) << i
            await ClockCycles(self.dut.clk, self.divisor)
            assert int(self.dut.tx.value) == 1, "stop bit is low"
            self.incoming.append(value)

    # -- Transport (blocking, bridge thread) --------------------------------------------------
    def write(self, data: bytes) -> None:
        self.outgoing += data          # the simulator is paused while this thread runs

    def read(self, size: int, timeout: float) -> bytes:
        return self._read(size, max(1, int(timeout * CYCLES_PER_SECOND)))

    async def _read_async(self, size: int, cycles: int) -> bytes:
        for _ in range(cycles):
            if self.incoming and not self.outgoing:
                break
            await RisingEdge(self.dut.clk)
        return self.take(size)


async def start(dut, corrupt=()):
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    dut.rx.value = 1
    await ClockCycles(dut.clk, 5)
    dut.rst.value = 0
    line = SimSerial(dut, DIVISOR, random.Random(SEED), corrupt)
    cocotb.start_soon(line.drive())
    cocotb.start_soon(line.listen())
    return line


@cocotb.test(skip=DEVICE != "scratchpad")
async def scratchpad_bursts(dut):
    """INFO, then bursts of writes and reads through the UART, compared with a shadow
    memory; a corrupted request is resent by the host and still lands once."""
    # Byte 20 on the line belongs to the second WRITE frame: the board rejects it (BAD_CRC)
    # and the host resends it.
    line = await start(dut, corrupt=[20])
    rng = np.random.default_rng(SEED)
    mask = (1 << CONFIG.host_bits) - 1
    shadow = MemoryDevice(CONFIG.host_bits, SCRATCHPAD_DEPTH)

    @bridge
    def host():
        link = Link(line, host_bits=CONFIG.host_bits, timeout=30.0)
        info = link.connect()
        assert info.version == proto.PROTOCOL_VERSION and info.host_bits == CONFIG.host_bits
        for _ in range(4):
            addr = int(rng.integers(0, SCRATCHPAD_DEPTH - 40))
            words = [int(x) & mask for x in rng.integers(0, 1 << 62, int(rng.integers(1, 40)))]
            link.write(addr, words)
            for i, w in enumerate(words):
                shadow.write(addr + i, w)
            start_addr = int(rng.integers(0, SCRATCHPAD_DEPTH - 50))
            got = link.read(start_addr, 50)
            assert got == shadow.words[start_addr:start_addr + 50], (start_addr, got)
        return link.stats

    stats = await host()
    assert stats.retries == 1, stats
    assert not line.incoming


@cocotb.test(skip=DEVICE != "accelerator")
async def accelerator_gemm(dut):
    """Ternary GEMMs of both modes through the UART, bit-exact against NumPy, with the
    accelerator's own cycle counts equal to the timing contract."""
    from ..sw.compiler import compile_gemm

    line = await start(dut)
    rng = np.random.default_rng(SEED)

    @bridge
    def host():
        results = []
        for mode in CONFIG.modes:
            m, n, k = 2, CONFIG.n + 3, 3 * CONFIG.g + 1
            a = rng.integers(-128, 128, (m, k)).astype(np.int8)
            w = rng.integers(-1, 2, (n, k)).astype(np.int8)
            res = run_gemm(a, w, backend="uart", mode=mode, config=CONFIG, transport=line,
                           timeout=60.0, run_timeout=600.0)
            program = compile_gemm(a, w, config=CONFIG, mode=mode)
            results.append((a, w, res, sum(program.predicted_cycles())))
        return results

    for a, w, res, predicted in await host():
        np.testing.assert_array_equal(res.output, a.astype(np.int64) @ w.astype(np.int64).T)
        assert res.cycles == predicted
