"""``Program.load``: every damaged or inconsistent program file is refused in one line, a
valid one loads read-only and still gives the exact answer; the useful-work utilization a
program reports, from counts derived by hand."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from lutcore.errors import LutcoreError
from lutcore.sw.compiler import Program, compile_gemm
from lutcore.host import run_program
from lutcore.spec.config import preset

RNG = np.random.default_rng(11)
A = RNG.integers(-128, 128, (3, 40))
W = RNG.integers(-1, 2, (5, 40))


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A tiny-preset program file (3 x 5 output, M below two row blocks) and its arrays."""
    path = tmp_path_factory.mktemp("prog") / "p.npz"
    compile_gemm(A, W, config="tiny").save(path)
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    return path, arrays


def test_round_trip_is_exact_and_read_only(saved):
    program = Program.load(saved[0])
    np.testing.assert_array_equal(run_program(program).output, A @ W.T)
    arrays = [*program.images, *(p.instructions for p in program.phases),
              *(p.reads for p in program.phases)]
    for x in arrays:
        assert not x.flags.writeable
        with pytest.raises(ValueError):
            x.setflags(write=True)


def _archive(arrays: dict, **changes) -> bytes:
    arrays = {**arrays, **changes}
    buf = io.BytesIO()
    np.savez_compressed(buf, **{k: v for k, v in arrays.items() if v is not None})
    return buf.getvalue()


def _header(arrays, **fields) -> np.ndarray:
    header = json.loads(str(arrays["header"]))
    header.update(fields)
    return np.array(json.dumps(header))


def _shifted(x, index, delta):
    x = x.copy()
    x[index] += delta
    return x


