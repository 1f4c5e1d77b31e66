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

"""LIDAR ground truth on the depth grid, crops in camera pixels, running metrics, scan matching."""

from __future__ import annotations

import math

from hypothesis import given, settings, strategies as st
from msdepth_ros.core.camera import backproject, depth_image_from_points
from msdepth_ros.core.intrinsics import Intrinsics
from msdepth_ros.core.metrics import (average_metrics, compute_metrics, KITTI_EIGEN_CROP,
                                      KITTI_GARG_CROP, METRIC_NAMES)
from msdepth_ros.core.online_eval import (frame_metrics, FrameScore, points_in_crop,
                                          RunningMetrics, Scan, scan_depth_image, ScanBuffer)
from msdepth_ros.core.preprocess import plan_input
from msdepth_ros.core.presets import KITTI
from msdepth_ros.core.synthetic import kitti_like_intrinsics, road_scene
from msdepth_ros.core.transforms import apply, invert, quaternion_to_matrix, rigid_transform
import numpy as np
import pytest

#: KITTI's camera 2 <- velodyne rotation (x forward, y left, z up -> x right, y down, z forward).
R_CAM_VELO = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])


def _scene_points(width: int = 320, height: int = 96, seed: int = 4):
    """Return a road scene and the points of its pixels (camera frame, float64)."""
    scene = road_scene(seed, width, height)
    points = backproject(scene.depth_m, scene.intrinsics).reshape(-1, 3).astype(np.float64)
    return scene, points[np.isfinite(points).all(axis=1)]


def _T_cam_lidar(rng: np.random.Generator) -> np.ndarray:
    small = quaternion_to_matrix(*rng.normal(0.0, 0.05, 3), 1.0)
    return rigid_transform(small @ R_CAM_VELO, rng.uniform(-0.5, 0.5, 3))


# -- ground truth on the depth grid ---------------------------------------------------------------

def test_lidar_points_give_the_depth_of_the_grid_they_land_on():
    rng = np.random.default_rng(0)
    scene, points_cam = _scene_points()
    T_cam_lidar = _T_cam_lidar(rng)
    points_lidar = apply(invert(T_cam_lidar), points_cam)
    grid = plan_input(320, 96, KITTI).output_intrinsics(scene.intrinsics)
    gt = scan_depth_image(points_lidar, T_cam_lidar, grid)
    expected = depth_image_from_points(points_cam, grid)
    assert gt.shape == (grid.height, grid.width) and gt.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(gt), np.isnan(expected))
    np.testing.assert_allclose(gt, expected, rtol=1e-6)
    assert np.isfinite(gt).mean() > 0.5


def test_points_behind_the_camera_are_dropped_and_the_nearest_wins():
    grid = Intrinsics(10.0, 10.0, 2.0, 2.0, 5, 5)
    T = rigid_transform(R_CAM_VELO, (0.0, 0.0, 0.0))
    # In the velodyne frame x is forward: 5 m and 3 m ahead on the optical axis, 2 m behind.
    points_lidar = np.array([[5.0, 0.0, 0.0], [3.0, 0.0, 0.0], [-2.0, 0.0, 0.0]])
    gt = scan_depth_image(points_lidar, T, grid)
    assert gt[2, 2] == 3.0 and np.count_nonzero(np.isfinite(gt)) == 1


def test_the_crop_applies_in_camera_pixels_not_in_the_grid():
    camera = kitti_like_intrinsics()
    grid = plan_input(camera.width, camera.height, KITTI).output_intrinsics(camera)
    # One point on the ray of each camera pixel, at 10 m.
    v, u = np.mgrid[0:camera.height, 0:camera.width]
    rays = np.stack([(u - camera.cx_px) / camera.fx_px, (v - camera.cy_px) / camera.fy_px,
                     np.ones(u.shape)], axis=-1).reshape(-1, 3)
    points = 10.0 * rays
    crop = KITTI_EIGEN_CROP
    gt = scan_depth_image(points, np.eye(4), grid, camera, crop)
    full = scan_depth_image(points, np.eye(4), grid)
    # Eigen's rows 124..341 of the camera cut the grid (camera rows 156..364) at its bottom:
    # exactly the grid rows fed only by camera rows >= 342 are empty.
    kept = points_in_crop(points, camera, crop)
    np.testing.assert_array_equal(kept.reshape(camera.height, camera.width),
                                  crop.mask(camera.height, camera.width))
    np.testing.assert_array_equal(gt, scan_depth_image(points[kept], np.eye(4), grid))
    empty_rows = np.nonzero(np.isnan(gt).all(axis=1))[0]
    assert 0 < len(empty_rows) < grid.height and empty_rows[-1] == grid.height - 1
    assert np.isfinite(full).all()
    # Garg's crop holds the whole grid in camera pixels; its fractions of the grid would not.
    assert np.isfinite(scan_depth_image(points, np.eye(4), grid, camera, KITTI_GARG_CROP)).all()
    assert not KITTI_GARG_CROP.mask(grid.height, grid.width).all()
    with pytest.raises(ValueError, match='camera intrinsics'):
        scan_depth_image(points, np.eye(4), grid, None, crop)


