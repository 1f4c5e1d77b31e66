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

"""Rigid transforms, the transform tree, and the duck-typed readers on both kinds of message."""

from geometry_msgs.msg import TransformStamped
from hypothesis import given, settings, strategies as st
from msdepth_ros.core.transforms import (apply, invert, matrix_to_quaternion, quaternion_to_matrix,
                                         rigid_transform, TransformError, TransformTree)
from msdepth_ros.msgs.readers import (MessageError, pointcloud2_fields, pointcloud2_xyz,
                                      tree_from_tf_messages)
import numpy as np
import pytest
from rosbags.typesys import get_typestore, Stores
from sensor_msgs.msg import PointCloud2, PointField

quaternions = st.tuples(*[st.floats(-1, 1) for _ in range(4)]).filter(
    lambda q: np.linalg.norm(q) > 0.1)


@settings(max_examples=200, deadline=None)
@given(quaternions)
def test_quaternion_round_trip(q):
    rotation = quaternion_to_matrix(*q)
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(rotation) == pytest.approx(1.0)
    back = quaternion_to_matrix(*matrix_to_quaternion(rotation))
    np.testing.assert_allclose(back, rotation, atol=1e-9)


def test_quaternion_known_rotation():
    # 90 degrees about z: x goes to y.
    s = np.sqrt(0.5)
    np.testing.assert_allclose(quaternion_to_matrix(0, 0, s, s) @ [1, 0, 0], [0, 1, 0], atol=1e-12)
    with pytest.raises(ValueError, match='cannot be a rotation'):
        quaternion_to_matrix(0, 0, 0, 0)


def _random_transform(rng):
    return rigid_transform(quaternion_to_matrix(*rng.normal(size=4)), rng.normal(size=3))


def test_tree_lookup_composes_along_the_chain():
    rng = np.random.default_rng(0)
    T_base_velo, T_velo_cam, T_base_imu = (_random_transform(rng) for _ in range(3))
    tree = TransformTree()
    tree.add('base_link', 'velodyne', T_base_velo)
    tree.add('velodyne', 'camera', T_velo_cam)
    tree.add('base_link', 'imu', T_base_imu)
    np.testing.assert_allclose(tree.lookup('camera', 'velodyne'), invert(T_velo_cam), atol=1e-12)
    expected = invert(T_velo_cam) @ invert(T_base_velo) @ T_base_imu
    np.testing.assert_allclose(tree.lookup('camera', 'imu'), expected, atol=1e-12)
    points = rng.normal(size=(5, 3))
    round_trip = apply(tree.lookup('imu', 'camera'), apply(tree.lookup('camera', 'imu'), points))
    np.testing.assert_allclose(round_trip, points, atol=1e-12)
    tree.add('map', 'odom', np.eye(4))
    with pytest.raises(TransformError, match='not connected'):
        tree.lookup('camera', 'odom')
    with pytest.raises(TransformError, match="'nowhere' is unknown"):
        tree.lookup('camera', 'nowhere')


def _cloud_fields(cls_field, float32, uint8):
    return [cls_field(name='x', offset=0, datatype=float32, count=1),
            cls_field(name='y', offset=4, datatype=float32, count=1),
            cls_field(name='z', offset=8, datatype=float32, count=1),
            cls_field(name='intensity', offset=12, datatype=uint8, count=1)]


def _packed(points, intensity, big_endian, point_step=16):
    order = '>' if big_endian else '<'
    dtype = np.dtype({'names': ['x', 'y', 'z', 'i'],
                      'formats': [order + 'f4'] * 3 + ['u1'],
                      'offsets': [0, 4, 8, 12], 'itemsize': point_step})
    array = np.zeros(len(points), dtype=dtype)
    array['x'], array['y'], array['z'] = points.T
    array['i'] = intensity
    return array.tobytes()


@pytest.mark.parametrize('big_endian', [False, True])
def test_pointcloud2_fields_on_rclpy_and_rosbags_messages(big_endian):
    rng = np.random.default_rng(1)
    points = rng.normal(size=(6, 3)).astype(np.float32)
    intensity = np.arange(6, dtype=np.uint8) * 40
    data = _packed(points, intensity, big_endian)
    rclpy_msg = PointCloud2(height=2, width=3, fields=_cloud_fields(PointField, 7, 2),
                            is_bigendian=big_endian, point_step=16, row_step=48,
                            data=data, is_dense=True)
    store = get_typestore(Stores.ROS2_JAZZY)
    types = store.types
    bag_msg = types['sensor_msgs/msg/PointCloud2'](
        header=types['std_msgs/msg/Header'](
            stamp=types['builtin_interfaces/msg/Time'](sec=0, nanosec=0), frame_id='velodyne'),
        height=2, width=3,
        fields=_cloud_fields(lambda **kw: types['sensor_msgs/msg/PointField'](**kw), 7, 2),
        is_bigendian=big_endian, point_step=16, row_step=48,
        data=np.frombuffer(data, dtype=np.uint8), is_dense=True)
    for msg in (rclpy_msg, bag_msg):
        values = pointcloud2_fields(msg, ('x', 'y', 'z', 'intensity'))
        np.testing.assert_array_equal(values[:, :3], points)
        np.testing.assert_array_equal(values[:, 3], intensity)


def test_pointcloud2_xyz_drops_invalid_points_and_rejects_bad_layouts():
    points = np.array([[1, 2, 3], [np.nan, 0, 0], [4, 5, 6]], dtype=np.float32)
    msg = PointCloud2(height=1, width=3, fields=_cloud_fields(PointField, 7, 2)[:3],
                      point_step=16, row_step=48, data=_packed(points, 0, False))
    np.testing.assert_array_equal(pointcloud2_xyz(msg), points[[0, 2]])
    with pytest.raises(MessageError, match="no field 'intensity'"):
        pointcloud2_fields(msg, ('intensity',))
    msg.data = msg.data[:40]
    with pytest.raises(MessageError, match='holds 40 bytes, 48 expected'):
        pointcloud2_xyz(msg)


def test_tf_messages_build_a_tree():
    rng = np.random.default_rng(2)
    T = _random_transform(rng)
    stamped = TransformStamped()
    stamped.header.frame_id = 'base_link'
    stamped.child_frame_id = 'velodyne'
    stamped.transform.translation.x, stamped.transform.translation.y, \
        stamped.transform.translation.z = T[:3, 3]
    q = matrix_to_quaternion(T[:3, :3])
    r = stamped.transform.rotation
    r.x, r.y, r.z, r.w = q

    class TFMessage:  # tf2_msgs/TFMessage has one field, ``transforms``
        transforms = [stamped]

    tree = tree_from_tf_messages([TFMessage()])
    np.testing.assert_allclose(tree.lookup('base_link', 'velodyne'), T, atol=1e-9)
