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

"""Synthetic road scenes: exact depth, determinism, any size."""

from hypothesis import given, settings, strategies as st
from msdepth_ros.core.camera import backproject
from msdepth_ros.core.intrinsics import Intrinsics
from msdepth_ros.core.synthetic import (BOX, FACADE, GROUND, ground_plane_depth,
                                        kitti_like_intrinsics, render, ROAD, road_scene,
                                        RoadLayout, SKY, WALL)
import numpy as np


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), width=st.integers(40, 700), height=st.integers(30, 300),
       camera_z=st.floats(0.0, 20.0))
def test_ground_depth_matches_the_analytic_plane_row_by_row(seed, width, height, camera_z):
    intr = kitti_like_intrinsics(width, height)
    frame = render(RoadLayout.random(seed, length_m=20.0), intr, camera_z_m=camera_z)
    expected = ground_plane_depth(intr, frame.camera_height_m)
    ground = (frame.labels == ROAD) | (frame.labels == GROUND)
    rows, _ = np.nonzero(ground)
    np.testing.assert_allclose(frame.depth_m[ground], expected[rows], rtol=1e-6)
    # Ground is below the horizon; sky (and only sky) has no depth.
    assert np.all(rows > intr.cy_px)
    assert np.array_equal(np.isnan(frame.depth_m), frame.labels == SKY)


def test_surfaces_have_the_depth_of_their_planes():
    frame = road_scene(7)
    intr = frame.intrinsics
    pts = backproject(frame.depth_m, intr)
    # the ground is the plane y = 1.65 m in the optical frame
    ground = (frame.labels == ROAD) | (frame.labels == GROUND)
    np.testing.assert_allclose(pts[ground][:, 1], 1.65, rtol=1e-5)
    layout = RoadLayout.random(7)
    facade = frame.labels == FACADE
    if facade.any():
        np.testing.assert_allclose(frame.depth_m[facade], layout.facade_z_m, rtol=1e-6)
    wall = frame.labels == WALL
    xs = np.abs(pts[wall][:, 0])
    on_left = np.isclose(xs, abs(layout.left.x_m), rtol=1e-4)
    on_right = np.isclose(xs, abs(layout.right.x_m), rtol=1e-4)
    assert np.all(on_left | on_right)
    assert np.all(np.isfinite(frame.depth_m[frame.labels == BOX]))


def test_deterministic_and_varied():
    a, b, c = road_scene(3), road_scene(3), road_scene(4)
    assert np.array_equal(a.image, b.image)
    assert np.array_equal(a.depth_m, b.depth_m, equal_nan=True)
    assert not np.array_equal(a.image, c.image)
    assert a.image.dtype == np.uint8 and a.image.shape == (375, 1242, 3)
    assert a.depth_m.dtype == np.float32
    assert len(np.unique(a.labels)) >= 4


def test_kitti_like_intrinsics_and_custom_cameras():
    intr = kitti_like_intrinsics()
    assert (intr.fx_px, intr.cx_px, intr.cy_px) == (721.5377, 609.5593, 172.854)
    small = kitti_like_intrinsics(621, 188)
    assert small.fx_px == small.fy_px
    assert abs(small.fx_px - 721.5377 / 2) < 1e-9
    custom = Intrinsics(300.0, 300.0, 160.0, 60.0, 320, 120)
    frame = road_scene(1, 320, 120, intrinsics=custom)
    assert frame.intrinsics == custom and frame.depth_m.shape == (120, 320)


def test_driving_forward_brings_the_facade_closer():
    layout = RoadLayout.random(11, length_m=30.0)
    intr = kitti_like_intrinsics(310, 94)
    near = render(layout, intr, camera_z_m=30.0)
    far = render(layout, intr, camera_z_m=0.0)
    for frame, z in ((near, 30.0), (far, 0.0)):
        facade = frame.labels == FACADE
        if facade.any():
            np.testing.assert_allclose(frame.depth_m[facade], layout.facade_z_m - z, rtol=1e-6)
    assert np.nanmax(near.depth_m) < np.nanmax(far.depth_m)


def test_a_camera_moved_sideways_sees_the_same_street():
    # The walls are the planes x = x_m in the street frame: seen from a camera moved by
    # camera_x_m, their points sit at x_m - camera_x_m in that camera's frame.
    layout = RoadLayout.random(5, length_m=10.0)
    intr = kitti_like_intrinsics(310, 94)
    for shift in (-0.54, 0.06, 1.3):
        frame = render(layout, intr, camera_z_m=3.0, camera_x_m=shift)
        assert frame.camera_x_m == shift
        pts = backproject(frame.depth_m, intr)
        wall = frame.labels == WALL
        xs = pts[wall][:, 0] + shift
        on_left = np.isclose(xs, layout.left.x_m, rtol=1e-4)
        on_right = np.isclose(xs, layout.right.x_m, rtol=1e-4)
        assert wall.any() and np.all(on_left | on_right)
        ground = (frame.labels == ROAD) | (frame.labels == GROUND)
        np.testing.assert_allclose(pts[ground][:, 1], 1.65, rtol=1e-5)
    centred = render(layout, intr, camera_z_m=3.0)
    np.testing.assert_array_equal(centred.image, render(layout, intr, camera_z_m=3.0,
                                                        camera_x_m=0.0).image)
