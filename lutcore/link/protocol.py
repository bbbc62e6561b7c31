"""The UART host-link protocol, shared by the gateware bridge and the Python host.

Frames are byte strings; multi-byte fields are little-endian. Every frame starts with a sync
byte and ends with a CRC-8/AUTOSAR over everything between the two.

Request (host to board)::

    REQUEST_SYNC | command | seq | count | addr[4] | payload | crc

``payload`` is ``count`` host words (``host_bits / 8`` bytes each, least significant byte
first) for ``WRITE`` and empty for every other command.

Reply (board to host)::

    REPLY_SYNC | status | seq | count | payload | crc

``seq`` echoes the request's sequence byte (0 when the request was unreadable). ``count`` is
the number of words done: words written for ``WRITE``, words returned for ``READ``, and
``INFO_BYTES`` for ``INFO``. ``payload`` is ``count`` words for a successful ``READ``,
``INFO_BYTES`` bytes for ``INFO``, and empty otherwise.

The bridge acts on a request only after its CRC checked out, so a rejected frame (any status
but ``OK`` and ``DEVICE_TIMEOUT``) has had no effect on the device.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from amaranth.lib import enum
from amaranth.lib.crc import catalog

from ..errors import LutcoreError

__all__ = [
    "REQUEST_SYNC", "REPLY_SYNC", "PROTOCOL_VERSION", "REQUEST_FIELDS", "REPLY_FIELDS",
    "INFO_FIELDS", "HEADER_BYTES", "REPLY_HEADER_BYTES", "INFO_BYTES", "MAX_COUNT",
    "CRC", "Command", "Status", "ProtocolError", "crc8", "host_bytes",
    "encode_request", "Reply", "ReplyDecoder", "encode_reply", "Info", "decode_info",
    "transfer_bytes",
]

REQUEST_SYNC = 0x5A
REPLY_SYNC = 0xA5
PROTOCOL_VERSION = 1

#: Bytes of each request field after the sync byte and before the payload, in order.
REQUEST_FIELDS = {"command": 1, "seq": 1, "count": 1, "addr": 4}
#: Bytes of each reply field after the sync byte and before the payload, in order.
REPLY_FIELDS = {"status": 1, "seq": 1, "count": 1}
#: Bytes of each field of an INFO reply's payload, in order.
INFO_FIELDS = {"version": 1, "host_bytes": 1, "max_words": 1, "reserved": 1}
HEADER_BYTES = sum(REQUEST_FIELDS.values())
REPLY_HEADER_BYTES = sum(REPLY_FIELDS.values())
INFO_BYTES = sum(INFO_FIELDS.values())
#: The largest count field.
MAX_COUNT = (1 << 8 * REQUEST_FIELDS["count"]) - 1

#: CRC-8/AUTOSAR (poly 0x2F, init 0xFF, xorout 0xFF), byte-wide: a nonzero initial value
#: catches frames of zeros, and Hamming distance 4 covers headers and short payloads.
CRC = catalog.CRC8_AUTOSAR(8)


class Command(enum.Enum, shape=8):
    """Request commands."""
    INFO = 0x01    #: describe the link: version, word size, frame size
    READ = 0x02    #: read ``count`` host words from ``addr``, ``addr+1``, ...
    WRITE = 0x03   #: write ``count`` host words to ``addr``, ``addr+1``, ...


class Status(enum.Enum, shape=8):
    """Reply status codes."""
    OK = 0x00
    BAD_SYNC = 0x01        #: bytes between frames that were not a request sync byte
    BAD_CRC = 0x02         #: CRC mismatch; the frame was dropped
    BAD_COMMAND = 0x03     #: unknown command byte
    BAD_COUNT = 0x04       #: count is 0 or above the bridge's frame size
    FRAME_TIMEOUT = 0x05   #: the frame stopped mid-way (truncated); it was dropped
    DEVICE_TIMEOUT = 0x06  #: the host port did not accept or answer in time; count says how
                           #: many words were done


_STATUS_VALUES = frozenset(s.value for s in Status)

#: Statuses that guarantee the request had no effect (it can be resent safely).
REJECTED = frozenset({Status.BAD_SYNC, Status.BAD_CRC, Status.BAD_COMMAND, Status.BAD_COUNT,
                      Status.FRAME_TIMEOUT})


class ProtocolError(LutcoreError):
    """A reply was malformed, missing, or reported an error status."""

    def __init__(self, message: str, status: Status | None = None):
        super().__init__(message)
        self.status = status


def crc8(data: bytes) -> int:
    """The frame CRC of ``data`` (the bytes between the sync byte and the CRC byte)."""
    return CRC.compute(data)


def host_bytes(host_bits: int) -> int:
    """Bytes per host word."""
    if host_bits not in (8, 16, 32, 64):
        raise LutcoreError(f"host_bits = {host_bits!r} is invalid: allowed 8, 16, 32, 64")
    return host_bits // 8


def _words_to_bytes(words, nbytes: int) -> bytes:
    out = bytearray()
    for w in words:
        w = int(w)
        if not 0 <= w < (1 << (8 * nbytes)):
            raise LutcoreError(f"word {w:#x} does not fit a {8 * nbytes}-bit host word")
        out += w.to_bytes(nbytes, "little")
    return bytes(out)


def encode_request(command: Command, *, seq: int = 0, addr: int = 0, count: int = 0,
                   words=(), host_bits: int = 32) -> bytes:
    """Encode one request frame. ``words`` is the WRITE payload (``count`` is then its length
    when left at 0)."""
    command = Command(command)
    words = list(words)
    if command is Command.WRITE and count == 0:
        count = len(words)
    if command is Command.WRITE and len(words) != count:
        raise LutcoreError(f"WRITE payload has {len(words)} words but count = {count}")
    if command is not Command.WRITE and words:
        raise LutcoreError(f"{command.name} carries no payload, got {len(words)} words")
    if not 0 <= count <= MAX_COUNT:
        raise LutcoreError(f"count = {count} is out of range: allowed 0..{MAX_COUNT}")
    if not 0 <= addr < (1 << 32):
        raise LutcoreError(f"addr = {addr:#x} is out of range: allowed 32 bits")
    if not 0 <= seq <= 0xFF:
        raise LutcoreError(f"seq = {seq} is out of range: allowed 0..255")
    body = bytes([command.value, seq, count]) + addr.to_bytes(REQUEST_FIELDS["addr"], "little")
    body += _words_to_bytes(words, host_bytes(host_bits))
    return bytes([REQUEST_SYNC]) + body + bytes([crc8(body)])


def transfer_bytes(write_words: int, read_words: int, host_bits: int,
                   max_words: int) -> tuple[int, int]:
    """Bytes each way, ``(to the board, to the host)``, of writing ``write_words`` and reading
    ``read_words`` host words in frames of at most ``max_words`` words: every request and
    reply frame with its sync byte, header and CRC."""
    nbytes = host_bytes(host_bits)
    request, reply = 1 + HEADER_BYTES + 1, 1 + REPLY_HEADER_BYTES + 1
    writes, reads = -(-write_words // max_words), -(-read_words // max_words)
    return (write_words * nbytes + (writes + reads) * request,
            read_words * nbytes + (writes + reads) * reply)


def encode_reply(status: Status, *, seq: int = 0, count: int = 0, payload: bytes = b"") -> bytes:
    """Encode one reply frame (the device side; used by models and tests)."""
    body = bytes([Status(status).value, seq & 0xFF, count & 0xFF]) + bytes(payload)
    return bytes([REPLY_SYNC]) + body + bytes([crc8(body)])


@dataclass
class Reply:
    """A decoded reply frame; ``payload`` holds the raw payload bytes."""

    status: Status
    seq: int
    count: int
    payload: bytes = b""

    def words(self, host_bits: int) -> list[int]:
        """The payload as host words."""
        n = host_bytes(host_bits)
        return [int.from_bytes(self.payload[i:i + n], "little")
                for i in range(0, len(self.payload), n)]


@dataclass
class ReplyDecoder:
    """Incremental reply parser: feed bytes, collect complete replies.

    Bytes before a reply sync byte are skipped (counted in ``skipped``). A frame with a bad
    CRC is dropped (counted in ``bad_frames``) and parsing resumes after its sync byte, so a
    corrupted reply never yields a wrong result. ``payload_bytes(status, count)`` tells the
    decoder how long the payload of a reply is; it depends on the request it answers.
    """

    host_bits: int = 32
    expect: Command = Command.READ
    skipped: int = 0
    bad_frames: int = 0
    _buf: bytearray = field(default_factory=bytearray)

    def payload_bytes(self, status: int, count: int) -> int:
        if status != Status.OK.value:
            return 0
        if self.expect is Command.READ:
            return count * host_bytes(self.host_bits)
        if self.expect is Command.INFO:
            return count
        return 0

    def feed(self, data: bytes) -> list[Reply]:
        self._buf += data
        out = []
        while True:
            start = self._buf.find(REPLY_SYNC)
            if start < 0:
                self.skipped += len(self._buf)
                self._buf.clear()
                return out
            if start:
                self.skipped += start
                del self._buf[:start]
            if len(self._buf) < 1 + REPLY_HEADER_BYTES:
                return out
            status, seq, count = self._buf[1:4]
            total = 1 + REPLY_HEADER_BYTES + self.payload_bytes(status, count) + 1
            if len(self._buf) < total:
                return out
            body = bytes(self._buf[1:total - 1])
            if crc8(body) != self._buf[total - 1] or status not in _STATUS_VALUES:
                self.bad_frames += 1
                del self._buf[:1]            # resynchronise on the next sync byte
                continue
            del self._buf[:total]
            out.append(Reply(Status(status), seq, count, body[REPLY_HEADER_BYTES:]))

    @property
    def pending(self) -> int:
        """Bytes buffered but not yet part of a complete reply."""
        return len(self._buf)


@dataclass(frozen=True)
class Info:
    """What an INFO reply says about the link."""

    version: int
    host_bits: int
    max_words: int


def decode_info(reply: Reply) -> Info:
    if len(reply.payload) != INFO_BYTES:
        raise ProtocolError(f"INFO reply has {len(reply.payload)} payload bytes, "
                            f"expected {INFO_BYTES}")
    version, nbytes, max_words, _ = reply.payload
    return Info(version, 8 * nbytes, max_words)
