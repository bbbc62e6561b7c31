"""Constructor parameter checks shared by the gateware blocks.

The ranges are :data:`lutcore.spec.params.PARAMS`, the table :class:`~lutcore.spec.config.CoreConfig`
reads too, so that every block accepts
exactly what a configuration can describe. Messages are one line naming the block, the argument
and the bad value (DESIGN §5).
"""

from __future__ import annotations

from ..spec import numerics as nx
from ..errors import LutcoreError
from ..spec.params import PARAMS, check_param


def parameters(*names: str):
    """Class decorator: a read-only property for each constructor parameter in ``names``,
    returning the validated value the constructor kept as ``self._<name>`` (DESIGN §5:
    parameters are exposed as read-only properties)."""
    def decorate(cls):
        for name in names:
            prop = property(lambda self, _attr="_" + name: getattr(self, _attr),
                            doc=f"The ``{name}`` parameter (read-only).")
            setattr(cls, name, prop)
        return cls
    return decorate


def check_int(owner: str, name: str, value) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{owner}: {name} must be an integer, not {value!r}")
    return check_param(name, value, owner=owner)


def check_bool(owner: str, name: str, value) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{owner}: {name} must be True or False, not {value!r}")
    return value


#: Constructor parameters that are flags; every other one is an integer of PARAMS.
FLAGS = ("symmetrize", "negate_in_unit")


def keep(component, **values) -> None:
    """Check each constructor parameter of ``component`` in order (a flag of :data:`FLAGS`,
    else an integer in its PARAMS range; the first bad one raises) and keep it as
    ``component._<name>``, the attribute :func:`parameters` exposes."""
    owner = type(component).__name__
    for name, value in values.items():
        check = check_bool if name in FLAGS else check_int
        setattr(component, "_" + name, check(owner, name, value))


def check_acc_bits(owner: str, value, entry_bits: int, weight_bits: int) -> int:
    """acc_bits must hold a table entry shifted by the top plane (DESIGN §2.3, CoreConfig)."""
    check_int(owner, "acc_bits", value)
    low, hi = entry_bits + weight_bits, PARAMS["acc_bits"].hi
    if value < low:
        raise LutcoreError(f"{owner}: acc_bits = {value!r} is invalid: allowed {low}..{hi} "
                           f"(at least table_bits + weight_bits = {low})")
    return value


def correction_bits(weight_bits: int) -> int:
    """Signed width of the finalize constant c = 2^B - 1 - 2z over every B <= weight_bits and
    zero point z in [0, 2^B) (DESIGN §2.1)."""
    top = (1 << weight_bits) - 1
    hi = nx.correction_constant(weight_bits, 0)
    lo = nx.correction_constant(weight_bits, top)
    return nx.signed_bits(lo, hi)
