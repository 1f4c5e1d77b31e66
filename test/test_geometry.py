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
Camera geometry of DESIGN.md section 4, end to end.

Property tests over random cameras, image sizes, both presets and upsampling factors: a depth
image built from known 3D points, pushed through the whole chain (camera image -> network input
-> network-output grid -> depth-image intrinsics -> back-projection), gives those points back.
"""

import math

from hypothesis import given, settings, strategies as st
from msdepth_ros.core.affine import AxisMap, PixelMap
from msdepth_ros.core.camera import backproject, depth_image_from_points, pixel_rays, project
from msdepth_ros.core.intrinsics import Intrinsics, IntrinsicsError
from msdepth_ros.core.preprocess import ImageShapeError, log_depth_to_metric, plan_input
from msdepth_ros.core.presets import KITTI, NYU
import numpy as np
import pytest


@st.composite
def cameras(draw):
    width = draw(st.integers(16, 2500))
    height = draw(st.integers(16, 2000))
    fx = draw(st.floats(0.2, 3.0)) * width
    fy = fx * draw(st.floats(0.8, 1.25))
    cx = draw(st.floats(-0.2, 1.2)) * width
    cy = draw(st.floats(-0.2, 1.2)) * height
    return Intrinsics(fx, fy, cx, cy, width, height)


presets = st.sampled_from([NYU, KITTI])


@settings(max_examples=150, deadline=None)
@given(camera=cameras(), preset=presets, upsample=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_depth_of_known_points_back_projects_to_those_points(camera, preset, upsample, seed):
    plan = plan_input(camera.width, camera.height, preset, upsample=upsample)
    depth_intr = plan.output_intrinsics(camera)
    assert depth_intr.size == (preset.output_width * upsample,
                               preset.output_height * upsample)
    # Each depth pixel (k, l) is centred on some camera pixel (u, v): the camera sees there
    # the 3D point z * ray(u, v). Build the points with the *camera's* intrinsics ...
    k, l_ = np.meshgrid(np.arange(depth_intr.width), np.arange(depth_intr.height))
    u, v = plan.camera_to_output.inverse().apply(k.astype(np.float64), l_.astype(np.float64))
    rng = np.random.default_rng(seed)
    z = rng.uniform(0.5, 80.0, k.shape)
    points = np.stack([(u - camera.cx_px) / camera.fx_px * z,
                       (v - camera.cy_px) / camera.fy_px * z, z], axis=-1)
    # ... and recover them with the depth image's intrinsics alone.
    got = backproject(z.astype(np.float32), depth_intr).astype(np.float64)
    scale = np.linalg.norm(points, axis=-1, keepdims=True)
    assert np.max(np.abs(got - points) / scale) < 1e-5


@settings(max_examples=60, deadline=None)
@given(camera=cameras(), preset=presets, upsample=st.integers(1, 3))
def test_projection_of_points_lands_on_their_depth_pixel(camera, preset, upsample):
    plan = plan_input(camera.width, camera.height, preset, upsample=upsample)
    depth_intr = plan.output_intrinsics(camera)
    rng = np.random.default_rng(0)
    k = rng.integers(0, depth_intr.width, 50).astype(np.float64)
    row = rng.integers(0, depth_intr.height, 50).astype(np.float64)
    u, v = plan.camera_to_output.inverse().apply(k, row)
    z = rng.uniform(1.0, 50.0, 50)
    pts = np.stack([(u - camera.cx_px) / camera.fx_px * z,
                    (v - camera.cy_px) / camera.fy_px * z, z], axis=1)
    uv, depth = project(pts, depth_intr)
    np.testing.assert_allclose(uv[:, 0], k, atol=1e-6 * depth_intr.width)
    np.testing.assert_allclose(uv[:, 1], row, atol=1e-6 * depth_intr.height)
    np.testing.assert_allclose(depth, z)


def _blob_image(width, height, u0, v0, sigma):
    u = np.arange(width)[None, :]
    v = np.arange(height)[:, None]
    blob = np.exp(-((u - u0) ** 2 + (v - v0) ** 2) / (2 * sigma ** 2))
    image = np.zeros((height, width, 3), dtype=np.uint8)
    image[..., 1] = np.rint(250 * blob).astype(np.uint8)
    return image


@settings(max_examples=40, deadline=None)
@given(width=st.integers(200, 2000), aspect=st.floats(0.3, 1.0), preset=presets,
       fu=st.floats(0.3, 0.7), fv=st.floats(0.3, 0.7))
def test_preprocessing_puts_camera_pixels_where_the_map_says(width, aspect, preset, fu, fv):
    height = max(60, int(width * aspect))
    plan = plan_input(width, height, preset)
    # A blob at a sub-pixel camera position, about 3 network-input pixels wide.
    in_w, in_h = preset.input_size
    target = np.array([fu * in_w, fv * in_h])
    u0 = plan.camera_to_input.x.inverse()(target[0])
    v0 = plan.camera_to_input.y.inverse()(target[1])
    sigma = 3.0 / plan.camera_to_input.x.scale
    net = plan.prepare(_blob_image(width, height, u0, v0, sigma))
    # Undo the normalisation of the green channel, then take the blob's centroid.
    g = net[0, 1] * preset.std_rgb[1] + preset.mean_rgb[1]
    ys, xs = np.mgrid[0:in_h, 0:in_w]
    near = (np.abs(xs - target[0]) < 12) & (np.abs(ys - target[1]) < 12)
    wgt = np.where(near, g, 0.0)
    centroid = np.array([(wgt * xs).sum(), (wgt * ys).sum()]) / wgt.sum()
    np.testing.assert_allclose(centroid, target, atol=0.05)


def test_preprocessing_of_the_training_resolutions():
    # NYU 640x480 -> 320x240 -> centre crop 304x228 at (8, 6)
    plan = plan_input(640, 480, NYU)
    assert (plan.resized_width, plan.resized_height, plan.crop_x0, plan.crop_y0) == (
        320, 240, 8, 6)
    # KITTI 1242x375 -> 621x188 -> crop 576x172, centred in x, bottom-aligned
    plan = plan_input(1242, 375, KITTI)
    assert (plan.resized_width, plan.resized_height, plan.crop_x0, plan.crop_y0) == (
        621, 188, 22, 16)
    camera = Intrinsics(721.5377, 721.5377, 609.5593, 172.854, 1242, 375)
    # Metric scale is 1 (to the rounding of 187.5 rows to 188) for the training camera.
    assert plan.metric_scale(camera) == pytest.approx(1.0, abs=2e-3)
    depth_intr = plan.output_intrinsics(camera)
    assert depth_intr.fx_px == pytest.approx(721.5377 / 8)
    # camera column of output pixel 0: input column 5 + crop 22 = 27 -> (27 + 0.5) * 2 - 0.5
    assert plan.camera_to_output.x.inverse()(0.0) == pytest.approx(54.5)
    # camera row of output row 0: input row 5 + 57 + 16 = 78 -> (78.5) * 375 / 188 - 0.5
    assert plan.camera_to_output.y.inverse()(0.0) == pytest.approx(78.5 * 375 / 188 - 0.5)


def test_metric_scale_follows_the_focal_length():
    plan = plan_input(640, 480, NYU)
    base = Intrinsics(518.86, 518.86, 320, 240, 640, 480)
    wide = Intrinsics(259.43, 259.43, 320, 240, 640, 480)
    assert plan.metric_scale(base) == pytest.approx(1.0)
    # half the focal length: objects look twice as far, so the correction halves depth
    assert plan.metric_scale(wide) == pytest.approx(0.5)


def test_log_depth_to_metric():
    log_depth = np.log(np.array([[0.5, 2.0], [10.0, 100.0]], dtype=np.float32))
    depth = log_depth_to_metric(log_depth, metric_scale=2.0, min_depth_m=1.5,
                                max_depth_m=80.0)
    assert depth.dtype == np.float32
    np.testing.assert_allclose(depth[0, 1], 4.0, rtol=1e-6)
    np.testing.assert_allclose(depth[1, 0], 20.0, rtol=1e-6)
    assert np.isnan(depth[0, 0]) and np.isnan(depth[1, 1])  # 1.0 < min, 200 > max
    up = log_depth_to_metric(np.log(np.full((3, 4), 7.0, np.float32)), upsample=3)
    assert up.shape == (9, 12)
    np.testing.assert_allclose(up, 7.0, rtol=1e-6)
    # bilinear in log depth: the midpoint of 1 m and 4 m is 2 m, not 2.5 m
    ramp = np.log(np.array([[1.0, 4.0]], dtype=np.float32))
    mid = log_depth_to_metric(ramp, upsample=2)
    assert mid[0, 1] == pytest.approx(math.exp((3 * math.log(1) + math.log(4)) / 4), rel=1e-5)


def test_affine_maps_compose_and_invert():
    a = PixelMap.resize(0.5, 0.25).then(PixelMap.crop(3, 7))
    u = np.array([0.0, 10.0, 99.5])
    back = a.inverse().x(a.x(u))
    np.testing.assert_allclose(back, u)
    # resize keeps the outer pixel edges: -0.5 -> -0.5 and W - 0.5 -> W' - 0.5
    r = PixelMap.resize(0.5, 0.5)
    assert r.x(-0.5) == -0.5 and r.x(99.5) == 49.5
    assert AxisMap(2.0, 1.0).then(AxisMap(3.0, -1.0)) == AxisMap(6.0, 2.0)


def test_pixel_map_matrix_maps_homogeneous_pixels_and_projections():
    a = PixelMap.resize(0.5, 0.25).then(PixelMap.crop(3, 7))
    u, v = np.array([0.0, 10.0, 99.5]), np.array([-0.5, 4.0, 30.0])
    mapped = a.matrix() @ np.stack([u, v, np.ones_like(u)])
    np.testing.assert_allclose(mapped, np.stack([*a.apply(u, v), np.ones_like(u)]))
    # A projection matrix of the source image projects a point onto the mapped pixel.
    p = np.array([[700.0, 0.0, 600.0, 30.0], [0.0, 710.0, 180.0, 0.5], [0.0, 0.0, 1.0, 0.01]])
    point = np.array([1.5, -0.4, 12.0, 1.0])
    src, dst = p @ point, a.matrix() @ p @ point
    np.testing.assert_allclose(dst[:2] / dst[2], a.apply(src[0] / src[2], src[1] / src[2]))


def test_intrinsics_from_camera_info_arrays():
    k = [500.0, 0, 320.0, 0, 510.0, 240.0, 0, 0, 1]
    p = [400.0, 0, 300.0, -40.0, 0, 405.0, 200.0, 0, 0, 0, 1, 0]
    intr = Intrinsics.from_camera_info(k, p, 640, 480)
    assert (intr.fx_px, intr.fy_px, intr.cx_px, intr.cy_px) == (400, 405, 300, 200)
    intr = Intrinsics.from_camera_info(k, [0.0] * 12, 640, 480)
    assert (intr.fx_px, intr.fy_px, intr.cx_px, intr.cy_px) == (500, 510, 320, 240)
    np.testing.assert_array_equal(intr.k_matrix().reshape(-1), k)
    assert intr.p_matrix().shape == (3, 4)


@pytest.mark.parametrize('k, message', [
    ([0.0] * 9, 'neither P nor K'),
    ([0.0, 0, 320, 0, 500, 240, 0, 0, 1], 'positive'),
    ([500, 0, 320, 0, 500, 240, 0, 0, 0], 'pinhole'),
    ([500, 1.5, 320, 0, 500, 240, 0, 0, 1], 'skew'),
    ([500, 0, float('nan'), 0, 500, 240, 0, 0, 1], 'non-finite'),
    ([500, 0, 320, 0, 500, 240], '9 values'),
])
def test_bad_camera_matrices_are_clear_errors(k, message):
    with pytest.raises(IntrinsicsError, match=message):
        Intrinsics.from_camera_info(k, [0.0] * 12, 640, 480)


def test_bad_sizes_are_errors():
    with pytest.raises(IntrinsicsError):
        Intrinsics(500, 500, 320, 240, 0, 480)
    with pytest.raises(ImageShapeError):
        plan_input(0, 480, NYU)
    plan = plan_input(640, 480, NYU)
    with pytest.raises(ImageShapeError, match='expected'):
        plan.prepare(np.zeros((480, 641, 3), np.uint8))
    with pytest.raises(ImageShapeError, match='plan for'):
        plan.output_intrinsics(Intrinsics(500, 500, 320, 240, 320, 240))


def test_backprojection_marks_invalid_depth_nan():
    intr = Intrinsics(100.0, 120.0, 2.0, 1.0, 5, 3)
    depth = np.full((3, 5), 2.0, np.float32)
    depth[0, 0], depth[1, 1], depth[2, 2], depth[2, 4] = np.nan, 0.0, -1.0, np.inf
    pts = backproject(depth, intr)
    bad = np.zeros((3, 5), bool)
    bad[0, 0] = bad[1, 1] = bad[2, 2] = bad[2, 4] = True
    assert np.all(np.isnan(pts[bad])) and np.all(np.isfinite(pts[~bad]))
    np.testing.assert_allclose(pts[2, 3], [(3 - 2) / 100 * 2, (2 - 1) / 120 * 2, 2.0])
    np.testing.assert_array_equal(pixel_rays(intr)[..., 2], 1.0)


def test_sparse_depth_from_points_keeps_the_nearest():
    intr = Intrinsics(100.0, 100.0, 10.0, 10.0, 21, 21)
    pts = np.array([[0.0, 0.0, 5.0], [0.0, 0.0, 3.0], [0.0, 0.0, -2.0], [10.0, 0.0, 1.0]])
    depth = depth_image_from_points(pts, intr)
    assert depth[10, 10] == 3.0
    assert np.count_nonzero(np.isfinite(depth)) == 1
