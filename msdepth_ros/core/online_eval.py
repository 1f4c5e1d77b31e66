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
Depth images scored against LIDAR scans as they arrive: the math of the node's evaluation.

A scan (``N x 3`` points in the LIDAR frame) becomes a sparse ground-truth depth image on the
depth image's own grid (``scan_depth_image``); the frame's metrics come from ``core.metrics``
(``frame_metrics``); ``RunningMetrics`` averages them over the run and over a recent window;
``ScanBuffer`` keeps the newest few scans and finds the one nearest in time to an image.

Crops. The crops of ``core.metrics.CROPS`` are fractions of the *camera* image (KITTI's 1242 x 375
frames for Garg's and Eigen's): they select the projected LIDAR points of the camera image. The
depth image is the network's output grid, which sees only part of the camera image at a coarser
pitch, so the same fractions of the depth image's own size would cut another part of the scene:
for a 1242 x 375 KITTI camera the kitti preset's 142 x 27 grid covers camera rows 156 to 364 and
columns 54 to 1183, all inside Garg's rows 153 to 371 and columns 44 to 1197, but Garg's fractions
of the grid would drop its top 11 rows. The crop is therefore applied in camera pixels, to the
points: a point is kept when its projection with the camera's intrinsics lands on a camera pixel
inside the crop, and the points kept are then projected into the depth image's grid, where the
nearest point wins each pixel.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
import math
from typing import Mapping

from msdepth_ros.core.camera import depth_image_from_points, project
from msdepth_ros.core.intrinsics import Intrinsics
from msdepth_ros.core.metrics import (average_metrics, compute_metrics, Crop, METRIC_NAMES,
                                      valid_mask)
from msdepth_ros.core.transforms import apply
import numpy as np


def points_in_crop(points_cam: np.ndarray, camera: Intrinsics, crop: Crop) -> np.ndarray:
    """
    Which points project inside an evaluation crop of the camera image.

    Parameters
    ----------
    points_cam:
        ``N x 3`` points in the camera's optical frame, metres.
    camera:
        The camera image's intrinsics (the crop's fractions are of its size).
    crop:
        The evaluation crop.

    Returns
    -------
    ``N`` bools: True where the point is in front of the camera and lands on a camera pixel
    inside the crop (pixels outside the image are outside every crop).

    """
    uv, _ = project(points_cam, camera)
    return crop.contains(uv[:, 0], uv[:, 1], camera.height, camera.width)


def scan_depth_image(points_lidar: np.ndarray, T_cam_lidar: np.ndarray, grid: Intrinsics,
                     camera: Intrinsics | None = None, crop: Crop | None = None) -> np.ndarray:
    """
    Sparse ground-truth depth of a LIDAR scan on a depth image's grid.

    (``data.kitti.lidar_depth_image`` is the same projection for a KITTI calibration and
    camera, on the full camera image.)

    Parameters
    ----------
    points_lidar:
        ``N x 3`` points in the LIDAR frame, metres (finite).
    T_cam_lidar:
        4x4 transform from the LIDAR frame into the camera's optical frame.
    grid:
        Intrinsics of the depth image the ground truth is for (the published camera info).
    camera:
        Intrinsics of the camera image the depth image was predicted from; needed with ``crop``.
    crop:
        Evaluation crop, applied in camera pixels (see the module's docstring); None: none.

    Returns
    -------
    ``H x W`` float32 z-depth in metres of the grid, NaN where no point landed; points behind
    the camera are dropped and the nearest point wins each pixel.

    """
    points_lidar = np.asarray(points_lidar, dtype=np.float64)
    if points_lidar.ndim != 2 or points_lidar.shape[1] != 3:
        raise ValueError(f'points must be N x 3, got {points_lidar.shape}')
    points_cam = apply(T_cam_lidar, points_lidar)
    if crop is not None:
        if camera is None:
            raise ValueError('a crop is applied in camera pixels: give the camera intrinsics')
        points_cam = points_cam[points_in_crop(points_cam, camera, crop)]
    return depth_image_from_points(points_cam, grid)


@dataclass(frozen=True)
class FrameScore:
    """One frame's metrics (``METRIC_NAMES``; all NaN without pixels) and pixels compared."""

    metrics: Mapping[str, float]
    pixels: int

    @property
    def scored(self) -> bool:
        """Return True when at least one pixel was compared."""
        return self.pixels > 0


