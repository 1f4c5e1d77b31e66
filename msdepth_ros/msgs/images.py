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
Message readers shared by the node and the bag tools, and the node's point-cloud layout.

``Image`` and ``CameraInfo`` into numpy and ``Intrinsics``, and the bytes of an organized
``PointCloud2``.

Every function reads fields by name, so an rclpy message (the node) and a ``rosbags`` message
(the bag tools) give the same result; nothing here imports rclpy or a message package.

- ``sensor_msgs/Image`` -> numpy for ``rgb8``, ``bgr8``, ``rgba8``, ``bgra8``, ``mono8``,
  ``32FC1`` and ``16UC1``: a read-only view on the message's buffer (row padding becomes a row
  stride, big-endian data a byte-swapped dtype); nothing is copied unless asked for. Every
  field is validated first; a bad message raises ``ConversionError`` whose ``kind`` names what
  was wrong, so that the node can count bad input by kind.
- ``sensor_msgs/CameraInfo`` -> ``Intrinsics``: P over K, region of interest and binning handled
  as image_geometry does, on the pixel-centre convention (see ``camera_info_to_intrinsics``).
- ``organized_cloud``: the float32 buffer and fields of an organized ``PointCloud2`` (x, y, z
  at 0, 4, 8, point_step 16; with colour ``rgb`` at 16, point_step 32).
"""

from __future__ import annotations

from dataclasses import dataclass
import sys
from typing import Any

from msdepth_ros.core.affine import PixelMap
from msdepth_ros.core.intrinsics import Intrinsics, IntrinsicsError
import numpy as np

#: Largest image side accepted, in pixels: far above any camera's, small enough that a corrupt
#: size field cannot make the node reserve gigabytes.
MAX_IMAGE_SIDE_PX = 16384

#: ``ConversionError.kind`` values: what was wrong with a message.
KIND_ENCODING = 'encoding'
KIND_ENDIANNESS = 'endianness'
KIND_SIZE = 'size'
KIND_STEP = 'step'
KIND_DATA_SIZE = 'data_size'
KIND_COMPRESSED = 'compressed'
KIND_CAMERA_INFO = 'camera_info'

NATIVE_BIG_ENDIAN = sys.byteorder == 'big'


class ConversionError(ValueError):
    """
    A message that cannot be converted; ``kind`` says which check failed.

    Parameters
    ----------
    kind:
        One of the ``KIND_*`` constants (``encoding``, ``step``, ``data_size`` ...).
    message:
        What was wrong, naming the field and the values.

    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class ImageEncoding:
    """Memory layout of one ``sensor_msgs/Image`` encoding: element type and channel count."""

    name: str
    dtype: str
    channels: int

    @property
    def pixel_bytes(self) -> int:
        """Bytes per pixel (all channels)."""
        return np.dtype(self.dtype).itemsize * self.channels


#: The encodings this module reads and writes (names as in ``sensor_msgs/image_encodings``).
ENCODINGS: dict[str, ImageEncoding] = {e.name: e for e in (
    ImageEncoding('rgb8', 'u1', 3),
    ImageEncoding('bgr8', 'u1', 3),
    ImageEncoding('rgba8', 'u1', 4),
    ImageEncoding('bgra8', 'u1', 4),
    ImageEncoding('mono8', 'u1', 1),
    ImageEncoding('32FC1', 'f4', 1),
    ImageEncoding('16UC1', 'u2', 1),
)}

#: Encodings that ``image_to_rgb`` turns into an RGB image for the network.
COLOUR_ENCODINGS = ('rgb8', 'bgr8', 'rgba8', 'bgra8', 'mono8')


# -- Image -> numpy -------------------------------------------------------------------------------

