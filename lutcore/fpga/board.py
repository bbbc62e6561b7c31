"""Board tops: a host-port device behind the UART host link, on iCEBreaker and ULX3S.

:class:`UartDevice` is the platform-independent part (serial pins in and out, the link, the
device); it is what the simulators run. :class:`BoardTop` puts it on a board: clock (the
board oscillator, or an ECP5 PLL for a faster core clock), reset, UART pins and a heartbeat
LED.

Devices (``device=``):

- ``"accelerator"``: the accelerator top of :mod:`lutcore.hw` with its host port;
- ``"core"``: the LUT core alone in a timing harness (:class:`~lutcore.fpga.harness.CoreHarness`);
- ``"scratchpad"``: plain memory, to bring up the UART link on a board.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

from amaranth import *
from amaranth.lib import io, wiring
from amaranth.lib.cdc import ResetSynchronizer
from amaranth.lib.wiring import In, Out

from ..errors import LutcoreError
from ..spec.config import CoreConfig
from .clocks import Ecp5Pll, ecp5_pll_settings
from ..hw.hostport import HostPortCDC, Scratchpad
from ..link.uart_link import UartHostLink
from ..link.uart import baud_divisor

__all__ = ["DEVICES", "ACCELERATOR_TOPS", "make_device", "accelerator_available",
           "LinkTiming", "UartDevice", "BoardTop", "DEFAULT_BAUD", "SCRATCHPAD_DEPTH"]

DEFAULT_BAUD = 115_200
SCRATCHPAD_DEPTH = 1024
DEVICES = ("accelerator", "core", "scratchpad")

#: Where the accelerator top may live ("module:Class"); the first that imports is used. It
#: must take ``from_config(config)`` and have a member ``host`` of the host-port shape.
ACCELERATOR_TOPS = ("lutcore.hw.top:Accelerator", "lutcore.hw.top:Top")


def _find_accelerator():
    for target in ACCELERATOR_TOPS:
        module_name, cls_name = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name is not None and module_name.startswith(e.name):
                continue
            raise
        cls = getattr(module, cls_name, None)
        if cls is not None:
            return cls
    return None


def accelerator_available() -> bool:
    """Whether the accelerator top exists in this build."""
    return _find_accelerator() is not None


def make_device(kind: str, config: CoreConfig) -> wiring.Component:
    """The host-port device ``kind`` (one of :data:`DEVICES`) for ``config``."""
    if kind == "scratchpad":
        return Scratchpad(config.host_bits, SCRATCHPAD_DEPTH)
    if kind == "core":
        from .harness import CoreHarness
        return CoreHarness(config)
    if kind == "accelerator":
        cls = _find_accelerator()
        if cls is None:
            raise LutcoreError("--device accelerator: the accelerator top (lutcore.hw.top) is "
                               "not part of this build yet: use --device core or scratchpad")
        return cls.from_config(config)
    raise LutcoreError(f"--device {kind!r} is unknown: allowed {', '.join(DEVICES)}")


@dataclass(frozen=True)
class LinkTiming:
    """UART link timing in cycles of the link's clock: bit divisor and the two timeouts."""

    divisor: int
    frame_timeout: int
    device_timeout: int

    @classmethod
    def for_clock(cls, clock_hz: float, baud: int = DEFAULT_BAUD) -> "LinkTiming":
        # 50 ms between bytes of a frame covers USB-serial packetisation gaps; 10 ms for the
        # device to accept or answer is far beyond any host-port latency.
        return cls(divisor=baud_divisor(clock_hz, baud),
                   frame_timeout=max(1, round(clock_hz * 0.05)),
                   device_timeout=max(1, round(clock_hz * 0.01)))


