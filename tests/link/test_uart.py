# amaranth: UnusedElaboratable=no
"""UART receiver and transmitter in Amaranth's simulator."""

import random

import pytest
from amaranth import Module

from lutcore.link.uart import MIN_DIVISOR, UARTRx, UARTTx, baud_divisor
from linksim import get, put, run, uart_send


@pytest.mark.parametrize("divisor,seed", [(4, 0), (7, 1), (16, 2)])
def test_tx_rx_loopback_random_idle(divisor, seed):
    """Bytes through tx -> line -> rx arrive in order, with random idle on both streams."""
    rng = random.Random(seed)
    m = Module()
    m.submodules.tx = tx = UARTTx(divisor)
    m.submodules.rx = rx = UARTRx(divisor)
    m.d.comb += rx.rx.eq(tx.tx)
    sent = [rng.randrange(256) for _ in range(40)] + [0x00, 0xFF, 0x55, 0xAA]
    got = []

    async def source(ctx):
        for b in sent:
            await put(ctx, tx.data, b, rng=rng, p_idle=0.3)

    async def sink(ctx):
        while len(got) < len(sent):
            # Stall at most a few cycles: the receiver holds one byte, as the bridge does.
            got.append(await get(ctx, rx.data, rng=rng, p_stall=0.2))

    async def errors(ctx):
        async for _, _, overrun, frame_error in ctx.tick().sample(rx.overrun, rx.frame_error):
            assert not overrun and not frame_error

    run(m, [source, sink], [errors], deadline=60_000)
    assert got == sent


@pytest.mark.parametrize("divisor", [4, 10])
def test_tx_bit_timing(divisor):
    """The transmitter's line carries start, 8 data bits LSB first and a stop bit of
    exactly ``divisor`` cycles each; idle is high."""
    dut = UARTTx(divisor)
    levels = []

    async def tb(ctx):
        assert ctx.get(dut.tx) == 1
        await put(ctx, dut.data, 0b1010_0110)
        for _ in range(11 * divisor):
            levels.append(ctx.get(dut.tx))
            await ctx.tick()

    run(dut, [tb])
    bits = [0, 0, 1, 1, 0, 0, 1, 0, 1, 1, 1]     # start, 0x A6 LSB first, stop, idle
    assert levels == [b for b in bits for _ in range(divisor)]


def test_rx_frame_error_and_glitch():
    """A low stop bit drops the byte and pulses frame_error; a glitch shorter than half a
    bit is no start bit; reception then resumes."""
    divisor = 8
    dut = UARTRx(divisor)
    got, flags = [], []

    async def line(ctx):
        ctx.set(dut.rx, 1)
        await ctx.tick().repeat(5)
        await uart_send(ctx, dut.rx, 0x3C, divisor, stop_bit=0)   # framing error
        await ctx.tick().repeat(3 * divisor)
        ctx.set(dut.rx, 0)                                         # 2-cycle glitch
        await ctx.tick().repeat(2)
        ctx.set(dut.rx, 1)
        await ctx.tick().repeat(3 * divisor)
        await uart_send(ctx, dut.rx, 0xC3, divisor)
        await ctx.tick().repeat(3 * divisor)

    async def sink(ctx):
        ctx.set(dut.data.ready, 1)
        async for _, _, valid, payload, fe in ctx.tick().sample(
                dut.data.valid, dut.data.payload, dut.frame_error):
            if valid:
                got.append(payload)
            if fe:
                flags.append(1)

    run(dut, [line], [sink])
    assert got == [0xC3]
    assert flags == [1]


def test_rx_overrun_keeps_first_byte():
    divisor = 4
    dut = UARTRx(divisor)
    pulses = []

    async def line(ctx):
        for b in (0x11, 0x22):
            await uart_send(ctx, dut.rx, b, divisor)
        await ctx.tick().repeat(2 * divisor)
        ctx.set(dut.data.ready, 1)
        assert ctx.get(dut.data.valid) and ctx.get(dut.data.payload) == 0x11
        await ctx.tick()
        ctx.set(dut.data.ready, 0)
        await ctx.tick()
        assert not ctx.get(dut.data.valid)

    async def watch(ctx):
        async for _, _, ov in ctx.tick().sample(dut.overrun):
            if ov:
                pulses.append(1)

    run(dut, [line], [watch])
    assert pulses == [1]


def test_baud_divisor():
    assert baud_divisor(12e6, 115200) == 104
    assert baud_divisor(150e6, 1_000_000) == 150
    with pytest.raises(ValueError, match=r"baud = 4000000 is too fast for a 12 MHz clock"):
        baud_divisor(12e6, 4_000_000)
    with pytest.raises(ValueError, match=r"baud = 2500000 is off by 4.0 % at 12 MHz \(divisor 5\)"):
        baud_divisor(12e6, 2_500_000)
    with pytest.raises(ValueError, match=r"baud = 0 is invalid"):
        baud_divisor(12e6, 0)


@pytest.mark.parametrize("cls", [UARTRx, UARTTx])
@pytest.mark.parametrize("bad", [MIN_DIVISOR - 1, 4.0, True, None])
def test_divisor_validation(cls, bad):
    with pytest.raises(ValueError, match=rf"divisor = {bad!r} is invalid: must be an integer >= 4"):
        cls(bad)
