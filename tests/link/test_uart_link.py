# amaranth: UnusedElaboratable=no
"""The whole UART link at pin level (UART rx, bridge, UART tx) with the Scratchpad device,
in Amaranth's simulator: frames go in bit by bit with random idle between bytes, replies are
decoded from the tx line and compared with the Python bridge model."""

import random

import pytest
from amaranth import Module
from amaranth.lib import wiring

from lutcore.link import protocol as proto
from lutcore.hw.hostport import Scratchpad
from lutcore.link.uart_link import UartHostLink
from lutcore.link.model import BridgeModel, MemoryDevice
from linksim import get, put, run, uart_receive, uart_send

DIVISOR = 4
BYTE = 10 * DIVISOR
FRAME_TIMEOUT = 6 * BYTE
DEPTH = 32
MAX_WORDS = 4



def random_ops(rng, count, addr_bound, *, depth):
    """``count`` random host-port requests on a ``depth``-word memory, half writes and half
    reads, and the value each read must return (the last one written to its word, else 0)."""
    shadow, ops, expect = [0] * depth, [], []
    for _ in range(count):
        addr = rng.randrange(addr_bound)
        if rng.random() < 0.5:
            value = rng.randrange(1 << 32)
            shadow[addr % depth] = value
            ops.append({"addr": addr, "data": value, "write": 1})
        else:
            expect.append(shadow[addr % depth])
            ops.append({"addr": addr, "data": 0, "write": 0})
    return ops, expect

def build(host_bits):
    m = Module()
    m.submodules.link = link = UartHostLink(divisor=DIVISOR, host_bits=host_bits,
                                            max_words=MAX_WORDS, frame_timeout=FRAME_TIMEOUT,
                                            device_timeout=64)
    m.submodules.dev = dev = Scratchpad(host_bits, DEPTH)
    wiring.connect(m, link.host, dev.host)
    return m, link


@pytest.mark.parametrize("host_bits,seed", [(32, 0), (16, 1)])
def test_link_pins_match_model(host_bits, seed):
    rng = random.Random(seed)
    mask = (1 << host_bits) - 1
    model = BridgeModel(MemoryDevice(host_bits, DEPTH), host_bits=host_bits, max_words=MAX_WORDS)
    # Each step: (bytes on the line, index of a byte sent with a low stop bit or None,
    # quiet afterwards).
    steps = []
    for seq in range(10):
        n = rng.randint(1, MAX_WORDS)
        addr = rng.randrange(DEPTH)
        if seq % 2 == 0:
            frame = proto.encode_request(proto.Command.WRITE, seq=seq, addr=addr,
                                         words=[rng.randrange(mask + 1) for _ in range(n)],
                                         host_bits=host_bits)
        else:
            frame = proto.encode_request(proto.Command.READ, seq=seq, addr=addr, count=n,
                                         host_bits=host_bits)
        steps.append((frame, None, False))
    steps.insert(3, (steps[2][0][:5], None, True))                     # truncated
    flipped = bytearray(steps[5][0])
    flipped[-2] ^= 0x04
    steps.insert(5, (bytes(flipped), None, False))                     # corrupted
    steps.insert(7, (steps[7][0], 4, True))                            # a byte lost to a
                                                                       # framing error
    want = []
    for frame, lost, quiet in steps:
        heard = frame if lost is None else frame[:lost] + frame[lost + 1:]
        reply = model.feed(heard) + (model.quiet() if quiet else b"")
        want.append(reply)

    m, link = build(host_bits)
    got = bytearray()

    async def host(ctx):
        ctx.set(link.rx, 1)
        total = 0
        for (frame, lost, quiet), reply in zip(steps, want):
            for i, b in enumerate(frame):
                if rng.random() < 0.3:
                    await ctx.tick().repeat(rng.randint(1, 2 * BYTE))
                await uart_send(ctx, link.rx, b, DIVISOR, stop_bit=0 if i == lost else 1)
            total += len(reply)
            # Like the host runtime: wait for the reply before the next frame.
            while len(got) < total:
                await ctx.tick()
        await ctx.tick().repeat(2 * FRAME_TIMEOUT)

    async def line(ctx):
        while True:
            got.append(await uart_receive(ctx, link.tx, DIVISOR))

    run(m, [host], [line], deadline=300_000)
    assert bytes(got) == b"".join(want)
    replies = proto.ReplyDecoder(host_bits=host_bits, expect=proto.Command.WRITE).feed(want[3])
    assert [r.status for r in replies] == [proto.Status.FRAME_TIMEOUT]


def test_scratchpad_backpressure():
    """Reads and writes with random idle on requests and random backpressure on responses:
    every read returns the last value written, nothing extra comes out."""
    rng = random.Random(3)
    dut = Scratchpad(32, 16)
    ops, expect = random_ops(rng, 120, 1 << 32, depth=16)
    got = []

    async def source(ctx):
        for op in ops:
            await put(ctx, dut.host.req, op, rng=rng, p_idle=0.3)

    async def sink(ctx):
        while len(got) < len(expect):
            got.append(await get(ctx, dut.host.resp, rng=rng, p_stall=0.5))
        ctx.set(dut.host.resp.ready, 1)
        for _ in range(20):
            await ctx.tick()
            assert not ctx.get(dut.host.resp.valid)

    run(dut, [source, sink])
    assert got == expect


@pytest.mark.parametrize("kwargs,message", [
    (dict(host_bits=24), r"host_bits = 24 is invalid: allowed 8, 16, 32, 64"),
    (dict(depth=48), r"depth = 48 is invalid: must be a power of two in 2..65536"),
])
def test_scratchpad_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Scratchpad(**({"host_bits": 32, "depth": 16} | kwargs))


def test_host_port_cdc():
    """The host port across clock domains (initiator slower, as on the ULX3S): random reads
    and writes with idle and backpressure reach the scratchpad in order; every read returns
    the last value written and nothing extra comes out."""
    from amaranth.sim import Simulator

    from lutcore.hw.hostport import HostPortCDC

    rng = random.Random(4)
    m = Module()
    m.submodules.cdc = cdc = HostPortCDC(32, initiator_domain="link", device_domain="sync")
    m.submodules.dev = dev = Scratchpad(32, 16)
    wiring.connect(m, cdc.device, dev.host)
    port = cdc.initiator
    ops, expect = random_ops(rng, 80, 64, depth=16)
    got = []

    async def source(ctx):
        for op in ops:
            if rng.random() < 0.3:
                await ctx.tick("link").repeat(rng.randint(1, 3))
            ctx.set(port.req.payload, op)
            ctx.set(port.req.valid, 1)
            await ctx.tick("link").until(port.req.ready)
            ctx.set(port.req.valid, 0)

    async def sink(ctx):
        while len(got) < len(expect):
            ready = rng.random() < 0.6
            ctx.set(port.resp.ready, ready)
            _, _, valid, payload = await ctx.tick("link").sample(port.resp.valid,
                                                                 port.resp.payload)
            if valid and ready:
                got.append(payload)
        ctx.set(port.resp.ready, 1)
        for _ in range(30):
            await ctx.tick("link")
            assert not ctx.get(port.resp.valid)

    sim = Simulator(m)
    sim.add_clock(1e-6, domain="sync")
    sim.add_clock(2.7e-6, domain="link")
    sim.add_testbench(source)
    sim.add_testbench(sink)
    sim.run_until(5e-3)
    assert got == expect
