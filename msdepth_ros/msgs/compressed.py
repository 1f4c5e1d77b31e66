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
What a ``sensor_msgs/CompressedImage`` holds, read before anything is decoded.

image_transport's ``compressed`` plugin sends JPEG or PNG and names it in ``format``:
``'jpeg'`` / ``'png'`` (older releases) or ``'<encoding>; jpeg compressed <target>'`` /
``'<encoding>; png compressed <target>'``. A decoder allocates what the file's header declares,
so a few kilobytes of PNG can ask for gigabytes (a 16000 x 16000 PNG of one colour is 48 KB and
decodes to 768 MB). ``compressed_header`` therefore checks the format and reads the declared
size (PNG ``IHDR``; JPEG start-of-frame marker) so that an image that is too large, of another
codec (TIFF, WebP ... which OpenCV would decode too) or a depth image (``compressedDepth``) is
refused before any decoding. Nothing here imports rclpy or OpenCV.
"""

from __future__ import annotations

from dataclasses import dataclass
import struct

from msdepth_ros.msgs.images import (ConversionError, KIND_COMPRESSED, KIND_DATA_SIZE,
                                     KIND_ENCODING, KIND_SIZE, MAX_IMAGE_SIDE_PX)

#: Largest decoded image accepted, in pixels: 8192 x 8192 (64 Mpx, 192 MiB as 8-bit BGR). No
#: camera that a depth node serves comes near it; a header asking for more is refused.
MAX_COMPRESSED_PIXELS = 8192 * 8192

#: ``ConversionError.kind`` of a compressed image whose format is not JPEG or PNG.
KIND_COMPRESSED_FORMAT = 'compressed_format'

PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
JPEG_SOI = b'\xff\xd8'

#: JPEG start-of-frame markers (baseline, progressive, lossless ...; not DHT C4, JPG C8, DAC CC).
_JPEG_SOF = frozenset((0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD,
                       0xCE, 0xCF))
#: Markers without a length field.
_JPEG_STANDALONE = frozenset([0x01] + list(range(0xD0, 0xD8)))


@dataclass(frozen=True)
class CompressedHeader:
    """A compressed image's codec (``'jpeg'`` or ``'png'``) and its declared size in pixels."""

    codec: str
    width: int
    height: int


def format_codec(fmt: str) -> str:
    """
    Return the codec (``'jpeg'`` or ``'png'``) that a ``CompressedImage.format`` names.

    Raises
    ------
    ConversionError
        ``encoding`` for ``compressedDepth`` (a depth image), ``compressed_format`` for any
        other format (or none).

    """
    text = fmt.lower()
    if 'compresseddepth' in text:
        raise ConversionError(KIND_ENCODING, f'compressed format {fmt!r} is a depth image, not '
                                             'a colour image')
    words = text.replace(';', ' ').split()
    for codec, names in (('jpeg', ('jpeg', 'jpg')), ('png', ('png',))):
        if any(name in words for name in names):
            return codec
    raise ConversionError(KIND_COMPRESSED_FORMAT,
                          f'compressed format {fmt!r} is not supported; the compressed '
                          "transport of image_transport sends 'jpeg' or 'png' (e.g. 'rgb8; "
                          "jpeg compressed bgr8')")


def compressed_header(fmt: str, data: bytes | memoryview,
                      max_side_px: int = MAX_IMAGE_SIDE_PX,
                      max_pixels: int = MAX_COMPRESSED_PIXELS) -> CompressedHeader:
    """
    Check a compressed image's format and declared size without decoding it.

    Parameters
    ----------
    fmt:
        ``CompressedImage.format``.
    data:
        ``CompressedImage.data``.
    max_side_px, max_pixels:
        Largest width or height, and largest width x height, accepted.

    Returns
    -------
    The codec and the declared size.

    Raises
    ------
    ConversionError
        ``encoding`` / ``compressed_format``: not a JPEG or PNG colour image (see
        ``format_codec``); ``data_size``: no data; ``compressed``: the data is not the format
        named, or its header is truncated or corrupt; ``size``: the declared size is zero or
        over the limits.

    """
    codec = format_codec(fmt)
    data = memoryview(data).cast('B') if not isinstance(data, bytes) else data
    if len(data) == 0:
        raise ConversionError(KIND_DATA_SIZE, 'compressed image has no data')
    width, height = _png_size(data) if codec == 'png' else _jpeg_size(data)
    if width == 0 or height == 0:
        raise ConversionError(KIND_SIZE, f'compressed {codec} image declares a size of '
                                         f'{width}x{height}')
    if width > max_side_px or height > max_side_px or width * height > max_pixels:
        raise ConversionError(KIND_SIZE,
                              f'compressed {codec} image declares {width}x{height} pixels; the '
                              f'largest accepted is {max_side_px} pixels a side and '
                              f'{max_pixels} pixels in all (refused before decoding)')
    return CompressedHeader(codec, width, height)


def _png_size(data: bytes | memoryview) -> tuple[int, int]:
    """Width and height from the PNG signature and ``IHDR`` chunk (bytes 8 to 24)."""
    if bytes(data[:8]) != PNG_SIGNATURE:
        raise ConversionError(KIND_COMPRESSED, f'compressed image says png but its data does '
                                               f'not start with the PNG signature '
                                               f'({bytes(data[:8])!r})')
    if len(data) < 24 or bytes(data[12:16]) != b'IHDR':
        raise ConversionError(KIND_COMPRESSED, f'compressed png image ({len(data)} bytes) has '
                                               'no IHDR chunk after its signature')
    return struct.unpack('>II', bytes(data[16:24]))


def _jpeg_size(data: bytes | memoryview) -> tuple[int, int]:
    """Width and height from the first JPEG start-of-frame marker (before the scan)."""
    if bytes(data[:2]) != JPEG_SOI:
        raise ConversionError(KIND_COMPRESSED, f'compressed image says jpeg but its data does '
                                               f'not start with the JPEG SOI marker '
                                               f'({bytes(data[:2])!r})')
    i = 2
    while i + 1 < len(data):
        if data[i] != 0xFF:
            break
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte before a marker
            i += 1
            continue
        if marker in _JPEG_STANDALONE:
            i += 2
            continue
        if i + 4 > len(data):
            break
        length = struct.unpack('>H', bytes(data[i + 2:i + 4]))[0]
        if marker in _JPEG_SOF:
            if length < 7 or i + 9 > len(data):
                break
            height, width = struct.unpack('>HH', bytes(data[i + 5:i + 9]))
            return width, height
        if marker in (0xDA, 0xD9) or length < 2:  # scan or end before any frame header
            break
        i += 2 + length
    raise ConversionError(KIND_COMPRESSED, f'compressed jpeg image ({len(data)} bytes) has no '
                                           'readable frame header (SOF marker) giving its size')