@settings(max_examples=60, deadline=None)
@given(u=st.floats(-3.0, 30.0), v=st.floats(-3.0, 30.0))
def test_crop_contains_exactly_the_points_of_its_mask(u, v):
    height, width = 23, 27
    mask = KITTI_GARG_CROP.mask(height, width)
    iu, iv = int(np.rint(u)), int(np.rint(v))
    inside = 0 <= iu < width and 0 <= iv < height and bool(mask[iv, iu])
    assert bool(KITTI_GARG_CROP.contains(np.array(u), np.array(v), height, width)) == inside


def test_points_in_crop_needs_the_point_in_front():
    camera = Intrinsics(10.0, 10.0, 5.0, 5.0, 11, 11)
    points = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(points_in_crop(points, camera, KITTI_GARG_CROP),
                                  [True, False, False])


# -- per-frame metrics ----------------------------------------------------------------------------

def test_frame_metrics_compare_valid_ground_truth_with_valid_predictions():
    rng = np.random.default_rng(1)
    gt = rng.uniform(1.0, 100.0, (6, 8)).astype(np.float32)
    gt[0, :] = np.nan
    pred = (gt * rng.uniform(0.7, 1.3, gt.shape)).astype(np.float32)
    pred[1, :2] = np.nan
    score = frame_metrics(pred, gt, 1e-3, 80.0)
    compared = np.isfinite(gt) & (gt < 80.0) & np.isfinite(pred)
    assert score.pixels == compared.sum() and score.scored
    assert score.metrics == compute_metrics(pred[compared], gt[compared], min_depth_m=1e-3,
                                            max_depth_m=80.0)
    empty = frame_metrics(pred, np.full_like(gt, np.nan), 1e-3, 80.0)
    assert empty.pixels == 0 and not empty.scored
    assert all(math.isnan(empty.metrics[name]) for name in METRIC_NAMES)


# -- running metrics ------------------------------------------------------------------------------

def _score(rng: np.random.Generator) -> FrameScore:
    gt = rng.uniform(1.0, 50.0, 40)
    return frame_metrics(gt * rng.uniform(0.5, 1.5, 40), gt, 1e-3, 80.0)


def test_running_metrics_average_over_the_run_and_the_window():
    rng = np.random.default_rng(2)
    running = RunningMetrics(window=3)
    first = running.summary()
    assert first.frames == 0 and math.isnan(first.run['rmse']) and math.isnan(first.mean_pixels)
    scores = [_score(rng) for _ in range(7)]
    empty = FrameScore({name: math.nan for name in METRIC_NAMES}, 0)
    for i, score in enumerate(scores):
        running.add(score)
        if i == 2:
            running.add(empty)
    summary = running.summary()
    assert (summary.frames, summary.frames_empty, summary.window_frames) == (7, 1, 3)
    run = average_metrics(s.metrics for s in scores)
    window = average_metrics(s.metrics for s in scores[-3:])
    for name in METRIC_NAMES:
        assert summary.run[name] == pytest.approx(run[name], rel=1e-12)
        assert summary.window[name] == window[name]
    assert summary.last_pixels == 40 and summary.mean_pixels == 40.0
    # A snapshot: later frames do not change it.
    running.add(_score(rng))
    assert summary.frames == 7
    with pytest.raises(ValueError):
        RunningMetrics(0)


# -- scans ----------------------------------------------------------------------------------------

def test_scan_buffer_keeps_the_newest_and_finds_the_nearest():
    buffer = ScanBuffer(3)
    assert buffer.nearest(1.0) is None
    scans = [Scan(stamp, 'velo', np.zeros((0, 3))) for stamp in (1.0, 1.25, 1.5, 1.75)]
    for scan in scans:
        buffer.add(scan)
    assert len(buffer) == 3
    scan, offset = buffer.nearest(1.0)     # the scan at 1.0 was forgotten
    assert scan is scans[1] and offset == -0.25
    scan, offset = buffer.nearest(1.8)
    assert scan is scans[3] and offset == pytest.approx(0.05)
    scan, offset = buffer.nearest(1.375)   # a tie: the later one
    assert scan is scans[2] and offset == -0.125
    with pytest.raises(ValueError):
        ScanBuffer(0)
