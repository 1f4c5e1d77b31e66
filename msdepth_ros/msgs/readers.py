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
Duck-typed readers: ``PointCloud2`` fields, ``Transform`` and ``TFMessage`` into numpy.

Every function reads fields by name (``msg.fields``, ``msg.data``, ``t.rotation.w``, ...), so an
rclpy message and a ``rosbags`` message give the same result.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from msdepth_ros.core.transforms import quaternion_to_matrix, rigid_transform, TransformTree
import numpy as np

#: sensor_msgs/PointField datatype constants -> numpy type.
POINTFIELD_DTYPES = {
    1: np.int8, 2: np.uint8, 3: np.int16, 4: np.uint16,
    5: np.int32, 6: np.uint32, 7: np.float32, 8: np.float64,
}


class MessageError(ValueError):
    """A message whose fields do not make sense (truncated data, missing field, bad layout)."""


def pointcloud2_fields(msg: Any, names: Sequence[str]) -> np.ndarray:
    """
    Read the named scalar fields of a ``PointCloud2`` as an ``N x len(names)`` float64 array.

    ``N = height * width``, row by row, padding in rows and points honoured; byte order from
    ``is_bigendian``. Raises ``MessageError`` naming what is wrong (a missing field, a field
    past the point's end, data shorter than ``row_step * height``).
    """
    by_name = {field.name: field for field in msg.fields}
    height, width = int(msg.height), int(msg.width)
    point_step, row_step = int(msg.point_step), int(msg.row_step)
    data = msg.data
    buffer = data if isinstance(data, (bytes, bytearray, memoryview)) else bytes(data) \
        if not isinstance(data, np.ndarray) else data.tobytes()
    if height * width == 0:
        return np.zeros((0, len(names)))
    if point_step <= 0 or row_step < point_step * width:
        raise MessageError(f'point_step {point_step} and row_step {row_step} do not fit '
                           f'{width} points a row')
    if len(buffer) < row_step * height:
        raise MessageError(f'data holds {len(buffer)} bytes, {row_step * height} expected '
                           f'({height} rows of {row_step})')
    order = '>' if msg.is_bigendian else '<'
    columns = []
    for name in names:
        field = by_name.get(name)
        if field is None:
            raise MessageError(f'no field {name!r} (fields: {", ".join(by_name) or "none"})')
        dtype = POINTFIELD_DTYPES.get(int(field.datatype))
        if dtype is None:
            raise MessageError(f'field {name!r} has unknown datatype {field.datatype}')
        dtype = np.dtype(dtype).newbyteorder(order)
        if int(field.offset) + dtype.itemsize > point_step:
            raise MessageError(f'field {name!r} at offset {field.offset} runs past '
                               f'point_step {point_step}')
        rows = np.ndarray((height, width), dtype=dtype, buffer=buffer, offset=int(field.offset),
                          strides=(row_step, point_step))
        columns.append(rows.reshape(-1).astype(np.float64))
    return np.stack(columns, axis=1)


def pointcloud2_xyz(msg: Any) -> np.ndarray:
    """Read the ``N x 3`` float64 x, y, z of a ``PointCloud2`` (non-finite points dropped)."""
    xyz = pointcloud2_fields(msg, ('x', 'y', 'z'))
    return xyz[np.isfinite(xyz).all(axis=1)]


def transform_to_matrix(transform: Any) -> np.ndarray:
    """Return the 4x4 matrix of a ``geometry_msgs/Transform`` (translation and unit quaternion)."""
    t, q = transform.translation, transform.rotation
    return rigid_transform(quaternion_to_matrix(q.x, q.y, q.z, q.w), (t.x, t.y, t.z))


def add_tf_message(tree: TransformTree, msg: Any) -> int:
    """Add every transform of a ``tf2_msgs/TFMessage`` to ``tree``; returns how many."""
    count = 0
    for stamped in msg.transforms:
        tree.add(stamped.header.frame_id.lstrip('/'), stamped.child_frame_id.lstrip('/'),
                 transform_to_matrix(stamped.transform))
        count += 1
    return count


def tree_from_tf_messages(messages: Iterable[Any]) -> TransformTree:
    """Build a ``TransformTree`` from ``TFMessage``s (later transforms replace earlier)."""
    tree = TransformTree()
    for msg in messages:
        add_tf_message(tree, msg)
    return tree
