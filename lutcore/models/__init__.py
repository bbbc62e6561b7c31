"""Real models on the kit: BitNet b1.58 checkpoints loaded from their published formats
(Hugging Face safetensors, GGUF), a NumPy decoder whose every ternary linear layer runs on a
chosen backend (``numpy``, ``iss``, ``rtl``, ``uart``), tokenization and generation.

- :mod:`.checkpoint`: what every loader hands the model (config, tensors by name);
- :mod:`.hf`: the Hugging Face directory loader; :mod:`.gguf`: the GGUF loader;
- :mod:`.bitnet`: the decoder (RMSNorm, RoPE, GQA attention, KV cache, BitLinear layers);
- :mod:`.generate`: sampling.
"""
