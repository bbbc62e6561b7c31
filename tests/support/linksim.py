"""Amaranth-simulator helpers for the UART link tests: stream drivers with random idle and
backpressure, a UART line driver and decoder, and a scriptable host-port device."""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from amaranth.sim import Simulator


def run(dut, testbenches, background=(), *, deadline=200_000):
    """Simulate ``dut``: ``testbenches`` must all finish, ``background`` ones run alongside.
    A watchdog fails the run after ``deadline`` cycles, so a hang is a failure."""
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    for tb in testbenches:
        sim.add_testbench(tb)
    for tb in background:
        sim.add_testbench(tb, background=True)

    async def watchdog(ctx):
        await ctx.delay(deadline * 1e-6)
        raise AssertionError(f"simulation still running after {deadline} cycles (hang)")

    sim.add_testbench(watchdog, background=True)
    sim.run()


async def idle(ctx, rng, p, most=8):
    """Random idle: with probability ``p`` wait 1..``most`` cycles."""
    if rng is not None and rng.random() < p:
        await ctx.tick().repeat(rng.randint(1, most))


async def put(ctx, stream, payload, *, rng=None, p_idle=0.0):
    """Offer one payload (after optional random idle) and wait until it is taken."""
    await idle(ctx, rng, p_idle)
    ctx.set(stream.payload, payload)
    ctx.set(stream.valid, 1)
    await ctx.tick().until(stream.ready)
    ctx.set(stream.valid, 0)


async def get(ctx, stream, *, rng=None, p_stall=0.0):
    """Take one payload, stalling ``ready`` at random."""
    while True:
        ready = rng is None or rng.random() >= p_stall
        ctx.set(stream.ready, ready)
        _, _, valid, payload = await ctx.tick().sample(stream.valid, stream.payload)
        if valid and ready:
            ctx.set(stream.ready, 0)
            return payload


async def uart_send(ctx, line, byte, divisor, *, stop_bit=1):
    """Drive one 8N1 byte onto ``line``."""
    for bit in [0, *((byte >> i) & 1 for i in range(8)), stop_bit]:
        ctx.set(line, bit)
        await ctx.tick().repeat(divisor)
    ctx.set(line, 1)


async def ticks(ctx, n):
    """``n`` clock cycles, one await each: safe in background testbenches, which the
    simulator may abandon mid-wait (``repeat``/``until`` complain when that happens)."""
    for _ in range(n):
        await ctx.tick()


async def uart_receive(ctx, line, divisor):
    """Wait for a start bit on ``line`` and return the byte (sampled mid-bit). Raises if the
    stop bit is low."""
    while ctx.get(line):
        await ctx.tick()
    await ticks(ctx, divisor // 2)
    assert ctx.get(line) == 0, "start bit did not last half a bit"
    value = 0
    for i in range(8):
        await ticks(ctx, divisor)
        value |= ctx.get(line) << i
    await ticks(ctx, divisor)
    assert ctx.get(line) == 1, "stop bit is low"
    return value


@dataclass
class DeviceScript:
    """Behaviour of the simulated host-port device.

    ``p_stall``: chance per cycle that ``req.ready`` is low. ``latency(i)``: cycles from
    accepting read ``i`` (counting from 0) to offering its response; ``None`` never answers.
    ``accept_from``: the first cycle requests are accepted at all (before it, a dead device).
    """

    host_bits: int = 32
    depth: int = 256
    p_stall: float = 0.3
    latency: Callable[[int], int | None] | None = None
    accept_from: int = 0
    memory: list = field(default_factory=list)
    log: list = field(default_factory=list)      # (cycle, 'r'|'w', addr, data)

    def __post_init__(self):
        if not self.memory:
            self.memory = [0] * self.depth


async def device(ctx, port, script: DeviceScript, rng: random.Random):
    """Act as the device on the initiator-side host port ``port`` forever."""
    responses = deque()          # (due cycle, data)
    reads = 0
    cycle = 0
    mask = (1 << script.host_bits) - 1
    while True:
        ready = cycle >= script.accept_from and rng.random() >= script.p_stall
        ctx.set(port.req.ready, ready)
        due = responses and responses[0][0] <= cycle
        ctx.set(port.resp.valid, bool(due))
        if due:
            ctx.set(port.resp.payload, responses[0][1])
        _, _, valid, req, resp_ready = await ctx.tick().sample(
            port.req.valid, port.req.payload, port.resp.ready)
        if due and resp_ready:
            responses.popleft()
        if valid and ready:
            index = req.addr % script.depth
            if req.write:
                script.memory[index] = req.data & mask
                script.log.append((cycle, "w", req.addr, req.data))
            else:
                script.log.append((cycle, "r", req.addr, script.memory[index]))
                lat = script.latency(reads) if script.latency else rng.randint(1, 4)
                reads += 1
                if lat is not None:
                    # Responses come back in request order.
                    at = max(cycle + lat, responses[-1][0] + 1 if responses else 0)
                    responses.append((at, script.memory[index]))
        cycle += 1
