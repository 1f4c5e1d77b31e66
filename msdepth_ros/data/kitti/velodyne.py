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
KITTI Velodyne scans and the ground-truth depth maps projected from them.

A scan (``velodyne_points/data/*.bin``) holds float32 x, y, z, reflectance per point in the
Velodyne frame (x forward, y left, z up, metres); ``KittiCalibration.T_cam_velo`` moves the
points into a rectified camera's optical frame.
"""

from __future__ import annotations

import os
from pathlib import Path

from msdepth_ros.core.camera import depth_image_from_points
from msdepth_ros.core.transforms import apply
from msdepth_ros.data.base import DatasetError, write_atomically
from msdepth_ros.data.kitti.calibration import KittiCalibration
import numpy as np


def read_velodyne_points(path: str | os.PathLike) -> np.ndarray:
    """Read a Velodyne scan (``.bin``: float32 x, y, z, reflectance) as ``N x 4`` float32."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f'{path}: no such Velodyne scan')
    data = np.fromfile(path, dtype='<f4')
    if data.size % 4:
        raise DatasetError(f'{path}: {data.size * 4} bytes is not a whole number of 16-byte '
                           'points (truncated file?)')
    return data.reshape(-1, 4)


def write_velodyne_points(path: str | os.PathLike, points: np.ndarray) -> Path:
    """Write ``N x 4`` points (x, y, z, reflectance) as a KITTI ``.bin`` scan."""
    points = np.asarray(points)
    if points.ndim != 2 or points.shape[1] != 4:
        raise ValueError(f'points must be N x 4, got {points.shape}')
    data = np.ascontiguousarray(points, dtype='<f4')
    return write_atomically(path, lambda tmp: data.tofile(tmp))


def _xyz(points: np.ndarray) -> np.ndarray:
    """``N x 3`` float64 x, y, z of ``N x 3`` (or ``N x 4`` with reflectance) points."""
    points = np.asarray(points)
    if points.ndim != 2 or points.shape[1] < 3:
        raise ValueError(f'points must be N x 3 (or more columns), got {points.shape}')
    return points[:, :3].astype(np.float64)


#: Pixel conventions of Velodyne ground truth. ``exact``: a point lands on the pixel whose
#: centre is nearest to its projection (pixel centres at 0-based integers). ``eigen``: the
#: convention of the published KITTI tables (Eigen's MATLAB code, monodepth2's
#: ``generate_depth_map``): the rounded projection minus 1 in x and y, so every point sits one
#: pixel up and left of ``exact``.
GT_PIXEL_CONVENTIONS = ('exact', 'eigen')


def lidar_depth_image(points_velo: np.ndarray, calibration: KittiCalibration,
                      camera: int, pixel_convention: str = 'exact') -> np.ndarray:
    """
    Ground-truth depth of camera ``camera`` from a Velodyne scan.

    ``exact``: the points are moved into the rectified camera's optical frame
    (``T_cam_velo``) and projected with its intrinsics; the nearest point wins a pixel and
    points behind the camera are dropped (``core.camera.depth_image_from_points``).
    ``eigen``: ``eigen_lidar_depth_image``. Returns ``H x W`` float32 metres, NaN where no
    point landed.
    """
    if pixel_convention == 'eigen':
        return eigen_lidar_depth_image(points_velo, calibration, camera)
    if pixel_convention != 'exact':
        raise ValueError(f'pixel_convention must be one of {GT_PIXEL_CONVENTIONS}, got '
                         f'{pixel_convention!r}')
    points_cam = apply(calibration.T_cam_velo(camera), _xyz(points_velo))
    return depth_image_from_points(points_cam, calibration.intrinsics(camera))


def eigen_lidar_depth_image(points_velo: np.ndarray, calibration: KittiCalibration,
                            camera: int) -> np.ndarray:
    """
    Ground truth as the published KITTI tables compute it (Eigen split evaluation).

    The chain of monodepth2's ``generate_depth_map`` (after Eigen's MATLAB code): points with
    Velodyne ``x >= 0`` are projected with ``P_rect_0i @ R_rect_00 @ T_cam0_velo``; the pixel
    is ``round(u) - 1, round(v) - 1`` (a 1-based MATLAB index used as a 0-based one), kept
    inside the image; the nearest point wins a pixel, and a pixel whose nearest value is not
    positive (a point beside the camera) has no ground truth. Returns ``H x W`` float32
    metres, NaN where no point landed.
    """
    xyz = _xyz(points_velo)
    xyz = xyz[xyz[:, 0] >= 0]
    matrix = calibration.p_rect[calibration._check_camera(camera)] @ calibration.T_rect0_velo()
    hom = xyz @ matrix[:, :3].T + matrix[:, 3]
    width, height = calibration.image_sizes[camera]
    with np.errstate(divide='ignore', invalid='ignore'):
        u = np.round(hom[:, 0] / hom[:, 2]) - 1
        v = np.round(hom[:, 1] / hom[:, 2]) - 1
    keep = (u >= 0) & (v >= 0) & (u < width) & (v < height)
    u, v, z = u[keep].astype(np.int64), v[keep].astype(np.int64), hom[keep, 2]
    depth = np.full(width * height, np.inf)
    np.minimum.at(depth, v * width + u, z)
    depth[~(depth > 0) | np.isinf(depth)] = np.nan
    return depth.reshape(height, width).astype(np.float32)
