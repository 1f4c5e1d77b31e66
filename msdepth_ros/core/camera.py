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
Depth images to points and points to pixels, in the camera's optical frame.

Optical frame (REP 103): x right, y down, z forward, metres. Depth is the z coordinate, not the
range along the ray (REP 118).
"""

from __future__ import annotations

from msdepth_ros.core.intrinsics import Intrinsics
import numpy as np


def pixel_rays(intrinsics: Intrinsics) -> np.ndarray:
    """
    Rays of every pixel with unit z.

    Returns an ``H x W x 3`` float32 array ``((u - cx) / fx, (v - cy) / fy, 1)``; a point at
    depth ``z`` on the ray of pixel ``(u, v)`` is ``z * rays[v, u]``.
    """
    w, h = intrinsics.size
    rays = np.empty((h, w, 3), dtype=np.float32)
    rays[..., 0] = ((np.arange(w, dtype=np.float64) - intrinsics.cx_px)
                    / intrinsics.fx_px)[None, :]
    rays[..., 1] = ((np.arange(h, dtype=np.float64) - intrinsics.cy_px)
                    / intrinsics.fy_px)[:, None]
    rays[..., 2] = 1.0
    return rays


def backproject(depth_m: np.ndarray, intrinsics: Intrinsics,
                rays: np.ndarray | None = None, out: np.ndarray | None = None) -> np.ndarray:
    """
    Organized point array of a depth image.

    Parameters
    ----------
    depth_m:
        ``H x W`` depth in metres; NaN, infinite, zero or negative depth is invalid.
    intrinsics:
        The depth image's intrinsics (its size must be ``W x H``).
    rays:
        ``pixel_rays(intrinsics)``, to skip recomputing them for every frame.
    out:
        Optional ``H x W x 3`` float32 buffer.

    Returns
    -------
    ``H x W x 3`` float32 points (x, y, z) in metres, all three NaN where depth is invalid.

    """
    depth_m = np.asarray(depth_m)
    if depth_m.shape != (intrinsics.height, intrinsics.width):
        raise ValueError(f'depth image is {depth_m.shape[::-1]} (w, h), intrinsics are for '
                         f'{intrinsics.size}')
    if rays is None:
        rays = pixel_rays(intrinsics)
    depth = depth_m.astype(np.float32, copy=True)
    with np.errstate(invalid='ignore'):
        depth[~(np.isfinite(depth) & (depth > 0.0))] = np.nan
    return np.multiply(rays, depth[..., None], out=out)


def project(points: np.ndarray, intrinsics: Intrinsics) -> tuple[np.ndarray, np.ndarray]:
    """
    Project points in the optical frame onto the image.

    Parameters
    ----------
    points:
        ``N x 3`` points (x, y, z) in metres.
    intrinsics:
        The camera to project into.

    Returns
    -------
    ``(uv, z)``: ``N x 2`` float64 pixel coordinates (column, row; pixel centres at integers)
    and the ``N`` depths. Points with ``z <= 0`` get NaN coordinates.

    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f'points must be N x 3, got {points.shape}')
    z = points[:, 2]
    with np.errstate(divide='ignore', invalid='ignore'):
        inv_z = np.where(z > 0.0, 1.0 / z, np.nan)
    uv = np.empty((points.shape[0], 2), dtype=np.float64)
    uv[:, 0] = intrinsics.fx_px * points[:, 0] * inv_z + intrinsics.cx_px
    uv[:, 1] = intrinsics.fy_px * points[:, 1] * inv_z + intrinsics.cy_px
    return uv, z


def depth_image_from_points(points: np.ndarray, intrinsics: Intrinsics) -> np.ndarray:
    """
    Sparse depth image of points in the optical frame; the nearest point wins each pixel.

    A point lands on the pixel whose centre is nearest to its projection; points behind the
    camera or outside the image are dropped. Returns ``H x W`` float32 metres, NaN where no
    point landed.
    """
    uv, z = project(points, intrinsics)
    u = np.rint(uv[:, 0])
    v = np.rint(uv[:, 1])
    keep = (z > 0.0) & (u >= 0) & (u < intrinsics.width) & (v >= 0) & (v < intrinsics.height)
    u, v, z = u[keep].astype(np.int64), v[keep].astype(np.int64), z[keep]
    depth = np.full(intrinsics.width * intrinsics.height, np.inf)
    np.minimum.at(depth, v * intrinsics.width + u, z)
    depth[np.isinf(depth)] = np.nan
    return depth.reshape(intrinsics.height, intrinsics.width).astype(np.float32)
