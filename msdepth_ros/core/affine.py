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
Per-axis affine maps between pixel grids.

Pixel centres sit at integer coordinates (ROS and OpenCV convention). Every change of grid
that the project makes (resize, crop, binning, the network's output stride, upsampling) is
one of the constructors below, and chains of them compose into one map per axis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AxisMap:
    """``t = scale * s + offset``: source coordinate ``s`` to target coordinate ``t``."""

    scale: float
    offset: float

    def __call__(self, s: np.ndarray | float) -> np.ndarray | float:
        """Map source coordinates to target coordinates."""
        return self.scale * s + self.offset

    def then(self, other: AxisMap) -> AxisMap:
        """Return the map that applies ``self`` first and ``other`` second."""
        return AxisMap(other.scale * self.scale, other.scale * self.offset + other.offset)

    def inverse(self) -> AxisMap:
        """Return the map from target coordinates back to source coordinates."""
        return AxisMap(1.0 / self.scale, -self.offset / self.scale)


@dataclass(frozen=True)
class PixelMap:
    """Independent affine maps of the x (column) and y (row) pixel coordinates."""

    x: AxisMap
    y: AxisMap

    @staticmethod
    def identity() -> PixelMap:
        """Map every pixel onto itself."""
        return PixelMap(AxisMap(1.0, 0.0), AxisMap(1.0, 0.0))

    @staticmethod
    def resize(scale_x: float, scale_y: float) -> PixelMap:
        """
        Resize by ``scale_x`` x ``scale_y`` (new size / old size).

        The image's outer edges (-0.5 and size - 0.5) stay the outer edges, so
        ``x' = (x + 0.5) * s - 0.5``; this is what ``cv2.resize`` does.
        """
        return PixelMap(AxisMap(scale_x, 0.5 * scale_x - 0.5),
                        AxisMap(scale_y, 0.5 * scale_y - 0.5))

    @staticmethod
    def crop(x0: float, y0: float) -> PixelMap:
        """Crop whose first column and row are ``x0`` and ``y0`` of the source."""
        return PixelMap(AxisMap(1.0, -float(x0)), AxisMap(1.0, -float(y0)))

    @staticmethod
    def strided(stride: float, first_centre_x: float, first_centre_y: float) -> PixelMap:
        """
        Map from a grid to the coarser grid of a strided layer.

        Target pixel ``k`` is centred on source pixel ``stride * k + first_centre``.
        """
        return PixelMap(AxisMap(stride, first_centre_x).inverse(),
                        AxisMap(stride, first_centre_y).inverse())

    def then(self, other: PixelMap) -> PixelMap:
        """Return the map that applies ``self`` first and ``other`` second."""
        return PixelMap(self.x.then(other.x), self.y.then(other.y))

    def inverse(self) -> PixelMap:
        """Return the map from target pixels back to source pixels."""
        return PixelMap(self.x.inverse(), self.y.inverse())

    def apply(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map source pixel coordinates ``(u, v)`` to target coordinates."""
        return self.x(u), self.y(v)

    def matrix(self) -> np.ndarray:
        """
        Return the 3x3 float64 matrix of the map on homogeneous pixels ``(u, v, 1)``.

        A projection matrix of the source image becomes ``matrix() @ P`` for the target image.
        """
        return np.array([[self.x.scale, 0.0, self.x.offset],
                         [0.0, self.y.scale, self.y.offset], [0.0, 0.0, 1.0]])
