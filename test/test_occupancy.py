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

"""Occupied cells of hand-built clouds, their scores, and a depth image's cells."""

import math

from msdepth_ros.core.cloud_filter import CloudFilter
from msdepth_ros.core.intrinsics import Intrinsics
from msdepth_ros.core.occupancy import (cell_indices, cell_key, depth_cloud_base,
                                        depth_occupancy, OccupancyScore, OccupancySpec,
                                        occupied_cells, score_cells)
from msdepth_ros.core.transforms import rigid_transform
import numpy as np
import pytest

# Optical frame (x right, y down, z forward) in a base frame (x forward, y left, z up), the
# camera 1 m above the base origin, looking along x.
R_BASE_OPTICAL = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
T_BASE_CAM = rigid_transform(R_BASE_OPTICAL, (0.0, 0.0, 1.0))
# 90 degrees of horizontal field of view: columns -0.5 .. 79.5 at fx 40 around cx 39.5.
CAMERA = Intrinsics(fx_px=40.0, fy_px=40.0, cx_px=39.5, cy_px=14.5, width=80, height=30)
SPEC = OccupancySpec(cell_m=0.1, min_height_m=0.1, max_height_m=2.0, max_range_m=10.0)


def _cells(*pairs):
    pairs = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    return np.sort(cell_key(pairs[:, 0], pairs[:, 1]))


def test_points_mark_their_cell_only_inside_the_band_the_view_and_the_range():
    points = np.array([
        [5.05, 0.05, 0.5],    # marks (50, 0)
        [5.07, 0.02, 1.9],    # the same cell
        [2.01, -1.55, 0.1],   # (20, -16): on the band's lower edge, 37.8 deg right
        [3.0, 0.0, 0.05],     # below the band: ground
        [3.0, 0.0, 2.5],      # above the band
        [-2.0, 0.0, 0.5],     # behind the camera
        [1.0, 1.5, 0.5],      # 56 degrees left: outside the 45 degree half field of view
        [10.5, 0.0, 1.0],     # beyond 10 m from the camera
        [np.nan, 0.0, 0.5],   # no point
    ])
    cells = occupied_cells(points, T_BASE_CAM, CAMERA, SPEC)
    np.testing.assert_array_equal(cells, _cells((50, 0), (20, -16)))
    np.testing.assert_array_equal(np.sort(cell_indices(cells), axis=0),
                                  [[20, -16], [50, 0]])
    near = OccupancySpec(min_range_m=4.0, max_range_m=10.0)
    np.testing.assert_array_equal(occupied_cells(points, T_BASE_CAM, CAMERA, near),
                                  _cells((50, 0)))


def test_the_range_is_measured_from_the_camera_not_the_base():
    camera_ahead = rigid_transform(R_BASE_OPTICAL, (2.0, 0.0, 1.0))
    point = np.array([[11.5, 0.0, 1.0]])  # 11.5 m from the base, 9.5 m from the camera
    assert occupied_cells(point, camera_ahead, CAMERA, SPEC).size == 1
    assert occupied_cells(point, T_BASE_CAM, CAMERA, SPEC).size == 0


def test_scores_count_cells_and_a_run_sums_the_counts():
    predicted = _cells((1, 1), (2, 2), (3, 3))
    truth = _cells((2, 2), (3, 3), (4, 4), (5, 5))
    score = score_cells(predicted, truth)
    assert (score.tp, score.fp, score.fn) == (2, 1, 2)
    assert score.values() == pytest.approx({'precision': 2 / 3, 'recall': 0.5, 'iou': 0.4})
    run = score + score_cells(truth, truth) + score_cells(_cells(), truth)
    assert (run.tp, run.fp, run.fn) == (6, 1, 6)
    assert run.precision == pytest.approx(6 / 7) and run.iou == pytest.approx(6 / 13)
    empty = score_cells(_cells(), _cells())
    assert all(math.isnan(v) for v in empty.values().values())
    assert math.isnan(score_cells(_cells(), truth).precision)
    assert score_cells(_cells(), truth).recall == 0.0
    assert OccupancyScore() + OccupancyScore(1, 2, 3) == OccupancyScore(1, 2, 3)


def test_a_wall_in_a_depth_image_marks_its_row_of_cells():
    depth = np.full((30, 80), 5.05, dtype=np.float32)  # a wall 5.05 m ahead, filling the view
    points = depth_cloud_base(depth, CAMERA, T_BASE_CAM)
    assert points.shape == (30 * 80, 3)
    np.testing.assert_allclose(points[:, 0], 5.05, rtol=1e-6)
    cells = cell_indices(depth_occupancy(depth, CAMERA, T_BASE_CAM, SPEC))
    assert set(cells[:, 0]) == {50}
    # y = -z (u - cx) / fx over the columns; only rows within the height band and 10 m mark.
    y = -5.05 * (np.arange(80) - 39.5) / 40.0
    heights = 1.0 - 5.05 * (np.arange(30) - 14.5) / 40.0
    assert ((heights >= 0.1) & (heights <= 2.0)).any()
    expected = set(np.floor(y / 0.1).astype(int))
    assert set(cells[:, 1]) == expected


def test_the_flying_pixel_filter_removes_phantom_cells_of_a_blurred_edge():
    # Truth: a box 4 m ahead in the left half, a wall 8 m ahead in the right half. The
    # prediction blurs the edge as networks do: columns 38 to 41 at 5, 6, 7 m in between.
    truth = np.full((30, 80), 8.0, dtype=np.float32)
    truth[:, :40] = 4.0
    predicted = truth.copy()
    predicted[:, 38:42] = [4.8, 5.6, 6.4, 7.2]
    true_cells = depth_occupancy(truth, CAMERA, T_BASE_CAM, SPEC)
    plain = score_cells(depth_occupancy(predicted, CAMERA, T_BASE_CAM, SPEC), true_cells)
    filtered = score_cells(depth_occupancy(predicted, CAMERA, T_BASE_CAM, SPEC,
                                           CloudFilter(flying_pixel_threshold=0.1)), true_cells)
    assert plain.fp > 0
    assert filtered.fp == 0 and filtered.precision == 1.0
    assert filtered.recall > 0.9 and filtered.recall < 1.0  # the edge's own cells go too
    capped = depth_occupancy(predicted, CAMERA, T_BASE_CAM, SPEC, CloudFilter(max_range_m=6.0))
    assert cell_indices(capped)[:, 0].max() < 60


@pytest.mark.parametrize('kwargs', [{'cell_m': 0.0}, {'min_height_m': 2.0, 'max_height_m': 1.0},
                                    {'min_range_m': 5.0, 'max_range_m': 5.0}])
def test_bad_specs_are_refused(kwargs):
    with pytest.raises(ValueError):
        OccupancySpec(**kwargs)


def test_bad_clouds_are_refused():
    with pytest.raises(ValueError, match='N x 3'):
        occupied_cells(np.zeros((4, 2)), T_BASE_CAM, CAMERA, SPEC)
    with pytest.raises(ValueError, match='camera'):
        depth_cloud_base(np.ones((3, 3)), CAMERA, T_BASE_CAM)
