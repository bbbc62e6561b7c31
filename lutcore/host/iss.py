"""The ISS as a device: the accelerator's host port modelled over the memory map, executing
on the instruction-set simulator (:class:`lutcore.sw.iss.Machine`).

:class:`AcceleratorModel` answers host-port words the way the gateware does (CSRs, sub-word
addressing, commit on the last sub-word, start/status; a bad access sets HOST_ADDR, reads
return 0 and writes are dropped; a faulting program sets the error flag, code and PC).
Starting runs the program to completion at once, so STATUS never reads busy. It serves
word by word (``read(addr)``, ``write(addr, value)``: the device behind the UART bridge model
of :mod:`lutcore.link.model`) and in bulk (:meth:`~AcceleratorModel.write_words`,
:meth:`~AcceleratorModel.read_words`: whole buffer words at once, the same result).
:class:`IssTransport` is the runtime's transport onto it.
"""

from __future__ import annotations

import numpy as np

from ..spec import isa
from ..spec.words import LIMB_BITS, host_words, limbs_from_host_words
from ..sw.iss import ExecutionError, Machine

__all__ = ["AcceleratorModel", "IssTransport"]

_WRITABLE = (isa.Region.INSTR, isa.Region.ACT, isa.Region.WEIGHT)
_READABLE = (isa.Region.ACT, isa.Region.TABLE, isa.Region.WEIGHT, isa.Region.OUTPUT)


