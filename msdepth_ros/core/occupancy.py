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
Occupancy accuracy: which 2D cells a cloud marks, as Nav2's obstacle layer marks them.

A point marks the cell ``(floor(x / cell), floor(y / cell))`` of the robot's base frame when
its height ``z`` in that frame is within ``[min_height, max_height]`` (the obstacle layer's
``min_obstacle_height`` and ``max_obstacle_height``), its distance from the sensor within
``[min_range, max_range]`` (``obstacle_min_range``, ``obstacle_max_range``: Euclidean, from the
sensor's origin) and it lies inside the camera's horizontal field of view (between the rays of
the left edge of column 0 and the right edge of column ``W - 1``, in front of the camera). Both
clouds, the one predicted from depth and the true one (a LIDAR's through TF, or exact depth on
synthetic drives), go through the same test, so that the truth is limited to what the camera
could have seen.

Scores count occupied cells: true positives (marked by both), false positives (marked by the
prediction only: phantom obstacles, which stop a robot) and false negatives (missed obstacles,
which it hits). Precision ``TP / (TP + FP)``, recall ``TP / (TP + FN)`` and IoU ``TP / (TP + FP +
FN)`` are NaN where their denominator is 0. Over a run, the counts are summed (``__add__``),
not the ratios averaged, so that frames with many cells weigh more.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

from msdepth_ros.core.camera import pixel_rays
from msdepth_ros.core.cloud_filter import CloudFilter
from msdepth_ros.core.intrinsics import Intrinsics
from msdepth_ros.core.transforms import apply, invert
import numpy as np

#: Nav2's usual local costmap resolution.
DEFAULT_CELL_M = 0.1
#: Names of the scores, in the order of tables and metrics messages.
OCCUPANCY_NAMES = ('precision', 'recall', 'iou')

# Cell indices (|index| < 2^30) are packed into one int64 key for fast set operations.
_OFFSET = 1 << 30


@dataclass(frozen=True)
class OccupancySpec:
    """
    How points mark cells (see the module's docstring); metres, in the base frame.

    ``cell_m``: cell size; ``min_height_m``, ``max_height_m``: the obstacle height band (z in
    the base frame); ``min_range_m``, ``max_range_m``: distance from the camera.
    """

    cell_m: float = DEFAULT_CELL_M
    min_height_m: float = 0.1
    max_height_m: float = 2.0
    min_range_m: float = 0.0
    max_range_m: float = 10.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.cell_m) and self.cell_m > 0):
            raise ValueError(f'cell_m must be > 0, got {self.cell_m}')
        if not self.min_height_m < self.max_height_m:
            raise ValueError(f'need min_height_m < max_height_m, got {self.min_height_m} and '
                             f'{self.max_height_m}')
        if not 0.0 <= self.min_range_m < self.max_range_m:
            raise ValueError(f'need 0 <= min_range_m < max_range_m, got {self.min_range_m} and '
                             f'{self.max_range_m}')


