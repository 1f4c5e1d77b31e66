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
Pinhole intrinsics of a rectified image and how they change under pixel maps.

This is the only module that indexes K (3x3) and P (3x4) arrays. Pixel centres sit at integer
coordinates (ROS and OpenCV convention), so a pixel map ``u' = a * u + b`` turns ``fx`` into
``a * fx`` and ``cx`` into ``a * cx + b``.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Sequence

from msdepth_ros.core.affine import PixelMap
import numpy as np


class IntrinsicsError(ValueError):
    """Raised for camera parameters that cannot describe a rectified pinhole camera."""


@dataclass(frozen=True)
class Intrinsics:
    """
    Rectified pinhole camera of an image ``width`` x ``height`` pixels.

    Focal lengths and principal point are in pixels of that image. ``Tx`` and ``Ty`` of a
    stereo P matrix are not part of the intrinsics: they are the baseline, see ``from_p``.
    """

    fx_px: float
    fy_px: float
    cx_px: float
    cy_px: float
    width: int
    height: int

    def __post_init__(self) -> None:
        values = (self.fx_px, self.fy_px, self.cx_px, self.cy_px)
        if not all(math.isfinite(v) for v in values):
            raise IntrinsicsError(f'intrinsics must be finite, got fx, fy, cx, cy = {values}')
        if self.fx_px <= 0.0 or self.fy_px <= 0.0:
            raise IntrinsicsError(
                f'focal lengths must be positive, got fx={self.fx_px}, fy={self.fy_px}')
        if int(self.width) != self.width or int(self.height) != self.height:
            raise IntrinsicsError(f'image size must be integral, got {self.width}x{self.height}')
        if self.width <= 0 or self.height <= 0:
            raise IntrinsicsError(f'image size must be positive, got {self.width}x{self.height}')
        object.__setattr__(self, 'width', int(self.width))
        object.__setattr__(self, 'height', int(self.height))
        for name in ('fx_px', 'fy_px', 'cx_px', 'cy_px'):
            object.__setattr__(self, name, float(getattr(self, name)))

    # -- construction from CameraInfo-style arrays ------------------------------------------

    @classmethod
    def from_k(cls, k: Sequence[float] | np.ndarray, width: int, height: int) -> Intrinsics:
        """Build from a row-major 3x3 camera matrix K (9 values or a 3x3 array)."""
        k = _as_matrix(k, (3, 3), 'K')
        _check_pinhole_rows(k, 'K')
        return cls(fx_px=k[0, 0], fy_px=k[1, 1], cx_px=k[0, 2], cy_px=k[1, 2],
                   width=width, height=height)

    @classmethod
    def from_p(cls, p: Sequence[float] | np.ndarray, width: int, height: int) -> Intrinsics:
        """Build from a row-major 3x4 projection matrix P (12 values or a 3x4 array)."""
        p = _as_matrix(p, (3, 4), 'P')
        _check_pinhole_rows(p[:, :3], 'P')
        return cls(fx_px=p[0, 0], fy_px=p[1, 1], cx_px=p[0, 2], cy_px=p[1, 2],
                   width=width, height=height)

    @classmethod
    def from_camera_info(cls, k: Sequence[float] | np.ndarray, p: Sequence[float] | np.ndarray,
                         width: int, height: int) -> Intrinsics:
        """
        Intrinsics of the rectified image, as a CameraInfo message gives them.

        P describes the rectified image and wins over K; a P of all zeros (an uncalibrated or
        hand-written CameraInfo) falls back to K, which is then assumed to describe an image
        without distortion.
        """
        p_arr = _as_matrix(p, (3, 4), 'P')
        if np.any(p_arr != 0.0):
            return cls.from_p(p_arr, width, height)
        k_arr = _as_matrix(k, (3, 3), 'K')
        if np.any(k_arr != 0.0):
            return cls.from_k(k_arr, width, height)
        raise IntrinsicsError('camera info has neither P nor K set (both all zeros)')

    # -- export ------------------------------------------------------------------------------

    def k_matrix(self) -> np.ndarray:
        """3x3 float64 camera matrix."""
        return np.array([[self.fx_px, 0.0, self.cx_px],
                         [0.0, self.fy_px, self.cy_px],
                         [0.0, 0.0, 1.0]])

    def p_matrix(self) -> np.ndarray:
        """3x4 float64 projection matrix of this (rectified, monocular) camera."""
        return np.hstack([self.k_matrix(), np.zeros((3, 1))])

    @property
    def size(self) -> tuple[int, int]:
        """Image size as (width, height)."""
        return self.width, self.height

    @property
    def focal_px(self) -> float:
        """Mean focal length in pixels, the one number that sets metric scale."""
        return 0.5 * (self.fx_px + self.fy_px)

    # -- change of pixel grid ----------------------------------------------------------------

    def transformed(self, pixel_map: PixelMap, width: int, height: int) -> Intrinsics:
        """
        Intrinsics of the image whose pixel grid is ``pixel_map`` of this image's grid.

        ``pixel_map`` maps this image's pixel coordinates to the new image's; ``width`` and
        ``height`` give the new image's size.
        """
        return Intrinsics(
            fx_px=pixel_map.x.scale * self.fx_px,
            fy_px=pixel_map.y.scale * self.fy_px,
            cx_px=pixel_map.x.scale * self.cx_px + pixel_map.x.offset,
            cy_px=pixel_map.y.scale * self.cy_px + pixel_map.y.offset,
            width=width, height=height)

    def scaled_to(self, width: int, height: int) -> Intrinsics:
        """Intrinsics of this image resized (not cropped) to ``width`` x ``height``."""
        return self.transformed(PixelMap.resize(width / self.width, height / self.height),
                                width, height)


def _as_matrix(values: Sequence[float] | np.ndarray, shape: tuple[int, int],
               name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.size != shape[0] * shape[1]:
        raise IntrinsicsError(f'{name} must have {shape[0] * shape[1]} values, got {arr.size}')
    arr = arr.reshape(shape)
    if not np.all(np.isfinite(arr)):
        raise IntrinsicsError(f'{name} has non-finite values: {arr.reshape(-1).tolist()}')
    return arr


def _check_pinhole_rows(m: np.ndarray, name: str) -> None:
    # A rectified camera has no skew and a last row of (0, 0, 1); anything else is not a
    # matrix this node can turn into a depth image's intrinsics.
    if m[2, 0] != 0.0 or m[2, 1] != 0.0 or m[2, 2] != 1.0 or m[1, 0] != 0.0:
        raise IntrinsicsError(
            f'{name} is not a pinhole camera matrix (expected last row 0 0 1 and no '
            f'lower entries): {m.reshape(-1).tolist()}')
    if m[0, 1] != 0.0:
        raise IntrinsicsError(f'{name} has skew {m[0, 1]}; skewed cameras are not supported')