class AcceleratorModel:
    """The accelerator's host port in Python on ``config`` (see the module docstring).

    Members: ``machine`` (the ISS state), ``starts`` (CTRL starts seen), ``done``,
    ``error`` (:class:`~lutcore.spec.isa.ErrorCode`), ``cycles`` and ``pc`` as the CSRs
    read them."""

    def __init__(self, config):
        self.config = config
        self.machine = Machine(config)
        self.starts = 0
        self._mask = (1 << config.host_bits) - 1
        self.reset()

    def reset(self) -> None:
        """The core's reset: STATUS, CYCLES, PC, accumulators and row sums 0; the buffers
        keep their words."""
        self.done = False
        self.error = isa.ErrorCode.NONE
        self.cycles = 0
        self.pc = 0
        self.machine.acc[:] = 0
        self.machine.rowsum[:] = 0
        self._pending: dict[tuple[int, int], dict[int, int]] = {}

    def _fault(self, code) -> None:
        if self.error is isa.ErrorCode.NONE:
            self.error = code

    # -- one word ---------------------------------------------------------------------------
    def _csr(self, csr: int) -> int | None:
        status = isa.STATUS_LAYOUT.const({
            "busy": 0, "done": int(self.done), "error": int(self.error is not isa.ErrorCode.NONE),
            "error_code": self.error}).as_bits()
        hb = self.config.host_bits
        return {isa.Csr.ID: isa.ID_VALUE, isa.Csr.STATUS: status,
                isa.Csr.CYCLES_LO: self.cycles, isa.Csr.CYCLES_HI: self.cycles >> hb,
                isa.Csr.PC: self.pc}.get(csr)

    def read(self, addr: int) -> int:
        """The host word at ``addr``."""
        where = isa.decode_address(int(addr), self.config)
        value = None
        if where is not None and where.region is isa.Region.CSR:
            value = self._csr(where.word)
        elif where is not None and where.region in _READABLE:
            limbs = self.machine.read(where.region, where.word, 1)
            bits = isa.region_word_bits(where.region, self.config)
            value = int(host_words(limbs, bits, self.config.host_bits)[0, where.sub])
        if value is None:
            self._fault(isa.ErrorCode.HOST_ADDR)
            return 0
        return value & self._mask

    def write(self, addr: int, value: int) -> None:
        """Write host word ``value`` at ``addr``."""
        where = isa.decode_address(int(addr), self.config)
        if where is not None and where.region is isa.Region.CSR and where.word == isa.Csr.CTRL:
            self._control(int(value))
            return
        if where is None or where.region not in _WRITABLE:
            self._fault(isa.ErrorCode.HOST_ADDR)
            return
        parts = self._pending.setdefault((where.region.value, where.word), {})
        parts[where.sub] = int(value) & self._mask
        if where.sub != where.sub_words - 1:
            return
        self._pending.pop((where.region.value, where.word))
        subs = np.array([[parts.get(i, 0) for i in range(where.sub_words)]], np.uint64)
        self._commit(where.region, where.word, subs)

    def _commit(self, region, first: int, subs: np.ndarray) -> None:
        """Write whole buffer words given as host sub-words ``[count, sub_words]``."""
        bits = isa.region_word_bits(region, self.config)
        limbs = limbs_from_host_words(subs, self.config.host_bits, -(-bits // LIMB_BITS))
        if bits % LIMB_BITS:
            limbs[:, -1] &= np.uint64((1 << (bits % LIMB_BITS)) - 1)
        self.machine.write(region, first, limbs)

    def _control(self, value: int) -> None:
        ctrl = isa.CTRL_LAYOUT.from_bits(value & ((1 << isa.CTRL_LAYOUT.size) - 1))
        if ctrl.clear:
            self.done, self.error = False, isa.ErrorCode.NONE
        if ctrl.start:
            self.starts += 1
            self.done, self.error = False, isa.ErrorCode.NONE
            try:
                self.cycles = self.machine.run().cycles
            except ExecutionError as e:
                self.error = e.code
                self.cycles = self.machine.last_cycles
            self.pc = self.machine.pc
            self.done = True

    # -- many words ---------------------------------------------------------------------------
    def _segments(self, addrs: np.ndarray):
        """``(start, stop, region)`` of the runs of ``addrs`` in one region."""
        regions = addrs >> np.uint64(isa.REGION_SHIFT)
        cuts = [0, *(np.flatnonzero(np.diff(regions)) + 1).tolist(), len(addrs)]
        for start, stop in zip(cuts[:-1], cuts[1:]):
            yield start, stop, int(regions[start])

    def _split(self, addrs: np.ndarray, region: int):
        """``(region, words, subs, sub_words)`` of addresses in one buffer region, or None
        when one of them is unmapped (the word-by-word path then reports it)."""
        try:
            region = isa.Region(region)
        except ValueError:
            return None
        if region is isa.Region.CSR:
            return None
        where = isa.buffer_words(region, addrs, self.config)
        if where is None:
            return None
        words, subs = where
        n_sub = isa.sub_words(isa.region_word_bits(region, self.config), self.config.host_bits)
        return region, words, subs, n_sub

    def write_words(self, addrs, data) -> None:
        """Write ``data[i]`` at ``addrs[i]`` in order: whole buffer words in bulk, anything
        else word by word (same effect as :meth:`write` on each)."""
        addrs = np.asarray(addrs, np.uint64).reshape(-1)
        data = np.asarray(data, np.uint64).reshape(-1)
        for start, stop, region in self._segments(addrs):
            split = self._split(addrs[start:stop], region)
            if split is not None and split[0] in _WRITABLE and not self._pending:
                region, words, subs, n_sub = split
                count = len(words) // n_sub
                if count * n_sub == len(words) and count and np.array_equal(
                        subs, np.tile(np.arange(n_sub), count)) and np.array_equal(
                        words[::n_sub], words[0] + np.arange(count)) and np.array_equal(
                        words, np.repeat(words[::n_sub], n_sub)):
                    block = data[start:stop].reshape(count, n_sub) & np.uint64(self._mask)
                    self._commit(region, int(words[0]), block)
                    continue
            for a, d in zip(addrs[start:stop].tolist(), data[start:stop].tolist()):
                self.write(a, d)

    def read_words(self, addrs) -> np.ndarray:
        """The host words at ``addrs`` (any shape), in bulk where they are buffer words."""
        shape = np.shape(addrs)
        addrs = np.asarray(addrs, np.uint64).reshape(-1)
        out = np.zeros(len(addrs), np.uint64)
        for start, stop, region in self._segments(addrs):
            split = self._split(addrs[start:stop], region)
            if split is not None and split[0] in _READABLE:
                region, words, subs, _ = split
                first = int(words.min())
                limbs = self.machine.read(region, first, int(words.max()) - first + 1)
                bits = isa.region_word_bits(region, self.config)
                out[start:stop] = host_words(limbs, bits, self.config.host_bits)[words - first,
                                                                                 subs]
                continue
            out[start:stop] = [self.read(a) for a in addrs[start:stop].tolist()]
        return out.reshape(shape)


class IssTransport:
    """The runtime's transport onto an :class:`AcceleratorModel` (a new one on ``config``
    unless ``model`` is given)."""

    def __init__(self, config=None, *, model: AcceleratorModel | None = None):
        self.model = model if model is not None else AcceleratorModel(config)

    def write(self, addrs, data) -> None:
        self.model.write_words(addrs, data)

    def read(self, addrs) -> np.ndarray:
        return self.model.read_words(addrs)

    def wait_done(self, max_cycles: int) -> None:
        """A start has already run to its end; the ISS counts no waiting."""
        return None

    def reset(self) -> None:
        self.model.reset()

    def close(self) -> None:
        pass
