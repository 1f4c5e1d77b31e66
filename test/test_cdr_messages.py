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
The node's CDR messages against rclpy's own deserialisation and rosbags' serializer.

The depth node publishes ``msgs.cdr_messages.serialize``'s bytes as they are: rclpy must read
them back as the very message its own classes build (every field), and rosbags must write the
same bytes, for any frame id, size, encoding and scan (hypothesis). test_msgs_writers checks
the node's fixed examples against both too.
"""

from __future__ import annotations

import math

from hypothesis import given, settings, strategies as st
from msdepth_ros.bags.files import bag_types, serialize as bag_serialize, typestore
from msdepth_ros.core.intrinsics import Intrinsics
from msdepth_ros.core.laser_scan import depth_to_scan, scan_geometry
from msdepth_ros.msgs import writers
from msdepth_ros.msgs.cdr_messages import CameraInfo, CDR_TYPES, ENCAPSULATION, serialize
from msdepth_ros.ros.conversions import RCLPY_TYPES
import numpy as np
import pytest
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import CameraInfo as RclpyCameraInfo
from sensor_msgs.msg import Image, LaserScan, PointCloud2

frame_ids = st.text(alphabet=st.characters(blacklist_categories=('Cs',),
                                           blacklist_characters='\x00'), max_size=12)


def _build(kind: str, types, stamp_ns: int, frame_id: str, height: int, width: int, seed: int):
    rng = np.random.default_rng(seed)
    msg_header = writers.header(types, stamp_ns, frame_id)
    depth = rng.uniform(0.5, 90.0, (height, width)).astype(np.float32)
    depth[rng.random(depth.shape) < 0.2] = np.nan
    intrinsics = Intrinsics(0.8 * width, 0.8 * width, (width - 1) / 2, (height - 1) / 2, width,
                            height)
    if kind == 'depth':
        return writers.image(types, depth, '32FC1', msg_header)
    if kind == 'rgb8':
        pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        return writers.image(types, pixels, 'rgb8', msg_header)
    if kind == 'mono16':
        pixels = rng.integers(0, 65536, (height, width), dtype=np.uint16)
        return writers.image(types, pixels, '16UC1', msg_header)
    if kind == 'info':
        return writers.intrinsics_camera_info(types, intrinsics, msg_header)
    if kind in ('cloud', 'cloud_rgb'):
        points = rng.normal(size=(height, width, 3)).astype(np.float32)
        rgb = (rng.integers(0, 256, (height, width, 3), dtype=np.uint8) if kind == 'cloud_rgb'
               else None)
        return writers.organized_pointcloud(types, points, msg_header, rgb=rgb)
    geometry = scan_geometry(intrinsics, 1)
    return writers.laser_scan(types, msg_header, frame_id + '_scan',
                              depth_to_scan(depth, geometry, 0.5, 80.0), geometry, 0.5,
                              math.inf if seed % 2 else 80.0)


KINDS = {'depth': Image, 'rgb8': Image, 'mono16': Image, 'info': RclpyCameraInfo,
         'cloud': PointCloud2, 'cloud_rgb': PointCloud2, 'scan': LaserScan}
TYPES = {kind: f'sensor_msgs/msg/{cls.__name__}'
         for kind, cls in KINDS.items()}
#: Arguments of ``_build`` (scans need two columns).
MESSAGES = {'kind': st.sampled_from(sorted(KINDS)),
            'stamp_ns': st.integers(0, 2**31 * 10**9 - 1), 'frame_id': frame_ids,
            'height': st.integers(1, 9), 'width': st.integers(2, 13),
            'seed': st.integers(0, 1000)}


@settings(max_examples=120, deadline=None)
@given(**MESSAGES)
def test_rclpy_reads_every_field_back(kind, stamp_ns, frame_id, height, width, seed):
    ours = serialize(_build(kind, CDR_TYPES, stamp_ns, frame_id, height, width, seed))
    expected = _build(kind, RCLPY_TYPES, stamp_ns, frame_id, height, width, seed)
    rclpy_bytes = serialize_message(expected)
    # rclpy reads our bytes as it reads its own: each read is serialized by rclpy again and
    # normalised through rosbags (rclpy leaves its alignment padding unset), so every field,
    # NaN included, is compared by its bytes.

    def normalised(data: bytes) -> bytes:
        again = serialize_message(deserialize_message(data, KINDS[kind]))
        return bytes(bag_serialize(typestore().deserialize_cdr(again, TYPES[kind])))

    assert normalised(ours) == normalised(rclpy_bytes)
    assert len(ours) == len(rclpy_bytes)
    assert ours[:4] == ENCAPSULATION


@settings(max_examples=80, deadline=None)
@given(**MESSAGES)
def test_rosbags_writes_the_same_bytes(kind, stamp_ns, frame_id, height, width, seed):
    ours = serialize(_build(kind, CDR_TYPES, stamp_ns, frame_id, height, width, seed))
    theirs = bytes(bag_serialize(_build(kind, bag_types(), stamp_ns, frame_id, height, width,
                                        seed)))
    assert ours == theirs


def test_fields_are_checked():
    msg_header = writers.header(CDR_TYPES, 0, 'cam')
    with pytest.raises(TypeError, match=r"missing fields \['width'\]"):
        CDR_TYPES.Image(header=msg_header, height=1, encoding='mono8', is_bigendian=0, step=1,
                        data=np.zeros(1, np.uint8))
    info = writers.intrinsics_camera_info(CDR_TYPES, Intrinsics(1, 1, 0, 0, 2, 2), msg_header)
    assert isinstance(info, CameraInfo)
    info.k = np.zeros(8)
    with pytest.raises(ValueError, match='sensor_msgs/msg/CameraInfo.k: 9 values are needed'):
        serialize(info)
    info.k = np.zeros(9)
    info.height = -1
    with pytest.raises(Exception, match='argument out of range|format requires'):
        serialize(info)