def image_to_numpy(msg: Any, copy: bool = False,
                   max_side_px: int = MAX_IMAGE_SIDE_PX) -> np.ndarray:
    """
    Array of a ``sensor_msgs/Image``, validated.

    Parameters
    ----------
    msg:
        The image message.
    copy:
        False: a read-only view on ``msg.data`` (rows ``step`` bytes apart, the message's byte
        order in the dtype); True: a C-contiguous, native-byte-order, writable copy.
    max_side_px:
        Largest width or height accepted.

    Returns
    -------
    ``H x W`` (one channel) or ``H x W x C`` array of the encoding's element type: uint8 for
    the 8-bit encodings, float32 for ``32FC1``, uint16 for ``16UC1``.

    Raises
    ------
    ConversionError
        Unknown encoding, ``is_bigendian`` other than 0 or 1, zero or oversized width or
        height, ``step`` shorter than a row, or ``data`` not ``step * height`` bytes long.

    """
    encoding = ENCODINGS.get(msg.encoding)
    if encoding is None:
        raise ConversionError(KIND_ENCODING, f'image encoding {msg.encoding!r} is not supported; '
                                             f'supported: {", ".join(ENCODINGS)}')
    if msg.is_bigendian not in (0, 1):
        raise ConversionError(KIND_ENDIANNESS,
                              f'image is_bigendian is {msg.is_bigendian}, must be 0 or 1')
    width, height = int(msg.width), int(msg.height)
    if width == 0 or height == 0:
        raise ConversionError(KIND_SIZE, f'image size is {width}x{height}; width and height '
                                         'must be positive')
    if width > max_side_px or height > max_side_px:
        raise ConversionError(KIND_SIZE, f'image size {width}x{height} exceeds the largest '
                                         f'accepted side of {max_side_px} pixels')
    row_bytes = width * encoding.pixel_bytes
    step = int(msg.step)
    if step < row_bytes:
        raise ConversionError(KIND_STEP, f'image step {step} is shorter than a row of '
                                         f'{width} {msg.encoding} pixels ({row_bytes} bytes)')
    buffer = np.frombuffer(msg.data, dtype=np.uint8) if len(msg.data) else np.empty(0, np.uint8)
    if buffer.size != step * height:
        what = 'truncated' if buffer.size < step * height else 'too long'
        raise ConversionError(KIND_DATA_SIZE, f'image data is {what}: {buffer.size} bytes, '
                                              f'expected step * height = {step} * {height} = '
                                              f'{step * height}')
    dtype = np.dtype(encoding.dtype)
    if dtype.itemsize > 1:
        dtype = dtype.newbyteorder('>' if msg.is_bigendian else '<')
    if encoding.channels == 1:
        shape: tuple[int, ...] = (height, width)
        strides: tuple[int, ...] = (step, dtype.itemsize)
    else:
        shape = (height, width, encoding.channels)
        strides = (step, encoding.pixel_bytes, dtype.itemsize)
    view = np.ndarray(shape, dtype=dtype, buffer=buffer, strides=strides)
    if copy:
        return np.array(view, dtype=dtype.newbyteorder('='), order='C')
    # A view on the message: writing into it would change the message under its owner.
    view.flags.writeable = False
    return view


def image_to_rgb(msg: Any, max_side_px: int = MAX_IMAGE_SIDE_PX) -> np.ndarray:
    """
    RGB view of a colour or grey ``sensor_msgs/Image``, for the network.

    Parameters
    ----------
    msg:
        ``rgb8``, ``bgr8``, ``rgba8``, ``bgra8`` or ``mono8`` image.
    max_side_px:
        Largest width or height accepted.

    Returns
    -------
    ``H x W x 3`` uint8 RGB, a read-only view on ``msg.data`` (channels reordered or
    dropped through strides, grey broadcast to three channels): not contiguous in general.

    Raises
    ------
    ConversionError
        As ``image_to_numpy``, and for encodings that are not colour images.

    """
    if msg.encoding in ENCODINGS and msg.encoding not in COLOUR_ENCODINGS:
        order = 'big' if msg.is_bigendian == 1 else 'little'
        raise ConversionError(KIND_ENCODING,
                              f'image encoding {msg.encoding!r} ({order}-endian) is not a colour '
                              f'image; the depth network needs one of '
                              f'{", ".join(COLOUR_ENCODINGS)}')
    pixels = image_to_numpy(msg, max_side_px=max_side_px)
    if msg.encoding == 'rgb8':
        return pixels
    if msg.encoding == 'bgr8':
        return pixels[..., ::-1]
    if msg.encoding == 'rgba8':
        return pixels[..., :3]
    if msg.encoding == 'bgra8':
        return pixels[..., 2::-1]
    return np.broadcast_to(pixels[..., None], pixels.shape + (3,))