class UartDevice(wiring.Component):
    """A host-port device behind the UART host link.

    Parameters
    ----------
    device : wiring.Component
        Has a member ``host`` of :class:`~lutcore.hw.hostport.HostPortSignature` (device
        side).
    timing : LinkTiming
        For the clock of ``link_domain``.
    max_words : int
        Words per READ/WRITE frame.
    link_domain : str
        Clock domain of the UART link; the device runs in ``sync``. When they differ, the
        host port crosses through a :class:`~lutcore.hw.hostport.HostPortCDC`, so the
        link can run from a slow oscillator while the device runs fast.

    Members
    -------
    rx : In(1)
        Serial input.
    tx : Out(1)
        Serial output.
    """

    def __init__(self, device: wiring.Component, timing: LinkTiming, *, max_words: int = 64,
                 link_domain: str = "sync"):
        if "host" not in getattr(device, "signature", wiring.Signature({})).members:
            raise TypeError(f"device {device!r} has no 'host' port")
        sig = device.signature.members["host"].signature
        host_bits = Shape.cast(sig.members["resp"].signature.members["payload"].shape).width
        self._device = device
        self._host_bits = host_bits
        self._link_domain = link_domain
        self._link = UartHostLink(divisor=timing.divisor, host_bits=host_bits,
                                  max_words=max_words, frame_timeout=timing.frame_timeout,
                                  device_timeout=timing.device_timeout)
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1)})

    @property
    def device(self):
        return self._device

    @property
    def link(self) -> UartHostLink:
        return self._link

    def elaborate(self, platform):
        m = Module()
        link = self._link
        m.submodules.device = device = self._device
        if self._link_domain == "sync":
            m.submodules.link = link
            wiring.connect(m, link.host, device.host)
        else:
            m.submodules.link = DomainRenamer({"sync": self._link_domain})(link)
            m.submodules.cdc = cdc = HostPortCDC(self._host_bits,
                                                 initiator_domain=self._link_domain,
                                                 device_domain="sync")
            wiring.connect(m, link.host, cdc.initiator)
            wiring.connect(m, cdc.device, device.host)
        m.d.comb += [link.rx.eq(self.rx), self.tx.eq(link.tx)]
        return m


class BoardTop(Elaboratable):
    """A :class:`UartDevice` on a board.

    Parameters
    ----------
    make : Callable[[LinkTiming, str], UartDevice]
        Builds the design from the link's timing and clock domain, once the clocks are known.
    core_hz : float or None
        Core clock. ``None`` or the board clock runs everything from the oscillator; anything
        else needs a PLL (ECP5 only), and the UART link then stays on the oscillator in
        domain ``link``.
    baud : int
    """

    def __init__(self, make: Callable[[LinkTiming, str], UartDevice], *,
                 core_hz: float | None = None, baud: int = DEFAULT_BAUD):
        self._make = make
        self._core_hz = core_hz
        self._baud = baud
        self.design: UartDevice | None = None

    def elaborate(self, platform):
        m = Module()
        osc_hz = platform.default_clk_frequency
        core_hz = self._core_hz or osc_hz
        link_domain = "sync"
        if abs(core_hz - osc_hz) > 1e-6 * osc_hz:
            if platform.family != "ecp5":
                raise LutcoreError(f"a {core_hz / 1e6:g} MHz core clock needs a PLL; "
                                   f"only ECP5 boards have one here")
            settings = ecp5_pll_settings(osc_hz / 1e6, core_hz / 1e6)
            core_hz = settings.output_mhz * 1e6
            link_domain = "link"
            m.domains.sync = ClockDomain("sync")
            m.domains.link = ClockDomain("link")
            clk_pin = platform.request(platform.default_clk, dir="-")
            m.submodules.clk_buf = clk_buf = io.Buffer("i", clk_pin)
            m.submodules.pll = pll = Ecp5Pll(settings)
            # nextpnr derives the output clock's constraint from the PLL and the input pin's.
            m.d.comb += [pll.clk_in.eq(clk_buf.i), ClockSignal("sync").eq(pll.clk_out),
                         ClockSignal("link").eq(clk_buf.i)]
            m.submodules.reset_sync = ResetSynchronizer(~pll.locked, domain="sync")
            m.submodules.reset_link = ResetSynchronizer(~pll.locked, domain="link")
        self.core_hz = core_hz
        link_hz = osc_hz if link_domain == "link" else core_hz
        self.design = design = self._make(LinkTiming.for_clock(link_hz, self._baud), link_domain)
        m.submodules.design = design

        uart = platform.request("uart", 0, dir="-")
        m.submodules.rx_buf = rx_buf = io.Buffer("i", uart.rx)
        m.submodules.tx_buf = tx_buf = io.Buffer("o", uart.tx)
        m.d.comb += [design.rx.eq(rx_buf.i), tx_buf.o.eq(design.tx)]

        # Heartbeat: LED 0 blinks at about 1 Hz (a free-running counter's top bit).
        m.submodules.led_buf = led_buf = io.Buffer("o", platform.request("led", 0, dir="-"))
        beat = Signal(max(1, int(core_hz).bit_length() - 1))
        m.d.sync += beat.eq(beat + 1)
        m.d.comb += led_buf.o.eq(beat[-1])
        return m
