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
The crop-window resampler (core.crop_resize) against the whole-image resize it replaces.

``_whole_image`` is the preprocessing as it was: ``cv2.resize`` of the whole camera image to
the plan's resized size (area when shrinking, bilinear when enlarging), then the crop. Every
method must give its network input to within resampling noise, on real KITTI frames and on
synthetic images, for both presets; memory must not grow with the resized image.
"""

from __future__ import annotations

import pickle
import resource

import cv2
from msdepth_ros.core.crop_resize import axis_taps, PAIRS_TOLERANCE
from msdepth_ros.core.preprocess import plan_input
from msdepth_ros.core.presets import KITTI, NYU
from msdepth_ros.core.synthetic import road_scene
import numpy as np
import pytest


def _whole_image(plan, image):
    """Return the crop of the whole resized image, ``3 x h x w`` float32 pixel values."""
    size = (plan.resized_width, plan.resized_height)
    if size == (plan.camera_width, plan.camera_height):
        resized = image
    else:
        shrink = plan.resized_width < plan.camera_width
        resized = cv2.resize(np.ascontiguousarray(image), size,
                             interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    w, h = plan.preset.input_size
    crop = resized[plan.crop_y0:plan.crop_y0 + h, plan.crop_x0:plan.crop_x0 + w]
    return crop.transpose(2, 0, 1).astype(np.float32)


def _pixels(plan, image):
    """Return the plan's network input as pixel values (its normalisation undone)."""
    std = np.asarray(plan.preset.std_rgb, np.float32).reshape(3, 1, 1)
    mean = np.asarray(plan.preset.mean_rgb, np.float32).reshape(3, 1, 1)
    return (plan.prepare(image)[0] * std + mean) * 255.0


def _kitti_frames(shared_data):
    frames = []
    for path in sorted(shared_data.glob('kitti*/**/*.png')):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is not None and image.shape[1] > 1000:
            frames.append(np.ascontiguousarray(image[..., ::-1]))
    if not frames:
        pytest.skip('no KITTI colour frames in the shared data')
    return frames


#: Camera sizes of the KITTI drives (crops of the frames), most served by 'pairs' for ``kitti``.
KITTI_SIZES = [(1242, 375), (1241, 374), (1238, 374), (1226, 370), (1224, 370)]


def test_kitti_frames_match_the_whole_image_resize(shared_data):
    for image in _kitti_frames(shared_data):
        for w, h in KITTI_SIZES:
            if image.shape[0] < h or image.shape[1] < w:
                continue
            crop = np.ascontiguousarray(image[:h, :w])
            for preset in (KITTI, NYU):
                plan = plan_input(w, h, preset)
                diff = np.abs(_pixels(plan, crop) - _whole_image(plan, crop))
                method = plan._resampler.method
                near_2 = max(abs(w / 621 - 2), abs(h / 188 - 2)) <= PAIRS_TOLERANCE
                assert method == ('pairs' if preset is KITTI and near_2 else 'cv2')
                # Grey levels: cv2's own rounding (0.5) and, for 'pairs', its 2-pixel box.
                limit = 0.01 if method == 'cv2' else 2.01
                assert diff.max() <= limit, (w, h, preset.name, method, diff.max())
                assert diff.mean() < 0.3, (w, h, preset.name, method, diff.mean())
                assert np.percentile(diff, 99.9) <= 1.01, (w, h, preset.name, method)


SIZES = [(640, 480), (1242, 375), (1280, 720), (1920, 1080), (300, 200), (57, 31), (1, 1),
         (3000, 100), (333, 999), (621, 188), (100, 100), (4, 1500), (1500, 3), (2, 2)]


