"""The committed tiny BitNet language model (examples/tiny-lm) and its training script
(lutcore/models/train_lm.py): the loader reads exactly the committed files, the model runs
the architecture (a float64 forward written from it) and has learnt something, numpy, iss
and rtl give identical tokens, the float QAT forward agrees with the integer path, and the
training script in a smoke mode lowers the loss and exports a model that loads."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from tinymodels import reference_logits

from lutcore.models import load_model, open_checkpoint
from lutcore.models.checkpoint import NORMS, PROJECTIONS, ModelConfig, Ternary, layer_name
from lutcore.spec.config import preset

MODEL = Path(__file__).resolve().parents[2] / "examples" / "tiny-lm"
FILES = ["README.md", "config.json", "model.safetensors", "tokenizer.json"]
#: A sentence of the held-out text (the Apache License 2.0 appendix), never trained on.
HELDOUT = ('Licensed under the Apache License, Version 2.0 (the "License"); you may not use '
           'this file except in compliance with the License.')
PROMPT = "This License"


def encode(text: str) -> list[int]:
    with load_model(MODEL) as m:
        return m.tokenizer.encode(text).ids


def perplexity(logits: np.ndarray, ids: list[int]) -> float:
    """exp of the mean next-token negative log-likelihood, in float64."""
    x = logits.astype(np.float64)
    x = x - x.max(-1, keepdims=True)
    logp = x - np.log(np.exp(x).sum(-1, keepdims=True))
    return math.exp(-logp[np.arange(len(ids) - 1), ids[1:]].mean())


def assert_close_to_float(logits: np.ndarray, ref: np.ndarray) -> None:
    """The integer path against the float QAT forward (PyTorch, float32): equal up to
    rounding. An activation that lands on a .5 boundary in one and not the other moves by one
    int8 step, so a few logits may differ by up to 1% of the largest; the rest agree to
    float32 rounding."""
    diff = np.abs(logits - ref)
    top = np.abs(ref).max()
    assert diff.max() < 1e-2 * top and np.median(diff) < 1e-4 * top


def unpack_by_hand(packed: np.ndarray, n: int) -> np.ndarray:
    """The HF layout from its definition: original row j is packed row j % rows, bits
    2 * (j // rows) .. +1, as w + 1."""
    rows = packed.shape[0]
    out = np.empty((n, packed.shape[1]), np.int64)
    for j in range(n):
        out[j] = ((packed[j % rows].astype(np.int64) >> (2 * (j // rows))) & 3) - 1
    return out


def test_the_loader_reads_exactly_the_committed_files():
    from safetensors.numpy import load_file
    assert sorted(p.name for p in MODEL.iterdir()) == FILES
    assert sum((MODEL / f).stat().st_size for f in FILES) < 5 * 2**20
    raw_cfg = json.loads((MODEL / "config.json").read_text())
    assert raw_cfg["model_type"] == "bitnet"
    assert raw_cfg["quantization_config"]["linear_class"] == "bitlinear"
    ck = open_checkpoint(MODEL)
    cfg = ck.config
    assert ck.format == "hf-packed" and ck.weight_scale == "divide"
    assert cfg == ModelConfig.from_dict(raw_cfg)
    assert cfg.num_key_value_heads < cfg.num_attention_heads and cfg.tie_word_embeddings
    raw = load_file(str(MODEL / "model.safetensors"))
    names = {"model.embed_tokens.weight", "model.norm.weight"}
    for i in range(cfg.num_hidden_layers):
        names |= {layer_name(i, n) + ".weight" for n in NORMS}
        names |= {layer_name(i, p) + s for p in PROJECTIONS for s in (".weight",
                                                                       ".weight_scale")}
    assert set(raw) == names                      # nothing in the file goes unread
    seen = 0
    for name, value in ck.tensors():
        if isinstance(value, Ternary):
            n = value.codes.shape[0]
            np.testing.assert_array_equal(value.codes, unpack_by_hand(raw[name + ".weight"], n))
            assert value.scale == float(raw[name + ".weight_scale"][0])
            assert value.scale_mode == "divide"
            seen += 2
        else:
            np.testing.assert_array_equal(value, raw[name])
            seen += 1
    assert seen == len(names)
    file_vocab = json.loads((MODEL / "tokenizer.json").read_text())["model"]["vocab"]
    assert ck.tokenizer.get_vocab() == file_vocab and len(file_vocab) == cfg.vocab_size


def test_the_committed_model_runs_the_architecture_and_predicts_held_out_text():
    ids = encode(HELDOUT)
    assert len(ids) == len(HELDOUT)               # one token per character, no <unk>
    ck = open_checkpoint(MODEL)
    tensors = dict(ck.tensors())
    with load_model(MODEL) as m:
        logits = m.forward(ids)
        assert m.tokenizer.decode(ids) == HELDOUT
    ref = reference_logits(ck.config, tensors, ids)
    # float32 against float64; an activation rounding at a .5 boundary may differ, so a
    # looser bound than the random-model test, and the same predictions almost everywhere.
    assert np.abs(logits - ref).max() < 1e-3 * np.abs(ref).max()
    assert (logits.argmax(-1) == ref.argmax(-1)).mean() > 0.97
    # uniform guessing is 99, a character unigram model from the training text 26; the model
    # must do far better on text it never saw
    assert perplexity(logits, ids) < 6


def generate(backend, config="default", n=6, prompt=PROMPT, **sampling):
    ids = encode(prompt)
    rows: list = []
    with load_model(MODEL, backend=backend, config=config) as m:
        new = m.generate(ids, n, stop_at_eos=False, logits_out=rows, **sampling)
    return new, np.stack(rows)


def test_numpy_and_iss_give_identical_tokens():
    sampling = dict(temperature=0.8, top_k=8, seed=11)
    new, logits = generate("numpy", **sampling)
    new_iss, logits_iss = generate("iss", **sampling)
    assert new_iss == new and len(new) == 6
    np.testing.assert_array_equal(logits_iss, logits)


@pytest.mark.rtl
def test_rtl_gives_the_same_tokens(model_of):
    cfg = preset("tiny")                          # acc_bits 24 holds 127 * K for every K
    model_of(cfg)
    new, logits = generate("numpy", cfg, n=2, prompt=PROMPT[:2])
    new_rtl, logits_rtl = generate("rtl", cfg, n=2, prompt=PROMPT[:2])
    assert new_rtl == new
    np.testing.assert_array_equal(logits_rtl, logits)


def test_float_qat_forward_agrees_with_the_integer_path():
    torch = pytest.importorskip("torch")
    from lutcore.models.train_lm import load_network
    ids = encode(HELDOUT)
    net, _ = load_network(MODEL)
    with torch.no_grad():
        ref = net(torch.tensor([ids]))[0].numpy()
    with load_model(MODEL) as m:
        logits = m.forward(ids)
    assert_close_to_float(logits, ref)
    assert perplexity(logits, ids) == pytest.approx(perplexity(ref, ids), rel=1e-4)


def test_training_smoke_lowers_the_loss_and_exports_a_loadable_model(tmp_path):
    torch = pytest.importorskip("torch")
    from lutcore.models import train_lm as t
    if not all((t.CORPUS_DIR / f).exists() for f in ("BSD", "CC0-1.0")):
        pytest.skip(f"no Debian licence texts in {t.CORPUS_DIR}")
    tok = t.build_tokenizer()
    text, sources = t.read_corpus(["BSD", "CC0-1.0"])
    ids = t.encode(tok, text)
    assert len(sources) == 2 and ids.size == len(text)
    net, history = t.train(t.SMOKE, ids, log=lambda line: None)
    losses = [h[1] for h in history]
    assert len(losses) == t.SMOKE.steps
    assert np.mean(losses[-5:]) < np.mean(losses[:5]) - 0.5, losses
    t.export(net, t.SMOKE.model_config(), tok, tmp_path)
    frozen, _ = t.load_network(tmp_path)
    with torch.no_grad():
        ref = frozen(torch.from_numpy(ids[None, :24]))[0].numpy()
    with load_model(tmp_path) as m:
        logits = m.forward(ids[:24])
    assert_close_to_float(logits, ref)
