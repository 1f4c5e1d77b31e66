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

"""msdepth-bag-infer's occupancy options, per-frame scores and run summary (no bag)."""

import argparse
import math

from msdepth_ros.bags import occupancy as occ
from msdepth_ros.core.camera import backproject
from msdepth_ros.core.cloud_filter import CloudFilter
from msdepth_ros.core.intrinsics import Intrinsics
from msdepth_ros.core.occupancy import OccupancyScore
from msdepth_ros.core.transforms import invert, rigid_transform
import numpy as np
import pytest

GRID = Intrinsics(30.0, 30.0, 19.5, 7.5, 40, 16)
R_BASE_OPTICAL = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


def _args(*argv):
    parser = argparse.ArgumentParser()
    occ.add_arguments(parser.add_argument_group('cloud'), parser.add_argument_group('eval'))
    return parser.parse_args(list(argv))


def test_defaults_are_kitti_s_band_above_the_road_and_the_node_s_filter():
    args = _args()
    settings = occ.settings_from(args)
    assert settings.base_frame == 'base_link'
    # base_link of KITTI bags is the OXTS unit, 0.93 m above the road: 0.3 to 2.0 m above it.
    assert (settings.spec.min_height_m, settings.spec.max_height_m) == (-0.63, 1.07)
    assert settings.spec.cell_m == 0.1 and settings.spec.max_range_m == 20.0
    assert occ.cloud_filter_from(args) == CloudFilter()
    assert occ.settings_from(_args('--no-occupancy')) is None
    assert occ.cloud_filter_from(_args('--cloud-stride', '2', '--cloud-max-range-m', '9')) \
        == CloudFilter(stride=2, max_range_m=9.0)
    with pytest.raises(ValueError, match='--cloud-'):
        occ.cloud_filter_from(_args('--cloud-stride', '0'))
    with pytest.raises(ValueError, match='--occupancy-'):
        occ.settings_from(_args('--occupancy-min-height-m', '3'))


def test_a_frame_s_cells_from_the_depth_image_and_the_scan():
    # A wall 6.05 m ahead of a camera 1.5 m above base_link; the "LIDAR" is 0.3 m above the
    # camera and 0.2 m ahead, with the camera's axes; its scan is the wall's points.
    depth = np.full((16, 40), 6.05, np.float32)
    T_base_cam = rigid_transform(R_BASE_OPTICAL, (0.0, 0.0, 1.5))
    T_cam_scan = rigid_transform(np.eye(3), (0.0, -0.3, 0.2))
    wall_cam = backproject(depth, GRID).reshape(-1, 3).astype(np.float64)
    scan = wall_cam - T_cam_scan[:3, 3]
    settings = occ.settings_from(_args('--occupancy-min-height-m', '0.1',
                                       '--occupancy-max-height-m', '2.0'))
    exact, ceiling = occ.frame_occupancy(depth, GRID, scan, T_cam_scan, T_base_cam, settings,
                                         CloudFilter())
    assert exact.tp > 10 and (exact.fp, exact.fn) == (0, 0)
    # One scan point per depth pixel: the scan at the depth pixels is the truth itself.
    assert ceiling == exact
    short, same_ceiling = occ.frame_occupancy(depth * 0.8, GRID, scan, T_cam_scan, T_base_cam,
                                              settings, CloudFilter())
    assert short.tp == 0 and short.fn == exact.tp and short.fp > 0
    assert same_ceiling == ceiling  # the ceiling does not depend on the prediction
    # Through the transform the other way round, the cells move: not the same frame.
    wrong, _ = occ.frame_occupancy(depth, GRID, scan, invert(T_cam_scan), T_base_cam,
                                   settings, CloudFilter())
    assert wrong.tp == 0 and wrong.fn > 0 and wrong.fp == exact.tp


def test_rows_and_the_run_total():
    rows = [occ.row_values((OccupancyScore(3, 1, 2), OccupancyScore(5, 0, 0))),
            occ.row_values(None),
            occ.row_values((OccupancyScore(1, 0, 0), OccupancyScore(1, 1, 0)))]
    assert rows[0]['occupancy_precision'] == 0.75 and rows[0]['cells_fn'] == 2
    assert math.isnan(rows[1]['occupancy_iou']) and rows[1]['cells_tp'] == ''
    assert set(rows[0]) == set(occ.OCCUPANCY_COLUMNS)
    total, frames = occ.run_total(rows)
    assert (total, frames) == (OccupancyScore(4, 1, 2), 2)
    ceiling, _ = occ.run_total(rows, 'ceiling')
    assert ceiling == OccupancyScore(6, 1, 0)
    settings = occ.settings_from(_args())
    summary = occ.summary_dict(total, ceiling, frames, settings)
    assert summary['precision'] == 0.8 and summary['iou'] == pytest.approx(4 / 7)
    assert summary['base_frame'] == 'base_link' and summary['frames'] == 2
    assert summary['resolution_ceiling']['precision'] == pytest.approx(6 / 7)
    table = occ.summary_table(total, ceiling, frames, settings)
    assert '| depth image | 0.800 | 0.667 | 0.571 | 4 | 1 | 2 |' in table
    assert '| 0.857 | 1.000 | 0.857 | 6 | 1 | 0 |' in table
    assert 'in base_link, heights -0.63 to 1.07 m' in table
    assert occ.summary_dict(OccupancyScore(), ceiling, 0, settings)['precision'] is None
