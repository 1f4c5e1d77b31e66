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
Rigid transforms as 4x4 matrices, quaternions in ROS order (x, y, z, w), and a transform tree.

``T_a_b`` maps points from frame ``b`` into frame ``a`` (``p_a = T_a_b @ p_b``), the convention
of tf2: a ``TransformStamped`` with ``header.frame_id = a`` and ``child_frame_id = b`` holds
``T_a_b``.
"""

from __future__ import annotations

from collections import deque

import numpy as np


class TransformError(LookupError):
    """A transform that the tree cannot give (unknown frame, frames not connected)."""


def quaternion_to_matrix(x: float, y: float, z: float, w: float) -> np.ndarray:
    """3x3 rotation of a quaternion (normalised first; a zero quaternion is an error)."""
    q = np.array([x, y, z, w], dtype=np.float64)
    norm = np.linalg.norm(q)
    if not np.isfinite(norm) or norm < 1e-12:
        raise ValueError(f'quaternion {tuple(q)} cannot be a rotation')
    x, y, z, w = q / norm
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def matrix_to_quaternion(rotation: np.ndarray) -> tuple[float, float, float, float]:
    """Quaternion (x, y, z, w), w >= 0, of a 3x3 rotation (Shepperd's method)."""
    m = np.asarray(rotation, dtype=np.float64)[:3, :3]
    trace = m[0, 0] + m[1, 1] + m[2, 2]
    if trace > 0:
        s = 2.0 * np.sqrt(trace + 1.0)
        q = [(m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, s / 4]
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        q = [s / 4, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s, (m[2, 1] - m[1, 2]) / s]
    elif m[1, 1] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        q = [(m[0, 1] + m[1, 0]) / s, s / 4, (m[1, 2] + m[2, 1]) / s, (m[0, 2] - m[2, 0]) / s]
    else:
        s = 2.0 * np.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        q = [(m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, s / 4, (m[1, 0] - m[0, 1]) / s]
    q = np.array(q)
    q /= np.linalg.norm(q)
    if q[3] < 0:
        q = -q
    return float(q[0]), float(q[1]), float(q[2]), float(q[3])


def rigid_transform(rotation: np.ndarray, translation) -> np.ndarray:
    """4x4 matrix of a 3x3 rotation and a translation."""
    transform = np.eye(4)
    transform[:3, :3] = rotation
    transform[:3, 3] = np.asarray(translation, dtype=np.float64).reshape(3)
    return transform


def invert(transform: np.ndarray) -> np.ndarray:
    """Inverse of a rigid 4x4 transform (transpose of the rotation, no general inverse)."""
    rotation = transform[:3, :3]
    return rigid_transform(rotation.T, -rotation.T @ transform[:3, 3])


def apply(transform: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Points ``... x 3`` mapped by a 4x4 transform."""
    points = np.asarray(points)
    return points @ transform[:3, :3].T + transform[:3, 3]


class TransformTree:
    """
    Static transforms between named frames, looked up along the chain that connects two frames.

    Like tf2's static buffer: each child has one parent; adding a child again replaces its
    transform. Lookups walk the tree in either direction.
    """

    def __init__(self) -> None:
        self._parent: dict[str, tuple[str, np.ndarray]] = {}

    def add(self, parent: str, child: str, T_parent_child: np.ndarray) -> None:
        """Record ``T_parent_child`` (``child`` gets ``parent`` as its one parent)."""
        if not parent or not child or parent == child:
            raise ValueError(f'bad transform frames: parent {parent!r}, child {child!r}')
        self._parent[child] = (parent, np.array(T_parent_child, dtype=np.float64))

    @property
    def frames(self) -> set[str]:
        """Every frame named so far."""
        return set(self._parent) | {parent for parent, _ in self._parent.values()}

    def can_transform(self, target: str, source: str) -> bool:
        """Whether ``lookup(target, source)`` succeeds."""
        try:
            self.lookup(target, source)
        except TransformError:
            return False
        return True

    def lookup(self, target: str, source: str) -> np.ndarray:
        """``T_target_source``: maps points in ``source`` into ``target``."""
        if target == source:
            return np.eye(4)
        edges: dict[str, list[tuple[str, np.ndarray]]] = {}
        for child, (parent, T_parent_child) in self._parent.items():
            edges.setdefault(child, []).append((parent, T_parent_child))
            edges.setdefault(parent, []).append((child, invert(T_parent_child)))
        for frame in (target, source):
            if frame not in edges:
                known = ', '.join(sorted(edges)) or 'none'
                raise TransformError(f'frame {frame!r} is unknown (known frames: {known})')
        # Breadth-first from source; each step maps the next frame's points into the current.
        queue = deque([(source, np.eye(4))])
        seen = {source}
        while queue:
            frame, T_frame_source = queue.popleft()
            for neighbour, T_neighbour_frame in edges[frame]:
                if neighbour in seen:
                    continue
                T_neighbour_source = T_neighbour_frame @ T_frame_source
                if neighbour == target:
                    return T_neighbour_source
                seen.add(neighbour)
                queue.append((neighbour, T_neighbour_source))
        raise TransformError(f'frames {target!r} and {source!r} are not connected')
