"""Every parameter range of the project, in one table.

:class:`~lutcore.spec.config.CoreConfig`, the gateware blocks' constructor checks, the
baselines, the golden kernels' validators and the design-space exploration all read
:data:`PARAMS`; none of them spells a range of its own. A range is ``lo..hi``, optionally
powers of two only, optionally with extra allowed values (``elut_g = 0`` turns ELUT off).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import LutcoreError

__all__ = ["Range", "PARAMS", "check_param"]


@dataclass(frozen=True)
class Range:
    """Allowed integer values: ``lo..hi`` (powers of two only if ``pow2``) plus ``extra``,
    or exactly ``choices`` when given."""

    lo: int
    hi: int
    doc: str
    pow2: bool = False
    extra: tuple[int, ...] = ()
    choices: tuple[int, ...] = ()

    def __contains__(self, value) -> bool:
        if isinstance(value, bool) or not isinstance(value, int):
            return False
        if self.choices:
            return value in self.choices
        if value in self.extra:
            return True
        if self.pow2 and (value <= 0 or value & (value - 1)):
            return False
        return self.lo <= value <= self.hi

    @property
    def values(self) -> range | tuple[int, ...]:
        """Every allowed value, in order."""
        if self.choices:
            return self.choices
        body = [v for v in range(self.lo, self.hi + 1) if not self.pow2 or not v & (v - 1)]
        return tuple(sorted({*self.extra, *body}))

    @property
    def allowed(self) -> str:
        """What a message says is allowed: '1..16', '0 (off) or 2..5', ..."""
        if self.choices:
            return ", ".join(map(str, self.choices))
        span = f"{'a power of two in ' if self.pow2 else ''}{self.lo}..{self.hi}"
        if self.extra:
            return " or ".join([*(f"{v} (off)" for v in self.extra), span])
        return span


#: Every integer parameter: the configuration's fields, the gateware blocks' own arguments,
#: the baselines' wider ones and the golden model's.
PARAMS: dict[str, Range] = {
    # CoreConfig fields (and the gateware blocks that take them)
    "m": Range(1, 16, "tile rows"),
    "n": Range(1, 512, "tile columns (LUT units per row)"),
    "g": Range(2, 6, "bit-serial group size"),
    "weight_bits": Range(1, 4, "weight bit planes B"),
    "act_bits": Range(2, 16, "signed activation width"),
    "acc_bits": Range(2, 48, "signed output width (at least table_bits + weight_bits)"),
    "elut_g": Range(2, 5, "ELUT group size", extra=(0,)),
    "depth": Range(2, 65536, "buffer depth in words", pow2=True),
    "host_bits": Range(8, 64, "host port word width", choices=(8, 16, 32, 64)),
    # gateware-only arguments
    "stage_levels": Range(1, 16, "chained adders per table-unit pipeline stage"),
    "broadcast_cols": Range(1, 512, "LUT-core columns per broadcast copy"),
    "beats": Range(1, 512, "output beats per row"),
    "lookups": Range(1, 8, "LUT-core table lookups per unit per step (L, K = g x L)"),
    # baselines (MAC and adder tiles reach past the LUT core's ranges for the area study)
    "baseline_g": Range(1, 64, "weights per baseline unit (K of a MAC unit)"),
    "baseline_weight_bits": Range(1, 8, "weight width of a baseline tile"),
    "datapath_bits": Range(2, 16, "multiplier operand width"),
    "term_bits": Range(2, 32, "width of one accumulated term"),
    # golden model: int64 arithmetic wraps at the end, so 2^acc_bits must fit int64
    "kernel_acc_bits": Range(2, 62, "golden-model output width"),
}


def check_param(name: str, value, *, key: str | None = None, owner: str | None = None,
                lo: int | None = None) -> int:
    """``value`` if it is allowed for parameter ``key`` (default ``name``) of :data:`PARAMS`;
    else a one-line :class:`LutcoreError` naming ``owner``, the argument and the bad value.
    ``lo`` raises the lower bound (for bounds that depend on other parameters)."""
    spec = PARAMS[key or name]
    if lo is not None and lo > spec.lo:
        spec = Range(lo, spec.hi, spec.doc, spec.pow2, spec.extra, spec.choices)
    if value not in spec:
        prefix = f"{owner}: " if owner else ""
        if isinstance(value, bool) or not isinstance(value, int):
            raise LutcoreError(f"{prefix}{name} = {value!r} is invalid: must be an integer, "
                               f"allowed {spec.allowed}")
        raise LutcoreError(f"{prefix}{name} = {value!r} is invalid: allowed {spec.allowed}")
    return value
