"""Devices, sessions and the one GEMM entry point.

``with open_device(backend, config, **options) as dev:`` keeps a device alive across many
programs and GEMMs (``dev.run(program)``, ``dev.gemm(a, w, mode=...)``): for ``iss`` one
:class:`~lutcore.host.iss.AcceleratorModel`, for ``rtl`` one Verilator simulation process,
for ``uart`` one open port; ``numpy`` runs the golden kernels on the host and has no device
state. :func:`run_gemm` opens a device for one GEMM. Options follow the one table of
:mod:`lutcore.host.options`; :class:`GemmResult` has the same ``info`` fields on every
backend (:data:`INFO_FIELDS`, None where a backend has no value).
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from ..errors import LutcoreError
from ..spec.config import CoreConfig
from ..sw.compiler import Program, resolve_config
from ..sw.compiler.program import useful_share
from .iss import IssTransport
from .options import BACKEND_NAMES, OPTIONS, check_mode, check_options
from .runtime import ProgramRun, Runtime, add_parts, compile_parts

__all__ = ["GemmResult", "INFO_FIELDS", "Session", "Device", "CompiledGemm", "open_device",
           "run_gemm", "run_program", "backend_names", "get_backend", "Backend"]

#: The keys of :attr:`GemmResult.info`, the same on every backend.
INFO_FIELDS = (
    "backend",        # the backend's name
    "config",         # the configuration's name
    "mode",           # 'bitserial' or 'elut'
    "seconds",        # wall-clock seconds of the GEMM (compile, run, gather, checks)
    "path",           # numpy: 'fast' or 'core'
    "lookup_group",   # numpy: activations per table lookup
    "weight_bytes",   # numpy: packed weight bytes
    "programs",       # compiled: programs the GEMM was compiled to (their outputs add)
    "phases",         # compiled: phases over all programs
    "instructions",   # compiled: instruction words over all programs
    "ksplit",         # compiled: how K was split ('none', 'device', 'host')
    "phase_cycles",   # compiled: the CYCLES CSR after every phase
    "host_writes",    # compiled: host-port words written
    "host_reads",     # compiled: host-port output words read
    "iss_cycles",     # rtl with check: the ISS's cycles of every phase
    "bit_exact",      # rtl with check: output equal to the ISS and the int64 reference
    "waves",          # rtl with waves: the waveform file
    "device",         # facts about the device: rtl {pid, model_dir, run_dir}, uart link counts
)


@dataclass
class GemmResult:
    """Output of a GEMM: ``output`` int64 [M, N]; ``cycles`` (the CYCLES CSRs summed),
    ``utilization`` (LMMA steps / cycles) and ``useful_utilization`` (the lookups the GEMM
    needs, ``M * N * ceil(K / g) * planes``, over cycles x the array's ``m * n * lookups``
    lookups per cycle: padding rows, columns and K groups do not count) where hardware time is modelled or
    measured, else None; ``info`` with the keys :data:`INFO_FIELDS`."""

    output: np.ndarray
    cycles: int | None = None
    utilization: float | None = None
    info: dict[str, Any] = field(default_factory=dict)
    useful_utilization: float | None = None


def _info(**given) -> dict[str, Any]:
    unknown = set(given) - set(INFO_FIELDS)
    if unknown:
        raise AssertionError(f"info fields {sorted(unknown)} are not in INFO_FIELDS")
    return {key: given.get(key) for key in INFO_FIELDS}


class Session:
    """Something held open until :meth:`close`: use it as ``with ... as x:``."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> bool:
        self.close()
        return False

    def close(self) -> None:
        raise NotImplementedError


