# amaranth: UnusedElaboratable=no
"""The protocol bridge in Amaranth's simulator, byte streams on one side and a scripted
host-port device on the other, compared byte for byte with the Python bridge model."""

import random

import pytest

from lutcore.link import protocol as proto
from lutcore.link.bridge import HostBridge
from lutcore.link.model import BridgeModel, MemoryDevice
from linksim import DeviceScript, device, get, put, run

FRAME_TIMEOUT = 64
DEVICE_TIMEOUT = 40
MAX_WORDS = 6


def random_script(rng, host_bits, count=24):
    """Items: ``bytes`` to send, or ``None`` for a quiet line (longer than the frame timeout).
    Good frames, corrupted ones, truncated ones, stray bytes and bad fields, mixed."""
    mask = (1 << host_bits) - 1
    items = []
    for seq in range(count):
        kind = rng.choice(["read", "write", "write", "info", "flip", "truncate", "noise",
                           "noise+frame", "bad_command", "bad_count"])
        addr = rng.randrange(1 << 32) if rng.random() < 0.2 else rng.randrange(32)
        n = rng.randint(1, MAX_WORDS)
        if kind in ("read", "flip", "truncate", "noise+frame"):
            frame = proto.encode_request(proto.Command.READ, seq=seq, addr=addr, count=n,
                                         host_bits=host_bits)
        elif kind == "write":
            frame = proto.encode_request(proto.Command.WRITE, seq=seq, addr=addr,
                                         words=[rng.randrange(mask + 1) for _ in range(n)],
                                         host_bits=host_bits)
        elif kind == "info":
            frame = proto.encode_request(proto.Command.INFO, seq=seq)
        elif kind == "bad_command":
            body = bytes([0x7E, seq, 1, 0, 0, 0, 0])
            frame = bytes([proto.REQUEST_SYNC]) + body + bytes([proto.crc8(body)])
        elif kind == "bad_count":
            bad = rng.choice([0, MAX_WORDS + 1])
            words = [rng.randrange(mask + 1) for _ in range(bad)]
            frame = (proto.encode_request(proto.Command.WRITE, seq=seq, addr=addr, words=words,
                                          host_bits=host_bits) if bad and rng.random() < 0.5
                     else proto.encode_request(proto.Command.READ, seq=seq, count=bad,
                                               host_bits=host_bits))
        else:
            frame = b""
        if kind == "flip":
            frame = bytearray(frame)
            frame[rng.randrange(1, len(frame))] ^= 1 << rng.randrange(8)
            frame = bytes(frame)
        if kind == "truncate":
            items += [frame[:rng.randrange(1, len(frame))], None]
        elif kind in ("noise", "noise+frame"):
            stray = bytes(rng.choice([b for b in range(256) if b != proto.REQUEST_SYNC])
                          for _ in range(rng.randint(1, 3)))
            items += [stray, None] if kind == "noise" else [stray + frame]
        else:
            items.append(frame)
        if kind == "flip":
            items.append(None)       # a corrupted count may leave the frame waiting for bytes
    return items


def expected(items, host_bits, memory_words):
    model = BridgeModel(MemoryDevice(host_bits, len(memory_words)), host_bits=host_bits,
                        max_words=MAX_WORDS)
    out = b"".join(model.quiet() if item is None else model.feed(item) for item in items)
    return out, model.device.words


def simulate(items, host_bits, seed, *, expect_bytes, script=None, deadline=400_000):
    rng = random.Random(seed)
    dut = HostBridge(host_bits=host_bits, max_words=MAX_WORDS, frame_timeout=FRAME_TIMEOUT,
                     device_timeout=DEVICE_TIMEOUT)
    script = script or DeviceScript(host_bits=host_bits, depth=64)
    got = bytearray()

    async def host(ctx):
        for item in items:
            if item is None:
                await ctx.tick().repeat(FRAME_TIMEOUT + 8)
                continue
            for b in item:
                await put(ctx, dut.rx, b, rng=rng, p_idle=0.3)

    async def collect(ctx):
        while len(got) < expect_bytes:
            got.append(await get(ctx, dut.tx, rng=rng, p_stall=0.4))
        # Nothing extra may follow.
        ctx.set(dut.tx.ready, 1)
        for _ in range(2 * FRAME_TIMEOUT):
            await ctx.tick()
            assert not ctx.get(dut.tx.valid), "bridge sent bytes beyond the expected replies"

    async def dev(ctx):
        await device(ctx, dut.host, script, rng)

    run(dut, [host, collect], [dev], deadline=deadline)
    return bytes(got), script


