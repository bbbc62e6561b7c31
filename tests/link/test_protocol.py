"""Frame sizes of the host link: what transfer_bytes counts equals the bytes of the frames
the protocol encodes for the same writes and reads."""

import pytest

from lutcore.link.protocol import (Command, Status, encode_reply, encode_request,
                                   transfer_bytes)


def frames(write_words, read_words, host_bits, max_words):
    """Bytes each way, from encoded frames: writes and reads in chunks of max_words."""
    to_board = to_host = 0
    for done in range(0, write_words, max_words):
        count = min(max_words, write_words - done)
        to_board += len(encode_request(Command.WRITE, words=[0] * count, host_bits=host_bits))
        to_host += len(encode_reply(Status.OK, count=count))
    for done in range(0, read_words, max_words):
        count = min(max_words, read_words - done)
        to_board += len(encode_request(Command.READ, count=count, host_bits=host_bits))
        to_host += len(encode_reply(Status.OK, count=count,
                                    payload=bytes(count * host_bits // 8)))
    return to_board, to_host


@pytest.mark.parametrize("writes,reads,bits,max_words", [
    (0, 0, 32, 64), (1, 0, 32, 64), (64, 1, 32, 64), (65, 130, 64, 64), (1000, 7, 8, 16)])
def test_transfer_bytes_equals_the_encoded_frames(writes, reads, bits, max_words):
    assert transfer_bytes(writes, reads, bits, max_words) == frames(writes, reads, bits,
                                                                    max_words)