class Device(Session):
    """A device of one backend on one configuration, kept open across programs.

    ``run(program)`` runs a compiled program (raises
    :class:`~lutcore.sw.iss.ExecutionError` when the core faults); ``gemm(a, w, mode=...,
    **options)`` compiles and runs a GEMM (options of scope ``gemm`` in the table);
    ``close()`` (or leaving the ``with`` block) releases the device.
    """

    backend = ""
    #: The waveform file of a traced device (rtl with ``waves``), else None.
    waves: str | None = None

    def __init__(self, config: CoreConfig, transport):
        self.config = config
        self.transport = transport
        self.runtime = Runtime(transport, config) if transport is not None else None

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def run(self, program: Program) -> ProgramRun:
        """Run ``program`` phase by phase; its gathered output is ``.output``."""
        return self.runtime.run(program).raise_on_fault()

    def device_info(self) -> dict[str, Any] | None:
        """Facts about the device for ``info['device']``."""
        return None

    def check_part(self, run: ProgramRun) -> Any:
        """A backend's check of one program's run, kept for :meth:`verify` (the run itself
        is not kept, so that a long GEMM holds one part at a time); none by default."""
        return None

    def verify(self, parts: list, a, w, output, mode: str) -> dict[str, Any]:
        """Checks of a GEMM's result from its parts' :meth:`check_part` results (``info``
        fields); none by default."""
        return {}

    def gemm(self, a, w, *, mode: str = "bitserial", **options) -> GemmResult:
        """``O = A @ W.T`` compiled for this device's configuration and run on it."""
        gemm = CompiledGemm.compile(self.backend, self.config, a, w, mode, options)
        return self.execute(gemm)

    def execute(self, gemm: "CompiledGemm") -> GemmResult:
        """Run a compiled GEMM's programs one at a time (a long K is compiled part by part
        as it runs), add their outputs, check (rtl), report."""
        output, parts, records = None, [], []
        programs = instructions = lookups = useful = 0
        ksplit = None
        for program in gemm.programs:
            run = self.run(program)
            output = run.output if output is None else \
                add_parts([output, run.output], self.config.acc_bits)
            if gemm.check:
                parts.append(self.check_part(run))
            records += run.phases
            programs += 1
            instructions += program.num_instructions
            lookups += program.lookups()
            useful += program.useful_lookups()
            ksplit = ksplit or program.meta.get("ksplit")
        checks = self.verify(parts, gemm.a, gemm.w, output, gemm.mode) if gemm.check else {}
        cycles = sum(p.cycles for p in records)
        info = _info(backend=self.backend, config=self.config.name, mode=gemm.mode,
                     programs=programs, phases=len(records), instructions=instructions,
                     ksplit=ksplit, phase_cycles=[p.cycles for p in records],
                     host_writes=sum(p.writes for p in records),
                     host_reads=sum(p.reads for p in records),
                     device=self.device_info(), waves=self.waves, **checks,
                     seconds=time.perf_counter() - gemm.started)
        return GemmResult(output, cycles, lookups / cycles if cycles else None, info,
                          useful_share(useful, cycles, self.config) if cycles else None)


@dataclass
class CompiledGemm:
    """A GEMM compiled for a device (:meth:`compile`, options checked first): its operands,
    mode, programs (:func:`compile_parts`: checked when compiled, then produced one at a time
    as they run), whether to check the result, and when the work started;
    :meth:`Device.execute` runs it."""

    a: Any
    w: Any
    mode: str
    programs: Iterable[Program]
    check: bool
    started: float

    @classmethod
    def compile(cls, backend, config, a, w, mode, options) -> "CompiledGemm":
        options = check_options(backend, options, "gemm")
        check_mode(mode)
        started = time.perf_counter()
        if is_packed(w):
            w = _check_packed(w, mode, resolve_config(config)).unpack()
        check = options.pop("check", OPTIONS["check"].default)
        programs = compile_parts(a, w, config=config, mode=mode, **options)
        return cls(a, w, mode, programs, check, started)


class IssDevice(Device):
    """The instruction-set simulator behind the modelled host port."""

    backend = "iss"

    def __init__(self, config: CoreConfig):
        super().__init__(config, IssTransport(config))


