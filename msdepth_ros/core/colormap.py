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

"""Colour maps for depth previews (the node's ``depth/colorized``, plots, the demo)."""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np

_CV2_MAPS = {
    'turbo': cv2.COLORMAP_TURBO,
    'viridis': cv2.COLORMAP_VIRIDIS,
    'inferno': cv2.COLORMAP_INFERNO,
    'magma': cv2.COLORMAP_MAGMA,
    'plasma': cv2.COLORMAP_PLASMA,
    'jet': cv2.COLORMAP_JET,
}

#: Names accepted by ``colorize_depth``.
COLORMAPS = tuple(sorted(_CV2_MAPS)) + ('gray',)

#: Colour of pixels without valid depth.
INVALID_RGB = (0, 0, 0)


@functools.lru_cache(maxsize=None)
def colormap_lut(name: str) -> np.ndarray:
    """256 x 3 uint8 RGB table of the named colour map (index 0 = near, 255 = far)."""
    if name == 'gray':
        ramp = np.arange(256, dtype=np.uint8)
        lut = np.repeat(ramp[:, None], 3, axis=1)
    elif name in _CV2_MAPS:
        ramp = np.arange(256, dtype=np.uint8).reshape(256, 1)
        lut = cv2.applyColorMap(ramp, _CV2_MAPS[name])[:, 0, ::-1]
    else:
        raise ValueError(f'unknown colour map {name!r}; choose one of {COLORMAPS}')
    # Near is warm: reverse so that index 0 (near) takes the map's high end.
    lut = np.ascontiguousarray(lut[::-1])
    lut.setflags(write=False)
    return lut


def colorize_depth(depth_m: np.ndarray, min_depth_m: float, max_depth_m: float,
                   colormap: str = 'turbo', spacing: str = 'log') -> np.ndarray:
    """
    RGB preview of a depth image.

    Parameters
    ----------
    depth_m:
        ``H x W`` depth in metres; NaN, infinite and non-positive values are drawn black.
    min_depth_m, max_depth_m:
        Range spanned by the colour map; depths outside are clamped.
    colormap:
        One of ``COLORMAPS``; near depths take the map's high end.
    spacing:
        ``log`` spreads colours evenly over log depth, which gives near structure as much of
        the map as far structure (road scenes span 1 to 80 m); ``linear`` spreads them over
        depth.

    Returns
    -------
    ``H x W x 3`` uint8 RGB.

    """
    if not 0.0 < min_depth_m < max_depth_m or not math.isfinite(max_depth_m):
        raise ValueError(f'need 0 < min_depth_m < max_depth_m < inf, got {min_depth_m}, '
                         f'{max_depth_m}')
    if spacing not in ('log', 'linear'):
        raise ValueError(f"spacing must be 'log' or 'linear', got {spacing!r}")
    lut = colormap_lut(colormap)
    depth = np.asarray(depth_m, dtype=np.float32)
    with np.errstate(invalid='ignore', divide='ignore'):
        valid = np.isfinite(depth) & (depth > 0.0)
        d = np.clip(depth, min_depth_m, max_depth_m)
        if spacing == 'log':
            t = np.log(d / min_depth_m) / math.log(max_depth_m / min_depth_m)
        else:
            t = (d - min_depth_m) / (max_depth_m - min_depth_m)
    index = np.zeros(depth.shape, dtype=np.uint8)
    np.rint(t * 255.0, out=t)
    index[valid] = t[valid].astype(np.uint8)
    rgb = lut[index]
    rgb[~valid] = INVALID_RGB
    return rgb