@pytest.mark.parametrize('preset', [NYU, KITTI], ids=['nyu', 'kitti'])
@pytest.mark.parametrize('size', SIZES, ids=[f'{w}x{h}' for w, h in SIZES])
def test_every_method_matches_the_whole_image_resize(preset, size):
    w, h = size
    rng = np.random.default_rng(w * 31 + h)
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    if min(w, h) > 8:
        image = cv2.GaussianBlur(image, (0, 0), 1.0)
    reference = _whole_image(plan_input(w, h, preset), image)
    for method in (None, 'cv2', 'taps'):
        plan = plan_input(w, h, preset, method=method)
        diff = np.abs(_pixels(plan, image) - reference)
        # 'taps' keeps float precision where cv2 rounds to uint8 (0.5) with 11-bit weights;
        # 'pairs' rounds twice.
        limit = {'cv2': 0.01, 'blocks': 0.01, 'taps': 0.85, 'pairs': 1.01}
        used = plan._resampler.method
        assert diff.max() <= limit[used], (method, used, diff.max())


def test_road_scenes_match_for_both_presets():
    for preset in (NYU, KITTI):
        for w, h in ((640, 480), (1242, 375), (1226, 370), (800, 600)):
            scene = road_scene(3, w, h)
            plan = plan_input(w, h, preset)
            diff = np.abs(_pixels(plan, scene.image) - _whole_image(plan, scene.image))
            assert diff.mean() < 0.3 and diff.max() <= 4.0, (preset.name, w, h, diff.max())


@pytest.mark.parametrize('method', [None, 'cv2', 'taps'])
def test_message_layouts_give_the_same_input(method):
    # The views the node gets from image_to_rgb: reversed channels (bgr8), a channel subset
    # (rgba8, bgra8), a broadcast grey channel (mono8), padded rows.
    h, w = 375, 1242
    rgb = road_scene(2, w, h).image
    plan = plan_input(w, h, KITTI, method=method)
    expected = plan.prepare(rgb)[0]
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    rgba = np.concatenate([rgb, np.full((h, w, 1), 7, np.uint8)], axis=2)
    bgra = np.concatenate([bgr, np.full((h, w, 1), 7, np.uint8)], axis=2)
    padded = np.zeros((h, w * 3 + 5), np.uint8)
    padded[:, :w * 3] = rgb.reshape(h, -1)
    padded_view = np.lib.stride_tricks.as_strided(padded, (h, w, 3), (w * 3 + 5, 3, 1))
    for view in (bgr[..., ::-1], rgba[..., :3], bgra[..., 2::-1], padded_view):
        np.testing.assert_allclose(plan.prepare(view)[0], expected, atol=1e-5)
    grey = rgb[..., 1].copy()
    np.testing.assert_allclose(plan.prepare(np.broadcast_to(grey[..., None], (h, w, 3)))[0],
                               plan.prepare(np.repeat(grey[..., None], 3, axis=2))[0],
                               atol=1e-5)


@pytest.mark.parametrize('size', [(1, 16384), (16384, 1), (1, 2048), (2048, 1), (3, 16384),
                                  (16384, 16)])
@pytest.mark.parametrize('preset', [NYU, KITTI], ids=['nyu', 'kitti'])
def test_thin_images_need_no_large_intermediate(preset, size):
    # 1 x 16384 used to be resized whole to 621 x 10,174,464 (19 GB) before the crop.
    w, h = size
    image = np.random.default_rng(w + h).integers(0, 256, (h, w, 3), dtype=np.uint8)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    plan = plan_input(w, h, preset)
    out = plan.prepare(image)
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024.0
    assert grown_mib < 64.0, grown_mib
    rows, cols = plan._resampler.window_shape()
    assert rows <= h and cols <= w
    assert out.shape == (1, 3, preset.input_height, preset.input_width)
    assert np.isfinite(out).all()
    # What the network sees is the part of the image the crop covers, stretched.
    reference = plan_input(w, h, preset, method='taps').prepare(image)
    np.testing.assert_allclose(out, reference, atol=1e-4)


