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

"""Compressed input: format and declared size checked before decoding (msgs.compressed)."""

from __future__ import annotations

import array
import resource

from bad_inputs import encode, jpeg_header, png_bomb, png_ihdr
import cv2
from msdepth_ros.msgs.compressed import (compressed_header, format_codec,
                                         MAX_COMPRESSED_PIXELS)
from msdepth_ros.msgs.images import ConversionError
from msdepth_ros.ros.conversions import compressed_to_rgb
import numpy as np
import pytest
from sensor_msgs.msg import CompressedImage

RGB = np.random.default_rng(7).integers(0, 256, (21, 34, 3), dtype=np.uint8)


def _msg(data: bytes, fmt: str) -> CompressedImage:
    msg = CompressedImage()
    msg.format = fmt
    msg.data = array.array('B', data)
    return msg


@pytest.mark.parametrize('fmt, codec', [
    ('jpeg', 'jpeg'), ('png', 'png'), ('rgb8; jpeg compressed bgr8', 'jpeg'),
    ('bgr8; png compressed bgr8', 'png'), ('mono8; jpeg compressed mono8', 'jpeg'),
    ('PNG', 'png'), ('jpg', 'jpeg'), ('rgba8; png compressed rgba8', 'png'),
])
def test_image_transport_formats_are_understood(fmt, codec):
    assert format_codec(fmt) == codec


@pytest.mark.parametrize('fmt, kind', [
    ('', 'compressed_format'), ('tiff', 'compressed_format'), ('webp', 'compressed_format'),
    ('bmp', 'compressed_format'), ('rgb8; tiff compressed bgr8', 'compressed_format'),
    ('pngx', 'compressed_format'), ('16UC1; compressedDepth png', 'encoding'),
    ('32FC1; compressedDepth', 'encoding'),
])
def test_other_formats_are_refused(fmt, kind):
    with pytest.raises(ConversionError) as info:
        format_codec(fmt)
    assert info.value.kind == kind and repr(fmt) in str(info.value)


@pytest.mark.parametrize('ext, fmt, params', [
    ('.png', 'png', ()), ('.jpg', 'rgb8; jpeg compressed bgr8', ()),
    ('.jpg', 'jpeg', (cv2.IMWRITE_JPEG_PROGRESSIVE, 1)),
    ('.jpg', 'jpeg', (cv2.IMWRITE_JPEG_OPTIMIZE, 1)),
])
def test_declared_size_is_the_decoded_size(ext, fmt, params):
    data = encode(RGB, ext, *params)
    header = compressed_header(fmt, data)
    assert (header.width, header.height) == (34, 21)
    decoded = compressed_to_rgb(_msg(data, fmt))
    assert decoded.shape == (21, 34, 3)
    if ext == '.png':
        np.testing.assert_array_equal(decoded, RGB)


def test_jpeg_size_is_found_after_app_segments_and_fill_bytes():
    for sof in (0xC0, 0xC1, 0xC2, 0xC3, 0xC9, 0xCF):
        header = compressed_header('jpeg', jpeg_header(640, 481, sof=sof, app_segments=3))
        assert (header.codec, header.width, header.height) == ('jpeg', 640, 481)


@pytest.mark.parametrize('fmt, data, kind, text', [
    ('png', png_ihdr(16000, 16000), 'size', 'declares 16000x16000 pixels'),
    ('png', png_ihdr(16385, 1), 'size', 'declares 16385x1 pixels'),
    ('png', png_ihdr(0, 10), 'size', 'declares a size of 0x10'),
    ('jpeg', jpeg_header(60000, 60000), 'size', 'declares 60000x60000 pixels'),
    ('jpeg', jpeg_header(8193, 8193), 'size', 'declares 8193x8193 pixels'),
    ('jpeg', jpeg_header(100, 0), 'size', 'declares a size of 100x0'),
    ('png', b'', 'data_size', 'has no data'),
    ('png', b'\x89PNG garbage', 'compressed', 'does not start with the PNG signature'),
    ('png', b'\x89PNG\r\n\x1a\n', 'compressed', 'has no IHDR chunk'),
    ('jpeg', encode(RGB, '.png'), 'compressed', 'does not start with the JPEG SOI marker'),
    ('png', encode(RGB, '.jpg'), 'compressed', 'does not start with the PNG signature'),
    ('jpeg', b'\xff\xd8', 'compressed', 'no readable frame header'),
    ('jpeg', b'\xff\xd8\xff\xda\x00\x08' + bytes(8), 'compressed', 'no readable frame header'),
    ('jpeg', jpeg_header(64, 48)[:-12], 'compressed', 'no readable frame header'),
    ('jpeg', jpeg_header(64, 48), 'compressed', 'could not be decoded'),
    ('png', png_ihdr(64, 48), 'compressed', 'could not be decoded'),
    ('tiff', encode(RGB, '.tiff'), 'compressed_format', "'tiff' is not supported"),
])
def test_bad_headers_are_refused_before_decoding(fmt, data, kind, text):
    with pytest.raises(ConversionError) as info:
        compressed_to_rgb(_msg(data, fmt))
    assert info.value.kind == kind
    assert text in str(info.value)


def test_limits_are_a_side_and_a_pixel_count():
    assert MAX_COMPRESSED_PIXELS == 8192 * 8192
    assert compressed_header('png', png_ihdr(8192, 8192)).width == 8192
    assert compressed_header('png', png_ihdr(16384, 4096)).height == 4096
    with pytest.raises(ConversionError, match='16384 pixels a side and 67108864 pixels'):
        compressed_header('png', png_ihdr(16384, 4097))
    with pytest.raises(ConversionError, match='largest accepted is 100 pixels a side'):
        compressed_header('png', encode(RGB, '.png'), max_side_px=100, max_pixels=500)


def test_header_that_lies_about_the_size_is_refused():
    data = bytearray(encode(RGB, '.png'))
    data[16:24] = (35).to_bytes(4, 'big') + (21).to_bytes(4, 'big')  # IHDR says 35 wide
    with pytest.raises(ConversionError) as info:
        compressed_to_rgb(_msg(bytes(data), 'png'))
    assert info.value.kind == 'compressed'


def test_png_bomb_is_refused_without_growing_memory():
    bomb = png_bomb(16000, 16000)  # 768 MB decoded
    assert len(bomb) < 1_000_000
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ConversionError) as info:
        compressed_to_rgb(_msg(bomb, 'rgb8; png compressed bgr8'))
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_kib) / 1024.0
    assert info.value.kind == 'size' and 'refused before decoding' in str(info.value)
    assert grown_mib < 64.0, grown_mib
    # The same bytes are a real image: a smaller bomb made the same way decodes.
    small = compressed_to_rgb(_msg(png_bomb(300, 17), 'png'))
    assert small.shape == (17, 300, 3) and not small.any()
    grey = compressed_to_rgb(_msg(png_bomb(301, 9, grey_bits=1), 'png'))
    assert grey.shape == (9, 301, 3) and not grey.any()
    assert len(png_bomb(16000, 16000, grey_bits=1)) < 40_000
