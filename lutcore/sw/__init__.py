"""Software side of the kit, written from the arithmetic (DESIGN §2), never from the RTL: it
imports :mod:`lutcore.spec` and never :mod:`lutcore.hw`.

- :mod:`.kernels`: the golden model, which is also the host CPU path (bit-exact NumPy
  kernels: tables, weight packing, ``lut_gemm``, BitNet quantization);
- :mod:`.compiler`: lowers a GEMM of any shape to a :class:`~lutcore.sw.compiler.Program`
  (instructions and buffer images, phase by phase);
- :mod:`.iss`: the instruction-set simulator, which executes programs with the kernels and
  counts cycles with the timing contract.
"""
