"""cocotb driver and monitors for the accelerator's host port (docs/architecture.md).

- :class:`HostPort` is the initiator: it drives requests (``host__req__*``) with random idle
  cycles (probability ``idle``, random garbage on the payload while idle), and a background
  task takes responses (``host__resp__*``) with random backpressure (probability ``stall``),
  all from one seeded :class:`random.Random`. It checks the response stream as it takes it:
  a stalled response must hold its payload, there is exactly one response per read, and
  nothing arrives when no read is outstanding.
- :class:`StreamMonitor` is a passive checker of any valid/ready stream (valid holds and the
  payload is stable until accepted); it sleeps while valid is low, so it costs nothing while
  the core computes.

Cycle sampling: after ``await RisingEdge(clk)`` a read returns the value the signal had at
that edge (before the edge's register updates), and a write takes effect for the next edge.
A transfer therefore "happened at an edge" when valid and ready both read 1 right after it.

Every wait is bounded: requests time out after ``max_wait`` cycles without ``ready``,
responses after ``max_wait`` cycles, and :meth:`HostPort.wait_done` after the cycles it is
given; a bound hit raises :class:`HostPortError`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import cocotb
from cocotb.triggers import (Event, FallingEdge, First, ReadOnly, RisingEdge, SimTimeoutError,
                             Timer, with_timeout)

from ..hw.hostport import RequestLayout
from ..spec import isa

__all__ = ["HostPortError", "PortStats", "StreamMonitor", "HostPort", "HostPortTransport",
           "CLOCK_NS", "reset", "start_clock"]

#: Clock period of the benches, in ns.
CLOCK_NS = 10


class HostPortError(AssertionError):
    """A stream rule was broken, or a bounded wait ran out."""


@dataclass
class PortStats:
    """Traffic counts of one :class:`HostPort`."""

    writes: int = 0
    reads: int = 0
    responses: int = 0
    idle_cycles: int = 0               # request cycles left idle on purpose
    stall_cycles: int = 0              # response cycles with ready held low on purpose
    wait_cycles: int = 0               # request cycles the device did not accept
    errors: list[str] = field(default_factory=list)


class StreamMonitor:
    """Passive checker of one valid/ready stream.

    Checks, at every clock edge where ``valid`` is high: if the beat was not accepted, the
    next edge must still see ``valid`` with the same payload. Counts accepted beats in
    :attr:`transfers` and keeps their payloads in :attr:`beats` when ``keep`` is set.
    Violations are collected in :attr:`errors` (the bench asserts it is empty).
    """

    def __init__(self, clk, valid, ready, payload, name: str, *, keep: bool = False):
        self.clk, self.valid, self.ready, self.payload = clk, valid, ready, payload
        self.name = name
        self.keep = keep
        self.transfers = 0
        self.beats: list[int] = []
        self.errors: list[str] = []
        self._task = None

    def start(self) -> "StreamMonitor":
        self._task = cocotb.start_soon(self._run())
        return self

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self):
        held = None                     # payload of a beat waiting for ready
        while True:
            if held is None and not int(self.valid.value):
                await RisingEdge(self.valid)         # nothing to check while valid is low
            await RisingEdge(self.clk)
            valid = int(self.valid.value)
            payload = int(self.payload.value) if valid else None
            if held is not None:
                if not valid:
                    self.errors.append(f"{self.name}: valid dropped before the beat "
                                       f"{held:#x} was accepted")
                elif payload != held:
                    self.errors.append(f"{self.name}: payload changed from {held:#x} to "
                                       f"{payload:#x} while waiting for ready")
            if valid and int(self.ready.value):
                self.transfers += 1
                if self.keep:
                    self.beats.append(payload)
                held = None
            else:
                held = payload


class HostPort:
    """The host side of the accelerator's host port, for cocotb benches.

    Parameters
    ----------
    dut : the Verilator top (ports ``clk``, ``host__req__*``, ``host__resp__*``, ``busy``).
    config : CoreConfig
        Sets ``host_bits`` and the address map.
    seed : int
        Seeds the random idle and backpressure.
    idle : float
        Probability of an idle cycle before each request (0 <= idle < 1).
    stall : float
        Probability of holding ``resp.ready`` low in a cycle (0 <= stall < 1).
    max_wait : int
        Cycles a request may wait for ``ready`` or a read for its response.
    monitor : bool
        Also run :class:`StreamMonitor` on the request stream.
    """

    def __init__(self, dut, config, *, seed: int = 0, idle: float = 0.0, stall: float = 0.0,
                 max_wait: int = 1 << 20, monitor: bool = False):
        for name, p in (("idle", idle), ("stall", stall)):
            if not 0 <= p < 1:
                raise ValueError(f"HostPort: {name} = {p!r} is invalid: allowed 0 <= p < 1")
        self.dut = dut
        self.config = config
        self.idle = idle
        self.stall = stall
        self.max_wait = max_wait
        self.stats = PortStats()
        self._rng = random.Random(seed)
        self._hb = config.host_bits
        self._mask = (1 << self._hb) - 1
        layout = RequestLayout(self._hb)
        self._data_shift = layout["data"].offset
        self._write_bit = 1 << layout["write"].offset
        self._addr_mask = (1 << layout["addr"].width) - 1
        self._garbage_bits = layout.size
        self.clk = dut.clk
        self.req_valid, self.req_ready = dut.host__req__valid, dut.host__req__ready
        self.req_payload = dut.host__req__payload
        self.resp_valid, self.resp_ready = dut.host__resp__valid, dut.host__resp__ready
        self.resp_payload = dut.host__resp__payload
        self._expected = 0                       # reads accepted, responses not yet taken
        self._responses: list[int] = []
        self._wake = Event()
        self._drained = Event()
        self._collector = None
        self.monitor = StreamMonitor(self.clk, self.req_valid, self.req_ready,
                                     self.req_payload, "request") if monitor else None

    # -- set-up -----------------------------------------------------------------------------
    def start(self) -> "HostPort":
        """Idle the request stream and start the response collector (and monitor)."""
        self.req_valid.value = 0
        self.req_payload.value = 0
        self.resp_ready.value = 0
        self._collector = cocotb.start_soon(self._collect())
        if self.monitor is not None:
            self.monitor.start()
        return self

    def check(self) -> None:
        """Raise :class:`HostPortError` if a rule was broken or a response is missing."""
        errors = list(self.stats.errors) + (self.monitor.errors if self.monitor else [])
        if self._expected:
            errors.append(f"{self._expected} read response(s) missing")
        if errors:
            raise HostPortError("; ".join(errors[:5]))

    # -- requests ---------------------------------------------------------------------------
    def _payload(self, addr: int, data: int, write: bool) -> int:
        return ((addr & self._addr_mask) | ((data & self._mask) << self._data_shift)
                | (self._write_bit if write else 0))

    async def _send(self, payloads: Iterable[int], reads: bool) -> None:
        """Drive ``payloads`` as requests, in order, each held until accepted.

        The hot loop of bulk loads: one ``RisingEdge`` await and one ``ready`` read per
        accepted request; ``valid`` is written only when it changes."""
        rng, idle = self._rng, self.idle
        valid, ready, payload_sig = self.req_valid, self.req_ready, self.req_payload
        edge = RisingEdge(self.clk)
        high = False
        sent = 0
        for payload in payloads:
            if idle and rng.random() < idle:
                valid.value = 0
                high = False
                while True:
                    payload_sig.value = rng.getrandbits(self._garbage_bits)
                    self.stats.idle_cycles += 1
                    await edge
                    if rng.random() >= idle:
                        break
            payload_sig.value = payload
            if not high:
                valid.value = 1
                high = True
            await edge
            if not int(ready.value):
                waited = 0
                while True:
                    waited += 1
                    if waited > self.max_wait:
                        valid.value = 0
                        raise HostPortError(f"request {payload:#x} not accepted within "
                                            f"{self.max_wait} cycles")
                    await edge
                    if int(ready.value):
                        break
                self.stats.wait_cycles += waited
            if reads:
                self._expected += 1
                self.stats.reads += 1
                self._drained.clear()
                self._wake.set()
            else:
                sent += 1
        valid.value = 0
        self.stats.writes += sent

    async def write_many(self, addrs: Sequence[int], data: Sequence[int]) -> None:
        """Write ``data[i]`` to host address ``addrs[i]``, in order."""
        if len(addrs) != len(data):
            raise ValueError(f"write_many: {len(addrs)} addresses but {len(data)} words")
        make = self._payload
        await self._send((make(int(a), int(d), True) for a, d in zip(addrs, data)), False)

    async def read_many(self, addrs: Sequence[int]) -> list[int]:
        """Read host addresses ``addrs`` (pipelined); returns the words in order."""
        first = len(self._responses)
        make = self._payload
        await self._send((make(int(a), 0, False) for a in addrs), True)
        await self._wait_responses()
        words = self._responses[first:]
        del self._responses[first:]
        return words

    async def write(self, addr: int, data: int) -> None:
        await self.write_many([addr], [data])

    async def read(self, addr: int) -> int:
        return (await self.read_many([addr]))[0]

    async def _wait_responses(self) -> None:
        if not self._expected:
            return
        try:
            await with_timeout(self._drained.wait(), self.max_wait * CLOCK_NS, "ns")
        except SimTimeoutError:
            raise HostPortError(f"{self._expected} read response(s) not received within "
                                f"{self.max_wait} cycles") from None

    # -- responses --------------------------------------------------------------------------
    async def _collect(self):
        rng = self._rng
        edge = RisingEdge(self.clk)
        held = None
        while True:
            if not self._expected:
                self.resp_ready.value = 0
                self._wake.clear()                    # reads so far are all answered
                await ReadOnly()                      # settled values of this cycle
                if int(self.resp_valid.value):
                    self.stats.errors.append("a response arrived with no read outstanding")
                    return
                await First(self._wake.wait(), RisingEdge(self.resp_valid))
                if not self._expected:               # valid rose with nothing outstanding
                    self.stats.errors.append("a response arrived with no read outstanding")
                    return
                continue
            ready = 0 if (self.stall and rng.random() < self.stall) else 1
            if not ready:
                self.stats.stall_cycles += 1
            self.resp_ready.value = ready
            await edge
            if not int(self.resp_valid.value):
                if held is not None:
                    self.stats.errors.append(f"response {held:#x} withdrawn before it was "
                                             f"accepted")
                    held = None
                continue
            payload = int(self.resp_payload.value)
            if held is not None and payload != held:
                self.stats.errors.append(f"response changed from {held:#x} to {payload:#x} "
                                         f"while stalled")
            if ready:
                held = None
                self._responses.append(payload)
                self.stats.responses += 1
                self._expected -= 1
                if not self._expected:
                    self._drained.set()
            else:
                held = payload

    # -- CSRs and control ---------------------------------------------------------------------
    def csr_address(self, csr: isa.Csr) -> int:
        return isa.host_address(isa.Region.CSR, int(csr), config=self.config)

    async def status(self):
        """STATUS as a :data:`~lutcore.spec.isa.STATUS_LAYOUT` constant view."""
        raw = await self.read(self.csr_address(isa.Csr.STATUS))
        return isa.STATUS_LAYOUT.from_bits(raw & ((1 << isa.STATUS_LAYOUT.size) - 1))

    async def cycles(self) -> int:
        lo, hi = await self.read_many([self.csr_address(isa.Csr.CYCLES_LO),
                                       self.csr_address(isa.Csr.CYCLES_HI)])
        return lo | (hi << self._hb)

    async def pc(self) -> int:
        return await self.read(self.csr_address(isa.Csr.PC))

    async def control(self, *, start: bool = False, clear: bool = False) -> None:
        value = isa.CTRL_LAYOUT.const({"start": int(start), "clear": int(clear)}).as_bits()
        await self.write(self.csr_address(isa.Csr.CTRL), value)

    async def wait_done(self, max_cycles: int) -> int:
        """After a start: wait (one trigger, no per-cycle Python) until the core stops;
        returns the simulated cycles waited. Raises :class:`HostPortError` after
        ``max_cycles``."""
        from cocotb.simtime import get_sim_time

        begin = get_sim_time("ns")
        try:
            await with_timeout(FallingEdge(self.dut.busy), max_cycles * CLOCK_NS, "ns")
        except SimTimeoutError:
            raise HostPortError(f"the core did not stop within {max_cycles} cycles") from None
        return int((get_sim_time("ns") - begin) // CLOCK_NS)


class HostPortTransport:
    """The runtime's transport (:mod:`lutcore.host.transport`, coroutine methods) onto a
    started :class:`HostPort`."""

    def __init__(self, port: HostPort):
        self.port = port

    async def write(self, addrs, data) -> None:
        await self.port.write_many(addrs.reshape(-1).tolist(), data.reshape(-1).tolist())

    async def read(self, addrs):
        import numpy as np

        flat = np.asarray(addrs, np.uint64).reshape(-1).tolist()
        words = await self.port.read_many(flat) if flat else []
        return np.array(words, np.uint64).reshape(np.shape(addrs))

    async def wait_done(self, max_cycles: int) -> int:
        return await self.port.wait_done(max_cycles)

    async def reset(self) -> None:
        await reset(self.port.dut)

    async def close(self) -> None:
        self.port.check()


async def reset(dut, cycles: int = 4) -> None:
    """Hold ``rst`` high for ``cycles`` clock edges, then release it."""
    dut.rst.value = 1
    for _ in range(cycles):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    await RisingEdge(dut.clk)


def start_clock(dut):
    """Start the bench clock (period :data:`CLOCK_NS`) on ``dut.clk``."""
    from cocotb.clock import Clock

    return cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())