def test_axis_taps_are_area_weights_or_bilinear():
    shrink = axis_taps(375, 188, 16, 172)
    assert np.allclose(shrink.weights.sum(axis=1), 1.0)
    assert shrink.taps == 3 and shrink.box == 0 and shrink.lo == 31 and shrink.hi == 375
    # Output 0 covers camera [16 S, 17 S] with S = 375 / 188: 31.91 .. 33.91.
    s = 375 / 188
    np.testing.assert_allclose(shrink.weights[0] * s, [32 - 16 * s, 1.0, 17 * s - 33],
                               atol=1e-6)
    box = axis_taps(1242, 621, 22, 576)
    assert box.box == 2 and box.lo == 44 and box.hi == 1196
    grow = axis_taps(10, 20, 3, 5)
    centres = (np.arange(3, 8) + 0.5) * 0.5 - 0.5
    np.testing.assert_allclose(grow.weights[:, 1], centres - np.floor(centres), atol=1e-6)
    with pytest.raises(ValueError, match='outside'):
        axis_taps(10, 20, 18, 5)


def test_plans_pickle_for_data_loader_processes():
    image = road_scene(1, 300, 100).image
    for method in (None, 'taps'):
        plan = plan_input(300, 100, KITTI, method=method)
        expected = plan.prepare(image)
        np.testing.assert_array_equal(pickle.loads(pickle.dumps(plan)).prepare(image), expected)


@pytest.mark.parametrize('method', ['blocks', 'cv2', 'pairs'])
def test_normalisation_is_exactly_pixel_times_scale_plus_bias(method):
    # uint8 resampling results ('taps' resamples in float32) are normalised by a look-up table:
    # it must give the very float32 values of ``pixel * scale + bias`` (the float path's).
    from msdepth_ros.core.crop_resize import _normalise, crop_resampler
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (188 * 2, 621 * 2, 3), dtype=np.uint8)
    plan = plan_input(621 * 2, 188 * 2, KITTI)
    resampler = plan._resampler
    resampler = crop_resampler((621 * 2, 188 * 2), (621, 188), (plan.crop_x0, plan.crop_y0),
                               KITTI.input_size, resampler.scale, resampler.bias, method=method)
    w, h = KITTI.input_size
    got = resampler(image, np.empty((1, 3, h, w), np.float32))[0]
    # The same resampling with the normalisation done in float32 arithmetic.
    pixels = np.clip(np.rint((got - resampler.bias) / resampler.scale), 0, 255)
    expected = np.empty_like(got)
    _normalise(pixels.astype(np.uint8), (0, 1, 2), resampler.scale, resampler.bias, expected)
    np.testing.assert_array_equal(got, expected)
    assert np.unique(got[0]).size > 200  # every grey level goes through its table entry


@pytest.mark.parametrize('layout', ['rgb8', 'bgr8', 'rgba8', 'mono8'])
def test_pairs_samples_four_channels_as_three(layout):
    # 'pairs' warps an RGBA copy of the box-filtered window (twice as fast as RGB): the values
    # must be those of warping the three channels themselves, for every input layout.
    rng = np.random.default_rng(5)
    rgb = rng.integers(0, 256, (375, 1242, 3), dtype=np.uint8)
    image = {'rgb8': rgb, 'bgr8': rgb[..., ::-1].copy()[..., ::-1],
             'rgba8': np.dstack([rgb, np.full(rgb.shape[:2], 7, np.uint8)])[..., :3],
             'mono8': np.broadcast_to(rgb[..., :1], rgb.shape)}[layout]
    plan = plan_input(1242, 375, KITTI)
    resampler = plan._resampler
    assert resampler.method == 'pairs' and resampler.pairs == (False, True)
    w, h = KITTI.input_size
    got = resampler(image, np.empty((1, 3, h, w), np.float32))[0]
    x0, y0, x1, y1 = resampler.cv2_window
    window = np.ascontiguousarray(image[y0:y1, x0:x1])
    boxed = cv2.addWeighted(window[:-1], 0.5, window[1:], 0.5, 0.0)
    sampled = cv2.warpAffine(boxed, np.array(resampler.warp_matrix), (w, h),
                             flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                             borderMode=cv2.BORDER_REPLICATE)
    expected = sampled.transpose(2, 0, 1) * resampler.scale + resampler.bias
    np.testing.assert_array_equal(got, expected.astype(np.float32))
