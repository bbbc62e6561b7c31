"""A byte-level Python model of the board side of the UART link.

:class:`BridgeModel` answers request frames the way the gateware bridge does (same statuses,
same replies), against any Python object with ``read(addr) -> int`` and
``write(addr, value)``. It backs the simulated transport of :mod:`lutcore.link.client` and is
the reference the gateware is compared with in the tests.
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


class AcceleratorModel:
    """The accelerator's host port (docs/architecture.md, "Host port") in Python, executing
    on the instruction-set simulator: CSRs, sub-word addressing, commit on the last sub-word,
    start/status. Starting runs the program to completion at once, so STATUS never reads
    busy. Error behaviour follows the memory map: a bad access sets HOST_ADDR (reads return 0,
    writes are dropped), a faulting program sets the error flag, code and PC.
    """

    def __init__(self, config):
        from ..spec import isa
        from ..sw.iss import Machine

        self._isa = isa
        self.config = config
        self.machine = Machine(config)
        self.done = False
        self.error = isa.ErrorCode.NONE
        self.cycles = 0
        self.pc = 0
        self.starts = 0
        self._mask = (1 << config.host_bits) - 1
        self._pending: dict[tuple[int, int], dict[int, int]] = {}

    # -- address decoding --------------------------------------------------------------------
    def _decode(self, addr: int):
        isa = self._isa
        try:
            region = isa.Region(addr >> isa.REGION_SHIFT)
        except ValueError:
            return None
        offset = addr & ((1 << isa.REGION_SHIFT) - 1)
        if region is isa.Region.CSR:
            return region, offset, 0, 1
        bits = isa.region_word_bits(region, self.config)
        subs = isa.sub_words(bits, self.config.host_bits)
        shift = isa.sub_bits(bits, self.config.host_bits)
        word, sub = offset >> shift, offset & ((1 << shift) - 1)
        if word >= isa.region_depth(region, self.config) or sub >= subs:
            return None
        return region, word, sub, subs

    def _fault(self, code) -> None:
        if self.error is self._isa.ErrorCode.NONE:
            self.error = code

    # -- host port -----------------------------------------------------------------------------
    def read(self, addr: int) -> int:
        from ..spec.words import host_words

        isa = self._isa
        where = self._decode(addr)
        if where is None:
            self._fault(isa.ErrorCode.HOST_ADDR)
            return 0
        region, word, sub, _ = where
        if region is isa.Region.CSR:
            failed = self.error is not isa.ErrorCode.NONE
            status = isa.STATUS_LAYOUT.const({"busy": 0, "done": int(self.done),
                                              "error": int(failed),
                                              "error_code": self.error}).as_bits()
            csr = {isa.Csr.ID: isa.ID_VALUE, isa.Csr.STATUS: status,
                   isa.Csr.CYCLES_LO: self.cycles & self._mask,
                   isa.Csr.CYCLES_HI: (self.cycles >> self.config.host_bits) & self._mask,
                   isa.Csr.PC: self.pc}
            if word not in csr:
                self._fault(isa.ErrorCode.HOST_ADDR)
                return 0
            return csr[isa.Csr(word)] & self._mask
        if region is isa.Region.INSTR:
            self._fault(isa.ErrorCode.HOST_ADDR)
            return 0
        limbs = self.machine.read(region, word, 1)
        bits = isa.region_word_bits(region, self.config)
        return int(host_words(limbs, bits, self.config.host_bits)[0, sub])

    def write(self, addr: int, value: int) -> None:
        import numpy as np

        from ..spec.words import LIMB_BITS

        isa = self._isa
        where = self._decode(addr)
        if where is None:
            self._fault(isa.ErrorCode.HOST_ADDR)
            return
        region, word, sub, subs = where
        if region is isa.Region.CSR:
            if word != isa.Csr.CTRL:
                self._fault(isa.ErrorCode.HOST_ADDR)
                return
            ctrl = isa.CTRL_LAYOUT.from_bits(value & 0b11)
            if ctrl.clear:
                self.done, self.error = False, isa.ErrorCode.NONE
            if ctrl.start:
                self._start()
            return
        if region not in (isa.Region.INSTR, isa.Region.ACT, isa.Region.WEIGHT):
            self._fault(isa.ErrorCode.HOST_ADDR)
            return
        parts = self._pending.setdefault((region.value, word), {})
        parts[sub] = value & self._mask
        if sub != subs - 1:
            return
        self._pending.pop((region.value, word))
        full = 0
        for i, part in parts.items():
            full |= part << (i * self.config.host_bits)
        bits = isa.region_word_bits(region, self.config)
        full &= (1 << bits) - 1
        limbs = np.array([[(full >> (LIMB_BITS * i)) & ((1 << LIMB_BITS) - 1)
                           for i in range(-(-bits // LIMB_BITS))]], np.uint64)
        self.machine.write(region, word, limbs)

    def _start(self) -> None:
        from ..sw.iss import ExecutionError

        self.starts += 1
        self.done, self.error = False, self._isa.ErrorCode.NONE
        try:
            stats = self.machine.run()
            self.cycles = stats.cycles
        except ExecutionError as e:
            self.error = e.code
        self.pc = self.machine.pc
        self.done = True
