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

"""The cloud filter on hand-built depth images: step edges, NaN holes, the range cap, stride."""

import math

from msdepth_ros.core.camera import backproject, pixel_rays
from msdepth_ros.core.cloud_filter import CloudFilter, flying_pixels
from msdepth_ros.core.intrinsics import Intrinsics
import numpy as np
import pytest


def _step(height=6, width=8, near=5.0, far=10.0, edge=4):
    """Columns < edge at ``near``, the others at ``far``."""
    depth = np.full((height, width), far, dtype=np.float32)
    depth[:, :edge] = near
    return depth


def test_a_step_edge_loses_the_pixels_on_both_sides_and_flat_areas_stay():
    depth = _step()
    out = CloudFilter(flying_pixel_threshold=0.1, neighbourhood=4).apply(depth)
    dropped = np.isnan(out)
    assert dropped[:, 3].all() and dropped[:, 4].all()
    assert not dropped[:, :3].any() and not dropped[:, 5:].any()
    np.testing.assert_array_equal(out[:, :3], 5.0)
    np.testing.assert_array_equal(out[:, 5:], 10.0)
    # The depth image given is not touched (REP 118: only the cloud is filtered).
    np.testing.assert_array_equal(depth, _step())


def test_the_threshold_is_relative_to_the_pixel_s_own_depth():
    # 5 m next to 5.4 m: an 8 % jump for the near pixel, 7.4 % for the far one.
    depth = _step(near=5.0, far=5.4)
    assert not flying_pixels(depth, 0.1).any()
    both = flying_pixels(depth, 0.075)
    assert both[:, 3].all() and not both[:, 4].any()  # 0.4 > 0.375 but 0.4 < 0.405
    assert flying_pixels(depth, 0.07)[:, 3:5].all()


def test_8_neighbours_catch_a_diagonal_edge_that_4_neighbours_miss():
    depth = np.full((5, 5), 10.0, dtype=np.float32)
    depth[2, 2] = 2.0
    four = flying_pixels(depth, 0.1, 4)
    eight = flying_pixels(depth, 0.1, 8)
    expected4 = np.zeros((5, 5), bool)
    expected4[2, 2] = expected4[1, 2] = expected4[3, 2] = expected4[2, 1] = expected4[2, 3] = True
    np.testing.assert_array_equal(four, expected4)
    expected8 = np.zeros((5, 5), bool)
    expected8[1:4, 1:4] = True
    np.testing.assert_array_equal(eight, expected8)


def test_nan_and_invalid_neighbours_are_not_compared():
    depth = np.full((4, 4), 3.0, dtype=np.float32)
    depth[1, 1] = np.nan
    depth[2, 2] = 0.0
    depth[0, 3] = np.inf
    out = CloudFilter(flying_pixel_threshold=0.01).apply(depth)
    invalid = np.zeros((4, 4), bool)
    invalid[1, 1] = invalid[2, 2] = invalid[0, 3] = True
    np.testing.assert_array_equal(np.isnan(out), invalid)
    np.testing.assert_array_equal(out[~invalid], 3.0)


def test_image_borders_have_fewer_neighbours_not_a_jump():
    depth = np.full((3, 3), 7.0, dtype=np.float32)
    assert not flying_pixels(depth, 1e-6).any()


def test_the_range_cap_is_on_z_or_along_the_ray():
    depth = np.array([[1.0, 4.0, 6.0, 9.0]], dtype=np.float32)
    np.testing.assert_array_equal(np.isnan(CloudFilter(max_range_m=5.0).apply(depth)),
                                  [[False, False, True, True]])
    camera = Intrinsics(fx_px=1.0, fy_px=1.0, cx_px=0.0, cy_px=0.0, width=4, height=1)
    norm = np.linalg.norm(pixel_rays(camera), axis=-1)  # sqrt(1 + u^2): 1, 1.41, 2.24, 3.16
    out = CloudFilter(max_range_m=5.0).apply(depth, ray_norm=norm)
    # ranges 1, 5.66, 13.4, 28.5: only the first is within 5 m
    np.testing.assert_array_equal(np.isnan(out), [[False, True, True, True]])
    assert CloudFilter(max_range_m=math.inf).apply(depth).tolist() == depth.tolist()


