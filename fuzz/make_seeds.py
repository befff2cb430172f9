#!/usr/bin/env python3
"""Writes the seed corpus of frame_parser_fuzz: a few streams that reach
every branch (frames, splits inside the id and the payload, zero-laden
ids, empty payloads, the limit exactly, one byte past it), encoded the way
FuzzedDataProvider reads them back (see frame_parser_fuzz.cpp). Run it
from anywhere; the seeds are checked in, so CI never needs it."""
import os
import struct

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                    "corpus", "frame_parser")


def tail_int(value, top):
    """The bytes FuzzedDataProvider consumes from the end for
    ConsumeIntegralInRange(0, top), returned in file order."""
    out = []
    shift = 0
    while shift < 64 and (top >> shift) > 0:
        shift += 8
    nbytes = shift // 8
    for i in range(nbytes):  # first byte read (the last in the file) is high
        out.append((value >> (8 * (nbytes - 1 - i))) & 0xFF)
    return bytes(reversed(out))


def encode(max_frame, reads):
    front = b""
    back = tail_int(max_frame, 1024)
    for in_place, chunk in reads:
        # Read back to front: the path byte first, then the length.
        back = bytes([1 if in_place else 0]) + back
        back = tail_int(len(chunk), 2 * max_frame + 16) + back
        front += chunk
    return front + back


def frame(dest, payload):
    return struct.pack(">I", dest) + payload + b"\0"


def write(name, max_frame, reads):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(encode(max_frame, reads))


os.makedirs(HERE, exist_ok=True)
three = frame(7, b"first") + frame(0, b"") + frame(0x01000200, b"third")
write("three_frames_one_read", 64, [(False, three)])
write("three_frames_split", 64,
      [(True, three[:2]), (False, three[2:7]), (True, three[7:20]),
       (False, three[20:])])
write("byte_by_byte", 16, [(i % 2 == 0, three[i:i + 1])
                           for i in range(len(three))])
write("zero_id", 8, [(False, frame(0, b"x") + frame(0, b"y"))])
write("exactly_max", 32, [(False, frame(1, b"a" * 32))])
write("one_past_max", 32, [(True, frame(1, b"a" * 33))])
write("unterminated", 32, [(False, b"\1\2\3\4" + b"z" * 20),
                           (True, b"z" * 20)])
write("max_zero", 0, [(False, frame(5, b"") * 3), (True, frame(5, b"n"))])
write("partial_tail", 64, [(False, three + frame(9, b"partial")[:8])])
