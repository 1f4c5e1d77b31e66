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

"""The laser scan against the depth image it came from: angles, ranges, +inf and NaN beams."""

import math

from msdepth_ros.core.camera import backproject
from msdepth_ros.core.intrinsics import Intrinsics
from msdepth_ros.core.laser_scan import depth_to_scan, scan_frame_id, scan_geometry
import numpy as np
import pytest

# An off-centre principal point, so that left and right differ.
CAMERA = Intrinsics(fx_px=50.0, fy_px=50.0, cx_px=37.0, cy_px=11.3, width=80, height=24)


def _beam_angles(geometry):
    return geometry.angle_min + geometry.angle_increment * np.arange(geometry.beams)


def test_angles_come_from_the_outer_columns_rays_like_depthimage_to_laserscan():
    g = scan_geometry(CAMERA, 1)
    assert g.angle_max == pytest.approx(math.atan(37.0 / 50.0))  # column 0: left, +y
    assert g.angle_min == pytest.approx(-math.atan(42.0 / 50.0))  # column 79: right, -y
    assert g.angle_increment == pytest.approx((g.angle_max - g.angle_min) / 79)
    assert g.beam[0] == 79 and g.beam[-1] == 0
    assert np.all(np.diff(g.beam) <= 0)  # left to right = decreasing angle
    # Every column's own angle lies in its beam.
    column_angles = -np.arctan((np.arange(80) - 37.0) / 50.0)
    low = _beam_angles(g)[g.beam]
    assert np.all(column_angles >= low - 1e-9)
    assert np.all(column_angles[1:] < low[1:] + g.angle_increment)
    # The band: int(cy - h / 2) as depthimage_to_laserscan's convert().
    assert (g.row_start, g.row_stop) == (10, 11)
    g5 = scan_geometry(CAMERA, 5)
    assert (g5.row_start, g5.row_stop) == (8, 13)


def test_a_wall_s_scan_gives_back_its_points():
    depth = np.full((24, 80), 4.0, dtype=np.float32)
    g = scan_geometry(CAMERA, 3)
    ranges = depth_to_scan(depth, g, 0.1, 100.0)
    points = backproject(depth, CAMERA)[g.row_start]  # W x 3, optical frame
    # Each column's point, in the scan frame (x forward = z, y left = -x), at the column's own
    # angle and the range the scan gives its beam (a beam takes the nearest of its columns).
    for u in range(80):
        beam = g.beam[u]
        columns = np.flatnonzero(g.beam == beam)
        nearest = min(math.hypot(points[c, 0], points[c, 2]) for c in columns)
        assert ranges[beam] == pytest.approx(nearest, rel=1e-6)
    centre = int(round(CAMERA.cx_px))
    assert ranges[g.beam[centre]] == pytest.approx(4.0 * math.sqrt(1 + (0.0 / 50) ** 2))
    r0 = 4.0 * math.sqrt(1 + (37.0 / 50.0) ** 2)  # column 0 alone in the last beam
    assert ranges[-1] == pytest.approx(r0, rel=1e-6)
    x, y = r0 * math.cos(g.angle_max), r0 * math.sin(g.angle_max)
    assert (x, y) == pytest.approx((points[0, 2], -points[0, 0]), rel=1e-5)


def test_beams_are_nearest_over_the_band_and_inf_where_nothing_is_seen():
    depth = np.full((24, 80), 9.0, dtype=np.float32)
    g = scan_geometry(CAMERA, 5)  # rows 8 to 12
    depth[8, 60] = 2.0            # in the band: the nearest wins
    depth[7, 20] = 1.0            # above the band: not seen
    band = slice(g.row_start, g.row_stop)
    beam_of = {u: np.flatnonzero(g.beam == g.beam[u]) for u in (40, 50, 5)}
    depth[band, beam_of[40]] = np.nan  # no depth at all in the columns of a beam
    depth[band, beam_of[50]] = 30.0    # only beyond range_max
    depth[band, beam_of[5]] = 0.5      # only below range_min
    ranges = depth_to_scan(depth, g, 1.0, 20.0)
    factor = g.range_per_depth
    assert ranges[g.beam[60]] == pytest.approx(2.0 * factor[60], rel=1e-6)
    assert min(ranges[g.beam[c]] for c in range(56, 65)) == pytest.approx(2.0 * factor[60])
    seen_20 = np.flatnonzero(g.beam == g.beam[20])
    assert ranges[g.beam[20]] == pytest.approx(9.0 * factor[seen_20].min(), rel=1e-6)
    assert len(beam_of[5]) > 1  # near the edges several columns share a beam
    for u in beam_of:
        assert ranges[g.beam[u]] == math.inf, u
    empty = np.bincount(g.beam, minlength=80) == 0
    assert empty.any()  # beams linear in angle, columns in tan: some get no column
    assert np.isnan(ranges[empty]).all() and np.isfinite(ranges[~empty]).sum() >= 70
    assert depth_to_scan(np.full((24, 80), np.nan), g, 1.0, 20.0)[~empty].tolist() \
        == [math.inf] * int((~empty).sum())


def test_a_band_that_does_not_fit_and_a_wrong_image_are_refused():
    with pytest.raises(ValueError, match='too large'):
        scan_geometry(CAMERA, 25)
    with pytest.raises(ValueError, match='scan_height'):
        scan_geometry(CAMERA, 0)
    with pytest.raises(ValueError, match='does not fit'):
        depth_to_scan(np.ones((24, 79)), scan_geometry(CAMERA, 1), 0.1, 10.0)


def test_scan_frame_follows_the_optical_frame_convention():
    assert scan_frame_id('camera_color_left_optical_frame') == 'camera_color_left_frame'
    assert scan_frame_id('camera_depth_optical_frame') == 'camera_depth_frame'
    assert scan_frame_id('cam_optical') == 'cam'
    assert scan_frame_id('base_camera') == 'base_camera'
    assert scan_frame_id('_optical') == '_optical'
