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
One writer per message kind, three transports: rclpy's, rosbags' and the node's CDR records.

Each message is built by the same ``msgs.writers`` function through rclpy's classes
(``ros.conversions.RCLPY_TYPES``), through the rosbags Jazzy typestore's (``bag_types``) and
through ``msgs.cdr_messages.CDR_TYPES`` (what the depth node publishes), then serialized by
rclpy itself (``rclpy.serialization``), by rosbags and by ``cdr_messages.serialize``. rosbags
reads rclpy's bytes back and serializes them again (CDR's alignment padding is not zeroed by
rclpy): the three must be byte for byte the same, so what the node publishes and what the bag
tools write cannot drift apart.
"""

from __future__ import annotations

import math

from msdepth_ros.bags.files import bag_types, serialize, typestore
from msdepth_ros.core.camera import backproject
from msdepth_ros.core.intrinsics import Intrinsics
from msdepth_ros.core.laser_scan import depth_to_scan, scan_geometry
from msdepth_ros.msgs import cdr_messages, writers
from msdepth_ros.ros.conversions import RCLPY_TYPES
import numpy as np
import pytest
from rclpy.serialization import serialize_message

STAMP_NS = 1_317_034_945_961_661_696
INTRINSICS = Intrinsics(352.1, 351.7, 70.4, 13.2, 142, 27)


def _both(build):
    """
    Return the CDR bytes of ``build(types, header)`` with rclpy's and with rosbags' classes.

    rclpy's message is serialized by rclpy, then read by rosbags and serialized again. The
    same message built with ``CDR_TYPES`` must serialize to the rosbags bytes, which are
    returned after that check.
    """
    rclpy_msg = build(RCLPY_TYPES, writers.header(RCLPY_TYPES, STAMP_NS, 'camera_optical'))
    bag_msg = build(bag_types(), writers.header(bag_types(), STAMP_NS, 'camera_optical'))
    cdr_msg = build(cdr_messages.CDR_TYPES,
                    writers.header(cdr_messages.CDR_TYPES, STAMP_NS, 'camera_optical'))
    read = typestore().deserialize_cdr(serialize_message(rclpy_msg), bag_msg.__msgtype__)
    bag_bytes = bytes(serialize(bag_msg))
    assert cdr_messages.serialize(cdr_msg) == bag_bytes, cdr_msg.TYPE
    return bytes(serialize(read)), bag_bytes


def _depth(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    depth = rng.uniform(1.0, 80.0, (INTRINSICS.height, INTRINSICS.width)).astype(np.float32)
    depth[rng.random(depth.shape) < 0.1] = np.nan
    return depth


@pytest.mark.parametrize('encoding', ['32FC1', '16UC1', 'rgb8', 'bgra8', 'mono8'])
def test_images_serialize_identically(encoding):
    rng = np.random.default_rng(1)
    pixels = {'32FC1': _depth(), '16UC1': rng.integers(0, 65535, (27, 142), dtype=np.uint16),
              'rgb8': rng.integers(0, 256, (27, 142, 3), dtype=np.uint8),
              'bgra8': rng.integers(0, 256, (27, 142, 4), dtype=np.uint8),
              'mono8': rng.integers(0, 256, (27, 142), dtype=np.uint8)}[encoding]
    rclpy_bytes, bag_bytes = _both(lambda t, h: writers.image(t, pixels, encoding, h))
    assert rclpy_bytes == bag_bytes
    assert len(rclpy_bytes) > pixels.nbytes
    assert writers.image(RCLPY_TYPES, pixels, encoding).data.tobytes() == \
        writers.image(bag_types(), pixels, encoding,
                      writers.header(bag_types(), 0, '')).data.tobytes()


def test_camera_infos_serialize_identically():
    rclpy_bytes, bag_bytes = _both(
        lambda t, h: writers.intrinsics_camera_info(t, INTRINSICS, h))
    assert rclpy_bytes == bag_bytes
    # A stereo camera's P with its baseline.
    p = np.hstack([INTRINSICS.k_matrix(), [[-386.1], [0.0], [0.0]]])
    rclpy_bytes, bag_bytes = _both(
        lambda t, h: writers.camera_info(t, h, 1242, 375, INTRINSICS.k_matrix(), p))
    assert rclpy_bytes == bag_bytes


@pytest.mark.parametrize('with_rgb', [False, True])
def test_organized_clouds_serialize_identically(with_rgb):
    points = backproject(_depth(2), INTRINSICS)
    rgb = (np.random.default_rng(3).integers(0, 256, points.shape, dtype=np.uint8)
           if with_rgb else None)
    rclpy_bytes, bag_bytes = _both(
        lambda t, h: writers.organized_pointcloud(t, points, h, rgb=rgb))
    assert rclpy_bytes == bag_bytes


def test_field_clouds_serialize_identically():
    values = np.random.default_rng(4).normal(size=(500, 4)).astype(np.float32)
    rclpy_bytes, bag_bytes = _both(
        lambda t, h: writers.pointcloud(t, h, values, ('x', 'y', 'z', 'intensity')))
    assert rclpy_bytes == bag_bytes


def test_headers_copy_across_transports():
    bag_header = writers.header(bag_types(), STAMP_NS, 'cam')
    copied = writers.copy_header(RCLPY_TYPES, bag_header)
    assert (copied.stamp.sec, copied.stamp.nanosec, copied.frame_id) == \
        (1_317_034_945, 961_661_696, 'cam')
    assert writers.stamp_ns(copied) == STAMP_NS
    assert type(copied).__module__.startswith('std_msgs')


def test_laser_scans_serialize_identically():
    geometry = scan_geometry(INTRINSICS, 3)
    ranges = depth_to_scan(_depth(5), geometry, 0.5, 80.0)
    rclpy_bytes, bag_bytes = _both(
        lambda t, h: writers.laser_scan(t, h, 'camera', ranges, geometry, 0.5, 80.0))
    assert rclpy_bytes == bag_bytes
    scan = writers.laser_scan(RCLPY_TYPES, writers.header(RCLPY_TYPES, STAMP_NS, 'cam_optical'),
                              'camera', ranges, geometry, 0.5, math.inf)
    assert scan.header.frame_id == 'camera' and writers.stamp_ns(scan.header) == STAMP_NS
    assert scan.range_max == math.inf and len(scan.ranges) == ranges.size
