"""Bridge from the framed UART protocol (:mod:`lutcore.link.protocol`) to the host port.

The bridge parses one request frame from the byte stream, checks its CRC, and only then acts
on it, so a corrupted or truncated frame never touches the device. Write payloads are staged
in a small buffer until the CRC has checked out; read results are gathered in the same
buffer before the reply goes out, so the reply's status is known before its first byte.

Nothing waits forever: a frame that stops mid-way ends after ``frame_timeout`` idle cycles
with a ``FRAME_TIMEOUT`` reply, and a device that does not accept a request or answer a read
within ``device_timeout`` cycles gets a ``DEVICE_TIMEOUT`` reply. A request the device has
not accepted stays offered (stream rules); a response that comes after its read timed out
is recognised and dropped, never returned as the answer to a later read.
"""

from __future__ import annotations

from amaranth import *
from amaranth.lib import stream, wiring
from amaranth.lib.crc import Processor
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from . import protocol as proto
from ..hw.hostport import HostPortSignature

__all__ = ["HostBridge"]


def _positive(name, value, hi=None):
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
    if hi is not None:
        ok = ok and value <= hi
    if not ok:
        allowed = f"1..{hi}" if hi is not None else "an integer >= 1"
        raise ValueError(f"{name} = {value!r} is invalid: allowed {allowed}")