# (id, archive from the valid arrays, expected message after "program file 'PATH'")
CASES = [
    ("truncated", lambda a, b: b[:len(b) // 2], " is not a readable .npz program: BadZipFile"),
    ("not zip", lambda a, b: b"\x93NUMPY" + b[6:], " is not an .npz archive written by"),
    ("header list", lambda a, b: _archive(a, header=np.array("[1, 2]")),
     ": header is a JSON list: allowed an object"),
    ("header not json", lambda a, b: _archive(a, header=np.array("{")), ": header is not JSON"),
    ("header numeric", lambda a, b: _archive(a, header=np.zeros(())),
     ": array 'header' is float64 shape (): allowed a string, a scalar"),
    ("header mode", lambda a, b: _archive(a, header=_header(a, mode=3)),
     ": header field 'mode' is int: allowed a JSON string"),
    ("format", lambda a, b: _archive(a, header=_header(a, format="x")),
     " has format 'x': expected 'lutcore-program/1'"),
    ("more rows", lambda a, b: _archive(a, header=_header(a, shape=[4, 5, 40])),
     ": no read gives output element [3, 0] of the header's shape M=4 N=5: the header and "
     "the reads disagree"),
    ("fewer rows", lambda a, b: _archive(a, header=_header(a, shape=[2, 5, 40])),
     ": phase 0 reads row 2: allowed 0..1"),
    ("bad shape", lambda a, b: _archive(a, header=_header(a, shape=[3, 0, 40])),
     ": shape [3, 0, 40] is invalid: allowed [M, N, K] of positive integers"),
    ("config", lambda a, b: _archive(a, header=_header(a, config={"m": 0})),
     " header 'config': config field 'm' = 0 is invalid"),
    ("rank", lambda a, b: _archive(a, reads=a["reads"].ravel()),
     ": array 'reads' is int64 shape"),
    ("dtype", lambda a, b: _archive(a, instructions=a["instructions"].astype(np.float64)),
     ": array 'instructions' is float64"),
    ("offsets", lambda a, b: _archive(a, instruction_offsets=_shifted(
        a["instruction_offsets"], -1, 1)), ": instruction_offsets = [0, "),
    ("image index", lambda a, b: _archive(a, loads=_shifted(a["loads"], (0, 2), 99)),
     ": phase 0 loads image 99: allowed 0..1"),
    ("load address", lambda a, b: _archive(a, loads=_shifted(a["loads"], (0, 1), 1 << 20)),
     ": phase 0 loads"),
    ("region", lambda a, b: _archive(a, loads=_shifted(a["loads"], (0, 0), 7)),
     ": phase 0 loads region"),
    ("read column", lambda a, b: _archive(a, reads=_shifted(a["reads"], (0, 2), 5)),
     ": phase 0 reads column 5: allowed 0..4"),
    ("instruction", lambda a, b: _archive(a, instructions=_shifted(
        a["instructions"], 0, np.uint64(0xfff00000))), ": phase 0: instruction 0 ("),
    ("missing", lambda a, b: _archive(a, reads=None), " lacks array(s) reads"),
    ("extra", lambda a, b: _archive(a, x=np.zeros(3)), " holds an unknown array 'x'"),
    ("image gap", lambda a, b: _archive(a, image_5=a["image_0"]),
     ": images are not numbered 0..2"),
]


@pytest.mark.parametrize("corrupt,message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_corrupt_files_are_refused(saved, tmp_path, corrupt, message):
    path, arrays = saved
    bad = tmp_path / "bad.npz"
    bad.write_bytes(corrupt(arrays, path.read_bytes()))
    with pytest.raises(LutcoreError) as e:
        Program.load(bad)
    text = str(e.value)
    assert "\n" not in text
    assert text.startswith(f"program file '{bad}'{message}")


def test_missing_and_wrong_kind_of_file(tmp_path):
    with pytest.raises(LutcoreError, match="does not exist"):
        Program.load(tmp_path / "missing.npz")
    with pytest.raises(LutcoreError, match="is a directory"):
        Program.load(tmp_path)
    np.save(tmp_path / "a.npy", np.zeros(3))
    with pytest.raises(LutcoreError, match="not an .npz archive"):
        Program.load(tmp_path / "a.npy")


@pytest.mark.parametrize("m_rows,useful_share", [(1, 0.5), (2, 1.0), (3, 0.75)])
def test_useful_utilization_counts_padding_rows_out(m_rows, useful_share):
    # default: m = 2 rows x n = 64 columns, g = 4, ternary bit-serial = 2 planes. N = 64 and
    # K = 256 fill the columns and the groups; M rows use M of the 2 * ceil(M / 2) array rows:
    # M = 1 half, M = 2 all, M = 3 three quarters.
    config = preset("default")
    rng = np.random.default_rng(m_rows)
    a = rng.integers(-128, 128, (m_rows, 256))
    w = rng.integers(-1, 2, (64, 256))
    program = compile_gemm(a, w, config=config, mode="bitserial")
    s = program.summary()
    assert s["useful_lookups"] == m_rows * 64 * (256 // 4) * 2
    assert s["useful_utilization"] == pytest.approx(useful_share * s["utilization"], rel=1e-12)
    run = run_program(program)
    assert run.useful_utilization == pytest.approx(s["useful_utilization"], rel=1e-12)


@pytest.mark.parametrize("name,mode,shape", [("tiny", "elut", (3, 9, 1100)),
                                              ("default", "bitserial", (2, 70, 300))])
def test_host_port_words_are_what_the_runtime_moves(name, mode, shape):
    # The runtime's own count (each phase record: its host writes and output words read),
    # against the program's; CSR reads (5 a phase) are not in the records.
    m, n, k = shape
    rng = np.random.default_rng(k)
    program = compile_gemm(rng.integers(-128, 128, (m, k)), rng.integers(-1, 2, (n, k)),
                           config=name, mode=mode)
    run = run_program(program)
    port = program.host_port_words()
    assert port["writes"] == sum(p.writes for p in run.phases)
    assert port["reads"] == sum(p.reads for p in run.phases) + 5 * len(program.phases)
