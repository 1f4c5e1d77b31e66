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


"""Reading a depth image at camera pixels (core.resample): exact geometry, NaN handling."""

from hypothesis import given, settings, strategies as st
from msdepth_ros.core.intrinsics import Intrinsics
from msdepth_ros.core.preprocess import plan_input
from msdepth_ros.core.presets import KITTI, NYU
from msdepth_ros.core.resample import (depth_at_camera_pixels, depth_on_camera_grid,
                                       sample_log_bilinear)
import numpy as np
import pytest


@settings(max_examples=40, deadline=None)
@given(width=st.integers(200, 1600), height=st.integers(120, 1000),
       preset=st.sampled_from([NYU, KITTI]), upsample=st.integers(1, 3),
       a=st.floats(-0.02, 0.02), b=st.floats(-0.05, 0.05))
def test_log_affine_depth_is_read_back_exactly_at_camera_pixels(
        width, height, preset, upsample, a, b):
    # A depth image whose log is affine in its own pixel coordinates is reproduced exactly by
    # bilinear interpolation in log depth, so every camera pixel must read the depth that the
    # plan's map puts under it: a wrong map (or linear instead of log interpolation) fails.
    plan = plan_input(width, height, preset, upsample=upsample)
    k, row = np.meshgrid(np.arange(plan.output_width), np.arange(plan.output_height))
    depth_image = np.exp(1.5 + a * k + b * row).astype(np.float32)
    rng = np.random.default_rng(0)
    u = rng.uniform(0, width - 1, 500)
    v = rng.uniform(0, height - 1, 500)
    x, y = plan.camera_to_output.apply(u, v)
    inside = (x >= 0) & (x <= plan.output_width - 1) & (y >= 0) & (y <= plan.output_height - 1)
    got = depth_at_camera_pixels(depth_image, plan.camera_to_output, u, v)
    expected = np.exp(1.5 + a * x + b * y)
    np.testing.assert_allclose(got[inside], expected[inside], rtol=2e-5)
    outside = (x < -0.5) | (x > plan.output_width - 0.5) | (y < -0.5) | (
        y > plan.output_height - 0.5)
    assert np.all(np.isnan(got[outside]))


def test_edges_repeat_half_a_pixel_then_nan():
    depth = np.array([[1.0, 2.0], [4.0, 8.0]], dtype=np.float32)
    got = sample_log_bilinear(depth, np.array([-0.5, -0.51, 1.5, 1.51, 0.5]),
                              np.array([0.0, 0.0, 1.0, 1.0, 0.0]))
    np.testing.assert_allclose(got[[0, 2]], [1.0, 8.0])
    assert np.isnan(got[1]) and np.isnan(got[3])
    np.testing.assert_allclose(got[4], np.sqrt(2.0), rtol=1e-6)  # geometric mean: log-linear


def test_invalid_neighbours_do_not_leak():
    depth = np.array([[2.0, np.nan], [0.0, 2.0]], dtype=np.float32)
    got = sample_log_bilinear(depth, np.array([0.5, 1.0]), np.array([0.5, 0.0]))
    # only the two valid corners (both 2 m) count; a pixel that is itself invalid stays NaN
    np.testing.assert_allclose(got[0], 2.0, rtol=1e-6)
    assert np.isnan(got[1])


def test_dense_grid_matches_pointwise_sampling():
    camera = Intrinsics(500.0, 500.0, 320.0, 240.0, 640, 480)
    plan = plan_input(camera.width, camera.height, NYU)
    rng = np.random.default_rng(1)
    depth_image = rng.uniform(1.0, 5.0, (NYU.output_height, NYU.output_width)).astype(
        np.float32)
    dense = depth_on_camera_grid(depth_image, plan.camera_to_output, 640, 480)
    assert dense.shape == (480, 640)
    v, u = np.mgrid[0:480:37, 0:640:41]
    np.testing.assert_array_equal(
        dense[v, u], depth_at_camera_pixels(depth_image, plan.camera_to_output, u, v))


def test_bad_shapes_are_errors():
    with pytest.raises(ValueError, match='H x W'):
        sample_log_bilinear(np.zeros(3), np.zeros(1), np.zeros(1))
    with pytest.raises(ValueError, match='differ in shape'):
        sample_log_bilinear(np.ones((2, 2)), np.zeros(2), np.zeros(3))


def test_extrapolation_repeats_the_nearest_edge():
    depth = np.array([[1.0, 2.0], [4.0, 8.0]], dtype=np.float32)
    got = sample_log_bilinear(depth, np.array([-3.0, 5.0, 0.0]), np.array([-1.0, 9.0, 7.0]),
                              extrapolate=True)
    np.testing.assert_allclose(got, [1.0, 8.0, 4.0])
