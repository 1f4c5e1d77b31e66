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

"""One frame through ``DepthPipeline`` with the real PyTorch backend (no DDS): outputs, caches."""

from __future__ import annotations

from msdepth_ros.core.camera import pixel_rays
from msdepth_ros.core.cloud_filter import CloudFilter
from msdepth_ros.core.intrinsics import Intrinsics
from msdepth_ros.core.laser_scan import depth_to_scan, scan_geometry
from msdepth_ros.core.preprocess import plan_input
from msdepth_ros.core.presets import NYU
from msdepth_ros.core.synthetic import road_scene
from msdepth_ros.inference import DepthPredictor, load_backend
from msdepth_ros.pipeline import depth as pipeline_module
from msdepth_ros.pipeline.depth import DepthPipeline, OutputRequest, PredictionSettings
from msdepth_ros.ros.conversions import RCLPY_TYPES
import numpy as np
import pytest
from ros_harness import depth_array, make_checkpoint
from std_msgs.msg import Header

SETTINGS = PredictionSettings(upsample=2, metric_scaling=True, min_depth_m=0.001,
                              max_depth_m=10.0)


@pytest.fixture(scope='module')
def pipeline(tmp_path_factory):
    path = make_checkpoint(tmp_path_factory.mktemp('pipeline') / 'nyu.pt', 'nyu')
    return DepthPipeline(load_backend(path, 'torch'), RCLPY_TYPES)


@pytest.fixture()
def frame():
    scene = road_scene(2, 160, 120)
    header = Header(frame_id='cam_optical')
    header.stamp.sec = 3
    return scene.image, scene.intrinsics, header


def test_builds_only_the_requested_outputs(pipeline, frame):
    image, intrinsics, header = frame
    out = pipeline.process(image, intrinsics, header, SETTINGS,
                           OutputRequest(depth=True, camera_info=False, points=False))
    assert out.depth_image is not None
    assert out.camera_info is None and out.points is None and out.colorized is None
    assert out.depth_m.shape == (NYU.output_height * 2, NYU.output_width * 2)
    assert out.intrinsics == plan_input(160, 120, NYU, upsample=2).output_intrinsics(intrinsics)
    assert set(out.timings_s) == {'preprocess', 'inference', 'postprocess', 'points',
                                  'messages'}
    everything = pipeline.process(image, intrinsics, header, SETTINGS,
                                  OutputRequest(points_rgb=True, colorized=True,
                                                colormap='viridis'))
    assert everything.points.point_step == 32
    assert everything.colorized.encoding == 'rgb8'
    assert everything.camera_info.header.frame_id == 'cam_optical'
    # The outputs carry a copy of the header, not the input's object.
    assert everything.depth_image.header is not header


def test_rays_and_predictor_are_cached_per_camera(pipeline, frame, monkeypatch):
    image, intrinsics, header = frame
    calls = []
    real = pipeline_module.pixel_rays
    monkeypatch.setattr(pipeline_module, 'pixel_rays',
                        lambda intr: calls.append(intr) or real(intr))
    fresh = DepthPipeline(pipeline.backend, RCLPY_TYPES)
    request = OutputRequest()
    first = fresh.predictor(SETTINGS)
    for _ in range(3):
        fresh.process(image, intrinsics, header, SETTINGS, request)
    assert fresh.predictor(SETTINGS) is first
    assert len(calls) == 1
    assert calls[0].size == (NYU.output_width * 2, NYU.output_height * 2)
    # Another camera (a new camera info) gets new rays.
    other = Intrinsics(intrinsics.fx_px * 1.1, intrinsics.fy_px * 1.1, intrinsics.cx_px,
                       intrinsics.cy_px, 160, 120)
    fresh.process(image, other, header, SETTINGS, request)
    assert len(calls) == 2 and calls[1] != calls[0]
    # The depth range is applied after the prediction: a new range keeps the predictor.
    narrower = PredictionSettings(upsample=2, metric_scaling=True, min_depth_m=0.001,
                                  max_depth_m=5.0)
    assert fresh.predictor(narrower) is first
    coarser = PredictionSettings(upsample=1, metric_scaling=True, min_depth_m=0.001,
                                 max_depth_m=5.0)
    assert fresh.predictor(coarser) is not first


@pytest.mark.parametrize('depth_range_m', [(0.001, 10.0), (2.0, 3.5)])
def test_the_range_after_the_prediction_gives_the_predictor_s_own_bytes(pipeline, frame,
                                                                        depth_range_m):
    """Masking the unbounded prediction equals predicting with the range, bit for bit."""
    image, intrinsics, header = frame
    settings = PredictionSettings(2, True, *depth_range_m)
    out = pipeline.process(image, intrinsics, header, settings, OutputRequest())
    ranged = DepthPredictor(pipeline.backend, upsample=2, metric_scaling=True,
                            min_depth_m=depth_range_m[0], max_depth_m=depth_range_m[1])
    expected = ranged.predict(image, intrinsics).depth_m
    assert out.depth_m.tobytes() == expected.tobytes()
    assert np.isnan(out.depth_m).any() or depth_range_m[1] == 10.0
    # The unbounded depth keeps what the range cut (for evaluation), nothing else differs.
    cut = np.isnan(out.depth_m) & ~np.isnan(out.unbounded_depth_m)
    inside = ~np.isnan(out.depth_m)
    assert np.array_equal(out.unbounded_depth_m[inside], out.depth_m[inside])
    assert (cut == ((out.unbounded_depth_m < depth_range_m[0])
                    | (out.unbounded_depth_m > depth_range_m[1]))).all()


