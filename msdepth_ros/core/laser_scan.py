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
A laser scan from a depth image, with depthimage_to_laserscan's semantics.

For Nav2's obstacle layer (a ``LaserScan`` observation source). As ros-perception's
depthimage_to_laserscan computes it:

- the scan covers the band of ``scan_height`` rows starting at row ``int(cy - scan_height / 2)``;
- each pixel's range is its Euclidean range in the camera's x-z plane,
  ``r = z * sqrt(1 + ((u - cx) / fx)^2)``, and each beam keeps the nearest range in
  ``[range_min, range_max]`` of its pixels;
- the scan is in a frame with x forward and y left (the camera's body frame, not its optical
  frame): ``angle_max = atan(cx / fx)`` is the ray of column 0 (left), ``angle_min =
  -atan((W - 1 - cx) / fx)`` the ray of column ``W - 1`` (right), ``W`` beams with
  ``angle_increment = (angle_max - angle_min) / (W - 1)``, and column ``u`` (angle
  ``-atan((u - cx) / fx)``) falls into beam ``floor((angle - angle_min) / angle_increment)``.
  Beams are linear in angle, columns in ``tan``: a beam near the centre can get no column.

Where this differs, on purpose: a beam whose columns see nothing in range (no valid depth, or
only depth beyond ``range_max``) is ``+inf`` (REP 117: no return, so a costmap clears along it;
depthimage_to_laserscan leaves NaN for a NaN depth); a beam no column falls into is NaN (no
measurement). Beam indices are computed with a small tolerance so that column 0 lands in the
last beam despite rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

from msdepth_ros.core.intrinsics import Intrinsics
import numpy as np

#: Slack on the beam index so that a column exactly on a beam boundary is not rounded down.
_INDEX_TOLERANCE = 1e-9


@dataclass(frozen=True)
class ScanGeometry:
    """
    What a depth camera's scan looks like (depends on the camera and ``scan_height`` only).

    ``angle_min``, ``angle_max``, ``angle_increment``: radians, as in ``sensor_msgs/LaserScan``
    (x forward, y left, counter-clockwise); ``row_start``, ``row_stop``: the band of rows
    (stop excluded); ``beam``: ``W`` ints, the beam of each column; ``range_per_depth``: ``W``
    floats, ``sqrt(1 + ((u - cx) / fx)^2)``.
    """

    angle_min: float
    angle_max: float
    angle_increment: float
    row_start: int
    row_stop: int
    beam: np.ndarray
    range_per_depth: np.ndarray

    @property
    def beams(self) -> int:
        """Return how many beams the scan has (the image width)."""
        return len(self.beam)


def scan_geometry(intrinsics: Intrinsics, scan_height: int = 1) -> ScanGeometry:
    """
    Return the scan geometry of a depth camera.

    Parameters
    ----------
    intrinsics:
        The depth image's intrinsics (rectified pinhole; ``W >= 2``).
    scan_height:
        Rows of the band around the optical centre ``cy``.

    Raises ``ValueError`` when the band does not fit in the image (as depthimage_to_laserscan
    does when ``scan_height / 2`` exceeds ``cy`` or ``H - cy``) or the image is one column wide.

    """
    width, height = intrinsics.size
    if width < 2:
        raise ValueError(f'a laser scan needs an image at least 2 columns wide, got {width}')
    if int(scan_height) != scan_height or scan_height < 1:
        raise ValueError(f'scan_height must be an integer >= 1, got {scan_height}')
    scan_height = int(scan_height)
    fx, cx, cy = intrinsics.fx_px, intrinsics.cx_px, intrinsics.cy_px
    row_start = int(cy - scan_height / 2.0)
    row_stop = row_start + scan_height
    if scan_height // 2 > cy or scan_height // 2 > height - cy or row_start < 0 \
            or row_stop > height:
        raise ValueError(f'scan_height ({scan_height} rows) is too large for the image: the '
                         f'band around cy = {cy:g} must fit in its {height} rows')
    angle_max = math.atan(cx / fx)
    angle_min = -math.atan((width - 1 - cx) / fx)
    increment = (angle_max - angle_min) / (width - 1)
    tangent = (np.arange(width, dtype=np.float64) - cx) / fx
    angles = -np.arctan(tangent)
    beam = np.floor((angles - angle_min) / increment + _INDEX_TOLERANCE).astype(np.intp)
    beam = np.clip(beam, 0, width - 1)
    return ScanGeometry(angle_min=angle_min, angle_max=angle_max, angle_increment=increment,
                        row_start=row_start, row_stop=row_stop, beam=beam,
                        range_per_depth=np.sqrt(1.0 + tangent * tangent))


def depth_to_scan(depth_m: np.ndarray, geometry: ScanGeometry, range_min_m: float,
                  range_max_m: float) -> np.ndarray:
    """
    Return the ranges of a depth image's scan.

    Parameters
    ----------
    depth_m:
        ``H x W`` depth (z) in metres; NaN, infinite, zero or negative is invalid.
    geometry:
        ``scan_geometry`` of the depth image's intrinsics.
    range_min_m, range_max_m:
        Ranges outside ``[range_min, range_max]`` are not used.

    Returns
    -------
    ``W`` float32 ranges in metres, beam 0 at ``angle_min`` (the right edge): the nearest
    range of the beam's columns over the band, ``+inf`` where its columns see nothing in range,
    NaN where no column falls into the beam.

    """
    depth = np.asarray(depth_m)
    width = geometry.beams
    if depth.ndim != 2 or depth.shape[1] != width or depth.shape[0] < geometry.row_stop:
        raise ValueError(f'depth image of shape {depth.shape} does not fit the scan geometry '
                         f'({width} columns, rows {geometry.row_start} to '
                         f'{geometry.row_stop - 1})')
    band = depth[geometry.row_start:geometry.row_stop].astype(np.float64)
    ranges = band * geometry.range_per_depth[None, :]
    with np.errstate(invalid='ignore'):
        usable = np.isfinite(ranges) & (band > 0) & (ranges >= range_min_m) \
            & (ranges <= range_max_m)
    nearest = np.where(usable, ranges, np.inf).min(axis=0)
    scan = np.full(width, np.inf)
    np.minimum.at(scan, geometry.beam, nearest)
    scan[np.bincount(geometry.beam, minlength=width) == 0] = np.nan
    return scan.astype(np.float32)


def scan_frame_id(optical_frame_id: str) -> str:
    """
    Return the frame of a depth camera's scan: its body frame (x forward, y left, z up).

    depthimage_to_laserscan publishes in an ``output_frame`` that is "probably not the depth
    image's" (``camera_depth_frame`` for ``camera_depth_optical_frame``); by the
    ``<name>_optical_frame`` convention of REP 103 camera drivers, that is the optical frame's
    name without ``_optical`` (``<name>_optical`` gives ``<name>``). A frame id without such a
    suffix is returned unchanged (set the node's scan frame parameter then).
    """
    for suffix, replacement in (('_optical_frame', '_frame'), ('_optical', '')):
        if optical_frame_id.endswith(suffix) and len(optical_frame_id) > len(suffix):
            return optical_frame_id[:-len(suffix)] + replacement
    return optical_frame_id
