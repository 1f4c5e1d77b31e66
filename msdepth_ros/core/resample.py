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
Reading a depth image at the camera pixels it covers.

The network's depth image lives on its output grid; ground truth lives on the camera's pixels.
``InputPlan.camera_to_output`` says where each camera pixel sits on the output grid, and these
functions sample the depth image there (bilinear in log depth, as ``log_depth_to_metric``
upsamples), so that evaluation compares prediction and ground truth at the same point.
"""

from __future__ import annotations

from msdepth_ros.core.affine import PixelMap
import numpy as np


def sample_log_bilinear(depth_m: np.ndarray, x: np.ndarray, y: np.ndarray,
                        extrapolate: bool = False) -> np.ndarray:
    """
    Depth at fractional pixel coordinates, interpolated bilinearly in log depth.

    Parameters
    ----------
    depth_m:
        ``H x W`` depth in metres; NaN, infinite, zero or negative is invalid.
    x, y:
        Column and row coordinates (pixel centres at integers), any equal shapes.
    extrapolate:
        Give points outside the image the value at the nearest edge instead of NaN.

    Returns
    -------
    float32 depth in metres of the shape of ``x``. A point inside the image's outer edges
    (``-0.5 .. W - 0.5``, ``-0.5 .. H - 0.5``) gets the weights of its valid neighbours only
    (renormalised); a point outside (unless ``extrapolate``), or with no valid neighbour, gets
    NaN.

    """
    depth = np.asarray(depth_m, dtype=np.float64)
    if depth.ndim != 2:
        raise ValueError(f'depth image must be H x W, got shape {depth.shape}')
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f'x {x.shape} and y {y.shape} differ in shape')
    h, w = depth.shape
    with np.errstate(invalid='ignore', divide='ignore'):
        valid = np.isfinite(depth) & (depth > 0.0)
        log_depth = np.where(valid, np.log(np.where(valid, depth, 1.0)), 0.0)
    inside = (x >= -0.5) & (x <= w - 0.5) & (y >= -0.5) & (y <= h - 0.5)
    if extrapolate:
        inside = np.isfinite(x) & np.isfinite(y)
    # The half-pixel border beyond the outermost centres repeats the edge pixel.
    xc = np.clip(np.where(inside, x, 0.0), 0.0, w - 1.0)
    yc = np.clip(np.where(inside, y, 0.0), 0.0, h - 1.0)
    x0 = np.minimum(np.floor(xc).astype(np.int64), max(w - 2, 0))
    y0 = np.minimum(np.floor(yc).astype(np.int64), max(h - 2, 0))
    x1 = np.minimum(x0 + 1, w - 1)
    y1 = np.minimum(y0 + 1, h - 1)
    fx = xc - x0
    fy = yc - y0
    total = np.zeros(x.shape)
    weight = np.zeros(x.shape)
    for yi, xi, wgt in ((y0, x0, (1 - fx) * (1 - fy)), (y0, x1, fx * (1 - fy)),
                        (y1, x0, (1 - fx) * fy), (y1, x1, fx * fy)):
        ok = valid[yi, xi]
        total += np.where(ok, wgt * log_depth[yi, xi], 0.0)
        weight += np.where(ok, wgt, 0.0)
    with np.errstate(invalid='ignore', divide='ignore'):
        out = np.exp(total / weight)
    # A neighbour with a vanishing weight (an exact hit on a valid pixel) still counts.
    out[~inside | (weight <= 1e-12)] = np.nan
    return out.astype(np.float32)


def depth_at_camera_pixels(depth_m: np.ndarray, camera_to_depth: PixelMap, u: np.ndarray,
                           v: np.ndarray, extrapolate: bool = False) -> np.ndarray:
    """
    Sample a depth image at camera pixels.

    Parameters
    ----------
    depth_m:
        ``H x W`` depth image in metres (for example ``DepthResult.depth_m``).
    camera_to_depth:
        Map from camera pixels to the depth image's pixels (``InputPlan.camera_to_output``).
    u, v:
        Camera pixel columns and rows, equal shapes.
    extrapolate:
        Outside the depth image's area, repeat its nearest edge instead of giving NaN.

    Returns
    -------
    float32 depth in metres of the shape of ``u``; NaN outside the depth image's area.

    """
    x, y = camera_to_depth.apply(np.asarray(u, dtype=np.float64),
                                 np.asarray(v, dtype=np.float64))
    return sample_log_bilinear(depth_m, x, y, extrapolate)


def depth_on_camera_grid(depth_m: np.ndarray, camera_to_depth: PixelMap, width: int,
                         height: int, extrapolate: bool = False) -> np.ndarray:
    """
    Resample the depth image onto every pixel of a ``width`` x ``height`` camera image.

    Returns ``height x width`` float32 metres, NaN where the depth image does not reach
    (unless ``extrapolate``: then its nearest edge).
    """
    x = camera_to_depth.x(np.arange(width, dtype=np.float64))
    y = camera_to_depth.y(np.arange(height, dtype=np.float64))
    xx, yy = np.meshgrid(x, y)
    return sample_log_bilinear(depth_m, xx, yy, extrapolate)
