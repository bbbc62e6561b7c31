"""The UART host link: serial pins on one side, the host port on the other."""

from __future__ import annotations

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .bridge import HostBridge
from ..hw.hostport import HostPortSignature
from .uart import UARTRx, UARTTx

__all__ = ["UartHostLink"]


class UartHostLink(wiring.Component):
    """UART receiver and transmitter around a :class:`~lutcore.link.bridge.HostBridge`.

    Parameters
    ----------
    divisor : int
        Clock cycles per UART bit (see :func:`lutcore.link.uart.baud_divisor`).
    host_bits, max_words, frame_timeout, device_timeout
        Passed to :class:`~lutcore.link.bridge.HostBridge`.

    Members
    -------
    rx : In(1)
        Serial input (idle high).
    tx : Out(1)
        Serial output (idle high).
    host : Out(HostPortSignature(host_bits))
        The device's host port.
    """

    def __init__(self, *, divisor: int, host_bits: int = 32, max_words: int = 64,
                 frame_timeout: int, device_timeout: int):
        # Build the parts here so that bad parameters raise at construction.
        self._uart_rx = UARTRx(divisor)
        self._uart_tx = UARTTx(divisor)
        self._bridge = HostBridge(host_bits=host_bits, max_words=max_words,
                                  frame_timeout=frame_timeout, device_timeout=device_timeout)
        super().__init__({
            "rx": In(1, init=1),
            "tx": Out(1, init=1),
            "host": Out(HostPortSignature(host_bits)),
        })

    @property
    def bridge(self) -> HostBridge:
        return self._bridge

    @property
    def divisor(self) -> int:
        return self._uart_rx.divisor

    def elaborate(self, platform):
        m = Module()
        m.submodules.uart_rx = uart_rx = self._uart_rx
        m.submodules.uart_tx = uart_tx = self._uart_tx
        m.submodules.bridge = bridge = self._bridge
        m.d.comb += [uart_rx.rx.eq(self.rx), self.tx.eq(uart_tx.tx)]
        wiring.connect(m, uart_rx.data, bridge.rx)
        # A register between the bridge's state machine and the transmitter's counters.
        tx = uart_tx.data
        with m.If(~tx.valid | tx.ready):
            m.d.sync += [tx.payload.eq(bridge.tx.payload), tx.valid.eq(bridge.tx.valid)]
        m.d.comb += bridge.tx.ready.eq(~tx.valid | tx.ready)
        wiring.connect(m, wiring.flipped(self.host), bridge.host)
        return m