@pytest.mark.parametrize("host_bits,seed", [(32, 0), (32, 1), (8, 2), (64, 3)])
def test_bridge_matches_model(host_bits, seed):
    """Random good, corrupted, truncated and stray traffic: the gateware's replies and the
    device's final memory equal the model's, byte for byte."""
    rng = random.Random(seed)
    items = random_script(rng, host_bits)
    want, words = expected(items, host_bits, [0] * 64)
    got, script = simulate(items, host_bits, seed, expect_bytes=len(want))
    assert got == want
    assert script.memory == words


def test_bridge_rejected_frames_do_nothing():
    """Each kind of bad frame gets its status, echoes seq where it could be read, and never
    reaches the device."""
    hb = 32
    good = proto.encode_request(proto.Command.WRITE, seq=9, addr=3, words=[0xDEADBEEF],
                                host_bits=hb)
    flipped = bytearray(good)
    flipped[8] ^= 0x10                                  # payload byte
    items = [
        bytes(flipped),                                  # BAD_CRC
        good[:6], None,                                  # FRAME_TIMEOUT (seq read: 9)
        b"\x00\x13", None,                               # BAD_SYNC
        proto.encode_request(proto.Command.READ, seq=4, count=0),             # BAD_COUNT
        proto.encode_request(proto.Command.READ, seq=5, count=MAX_WORDS + 1),  # BAD_COUNT
    ]
    body = bytes([0x42, 6, 1, 0, 0, 0, 0])
    items.append(bytes([proto.REQUEST_SYNC]) + body + bytes([proto.crc8(body)]))  # BAD_COMMAND
    want, _ = expected(items, hb, [0] * 64)
    got, script = simulate(items, hb, 5, expect_bytes=len(want))
    assert got == want
    decoder = proto.ReplyDecoder(host_bits=hb, expect=proto.Command.WRITE)
    replies = decoder.feed(got)
    assert [(r.status, r.seq, r.count) for r in replies] == [
        (proto.Status.BAD_CRC, 9, 0),
        (proto.Status.FRAME_TIMEOUT, 9, 0),
        (proto.Status.BAD_SYNC, 0, 0),
        (proto.Status.BAD_COUNT, 4, 0),
        (proto.Status.BAD_COUNT, 5, 0),
        (proto.Status.BAD_COMMAND, 6, 0),
    ]
    assert script.log == []


