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
The depth behind a costmap-ready point cloud: flying pixels dropped, a range cap, decimation.

A depth network smooths across object boundaries, so the pixels at a depth discontinuity get
depths between the near and the far surface: "flying pixels" that float in free space and mark
phantom obstacles in a costmap. ``CloudFilter`` drops them (a pixel whose 4- or 8-neighbours'
depth differs from its own by more than a fraction of its own depth), drops points farther than
a range of their own (monocular depth is least reliable far away), and keeps every
``stride``-th pixel of every ``stride``-th row, in one vectorised pass over the pixels kept.
The depth image itself is left as it is (REP 118): only the cloud is built from the result.

Decimation keeps pixels ``(v, u) = (stride * i, stride * j)``; the neighbours of a kept pixel are
its neighbours in the full image, so decimation never hides a discontinuity. Neighbours outside
the image or without depth (NaN) are not compared.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

import numpy as np

#: Default relative depth jump that marks a flying pixel: 0, off. Measured with the demo model
#: (docs/navigation.md, benchmarks/occupancy.py), the filter lowered occupancy precision and
#: recall at every threshold tried at the node's default resolution; 0.1 is where to start with
#: a model whose edges it does help.
DEFAULT_FLYING_PIXEL_THRESHOLD = 0.0
#: Neighbourhoods of the flying-pixel test.
NEIGHBOURHOODS = (4, 8)

_OFFSETS = {
    4: ((-1, 0), (1, 0), (0, -1), (0, 1)),
    8: ((-1, 0), (1, 0), (0, -1), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1)),
}


@dataclass(frozen=True)
class CloudFilter:
    """
    What the cloud keeps of a depth image.

    ``flying_pixel_threshold``: relative depth jump to any neighbour that drops a pixel
    (``|z_n - z| > threshold * z``); 0 turns the test off. ``neighbourhood``: 4 or 8
    neighbours. ``max_range_m``: points farther than this from the camera (Euclidean, along
    the ray) are dropped; ``inf`` keeps all. ``stride``: keep every stride-th pixel of every
    stride-th row (1: all).
    """

    flying_pixel_threshold: float = 0.0
    neighbourhood: int = 8
    max_range_m: float = math.inf
    stride: int = 1

    def __post_init__(self) -> None:
        if not (math.isfinite(self.flying_pixel_threshold)
                and self.flying_pixel_threshold >= 0.0):
            raise ValueError(f'flying_pixel_threshold must be >= 0 (0: off), got '
                             f'{self.flying_pixel_threshold}')
        if self.neighbourhood not in NEIGHBOURHOODS:
            raise ValueError(f'neighbourhood must be 4 or 8, got {self.neighbourhood}')
        if not self.max_range_m > 0.0:
            raise ValueError(f'max_range_m must be > 0 (inf: no cap), got {self.max_range_m}')
        if int(self.stride) != self.stride or self.stride < 1:
            raise ValueError(f'stride must be an integer >= 1, got {self.stride}')

    @property
    def identity(self) -> bool:
        """Return True when the filter keeps every valid point (nothing to do)."""
        return (self.flying_pixel_threshold == 0.0 and math.isinf(self.max_range_m)
                and self.stride == 1)

    def apply(self, depth_m: np.ndarray, ray_norm: np.ndarray | None = None) -> np.ndarray:
        """
        Depth of the cloud's points.

        Parameters
        ----------
        depth_m:
            ``H x W`` depth (z) in metres; NaN, infinite, zero or negative is invalid.
        ray_norm:
            ``H x W`` length of each pixel's ray with unit z (``|core.camera.pixel_rays|``), so
            that the range cap is along the ray; None: the cap is on z.

        Returns
        -------
        ``ceil(H / stride) x ceil(W / stride)`` float32 depth of the pixels
        ``(stride * i, stride * j)``, NaN where invalid, a flying pixel or beyond the range.
        Back-project it with the same pixels' rays (``rays[::stride, ::stride]``).

        """
        depth = np.asarray(depth_m, dtype=np.float32)
        if depth.ndim != 2:
            raise ValueError(f'depth must be H x W, got shape {depth.shape}')
        step = int(self.stride)
        with np.errstate(invalid='ignore'):
            kept = depth[::step, ::step].copy()
            kept[~(np.isfinite(kept) & (kept > 0.0))] = np.nan
            drop = np.zeros(kept.shape, dtype=bool)
            if self.flying_pixel_threshold > 0.0:
                drop |= _flying(depth, kept, step, self.flying_pixel_threshold,
                                self.neighbourhood)
            if not math.isinf(self.max_range_m):
                reach = kept if ray_norm is None else kept * _checked_norm(
                    ray_norm, depth.shape)[::step, ::step]
                drop |= reach > self.max_range_m
        kept[drop] = np.nan
        return kept

    def points(self, depth_m: np.ndarray, rays: np.ndarray,
               ray_norm: np.ndarray | None = None) -> np.ndarray:
        """
        Return the cloud of a depth image: its kept depths (``apply``) on their rays.

        ``rays`` is ``core.camera.pixel_rays`` of the depth image (``H x W x 3``), ``ray_norm``
        as for ``apply``. Returns ``ceil(H / stride) x ceil(W / stride) x 3`` float32 points in
        the depth image's optical frame, NaN where a pixel is invalid or dropped; with the
        identity filter exactly ``core.camera.backproject``'s.
        """
        step = int(self.stride)
        return np.multiply(rays[::step, ::step], self.apply(depth_m, ray_norm)[..., None])


def flying_pixels(depth_m: np.ndarray, threshold: float, neighbourhood: int = 8) -> np.ndarray:
    """
    Which pixels are flying pixels.

    Returns ``H x W`` bools: True where the pixel has a valid depth ``z`` and a valid 4- or
    8-neighbour whose depth differs from ``z`` by more than ``threshold * z``.
    """
    if neighbourhood not in NEIGHBOURHOODS:
        raise ValueError(f'neighbourhood must be 4 or 8, got {neighbourhood}')
    depth = np.asarray(depth_m, dtype=np.float32)
    with np.errstate(invalid='ignore'):
        kept = np.where(np.isfinite(depth) & (depth > 0.0), depth, np.float32(np.nan))
        return _flying(depth, kept, 1, threshold, neighbourhood)


def _flying(depth: np.ndarray, kept: np.ndarray, step: int, threshold: float,
            neighbourhood: int) -> np.ndarray:
    """Flag the kept pixels (``depth[::step, ::step]``, NaN invalid) with a depth jump."""
    height, width = depth.shape
    padded = np.full((height + 2, width + 2), np.nan, dtype=np.float32)
    padded[1:-1, 1:-1] = depth
    # Invalid neighbours (NaN, inf, <= 0) must not count: NaN compares False below.
    inner = padded[1:-1, 1:-1]
    inner[~(np.isfinite(inner) & (inner > 0.0))] = np.nan
    rows, cols = kept.shape
    limit = np.float32(threshold) * kept
    flagged = np.zeros(kept.shape, dtype=bool)
    for dv, du in _OFFSETS[neighbourhood]:
        neighbour = padded[1 + dv:1 + dv + step * rows:step, 1 + du:1 + du + step * cols:step]
        flagged |= np.abs(neighbour - kept) > limit
    return flagged


def _checked_norm(ray_norm: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    ray_norm = np.asarray(ray_norm)
    if ray_norm.shape != shape:
        raise ValueError(f'ray_norm must have the depth image shape {shape}, got '
                         f'{ray_norm.shape}')
    return ray_norm
