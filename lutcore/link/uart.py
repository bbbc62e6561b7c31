"""8N1 UART receiver and transmitter with byte streams.

Both take ``divisor``, the number of clock cycles per bit (``clock_hz / baud``, rounded);
:func:`baud_divisor` computes it and refuses a rate the clock cannot make within 2 %.
"""

from __future__ import annotations

from amaranth import *
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

__all__ = ["UARTRx", "UARTTx", "baud_divisor", "MIN_DIVISOR"]

#: The receiver samples mid-bit and checks the start bit half a bit in: 4 cycles per bit at
#: the least keeps both points inside the bit.
MIN_DIVISOR = 4


def baud_divisor(clock_hz: float, baud: int, *, tolerance: float = 0.02) -> int:
    """Clock cycles per bit for ``baud`` at ``clock_hz``; raises ``ValueError`` if the rounded
    divisor misses the rate by more than ``tolerance`` or is below :data:`MIN_DIVISOR`."""
    if not (isinstance(baud, int) and baud > 0):
        raise ValueError(f"baud = {baud!r} is invalid: must be a positive integer")
    if not clock_hz > 0:
        raise ValueError(f"clock_hz = {clock_hz!r} is invalid: must be positive")
    divisor = round(clock_hz / baud)
    if divisor < MIN_DIVISOR:
        raise ValueError(f"baud = {baud} is too fast for a {clock_hz / 1e6:g} MHz clock: "
                         f"at most {int(clock_hz // MIN_DIVISOR)}")
    error = abs(clock_hz / divisor - baud) / baud
    if error > tolerance:
        raise ValueError(f"baud = {baud} is off by {100 * error:.1f} % at "
                         f"{clock_hz / 1e6:g} MHz (divisor {divisor}): pick another rate")
    return divisor


def _check_divisor(divisor):
    if not (isinstance(divisor, int) and not isinstance(divisor, bool) and divisor >= MIN_DIVISOR):
        raise ValueError(f"divisor = {divisor!r} is invalid: must be an integer >= {MIN_DIVISOR}")


class UARTRx(wiring.Component):
    """8N1 UART receiver.

    The line is synchronised, a falling edge starts a byte, the start bit is checked half a bit
    later, data bits are sampled mid-bit (LSB first) and the stop bit must be high.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit, at least :data:`MIN_DIVISOR`.

    Members
    -------
    rx : In(1)
        The serial line (idle high); asynchronous.
    data : Out(stream.Signature(8))
        Received bytes. A byte not accepted before the next one completes is kept and the
        new one is dropped (``overrun`` pulses).
    overrun : Out(1)
        Pulses when a byte is dropped because ``data`` was still full.
    frame_error : Out(1)
        Pulses when a stop bit is low (the byte is dropped; reception resumes once the line
        has returned high).
    """

    def __init__(self, divisor: int):
        _check_divisor(divisor)
        self._divisor = divisor
        super().__init__({
            "rx": In(1, init=1),
            "data": Out(stream.Signature(8)),
            "overrun": Out(1),
            "frame_error": Out(1),
        })

    @property
    def divisor(self) -> int:
        return self._divisor

    def elaborate(self, platform):
        m = Module()
        line = Signal(init=1)
        m.submodules.sync_rx = FFSynchronizer(self.rx, line, init=1)

        timer = Signal(range(self._divisor))
        bits = Signal(range(8))
        shreg = Signal(8)

        with m.If(self.data.ready):
            m.d.sync += self.data.valid.eq(0)
        with m.If(timer != 0):
            m.d.sync += timer.eq(timer - 1)

        with m.FSM():
            with m.State("IDLE"):
                with m.If(~line):
                    m.d.sync += timer.eq(self._divisor // 2 - 1)
                    m.next = "START"
            with m.State("START"):
                with m.If(timer == 0):
                    with m.If(line):
                        m.next = "IDLE"              # a glitch, not a start bit
                    with m.Else():
                        m.d.sync += [timer.eq(self._divisor - 1), bits.eq(7)]
                        m.next = "DATA"
            with m.State("DATA"):
                with m.If(timer == 0):
                    m.d.sync += [shreg.eq(Cat(shreg[1:], line)), timer.eq(self._divisor - 1)]
                    m.d.sync += bits.eq(bits - 1)
                    with m.If(bits == 0):
                        m.next = "STOP"
            with m.State("STOP"):
                with m.If(timer == 0):
                    with m.If(~line):
                        m.d.comb += self.frame_error.eq(1)
                        m.next = "BREAK"
                    with m.Elif(self.data.valid & ~self.data.ready):
                        m.d.comb += self.overrun.eq(1)
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += [self.data.payload.eq(shreg), self.data.valid.eq(1)]
                        m.next = "IDLE"
            with m.State("BREAK"):
                with m.If(line):
                    m.next = "IDLE"
        return m


class UARTTx(wiring.Component):
    """8N1 UART transmitter, ``divisor`` clock cycles per bit (at least
    :data:`MIN_DIVISOR`), like :class:`UARTRx`.

    Members
    -------
    data : In(stream.Signature(8))
        Bytes to send; one is accepted each time the previous stop bit has ended.
    tx : Out(1)
        The serial line (idle high), driven from a register.
    """

    def __init__(self, divisor: int):
        _check_divisor(divisor)
        self._divisor = divisor
        super().__init__({
            "data": In(stream.Signature(8)),
            "tx": Out(1, init=1),
        })

    @property
    def divisor(self) -> int:
        return self._divisor

    def elaborate(self, platform):
        m = Module()
        timer = Signal(range(self._divisor))
        left = Signal(range(10))          # bits still to shift out after the current one
        shreg = Signal(9)                 # data bits then the stop bit
        free = Signal(init=1)             # registered, so ready is a flip-flop output

        m.d.comb += self.data.ready.eq(free)
        with m.If(self.data.valid & free):
            m.d.sync += [
                free.eq(0),
                self.tx.eq(0),                                   # start bit
                shreg.eq(Cat(self.data.payload, C(1, 1))),
                left.eq(9),
                timer.eq(self._divisor - 1),
            ]
        with m.Elif(timer != 0):
            m.d.sync += timer.eq(timer - 1)
            with m.If((timer == 1) & (left == 0)):
                m.d.sync += free.eq(1)                           # the stop bit ends now
        with m.Elif(left != 0):
            m.d.sync += [
                self.tx.eq(shreg[0]),
                shreg.eq(shreg >> 1),
                left.eq(left - 1),
                timer.eq(self._divisor - 1),
            ]
        return m