def test_bridge_dead_device_times_out_then_recovers():
    """A device that accepts nothing: a WRITE gets DEVICE_TIMEOUT with 0 words done, and the
    offered request stays offered; once the device wakes up it is delivered and the next
    commands work."""
    hb = 32
    script = DeviceScript(host_bits=hb, depth=64, p_stall=0.0, accept_from=1500)
    items = [
        proto.encode_request(proto.Command.WRITE, seq=1, addr=7, words=[11, 12], host_bits=hb),
        proto.encode_request(proto.Command.READ, seq=2, addr=7, count=1, host_bits=hb),
    ]
    # Replies: DEVICE_TIMEOUT (count 0) for the write; READ of word 7 after the device woke
    # up... which it has not by then: a second DEVICE_TIMEOUT. Then, after the wake-up, a
    # read returns the delivered first word.
    late = [proto.encode_request(proto.Command.READ, seq=3, addr=7, count=2, host_bits=hb)]
    timeout_reply = proto.encode_reply(proto.Status.DEVICE_TIMEOUT, seq=1, count=0)
    second = proto.encode_reply(proto.Status.DEVICE_TIMEOUT, seq=2, count=0)
    third = proto.encode_reply(proto.Status.OK, seq=3, count=2,
                               payload=(11).to_bytes(4, "little") + (0).to_bytes(4, "little"))
    wait = [None] * (1600 // (FRAME_TIMEOUT + 8) + 1)
    got, script = simulate(items + wait + late, hb, 7,
                           expect_bytes=len(timeout_reply + second + third), script=script)
    assert got == timeout_reply + second + third
    # Word 12 was never offered: the WRITE stopped at its first word.
    assert [(kind, addr, data) for _, kind, addr, data in script.log] == [
        ("w", 7, 11), ("r", 7, 11), ("r", 8, 0)]


def test_bridge_drops_late_responses():
    """A read answered after its timeout gets DEVICE_TIMEOUT, and the late answer is not
    taken for the answer to the next read."""
    hb = 16
    script = DeviceScript(host_bits=hb, depth=64, p_stall=0.0,
                          latency=lambda i: DEVICE_TIMEOUT + 30 if i == 0 else 2)
    script.memory[1], script.memory[2] = 0x1111, 0x2222
    items = [proto.encode_request(proto.Command.READ, seq=1, addr=1, count=1, host_bits=hb),
             proto.encode_request(proto.Command.READ, seq=2, addr=2, count=1, host_bits=hb)]
    want = (proto.encode_reply(proto.Status.DEVICE_TIMEOUT, seq=1, count=0)
            + proto.encode_reply(proto.Status.OK, seq=2, count=1, payload=b"\x22\x22"))
    got, _ = simulate(items, hb, 8, expect_bytes=len(want), script=script)
    assert got == want


def test_bridge_mute_device():
    """A device that takes reads but never answers: every read times out, with the number of
    words that did come back."""
    hb = 32
    script = DeviceScript(host_bits=hb, depth=64, p_stall=0.0,
                          latency=lambda i: 1 if i < 2 else None)
    items = [proto.encode_request(proto.Command.READ, seq=1, addr=0, count=4, host_bits=hb),
             proto.encode_request(proto.Command.INFO, seq=2)]
    info = bytes([proto.PROTOCOL_VERSION, 4, MAX_WORDS, 0])
    want = (proto.encode_reply(proto.Status.DEVICE_TIMEOUT, seq=1, count=2)
            + proto.encode_reply(proto.Status.OK, seq=2, count=4, payload=info))
    got, _ = simulate(items, hb, 9, expect_bytes=len(want), script=script)
    assert got == want


@pytest.mark.parametrize("kwargs,message", [
    (dict(host_bits=12), r"host_bits = 12 is invalid: allowed 8, 16, 32, 64"),
    (dict(max_words=0), r"max_words = 0 is invalid: allowed 1..255"),
    (dict(max_words=256), r"max_words = 256 is invalid: allowed 1..255"),
    (dict(frame_timeout=0), r"frame_timeout = 0 is invalid: allowed an integer >= 1"),
    (dict(device_timeout=2.5), r"device_timeout = 2.5 is invalid: allowed an integer >= 1"),
])
def test_bridge_validation(kwargs, message):
    args = dict(host_bits=32, max_words=8, frame_timeout=10, device_timeout=10) | kwargs
    with pytest.raises(Exception, match=message):
        HostBridge(**args)


@pytest.mark.parametrize("frame_timeout", [100, 1000, 5000])
def test_frame_timeout_duration(frame_timeout):
    """A truncated frame is answered once the line has been quiet for the frame timeout:
    no sooner, and (with the timer's prescaler) at most a few cycles later."""
    dut = HostBridge(host_bits=32, max_words=4, frame_timeout=frame_timeout, device_timeout=50)
    marks = {}

    async def host(ctx):
        for b in proto.encode_request(proto.Command.READ, seq=3, count=1)[:4]:
            await put(ctx, dut.rx, b)
        ctx.set(dut.tx.ready, 1)
        cycles = 0
        while not ctx.get(dut.tx.valid):
            await ctx.tick()
            cycles += 1
        marks["reply"] = cycles
        reply = bytearray()
        while len(reply) < 5:
            _, _, valid, payload = await ctx.tick().sample(dut.tx.valid, dut.tx.payload)
            if valid:
                reply.append(payload)
        assert bytes(reply) == proto.encode_reply(proto.Status.FRAME_TIMEOUT, seq=3)

    run(dut, [host], deadline=4 * frame_timeout + 1000)
    step = 1 << max(0, frame_timeout.bit_length() - 8)
    assert frame_timeout <= marks["reply"] <= frame_timeout + 2 * step + 4, marks
