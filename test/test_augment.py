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
The paper's augmentation and the output-grid targets.

The target of output pixel k is the depth at the camera pixel that core's maps put under k,
through the same warp as the image.
"""

from hypothesis import given, settings, strategies as st
from msdepth_ros.core.intrinsics import Intrinsics
from msdepth_ros.core.preprocess import plan_input
from msdepth_ros.core.presets import KITTI, NYU
from msdepth_ros.core.synthetic import kitti_like_intrinsics, render, RoadLayout
from msdepth_ros.data.augment import (AugmentConfig, AugmentParams, crop_window, draw_params,
                                      make_example)
import numpy as np
import pytest


def _output_centres(plan):
    inv = plan.camera_to_output.inverse()
    k = np.arange(plan.output_width, dtype=float)
    row = np.arange(plan.output_height, dtype=float)
    return np.meshgrid(inv.x(k), inv.y(row))


@pytest.mark.parametrize('preset, size', [(NYU, (640, 480)), (KITTI, (1242, 375)),
                                          (KITTI, (1226, 370))])
def test_without_augmentation_input_and_target_are_inference_geometry(preset, size):
    w, h = size
    camera = Intrinsics(0.6 * w, 0.6 * w, w / 2, h / 2, w, h)
    plan = plan_input(w, h, preset)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    depth = rng.uniform(1.0, 9.0, (h, w)).astype(np.float32)
    example = make_example(image, depth, camera, plan, clip_to_preset_range=False)
    np.testing.assert_array_equal(example.image, plan.prepare(image)[0])
    pu, pv = _output_centres(plan)
    expected = depth[np.rint(pv).astype(int), np.rint(pu).astype(int)]
    np.testing.assert_allclose(example.target_depth_m * plan.metric_scale(camera), expected,
                               rtol=1e-6)
    assert example.target_depth_m.shape == (preset.output_height, preset.output_width)


def test_zoom_equals_a_longer_focal_length():
    # Zooming by s about the crop window's centre is what a camera with focal length s * f
    # sees; its depth, divided by s, is the target (the network then sees f_train).
    layout = RoadLayout.random(3, length_m=5.0)
    camera = kitti_like_intrinsics(621, 188)
    plan = plan_input(621, 188, KITTI)
    cu, cv, _, _ = crop_window(plan)
    s = 1.17
    zoomed = Intrinsics(s * camera.fx_px, s * camera.fy_px, cu + s * (camera.cx_px - cu),
                        cv + s * (camera.cy_px - cv), 621, 188)
    frame = render(layout, camera, camera_z_m=2.0)
    reference = render(layout, zoomed, camera_z_m=2.0)
    example = make_example(frame.image, frame.depth_m, camera, plan, AugmentParams(scale=s),
                           normalize_focal=False)
    pu, pv = _output_centres(plan)
    truth = reference.depth_m[np.rint(pv).astype(int), np.rint(pu).astype(int)]
    ok = np.isfinite(truth) & np.isfinite(example.target_depth_m)
    rel = np.abs(example.target_depth_m[ok] * s - truth[ok]) / truth[ok]
    assert ok.mean() > 0.9 and np.median(rel) < 0.005 and np.mean(rel < 0.03) > 0.95
    # and the image is the zoomed camera's picture (up to interpolation)
    zoomed_input = plan.prepare(reference.image)[0]
    assert np.median(np.abs(example.image - zoomed_input)) < 0.15


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), preset=st.sampled_from([NYU, KITTI]),
       flip=st.booleans())
def test_image_and_target_stay_aligned_under_any_augmentation(seed, preset, flip):
    # A bright disc at depth 2 m on a dark background at 8 m: after any augmentation, the
    # network-input pixel under each output pixel is bright exactly where the target says 2 m.
    w, h = (640, 480) if preset is NYU else (1242, 375)
    camera = Intrinsics(0.8 * w, 0.8 * w, w / 2, h / 2, w, h)
    plan = plan_input(w, h, preset)
    rng = np.random.default_rng(seed)
    cx, cy = rng.uniform(0.3 * w, 0.7 * w), rng.uniform(0.55 * h, 0.8 * h)
    rows, cols = np.mgrid[0:h, 0:w]
    disc = (cols - cx) ** 2 + (rows - cy) ** 2 < (0.12 * h) ** 2
    image = np.where(disc[..., None], 250, 10).astype(np.uint8).repeat(3, axis=2)
    depth = np.where(disc, 2.0, 8.0).astype(np.float32)
    config = AugmentConfig(scale_max=1.5, rotation_deg=5.0, flip_probability=float(flip))
    params = draw_params(config, rng, plan)
    example = make_example(image, depth, camera, plan, params, normalize_focal=False)
    # network-input pixel of each output pixel centre
    to_input = plan.camera_to_output.inverse().then(plan.camera_to_input)
    k = np.arange(plan.output_width, dtype=float)
    row = np.arange(plan.output_height, dtype=float)
    ix, iy = np.meshgrid(np.rint(to_input.x(k)).astype(int), np.rint(to_input.y(row)).astype(int))
    bright = example.image[0, iy, ix] > 0.0
    near = np.isclose(example.target_depth_m, 2.0 / params.scale)
    far = np.isclose(example.target_depth_m, 8.0 / params.scale)
    valid = near | far
    assert valid.mean() > 0.8
    # agreement everywhere but on the disc's rim (interpolated image vs nearest depth)
    assert np.mean(bright[valid] == near[valid]) > 0.97
    assert near.any() == bright.any()


def test_sparse_targets_take_real_values_and_invalid_stays_invalid():
    w, h = 1242, 375
    camera = kitti_like_intrinsics(w, h)
    plan = plan_input(w, h, KITTI)
    rng = np.random.default_rng(5)
    depth = np.full((h, w), np.nan, dtype=np.float32)
    hits = rng.random((h, w)) < 0.05  # LIDAR-like: 5 % of the pixels
    depth[hits] = rng.uniform(3.0, 60.0, hits.sum())
    depth[:, :400] = np.nan  # a region without any return
    params = AugmentParams(scale=1.1, flip=True)
    sparse = make_example(np.zeros((h, w, 3), np.uint8), depth, camera, plan, params,
                          sparse=True, normalize_focal=False).target_depth_m
    centre_only = make_example(np.zeros((h, w, 3), np.uint8), depth, camera, plan, params,
                               normalize_focal=False).target_depth_m
    assert np.isfinite(sparse).mean() > 3 * np.isfinite(centre_only).mean()
    values = set((depth[np.isfinite(depth)] / np.float32(1.1)).astype(np.float32).tolist())
    assert set(sparse[np.isfinite(sparse)].tolist()) <= values  # never interpolated
    # flipped: the empty left part of the camera image is the right of the output
    assert np.all(np.isnan(sparse[:, -40:]))


def test_paper_ranges_per_preset():
    rng = np.random.default_rng(0)
    plan = plan_input(1242, 375, KITTI)
    kitti = [draw_params(AugmentConfig.paper('kitti'), rng, plan) for _ in range(200)]
    assert all(p.rotation_deg == 0.0 and 1.0 <= p.scale <= 1.2 for p in kitti)
    assert 0.35 < np.mean([p.flip for p in kitti]) < 0.65
    assert all(0.8 <= f <= 1.2 for p in kitti for f in p.rgb_factors)
    nyu_plan = plan_input(640, 480, NYU)
    nyu = [draw_params(AugmentConfig.paper('nyu'), rng, nyu_plan) for _ in range(200)]
    assert max(abs(p.rotation_deg) for p in nyu) > 4.0
    assert max(p.scale for p in nyu) > 1.4
    assert AugmentConfig.none() == AugmentConfig.paper('nyu').__class__(
        scale_max=1.0, rotation_deg=0.0, rgb_min=1.0, rgb_max=1.0, flip_probability=0.0,
        random_crop=False)
    with pytest.raises(ValueError, match='scale_min below 1'):
        AugmentConfig(scale_min=0.9)


def test_colour_factor_scales_each_channel():
    plan = plan_input(640, 480, NYU)
    image = np.full((480, 640, 3), 100, dtype=np.uint8)
    camera = Intrinsics(500.0, 500.0, 320.0, 240.0, 640, 480)
    depth = np.ones((480, 640), dtype=np.float32)
    params = AugmentParams(rgb_factors=(0.8, 1.0, 1.2))
    x = make_example(image, depth, camera, plan, params).image
    expected = plan.prepare(np.full((480, 640, 3), (80, 100, 120), dtype=np.uint8))[0]
    np.testing.assert_allclose(x, expected, atol=1e-6)