def test_depth_range_and_views_on_the_input(pipeline, frame):
    image, intrinsics, header = frame
    narrow = PredictionSettings(upsample=1, metric_scaling=False, min_depth_m=0.001,
                                max_depth_m=10.0)
    ref = pipeline.process(image, intrinsics, header, narrow, OutputRequest()).depth_m
    # A BGR view reversed by strides gives the same depth as the contiguous RGB array.
    bgr = np.ascontiguousarray(image[..., ::-1])
    view = pipeline.process(bgr[..., ::-1], intrinsics, header, narrow, OutputRequest()).depth_m
    np.testing.assert_allclose(view, ref, rtol=1e-6)
    cap = float(np.median(ref))
    capped = pipeline.process(image, intrinsics, header,
                              PredictionSettings(1, False, 0.001, cap), OutputRequest()).depth_m
    np.testing.assert_array_equal(np.isnan(capped), ref > np.float32(cap))


def _cloud_xyz(msg) -> np.ndarray:
    """``H x W x 3`` float32 points of an organized cloud of point_step 16 or 32."""
    floats = np.frombuffer(bytes(msg.data), np.float32).reshape(msg.height, msg.width, -1)
    return floats[..., :3]


def test_the_cloud_filter_shapes_the_cloud_but_not_the_depth_image(pipeline, frame):
    image, intrinsics, header = frame
    plain = pipeline.process(image, intrinsics, header, SETTINGS, OutputRequest(points_rgb=True))
    cloud_filter = CloudFilter(flying_pixel_threshold=0.05, max_range_m=6.0, stride=3)
    filtered = pipeline.process(image, intrinsics, header, SETTINGS,
                                OutputRequest(points_rgb=True, cloud_filter=cloud_filter))
    # REP 118: the depth image is the network's, whatever the cloud's filter.
    np.testing.assert_array_equal(depth_array(filtered.depth_image), plain.depth_m)
    expected = cloud_filter.apply(plain.depth_m,
                                  np.linalg.norm(pixel_rays(plain.intrinsics), axis=-1))
    xyz = _cloud_xyz(filtered.points)
    assert (filtered.points.height, filtered.points.width) == expected.shape == (
        -(-plain.depth_m.shape[0] // 3), -(-plain.depth_m.shape[1] // 3))
    np.testing.assert_array_equal(np.isnan(xyz[..., 2]), np.isnan(expected))
    np.testing.assert_allclose(xyz[..., 2], expected, rtol=1e-6)
    full = _cloud_xyz(plain.points)[::3, ::3]
    kept = ~np.isnan(expected)
    assert 0 < kept.sum() < kept.size  # the filter dropped some points, not all
    np.testing.assert_allclose(xyz[kept], full[kept], rtol=1e-6)
    # The colours follow their points.
    rgb = np.frombuffer(bytes(filtered.points.data), np.uint32).reshape(*expected.shape, 8)[..., 4]
    full_rgb = np.frombuffer(bytes(plain.points.data), np.uint32).reshape(
        *plain.depth_m.shape, 8)[::3, ::3, 4]
    np.testing.assert_array_equal(rgb, full_rgb)


def test_the_scan_is_built_on_request_from_the_depth_image(pipeline, frame):
    image, intrinsics, header = frame
    out = pipeline.process(image, intrinsics, header, SETTINGS,
                           OutputRequest(points=False, scan=True, scan_height=3))
    scan = out.scan
    geometry = scan_geometry(out.intrinsics, 3)
    assert scan.header.frame_id == 'cam' and scan.header.stamp.sec == 3
    assert scan.angle_min == pytest.approx(geometry.angle_min)
    assert scan.angle_max == pytest.approx(geometry.angle_max)
    assert scan.angle_increment == pytest.approx(geometry.angle_increment)
    assert (scan.range_min, scan.range_max) == pytest.approx((0.001, 10.0))
    expected = depth_to_scan(out.depth_m, geometry, 0.001, 10.0)
    np.testing.assert_array_equal(np.asarray(scan.ranges, np.float32), expected)
    assert len(scan.ranges) == out.depth_m.shape[1] and np.isfinite(expected).any()
    named = pipeline.process(image, intrinsics, header, SETTINGS,
                             OutputRequest(points=False, depth=False, scan=True,
                                           scan_frame_id='laser'))
    assert named.scan.header.frame_id == 'laser' and named.depth_image is None
    assert pipeline.process(image, intrinsics, header, SETTINGS, OutputRequest()).scan is None
    # A band taller than the image is cut to the rows that fit around cy, not an error.
    tall = pipeline.process(image, intrinsics, header, SETTINGS,
                            OutputRequest(points=False, scan=True, scan_height=10000))
    rows = max(h for h in range(1, out.depth_m.shape[0] + 1)
               if _fits(out.intrinsics, h))
    np.testing.assert_array_equal(np.asarray(tall.scan.ranges, np.float32), depth_to_scan(
        tall.depth_m, scan_geometry(out.intrinsics, rows), 0.001, 10.0))
    assert rows > out.depth_m.shape[0] // 2


def _fits(intrinsics, rows) -> bool:
    try:
        scan_geometry(intrinsics, rows)
    except ValueError:
        return False
    return True
