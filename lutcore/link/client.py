"""Host side of the UART link: transports, the framed protocol, and a runtime that runs
compiled programs on a board.

Layers, each usable on its own:

- a :class:`Transport` moves bytes: :class:`SerialTransport` (a serial port through
  pyserial), :class:`ModelTransport` (the Python bridge model in front of any Python
  host-port device, for tests and dry runs), or anything with the same four methods;
- :class:`Link` speaks the protocol of :mod:`lutcore.link.protocol`: INFO, READ and WRITE
  of host words in bursts, sequence numbers, CRC checks, retries of rejected frames;
- :class:`Runtime` runs a compiled :class:`~lutcore.sw.compiler.Program` over a link:
  loads each phase's buffer images and instructions, starts the core, polls STATUS, reads
  the output words and gathers the result;
- :func:`run_gemm` is the ``uart`` backend of :mod:`lutcore.backends`
  (``lutcore gemm --backend uart --port PORT``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Protocol, Sequence

import numpy as np

from ..backends import GemmResult
from ..errors import LutcoreError
from . import protocol as proto
from .protocol import Command, ProtocolError, Status

__all__ = [
    "Transport", "SerialTransport", "ModelTransport", "Link", "LinkStats", "Runtime",
    "DeviceError", "run_gemm", "DEFAULT_BAUD",
]

DEFAULT_BAUD = 115_200


class DeviceError(LutcoreError):
    """The accelerator reported an error (STATUS error flag), or did not finish in time."""

    def __init__(self, message: str, code=None, pc: int | None = None):
        super().__init__(message)
        self.code = code
        self.pc = pc


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


class ModelTransport:
    """The board side modelled in Python: :class:`~lutcore.link.model.BridgeModel` in front
    of ``device`` (anything with ``read(addr)`` and ``write(addr, value)``).

    ``mangle`` (optional) sees every chunk written and returns what the board receives
    instead, to inject line errors in tests. A read that finds nothing waiting models a quiet
    line: the bridge's frame timeout fires (so a truncated frame gets its reply).
    """

    def __init__(self, device, *, host_bits: int = 32, max_words: int = 64, mangle=None):
        from .model import BridgeModel

        self.bridge = BridgeModel(device, host_bits=host_bits, max_words=max_words)
        self.mangle = mangle
        self._out = bytearray()
        self.sent = 0

    def write(self, data: bytes) -> None:
        self.sent += len(data)
        if self.mangle is not None:
            data = self.mangle(bytes(data))
        self._out += self.bridge.feed(data)

    def read(self, size: int, timeout: float) -> bytes:
        if not self._out:
            self._out += self.bridge.quiet()
        chunk = bytes(self._out[:size])
        del self._out[:size]
        return chunk

    def discard_input(self) -> None:
        self._out.clear()

    def close(self) -> None:
        pass


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


# -- runtime ----------------------------------------------------------------------------------

@dataclass
class PhaseRun:
    cycles: int
    seconds: float


@dataclass
class ProgramRun:
    output: np.ndarray
    phases: list[PhaseRun] = field(default_factory=list)

    @property
    def cycles(self) -> int:
        return sum(p.cycles for p in self.phases)


class Runtime:
    """Runs compiled programs on the accelerator behind a :class:`Link`.

    Parameters
    ----------
    link : Link
    config : CoreConfig
        The configuration the bitstream was built for.
    run_timeout : float
        Seconds one phase may run before :class:`DeviceError`.
    """

    def __init__(self, link: Link, config, *, run_timeout: float = 10.0):
        from ..spec import isa

        self.link = link
        self.config = config
        self.run_timeout = run_timeout
        self._isa = isa

    def csr_address(self, csr) -> int:
        return self._isa.host_address(self._isa.Region.CSR, int(csr), config=self.config)

    def check_id(self) -> None:
        """The board answers with the accelerator's ID, or :class:`DeviceError`."""
        isa = self._isa
        want = isa.ID_VALUE & ((1 << self.config.host_bits) - 1)
        got = self.link.read(self.csr_address(isa.Csr.ID))[0]
        if got != want:
            raise DeviceError(f"the board's ID CSR reads {got:#x}, expected {want:#x}: "
                              f"is the accelerator bitstream loaded?")

    def status(self):
        isa = self._isa
        return isa.STATUS_LAYOUT.from_bits(self.link.read(self.csr_address(isa.Csr.STATUS))[0]
                                           & 0xFFFF)

    def cycles(self) -> int:
        isa = self._isa
        lo, hi = self.link.read(self.csr_address(isa.Csr.CYCLES_LO), 2)
        return lo | (hi << self.config.host_bits)

    def run_phase(self, program, index: int) -> PhaseRun:
        isa = self._isa
        start = time.monotonic()
        addrs, data = program.host_writes(index)
        self.link.write_scattered(addrs, data)
        ctrl = self.csr_address(isa.Csr.CTRL)
        self.link.write(ctrl, [isa.CTRL_LAYOUT.const({"start": 0, "clear": 1}).as_bits()])
        self.link.write(ctrl, [isa.CTRL_LAYOUT.const({"start": 1, "clear": 0}).as_bits()])
        deadline = time.monotonic() + self.run_timeout
        while True:
            st = self.status()
            if st.error:
                pc = self.link.read(self.csr_address(isa.Csr.PC))[0]
                code = st.error_code
                raise DeviceError(f"phase {index}: the accelerator stopped with error "
                                  f"{code.name} at pc {pc}", code, pc)
            if st.done and not st.busy:
                break
            if time.monotonic() > deadline:
                raise DeviceError(f"phase {index}: not done after {self.run_timeout:g} s")
            time.sleep(0.001)
        return PhaseRun(self.cycles(), time.monotonic() - start)

    def run_program(self, program) -> ProgramRun:
        """Run every phase of ``program`` and gather its output ``int64 [M, N]``."""
        from ..spec.words import limbs_from_host_words, unpack, word_format

        if program.config != self.config:
            raise LutcoreError(f"program is for config '{program.config.name}', the board "
                               f"runs '{self.config.name}'")
        isa = self._isa
        fmt = word_format(isa.Region.OUTPUT, self.config)
        run = ProgramRun(output=np.zeros(0))
        outputs = []
        for index in range(len(program.phases)):
            run.phases.append(self.run_phase(program, index))
            addrs = program.host_reads(index)                      # [R, sub_words]
            words = self.link.read_scattered(addrs) if addrs.size else addrs
            limbs = limbs_from_host_words(words, self.config.host_bits, fmt.limbs)
            outputs.append(unpack(limbs, fmt))
        run.output = program.gather(outputs)
        return run


