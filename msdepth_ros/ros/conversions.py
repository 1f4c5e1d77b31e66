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
Conversions between ROS messages and the core's arrays and ``Intrinsics``: pure functions.

- ``sensor_msgs/Image`` <-> numpy for ``rgb8``, ``bgr8``, ``rgba8``, ``bgra8``, ``mono8``,
  ``32FC1`` and ``16UC1``; reading (``image_to_numpy``, ``image_to_rgb``) and
  ``camera_info_to_intrinsics`` are the duck-typed readers of ``msdepth_ros.msgs.images``,
  which the bag tools share; they are re-exported here. A bad message raises
  ``ConversionError`` whose ``kind`` names what was wrong, so that the node can count bad input
  by kind.
- ``sensor_msgs/CompressedImage`` (jpeg, png) -> RGB, decoded with OpenCV after its format
  and declared size are checked (``msdepth_ros.msgs.compressed``).
- ``Intrinsics`` -> ``sensor_msgs/CameraInfo`` of the depth image.
- ``sensor_msgs/PointCloud2`` from organized points (``core.camera.backproject``), laid out by
  ``msgs.images.organized_cloud``.

The message types are imported here and nowhere below ``msdepth_ros/ros/``.
"""

from __future__ import annotations

import array

import cv2
from msdepth_ros.core.intrinsics import Intrinsics
from msdepth_ros.msgs.compressed import (compressed_header, KIND_COMPRESSED_FORMAT,
                                         MAX_COMPRESSED_PIXELS)
from msdepth_ros.msgs.images import (camera_info_to_intrinsics, COLOUR_ENCODINGS,
                                     ConversionError, ENCODINGS, image_to_numpy, image_to_rgb,
                                     ImageEncoding, KIND_CAMERA_INFO, KIND_COMPRESSED,
                                     KIND_DATA_SIZE, KIND_ENCODING, KIND_ENDIANNESS, KIND_SIZE,
                                     KIND_STEP, MAX_IMAGE_SIDE_PX, NATIVE_BIG_ENDIAN,
                                     organized_cloud, pack_rgb, POINT_STEP_XYZ,
                                     POINT_STEP_XYZRGB)
import numpy as np
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2, PointField
from std_msgs.msg import Header

__all__ = [
    'camera_info_to_intrinsics', 'COLOUR_ENCODINGS', 'compressed_to_rgb', 'ConversionError',
    'copy_header', 'ENCODINGS', 'image_to_numpy', 'image_to_rgb', 'ImageEncoding',
    'intrinsics_to_camera_info', 'KIND_CAMERA_INFO', 'KIND_COMPRESSED',
    'KIND_COMPRESSED_FORMAT', 'KIND_DATA_SIZE', 'KIND_ENCODING', 'KIND_ENDIANNESS', 'KIND_SIZE',
    'KIND_STEP', 'MAX_COMPRESSED_PIXELS', 'MAX_IMAGE_SIDE_PX',
    'numpy_to_image', 'pack_rgb', 'POINT_STEP_XYZ', 'POINT_STEP_XYZRGB',
    'points_to_pointcloud2', 'stamp_seconds',
]


# -- Image ----------------------------------------------------------------------------------------

def numpy_to_image(pixels: np.ndarray, encoding: str, header: Header | None = None) -> Image:
    """
    ``sensor_msgs/Image`` of an array (one copy into the message, rows without padding).

    Parameters
    ----------
    pixels:
        ``H x W`` or ``H x W x C`` array whose element type and channel count match
        ``encoding`` (uint8 for the 8-bit encodings, float32 for ``32FC1``, uint16 for
        ``16UC1``), any byte order.
    encoding:
        One of ``ENCODINGS``.
    header:
        Header to set (stamp and frame id); an empty one when None.

    Returns
    -------
    The message, in this machine's byte order, ``step = W * C * itemsize``.

    """
    spec = ENCODINGS.get(encoding)
    if spec is None:
        raise ConversionError(KIND_ENCODING, f'image encoding {encoding!r} is not supported; '
                                             f'supported: {", ".join(ENCODINGS)}')
    pixels = np.asarray(pixels)
    expected_ndim = 2 if spec.channels == 1 else 3
    if (pixels.ndim != expected_ndim or (spec.channels > 1 and pixels.shape[2] != spec.channels)
            or pixels.dtype.kind != np.dtype(spec.dtype).kind
            or pixels.dtype.itemsize != np.dtype(spec.dtype).itemsize):
        raise ConversionError(KIND_ENCODING,
                              f'a {encoding} image needs an H x W' +
                              ('' if spec.channels == 1 else f' x {spec.channels}') +
                              f' {np.dtype(spec.dtype).name} array, got {pixels.shape} '
                              f'{pixels.dtype}')
    height, width = pixels.shape[:2]
    native = np.ascontiguousarray(pixels, dtype=np.dtype(spec.dtype).newbyteorder('='))
    msg = Image()
    if header is not None:
        msg.header = header
    msg.height = height
    msg.width = width
    msg.encoding = encoding
    msg.is_bigendian = int(NATIVE_BIG_ENDIAN and native.dtype.itemsize > 1)
    msg.step = width * spec.pixel_bytes
    msg.data = _bytes_array(native)
    return msg


def compressed_to_rgb(msg: CompressedImage, max_side_px: int = MAX_IMAGE_SIDE_PX,
                      max_pixels: int = MAX_COMPRESSED_PIXELS) -> np.ndarray:
    """
    Decode a ``sensor_msgs/CompressedImage`` (jpeg or png) to RGB.

    The format and the size the data's header declares are checked first
    (``msgs.compressed.compressed_header``): nothing is decoded that is not a JPEG or PNG named
    as image_transport's ``compressed`` transport names it, or that would exceed the limits.

    Parameters
    ----------
    msg:
        Compressed colour or grey image, as image_transport's ``compressed`` plugin sends it.
    max_side_px, max_pixels:
        Largest decoded width or height, and width x height, accepted.

    Returns
    -------
    ``H x W x 3`` uint8 RGB (a view on OpenCV's BGR result).

    Raises
    ------
    ConversionError
        ``data_size``: empty data; ``encoding``: a depth format (``compressedDepth``);
        ``compressed_format``: another format than jpeg or png; ``size``: a declared size
        over the limits; ``compressed``: data that is not what the format says, or that
        OpenCV cannot decode to the declared size.

    """
    header = compressed_header(msg.format, msg.data, max_side_px, max_pixels)
    bgr = cv2.imdecode(np.frombuffer(msg.data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if bgr is None or bgr.ndim != 3 or bgr.size == 0:
        raise ConversionError(KIND_COMPRESSED, f'compressed {header.codec} image '
                                               f'({len(msg.data)} bytes, format {msg.format!r}) '
                                               'could not be decoded')
    if bgr.shape[:2] != (header.height, header.width):
        raise ConversionError(KIND_COMPRESSED, f'compressed {header.codec} image decoded to '
                                               f'{bgr.shape[1]}x{bgr.shape[0]}, its header '
                                               f'declares {header.width}x{header.height}')
    return bgr[..., ::-1]


# -- Intrinsics -> CameraInfo --------------------------------------------------------------------

def intrinsics_to_camera_info(intrinsics: Intrinsics, header: Header | None = None) -> CameraInfo:
    """
    ``sensor_msgs/CameraInfo`` of a rectified image with these intrinsics (the depth image's).

    Parameters
    ----------
    intrinsics:
        The image's camera; its size becomes ``width`` and ``height``.
    header:
        Header to set (the depth image's); an empty one when None.

    Returns
    -------
    K and P from ``intrinsics`` (P with zero baseline), R identity, ``plumb_bob`` with zero
    distortion, no binning, no ROI.

    """
    msg = CameraInfo()
    if header is not None:
        msg.header = header
    msg.width = intrinsics.width
    msg.height = intrinsics.height
    msg.distortion_model = 'plumb_bob'
    msg.d = [0.0] * 5
    msg.k = intrinsics.k_matrix().reshape(-1)
    msg.r = np.eye(3).reshape(-1)
    msg.p = intrinsics.p_matrix().reshape(-1)
    return msg


# -- PointCloud2 ----------------------------------------------------------------------------------

def points_to_pointcloud2(points: np.ndarray, header: Header | None = None,
                          rgb: np.ndarray | None = None) -> PointCloud2:
    """
    Organized ``sensor_msgs/PointCloud2`` of ``H x W`` points, built in one vectorised pass.

    Parameters
    ----------
    points:
        ``H x W x 3`` float32 (x, y, z) in metres in the optical frame, NaN where invalid
        (``core.camera.backproject``).
    header:
        Header to set (frame id: the camera's optical frame); an empty one when None.
    rgb:
        Optional ``H x W x 3`` uint8 colour of each point.

    Returns
    -------
    ``height = H``, ``width = W``, float32 fields ``x``, ``y``, ``z`` at offsets 0, 4, 8 and
    ``point_step`` 16; with colour, ``rgb`` (float32 holding ``0x00RRGGBB``) at offset 16 and
    ``point_step`` 32. ``row_step = point_step * W``, ``is_dense`` False (invalid points are
    NaN, not removed), this machine's byte order.

    """
    cloud, layout, point_step = organized_cloud(points, rgb)
    height, width = cloud.shape[:2]
    fields = [PointField(name=name, offset=offset, datatype=PointField.FLOAT32, count=1)
              for name, offset in layout]
    msg = PointCloud2()
    if header is not None:
        msg.header = header
    msg.height = height
    msg.width = width
    msg.fields = fields
    msg.is_bigendian = NATIVE_BIG_ENDIAN
    msg.point_step = point_step
    msg.row_step = point_step * width
    msg.is_dense = False
    msg.data = _bytes_array(cloud)
    return msg


def copy_header(header: Header) -> Header:
    """Return a new header with the same stamp and frame id (outputs carry the input's)."""
    out = Header()
    out.stamp.sec = header.stamp.sec
    out.stamp.nanosec = header.stamp.nanosec
    out.frame_id = header.frame_id
    return out


def stamp_seconds(header: Header) -> float:
    """Return the header's stamp in seconds (for logs)."""
    return header.stamp.sec + 1e-9 * header.stamp.nanosec


def _bytes_array(contiguous: np.ndarray) -> array.array:
    # The message setters take an array.array('B') as is; anything else they check byte by
    # byte in Python, which costs seconds for a megapixel image.
    data = array.array('B')
    data.frombytes(contiguous.reshape(-1).view(np.uint8))
    return data
