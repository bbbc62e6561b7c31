"""The training script of the digit classifier in a smoke run: a few steps lower the loss,
and what it writes is the packed layout the classifier loads, codes and scales equal to
the absmean quantization of the trained float weights."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lutcore.models.classifier import load_classifier
from lutcore.sw.kernels.bitnet import quantize_weights_absmean

torch = pytest.importorskip("torch")
train_digits = pytest.importorskip("lutcore.models.train_digits")


def test_a_few_steps_lower_the_loss():
    _, cfg, losses = train_digits.train(steps=40)
    assert cfg.sizes == (64, 128, 128, 10) and len(losses) == 40
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:5]), losses


def test_export_writes_the_quantized_weights(tmp_path):
    model, cfg, _ = train_digits.train(steps=3, hidden=(16, 8))
    train_digits.export(model, cfg, tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["sizes"] == [64, 16, 8, 10]
    with load_classifier(tmp_path) as m:
        for layer, proj in zip(model.layers, m.projections):
            codes, scale = quantize_weights_absmean(layer.weight.detach().numpy())
            np.testing.assert_array_equal(proj.packed.unpack(), codes)
            assert proj.scales[0] == pytest.approx(1 / scale, rel=1e-6)
            assert proj.scale_mode == "divide"


def test_main_in_smoke_mode_reports_the_accuracy_of_what_it_wrote(tmp_path, capsys):
    assert train_digits.main(["--steps", "5", "--out", str(tmp_path / "d")]) == 0
    out = capsys.readouterr().out
    assert "trained 5 steps" in out and "held-out accuracy (integer path, 360 images)" in out
