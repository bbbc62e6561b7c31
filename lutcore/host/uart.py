"""A board over the UART link as a device: the runtime's transport onto a
:class:`~lutcore.link.client.Link` (host words in bursts over a byte transport).

The link has no wait-for-done line: :meth:`LinkTransport.wait_done` polls STATUS until the
core is no longer busy, and no reset line: :meth:`LinkTransport.reset` clears done and error
(CTRL clear).
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

import numpy as np

from ..link.client import DEFAULT_BAUD, Link, SerialTransport
from ..spec import isa
from .devices import Device
from .runtime import DeviceError, Runtime

__all__ = ["LinkTransport", "UartDevice"]


class LinkTransport:
    """Host-port words over ``link``; ``run_timeout`` seconds bound one :meth:`wait_done`;
    ``owns`` the byte transport (closed with this one)."""

    def __init__(self, link: Link, config, *, run_timeout: float = 10.0, owns: bool = True):
        self.link = link
        self.config = config
        self.run_timeout = run_timeout
        self.owns = owns
        self._status = isa.host_address(isa.Region.CSR, isa.Csr.STATUS, config=config)
        self._ctrl = isa.host_address(isa.Region.CSR, isa.Csr.CTRL, config=config)

    def write(self, addrs, data) -> None:
        self.link.write_scattered(addrs, data)

    def read(self, addrs) -> np.ndarray:
        return self.link.read_scattered(addrs)

    def wait_done(self, max_cycles: int) -> None:
        deadline = time.monotonic() + self.run_timeout
        busy = 1 << isa.STATUS_LAYOUT["busy"].offset
        while self.link.read(self._status)[0] & busy:
            if time.monotonic() > deadline:
                raise DeviceError(f"the core did not stop within run_timeout = "
                                  f"{self.run_timeout:g} s")
            time.sleep(0.001)
        return None

    def reset(self) -> None:
        self.link.write(self._ctrl, [isa.CTRL_LAYOUT.const({"start": 0, "clear": 1})
                                     .as_bits()])

    def close(self) -> None:
        if self.owns:
            self.link.transport.close()


class UartDevice(Device):
    """The ``uart`` backend: one open port (``port``/``baud``, or a byte ``transport`` such
    as :class:`~lutcore.link.client.ModelTransport`), connected (INFO) and identified (ID
    CSR) once for the session."""

    backend = "uart"

    def __init__(self, config, *, port: str | None = None, baud: int = DEFAULT_BAUD,
                 transport=None, timeout: float = 1.0, run_timeout: float = 10.0):
        own = transport is None
        if own:
            transport = SerialTransport(port, baud)
        try:
            link = Link(transport, host_bits=config.host_bits, timeout=timeout)
            self.link_info = link.connect()
            words = LinkTransport(link, config, run_timeout=run_timeout, owns=own)
            Runtime(words, config).check_id()
        except BaseException:
            if own:
                transport.close()
            raise
        super().__init__(config, words)

    def device_info(self) -> dict[str, Any]:
        return {"max_words": self.link_info.max_words, **asdict(self.transport.link.stats)}
