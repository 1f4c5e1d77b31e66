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
  ``32FC1`` and ``16UC1``. Reading returns a read-only view on the message's buffer (row
  padding becomes a row stride, big-endian data a byte-swapped dtype): nothing is copied unless
  asked for. Every field is validated first; a bad message raises ``ConversionError`` whose
  ``kind`` names what was wrong, so that the node can count bad input by kind.
- ``sensor_msgs/CompressedImage`` (jpeg, png) -> RGB, decoded with OpenCV.
- ``sensor_msgs/CameraInfo`` <-> ``Intrinsics``: P over K, region of interest and binning handled
  as image_geometry does, on the pixel-centre convention (see ``camera_info_to_intrinsics``).
- ``sensor_msgs/PointCloud2`` from organized points (``core.camera.backproject``).

The message types are imported here and nowhere below ``msdepth_ros/ros/``.
"""

from __future__ import annotations

import array
from dataclasses import dataclass
import sys

import cv2
from msdepth_ros.core.affine import PixelMap
from msdepth_ros.core.intrinsics import Intrinsics, IntrinsicsError
import numpy as np
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2, PointField
from std_msgs.msg import Header

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

_NATIVE_BIG_ENDIAN = sys.byteorder == 'big'


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


# -- Image <-> numpy ------------------------------------------------------------------------------

def image_to_numpy(msg: Image, copy: bool = False,
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


def image_to_rgb(msg: Image, max_side_px: int = MAX_IMAGE_SIDE_PX) -> np.ndarray:
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
    msg.is_bigendian = int(_NATIVE_BIG_ENDIAN and native.dtype.itemsize > 1)
    msg.step = width * spec.pixel_bytes
    msg.data = _bytes_array(native)
    return msg


def compressed_to_rgb(msg: CompressedImage, max_side_px: int = MAX_IMAGE_SIDE_PX) -> np.ndarray:
    """
    Decode a ``sensor_msgs/CompressedImage`` (jpeg, png ...) to RGB.

    Parameters
    ----------
    msg:
        Compressed colour or grey image, as image_transport's ``compressed`` plugin sends it.
    max_side_px:
        Largest decoded width or height accepted.

    Returns
    -------
    ``H x W x 3`` uint8 RGB (a view on OpenCV's BGR result).

    Raises
    ------
    ConversionError
        Empty data, depth formats (``compressedDepth``), or data OpenCV cannot decode.

    """
    if 'compresseddepth' in msg.format.lower():
        raise ConversionError(KIND_ENCODING, f'compressed format {msg.format!r} is a depth '
                                             'image, not a colour image')
    if len(msg.data) == 0:
        raise ConversionError(KIND_DATA_SIZE, 'compressed image has no data')
    bgr = cv2.imdecode(np.frombuffer(msg.data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if bgr is None or bgr.ndim != 3 or bgr.size == 0:
        raise ConversionError(KIND_COMPRESSED, f'compressed image ({len(msg.data)} bytes, '
                                               f'format {msg.format!r}) could not be decoded')
    if max(bgr.shape[:2]) > max_side_px:
        raise ConversionError(KIND_SIZE, f'decoded image size {bgr.shape[1]}x{bgr.shape[0]} '
                                         f'exceeds {max_side_px} pixels')
    return bgr[..., ::-1]


# -- CameraInfo <-> Intrinsics --------------------------------------------------------------------

def camera_info_to_intrinsics(msg: CameraInfo) -> Intrinsics:
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

#: Byte offsets of the point fields; a point is padded to 16 bytes (32 with colour), as PCL's
#: ``PointXYZ`` / ``PointXYZRGB`` are, so that consumers can read it with an aligned struct.
_XYZ_FIELDS = (('x', 0), ('y', 4), ('z', 8))
_RGB_OFFSET = 16
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
    points = np.asarray(points)
    if points.ndim != 3 or points.shape[2] != 3:
        raise ValueError(f'points must be H x W x 3, got {points.shape}')
    height, width = points.shape[:2]
    if rgb is not None and np.shape(rgb) != (height, width, 3):
        raise ValueError(f'colours must be {height} x {width} x 3, got {np.shape(rgb)}')
    point_step = POINT_STEP_XYZ if rgb is None else POINT_STEP_XYZRGB
    cloud = np.zeros((height, width, point_step // 4), dtype=np.float32)
    cloud[..., :3] = points
    fields = [PointField(name=name, offset=offset, datatype=PointField.FLOAT32, count=1)
              for name, offset in _XYZ_FIELDS]
    if rgb is not None:
        cloud.view(np.uint32)[..., _RGB_OFFSET // 4] = pack_rgb(rgb)
        fields.append(PointField(name='rgb', offset=_RGB_OFFSET, datatype=PointField.FLOAT32,
                                 count=1))
    msg = PointCloud2()
    if header is not None:
        msg.header = header
    msg.height = height
    msg.width = width
    msg.fields = fields
    msg.is_bigendian = _NATIVE_BIG_ENDIAN
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
