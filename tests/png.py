"""A small PNG decoder (8-bit, non-interlaced grey/RGB/RGBA), so tests can look at screenshots without Pillow."""

from __future__ import annotations

import struct
import zlib

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # PNG colour type -> samples per pixel


def decode(data: bytes) -> np.ndarray:
    """The image as a (height, width, channels) uint8 array."""
    if data[:8] != SIGNATURE:
        raise ValueError("not a PNG file")
    pos, idat = 8, []
    width = height = channels = 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
            if depth != 8 or interlace or colour not in CHANNELS:
                raise ValueError(f"unsupported PNG: depth {depth}, colour type {colour}, interlace {interlace}")
            channels = CHANNELS[colour]
        elif kind == b"IDAT":
            idat.append(chunk)
        elif kind == b"IEND":
            break
    stride = width * channels
    rows = np.frombuffer(zlib.decompress(b"".join(idat)), dtype=np.uint8).reshape(height, stride + 1)
    out = np.zeros((height, stride), dtype=np.uint8)
    previous = np.zeros(stride, dtype=np.uint8)
    for y in range(height):
        kind, line = rows[y, 0], rows[y, 1:]
        if kind == 0:
            current = line.copy()
        elif kind == 1:  # Sub: a running sum along the row, per channel
            current = (np.cumsum(line.reshape(width, channels), axis=0, dtype=np.int64) & 255).astype(np.uint8).ravel()
        elif kind == 2:  # Up
            current = line + previous
        elif kind in (3, 4):
            current = _sequential(kind, line, previous, channels)
        else:
            raise ValueError(f"bad filter type {kind} on row {y}")
        out[y] = current
        previous = current
    return out.reshape(height, width, channels)


def _sequential(kind: int, line: np.ndarray, previous: np.ndarray, channels: int) -> np.ndarray:
    """Average and Paeth filters: each byte depends on the one to its left, so go byte by byte."""
    raw, up = line.tolist(), previous.tolist()
    cur = [0] * len(raw)
    for i, value in enumerate(raw):
        left = cur[i - channels] if i >= channels else 0
        above = up[i]
        if kind == 3:
            cur[i] = (value + ((left + above) >> 1)) & 255
            continue
        corner = up[i - channels] if i >= channels else 0
        p = left + above - corner
        pa, pb, pc = abs(p - left), abs(p - above), abs(p - corner)
        pred = left if pa <= pb and pa <= pc else above if pb <= pc else corner
        cur[i] = (value + pred) & 255
    return np.array(cur, dtype=np.uint8)
