"""Adder plans for building one LUT table from g activations, one add or subtract per value.

A plan is a small dataflow graph. Operands are references:

- ``("zero",)``: the constant 0;
- ``("act", i, k)``: activation ``a_i`` scaled by ``2^k`` (a shift, no hardware);
- ``("node", j)``: the result of node ``j``.

Each :class:`Node` is exactly one adder or subtractor, ``lhs + rhs`` or ``lhs - rhs``. The
entries of the table are references into the graph. The gateware instantiates a plan once per
table row; this module is plain Python so that the construction can be checked exhaustively
without simulation (``evaluate``). The plans are part of the contract: with floating-point
activations each node is one rounded IEEE addition or subtraction, so the golden model
(:mod:`lutcore.sw.kernels.fp`) evaluates the same graph in the same order.

Bit-serial table (DESIGN §2.1, paper Eq. 6), ``T[v] = sum_i (2*v_i - 1) * a_i``:
the root entry (all index bits set) is a balanced adder tree over the g activations,
``g - 1`` adders. Every other entry ``v`` comes from its parent ``v | bit_i`` (i its lowest
clear bit) by subtracting ``2*a_i`` (flipping bit i from 1 to 0 turns ``+a_i`` into
``-a_i``). Symmetrized tables store ``v < 2^(g-1)``, whose top coefficient is -1:
``(g - 1) + (2^(g-1) - 1)`` adders (10 for g = 4, adder depth 5). Full tables
``(g - 1) + (2^g - 1)``: there ``T[0] = -T[root]`` is a second seed (one subtraction), and
entries nearer to it are built upwards by adding ``2*a_i``.

ELUT table (DESIGN §2.2), ``H[u] = sum_i d_i(u) * a_i`` with balanced-ternary digits:
``H[0] = 0``; an entry with one non-zero digit (necessarily +1, since u > 0) is an activation
itself; any other entry comes from the entry with its least significant non-zero digit ``d_k``
cleared, by one addition (``d_k = +1``) or subtraction (``d_k = -1``) of ``a_k``:
``(3^g + 1)/2 - 1 - g`` adders (10 for g = 3).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import numerics as nx

__all__ = ["Node", "TablePlan", "bitserial_plan", "elut_plan", "table_plans"]

ZERO = ("zero",)


def act(i: int, shift: int = 0) -> tuple:
    return ("act", i, shift)


def node(j: int) -> tuple:
    return ("node", j)


@dataclass(frozen=True)
class Node:
    """One adder (``op == "+"``) or subtractor (``op == "-"``): ``lhs op rhs``."""

    op: str
    lhs: tuple
    rhs: tuple


@dataclass(frozen=True)
class TablePlan:
    """A table construction: ``nodes`` in dependency order, ``entries`` as references.

    ``levels[j]`` is the adder depth of node j (inputs are depth 0); ``depth`` the largest.
    """

    group: int
    nodes: tuple[Node, ...]
    entries: tuple[tuple, ...]
    levels: tuple[int, ...]

    @property
    def adders(self) -> int:
        return len(self.nodes)

    @property
    def depth(self) -> int:
        return max(self.levels, default=0)

    def level_of(self, ref: tuple) -> int:
        return self.levels[ref[1]] if ref[0] == "node" else 0

    def evaluate(self, acts) -> list[int]:
        """Run the plan on ``group`` Python integers; returns the table entries."""
        values: list[int] = []

        def get(ref):
            if ref[0] == "zero":
                return 0
            if ref[0] == "act":
                return int(acts[ref[1]]) << ref[2]
            return values[ref[1]]

        for n in self.nodes:
            a, b = get(n.lhs), get(n.rhs)
            values.append(a + b if n.op == "+" else a - b)
        return [get(e) for e in self.entries]


class _Builder:
    def __init__(self):
        self.nodes: list[Node] = []
        self.levels: list[int] = []

    def level(self, ref) -> int:
        return self.levels[ref[1]] if ref[0] == "node" else 0

    def add(self, op, lhs, rhs) -> tuple:
        self.nodes.append(Node(op, lhs, rhs))
        self.levels.append(max(self.level(lhs), self.level(rhs)) + 1)
        return node(len(self.nodes) - 1)

    def signed_sum(self, terms: list[tuple[int, tuple]]) -> tuple:
        """Balanced tree of ``sum(sign * ref)``, one adder per pair; a pair with a negative
        term becomes a subtraction, so no separate negation is needed unless every term is
        negative."""
        while len(terms) > 1:
            paired = []
            for k in range(0, len(terms) - 1, 2):
                (sa, a), (sb, b) = terms[k], terms[k + 1]
                if sa > 0 and sb > 0:
                    paired.append((+1, self.add("+", a, b)))
                elif sa > 0:
                    paired.append((+1, self.add("-", a, b)))
                elif sb > 0:
                    paired.append((+1, self.add("-", b, a)))
                else:
                    paired.append((-1, self.add("+", a, b)))
            if len(terms) % 2:
                paired.append(terms[-1])
            terms = paired
        sign, ref = terms[0]
        return ref if sign > 0 else self.add("-", ZERO, ref)

    def plan(self, group, entries) -> TablePlan:
        return TablePlan(group, tuple(self.nodes), tuple(entries), tuple(self.levels))


def bitserial_plan(g: int, symmetrize: bool = True) -> TablePlan:
    """Plan of the bit-serial table: 2^(g-1) entries (symmetrized) or 2^g (full)."""
    if symmetrize:
        count, index_bits = nx.bitserial_entries(g), nx.bitserial_index_bits(g)
    else:
        count, index_bits = nx.bitserial_full_entries(g), g
    b = _Builder()
    root = count - 1                      # every index bit set: coefficient +1
    # Index bits set -> +a_i; a symmetrized table's implicit top bit is 0 -> -a_(g-1).
    terms = [(+1, act(i)) for i in range(index_bits)]
    terms += [(-1, act(i)) for i in range(index_bits, g)]
    refs: dict[int, tuple] = {root: b.signed_sum(terms)}
    if not symmetrize and count > 2:
        # A full table holds T[0] = -T[root] (symmetry), one subtraction: a second seed that
        # halves the longest chain. Each other entry hangs off the seed fewer bit flips away.
        # (A symmetrized table's H[0] is not -H[root]: its top coefficient is -1 in both.)
        refs[0] = b.add("-", ZERO, refs[root])

    def ones(v):
        return bin(v).count("1")

    def near_root(v):
        return 0 not in refs or index_bits - ones(v) <= ones(v)

    # Parents before children: entries in order of distance from their seed.
    order = sorted(range(count),
                   key=lambda v: index_bits - ones(v) if near_root(v) else ones(v))
    for v in order:
        if v in refs:
            continue
        if near_root(v):
            i = ((~v) & (v + 1)).bit_length() - 1      # lowest clear bit: set it -> parent
            refs[v] = b.add("-", refs[v | (1 << i)], act(i, 1))
        else:
            i = (v & -v).bit_length() - 1               # lowest set bit: clear it -> parent
            refs[v] = b.add("+", refs[v & ~(1 << i)], act(i, 1))
    return b.plan(g, [refs[v] for v in range(count)])


def elut_plan(g: int) -> TablePlan:
    """Plan of the ELUT table: (3^g + 1)/2 entries, digits d_0 (most significant) .. d_(g-1)."""
    count = nx.elut_entries(g)
    b = _Builder()
    refs: dict[int, tuple] = {0: ZERO}
    digits_of = {u: _balanced_ternary(u, g) for u in range(count)}
    # Parents (one non-zero digit fewer) before children.
    for u in sorted(range(1, count), key=lambda u: (sum(map(bool, digits_of[u])), u)):
        digits = digits_of[u]
        nonzero = [i for i, d in enumerate(digits) if d]
        k = nonzero[-1]                   # least significant non-zero digit
        if len(nonzero) == 1:
            refs[u] = act(k)              # the leading digit of u > 0 is +1
            continue
        parent = u - digits[k] * 3 ** (g - 1 - k)
        refs[u] = b.add("+" if digits[k] > 0 else "-", refs[parent], act(k))
    return b.plan(g, [refs[u] for u in range(count)])


def _balanced_ternary(u: int, g: int) -> list[int]:
    digits = [0] * g
    for i in range(g - 1, -1, -1):
        r = u % 3
        d = -1 if r == 2 else r
        digits[i] = d
        u = (u - d) // 3
    assert u == 0
    return digits


def table_plans(g: int, elut_g: int, symmetrize: bool = True) -> dict:
    """The plans a table unit builds, by :class:`~lutcore.spec.isa.Mode`: bit-serial always,
    ELUT when ``elut_g`` is not 0."""
    from .isa import Mode
    plans = {Mode.BITSERIAL: bitserial_plan(g, symmetrize)}
    if elut_g:
        plans[Mode.ELUT] = elut_plan(elut_g)
    return plans