def frame_metrics(pred_m: np.ndarray, gt_m: np.ndarray, min_depth_m: float,
                  max_depth_m: float) -> FrameScore:
    """
    Score one depth image against its ground truth.

    Parameters
    ----------
    pred_m, gt_m:
        ``H x W`` predicted and true depth, metres, NaN where invalid.
    min_depth_m, max_depth_m:
        Ground truth outside (min, max) is not scored; predictions are clipped to [min, max].

    Returns
    -------
    The metrics of ``core.metrics.compute_metrics`` over the pixels with valid ground truth and
    a valid prediction, and how many pixels those are.

    """
    pred = np.asarray(pred_m)
    with np.errstate(invalid='ignore'):
        compared = valid_mask(gt_m, min_depth_m, max_depth_m) & np.isfinite(pred) & (pred > 0)
    metrics = compute_metrics(pred[compared], np.asarray(gt_m)[compared],
                              min_depth_m=min_depth_m, max_depth_m=max_depth_m)
    return FrameScore(metrics=metrics, pixels=int(compared.sum()))


@dataclass(frozen=True)
class MetricsSummary:
    """
    Where an evaluation stands.

    ``frames``: frames scored (with pixels); ``frames_empty``: frames without a pixel to
    compare (not in the means); ``run``: mean of the per-frame metrics over every scored frame;
    ``window``: over the last ``window_frames`` of them; ``last_pixels`` and
    ``mean_pixels``: pixels compared in the last scored frame and per scored frame. Means are
    NaN before the first scored frame.
    """

    frames: int
    frames_empty: int
    run: Mapping[str, float]
    window: Mapping[str, float]
    window_frames: int
    last_pixels: int
    mean_pixels: float


class RunningMetrics:
    """
    Per-frame metrics averaged over the run (in constant memory) and over a recent window.

    Parameters
    ----------
    window:
        How many of the latest scored frames the window means cover.

    """

    def __init__(self, window: int) -> None:
        if window < 1:
            raise ValueError(f'window must be at least 1 frame, got {window}')
        self._window: deque[Mapping[str, float]] = deque(maxlen=window)
        self._sums = dict.fromkeys(METRIC_NAMES, 0.0)
        self._frames = 0
        self._frames_empty = 0
        self._pixels = 0
        self._last_pixels = 0

    def add(self, score: FrameScore) -> None:
        """Add one frame; frames without pixels are only counted."""
        if not score.scored:
            self._frames_empty += 1
            return
        self._frames += 1
        self._pixels += score.pixels
        self._last_pixels = score.pixels
        for name in METRIC_NAMES:
            self._sums[name] += score.metrics[name]
        self._window.append(dict(score.metrics))

    def summary(self) -> MetricsSummary:
        """Return the figures so far (a snapshot: later frames do not change it)."""
        frames = self._frames
        run = {name: (self._sums[name] / frames if frames else math.nan)
               for name in METRIC_NAMES}
        return MetricsSummary(frames=frames, frames_empty=self._frames_empty, run=run,
                              window=average_metrics(self._window),
                              window_frames=len(self._window), last_pixels=self._last_pixels,
                              mean_pixels=self._pixels / frames if frames else math.nan)


@dataclass(frozen=True)
class Scan:
    """A LIDAR scan: header stamp (seconds), frame id and ``N x 3`` float64 points (metres)."""

    stamp_s: float
    frame_id: str
    points_m: np.ndarray


class ScanBuffer:
    """
    The newest ``capacity`` scans, and the one nearest in time to a stamp.

    Parameters
    ----------
    capacity:
        Scans kept; adding one more forgets the oldest (by arrival).

    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f'capacity must be at least 1 scan, got {capacity}')
        self._scans: deque[Scan] = deque(maxlen=capacity)

    def __len__(self) -> int:
        """Return how many scans are kept."""
        return len(self._scans)

    def add(self, scan: Scan) -> None:
        """Keep ``scan`` (forgetting the oldest one when full)."""
        self._scans.append(scan)

    def nearest(self, stamp_s: float) -> tuple[Scan, float] | None:
        """
        Return the scan whose stamp is nearest to ``stamp_s`` and ``stamp_s - scan.stamp_s``.

        None while no scan is kept. Of two scans equally near, the later-added one wins.
        """
        best: tuple[Scan, float] | None = None
        for scan in self._scans:
            offset_s = stamp_s - scan.stamp_s
            if best is None or abs(offset_s) <= abs(best[1]):
                best = (scan, offset_s)
        return best
