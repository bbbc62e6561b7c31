"""Comparison baselines for the LUT core, synthesized next to it by :mod:`lutcore.studies.area`.

- :class:`MACCore`: dequantization MAC tensor core (weights widened to int8, int8 x int8
  multiplies, an adder tree per unit), the conventional tensor core of the LUT Tensor Core
  paper's comparison.
- :class:`FpMacCore`: the FP16 MAC tensor core (FP16 x FP16 multipliers, FP32 adder trees
  and accumulators), the baseline of the FP16-activation comparison; its accumulation and
  finalize are the FP LUT core's.
- :class:`AdderCore`: the "ADD" approach; ternary weights select ``+a / 0 / -a`` into an adder
  tree (one pass), or bit-serially one weight bit selects ``+a / -a`` per plane (B passes).

Both keep :class:`~lutcore.hw.lut_core.LutCore`'s tile (``m x n`` units, ``g`` activations
per step, so ``m * n * g`` weight-activation products per step), its ``sum_bits``
accumulators holding ``2 * O``, its step pipeline and its finalize/readout (see
:class:`.common.TileCore`). The unsymmetrized LUT variant is the LUT core itself built with
``symmetrize=False``.

:class:`AccumulatorArray` is that shared floor alone (terms supplied ready-made), to show how
much of every core is accumulation and readout rather than compute.
"""

from .adder import ADDER_MODES, AdderCore
from .common import Finalizer, TileCore
from .floor import AccumulatorArray
from .fp_mac import FpMacCore
from .mac import MACCore

__all__ = ["MACCore", "FpMacCore", "AdderCore", "AccumulatorArray", "ADDER_MODES", "TileCore", "Finalizer"]
