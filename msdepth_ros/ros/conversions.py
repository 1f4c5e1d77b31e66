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
The rclpy side of the message conversions: the rclpy message types, compressed images, stamps.

- ``RCLPY_TYPES``: rclpy's message classes for the shared writers of ``msdepth_ros.msgs.writers``
  (``image``, ``intrinsics_camera_info``, ``organized_pointcloud`` ...), which the bag tools run
  with rosbags' classes. The readers (``Image`` -> numpy, ``CameraInfo`` -> ``Intrinsics``) are
  ``msdepth_ros.msgs.images``, shared the same way.
- ``sensor_msgs/CompressedImage`` (jpeg, png) -> RGB, decoded with OpenCV after its format
  and declared size are checked (``msdepth_ros.msgs.compressed``).

The message types are imported here and nowhere below ``msdepth_ros/ros/``.
"""

from __future__ import annotations

from builtin_interfaces.msg import Time
import cv2
from msdepth_ros.msgs.compressed import compressed_header, MAX_COMPRESSED_PIXELS
from msdepth_ros.msgs.images import ConversionError, KIND_COMPRESSED, MAX_IMAGE_SIDE_PX
from msdepth_ros.msgs.writers import array_sequence, MessageTypes, set_fields
import numpy as np
from sensor_msgs.msg import (CameraInfo, CompressedImage, Image, LaserScan, PointCloud2,
                             PointField, RegionOfInterest)
from std_msgs.msg import Header

#: rclpy's message classes, for the writers of ``msdepth_ros.msgs.writers``.
RCLPY_TYPES = MessageTypes(Header=Header, Time=Time, Image=Image, CameraInfo=CameraInfo,
                           RegionOfInterest=RegionOfInterest, PointCloud2=PointCloud2,
                           PointField=PointField, LaserScan=LaserScan, new=set_fields,
                           sequence=array_sequence)


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


def stamp_seconds(header: Header) -> float:
    """Return the header's stamp in seconds (for logs)."""
    return header.stamp.sec + 1e-9 * header.stamp.nanosec
