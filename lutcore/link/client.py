"""Host side of the UART link: byte transports and the framed protocol.

Layers, each usable on its own:

- a :class:`Transport` moves bytes: :class:`SerialTransport` (a serial port through
  pyserial), :class:`ModelTransport` (the Python bridge model in front of any Python
  host-port device, for tests and dry runs), or anything with the same four methods;
- :class:`Link` speaks the protocol of :mod:`lutcore.link.protocol`: INFO, READ and WRITE
  of host words in bursts, sequence numbers, CRC checks, retries of rejected frames.

Programs run over a link through the one host runtime: :mod:`lutcore.host.uart` is the
``uart`` device (``lutcore gemm --backend uart --port PORT``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterable, Protocol, Sequence

import numpy as np

from ..errors import LutcoreError
from . import protocol as proto
from .protocol import Command, ProtocolError, Status

__all__ = ["Transport", "SerialTransport", "BufferedTransport", "ModelTransport", "Link", "LinkStats", "DEFAULT_BAUD"]

DEFAULT_BAUD = 115_200


# -- transports -----------------------------------------------------------------------------

class Transport(Protocol):
    """A byte pipe to the board."""

    def write(self, data: bytes) -> None: ...

    def read(self, size: int, timeout: float) -> bytes:
        """Up to ``size`` bytes; fewer (maybe none) if ``timeout`` seconds pass first."""

    def discard_input(self) -> None: ...

    def close(self) -> None: ...


class SerialTransport:
    """A serial port (pyserial), 8N1 at ``baud``."""

    def __init__(self, port: str, baud: int = DEFAULT_BAUD):
        import serial

        if not port:
            raise LutcoreError("--port is required for the uart backend (e.g. /dev/ttyUSB1)")
        if not (isinstance(baud, int) and baud > 0):
            raise LutcoreError(f"baud = {baud!r} is invalid: must be a positive integer")
        try:
            self._serial = serial.serial_for_url(port, baudrate=baud, bytesize=8, parity="N",
                                                 stopbits=1, timeout=0.1)
        except (serial.SerialException, ValueError, OSError) as e:
            raise LutcoreError(f"--port {port!r} cannot be opened: "
                               f"{' '.join(str(e).split())}") from None
        self.port = port
        self.baud = baud

    def write(self, data: bytes) -> None:
        self._serial.write(data)
        self._serial.flush()

    def read(self, size: int, timeout: float) -> bytes:
        self._serial.timeout = timeout
        return self._serial.read(size)

    def discard_input(self) -> None:
        self._serial.reset_input_buffer()

    def close(self) -> None:
        self._serial.close()


class BufferedTransport:
    """Base of the transports whose received bytes wait in ``incoming`` (filled by a model
    or a simulation) until :meth:`take` hands them out; nothing to release on close."""

    def __init__(self):
        self.incoming = bytearray()

    def take(self, size: int) -> bytes:
        """Up to ``size`` of the waiting bytes, removed from ``incoming``."""
        chunk = bytes(self.incoming[:size])
        del self.incoming[:size]
        return chunk

    def discard_input(self) -> None:
        self.incoming.clear()

    def close(self) -> None:
        pass


class ModelTransport(BufferedTransport):
    """The board side modelled in Python: :class:`~lutcore.link.model.BridgeModel` in front
    of ``device`` (anything with ``read(addr)`` and ``write(addr, value)``).

    ``mangle`` (optional) sees every chunk written and returns what the board receives
    instead, to inject line errors in tests. A read that finds nothing waiting models a quiet
    line: the bridge's frame timeout fires (so a truncated frame gets its reply).
    """

    def __init__(self, device, *, host_bits: int = 32, max_words: int = 64, mangle=None):
        from .model import BridgeModel

        super().__init__()
        self.bridge = BridgeModel(device, host_bits=host_bits, max_words=max_words)
        self.mangle = mangle
        self.sent = 0

    def write(self, data: bytes) -> None:
        self.sent += len(data)
        if self.mangle is not None:
            data = self.mangle(bytes(data))
        self.incoming += self.bridge.feed(data)

    def read(self, size: int, timeout: float) -> bytes:
        if not self.incoming:
            self.incoming += self.bridge.quiet()
        return self.take(size)


# -- protocol ---------------------------------------------------------------------------------

@dataclass
class LinkStats:
    frames: int = 0
    retries: int = 0
    bytes_out: int = 0
    bytes_in: int = 0
    seconds: float = 0.0


class Link:
    """The framed protocol over a transport.

    Parameters
    ----------
    transport : Transport
    host_bits : int
        Host word width; checked against the board's INFO reply by :meth:`connect`.
    timeout : float
        Seconds to wait for a reply before resending (reads, rejected frames) or giving up.
    retries : int
        Resends of a frame whose reply was lost or that the board rejected. WRITEs are
        resent only when the board says the frame was rejected (then nothing was written);
        a WRITE whose reply was lost is an error, since it may have been carried out.
    """

    def __init__(self, transport: Transport, *, host_bits: int = 32, timeout: float = 1.0,
                 retries: int = 3):
        self.transport = transport
        self.host_bits = host_bits
        self.nbytes = proto.host_bytes(host_bits)
        self.timeout = timeout
        self.retries = retries
        self.max_words = 1            # until INFO says otherwise
        self.stats = LinkStats()
        self._seq = 0

    def connect(self) -> proto.Info:
        """Ask the board what it is (INFO) and adopt its frame size."""
        reply = self.transact(Command.INFO)
        info = proto.decode_info(reply)
        if info.version != proto.PROTOCOL_VERSION:
            raise ProtocolError(f"board speaks protocol version {info.version}, "
                                f"this host {proto.PROTOCOL_VERSION}")
        if info.host_bits != self.host_bits:
            raise ProtocolError(f"board has {info.host_bits}-bit host words, the configuration "
                                f"{self.host_bits}: wrong --preset or bitstream?")
        if info.max_words < 1:
            raise ProtocolError("board reports a frame size of 0 words")
        self.max_words = info.max_words
        return info

    def _receive(self, command: Command, seq: int, deadline: float) -> proto.Reply | None:
        decoder = proto.ReplyDecoder(host_bits=self.host_bits, expect=command)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            chunk = self.transport.read(4096, min(left, 0.25))
            self.stats.bytes_in += len(chunk)
            for reply in decoder.feed(chunk):
                if reply.seq == seq or reply.status in (Status.BAD_SYNC, Status.BAD_CRC,
                                                        Status.FRAME_TIMEOUT):
                    # A framing error may have eaten our sequence number; treat it as ours.
                    return reply
                # A stale reply to an earlier frame: skip it.

    def transact(self, command: Command, *, addr: int = 0, count: int = 0,
                 words: Sequence[int] = ()) -> proto.Reply:
        """Send one frame and return its OK reply; resend as allowed; raise
        :class:`ProtocolError` otherwise."""
        start = time.monotonic()
        for attempt in range(self.retries + 1):
            self._seq = (self._seq + 1) & 0xFF
            frame = proto.encode_request(command, seq=self._seq, addr=addr, count=count,
                                         words=words, host_bits=self.host_bits)
            self.transport.write(frame)
            self.stats.frames += 1
            self.stats.bytes_out += len(frame)
            reply = self._receive(command, self._seq, time.monotonic() + self.timeout)
            if reply is not None and reply.status is Status.OK:
                self.stats.seconds += time.monotonic() - start
                return reply
            if reply is None and command is Command.WRITE:
                raise ProtocolError(f"no reply to WRITE of {count} word(s) at {addr:#010x} "
                                    f"within {self.timeout:g} s (it may have been done)")
            if reply is not None and reply.status not in proto.REJECTED:
                raise ProtocolError(f"{command.name} at {addr:#010x}: board replied "
                                    f"{reply.status.name} after {reply.count} of {count} word(s)",
                                    reply.status)
            self.stats.retries += attempt < self.retries
            time.sleep(0.02)
            self.transport.discard_input()
        what = "no reply" if reply is None else f"board replied {reply.status.name}"
        raise ProtocolError(f"{command.name} at {addr:#010x}: {what} after "
                            f"{self.retries + 1} attempt(s)",
                            None if reply is None else reply.status)

    # -- word access -------------------------------------------------------------------------
    def read(self, addr: int, count: int = 1) -> list[int]:
        """``count`` consecutive host words from ``addr``."""
        out: list[int] = []
        while count > 0:
            n = min(count, self.max_words)
            reply = self.transact(Command.READ, addr=addr, count=n)
            if reply.count != n:
                raise ProtocolError(f"READ at {addr:#010x}: asked {n} words, got {reply.count}")
            out += reply.words(self.host_bits)
            addr, count = addr + n, count - n
        return out

    def write(self, addr: int, words: Iterable[int]) -> None:
        """Consecutive host words to ``addr``, ``addr+1``, ..."""
        words = [int(w) for w in words]
        for i in range(0, len(words), self.max_words):
            chunk = words[i:i + self.max_words]
            self.transact(Command.WRITE, addr=addr + i, count=len(chunk), words=chunk)

    def write_scattered(self, addrs: np.ndarray, data: np.ndarray) -> None:
        """Writes at arbitrary addresses, in order, in bursts of consecutive addresses."""
        for addr, words in _runs(addrs, data):
            self.write(addr, words)

    def read_scattered(self, addrs: np.ndarray) -> np.ndarray:
        """Reads at arbitrary addresses, in order, in bursts of consecutive addresses."""
        flat = np.asarray(addrs, np.uint64).reshape(-1)
        out = []
        for addr, words in _runs(flat, np.zeros(len(flat), np.uint64)):
            out += self.read(addr, len(words))
        return np.array(out, np.uint64).reshape(np.shape(addrs))


def _runs(addrs, data):
    """Split parallel address/data arrays into runs of consecutive addresses."""
    addrs = [int(a) for a in np.asarray(addrs).reshape(-1)]
    data = [int(d) for d in np.asarray(data).reshape(-1)]
    i = 0
    while i < len(addrs):
        j = i + 1
        while j < len(addrs) and addrs[j] == addrs[j - 1] + 1:
            j += 1
        yield addrs[i], data[i:j]
        i = j
