"""LUT tensor core kit: a parameterised LUT-based mixed-precision GEMM core for ternary and
low-bit LLM weights, with its golden model, compiler, simulators and FPGA flow."""

__version__ = "0.1.0"