# -- CameraInfo -> Intrinsics --------------------------------------------------------------------

def camera_info_to_intrinsics(msg: Any) -> Intrinsics:
    """
    Intrinsics of the images that come with a ``sensor_msgs/CameraInfo``.

    P (the rectified camera) is used, K where P is all zeros (``Intrinsics.from_camera_info``).
    ``width`` and ``height`` are the full sensor resolution; the images have the size of the
    region of interest (the whole sensor when ``roi`` is all zeros) divided by the binning
    (0 counts as 1), rounded down as in image_geometry's ``reducedResolution``. The pixel grid
    of those images is the full grid cropped at the ROI's offset, then binned:
    ``PixelMap.crop(x_offset, y_offset).then(PixelMap.resize(1 / binning_x, 1 / binning_y))``.

    Difference from image_geometry: it computes ``cx' = (cx - x_offset) / binning_x``, which
    treats integer coordinates as pixel corners. On the pixel-centre convention (ROS, OpenCV
    and this package) a binned pixel ``j`` is centred on full-resolution pixel
    ``b * j + (b - 1) / 2``, so ``cx' = (cx - x_offset + 0.5) / b - 0.5``: ``(b - 1) / (2 b)``
    pixels less than image_geometry (0.25 px for 2x binning; equal without binning). Focal
    lengths (``fx / b``) and ROI offsets agree.

    Parameters
    ----------
    msg:
        The camera info. K, P, R and D must be finite; the ROI must lie inside the sensor.

    Returns
    -------
    Intrinsics of the (cropped, binned) images, in pixels of those images.

    Raises
    ------
    ConversionError
        (kind ``camera_info``) with the field and the cause.

    """
    for name in ('k', 'p', 'r', 'd'):
        values = np.asarray(getattr(msg, name), dtype=np.float64)
        if not np.all(np.isfinite(values)):
            raise ConversionError(KIND_CAMERA_INFO, f'camera info {name.upper()} has non-finite '
                                                    f'values: {values.tolist()}')
    full_w, full_h = int(msg.width), int(msg.height)
    if full_w == 0 or full_h == 0:
        raise ConversionError(KIND_CAMERA_INFO, f'camera info image size is {full_w}x{full_h}; '
                                                'width and height must be set')
    try:
        full = Intrinsics.from_camera_info(msg.k, msg.p, full_w, full_h)
    except IntrinsicsError as exc:
        text = str(exc)
        raise ConversionError(KIND_CAMERA_INFO, text if text.startswith('camera info')
                              else f'camera info: {text}') from None
    binning_x, binning_y = max(1, int(msg.binning_x)), max(1, int(msg.binning_y))
    roi = msg.roi
    if roi.x_offset == 0 and roi.y_offset == 0 and roi.width == 0 and roi.height == 0:
        x0, y0, roi_w, roi_h = 0, 0, full_w, full_h
    else:
        x0, y0, roi_w, roi_h = int(roi.x_offset), int(roi.y_offset), int(roi.width), \
            int(roi.height)
        if roi_w == 0 or roi_h == 0 or x0 + roi_w > full_w or y0 + roi_h > full_h:
            raise ConversionError(KIND_CAMERA_INFO,
                                  f'camera info ROI (x_offset {x0}, y_offset {y0}, width {roi_w}, '
                                  f'height {roi_h}) does not lie inside the {full_w}x{full_h} '
                                  'image')
    width, height = roi_w // binning_x, roi_h // binning_y
    if width == 0 or height == 0:
        raise ConversionError(KIND_CAMERA_INFO, f'camera info binning {binning_x}x{binning_y} '
                                                f'leaves no pixel of the {roi_w}x{roi_h} ROI')
    if (x0, y0, binning_x, binning_y, width, height) == (0, 0, 1, 1, full_w, full_h):
        return full
    pixel_map = PixelMap.crop(x0, y0).then(PixelMap.resize(1.0 / binning_x, 1.0 / binning_y))
    return full.transformed(pixel_map, width, height)


