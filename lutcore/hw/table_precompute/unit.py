"""Table precompute unit: activation-buffer word in, table-buffer word out, one per cycle."""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .. import _params as P
from ..layouts import Mode, TableGeometry, activation_word_layout, table_word_layout
from ...spec.table_plan import TablePlan, table_plans

__all__ = ["TablePrecompute"]


@P.parameters("m", "g", "elut_g", "act_bits", "symmetrize", "stage_levels", "lookups")
class TablePrecompute(wiring.Component):
    """Builds the ``m * lookups`` LUT tables of one step from its activations (DESIGN §2.1,
    §2.2): tile row r's tables of the step's ``lookups`` K groups are rows ``r * lookups + l``.

    For every row r of the activation word it produces, according to the word's ``mode``:

    - ``BITSERIAL``: the symmetrized bit-serial table ``H[u] = T[u]``, ``u < 2^(g-1)``, of
      paper Eq. 6 (``T[v] = sum_i (2*v_i - 1) * a_i``), or with ``symmetrize=False`` the full
      ``2^g``-entry table ``T``;
    - ``ELUT`` (only when ``elut_g != 0``): the ternary table ``H[u] = sum_i d_i(u) * a_i``,
      ``(3^elut_g + 1)/2`` entries, ``d(u)`` the balanced-ternary digits of u.

    Entries past the mode's table size are 0, as are all entries of an ``ELUT`` word on a
    build without the ELUT mode. Activation slots past the mode's group size are ignored.

    Construction: no adder tree per entry. Each table starts from one adder tree over the
    group (``group - 1`` adders) and derives every further entry from an already built one
    with a single adder or subtractor (see :mod:`.plan`). Adders per table row (both modes
    are built side by side and ``mode`` selects at the output):

    - bit-serial, symmetrized: ``(g-1) + (2^(g-1) - 1)``, 10 for g = 4 (adder depth 5);
    - bit-serial, full (``symmetrize=False``): ``(g-1) + (2^g - 1)``, 18 for g = 4 (depth 4);
    - ELUT: ``(3^elut_g + 1)/2 - 1 - elut_g``, 10 for elut_g = 3 (depth 2).

    :attr:`adders` gives the numbers of an instance; the unit has :attr:`rows` times that.

    Pipeline: the adder graph is cut into :attr:`latency` ``= ceil(depth / stage_levels)``
    register stages of at most ``stage_levels`` chained adders each (the mode multiplexer
    shares the last stage): 3 for the default preset. A word accepted on ``activations`` in
    cycle t is offered on ``tables`` in cycle ``t + latency``; with ``tables.ready`` held high
    one word is accepted every cycle with no bubbles. Each stage holds its word while the next
    one is full, so idle slots collapse and backpressure reaches ``activations.ready`` only
    when every stage is occupied.

    Parameters
    ----------
    m : int
        Tile rows, 1..16.
    lookups : int
        K groups per step, 1..8 (``CoreConfig.lookups``): a word holds ``m * lookups`` rows.
    g : int
        Bit-serial group size, 2..6.
    elut_g : int
        ELUT group size 2..5, or 0 to build without the ELUT mode.
    act_bits : int
        Signed activation width, 2..16.
    symmetrize : bool
        Build half tables (paper Eq. 6) rather than full ``2^g``-entry tables.
    stage_levels : int
        Chained adders between two pipeline registers (1..16); fewer means a shorter clock
        period and a longer :attr:`latency`.
    src_loc_at : int
        Stack frames to skip when Amaranth records where the unit was created.

    Members
    -------
    activations : ``In(stream.Signature(activation_layout))``
        ``word``: one activation-buffer word (``docs/architecture.md``); ``mode``: :class:`Mode`.
    tables : ``Out(stream.Signature(table_layout))``
        ``word``: one table-buffer word; ``mode``: the mode of the word it was built from.

    Raises ``TypeError`` for a parameter of the wrong type and :class:`LutcoreError` for one
    out of range.
    """

    def __init__(self, *, m: int, g: int, elut_g: int, act_bits: int,
                 symmetrize: bool = True, stage_levels: int = 2, lookups: int = 1,
                 src_loc_at: int = 0):
        P.keep(self, m=m, g=g, elut_g=elut_g, act_bits=act_bits, symmetrize=symmetrize,
               stage_levels=stage_levels, lookups=lookups)
        self._geometry = TableGeometry(g, elut_g, act_bits, symmetrize)
        self._plans: dict[Mode, TablePlan] = table_plans(g, elut_g, symmetrize)
        super().__init__({
            "activations": In(stream.Signature(self.activation_layout)),
            "tables": Out(stream.Signature(self.table_layout)),
        }, src_loc_at=1 + src_loc_at)

    @classmethod
    def from_config(cls, config, **kwargs) -> "TablePrecompute":
        """The unit of a :class:`~lutcore.spec.config.CoreConfig`; ``kwargs`` as the constructor."""
        return cls(m=config.m, g=config.g, elut_g=config.elut_g, act_bits=config.act_bits,
                   symmetrize=config.symmetrize, lookups=config.lookups, src_loc_at=1,
                   **kwargs)

    @property
    def rows(self) -> int:
        """Tables per word: ``m * lookups``."""
        return self._m * self._lookups

    @property
    def geometry(self) -> TableGeometry:
        return self._geometry

    @staticmethod
    def _with_mode(word: data.StructLayout) -> data.StructLayout:
        """A stream payload: one buffer word and the mode it belongs to."""
        return data.StructLayout({"word": word, "mode": Mode})

    @property
    def activation_layout(self) -> data.StructLayout:
        return self._with_mode(
            activation_word_layout(self.rows, self._geometry.act_slots, self._act_bits))

    @property
    def table_layout(self) -> data.StructLayout:
        geo = self._geometry
        return self._with_mode(table_word_layout(self.rows, geo.entries, geo.entry_bits))

    @property
    def adders(self) -> dict[str, int]:
        """Adders/subtractors per table row for each built mode ('bitserial', 'elut')."""
        return {mode.name.lower(): plan.adders for mode, plan in self._plans.items()}

    @property
    def latency(self) -> int:
        """Cycles from a word's acceptance to its table being offered (register stages)."""
        return self.latency_of(self._g, self._elut_g, self._symmetrize, self._stage_levels)

    @staticmethod
    def latency_of(g: int, elut_g: int, symmetrize: bool, stage_levels: int = 2) -> int:
        """:attr:`latency` of a unit with these parameters, without building it."""
        depth = max(plan.depth for plan in table_plans(g, elut_g, symmetrize).values())
        return max(1, -(-depth // stage_levels))

    # -- gateware -----------------------------------------------------------------------
    def elaborate(self, platform):
        m = Module()
        geo = self._geometry
        stages = self.latency
        entry_shape = signed(geo.entry_bits)

        def stage_of(level: int) -> int:
            return max(1, -(-level // self._stage_levels))

        # Last stage that reads each value: adders read their operands; the output multiplexer
        # (last stage) reads every table entry.
        last_use: dict[tuple, int] = {}

        def key(tag, r, ref):
            return ("act", r, ref[1]) if ref[0] == "act" else (tag, r, ref[1])

        for mode, plan in self._plans.items():
            for r in range(self.rows):
                for j, nd in enumerate(plan.nodes):
                    for ref in (nd.lhs, nd.rhs):
                        if ref[0] != "zero":
                            k = key(mode.name, r, ref)
                            last_use[k] = max(last_use.get(k, 0), stage_of(plan.levels[j]))
                for ref in plan.entries:
                    if ref[0] != "zero":
                        last_use[key(mode.name, r, ref)] = stages

        src = self.activations.payload
        values: dict[tuple, object] = {}
        for r in range(self.rows):
            for i in range(geo.act_slots):
                values[("act", r, i)] = src.word[r][i]
        mode = src.mode
        valid = self.activations.valid

        def operand(tag, r, ref):
            if ref[0] == "zero":
                return Const(0, entry_shape)
            value = values[key(tag, r, ref)]
            return value << ref[2] if ref[0] == "act" else value

        stage_valid = []
        loads = []                      # one load-enable per stage, driven by the ready chain
        for s in range(1, stages + 1):
            # The adders of this stage, combinational from the previous stage's registers.
            for tag_mode, plan in self._plans.items():
                tag = tag_mode.name
                for r in range(self.rows):
                    for j, nd in enumerate(plan.nodes):
                        if stage_of(plan.levels[j]) != s:
                            continue
                        lhs, rhs = operand(tag, r, nd.lhs), operand(tag, r, nd.rhs)
                        wire = Signal(entry_shape, name=f"{tag.lower()}{r}_n{j}")
                        # Every partial sum is a sum of at most g signed activations, so it
                        # fits the entry width (DESIGN §2.1 entry bound).
                        m.d.comb += wire.eq(lhs + rhs if nd.op == "+" else lhs - rhs)
                        values[(tag, r, j)] = wire

            load = Signal(name=f"s{s}_load")
            loads.append(load)
            s_valid = Signal(name=f"s{s}_valid")
            with m.If(load):
                m.d.sync += s_valid.eq(valid)
            stage_valid.append(s_valid)

            if s < stages:
                s_mode = Signal(Mode, name=f"s{s}_mode")
                with m.If(load):
                    m.d.sync += s_mode.eq(mode)
                for k in sorted(k for k, last in last_use.items() if last > s and k in values):
                    value = values[k]
                    reg = Signal(value.shape(), name=f"s{s}_{k[0].lower()}{k[1]}_{k[2]}")
                    with m.If(load):
                        m.d.sync += reg.eq(value)
                    values[k] = reg
            else:
                out = self.tables.payload
                is_elut = mode == Mode.ELUT
                with m.If(load):
                    m.d.sync += out.mode.eq(mode)
                    for r in range(self.rows):
                        for e in range(geo.entries):
                            m.d.sync += out.word[r][e].eq(self._entry(r, e, is_elut, operand))
                s_mode = out.mode
            valid, mode = s_valid, s_mode

        # Ready chain (stage s may load when it is empty or its content moves on this cycle);
        # valid never depends on ready: it comes straight from the last stage register.
        m.d.comb += self.tables.valid.eq(stage_valid[-1])
        ready = self.tables.ready
        for load, s_valid in reversed(list(zip(loads, stage_valid))):
            m.d.comb += load.eq(~s_valid | ready)
            ready = load
        m.d.comb += self.activations.ready.eq(ready)
        return m

    def _entry(self, r, e, is_elut, operand):
        """Output entry e of row r: the mode's table entry, or 0 past its end."""
        def pick(mode):
            plan = self._plans.get(mode)
            if plan is None or e >= len(plan.entries):
                return Const(0)
            return operand(mode.name, r, plan.entries[e])
        return Mux(is_elut, pick(Mode.ELUT), pick(Mode.BITSERIAL))
