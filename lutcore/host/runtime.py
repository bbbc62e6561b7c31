"""The one host runtime: runs a compiled :class:`~lutcore.sw.compiler.Program` phase by phase
over any transport (:mod:`lutcore.host.transport`) and gathers its output.

Per phase (:meth:`Runtime.steps`): write the phase's buffer images and instruction words
(:meth:`Program.host_writes`), read STATUS (a host fault while loading stops the program),
write CTRL clear then CTRL start, wait for the core to stop, read STATUS, CYCLES and PC,
read the output words (:meth:`Program.host_reads`). After the last phase the output words
become the output matrix (:meth:`Program.gather`). This is the only place in the package that
knows the sequence; the ISS, the Verilator model and the UART link differ only in their
transports. The cocotb benches run bare instruction words through the same steps
(:meth:`Runtime.words_steps`, or :meth:`~Runtime.start_steps`, :meth:`~Runtime.wait_steps`
and :meth:`~Runtime.csr_steps` apart when they act while the core runs).

:func:`compile_parts` is where the compiled backends get their programs, and
:func:`add_parts` adds the parts' outputs modulo 2^acc_bits.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Iterator, NamedTuple

import numpy as np

from ..errors import LutcoreError
from ..spec import isa
from ..spec import numerics as nx
from ..spec.words import host_words, limbs_from_host_words, word_format
from ..sw.compiler import Program, compile_gemm_parts
from ..sw.iss import ExecutionError
from .transport import Read, Steps, WaitDone, Write, drive, drive_async

__all__ = ["DeviceError", "PhaseRecord", "ProgramRun", "Runtime", "Stop", "buffer_writes",
           "run_limit", "compile_parts", "add_parts"]


class DeviceError(LutcoreError):
    """The device failed: it did not answer, its ID is wrong, or its transport broke. (A core
    that stopped with an error is :class:`~lutcore.sw.iss.ExecutionError`, see
    :meth:`ProgramRun.raise_on_fault`.)"""


@dataclass
class PhaseRecord:
    """What one phase did on the device: STATUS after the stop (``done``, ``code``), the
    CYCLES and PC CSRs, the simulated cycles waited (None where the transport does not count
    them), the output words read (host sub-words ``uint64 [R, sub_words]``), the host words
    written and read, and wall-clock seconds of the load, the run and the reads."""

    cycles: int
    pc: int
    done: bool
    code: isa.ErrorCode
    waited: int | None
    words: np.ndarray
    writes: int
    reads: int
    load_s: float
    run_s: float
    read_s: float

    @property
    def error(self) -> bool:
        return self.code is not isa.ErrorCode.NONE


@dataclass
class ProgramRun:
    """A program's run: its phase records and the gathered ``output`` int64 [M, N] (None
    when a phase stopped with an error)."""

    program: Program
    phases: list[PhaseRecord] = field(default_factory=list)
    output: np.ndarray | None = None

    @property
    def cycles(self) -> int:
        return sum(p.cycles for p in self.phases)

    @property
    def phase_cycles(self) -> list[int]:
        return [p.cycles for p in self.phases]

    @property
    def utilization(self) -> float | None:
        return self.program.lookups() / self.cycles if self.cycles else None

    @property
    def lookups(self) -> int:
        return self.program.lookups()

    @property
    def useful_utilization(self) -> float | None:
        """Useful lookups / (cycles x m x n): padding rows and columns excluded."""
        return self.program.useful_utilization(self.cycles) if self.cycles else None

    def raise_on_fault(self) -> "ProgramRun":
        """Raise :class:`~lutcore.sw.iss.ExecutionError` (code, pc, phase) if a phase stopped
        with an error or not done."""
        for i, p in enumerate(self.phases):
            if p.error or not p.done:
                raise ExecutionError(p.code, f"the core stopped (done={int(p.done)})",
                                     pc=p.pc, phase=i)
        return self


def _status(raw: int):
    return isa.STATUS_LAYOUT.from_bits(int(raw) & ((1 << isa.STATUS_LAYOUT.size) - 1))


class Stop(NamedTuple):
    """How a start ended: STATUS (a :data:`~lutcore.spec.isa.STATUS_LAYOUT` view), the CYCLES
    and PC CSRs, and the simulated cycles waited (None where the transport cannot count)."""
    status: Any
    cycles: int
    pc: int
    waited: int | None


def run_limit(words, config) -> int:
    """A cycle bound for one start of ``words``: twice the predicted cycles plus a margin
    (never reached by a correct core; a wrong one fails the wait instead of hanging it).
    Words the timing cannot predict get a bound past the longest program."""
    try:
        return 2 * isa.phase_cycles(words, config) + 1000
    except isa.IsaError:
        return 2 * (isa.TIMING.START + config.instr_depth * 70000) + 1000


def buffer_writes(region: isa.Region, first: int, limbs: np.ndarray,
                  config) -> tuple[np.ndarray, np.ndarray]:
    """``(addresses, data)`` of the host writes of buffer words ``limbs [count, L]`` from word
    ``first`` of ``region``, sub-words in order."""
    subs = host_words(limbs, isa.region_word_bits(region, config), config.host_bits)
    addrs = isa.host_addresses(region, np.arange(first, first + len(subs)), config=config)
    return addrs.reshape(-1), subs.reshape(-1)


class Runtime:
    """Runs programs for ``config`` on the device behind ``transport``.

    :meth:`run` drives a transport with plain methods, :meth:`run_async` one with coroutine
    methods (see :mod:`lutcore.host.transport`); both run :meth:`steps`.
    """

    def __init__(self, transport, config):
        self.transport = transport
        self.config = config
        self._csr = {c: isa.host_address(isa.Region.CSR, c, config=config) for c in isa.Csr}
        self._after = np.array([self._csr[c] for c in (isa.Csr.STATUS, isa.Csr.CYCLES_LO,
                                                       isa.Csr.CYCLES_HI, isa.Csr.PC)],
                               np.uint64)

    def _ctrl(self, **fields) -> int:
        return isa.CTRL_LAYOUT.const({"start": 0, "clear": 0, **fields}).as_bits()

    def check_id(self) -> None:
        """Raise :class:`DeviceError` unless the ID CSR reads the accelerator's ID."""
        want = isa.ID_VALUE & ((1 << self.config.host_bits) - 1)
        got = int(self.transport.read(np.array([self._csr[isa.Csr.ID]], np.uint64))[0])
        if got != want:
            raise DeviceError(f"the device's ID CSR reads {got:#x}, expected {want:#x}: is "
                              f"the accelerator (bitstream) loaded?")

    def _start(self) -> Steps:
        """CTRL clear, then CTRL start."""
        csr = self._csr[isa.Csr.CTRL]
        yield Write(np.array([csr, csr], np.uint64),
                    np.array([self._ctrl(clear=1), self._ctrl(start=1)], np.uint64))

    def wait_steps(self, words) -> Steps:
        """After a start of ``words``: wait until the core stops, bounded by
        :func:`run_limit`; returns the cycles waited (None where not counted)."""
        return (yield WaitDone(run_limit(words, self.config)))

    def csr_steps(self, waited: int | None = None) -> Steps:
        """Read STATUS, CYCLES and PC; returns the :class:`Stop` (``waited`` as given)."""
        raw, lo, hi, pc = (int(v) for v in (yield Read(self._after)))
        return Stop(_status(raw), lo | (hi << self.config.host_bits), pc, waited)

    def _stop(self, words) -> Steps:
        waited = yield from self.wait_steps(words)
        return (yield from self.csr_steps(waited))

    def start_steps(self, words) -> Steps:
        """Load the instruction words ``words`` from address 0, then clear and start."""
        limbs = np.asarray([int(w) for w in words], np.uint64)[:, None]
        yield Write(*buffer_writes(isa.Region.INSTR, 0, limbs, self.config))
        yield from self._start()

    def words_steps(self, words) -> Steps:
        """Run the instruction words ``words`` once on the buffers as they are (no loads, no
        output reads); returns the :class:`Stop`."""
        yield from self.start_steps(words)
        return (yield from self._stop(words))

    def steps(self, program: Program) -> Steps:
        """The per-phase host sequence of ``program`` as transport operations; returns the
        :class:`ProgramRun`."""
        cfg = self.config
        if program.config != cfg:
            raise LutcoreError(f"program is for config '{program.config.name}', the device "
                               f"runs '{cfg.name}'")
        status_addr = np.array([self._csr[isa.Csr.STATUS]], np.uint64)
        fmt = word_format(isa.Region.OUTPUT, cfg)
        run = ProgramRun(program)
        for index, phase in enumerate(program.phases):
            t0 = time.perf_counter()
            addrs, data = program.host_writes(index)
            yield Write(addrs, data)
            loaded = _status((yield Read(status_addr))[0])
            t1 = time.perf_counter()
            reads = program.host_reads(index)
            if loaded.error:
                run.phases.append(PhaseRecord(0, 0, False, loaded.error_code, None,
                                              np.zeros((0, reads.shape[1]), np.uint64),
                                              len(addrs), 0, t1 - t0, 0.0, 0.0))
                return run
            yield from self._start()
            status, cycles, pc, waited = yield from self._stop(phase.instructions)
            t2 = time.perf_counter()
            code = status.error_code if status.error else isa.ErrorCode.NONE
            words = np.zeros((0, reads.shape[1]), np.uint64)
            if not status.error and reads.size:
                words = np.asarray((yield Read(reads)), np.uint64).reshape(reads.shape)
            run.phases.append(PhaseRecord(
                cycles, pc, bool(status.done), code, waited, words, len(addrs) + 2, words.size, t1 - t0, t2 - t1, time.perf_counter() - t2))
            if status.error or not status.done:
                return run
        run.output = program.gather([limbs_from_host_words(p.words, cfg.host_bits, fmt.limbs)
                                     for p in run.phases], limbs=True)
        return run

    def run(self, program: Program) -> ProgramRun:
        """Run ``program`` over a transport with plain methods."""
        return drive(self.steps(program), self.transport)

    async def run_async(self, program: Program) -> ProgramRun:
        """Run ``program`` over a transport with coroutine methods."""
        return await drive_async(self.steps(program), self.transport)

    async def do_async(self, steps: Steps) -> Any:
        """Run any of the step sequences (:meth:`words_steps`, :meth:`start_steps`, ...) over
        a transport with coroutine methods; returns its value."""
        return await drive_async(steps, self.transport)


def compile_parts(a, w, **options) -> Iterator[Program]:
    """The programs of ``O = A @ W.T`` whose outputs add (modulo 2^acc_bits, see
    :func:`add_parts`) to the result; every compiled backend gets its programs here.
    ``options`` are :func:`lutcore.sw.compiler.compile_gemm_parts`'s. Every argument is
    checked now; the programs are compiled one at a time as they are consumed, each with
    buffer images of at most about ``MAX_IMAGE_BYTES``, so a long-K GEMM holds one part in
    memory (one program, the :func:`~lutcore.sw.compiler.compile_gemm` one, when it fits)."""
    return compile_gemm_parts(a, w, **options)


def add_parts(outputs: list[np.ndarray], acc_bits: int) -> np.ndarray:
    """The sum of the parts' outputs wrapped to ``acc_bits`` (DESIGN §2.3)."""
    total = np.zeros_like(outputs[0], dtype=np.int64)
    for out in outputs:
        total = nx.wrap(total + out, acc_bits)
    return total
