"""The committed digit classifier (examples/digits): its accuracy on the held-out split from
the integer path, a float64 forward written here from the documented layout (no loader, no
kernels), bit-identical logits on every backend, and every bad file in one line."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from lutcore.errors import LutcoreError, ModelError
from lutcore.models.classifier import DIGITS_MODEL, digits_split, load_classifier
from lutcore.spec.config import preset

_, _, X, Y = digits_split()
TARGET = 0.97


@pytest.fixture(scope="module")
def reference():
    with load_classifier(DIGITS_MODEL) as m:
        return m.logits(X)


def test_the_held_out_split_is_fixed_and_disjoint_from_training():
    x_train, _, x_test, y_test = digits_split()
    assert len(x_test) == 360 and len(x_train) == 1797 - 360
    assert np.bincount(y_test).min() >= 35                    # stratified: ~36 per class
    train_rows = {row.tobytes() for row in x_train}
    assert sum(row.tobytes() in train_rows for row in x_test) <= 2   # only duplicate images


def test_numpy_reaches_the_target_on_the_whole_held_out_split(reference):
    accuracy = np.mean(np.argmax(reference, axis=1) == Y)
    assert accuracy >= TARGET, accuracy


def float64_forward(root, images):
    """The classifier from its files and the documented architecture, in float64: unpack
    ``codes[i * ceil(N/4) + r] = ((packed[r] >> 2i) & 3) - 1``, RMSNorm, int8 absmax per
    row, the int64 product, ``y_int / (s * weight_scale)``, ReLU between layers."""
    cfg = json.loads((root / "config.json").read_text())
    tensors = load_file(str(root / "model.safetensors"))
    sizes, eps = cfg["sizes"], cfg["rms_norm_eps"]
    x = images.astype(np.float64)
    for i in range(len(sizes) - 1):
        packed = tensors[f"layers.{i}.linear.weight"]
        rows = packed.shape[0]
        codes = np.concatenate([((packed >> (2 * j)) & 3).astype(np.int64) - 1
                                for j in range(4)])[:sizes[i + 1]]
        assert codes.shape == (sizes[i + 1], sizes[i]) and codes.min() >= -1
        assert rows == -(-sizes[i + 1] // 4)
        h = x / np.sqrt(np.mean(x * x, axis=1, keepdims=True) + eps)
        h = h * tensors[f"layers.{i}.norm.weight"]
        s = 127 / np.maximum(np.abs(h).max(axis=1, keepdims=True), 1e-5)
        xq = np.clip(np.rint(h * s), -127, 127).astype(np.int64)
        x = (xq @ codes.T) / (s * float(tensors[f"layers.{i}.linear.weight_scale"][0]))
        if i < len(sizes) - 2:
            x = np.maximum(x, 0)
    return x


def test_logits_match_a_float64_forward_from_the_files(reference):
    want = float64_forward(DIGITS_MODEL, X)
    np.testing.assert_allclose(reference, want, rtol=0, atol=1e-3 * np.abs(want).max())
    # float32 may move a rounding boundary of an activation: nearly all predictions agree
    assert np.mean(np.argmax(reference, axis=1) == np.argmax(want, axis=1)) >= 0.99


def test_an_image_gets_the_same_logits_alone_or_in_a_batch(reference):
    with load_classifier(DIGITS_MODEL) as m:
        alone = np.concatenate([m.logits(X[i:i + 1]) for i in range(5)])
        assert m.stats.gemms == 5 * 3
    np.testing.assert_array_equal(alone, reference[:5])


@pytest.mark.parametrize("name, mode, count", [
    ("default", "elut", 360), ("default", "bitserial", 48),
    ("large", "elut", 48), ("tiny", "elut", 4), ("tiny", "bitserial", 4)])
def test_iss_logits_are_bit_identical_to_numpy(reference, name, mode, count):
    """Every preset runs the model; on default the whole held-out split."""
    with load_classifier(DIGITS_MODEL, backend="iss", mode=mode, config=preset(name)) as m:
        logits = m.logits(X[:count])
        assert m.stats.gemms == 3 and m.stats.cycles > 0
    np.testing.assert_array_equal(logits, reference[:count])


def test_uart_over_the_modelled_link_gives_the_same_logits(reference):
    """The uart backend through the link protocol (the bridge modelled in Python, the ISS
    behind it), one connection for every layer."""
    from lutcore.host.iss import AcceleratorModel
    from lutcore.link.client import ModelTransport
    cfg = preset("tiny")
    line = ModelTransport(AcceleratorModel(cfg), host_bits=cfg.host_bits)
    with load_classifier(DIGITS_MODEL, backend="uart", config=cfg, transport=line) as m:
        logits = m.logits(X[:1])
        assert m.stats.gemms == 3 and m.stats.cycles > 0
    np.testing.assert_array_equal(logits, reference[:1])


@pytest.mark.rtl
@pytest.mark.parametrize("count", [4, pytest.param(360, marks=pytest.mark.slow)])
def test_rtl_logits_are_bit_identical_to_numpy(model_of, reference, count):
    cfg = preset("tiny")
    model_of(cfg)
    with load_classifier(DIGITS_MODEL, backend="rtl", config=cfg) as m:
        logits = [m.logits(X[:min(count, 40)])]
        device = m.engine.device
        logits += [m.logits(X[b:min(count, b + 40)]) for b in range(40, count, 40)]
        assert m.engine.device is device and device.pid      # one simulation for every GEMM
        assert m.stats.gemms == 3 * len(logits)
    logits = np.concatenate(logits)
    np.testing.assert_array_equal(logits, reference[:count])
    if count == len(X):
        assert np.mean(np.argmax(logits, axis=1) == Y) >= TARGET


@pytest.fixture
def copy(tmp_path):
    root = tmp_path / "digits"
    shutil.copytree(DIGITS_MODEL, root)
    return root


def edit_tensors(root, change):
    tensors = load_file(str(root / "model.safetensors"))
    change(tensors)
    save_file(tensors, str(root / "model.safetensors"))


def edit_config(root, **fields):
    cfg = json.loads((root / "config.json").read_text())
    cfg.update(fields)
    (root / "config.json").write_text(json.dumps(cfg))


def _code3(t):
    t["layers.1.linear.weight"][2, 5] |= 0b11 << 4


@pytest.mark.parametrize("damage, message", [
    (lambda r: shutil.rmtree(r), "digits: no such file or directory"),
    (lambda r: (shutil.rmtree(r), r.write_text("")),
     "digits: a classifier is a directory with config.json and model.safetensors"),
    (lambda r: (r / "config.json").unlink(), "config.json: file not found"),
    (lambda r: (r / "config.json").write_text("{"), "config.json: not readable JSON"),
    (lambda r: edit_config(r, model_type="bitnet"),
     "model_type 'bitnet': a classifier is 'bitnet-mlp'"),
    (lambda r: edit_config(r, sizes=[64]), "config sizes = [64]: must be a list of at least"),
    (lambda r: edit_config(r, rms_norm_eps=0), "config rms_norm_eps = 0: must be a positive"),
    (lambda r: edit_config(r, hidden_act="gelu"), "config hidden_act 'gelu': only 'relu'"),
    (lambda r: edit_config(r, sizes=[64, 100, 128, 10]),
     "tensor layers.0.linear.weight has shape (32, 64): expected (25, 64)"),
    (lambda r: (r / "model.safetensors").unlink(), "no model.safetensors"),
    (lambda r: (r / "model.safetensors").write_bytes(
        (r / "model.safetensors").read_bytes()[:1000]), "not a readable safetensors file"),
    (lambda r: edit_tensors(r, lambda t: t.pop("layers.2.linear.weight_scale")),
     "tensor layers.2.linear.weight_scale is missing (packed projections need one)"),
    (lambda r: edit_tensors(r, lambda t: t.pop("layers.1.norm.weight")),
     "tensor layers.1.norm.weight is missing"),
    (lambda r: edit_tensors(r, _code3),
     "tensor layers.1.linear.weight: packed byte [2, 5] holds code 3 in bits 4..5"),
    (lambda r: edit_tensors(r, lambda t: t.update({
        "layers.0.linear.weight": t["layers.0.linear.weight"].astype(np.float32)})),
     "tensor layers.0.linear.weight has dtype F32: a packed checkpoint holds U8"),
    (lambda r: edit_tensors(r, lambda t: t.update({
        "layers.2.linear.weight_scale": np.array([-1.0], np.float32)})),
     "layers.2.linear.weight_scale = -1.0: must be positive"),
])
def test_a_bad_file_is_one_line(copy, damage, message):
    damage(copy)
    with pytest.raises(ModelError) as e:
        load_classifier(copy)
    assert message in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("images, message", [
    (np.zeros((2, 63), np.float32), "images must be a real array [B, 64] with B >= 1, got "
                                    "float32 shape (2, 63)"),
    (np.zeros((0, 64)), "shape (0, 64)"),
    (np.array([["a"] * 64]), "got <U1"),
    (np.full((1, 64), np.nan), "images contain NaN or infinity"),
])
def test_bad_images_are_one_line(images, message):
    with load_classifier(DIGITS_MODEL) as m, pytest.raises(ModelError) as e:
        m.logits(images)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_bad_backend_options_are_refused_before_loading(tmp_path):
    with pytest.raises(LutcoreError, match="mode 'int4': allowed bitserial, elut"):
        load_classifier(tmp_path / "nothing", mode="int4")