class HostBridge(wiring.Component):
    """Framed byte protocol to host-port requests and back.

    Parameters
    ----------
    host_bits : int
        Host word width (8, 16, 32 or 64).
    max_words : int
        Largest ``count`` of a READ or WRITE frame, 1..255: the depth of the staging buffer.
    frame_timeout : int
        Idle cycles after which a started frame is abandoned (and, after stray bytes, after
        which one ``BAD_SYNC`` reply is sent).
    device_timeout : int
        Cycles the device has to accept each request and to answer each read.

    Members
    -------
    rx : In(stream.Signature(8))
        Bytes from the host.
    tx : Out(stream.Signature(8))
        Reply bytes to the host.
    host : Out(HostPortSignature(host_bits))
        The device's host port.
    """

    def __init__(self, *, host_bits: int = 32, max_words: int = 64, frame_timeout: int,
                 device_timeout: int):
        proto.host_bytes(host_bits)          # validates
        _positive("max_words", max_words, proto.MAX_COUNT)
        _positive("frame_timeout", frame_timeout)
        _positive("device_timeout", device_timeout)
        self._host_bits = host_bits
        self._max_words = max_words
        self._frame_timeout = frame_timeout
        self._device_timeout = device_timeout
        super().__init__({
            "rx": In(stream.Signature(8)),
            "tx": Out(stream.Signature(8)),
            "host": Out(HostPortSignature(host_bits)),
        })

    host_bits = property(lambda self: self._host_bits)
    max_words = property(lambda self: self._max_words)
    frame_timeout = property(lambda self: self._frame_timeout)
    device_timeout = property(lambda self: self._device_timeout)

    def elaborate(self, platform):
        m = Module()
        nbytes = self._host_bits // 8
        rx, tx = self.rx, self.tx
        req, resp = self.host.req, self.host.resp

        # ECP5 block RAM as yosys maps it has no output register: its 5.8 ns clock-to-out
        # alone nearly fills a 150 MHz cycle. The buffer is small, so it goes to LUT RAM
        # there; iCE40 has none (and is slow enough for its block RAM).
        attrs = {"ram_style": "distributed"} if getattr(platform, "family", None) == "ecp5" else {}
        m.submodules.buffer = buffer = Memory(shape=self._host_bits, depth=self._max_words,
                                              init=[], attrs=attrs)
        wr = buffer.write_port()
        rd = buffer.read_port()
        m.submodules.crc_rx = crc_rx = Processor(proto.CRC)
        m.submodules.crc_tx = crc_tx = Processor(proto.CRC)

        command = Signal(8)
        seq = Signal(8)
        count = Signal(8)
        addr = Signal(32)
        status = Signal(proto.Status)
        done = Signal(8)                          # count field of the reply
        index = Signal(range(proto.HEADER_BYTES))  # header byte
        word_index = Signal(8)
        byte_index = Signal(range(max(nbytes, proto.INFO_BYTES)))
        word = Signal(self._host_bits)
        response = Signal(self._host_bits)
        # The read port always addresses word_index (no state decode before the RAM); rd.en,
        # which defaults to 1, holds rd.data between fetches. Writes go through registers
        # (a word is stored the cycle after it is complete), for the same reason.
        store = Signal()
        store_data = Signal(self._host_bits)
        store_addr = Signal.like(word_index)
        m.d.comb += [rd.addr.eq(word_index), rd.en.eq(0),
                     wr.addr.eq(store_addr), wr.data.eq(store_data), wr.en.eq(store)]
        m.d.sync += [store.eq(0), store_addr.eq(word_index)]
        left = Signal(8)                          # words still to go in this phase

        # Timeouts count ticks of a prescaler, so the timer stays narrow and fast; a timeout
        # lasts at least the requested cycles and at most two ticks more.
        shift = max(0, max(self._frame_timeout, self._device_timeout).bit_length() - 8)
        frame_ticks = (self._frame_timeout >> shift) + 1
        device_ticks = (self._device_timeout >> shift) + 1
        timer = Signal(range(max(frame_ticks, device_ticks) + 1))
        tick = Signal()
        if shift:
            prescaler = Signal(shift)
            m.d.sync += [prescaler.eq(prescaler + 1), tick.eq(prescaler == (1 << shift) - 1)]
        else:
            m.d.comb += tick.eq(1)
        expired = Signal()
        m.d.comb += expired.eq(timer == 0)
        with m.If(tick & ~expired):
            m.d.sync += timer.eq(timer - 1)

        # Reads accepted by the device and not yet answered. Responses arrive in order, so
        # ours is the one that arrives while it is the only one outstanding.
        outstanding = Signal(8)
        read_accepted = Signal()
        m.d.comb += [
            resp.ready.eq(1),
            read_accepted.eq(req.valid & req.ready & ~req.payload.write),
        ]
        m.d.sync += outstanding.eq(outstanding + read_accepted - (resp.valid & (outstanding != 0)))
        with m.If(req.valid & req.ready):
            m.d.sync += req.valid.eq(0)

        rx_byte = Signal()
        m.d.comb += [
            rx_byte.eq(rx.valid & rx.ready),
            crc_rx.data.eq(rx.payload),
            crc_tx.data.eq(tx.payload),
        ]

        def frame_timer():
            m.d.sync += timer.eq(frame_ticks)

        def device_timer():
            m.d.sync += timer.eq(device_ticks)

        def start_frame():
            m.d.comb += crc_rx.start.eq(1)
            m.d.sync += [index.eq(0), seq.eq(0), command.eq(0), count.eq(0)]
            frame_timer()
            m.next = "HEADER"

        def reply(code, words_done=0):
            m.d.sync += [status.eq(code), done.eq(words_done)]
            m.next = "TX_SYNC"

        def hunt_sync(from_idle: bool):
            """Take a byte: a request sync starts a frame; any other byte is noise (from
            IDLE: enter NOISE), and the line must go quiet before the BAD_SYNC reply."""
            m.d.comb += rx.ready.eq(1)
            with m.If(rx_byte):
                with m.If(rx.payload == proto.REQUEST_SYNC):
                    start_frame()
                with m.Else():
                    frame_timer()
                    if from_idle:
                        m.d.sync += seq.eq(0)
                        m.next = "NOISE"

        info = Array([C(proto.PROTOCOL_VERSION, 8), C(nbytes, 8), C(self._max_words, 8), C(0, 8)])
        in_range = (count != 0) & (count <= self._max_words)

        with m.FSM():
            # -- receive --------------------------------------------------------------------
            with m.State("IDLE"):
                hunt_sync(from_idle=True)

            with m.State("NOISE"):
                # Stray bytes: one BAD_SYNC reply once the line has gone quiet.
                hunt_sync(from_idle=False)
                with m.Elif(expired):
                    reply(proto.Status.BAD_SYNC)

            with m.State("HEADER"):
                m.d.comb += [rx.ready.eq(1), crc_rx.valid.eq(rx_byte)]
                with m.If(rx_byte):
                    frame_timer()
                    m.d.sync += index.eq(index + 1)
                    with m.Switch(index):
                        with m.Case(0):
                            m.d.sync += command.eq(rx.payload)
                        with m.Case(1):
                            m.d.sync += seq.eq(rx.payload)
                        with m.Case(2):
                            m.d.sync += count.eq(rx.payload)
                        with m.Default():
                            m.d.sync += addr.eq(Cat(addr[8:], rx.payload))
                    with m.If(index == proto.HEADER_BYTES - 1):
                        m.d.sync += [word_index.eq(0), byte_index.eq(0), left.eq(count)]
                        with m.If((command == proto.Command.WRITE) & (count != 0)):
                            m.next = "PAYLOAD"
                        with m.Else():
                            m.next = "CRC"
                with m.Elif(expired):
                    reply(proto.Status.FRAME_TIMEOUT)

            with m.State("PAYLOAD"):
                m.d.comb += [rx.ready.eq(1), crc_rx.valid.eq(rx_byte)]
                assembled = Cat(word[8:], rx.payload)
                with m.If(rx_byte):
                    frame_timer()
                    m.d.sync += [word.eq(assembled), byte_index.eq(byte_index + 1)]
                    with m.If(byte_index == nbytes - 1):
                        # An oversized WRITE is read to its end (to find the CRC) but not stored.
                        m.d.sync += [store_data.eq(assembled),
                                     store.eq(word_index < self._max_words)]
                        m.d.sync += [byte_index.eq(0), word_index.eq(word_index + 1),
                                     left.eq(left - 1)]
                        with m.If(left == 1):
                            m.next = "CRC"
                with m.Elif(expired):
                    reply(proto.Status.FRAME_TIMEOUT)

            with m.State("CRC"):
                m.d.comb += [rx.ready.eq(1), crc_rx.valid.eq(rx_byte)]
                with m.If(rx_byte):
                    m.next = "CHECK"
                with m.Elif(expired):
                    reply(proto.Status.FRAME_TIMEOUT)

            with m.State("CHECK"):
                m.d.sync += [word_index.eq(0), left.eq(count)]
                with m.If(~crc_rx.match_detected):
                    reply(proto.Status.BAD_CRC)
                with m.Elif(command == proto.Command.INFO):
                    reply(proto.Status.OK, proto.INFO_BYTES)
                with m.Elif((command == proto.Command.READ) & in_range):
                    device_timer()
                    m.next = "READ_ISSUE"
                with m.Elif((command == proto.Command.WRITE) & in_range):
                    m.next = "WRITE_FETCH"
                with m.Elif((command == proto.Command.READ) | (command == proto.Command.WRITE)):
                    reply(proto.Status.BAD_COUNT)
                with m.Else():
                    reply(proto.Status.BAD_COMMAND)

            # -- execute ----------------------------------------------------------------------
            with m.State("WRITE_FETCH"):
                m.d.comb += rd.en.eq(1)
                device_timer()
                m.next = "WRITE_ISSUE"

            with m.State("WRITE_ISSUE"):
                with m.If(~req.valid):
                    m.d.sync += [
                        req.payload.addr.eq(addr + word_index),
                        req.payload.data.eq(rd.data),
                        req.payload.write.eq(1),
                        req.valid.eq(1),
                        word_index.eq(word_index + 1),
                        left.eq(left - 1),
                    ]
                    with m.If(left == 1):
                        device_timer()
                        m.next = "WRITE_DRAIN"
                    with m.Else():
                        m.next = "WRITE_FETCH"
                with m.Elif(expired):
                    # The busy slot holds our previous word, or a stale request before word 0.
                    reply(proto.Status.DEVICE_TIMEOUT, Mux(word_index == 0, 0, word_index - 1))

            with m.State("WRITE_DRAIN"):
                with m.If(~req.valid):
                    reply(proto.Status.OK, count)
                with m.Elif(expired):
                    reply(proto.Status.DEVICE_TIMEOUT, count - 1)

            with m.State("READ_ISSUE"):
                with m.If(~req.valid):
                    m.d.sync += [
                        req.payload.addr.eq(addr + word_index),
                        req.payload.data.eq(0),
                        req.payload.write.eq(0),
                        req.valid.eq(1),
                    ]
                    device_timer()
                    m.next = "READ_WAIT"
                with m.Elif(expired):
                    reply(proto.Status.DEVICE_TIMEOUT, word_index)

            with m.State("READ_WAIT"):
                # The response goes into a register first: nothing but a flip-flop follows
                # the device's read data (an ECP5 block RAM output is slow).
                with m.If(resp.valid & ~req.valid & (outstanding == 1)):
                    m.d.sync += response.eq(resp.payload)
                    m.next = "READ_STORE"
                with m.Elif(expired):
                    reply(proto.Status.DEVICE_TIMEOUT, word_index)

            with m.State("READ_STORE"):
                m.d.sync += [store_data.eq(response), store.eq(1)]
                m.d.sync += [word_index.eq(word_index + 1), left.eq(left - 1)]
                with m.If(left == 1):
                    reply(proto.Status.OK, count)
                with m.Else():
                    device_timer()
                    m.next = "READ_ISSUE"

            # -- reply ------------------------------------------------------------------------
            with m.State("TX_SYNC"):
                m.d.comb += [tx.payload.eq(proto.REPLY_SYNC), tx.valid.eq(1)]
                with m.If(tx.ready):
                    m.d.comb += crc_tx.start.eq(1)
                    m.d.sync += [word_index.eq(0), byte_index.eq(0), left.eq(count)]
                    m.next = "TX_STATUS"

            for state, value, after in (("TX_STATUS", status, "TX_SEQ"),
                                        ("TX_SEQ", seq, "TX_COUNT")):
                with m.State(state):
                    m.d.comb += [tx.payload.eq(value), tx.valid.eq(1), crc_tx.valid.eq(tx.ready)]
                    with m.If(tx.ready):
                        m.next = after

            with m.State("TX_COUNT"):
                m.d.comb += [tx.payload.eq(done), tx.valid.eq(1), crc_tx.valid.eq(tx.ready)]
                with m.If(tx.ready):
                    with m.If((status == proto.Status.OK) & (command == proto.Command.READ)):
                        m.next = "TX_FETCH"
                    with m.Elif((status == proto.Status.OK) & (command == proto.Command.INFO)):
                        m.next = "TX_INFO"
                    with m.Else():
                        m.next = "TX_CRC"

            with m.State("TX_FETCH"):
                m.d.comb += rd.en.eq(1)
                m.next = "TX_LOAD"

            with m.State("TX_LOAD"):
                m.d.sync += [word.eq(rd.data), byte_index.eq(0)]
                m.next = "TX_WORD"

            with m.State("TX_WORD"):
                m.d.comb += [tx.payload.eq(word[:8]), tx.valid.eq(1), crc_tx.valid.eq(tx.ready)]
                with m.If(tx.ready):
                    m.d.sync += [word.eq(word >> 8), byte_index.eq(byte_index + 1)]
                    with m.If(byte_index == nbytes - 1):
                        m.d.sync += [word_index.eq(word_index + 1), left.eq(left - 1)]
                        with m.If(left == 1):
                            m.next = "TX_CRC"
                        with m.Else():
                            m.next = "TX_FETCH"

            with m.State("TX_INFO"):
                m.d.comb += [tx.payload.eq(info[byte_index]), tx.valid.eq(1),
                             crc_tx.valid.eq(tx.ready)]
                with m.If(tx.ready):
                    m.d.sync += byte_index.eq(byte_index + 1)
                    with m.If(byte_index == proto.INFO_BYTES - 1):
                        m.next = "TX_CRC"

            with m.State("TX_CRC"):
                m.d.comb += [tx.payload.eq(crc_tx.crc), tx.valid.eq(1)]
                with m.If(tx.ready):
                    m.next = "IDLE"
        return m
