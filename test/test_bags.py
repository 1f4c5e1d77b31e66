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

"""The bag library's rosbags messages and atomic bag writer (``msdepth_ros.bags.files``)."""

from __future__ import annotations

from msdepth_ros.bags.files import (bag_qos, bag_types, BagError, BagOutput, image_rgb,
                                    message_type, open_reader, serialize, tf_message)
from msdepth_ros.msgs import writers
from msdepth_ros.msgs.readers import pointcloud2_fields, tree_from_tf_messages
from msdepth_ros.msgs.writers import stamp_ns
import numpy as np
import pytest
from rosbags.interfaces import QosDurability

TYPES = bag_types()


def test_header_stamps_round_trip():
    msg = writers.header(TYPES, 1_317_034_945_961_661_696, 'cam')
    assert (msg.stamp.sec, msg.stamp.nanosec) == (1_317_034_945, 961_661_696)
    assert msg.frame_id == 'cam'
    assert stamp_ns(msg) == 1_317_034_945_961_661_696


@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8', 'rgba8', 'bgra8', 'mono8'])
def test_image_rgb_reads_every_colour_encoding_with_row_padding(encoding):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    pixels = {'rgb8': rgb, 'bgr8': rgb[..., ::-1],
              'rgba8': np.dstack([rgb, np.full((5, 7), 9, np.uint8)]),
              'bgra8': np.dstack([rgb[..., ::-1], np.full((5, 7), 9, np.uint8)]),
              'mono8': rgb[..., 0]}[encoding]
    msg = writers.image(TYPES, pixels, encoding, writers.header(TYPES, 0, 'cam'))
    assert msg.step == 7 * (pixels.shape[2] if pixels.ndim == 3 else 1)
    expected = rgb if encoding != 'mono8' else np.repeat(rgb[..., :1], 3, axis=2)
    np.testing.assert_array_equal(image_rgb(msg), expected)
    # Rows padded to a longer step read the same.
    rows = msg.data.reshape(5, msg.step)
    msg.data = np.hstack([rows, np.zeros((5, 3), np.uint8)]).reshape(-1)
    msg.step += 3
    np.testing.assert_array_equal(image_rgb(msg), expected)
    msg.data = msg.data[:-1]
    with pytest.raises(ValueError, match='image data is truncated'):
        image_rgb(msg)


def test_depth_images_and_clouds():
    depth = np.array([[1.5, np.nan], [2.0, 3.0]], np.float32)
    msg = writers.image(TYPES, depth, '32FC1', writers.header(TYPES, 5, 'cam'))
    assert (msg.encoding, msg.step, msg.is_bigendian) == ('32FC1', 8, 0)
    np.testing.assert_array_equal(np.frombuffer(msg.data.tobytes(), '<f4').reshape(2, 2),
                                  depth)
    with pytest.raises(ValueError, match='a rgb8 image needs an H x W x 3 uint8'):
        writers.image(TYPES, depth, 'rgb8', writers.header(TYPES, 5, 'cam'))
    with pytest.raises(ValueError, match='a 16UC1 image needs an H x W uint16'):
        writers.image(TYPES, depth, '16UC1', writers.header(TYPES, 5, 'cam'))
    points = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    cloud = writers.pointcloud(TYPES, writers.header(TYPES, 5, 'cam'), points[..., :3],
                               ('x', 'y', 'z'))
    assert (cloud.height, cloud.width, cloud.point_step, cloud.row_step) == (2, 3, 16, 48)
    assert cloud.is_dense
    np.testing.assert_array_equal(pointcloud2_fields(cloud, ('x', 'y', 'z')),
                                  points[..., :3].reshape(-1, 3))
    scan = writers.pointcloud(TYPES, writers.header(TYPES, 5, 'velodyne'), points.reshape(-1, 4),
                              ('x', 'y', 'z', 'intensity'), is_dense=False)
    assert (scan.height, scan.width, scan.is_dense) == (1, 6, False)
    np.testing.assert_array_equal(pointcloud2_fields(scan, ('intensity',))[:, 0],
                                  points[..., 3].reshape(-1))
    # Serializable with the Jazzy typestore.
    assert serialize(cloud)[:4] == b'\x00\x01\x00\x00'


