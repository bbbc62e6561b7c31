"""Verilator model builds: Verilator's runtime objects are compiled once per toolchain and
reused by every further model, and a damaged copy of them costs a rebuild, not a failure."""

import pytest
from amaranth.back import verilog
from amaranth.hdl import Elaboratable, Module, Signal

from lutcore.sim import runner

pytestmark = pytest.mark.rtl


class Counter(Elaboratable):
    def __init__(self, width):
        self.count = Signal(width)

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.count.eq(self.count + 1)
        return m


def build(width):
    top = Counter(width)
    return runner.build_model(verilog.convert(top, name="counter", ports=[top.count]),
                              "counter", f"counter{width}")


def compiled_runtime(model) -> bool:
    """Whether the build compiled Verilator's runtime (its log names the make rule's source)."""
    return "verilated.cpp" in (model.build_dir / "build.log").read_text()


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(runner.BUILD_ENV, str(tmp_path))
    return tmp_path


def test_second_model_reuses_the_runtime_objects():
    """In the shared cache (whichever model built the runtime objects first); the slow test
    below starts from an empty cache."""
    first, second = build(4), build(5)
    assert not compiled_runtime(second)
    for model in (first, second):
        assert (model.build_dir / model.toplevel).is_file()
    assert list(runner.build_root().glob("sim/runtime-*/verilated.o"))


@pytest.mark.slow
def test_runtime_objects_compiled_once_and_rebuilt_when_damaged(fresh_cache):
    first, second = build(4), build(5)
    assert compiled_runtime(first) and not compiled_runtime(second)
    (kept,) = (fresh_cache / "sim").glob("runtime-*/verilated.o")
    kept.write_bytes(b"not an object file")
    model = build(6)
    assert compiled_runtime(model) and (model.build_dir / model.toplevel).is_file()
    # The cache holds a good copy again: the next model links with it.
    assert not compiled_runtime(build(7))
