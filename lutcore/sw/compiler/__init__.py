"""Compiler: lowers ``O = A @ W.T`` (int8 activations, ternary or B-bit weights) of any shape
to LUT instructions and buffer images for one configuration and mode.

* :func:`compile_gemm` -> :class:`Program` (tiling, padding, weight encoding, buffer layout,
  instruction emission; :mod:`.lower`); :func:`compile_gemm_parts` -> programs over ranges
  of K whose images stay bounded, for any K,
* :class:`Program` / :class:`Phase` / :class:`Load`: the result, saved to and loaded from
  ``.npz``, disassembled, and gathered back into the output matrix (:mod:`.program`).

Buffer word packing is :mod:`lutcore.spec.words` (re-exported here), the assembler and
disassembler are those of :mod:`lutcore.spec.isa`; running a program is the host runtime's
job (:mod:`lutcore.host`) or the ISS's (:mod:`lutcore.sw.iss`).
"""

from .lower import (KSPLITS, MAX_IMAGE_BYTES, check_overflow, compile_gemm, compile_gemm_parts,
                    resolve_config, weight_params)
from .program import FORMAT, Load, Phase, Program
from ...spec.words import WordFormat, pack, unpack, word_format

__all__ = ["compile_gemm", "compile_gemm_parts", "MAX_IMAGE_BYTES", "KSPLITS", "check_overflow",
           "resolve_config", "weight_params", "Program", "Phase", "Load", "FORMAT", "WordFormat", "pack", "unpack", "word_format"]
