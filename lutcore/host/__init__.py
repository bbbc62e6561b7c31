"""The host: everything that runs compiled programs and GEMMs on a device.

What belongs here: the transport protocol (:mod:`.transport`: host-port words, wait for
done, reset), the one :class:`Runtime` that runs a :class:`~lutcore.sw.compiler.Program`
phase by phase over any transport and gathers its output (:mod:`.runtime`), the devices
behind the transports (:mod:`.iss`: the host port modelled on the ISS; :mod:`.rtl`: one
Verilator simulation serving program after program; :mod:`.uart`: a board over the UART
link), sessions (:func:`open_device`), the one option table (:mod:`.options`) and the one
public GEMM entry :func:`run_gemm` with its :class:`GemmResult` (:mod:`.devices`), and the
scoreboard that compares a device with the ISS and the int64 reference (:mod:`.scoreboard`).

What does not: the arithmetic and the compiler (:mod:`lutcore.sw`), the gateware
(:mod:`lutcore.hw`), the link's gateware and protocol (:mod:`lutcore.link`), the Verilator
runner and cocotb benches (:mod:`lutcore.sim`). Importing this package needs neither cocotb
nor pyserial.
"""

from .devices import (INFO_FIELDS, Backend, Device, GemmResult, backend_names, get_backend,
                      open_device, run_gemm, run_program)
from .options import BACKEND_NAMES, MODES, OPTIONS, check_options
from .runtime import DeviceError, PhaseRecord, ProgramRun, Runtime, add_parts, compile_parts
from .transport import Transport, drive, drive_async

__all__ = ["run_gemm", "open_device", "run_program", "GemmResult", "INFO_FIELDS", "Device",
           "Backend", "backend_names", "get_backend", "BACKEND_NAMES", "MODES", "OPTIONS",
           "check_options", "Runtime", "ProgramRun", "PhaseRecord", "DeviceError",
           "compile_parts", "add_parts", "Transport", "drive", "drive_async"]
