"""``load_model`` over every supported format: one model's weights written as a packed and a
bf16 Hugging Face directory and as GGUF TQ1_0, TQ2_0 and I2_S files run to the same logits
(where the formats store the same scales) and the same tokens on numpy and iss."""

from __future__ import annotations

import numpy as np
import pytest
from ggufmodels import GGUF_TINY, write_gguf
from hfmodels import bf16_values, write_hf
from tinymodels import MemoryCheckpoint, tiny_config, tiny_tensors

from lutcore.errors import ModelError
from lutcore.models import load_model, open_checkpoint
from lutcore.models.checkpoint import Ternary

# TQ formats need rows that are whole 256-element blocks.
CFG = tiny_config(**GGUF_TINY)
IDS = [1, 50, 3, 77, 20]


def f16_scaled(t: dict) -> dict:
    """The tensors with every scale rounded to f16, as TQ blocks store it."""
    return {k: (Ternary(v.codes, float(np.float16(v.scale)), v.scale_mode)
                if isinstance(v, Ternary) else v) for k, v in t.items()}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("formats")
    t = f16_scaled(tiny_tensors(CFG, 8, "multiply"))
    paths = {"hf-packed": write_hf(root / "hf", CFG, t, linear_class="autobitlinear")}
    for q in ("TQ1_0", "TQ2_0", "I2_S"):
        write_gguf(root / f"m-{q}.gguf", CFG, t, q)
        paths[f"gguf-{q}"] = root / f"m-{q}.gguf"
    return t, paths


def test_every_format_gives_the_logits_of_the_tensors_it_holds(files):
    t, paths = files
    # the HF file holds the float tensors (and its scales) as bf16; GGUF as f32
    held = {"hf": {k: (Ternary(v.codes, float(bf16_values(v.scale)), v.scale_mode)
                       if isinstance(v, Ternary) else bf16_values(v).astype(np.float32))
                   for k, v in t.items()},
            "gguf": t}
    want = {}
    for kind, tensors in held.items():
        with load_model(MemoryCheckpoint(CFG, tensors)) as ref:
            want[kind] = ref.forward(IDS)
    for fmt, path in paths.items():
        with load_model(path) as m:
            assert m.format == fmt
            np.testing.assert_array_equal(m.forward(IDS), want[fmt.split("-")[0]],
                                          err_msg=fmt)


@pytest.mark.parametrize("fmt", ["hf-packed", "gguf-TQ2_0", "gguf-I2_S", "gguf-TQ1_0"])
def test_numpy_and_iss_generate_the_same_tokens_from_each_format(files, fmt):
    _, paths = files
    out = {}
    for backend in ("numpy", "iss"):
        with load_model(paths[fmt], backend=backend, mode="elut") as m:
            out[backend] = m.generate(IDS[:3], 3, stop_at_eos=False)
    assert out["numpy"] == out["iss"]


def test_unknown_file_kinds_are_refused_by_name(tmp_path):
    p = tmp_path / "weights.bin"
    p.write_bytes(b"\0" * 8)
    with pytest.raises(ModelError, match="not a model: expected a Hugging Face directory"):
        open_checkpoint(p)
