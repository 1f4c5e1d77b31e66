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
Message writers shared by the node and the bag tools: one function per message kind.

Each writer builds its message through a ``MessageTypes`` namespace: the depth node's records
that serialize themselves (``msgs.cdr_messages.CDR_TYPES``: the node publishes their bytes),
rclpy's classes (``ros.conversions.RCLPY_TYPES``: tests and tools that publish messages), a
``rosbags`` typestore's in the bag tools (``MessageTypes.rosbags``). The namespace also says how
a message is filled and what its ``uint8[]`` and ``float64[]`` fields take (rclpy: an
``array.array``, without a per-element check; rosbags and the records: a numpy array), so every
transport carries the same bytes (test_msgs_writers). Nothing here imports a message package.

- ``header``, ``copy_header``: ``std_msgs/Header``.
- ``image``: ``sensor_msgs/Image`` of an array, in this machine's byte order, rows unpadded.
- ``camera_info``, ``intrinsics_camera_info``: ``sensor_msgs/CameraInfo`` of a rectified image.
- ``pointcloud``, ``organized_pointcloud``: ``sensor_msgs/PointCloud2`` of float32 fields, the
  latter in the depth node's layout (``msgs.images.organized_cloud``).
- ``laser_scan``: ``sensor_msgs/LaserScan`` of ``core.laser_scan.depth_to_scan``'s ranges.
"""

from __future__ import annotations

import array
from dataclasses import dataclass
import math
from typing import Any, Callable, Sequence

from msdepth_ros.core.intrinsics import Intrinsics
from msdepth_ros.core.laser_scan import ScanGeometry
from msdepth_ros.msgs.images import (ConversionError, ENCODINGS, KIND_ENCODING,
                                     NATIVE_BIG_ENDIAN, organized_cloud)
import numpy as np


@dataclass(frozen=True)
class MessageTypes:
    """
    The message classes the writers build with, of one transport, and how to fill them.

    ``new(cls, **fields)`` returns a message of ``cls`` with ``fields`` set (rosbags classes
    take every field in the constructor; rclpy's copy a byte array passed there, so they are
    filled by attribute). ``sequence(values)`` turns a flat, C-contiguous uint8, float32 or
    float64 array into what the transport's ``uint8[]``, ``float32[]`` and ``float64[]`` fields
    take.
    """

    Header: Any
    Time: Any
    Image: Any
    CameraInfo: Any
    RegionOfInterest: Any
    PointCloud2: Any
    PointField: Any
    LaserScan: Any
    new: Callable[..., Any]
    sequence: Callable[[np.ndarray], Any]

    @classmethod
    def rosbags(cls, typestore: Any) -> MessageTypes:
        """Return the classes of a ``rosbags`` typestore (``rosbags.typesys.get_typestore``)."""
        types = typestore.types
        return cls(Header=types['std_msgs/msg/Header'],
                   Time=types['builtin_interfaces/msg/Time'],
                   Image=types['sensor_msgs/msg/Image'],
                   CameraInfo=types['sensor_msgs/msg/CameraInfo'],
                   RegionOfInterest=types['sensor_msgs/msg/RegionOfInterest'],
                   PointCloud2=types['sensor_msgs/msg/PointCloud2'],
                   PointField=types['sensor_msgs/msg/PointField'],
                   LaserScan=types['sensor_msgs/msg/LaserScan'],
                   new=_construct, sequence=_numpy_sequence)


def set_fields(cls: Any, **fields: Any) -> Any:
    """Return ``cls()`` with each field set as an attribute (rclpy's messages)."""
    msg = cls()
    for name, value in fields.items():
        setattr(msg, name, value)
    return msg


def array_sequence(values: np.ndarray) -> array.array:
    """
    Return a flat uint8, float32 or float64 array as an ``array.array`` (one copy): rclpy's.

    rclpy's setters take an ``array.array`` of the field's type code as is; anything else they
    check element by element in Python, which costs seconds for a megapixel image.
    """
    data = array.array(values.dtype.char)
    data.frombytes(values.view(np.uint8))
    return data


def _construct(cls: Any, **fields: Any) -> Any:
    return cls(**fields)


def _numpy_sequence(values: np.ndarray) -> np.ndarray:
    return values


# -- Header ---------------------------------------------------------------------------------------

def header(types: MessageTypes, stamp_ns: int, frame_id: str) -> Any:
    """``std_msgs/Header`` of a time in nanoseconds (Unix or ROS time) and a frame id."""
    stamp_ns = int(stamp_ns)
    return types.new(types.Header, stamp=types.new(types.Time, sec=stamp_ns // 10**9,
                                                   nanosec=stamp_ns % 10**9),
                     frame_id=frame_id)


def copy_header(types: MessageTypes, source: Any) -> Any:
    """Return a new header with the stamp and frame id of ``source`` (any transport's)."""
    return types.new(types.Header, stamp=types.new(types.Time, sec=int(source.stamp.sec),
                                                   nanosec=int(source.stamp.nanosec)),
                     frame_id=source.frame_id)


def stamp_ns(msg_header: Any) -> int:
    """Return a header's stamp in nanoseconds."""
    return int(msg_header.stamp.sec) * 10**9 + int(msg_header.stamp.nanosec)


# -- Image ----------------------------------------------------------------------------------------

def image(types: MessageTypes, pixels: np.ndarray, encoding: str,
          msg_header: Any | None = None) -> Any:
    """
    ``sensor_msgs/Image`` of an array (one copy at most, rows without padding).

    Parameters
    ----------
    types:
        The transport's message classes.
    pixels:
        ``H x W`` or ``H x W x C`` array whose element type and channel count match
        ``encoding`` (uint8 for the 8-bit encodings, float32 for ``32FC1``, uint16 for
        ``16UC1``), any byte order.
    encoding:
        One of ``msgs.images.ENCODINGS``.
    msg_header:
        Stamp and frame id; an empty header when None.

    Returns
    -------
    The message, in this machine's byte order, ``step = W * C * itemsize``.

    Raises
    ------
    ConversionError
        Kind ``encoding``: an unknown encoding, or an array that does not fit it.

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
    return types.new(types.Image, header=_header_or_empty(types, msg_header), height=height,
                     width=width, encoding=encoding,
                     is_bigendian=int(NATIVE_BIG_ENDIAN and native.dtype.itemsize > 1),
                     step=width * spec.pixel_bytes, data=types.sequence(_flat_bytes(native)))


# -- CameraInfo -----------------------------------------------------------------------------------

def camera_info(types: MessageTypes, msg_header: Any, width: int, height: int, k: np.ndarray,
                p: np.ndarray) -> Any:
    """
    ``sensor_msgs/CameraInfo`` of a rectified image: K and P as given, R identity.

    ``plumb_bob`` with five zero distortion coefficients, no binning, no region of interest.
    ``k`` is 3x3, ``p`` 3x4 (any shape with 9 and 12 values; a stereo camera's P carries its
    baseline).
    """
    roi = types.new(types.RegionOfInterest, x_offset=0, y_offset=0, height=0, width=0,
                    do_rectify=False)
    return types.new(
        types.CameraInfo, header=_header_or_empty(types, msg_header), height=int(height),
        width=int(width), distortion_model='plumb_bob', d=types.sequence(np.zeros(5)),
        k=np.asarray(k, dtype=np.float64).reshape(9), r=np.eye(3).reshape(9),
        p=np.asarray(p, dtype=np.float64).reshape(12), binning_x=0, binning_y=0, roi=roi)


def intrinsics_camera_info(types: MessageTypes, intrinsics: Intrinsics,
                           msg_header: Any | None = None) -> Any:
    """
    ``sensor_msgs/CameraInfo`` of a rectified image with these intrinsics (the depth image's).

    Its size becomes ``width`` and ``height``; K and P (zero baseline) come from
    ``intrinsics``.
    """
    return camera_info(types, msg_header, intrinsics.width, intrinsics.height,
                       intrinsics.k_matrix(), intrinsics.p_matrix())


# -- PointCloud2 ----------------------------------------------------------------------------------

def organized_pointcloud(types: MessageTypes, points: np.ndarray, msg_header: Any | None = None,
                         rgb: np.ndarray | None = None) -> Any:
    """
    Organized ``sensor_msgs/PointCloud2`` of ``H x W`` points, built in one vectorised pass.

    Parameters
    ----------
    types:
        The transport's message classes.
    points:
        ``H x W x 3`` float32 (x, y, z) in metres in the optical frame, NaN where invalid
        (``core.camera.backproject``).
    msg_header:
        Stamp and frame id (the camera's optical frame); an empty header when None.
    rgb:
        Optional ``H x W x 3`` uint8 colour of each point.

    Returns
    -------
    ``height = H``, ``width = W``, float32 fields ``x``, ``y``, ``z`` at offsets 0, 4, 8 and
    ``point_step`` 16; with colour, ``rgb`` (float32 holding ``0x00RRGGBB``) at offset 16 and
    ``point_step`` 32. ``row_step = point_step * W``, ``is_dense`` False (invalid points are
    NaN, not removed), this machine's byte order.

    """
    cloud, fields, point_step = organized_cloud(points, rgb)
    return _pointcloud(types, msg_header, cloud, fields, point_step, is_dense=False)


def pointcloud(types: MessageTypes, msg_header: Any, values: np.ndarray, names: Sequence[str],
               point_step: int = 16, is_dense: bool | None = None) -> Any:
    """
    ``sensor_msgs/PointCloud2`` of float32 fields, one point per ``values`` row or pixel.

    Parameters
    ----------
    types:
        The transport's message classes.
    msg_header:
        Stamp and frame id.
    values:
        ``N x K`` (unorganized: height 1) or ``H x W x K`` (organized) float32, one column per
        name, NaN for invalid points.
    names:
        The ``K`` field names (``x``, ``y``, ``z``, ``intensity`` ...), at offsets 0, 4, 8 ...
    point_step:
        Bytes per point (at least ``4 K``, a multiple of 4; padding is zero): 16 as PCL's
        ``PointXYZ``.
    is_dense:
        The flag to set; None: whether every value is finite.

    Returns
    -------
    This machine's byte order, ``row_step = point_step * W``.

    """
    values = np.asarray(values, dtype=np.float32)
    if values.ndim == 2:
        values = values[None]
    if values.ndim != 3 or values.shape[2] != len(names) or point_step < 4 * len(names) \
            or point_step % 4:
        raise ValueError(f'{len(names)} float32 fields in {point_step}-byte points cannot hold '
                         f'values of shape {values.shape}')
    height, width = values.shape[:2]
    cloud = np.zeros((height, width, point_step // 4), dtype=np.float32)
    cloud[..., :len(names)] = values
    return _pointcloud(types, msg_header, cloud, [(name, 4 * i) for i, name in enumerate(names)],
                       point_step, bool(np.isfinite(values).all()) if is_dense is None
                       else is_dense)


def _pointcloud(types: MessageTypes, msg_header: Any, cloud: np.ndarray,
                fields: Sequence[tuple[str, int]], point_step: int, is_dense: bool) -> Any:
    """PointCloud2 of an ``H x W x point_step / 4`` native float32 buffer."""
    height, width = cloud.shape[:2]
    point_fields = [types.new(types.PointField, name=name, offset=offset,
                              datatype=types.PointField.FLOAT32, count=1)
                    for name, offset in fields]
    return types.new(
        types.PointCloud2, header=_header_or_empty(types, msg_header), height=height,
        width=width, fields=point_fields, is_bigendian=NATIVE_BIG_ENDIAN, point_step=point_step,
        row_step=point_step * width, data=types.sequence(_flat_bytes(cloud)), is_dense=is_dense)


def _header_or_empty(types: MessageTypes, msg_header: Any | None) -> Any:
    return msg_header if msg_header is not None else header(types, 0, '')


def _flat_bytes(values: np.ndarray) -> np.ndarray:
    """Return the bytes of an array as a flat uint8 array (a view when C-contiguous)."""
    return np.ascontiguousarray(values).reshape(-1).view(np.uint8)


# -- LaserScan ------------------------------------------------------------------------------------

def laser_scan(types: MessageTypes, msg_header: Any, frame_id: str, ranges: np.ndarray,
               geometry: ScanGeometry, range_min_m: float, range_max_m: float) -> Any:
    """
    ``sensor_msgs/LaserScan`` of ``core.laser_scan.depth_to_scan``'s ranges.

    The header is the stamp of ``msg_header`` with ``frame_id`` (the camera's body frame); the
    scan is one image, so ``time_increment`` and ``scan_time`` are 0; no intensities.
    ``ranges`` are float32 metres (+inf where a beam sees nothing), angles from ``geometry``.
    """
    scan_header = types.new(types.Header, stamp=types.new(
        types.Time, sec=int(msg_header.stamp.sec), nanosec=int(msg_header.stamp.nanosec)),
        frame_id=frame_id)
    return types.new(
        types.LaserScan, header=scan_header, angle_min=float(geometry.angle_min),
        angle_max=float(geometry.angle_max), angle_increment=float(geometry.angle_increment),
        time_increment=0.0, scan_time=0.0, range_min=float(range_min_m),
        range_max=float(range_max_m) if math.isfinite(range_max_m) else math.inf,
        ranges=types.sequence(np.ascontiguousarray(ranges, dtype=np.float32).reshape(-1)),
        intensities=types.sequence(np.zeros(0, dtype=np.float32)))
