"""Read the IDX files MNIST-style datasets ship as (optionally gzip'd): no pickle, no torchvision.

Format: a 4-byte magic (two zero bytes, a type code, the number of dimensions), one big-endian
uint32 per dimension, then the raw values. Fashion-MNIST uses unsigned bytes (type 0x08).
"""

from __future__ import annotations

import gzip
import zlib

import numpy as np


class IdxError(ValueError):
    """The bytes are not a well-formed uint8 IDX file."""


def parse_idx(data: bytes) -> np.ndarray:
    """The array stored in an IDX file's bytes (gzip'd or not)."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as err:
            raise IdxError(f"corrupt gzip data ({err})") from err
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] != 0x08:
        raise IdxError("not a uint8 IDX file (bad magic number)")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    size = int(np.prod(shape)) if shape else 0
    if len(data) != header + size:
        raise IdxError(f"header says {shape} ({size:,} bytes) but the file holds "
                       f"{len(data) - header:,} bytes of data")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)
