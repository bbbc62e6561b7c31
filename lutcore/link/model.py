"""A byte-level Python model of the board side of the UART link.

:class:`BridgeModel` answers request frames the way the gateware bridge does (same statuses,
same replies), against any Python object with ``read(addr) -> int`` and
``write(addr, value)`` (:class:`MemoryDevice`, or the accelerator modelled on the ISS,
:class:`lutcore.host.iss.AcceleratorModel`). It backs the simulated transport of
:mod:`lutcore.link.client` and is the reference the gateware is compared with in the tests.
"""

from __future__ import annotations

from typing import Protocol

from . import protocol as proto

__all__ = ["HostPortDevice", "MemoryDevice", "BridgeModel"]


class HostPortDevice(Protocol):
    """What sits behind the host port: word reads and writes at 32-bit addresses."""

    def read(self, addr: int) -> int: ...

    def write(self, addr: int, value: int) -> None: ...


class MemoryDevice:
    """Plain memory of ``depth`` words (address taken modulo depth), like the gateware
    :class:`~lutcore.hw.hostport.Scratchpad`."""

    def __init__(self, host_bits: int = 32, depth: int = 256):
        proto.host_bytes(host_bits)
        self.host_bits = host_bits
        self.depth = depth
        self.words = [0] * depth

    def read(self, addr: int) -> int:
        return self.words[addr % self.depth]

    def write(self, addr: int, value: int) -> None:
        self.words[addr % self.depth] = value & ((1 << self.host_bits) - 1)


class BridgeModel:
    """The bridge's protocol behaviour, byte in, bytes out.

    ``feed`` consumes request bytes and returns the reply bytes they produce; ``quiet``
    models the line going idle for longer than the frame timeout (a truncated frame then gets
    its ``FRAME_TIMEOUT`` reply, stray bytes their ``BAD_SYNC`` reply).
    """

    def __init__(self, device: HostPortDevice, *, host_bits: int = 32, max_words: int = 64):
        self.device = device
        self.host_bits = host_bits
        self.max_words = max_words
        self._nbytes = proto.host_bytes(host_bits)
        self._state = "idle"          # idle | noise | frame
        self._frame = bytearray()

    def _needed(self) -> int:
        """Bytes of the current frame (after sync) up to and including its CRC."""
        if len(self._frame) < proto.HEADER_BYTES:
            return proto.HEADER_BYTES + 1
        command, _, count = self._frame[:3]
        payload = count * self._nbytes if command == proto.Command.WRITE.value else 0
        return proto.HEADER_BYTES + payload + 1

    def feed(self, data: bytes) -> bytes:
        out = bytearray()
        for byte in data:
            if self._state in ("idle", "noise"):
                if byte == proto.REQUEST_SYNC:
                    self._state, self._frame = "frame", bytearray()
                else:
                    self._state = "noise"
                continue
            self._frame.append(byte)
            if len(self._frame) == self._needed():
                out += self._execute(bytes(self._frame))
                self._state = "idle"
        return bytes(out)

    def quiet(self) -> bytes:
        state, self._state = self._state, "idle"
        if state == "noise":
            return proto.encode_reply(proto.Status.BAD_SYNC)
        if state == "frame":
            seq = self._frame[1] if len(self._frame) >= 2 else 0
            return proto.encode_reply(proto.Status.FRAME_TIMEOUT, seq=seq)
        return b""

    def _execute(self, frame: bytes) -> bytes:
        command, seq, count = frame[:3]
        addr = int.from_bytes(frame[3:7], "little")
        if proto.crc8(frame[:-1]) != frame[-1]:
            return proto.encode_reply(proto.Status.BAD_CRC, seq=seq)
        if command == proto.Command.INFO.value:
            info = bytes([proto.PROTOCOL_VERSION, self._nbytes, self.max_words, 0])
            return proto.encode_reply(proto.Status.OK, seq=seq, count=len(info), payload=info)
        if command not in (proto.Command.READ.value, proto.Command.WRITE.value):
            return proto.encode_reply(proto.Status.BAD_COMMAND, seq=seq)
        if not 1 <= count <= self.max_words:
            return proto.encode_reply(proto.Status.BAD_COUNT, seq=seq)
        mask = (1 << 32) - 1
        if command == proto.Command.WRITE.value:
            payload = frame[proto.HEADER_BYTES:-1]
            for i in range(count):
                word = payload[i * self._nbytes:(i + 1) * self._nbytes]
                self.device.write((addr + i) & mask, int.from_bytes(word, "little"))
            return proto.encode_reply(proto.Status.OK, seq=seq, count=count)
        words = [self.device.read((addr + i) & mask) for i in range(count)]
        payload = b"".join(int(w).to_bytes(self._nbytes, "little") for w in words)
        return proto.encode_reply(proto.Status.OK, seq=seq, count=count, payload=payload)