def test_tf_messages_read_back_as_the_transforms():
    angle = 0.3
    T = np.eye(4)
    T[:3, :3] = [[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0],
                 [0, 0, 1]]
    T[:3, 3] = [1.0, -2.0, 0.5]
    msg = tf_message(7, [('base_link', 'velodyne', T)])
    assert msg.transforms[0].header.frame_id == 'base_link'
    tree = tree_from_tf_messages([msg])
    np.testing.assert_allclose(tree.lookup('base_link', 'velodyne'), T, atol=1e-12)


def _write_one(out: BagOutput) -> None:
    conn = out.add_connection('/x', 'std_msgs/msg/Header', bag_qos(transient_local=True))
    out.write(conn, 10, writers.header(TYPES, 10, 'a'))


def test_bag_output_is_atomic(tmp_path):
    final = tmp_path / 'bag'
    with pytest.raises(RuntimeError, match='boom'):
        with BagOutput(final) as out:
            _write_one(out)
            raise RuntimeError('boom')
    assert not final.exists() and not (tmp_path / 'bag.partial').exists()
    with BagOutput(final, storage='sqlite3') as out:
        _write_one(out)
        assert not final.exists()
    assert sorted(p.name for p in final.iterdir()) == ['bag.db3', 'metadata.yaml']
    with pytest.raises(BagError, match='exists already'):
        BagOutput(final).check()
    with pytest.raises(BagError, match='no such folder'):
        BagOutput(tmp_path / 'missing' / 'bag').check()
    reader = open_reader(final)
    try:
        (conn,) = reader.connections
        assert conn.ext.offered_qos_profiles[0].durability == QosDurability.TRANSIENT_LOCAL
        copy_path = tmp_path / 'copy'
        with BagOutput(copy_path, overwrite=True) as out:
            copied = out.copy_connection(conn)
            assert out.copy_connection(conn) is copied
            for c, t, data in reader.messages():
                out.write(copied, t, data)
    finally:
        reader.close()
    reader = open_reader(copy_path)
    try:
        (c2,) = reader.connections
        assert (c2.msgtype, c2.digest, c2.ext) == (conn.msgtype, conn.digest, conn.ext)
        (_, t, data), = reader.messages()
        assert t == 10 and reader.deserialize(data, c2.msgtype).frame_id == 'a'
    finally:
        reader.close()
    with pytest.raises(BagError, match='no such bag'):
        open_reader(tmp_path / 'nothing')
    assert message_type('tf2_msgs/msg/TFMessage').__msgtype__ == 'tf2_msgs/msg/TFMessage'


def test_camera_info_with_roi_and_binning_reads_as_in_the_node():
    from msdepth_ros.msgs.images import camera_info_to_intrinsics
    from sensor_msgs.msg import CameraInfo as RclpyCameraInfo
    k = np.array([[700.0, 0, 620.5], [0, 701.0, 180.25], [0, 0, 1]])
    p = np.hstack([k, np.zeros((3, 1))])
    bag_msg = writers.camera_info(TYPES, writers.header(TYPES, 0, 'cam'), 1242, 375, k, p)
    bag_msg.binning_x, bag_msg.binning_y = 2, 2
    bag_msg.roi.x_offset, bag_msg.roi.y_offset = 10, 20
    bag_msg.roi.width, bag_msg.roi.height = 1200, 340
    node_msg = RclpyCameraInfo(width=1242, height=375, k=k.reshape(-1), p=p.reshape(-1),
                               binning_x=2, binning_y=2)
    node_msg.roi.x_offset, node_msg.roi.y_offset = 10, 20
    node_msg.roi.width, node_msg.roi.height = 1200, 340
    from_bag = camera_info_to_intrinsics(bag_msg)
    assert from_bag == camera_info_to_intrinsics(node_msg)
    assert from_bag.size == (600, 170)
    assert from_bag.fx_px == 350.0
    assert from_bag.cx_px == pytest.approx((620.5 - 10 + 0.5) / 2 - 0.5)