class NumpyDevice(Device):
    """The golden kernels on the host CPU (no device state; ``run`` is not available)."""

    backend = "numpy"

    def __init__(self, config: CoreConfig):
        super().__init__(config, None)

    def run(self, program: Program) -> ProgramRun:
        raise LutcoreError("backend 'numpy' runs GEMMs, not compiled programs: use "
                           "backend 'iss', 'rtl' or 'uart'")

    def gemm(self, a, w, *, mode: str = "bitserial", **options) -> GemmResult:
        from ..sw.kernels.gemm import FAST_GROUP, lut_gemm
        from ..sw.kernels.packing import pack_bitserial, pack_elut
        from ..sw.kernels.validate import check_activations, check_k_match, check_overflow, \
            check_ternary

        options = check_options(self.backend, options, "gemm")
        check_mode(mode)
        cfg = self.config
        path = options.get("path", OPTIONS["path"].default)
        act_format = options.get("act_format", OPTIONS["act_format"].default)
        if cfg.is_fp:
            given = sorted(set(options) & {"act_format", "table_format", "acc_format"})
            if given:
                raise LutcoreError(f"option(s) {given} are set by config '{cfg.name}' "
                                   f"(act_format {cfg.act_format}): leave them out")
            act_format = cfg.act_format
            options = {**options, "table_format": cfg.table_format,
                       "acc_format": cfg.acc_format}
        g = cfg.group(mode)                   # ConfigError if the mode is not built
        started = time.perf_counter()
        if act_format != "int8":
            return self._fp_gemm(a, w, mode, g, act_format, options, started)
        given = sorted(set(options) & {"table_format", "acc_format"})
        if given:
            raise LutcoreError(f"option(s) {given} apply to FP activations: pass act_format "
                               f"'fp16' or 'bf16'")
        a = check_activations(a, cfg.act_bits, "a")
        if is_packed(w):
            packed = _check_packed(w, mode, cfg)
            k = check_k_match(a.shape, packed.shape)
        else:
            w = check_ternary(w, "w")
            k = check_k_match(a.shape, w.shape)
            packed = None
        check_overflow(k, cfg.act_bits, 1, cfg.acc_bits,
                       options.get("allow_wrap", OPTIONS["allow_wrap"].default))
        if packed is None:
            packed = pack_bitserial(w, g=g) if mode == "bitserial" else pack_elut(w, g=g)
        out = lut_gemm(a, packed, cfg.acc_bits, act_bits=cfg.act_bits, path=path,
                       symmetrize=cfg.symmetrize)
        return GemmResult(out, info=_info(
            backend="numpy", config=cfg.name, mode=mode, path=path,
            lookup_group=FAST_GROUP[mode] if path == "fast" else g,
            weight_bytes=packed.nbytes, seconds=time.perf_counter() - started))


    def _fp_gemm(self, a, w, mode: str, g: int, act_format: str, options: dict,
                 started: float) -> GemmResult:
        """FP activations: the FP contract's kernels (same weights, ternary), outputs in
        ``acc_format``; FP sums do not wrap, so there is no overflow check."""
        from ..spec import isa
        from ..sw.compiler import weight_params
        from ..sw.kernels.fp import fp_activations, fp_lut_gemm
        from ..sw.kernels.packing import pack_bitserial, pack_elut
        from ..sw.kernels.validate import check_k_match, check_ternary
        cfg = self.config
        a = fp_activations(a, act_format)
        if is_packed(w):
            w = _check_packed(w, mode, cfg).unpack()
        w = check_ternary(w, "w")
        check_k_match(a.shape, w.shape)
        # The planes the compiler would take (an FP sum depends on them): ternary weights
        # that use two values only are one plane, as on the compiled backends.
        b, z = weight_params(w, isa.Mode.parse(mode), cfg, None, None)
        packed = (pack_bitserial(w, g=g, weight_bits=b, zero_point=z) if mode == "bitserial"
                  else pack_elut(w, g=g))
        formats = {"table_format": options.get("table_format", OPTIONS["table_format"].default),
                   "acc_format": options.get("acc_format", OPTIONS["acc_format"].default)}
        out = fp_lut_gemm(a, packed, act_format=act_format, symmetrize=cfg.symmetrize,
                          lookups=cfg.lookups, **formats)
        return GemmResult(out, info=_info(
            backend="numpy", config=cfg.name, mode=mode, path="core", lookup_group=g,
            weight_bytes=packed.nbytes, seconds=time.perf_counter() - started))


def is_packed(w) -> bool:
    """Whether ``w`` is packed weights (:class:`~lutcore.sw.kernels.packing.BitSerialWeights`
    or :class:`~lutcore.sw.kernels.packing.ElutWeights`) rather than an int8 matrix."""
    from ..sw.kernels.packing import BitSerialWeights, ElutWeights
    return isinstance(w, (BitSerialWeights, ElutWeights))