# -- PointCloud2 layout --------------------------------------------------------------------------

#: Byte offsets of the point fields; a point is padded to 16 bytes (32 with colour), as PCL's
#: ``PointXYZ`` / ``PointXYZRGB`` are, so that consumers can read it with an aligned struct.
XYZ_FIELDS = (('x', 0), ('y', 4), ('z', 8))
RGB_OFFSET = 16
POINT_STEP_XYZ = 16
POINT_STEP_XYZRGB = 32


def pack_rgb(rgb: np.ndarray) -> np.ndarray:
    """
    Pack colours as ROS's ``rgb`` field expects them.

    Parameters
    ----------
    rgb:
        ``... x 3`` uint8 RGB.

    Returns
    -------
    ``...`` uint32 ``0x00RRGGBB``; its bits, reinterpreted as float32 (``.view(np.float32)``),
    are the field's value (PCL's ``PointXYZRGB`` convention, which RViz decodes).

    """
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.shape[-1:] != (3,):
        raise ValueError(f'colours must be ... x 3 uint8, got {rgb.shape} {rgb.dtype}')
    packed = rgb[..., 0].astype(np.uint32) << 16
    packed |= rgb[..., 1].astype(np.uint32) << 8
    packed |= rgb[..., 2]
    return packed


def organized_cloud(points: np.ndarray, rgb: np.ndarray | None = None
                    ) -> tuple[np.ndarray, list[tuple[str, int]], int]:
    """
    Lay out the buffer of an organized ``PointCloud2`` of ``H x W`` points in one pass.

    Parameters
    ----------
    points:
        ``H x W x 3`` float32 (x, y, z) in metres in the optical frame, NaN where invalid
        (``core.camera.backproject``).
    rgb:
        Optional ``H x W x 3`` uint8 colour of each point.

    Returns
    -------
    ``(cloud, fields, point_step)``: ``cloud`` is ``H x W x point_step / 4`` native float32
    (its bytes are the message's ``data``), ``fields`` the ``(name, offset)`` of the float32
    fields (x, y, z at 0, 4, 8; ``rgb`` at 16, holding ``0x00RRGGBB``, with colour),
    ``point_step`` 16 or 32. Padding is zero.

    """
    points = np.asarray(points)
    if points.ndim != 3 or points.shape[2] != 3:
        raise ValueError(f'points must be H x W x 3, got {points.shape}')
    height, width = points.shape[:2]
    if rgb is not None and np.shape(rgb) != (height, width, 3):
        raise ValueError(f'colours must be {height} x {width} x 3, got {np.shape(rgb)}')
    point_step = POINT_STEP_XYZ if rgb is None else POINT_STEP_XYZRGB
    cloud = np.empty((height, width, point_step // 4), dtype=np.float32)
    # Column by column (a strided copy of all three at once is slower), padding zeroed.
    for i in range(3):
        cloud[..., i] = points[..., i]
    cloud[..., 3] = 0.0
    fields = list(XYZ_FIELDS)
    if rgb is not None:
        cloud.view(np.uint32)[..., RGB_OFFSET // 4] = pack_rgb(rgb)
        cloud[..., RGB_OFFSET // 4 + 1:] = 0.0
        fields.append(('rgb', RGB_OFFSET))
    return cloud, fields, point_step
