"""The transport protocol: what the runtime needs from a device, in host-port words.

A transport moves host-port words (``docs/architecture.md``, "Host port"; addresses from
:func:`lutcore.spec.isa.host_addresses`) and nothing else:

- ``write(addrs, data)``: write ``data[i]`` to host address ``addrs[i]``, in order;
- ``read(addrs) -> uint64 array`` of the same shape: the words at ``addrs``, in order;
- ``wait_done(max_cycles) -> int | None``: after a CTRL start, return when the core has
  stopped (the simulated cycles waited, or None where the transport cannot count them);
- ``reset()``: reset the core (STATUS, CYCLES and PC read 0; buffers keep their words);
- ``close()``: release what the transport holds.

The runtime (:mod:`lutcore.host.runtime`) is written once as a generator of :class:`Op`\\ s;
:func:`drive` runs it over a transport with plain methods (ISS, UART link, the pipe to a
simulator), :func:`drive_async` over one with coroutine methods (the cocotb host-port driver
inside the simulator). The per-phase sequence therefore exists once for both kinds.
"""

from __future__ import annotations

from typing import Any, Generator, NamedTuple, Protocol

import numpy as np

__all__ = ["Transport", "Op", "Write", "Read", "WaitDone", "Reset", "Steps", "drive",
           "drive_async"]


class Transport(Protocol):
    """A device behind the host port, reached word by word (see the module docstring). An
    asynchronous transport has the same methods as coroutines."""

    def write(self, addrs: np.ndarray, data: np.ndarray) -> None: ...

    def read(self, addrs: np.ndarray) -> np.ndarray: ...

    def wait_done(self, max_cycles: int) -> int | None: ...

    def reset(self) -> None: ...

    def close(self) -> None: ...


class Write(NamedTuple):
    """Write ``data[i]`` (``uint64``) to host address ``addrs[i]``, in order."""
    addrs: np.ndarray
    data: np.ndarray

    def call(self, transport):
        return transport.write(self.addrs, self.data)


class Read(NamedTuple):
    """Read the host addresses ``addrs`` (any shape); the result has the same shape."""
    addrs: np.ndarray

    def call(self, transport):
        return transport.read(self.addrs)


class WaitDone(NamedTuple):
    """Wait until the core stops, at most ``max_cycles`` cycles."""
    max_cycles: int

    def call(self, transport):
        return transport.wait_done(self.max_cycles)


class Reset(NamedTuple):
    """Reset the core."""

    def call(self, transport):
        return transport.reset()


Op = Write | Read | WaitDone | Reset
#: A runtime sequence: yields operations, receives their results, returns its value.
Steps = Generator[Op, Any, Any]


def drive(steps: Steps, transport) -> Any:
    """Run ``steps`` over a transport whose methods return their results."""
    result = None
    try:
        while True:
            op = steps.send(result)
            result = op.call(transport)
    except StopIteration as stop:
        return stop.value


async def drive_async(steps: Steps, transport) -> Any:
    """Run ``steps`` over a transport whose methods are coroutines."""
    result = None
    try:
        while True:
            op = steps.send(result)
            result = await op.call(transport)
    except StopIteration as stop:
        return stop.value
