"""The Verilator model as a device: one simulation process serving program after program.

:class:`SimTransport` starts the cocotb ``serve`` bench of :mod:`lutcore.sim.tb_top` on the
model of a configuration (built once in the per-user cache, :mod:`lutcore.sim.runner`) and
forwards every transport operation over a Unix socket (:mod:`lutcore.sim.pipe`); the bench
performs it on the host-port driver. The runtime therefore runs here, and the simulator stays
alive until :meth:`SimTransport.close`: a session pays the simulator start once, not once
per GEMM.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import LutcoreError
from ..sim import pipe
from ..sim.runner import SimModel, run_bench, run_dir, top_model
from .devices import Device
from .runtime import DeviceError
from .scoreboard import SimulationError, first_difference, reference, score

__all__ = ["SimTransport", "RtlDevice", "BENCH_MODULE"]

#: The cocotb module whose ``serve`` test is the device end of the pipe.
BENCH_MODULE = "lutcore.sim.tb_top"


class SimTransport:
    """A running simulation of the accelerator top of ``config`` (see the module docstring).

    Parameters: ``seed``, ``idle``, ``stall``, ``monitor`` set the host-port driver (random
    idle requests, random response backpressure, the passive request checker); ``waves``
    traces the model into :attr:`waves` (complete once closed); ``quiet`` keeps the
    simulator's log in its run directory.

    Members: ``model`` (:class:`~lutcore.sim.runner.SimModel`), ``pid`` (the simulator
    process), ``run_dir``, ``waves`` (the waveform path or None), ``stats`` (host-port
    counts and simulated cycles after :meth:`close`).
    """

    def __init__(self, config, *, seed: int = 1, idle: float = 0.0, stall: float = 0.0,
                 monitor: bool = False, waves: bool = False, quiet: bool = True):
        self.config = config
        self.model: SimModel = top_model(config, waves=waves, quiet=quiet)
        self.run_dir = run_dir(self.model, "serve")
        self.waves = (str(self.run_dir / f"dump.{self.model.wave_format}")
                      if self.model.waves else None)
        self.stats: dict[str, Any] | None = None
        self._sock: socket.socket | None = None
        self._failure: BaseException | None = None
        # A socket path must be short (about 100 bytes): it lives in the system temp dir.
        self._sock_dir = tempfile.mkdtemp(prefix="lutcore-sim-")
        path = os.path.join(self._sock_dir, "pipe")
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(path)
        server.listen(1)
        server.settimeout(0.2)
        env = {pipe.SERVE_ENV: path, "LUTCORE_SIM_CONFIG": config.to_json(),
               "LUTCORE_SIM_SEED": str(seed), "LUTCORE_SIM_IDLE": repr(float(idle)),
               "LUTCORE_SIM_STALL": repr(float(stall)),
               "LUTCORE_SIM_MONITOR": "1" if monitor else "0"}
        self._thread = threading.Thread(
            target=self._simulate, args=(env, seed, quiet), daemon=True, name="lutcore-sim")
        self._thread.start()
        try:
            while True:
                try:
                    self._sock, _ = server.accept()
                    break
                except socket.timeout:
                    if not self._thread.is_alive():
                        raise self._failed("did not start") from None
            self._sock.settimeout(None)
            self.pid = self._call("hello")[0]
        finally:
            server.close()

    def _simulate(self, env, seed, quiet) -> None:
        try:
            run_bench(self.model, BENCH_MODULE, testcase="serve", env=env, seed=seed,
                      quiet=quiet, test_dir=self.run_dir)
        except BaseException as e:           # reported by the host side, in one line
            self._failure = e

    def _failed(self, what: str) -> LutcoreError:
        first = str(self._failure or "").strip().splitlines()
        return DeviceError(f"the simulation {what}: {first[0] if first else 'no reason given'}"
                           f" (log: {self.run_dir / 'sim.log'})")

    def _call(self, op: str, words=None, **fields) -> tuple[Any, np.ndarray | None]:
        try:
            if op != "hello":
                pipe.send(self._sock, {"op": op, **fields}, words)
            header, array = pipe.receive(self._sock)
        except (OSError, EOFError):
            self._thread.join(timeout=30)
            raise self._failed(f"ended during {op}") from None
        if "error" in header:
            self._thread.join(timeout=30)
            raise DeviceError(f"the simulation failed during {op}: {header['error']} "
                              f"(log: {self.run_dir / 'sim.log'})")
        return header["value"], array

    # -- transport ------------------------------------------------------------------------------
    def write(self, addrs, data) -> None:
        self._call("write", np.concatenate([np.asarray(addrs, np.uint64).reshape(-1),
                                            np.asarray(data, np.uint64).reshape(-1)]))

    def read(self, addrs) -> np.ndarray:
        flat = np.asarray(addrs, np.uint64).reshape(-1)
        if not flat.size:
            return np.zeros(np.shape(addrs), np.uint64)
        return self._call("read", flat)[1].reshape(np.shape(addrs))

    def wait_done(self, max_cycles: int) -> int:
        return int(self._call("wait", max_cycles=int(max_cycles))[0])

    def reset(self) -> None:
        self._call("reset")

    def port_stats(self) -> dict[str, Any]:
        """The host-port counts so far and the simulated cycles (and a stream check)."""
        return self._call("stats")[0]

    def close(self) -> None:
        """End the simulation (the waveform is complete afterwards); raises
        :class:`DeviceError` if the bench reported a failure."""
        if self._sock is None:
            return
        try:
            self.stats = self._call("close")[0]
        finally:
            self._sock.close()
            self._sock = None
            self._thread.join()
            shutil.rmtree(self._sock_dir, ignore_errors=True)
        if self._failure is not None:
            raise self._failed("failed")
        if self.waves:
            print(f"lutcore: waveform written to {self.waves}", file=sys.stderr)


class RtlDevice(Device):
    """The ``rtl`` backend: one :class:`SimTransport` serving every program of the session.
    With ``check`` (default) every GEMM's output must equal the ISS and the int64 reference
    and every phase's CYCLES the ISS's count, or :class:`SimulationError` is raised."""

    backend = "rtl"

    def __init__(self, config, *, seed: int = 1, idle: float = 0.0, stall: float = 0.0,
                 monitor: bool = False, waves: bool = False, quiet: bool = True):
        super().__init__(config, SimTransport(config, seed=seed, idle=idle, stall=stall,
                                              monitor=monitor, waves=waves, quiet=quiet))

    @property
    def waves(self) -> str | None:
        return self.transport.waves

    @property
    def pid(self) -> int:
        """The simulator's process id (one per session)."""
        return self.transport.pid

    def device_info(self) -> dict[str, Any]:
        t = self.transport
        return {"pid": t.pid, "model_dir": str(t.model.build_dir), "run_dir": str(t.run_dir),
                "build_seconds": t.model.build_seconds}

    def check_part(self, run) -> tuple[list[str], list[int]]:
        """The part's mismatches against the ISS and its prediction, and the ISS's cycles."""
        result = score(run)
        return result.mismatches, result.iss_cycles, run.program.meta

    def verify(self, parts, a, w, output, mode: str) -> dict[str, Any]:
        bad = [m for mismatches, _, _ in parts for m in mismatches]
        bad += filter(None, [first_difference(output, *reference(a, w, self.config, mode,
                                                                  parts[0][2]))])
        if bad:
            more = f" (+{len(bad) - 3} more)" if len(bad) > 3 else ""
            raise SimulationError(f"rtl backend ({self.config.name}, {mode}): "
                                  + "; ".join(bad[:3]) + more)
        return {"iss_cycles": [c for _, cycles, _ in parts for c in cycles], "bit_exact": True}
