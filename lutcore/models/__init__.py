"""Real models on the kit: BitNet b1.58 checkpoints loaded from their published formats
(Hugging Face safetensors, GGUF), a NumPy decoder whose every ternary linear layer runs on a
chosen backend (``numpy``, ``iss``, ``rtl``, ``uart``), tokenization and generation.

- :mod:`.checkpoint`: what every loader hands the model (config, tensors by name);
- :mod:`.hf`: the Hugging Face directory loader; :mod:`.gguf`: the GGUF loader;
- :mod:`.bitnet`: the decoder (RMSNorm, RoPE, GQA attention, KV cache, BitLinear layers);
- :mod:`.generate`: sampling; :mod:`.tokenizer`: tokenizers and prompt ids;
- :mod:`.loader`: :func:`load_model`, the one way in; :mod:`.cache`: the load cache;
- :mod:`.synthetic`: random checkpoints at real shapes; :mod:`.report`: compute- and
  memory-bound rates;
- :mod:`.classifier`: a ternary MLP classifier on the same machinery (the committed digit
  model); :mod:`.train_digits`: its quantization-aware training (PyTorch);
- :mod:`.train_lm`: trains the tiny example language model ``examples/tiny-lm`` (PyTorch,
  only for training).

Typical use::

    from lutcore.models import load_model
    with load_model("path/to/bitnet", backend="numpy", mode="elut") as m:
        logits = m.forward([1, 2, 3])             # float32 [3, vocab]
        new_ids = m.generate([1, 2, 3], 16)
"""

from .bitnet import BitNetModel
from .checkpoint import ModelConfig, Ternary
from .loader import FORMATS, load_model, open_checkpoint

__all__ = ["load_model", "open_checkpoint", "BitNetModel", "ModelConfig", "Ternary", "FORMATS"]
