# Copyright 2026 The msdepth_ros Authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
Compressed images built byte by byte: real ones, decompression bombs and broken headers.

Written from the PNG and JPEG specifications, independently of ``msdepth_ros.msgs.compressed``,
for the tests and ``benchmarks/bad_input_memory.py``.
"""

from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np

PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


def png_chunk(tag: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, tag, data, CRC."""
    crc = zlib.crc32(tag + data) & 0xFFFFFFFF
    return struct.pack('>I', len(data)) + tag + data + struct.pack('>I', crc)


def png_ihdr(width: int, height: int, colour_type: int = 2, bit_depth: int = 8) -> bytes:
    """Signature and IHDR of a PNG of ``width`` x ``height`` (colour type 2: RGB)."""
    return PNG_SIGNATURE + png_chunk(
        b'IHDR', struct.pack('>IIBBBBB', width, height, bit_depth, colour_type, 0, 0, 0))


def png_bomb(width: int, height: int, grey_bits: int = 0) -> bytes:
    """
    Return a valid ``width`` x ``height`` black PNG, made without holding the image.

    RGB by default; with ``grey_bits`` (1, 2, 4, 8) a grey PNG of that bit depth, which is
    smaller again (a decoder reading it as colour still allocates ``width * height * 3``).

    The zero rows compress to one deflate block repeated (each ends with a full flush, which
    resets the compressor, so the block's bytes are the same every time); the Adler-32 of n
    zero bytes is ``(n mod 65521) << 16 | 1``. 16000 x 16000 (768 MB decoded) is about 750 KB.
    """
    row = bytes(1 + (3 * width if not grey_bits else (width * grey_bits + 7) // 8))
    rows_per_block = max(1, min(height, (1 << 20) // len(row)))
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(row * rows_per_block) + compressor.flush(zlib.Z_FULL_FLUSH)
    blocks, rest = divmod(height, rows_per_block)
    tail = zlib.compressobj(9, zlib.DEFLATED, -15)
    last = tail.compress(row * rest) + tail.flush(zlib.Z_FINISH)
    total = len(row) * height
    adler = ((total % 65521) << 16) | 1
    stream = b'\x78\xda' + block * blocks + last + struct.pack('>I', adler)
    header = (png_ihdr(width, height, 0, grey_bits) if grey_bits else png_ihdr(width, height))
    return header + png_chunk(b'IDAT', stream) + png_chunk(b'IEND', b'')


def jpeg_header(width: int, height: int, sof: int = 0xC0, app_segments: int = 1) -> bytes:
    """SOI, ``app_segments`` APP0 segments, a fill byte, and a start-of-frame declaring a size."""
    out = b'\xff\xd8'
    for _ in range(app_segments):
        out += (b'\xff\xe0' + struct.pack('>H', 16)
                + b'JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00')
    frame = struct.pack('>BHHB', 8, height, width, 3) + b'\x01\x22\x00\x02\x11\x01\x03\x11\x01'
    return out + b'\xff' + bytes([0xFF, sof]) + struct.pack('>H', 2 + len(frame)) + frame


def encode(rgb: np.ndarray, ext: str, *params: int) -> bytes:
    """``rgb`` (``H x W x 3`` uint8, or ``H x W`` grey) encoded by OpenCV as ``ext``."""
    pixels = rgb[..., ::-1] if rgb.ndim == 3 else rgb
    ok, data = cv2.imencode(ext, np.ascontiguousarray(pixels), list(params))
    assert ok, ext
    return data.tobytes()