@dataclass(frozen=True)
class OccupancyScore:
    """Occupied-cell counts of one frame or a run, and the ratios made from them."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: OccupancyScore) -> OccupancyScore:
        """Sum the counts (a run's score is the sum of its frames')."""
        return OccupancyScore(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def precision(self) -> float:
        """Return the share of predicted occupied cells that are occupied (NaN: none)."""
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        """Return the share of occupied cells that were predicted (NaN: none)."""
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def iou(self) -> float:
        """Return intersection over union of the two sets of occupied cells (NaN: both empty)."""
        return _ratio(self.tp, self.tp + self.fp + self.fn)

    def values(self) -> dict[str, float]:
        """Return ``OCCUPANCY_NAMES`` -> value."""
        return {name: getattr(self, name) for name in OCCUPANCY_NAMES}


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else math.nan


def in_view(points_cam: np.ndarray, camera: Intrinsics) -> np.ndarray:
    """
    Which points lie inside the camera's horizontal field of view.

    ``points_cam``: ``N x 3`` in the camera's optical frame. Returns ``N`` bools: in front of
    the camera (``z > 0``) and between the outer edges of columns 0 and ``W - 1``.
    """
    x, z = points_cam[:, 0], points_cam[:, 2]
    with np.errstate(invalid='ignore', divide='ignore'):
        u = camera.fx_px * x / z + camera.cx_px
        return (z > 0) & (u >= -0.5) & (u <= camera.width - 0.5)


def occupied_cells(points_base: np.ndarray, T_base_cam: np.ndarray, camera: Intrinsics,
                   spec: OccupancySpec) -> np.ndarray:
    """
    Return the cells a cloud marks.

    Parameters
    ----------
    points_base:
        ``N x 3`` points in the base frame, metres; non-finite points are ignored.
    T_base_cam:
        4x4 pose of the camera's optical frame in the base frame.
    camera:
        The camera whose field of view limits the cells (the depth image's intrinsics).
    spec:
        Cell size, height band and range.

    Returns
    -------
    Sorted unique int64 cell keys (``cell_key``), one per occupied cell.

    """
    points = np.asarray(points_base, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f'points must be N x 3, got shape {points.shape}')
    points = points[np.isfinite(points).all(axis=1)]
    band = (points[:, 2] >= spec.min_height_m) & (points[:, 2] <= spec.max_height_m)
    points = points[band]
    points_cam = apply(invert(T_base_cam), points)
    distance = np.linalg.norm(points_cam, axis=1)
    keep = in_view(points_cam, camera) & (distance >= spec.min_range_m) \
        & (distance <= spec.max_range_m)
    cells = np.floor(points[keep, :2] / spec.cell_m).astype(np.int64)
    return np.unique(cell_key(cells[:, 0], cells[:, 1]))


def cell_key(ix: np.ndarray, iy: np.ndarray) -> np.ndarray:
    """Pack cell indices (``|index| < 2^30``) into one int64 key per cell."""
    return ((np.asarray(ix, np.int64) + _OFFSET) << 32) | (np.asarray(iy, np.int64) + _OFFSET)


def cell_indices(keys: np.ndarray) -> np.ndarray:
    """Unpack ``cell_key`` keys into ``K x 2`` (ix, iy) cell indices."""
    keys = np.asarray(keys, np.int64)
    return np.stack([(keys >> 32) - _OFFSET, (keys & 0xFFFFFFFF) - _OFFSET], axis=1)


def score_cells(predicted: np.ndarray, truth: np.ndarray) -> OccupancyScore:
    """Compare two sets of cell keys (``occupied_cells``)."""
    tp = int(np.intersect1d(predicted, truth, assume_unique=True).size)
    return OccupancyScore(tp=tp, fp=int(np.size(predicted)) - tp, fn=int(np.size(truth)) - tp)


def depth_cloud_base(depth_m: np.ndarray, camera: Intrinsics, T_base_cam: np.ndarray,
                     cloud_filter: CloudFilter | None = None) -> np.ndarray:
    """
    Return the cloud of a depth image in the base frame, as the depth node builds it.

    Parameters
    ----------
    depth_m:
        ``H x W`` depth (z) in metres, NaN invalid.
    camera:
        Its intrinsics.
    T_base_cam:
        4x4 pose of the camera's optical frame in the base frame.
    cloud_filter:
        The cloud's filter (``core.cloud_filter``); None: every valid pixel.

    Returns
    -------
    ``N x 3`` float64 finite points in the base frame.

    """
    depth = np.asarray(depth_m, dtype=np.float32)
    if depth.shape != (camera.height, camera.width):
        raise ValueError(f'depth image is {depth.shape[::-1]} (w, h), the camera is '
                         f'{camera.size}')
    rays = pixel_rays(camera)
    cloud_filter = CloudFilter() if cloud_filter is None else cloud_filter
    xyz = cloud_filter.points(depth, rays, np.linalg.norm(rays, axis=-1)).reshape(-1, 3)
    points_cam = xyz[np.isfinite(xyz[:, 2])].astype(np.float64)
    return apply(T_base_cam, points_cam)


def depth_occupancy(depth_m: np.ndarray, camera: Intrinsics, T_base_cam: np.ndarray,
                    spec: OccupancySpec, cloud_filter: CloudFilter | None = None) -> np.ndarray:
    """Return the cells (``occupied_cells``) that a depth image's cloud marks."""
    return occupied_cells(depth_cloud_base(depth_m, camera, T_base_cam, cloud_filter),
                          T_base_cam, camera, spec)
