"""The ``rtl`` backend: compiled programs on the Verilator model of the accelerator top.

:func:`run_gemm` compiles ``a @ w.T`` (:func:`lutcore.sw.compiler.compile_gemm`), runs the
program on the model of its configuration through the ``run_job`` bench of
:mod:`lutcore.sim.tb_top` (host-port loads, start, wait for done, CYCLES, output reads) and
checks the result with :mod:`lutcore.sim.scoreboard`: bit-exact with the ISS and the int64
reference, and the CYCLES of every phase equal to the ISS's prediction.
:func:`run_programs` runs several programs in one simulation (the tests batch GEMMs so).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..backends import GemmResult
from ..errors import LutcoreError
from ..spec.config import CoreConfig
from ..sw.compiler import Program, compile_gemm, resolve_config
from .job import JOB_ENV, Job, load_results
from .runner import SimModel, run_bench, top_model
from .scoreboard import Score, score

__all__ = ["SimRun", "run_programs", "run_gemm", "BENCH_MODULE"]

#: The cocotb module that runs jobs.
BENCH_MODULE = "lutcore.sim.tb_top"


@dataclass
class SimRun:
    """Records of a :func:`run_programs` call: ``results[program][phase]`` (see
    :mod:`lutcore.sim.job`), the host-port statistics, the model, and wall-clock seconds
    of the model build (0 when reused) and of the simulation process."""

    results: list[list[dict[str, Any]]]
    stats: dict[str, Any]
    model: SimModel
    build_seconds: float
    sim_seconds: float
    run_dir: Path
    sim_dir: Path


def run_programs(programs: Sequence[Program], config: CoreConfig | None = None, *,
                 waves: bool | None = None, seed: int = 1, idle: float = 0.0,
                 stall: float = 0.0, monitor: bool = False, quiet: bool = True) -> SimRun:
    """Run ``programs`` in order on one instance of the model of their configuration."""
    if not programs:
        raise LutcoreError("run_programs: no programs given")
    config = config or programs[0].config
    for p in programs:
        if p.config != config:
            raise LutcoreError(f"run_programs: program for config '{p.config.name}' differs "
                               f"from config '{config.name}'")
    model = top_model(config, waves=waves, quiet=quiet)
    jobs = model.build_dir / "jobs"
    jobs.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=jobs, prefix="job-"))
    paths = []
    for i, program in enumerate(programs):
        path = work / f"program{i}.npz"
        program.save(path)
        paths.append(str(path))
    job = Job(config, paths, str(work / "results.npz"), seed=seed, idle=idle, stall=stall,
              monitor=monitor)
    job.save(work / "job.json")
    started = time.perf_counter()
    xml = run_bench(model, BENCH_MODULE, testcase="run_job", seed=seed, quiet=quiet,
                    env={JOB_ENV: str(work / "job.json"),
                         "LUTCORE_SIM_CONFIG": config.to_json()})
    sim_seconds = time.perf_counter() - started
    results, stats = load_results(job.results)
    # Kept only when the bench fails (run_bench raises first): programs can be large.
    for path in [*paths, job.results]:
        Path(path).unlink(missing_ok=True)
    return SimRun(results, stats, model, model.build_seconds, sim_seconds, work, Path(xml).parent)


_COMPILER_OPTIONS = ("allow_wrap", "weight_bits", "zero_point", "ksplit")
_SIM_OPTIONS = ("seed", "idle", "stall", "check")


def run_gemm(a, w, *, mode: str = "bitserial", config="default", waves: bool = False,
             **options: Any) -> GemmResult:
    """The ``rtl`` backend: compile ``a @ w.T`` and run it on the Verilator model.

    Options: the compiler's ``allow_wrap``, ``weight_bits``, ``zero_point``, ``ksplit``;
    ``seed``, ``idle``, ``stall`` (host-port randomness, default none); ``check`` (default
    True): raise :class:`~lutcore.sim.scoreboard.SimulationError` unless the output equals
    the ISS and the int64 reference and every phase's CYCLES equals the ISS prediction.
    ``waves`` dumps waveforms (VCD, or FST with LZ4) into the run directory named in ``info``.
    ``cycles`` are the core's own CYCLES counts, summed over the phases.
    """
    unknown = sorted(set(options) - set(_COMPILER_OPTIONS) - set(_SIM_OPTIONS))
    if unknown:
        raise LutcoreError(f"rtl backend option(s) {unknown} are unknown: allowed waves, "
                           f"{', '.join(_COMPILER_OPTIONS + _SIM_OPTIONS)}")
    cfg = resolve_config(config)
    sim = {k: options.pop(k) for k in _SIM_OPTIONS if k in options}
    check = sim.pop("check", True)
    started = time.perf_counter()
    program = compile_gemm(a, w, config=cfg, mode=mode, **options)
    run = run_programs([program], cfg, waves=waves or None, **sim)
    result: Score = score(program, run.results[0], a=a, w=w)
    if check:
        result.raise_on_mismatch(f"rtl backend ({cfg.name}, {mode})")
    records = run.results[0]
    info = {
        "backend": "rtl",
        "phases": len(program.phases),
        "instructions": program.num_instructions,
        "phase_cycles": result.phase_cycles,
        "predicted_cycles": result.predicted,
        "iss_cycles": result.iss_cycles,
        "cycles_match": result.phase_cycles == result.predicted == result.iss_cycles,
        "bit_exact": result.ok,
        "mismatches": result.mismatches,
        "host_writes": sum(r["writes"] for r in records),
        "host_reads": sum(r["reads"] for r in records),
        "build_seconds": run.build_seconds,
        "sim_seconds": run.sim_seconds,
        "load_seconds": sum(r["load_s"] for r in records),
        "run_seconds": sum(r["run_s"] for r in records),
        "read_seconds": sum(r["read_s"] for r in records),
        "total_seconds": time.perf_counter() - started,
        "run_dir": str(run.run_dir),
        "model_dir": str(run.model.build_dir),
    }
    if run.model.waves:
        info["waves"] = str(run.sim_dir / f"dump.{run.model.wave_format}")
    output = result.output if result.output is not None else \
        np.zeros(program.shape[:2], np.int64)
    return GemmResult(output, cycles=result.cycles, utilization=result.utilization, info=info)