# -- backend ----------------------------------------------------------------------------------

_OPTIONS = ("allow_wrap", "weight_bits", "zero_point", "ksplit")


def run_gemm(a, w, *, mode: str = "bitserial", config="default", port: str | None = None,
             baud: int = DEFAULT_BAUD, transport: Transport | None = None, timeout: float = 1.0,
             run_timeout: float = 10.0, **options: Any) -> GemmResult:
    """The ``uart`` backend: compile ``a @ w.T`` and run it on a board over the UART link.

    ``port`` (a serial device such as ``/dev/ttyUSB1``, or any pyserial URL) and ``baud``
    open a :class:`SerialTransport`; ``transport`` supplies one instead (tests, models).
    Compiler options: ``allow_wrap``, ``weight_bits``, ``zero_point``, ``ksplit``.
    ``cycles`` are the accelerator's own CYCLES counts, summed over the phases.
    """
    from ..sw.compiler import compile_gemm, resolve_config

    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise LutcoreError(f"uart backend option(s) {unknown} are unknown: allowed "
                           f"port, baud, transport, timeout, run_timeout, {', '.join(_OPTIONS)}")
    cfg = resolve_config(config)
    program = compile_gemm(a, w, config=cfg, mode=mode, **options)
    own = transport is None
    if own:
        transport = SerialTransport(port, baud)
    try:
        link = Link(transport, host_bits=cfg.host_bits, timeout=timeout)
        info = link.connect()
        runtime = Runtime(link, cfg, run_timeout=run_timeout)
        runtime.check_id()
        result = runtime.run_program(program)
    finally:
        if own:
            transport.close()
    lookups = program.lookups()
    return GemmResult(result.output, cycles=result.cycles,
                      utilization=lookups / result.cycles if result.cycles else None,
                      info={"backend": "uart", "phases": len(program.phases),
                            "phase_cycles": [p.cycles for p in result.phases],
                            "frames": link.stats.frames, "retries": link.stats.retries,
                            "bytes_out": link.stats.bytes_out, "bytes_in": link.stats.bytes_in,
                            "max_words": info.max_words})