def _check_packed(packed, mode: str, cfg: CoreConfig):
    """Packed weights given as ``w``: ternary, of ``mode``, laid out for ``cfg``'s group."""
    from ..sw.kernels.packing import TERNARY_WEIGHT_BITS, TERNARY_ZERO_POINT
    if packed.mode != mode:
        raise LutcoreError(f"w is packed for mode {packed.mode!r}: the GEMM's mode is {mode!r}")
    if (packed.weight_bits, packed.zero_point) != (TERNARY_WEIGHT_BITS, TERNARY_ZERO_POINT):
        raise LutcoreError(f"w is packed with weight_bits {packed.weight_bits}, zero_point "
                           f"{packed.zero_point}: the devices run ternary weights (2, 1)")
    if packed.g != cfg.group(mode):
        raise LutcoreError(f"w is packed for group size g = {packed.g}: configuration "
                           f"{cfg.name!r} has g = {cfg.group(mode)} in mode {mode!r}")
    return packed


@dataclass(frozen=True)
class Backend:
    """A backend by name: ``run_gemm(a, w, mode=..., config=..., **options)`` and
    ``open(config, **options)``."""

    name: str

    def run_gemm(self, a, w, **kwargs) -> GemmResult:
        return run_gemm(a, w, backend=self.name, **kwargs)

    def open(self, config="default", **options) -> Device:
        return open_device(self.name, config, **options)


#: Device classes by backend; rtl and uart as module paths, so that their optional
#: dependencies (cocotb and Verilator, pyserial) load only when used.
BACKENDS: dict[str, str | type] = {
    "numpy": NumpyDevice,
    "iss": IssDevice,
    "rtl": "lutcore.host.rtl:RtlDevice",
    "uart": "lutcore.host.uart:UartDevice",
}


def backend_names() -> list[str]:
    """The backends, in the order of the option table."""
    return list(BACKEND_NAMES)


def _device_class(name: str) -> type:
    check_options(name, {})                  # the name is known
    entry = BACKENDS[name]
    if isinstance(entry, type):
        return entry
    module, _, attr = entry.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except ImportError as e:
        raise LutcoreError(f"--backend {name!r} is not available in this build: {e}") from None


def get_backend(name: str) -> Backend:
    """The backend ``name`` (one line if unknown or not available in this build)."""
    _device_class(name)
    return Backend(name)


def open_device(backend: str, config="default", **options) -> Device:
    """Open a device of ``backend`` on ``config`` (a CoreConfig or a preset name), kept
    alive until closed: use it as ``with open_device(...) as dev:``. ``options`` are the
    device options of the table (rtl: seed, idle, stall, monitor, waves; uart: port, baud,
    transport, timeout, run_timeout)."""
    options = check_options(backend, options, "device")
    cls = _device_class(backend)
    return cls(resolve_config(config), **options)


def run_gemm(a, w, *, backend: str = "numpy", mode: str = "bitserial", config="default",
             **options) -> GemmResult:
    """``O = A @ W.T`` (int8 activations [M, K], ternary weights [N, K], or packed ternary
    weights of ``mode`` and the configuration's group size) on ``backend``:
    ``"numpy"`` (golden kernels on the host), ``"iss"`` (compiled, instruction-set
    simulator), ``"rtl"`` (compiled, Verilator model), ``"uart"`` (compiled, a board).

    Every option is checked against the one table (:mod:`lutcore.host.options`) before any
    work starts; an option the backend does not take, or a value of the wrong type or range,
    is one :class:`~lutcore.errors.LutcoreError` line.
    """
    checked = check_options(backend, options)
    check_mode(mode)
    device_options = {k: v for k, v in checked.items() if OPTIONS[k].scope == "device"}
    gemm_options = {k: v for k, v in checked.items() if OPTIONS[k].scope == "gemm"}
    if backend == "numpy":
        with open_device(backend, config) as dev:
            return dev.gemm(a, w, mode=mode, **gemm_options)
    # The operands are checked (compiled) before a device opens: no simulator starts for a
    # GEMM that would be refused.
    cfg = resolve_config(config)
    gemm = CompiledGemm.compile(backend, cfg, a, w, mode, gemm_options)
    with open_device(backend, cfg, **device_options) as dev:
        return dev.execute(gemm)


def run_program(program: Program) -> ProgramRun:
    """Run ``program`` on a fresh ISS device (raises
    :class:`~lutcore.sw.iss.ExecutionError` naming the phase when the core faults)."""
    with IssDevice(program.config) as dev:
        return dev.run(program)
