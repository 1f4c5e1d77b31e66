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
Message conversions, without DDS.

Every encoding with row padding and both byte orders, CameraInfo with ROI and binning, and the
PointCloud2 layout read back with an independent numpy structured dtype.
"""

from __future__ import annotations

import array
import sys

import cv2
from hypothesis import given, settings, strategies as st
from msdepth_ros.core.intrinsics import Intrinsics
from msdepth_ros.msgs import writers
from msdepth_ros.msgs.images import (camera_info_to_intrinsics, ConversionError, image_to_numpy,
                                     image_to_rgb, pack_rgb)
from msdepth_ros.ros.conversions import compressed_to_rgb, RCLPY_TYPES
import numpy as np
import pytest
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header

#: encoding -> (numpy type, channels), written out here independently of the module's table.
LAYOUTS = {'rgb8': ('u1', 3), 'bgr8': ('u1', 3), 'rgba8': ('u1', 4), 'bgra8': ('u1', 4),
           'mono8': ('u1', 1), '32FC1': ('f4', 1), '16UC1': ('u2', 1)}


def _pixels(encoding: str, height: int = 5, width: int = 7, seed: int = 0) -> np.ndarray:
    kind, channels = LAYOUTS[encoding]
    rng = np.random.default_rng(seed)
    shape = (height, width) if channels == 1 else (height, width, channels)
    if kind == 'f4':
        return rng.normal(3.0, 2.0, shape).astype(np.float32)
    return rng.integers(0, np.iinfo(kind).max, shape, endpoint=True).astype(kind)


def _message(pixels: np.ndarray, encoding: str, pad: int, big_endian: bool) -> Image:
    """Image message with ``pad`` bytes after every row, in the given byte order."""
    dtype = pixels.dtype.newbyteorder('>' if big_endian else '<')
    rows = pixels.astype(dtype).reshape(pixels.shape[0], -1).view(np.uint8)
    padded = np.full((rows.shape[0], rows.shape[1] + pad), 0xAB, np.uint8)
    padded[:, :rows.shape[1]] = rows
    msg = Image()
    msg.height, msg.width = pixels.shape[:2]
    msg.encoding = encoding
    msg.is_bigendian = int(big_endian)
    msg.step = padded.shape[1]
    msg.data = array.array('B', padded.tobytes())
    return msg


CASES = [(enc, pad, big) for enc in LAYOUTS for pad in (0, 3, 8) for big in (False, True)]


@pytest.mark.parametrize('encoding, pad, big_endian', CASES)
def test_image_to_numpy_is_a_view_with_the_right_values(encoding, pad, big_endian):
    pixels = _pixels(encoding)
    msg = _message(pixels, encoding, pad, big_endian)
    view = image_to_numpy(msg)
    np.testing.assert_array_equal(view, pixels)
    assert np.shares_memory(view, np.frombuffer(msg.data, np.uint8)), 'copied'
    assert not view.flags.writeable
    copy = image_to_numpy(msg, copy=True)
    np.testing.assert_array_equal(copy, pixels)
    assert copy.flags.c_contiguous and copy.flags.writeable and copy.dtype.isnative
    assert not np.shares_memory(copy, np.frombuffer(msg.data, np.uint8))


@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8', 'rgba8', 'bgra8', 'mono8'])
@pytest.mark.parametrize('pad', [0, 5])
def test_image_to_rgb_reorders_without_copying(encoding, pad):
    rgb = _pixels('rgb8', 6, 9, seed=3)
    if encoding == 'rgb8':
        pixels = rgb
    elif encoding == 'bgr8':
        pixels = rgb[..., ::-1]
    elif encoding == 'mono8':
        pixels = rgb[..., 0]
    else:
        colour = rgb if encoding == 'rgba8' else rgb[..., ::-1]
        pixels = np.dstack([colour, np.full(rgb.shape[:2], 7, np.uint8)])
    msg = _message(np.ascontiguousarray(pixels), encoding, pad, False)
    out = image_to_rgb(msg)
    expected = np.repeat(rgb[..., :1], 3, axis=2) if encoding == 'mono8' else rgb
    assert out.shape == (6, 9, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, expected)
    assert np.shares_memory(out, np.frombuffer(msg.data, np.uint8))


@pytest.mark.parametrize('encoding', list(LAYOUTS))
def test_numpy_to_image_round_trip(encoding):
    pixels = _pixels(encoding, 4, 6, seed=1)
    header = Header(frame_id='cam')
    header.stamp.sec = 12
    msg = writers.image(RCLPY_TYPES, pixels, encoding, header)
    _, channels = LAYOUTS[encoding]
    assert (msg.height, msg.width, msg.encoding) == (4, 6, encoding)
    assert msg.step == 6 * channels * pixels.dtype.itemsize
    assert len(msg.data) == msg.step * msg.height
    assert msg.is_bigendian == (sys.byteorder == 'big' and pixels.dtype.itemsize > 1)
    assert msg.header.frame_id == 'cam' and msg.header.stamp.sec == 12
    np.testing.assert_array_equal(image_to_numpy(msg), pixels)


def test_numpy_to_image_accepts_views_and_other_byte_orders():
    base = _pixels('32FC1', 6, 8)
    msg = writers.image(RCLPY_TYPES, base[::2, 1:].astype('>f4'), '32FC1')
    np.testing.assert_array_equal(image_to_numpy(msg), base[::2, 1:])


@pytest.mark.parametrize('pixels, encoding', [
    (np.zeros((2, 3), np.uint8), 'rgb8'),
    (np.zeros((2, 3), np.float64), '32FC1'),
    (np.zeros((2, 3, 4), np.uint8), 'bgr8'),
    (np.zeros((2, 3), np.uint8), 'yuv422'),
])
def test_numpy_to_image_refuses_arrays_of_another_layout(pixels, encoding):
    with pytest.raises(ConversionError) as info:
        writers.image(RCLPY_TYPES, pixels, encoding)
    assert info.value.kind == 'encoding'


def _bad(**fields):
    msg = _message(_pixels('rgb8', 4, 5), 'rgb8', 0, False)
    for name, value in fields.items():
        setattr(msg, name, value)
    return msg


@pytest.mark.parametrize('msg, kind, text', [
    (_bad(encoding='yuv422'), 'encoding', "image encoding 'yuv422' is not supported"),
    (_bad(encoding=''), 'encoding', "image encoding '' is not supported"),
    (_bad(is_bigendian=3), 'endianness', 'is_bigendian is 3'),
    (_bad(width=0), 'size', 'image size is 0x4'),
    (_bad(height=0), 'size', 'image size is 5x0'),
    (_bad(width=20000, step=60000), 'size', 'exceeds the largest accepted side of 16384'),
    (_bad(step=14), 'step', 'image step 14 is shorter than a row of 5 rgb8 pixels (15 bytes)'),
    (_bad(data=array.array('B', bytes(59))), 'data_size', 'image data is truncated: 59 bytes, '
                                                          'expected step * height = 15 * 4 = 60'),
    (_bad(data=array.array('B', bytes(61))), 'data_size', 'image data is too long: 61 bytes'),
    (_bad(data=array.array('B')), 'data_size', 'image data is truncated: 0 bytes'),
])
def test_bad_images_raise_with_kind_and_cause(msg, kind, text):
    with pytest.raises(ConversionError) as info:
        image_to_numpy(msg)
    assert info.value.kind == kind
    assert text in str(info.value)


@pytest.mark.parametrize('encoding, big_endian', [('32FC1', False), ('16UC1', True)])
def test_image_to_rgb_refuses_non_colour_images(encoding, big_endian):
    msg = _message(_pixels(encoding), encoding, 0, big_endian)
    order = 'big' if big_endian else 'little'
    with pytest.raises(ConversionError,
                       match=f"'{encoding}' \\({order}-endian\\) is not a colour"):
        image_to_rgb(msg)


# -- compressed ------------------------------------------------------------------------------

def _compressed(data: bytes, fmt: str = 'rgb8; png compressed bgr8') -> CompressedImage:
    msg = CompressedImage()
    msg.format = fmt
    msg.data = array.array('B', data)
    return msg


def test_compressed_png_decodes_to_rgb():
    rgb = _pixels('rgb8', 10, 12, seed=4)
    ok, png = cv2.imencode('.png', np.ascontiguousarray(rgb[..., ::-1]))
    assert ok
    np.testing.assert_array_equal(compressed_to_rgb(_compressed(png.tobytes())), rgb)


@pytest.mark.parametrize('msg, kind', [
    (_compressed(b'\x89PNG garbage'), 'compressed'),
    (_compressed(b''), 'data_size'),
    (_compressed(b'x', '16UC1; compressedDepth png'), 'encoding'),
])
def test_bad_compressed_images(msg, kind):
    with pytest.raises(ConversionError) as info:
        compressed_to_rgb(msg)
    assert info.value.kind == kind


# -- CameraInfo ------------------------------------------------------------------------------

def _info(k=None, p=None, width=640, height=480, roi=None, binning=(0, 0)) -> CameraInfo:
    msg = CameraInfo()
    msg.width, msg.height = width, height
    msg.k = np.asarray(k if k is not None else [500.0, 0, 320.0, 0, 505.0, 240.0, 0, 0, 1],
                       float)
    msg.p = np.asarray(p if p is not None else [0.0] * 12, float)
    msg.binning_x, msg.binning_y = binning
    if roi is not None:
        msg.roi.x_offset, msg.roi.y_offset, msg.roi.width, msg.roi.height = roi
    return msg


def test_p_wins_over_k_and_k_serves_when_p_is_zero():
    p = [400.0, 0, 310.0, -40.0, 0, 402.0, 230.0, 0, 0, 0, 1, 0]
    from_p = camera_info_to_intrinsics(_info(p=p))
    assert (from_p.fx_px, from_p.fy_px, from_p.cx_px, from_p.cy_px) == (400, 402, 310, 230)
    from_k = camera_info_to_intrinsics(_info())
    assert (from_k.fx_px, from_k.fy_px, from_k.cx_px, from_k.cy_px) == (500, 505, 320, 240)
    assert from_k.size == (640, 480)


@given(fx=st.floats(100, 2000), fy=st.floats(100, 2000), cx=st.floats(0, 1279),
       cy=st.floats(0, 959), x0=st.integers(0, 600), y0=st.integers(0, 400),
       roi_w=st.integers(16, 680), roi_h=st.integers(16, 560), bx=st.sampled_from([0, 1, 2, 3, 4]),
       by=st.sampled_from([0, 1, 2, 4]))
@settings(max_examples=80, deadline=None)
def test_roi_and_binning_move_pixels_as_the_sensor_does(fx, fy, cx, cy, x0, y0, roi_w, roi_h,
                                                        bx, by):
    """
    A 3D point lands on the same place of the sensor, whatever part of it the image shows.

    Full-resolution pixel u; in the ROI image u - x0; after binning b (pixel j covers
    full pixels b*j .. b*j+b-1, centred on b*j + (b-1)/2): (u - x0 - (b-1)/2) / b.
    """
    full_w, full_h = 1280, 960
    roi_w, roi_h = min(roi_w, full_w - x0), min(roi_h, full_h - y0)
    msg = _info(k=[fx, 0, cx, 0, fy, cy, 0, 0, 1], width=full_w, height=full_h,
                roi=(x0, y0, roi_w, roi_h), binning=(bx, by))
    intr = camera_info_to_intrinsics(msg)
    b_x, b_y = max(bx, 1), max(by, 1)
    assert intr.size == (roi_w // b_x, roi_h // b_y)
    points = np.random.default_rng(0).uniform([-5, -3, 1], [5, 3, 30], (20, 3))
    u_full = fx * points[:, 0] / points[:, 2] + cx
    v_full = fy * points[:, 1] / points[:, 2] + cy
    u = intr.fx_px * points[:, 0] / points[:, 2] + intr.cx_px
    v = intr.fy_px * points[:, 1] / points[:, 2] + intr.cy_px
    np.testing.assert_allclose(u, (u_full - x0 - (b_x - 1) / 2) / b_x, atol=1e-9)
    np.testing.assert_allclose(v, (v_full - y0 - (b_y - 1) / 2) / b_y, atol=1e-9)
    # image_geometry's cx' = (cx - x0) / b differs by (b - 1) / (2 b) pixels (documented).
    assert intr.cx_px == pytest.approx((cx - x0) / b_x - (b_x - 1) / (2 * b_x), abs=1e-9)


def test_all_zero_roi_is_the_whole_image():
    intr = camera_info_to_intrinsics(_info(roi=(0, 0, 0, 0), binning=(2, 2)))
    assert intr.size == (320, 240)
    assert intr.fx_px == 250.0 and intr.cx_px == pytest.approx((320.0 + 0.5) / 2 - 0.5)


@pytest.mark.parametrize('msg, text', [
    (_info(k=[0.0, 0, 320, 0, 500, 240, 0, 0, 1]), 'focal lengths must be positive'),
    (_info(k=[float('nan'), 0, 320, 0, 500, 240, 0, 0, 1],
           p=[400.0, 0, 310, 0, 0, 402, 230, 0, 0, 0, 1, 0]), 'camera info K has non-finite'),
    (_info(p=[400.0, 0, 310, 0, 0, float('inf'), 230, 0, 0, 0, 1, 0]), 'P has non-finite'),
    (_info(k=[0.0] * 9), 'camera info has neither P nor K set'),
    (_info(k=[500.0, 2.0, 320, 0, 500, 240, 0, 0, 1]), 'K has skew 2.0'),
    (_info(k=[500.0, 0, 320, 0, 500, 240, 0, 0, 2]), 'is not a pinhole camera matrix'),
    (_info(width=0, height=0), 'camera info image size is 0x0'),
    (_info(roi=(600, 0, 100, 100)), 'does not lie inside the 640x480 image'),
    (_info(roi=(10, 10, 0, 100)), 'does not lie inside'),
    (_info(roi=(0, 0, 3, 100), binning=(4, 1)), 'binning 4x1 leaves no pixel'),
])
def test_bad_camera_info_raises_with_the_field_named(msg, text):
    with pytest.raises(ConversionError) as info:
        camera_info_to_intrinsics(msg)
    assert info.value.kind == 'camera_info'
    assert text in str(info.value)


def test_depth_camera_info_describes_a_rectified_image():
    intr = Intrinsics(90.5, 91.0, 70.25, 13.5, 142, 27)
    header = Header(frame_id='cam_optical')
    header.stamp.sec, header.stamp.nanosec = 5, 7
    msg = writers.intrinsics_camera_info(RCLPY_TYPES, intr, header)
    assert (msg.width, msg.height) == (142, 27)
    assert (msg.header.frame_id, msg.header.stamp.sec, msg.header.stamp.nanosec) == (
        'cam_optical', 5, 7)
    assert list(msg.k) == [90.5, 0, 70.25, 0, 91.0, 13.5, 0, 0, 1]
    assert list(msg.p) == [90.5, 0, 70.25, 0, 0, 91.0, 13.5, 0, 0, 0, 1, 0]
    assert list(msg.r) == [1, 0, 0, 0, 1, 0, 0, 0, 1]
    assert msg.distortion_model == 'plumb_bob' and list(msg.d) == [0.0] * 5
    assert (msg.binning_x, msg.binning_y, msg.roi.width, msg.roi.height) == (0, 0, 0, 0)
    assert camera_info_to_intrinsics(msg) == intr


# -- PointCloud2 -----------------------------------------------------------------------------

def _cloud_dtype(with_rgb: bool) -> np.dtype:
    order = '>' if sys.byteorder == 'big' else '<'
    names, formats, offsets = ['x', 'y', 'z'], [order + 'f4'] * 3, [0, 4, 8]
    if with_rgb:
        names.append('rgb')
        formats.append(order + 'u4')
        offsets.append(16)
    return np.dtype({'names': names, 'formats': formats, 'offsets': offsets,
                     'itemsize': 32 if with_rgb else 16})


@pytest.mark.parametrize('with_rgb', [False, True])
def test_pointcloud2_layout_read_back_with_an_independent_dtype(with_rgb):
    rng = np.random.default_rng(7)
    points = rng.normal(0, 5, (4, 6, 3)).astype(np.float32)
    points[1, 2] = np.nan
    points[3, 0] = np.nan
    rgb = rng.integers(0, 256, (4, 6, 3)).astype(np.uint8) if with_rgb else None
    header = Header(frame_id='cam_optical')
    header.stamp.sec = 9
    msg = writers.organized_pointcloud(RCLPY_TYPES, points, header, rgb)
    step = 32 if with_rgb else 16
    assert (msg.height, msg.width, msg.point_step, msg.row_step) == (4, 6, step, 6 * step)
    assert msg.is_dense is False and msg.is_bigendian == (sys.byteorder == 'big')
    assert len(msg.data) == msg.row_step * msg.height
    assert msg.header.frame_id == 'cam_optical' and msg.header.stamp.sec == 9
    expected_fields = [('x', 0), ('y', 4), ('z', 8)] + ([('rgb', 16)] if with_rgb else [])
    assert [(f.name, f.offset, f.datatype, f.count) for f in msg.fields] == [
        (name, offset, 7, 1) for name, offset in expected_fields]
    cloud = np.frombuffer(bytes(msg.data), _cloud_dtype(with_rgb)).reshape(4, 6)
    for i, name in enumerate('xyz'):
        np.testing.assert_array_equal(cloud[name], points[..., i])
    if with_rgb:
        r, g, b = (rgb[..., i].astype(np.uint32) for i in range(3))
        np.testing.assert_array_equal(cloud['rgb'], (r << 16) | (g << 8) | b)


def test_pack_rgb_is_0x00rrggbb_as_float_bits():
    packed = pack_rgb(np.array([[255, 128, 1]], np.uint8))
    assert packed.dtype == np.uint32 and packed[0] == 0x00FF8001
    # What RViz reads: the same four bytes as a float32 field.
    as_float = packed.view(np.float32)
    assert np.frombuffer(as_float.tobytes(), np.uint32)[0] == 0x00FF8001


def test_pointcloud2_refuses_bad_shapes():
    with pytest.raises(ValueError, match='H x W x 3'):
        writers.organized_pointcloud(RCLPY_TYPES, np.zeros((4, 3), np.float32))
    with pytest.raises(ValueError, match='colours must be 2 x 2 x 3'):
        writers.organized_pointcloud(RCLPY_TYPES, np.zeros((2, 2, 3), np.float32),
                                     rgb=np.zeros((2, 3, 3), np.uint8))