def test_stride_keeps_exactly_every_stride_th_pixel_of_every_stride_th_row():
    height, width = 7, 10
    depth = (1.0 + np.arange(height * width, dtype=np.float32)).reshape(height, width)
    for stride in (1, 2, 3, 4, 11):
        out = CloudFilter(stride=stride).apply(depth)
        rows = np.arange(0, height, stride)
        cols = np.arange(0, width, stride)
        assert out.shape == (len(rows), len(cols))
        np.testing.assert_array_equal(out, depth[np.ix_(rows, cols)])


def test_stride_looks_at_full_resolution_neighbours():
    # The edge lies between columns 3 and 4; stride 2 keeps column 4, which must still go,
    # and stride 3 keeps column 3, which must still go, though no kept pixel has a kept
    # neighbour across the edge.
    depth = _step(height=6, width=9, edge=4)
    flags = flying_pixels(depth, 0.1)
    for stride in (2, 3):
        out = CloudFilter(flying_pixel_threshold=0.1, stride=stride).apply(depth)
        np.testing.assert_array_equal(np.isnan(out), flags[::stride, ::stride])
    assert np.isnan(CloudFilter(flying_pixel_threshold=0.1, stride=2).apply(depth)[:, 2]).all()
    assert np.isnan(CloudFilter(flying_pixel_threshold=0.1, stride=3).apply(depth)[:, 1]).all()


def test_all_three_together_and_identity():
    depth = _step(height=6, width=12, near=2.0, far=30.0, edge=6)
    out = CloudFilter(flying_pixel_threshold=0.1, max_range_m=20.0, stride=2).apply(depth)
    # kept columns 0 2 4 | 6 8 10: column 6 is at the edge, the far side beyond 20 m.
    assert out.shape == (3, 6)
    np.testing.assert_array_equal(out[:, :3], 2.0)
    assert np.isnan(out[:, 3:]).all()
    assert CloudFilter().identity and not CloudFilter(stride=2).identity


@pytest.mark.parametrize('kwargs, message', [
    ({'flying_pixel_threshold': -0.1}, 'flying_pixel_threshold'),
    ({'neighbourhood': 6}, 'neighbourhood'),
    ({'max_range_m': 0.0}, 'max_range_m'),
    ({'stride': 0}, 'stride'),
    ({'stride': 1.5}, 'stride'),
])
def test_bad_settings_are_refused_by_name(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CloudFilter(**kwargs)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match='H x W'):
        CloudFilter().apply(np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match='ray_norm'):
        CloudFilter(max_range_m=3.0).apply(np.ones((2, 2)), ray_norm=np.ones((3, 2)))


def test_points_of_the_identity_filter_are_backproject_s():
    # The node's cloud and the occupancy evaluation both take their points from
    # CloudFilter.points: with nothing to filter it must be core.camera.backproject exactly.
    camera = Intrinsics(fx_px=50.0, fy_px=52.0, cx_px=7.5, cy_px=4.2, width=16, height=9)
    depth = np.random.default_rng(0).uniform(0.5, 30.0, (9, 16)).astype(np.float32)
    depth[1, 2], depth[3, 4], depth[5, 6] = np.nan, 0.0, -1.0
    rays = pixel_rays(camera)
    got = CloudFilter().points(depth, rays)
    np.testing.assert_array_equal(got, backproject(depth, camera, rays=rays))
    strided = CloudFilter(stride=3).points(depth, rays)
    np.testing.assert_array_equal(strided, backproject(depth, camera, rays=rays)[::3, ::3])
