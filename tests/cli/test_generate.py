"""``lutcore generate`` and ``lutcore inspect`` run as a user runs them: tokens stream, the
same tokens on numpy and iss, the figures printed; every bad input is exit 2 and one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hfmodels import write_hf
from hypothesis import HealthCheck, given, settings, strategies as st
from tinymodels import MemoryCheckpoint, tiny_config, tiny_tensors

from lutcore.cli import main
from lutcore.models import load_model

CFG = tiny_config()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("models") / "tiny"
    return write_hf(root, CFG, tiny_tensors(CFG, 1, "divide"))


def streamed(out: str) -> str:
    """The generated text: the line before the speed line."""
    lines = out.splitlines()
    return lines[next(i for i, l in enumerate(lines) if " new tokens, prompt " in l) - 1]


def generate(capsys, *argv):
    status = main(["generate", *map(str, argv)])
    out = capsys.readouterr()
    return status, out.out, out.err


def test_generate_streams_the_tokens_the_api_generates(capsys, model_dir, tmp_path):
    logits = tmp_path / "logits.npy"
    status, out, err = generate(capsys, "--model", model_dir, "--prompt-ids", "1,7,9",
                                "--max-new-tokens", 5, "--no-eos", "--logits-out", logits)
    assert status == 0, err
    with load_model(model_dir) as m:
        rows: list = []
        want = m.generate([1, 7, 9], 5, stop_at_eos=False, logits_out=rows)
    assert streamed(out) == m.tokenizer.decode(want)
    np.testing.assert_array_equal(np.load(logits), np.stack(rows))
    assert "5 new tokens, prompt 3 tokens" in out


def test_generate_same_text_on_numpy_and_iss_with_cycle_figures(capsys, model_dir):
    texts = {}
    for backend in ("numpy", "iss"):
        status, out, err = generate(capsys, "--model", model_dir, "--prompt", "hello",
                                    "--max-new-tokens", 4, "--no-eos", "--backend", backend,
                                    "--preset", "tiny")
        assert status == 0, err
        texts[backend] = streamed(out)
    assert texts["numpy"] == texts["iss"] and len(texts["numpy"]) == 4   # one char per token
    assert "cycles: prefill" in out and "tokens/s at 12 MHz, icebreaker build clock" in out
    assert "the compute bound holds" in out or "the memory bound holds" in out


def test_inspect_reports_counts_derived_from_the_shapes(capsys, model_dir):
    assert main(["inspect", "--model", str(model_dir)]) == 0
    out = capsys.readouterr().out
    h, i, kv, layers = 32, 45, 16, 2
    ternary = layers * (2 * h * h + 2 * kv * h + 3 * i * h)      # q, o; k, v; gate, up, down
    floats = 97 * h + layers * (3 * h + i) + h
    assert f"parameters {ternary + floats:,}: ternary {ternary:,}" in out
    assert "hf-packed" in out and "gate_proj 45x32" in out and "tokenizer: yes" in out


@pytest.mark.parametrize("argv, message", [
    (["--prompt-ids", "1,x"], "--prompt-ids '1,x': expected comma-separated integer token ids"),
    (["--prompt-ids", "1,200"], "token id 200 at position 1 is out of range"),
    (["--prompt-ids", ",".join(["1"] * 70)], "70 tokens exceed max_position_embeddings 64"),
    (["--prompt-ids", "1", "--temperature", "-2"], "temperature -2.0: must be a finite number"),
    (["--prompt-ids", "1", "--port", "/dev/ttyUSB0"], "--port is only used by --backend uart"),
    (["--prompt-ids", "1", "--mode", "elut", "--preset", "tiny", "--backend", "iss",
      "--max-new-tokens", "-1"], "-1 is out of range: allowed >= 0"),
])
def test_bad_arguments_are_one_line(capsys, model_dir, argv, message):
    status, _, err = generate(capsys, "--model", model_dir, *argv)
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_missing_model_and_no_tokenizer_are_one_line(capsys, tmp_path):
    status, _, err = generate(capsys, "--model", tmp_path / "none", "--prompt", "hi")
    assert status == 2 and "none: no such file or directory" in err
    root = write_hf(tmp_path / "notok", CFG, tiny_tensors(CFG, 1, "divide"), tokenizer=False)
    status, _, err = generate(capsys, "--model", root, "--prompt", "hi")
    assert status == 2 and "--prompt needs a tokenizer" in err and "give --prompt-ids" in err
    status, _, err = generate(capsys, "--model", root, "--prompt-ids", "1")
    assert status == 0, err


def test_the_memory_checkpoint_helper_agrees_with_the_file(model_dir):
    # the fixture directory and the in-memory tensors give the same model (sanity of the
    # fixtures the CLI tests rest on)
    with load_model(model_dir) as a:
        assert a.config == CFG
    with load_model(MemoryCheckpoint(CFG, tiny_tensors(CFG, 1, "divide"))) as b:
        assert b.config == CFG


# capsys is read (and so emptied) after every example: one fixture serves them all.
FUZZ = settings(max_examples=30, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def _damaged_run(capsys, root: Path, file: str, data: bytes, cut: int | None, flips) -> None:
    target = root / file
    damaged = bytearray(data if cut is None else data[:cut])
    for pos, bit in flips:
        if damaged:
            damaged[pos % len(damaged)] ^= 1 << bit
    target.write_bytes(bytes(damaged))
    model = root if target.suffix == ".safetensors" else target
    status, _, err = generate(capsys, "--model", model, "--prompt-ids", "1,2",
                              "--max-new-tokens", 1)
    assert status in (0, 2), err
    if status == 2:
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


@pytest.mark.parametrize("fmt", ["hf", "gguf"])
@FUZZ
@given(cut=st.one_of(st.none(), st.integers(0, 400_000)),
       flips=st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 7)), max_size=4))
def test_damaged_model_file_is_refused_in_one_line_or_runs(capsys, request, fmt, cut, flips):
    root, file, data = request.getfixturevalue(f"fuzz_{fmt}")
    _damaged_run(capsys, root, file, data, cut, flips)


@pytest.fixture(scope="module")
def fuzz_hf(tmp_path_factory):
    root = write_hf(tmp_path_factory.mktemp("fuzz") / "m", CFG, tiny_tensors(CFG, 1, "divide"))
    return root, "model.safetensors", (root / "model.safetensors").read_bytes()


@pytest.fixture(scope="module")
def fuzz_gguf(tmp_path_factory):
    from ggufmodels import GGUF_TINY, write_gguf
    cfg = tiny_config(**GGUF_TINY)
    root = tmp_path_factory.mktemp("fuzz")
    write_gguf(root / "m.gguf", cfg, tiny_tensors(cfg, 1), "TQ2_0")
    return root, "m.gguf", (root / "m.gguf").read_bytes()
