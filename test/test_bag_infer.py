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
``msdepth-bag-infer`` on a bag converted from a synthetic drive, offline.

The expected outputs and metrics are computed here from the drive's files (PNG images, the
calibration files, the ``.bin`` scans), not from the bag: the predictor on the image with the
calibration's intrinsics, the Velodyne projected with ``lidar_depth_image``, the metrics of
``core.metrics`` at the ground truth's pixels of the paper's KITTI protocol.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path
import subprocess

from conftest import console_script
import cv2
from msdepth_ros.bags import occupancy as bag_occupancy
from msdepth_ros.core.camera import pixel_rays
from msdepth_ros.core.cloud_filter import CloudFilter
from msdepth_ros.core.intrinsics import Intrinsics
from msdepth_ros.core.metrics import (average_metrics, compute_metrics, KITTI_GARG_CROP,
                                      METRIC_NAMES, valid_mask)
from msdepth_ros.core.occupancy import OccupancyScore
from msdepth_ros.core.resample import depth_at_camera_pixels
from msdepth_ros.core.transforms import invert
from msdepth_ros.data.kitti import KittiCalibration, lidar_depth_image, read_velodyne_points
from msdepth_ros.data.kitti_writer import SyntheticDriveConfig, write_synthetic_drive
from msdepth_ros.inference import DepthPredictor, load_backend
from msdepth_ros.tools import bag_infer, kitti2bag
import numpy as np
import pytest
from rosbags.highlevel import AnyReader
from rosbags.typesys import get_typestore, Stores

NS = '/kitti/camera_color_left'
OUTPUT_TOPICS = (f'{NS}/depth/image', f'{NS}/depth/camera_info', f'{NS}/points')
FRAME_ID = 'camera_color_left_optical_frame'


def raw_messages(path: Path) -> tuple[dict, dict]:
    """Topic -> [(bag time, bytes)] and topic -> connection, without decoding."""
    messages, connections = {}, {}
    with AnyReader([path]) as reader:
        for conn in reader.connections:
            connections[conn.topic] = conn
        for conn, t, data in reader.messages():
            messages.setdefault(conn.topic, []).append((t, bytes(data)))
    return messages, connections


def decoded(path: Path, topic: str) -> list:
    store = get_typestore(Stores.ROS2_JAZZY)
    with AnyReader([path], default_typestore=store) as reader:
        conns = [c for c in reader.connections if c.topic == topic]
        return [(t, reader.deserialize(d, c.msgtype)) for c, t, d in reader.messages(conns)]


def stamp_of(msg) -> int:
    return msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec


def depth_of(msg) -> np.ndarray:
    assert msg.encoding == '32FC1' and msg.is_bigendian == 0 and msg.step == msg.width * 4
    return np.frombuffer(msg.data.tobytes(), '<f4').reshape(msg.height, msg.width)


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    from msdepth_ros.model.checkpoint import save_checkpoint
    from msdepth_ros.model.network import build_model, ModelConfig
    import torch
    tmp = tmp_path_factory.mktemp('bag_infer')
    drive = write_synthetic_drive(tmp / 'raw', SyntheticDriveConfig(
        frames=3, width=310, height=94, cameras=(2,)))
    bag = tmp / 'drive'
    assert kitti2bag.main([str(drive.drive_dir), str(bag), '-q']) == 0
    torch.manual_seed(0)
    model = save_checkpoint(tmp / 'kitti.pt', build_model(
        ModelConfig.for_preset('kitti', coarse_fc_width=16)))
    return tmp, drive, bag, model


@pytest.fixture(scope='module')
def inferred(setup):
    tmp, drive, bag, model = setup
    out = tmp / 'inferred'
    import contextlib
    import io
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert bag_infer.main([str(bag), str(out), '--model', str(model), '--backend', 'torch',
                               '-q']) == 0
    return out, stdout.getvalue()


def _frames(drive):
    pngs = sorted((drive.drive_dir / 'image_02' / 'data').glob('*.png'))
    bins = sorted((drive.drive_dir / 'velodyne_points' / 'data').glob('*.bin'))
    return [(cv2.imread(str(p))[..., ::-1].copy(), b) for p, b in zip(pngs, bins)]


def test_original_topics_are_copied_unchanged(setup, inferred):
    _, _, bag, _ = setup
    out, _ = inferred
    original, original_conns = raw_messages(bag)
    copied, copied_conns = raw_messages(out)
    assert set(copied) == set(original) | set(OUTPUT_TOPICS)
    for topic, messages in original.items():
        assert copied[topic] == messages, topic
        a, b = original_conns[topic], copied_conns[topic]
        assert (a.msgtype, a.msgdef, a.digest) == (b.msgtype, b.msgdef, b.digest)
        assert a.ext == b.ext  # serialization format and offered QoS (tf_static latched)
    images = original[f'{NS}/image_raw']
    for topic in OUTPUT_TOPICS:
        assert [t for t, _ in copied[topic]] == [t for t, _ in images]


def test_outputs_are_the_predictors_on_the_drive_files(setup, inferred):
    _, drive, _, model = setup
    out, _ = inferred
    calibration = KittiCalibration.from_raw_dir(drive.drive_dir.parent)
    camera = calibration.intrinsics(2)
    backend = load_backend(model, 'torch')
    preset = backend.preset
    predictor = DepthPredictor(backend, min_depth_m=preset.min_depth_m,
                               max_depth_m=preset.max_depth_m)
    images = decoded(out, f'{NS}/image_raw')
    depths = decoded(out, f'{NS}/depth/image')
    infos = decoded(out, f'{NS}/depth/camera_info')
    clouds = decoded(out, f'{NS}/points')
    assert len(depths) == len(infos) == len(clouds) == len(images) == 3
    for (rgb, _), (_, image), (_, depth_msg), (_, info), (_, cloud) in zip(
            _frames(drive), images, depths, infos, clouds):
        for msg in (depth_msg, info, cloud):
            assert stamp_of(msg) == stamp_of(image)
            assert msg.header.frame_id == image.header.frame_id == FRAME_ID
        expected = predictor.predict(rgb, camera)
        depth = depth_of(depth_msg)
        np.testing.assert_allclose(depth, expected.depth_m, rtol=1e-5, equal_nan=True)
        intr = expected.intrinsics
        assert (info.width, info.height) == (depth_msg.width, depth_msg.height) == intr.size
        np.testing.assert_allclose(info.k.reshape(3, 3), [[intr.fx_px, 0, intr.cx_px],
                                                          [0, intr.fy_px, intr.cy_px],
                                                          [0, 0, 1]])
        np.testing.assert_allclose(info.p.reshape(3, 4)[:, :3], info.k.reshape(3, 3))
        np.testing.assert_array_equal(info.p.reshape(3, 4)[:, 3], 0.0)
        # The cloud: organized, x y z float32 at 0 4 8 in 16-byte points, the depth image
        # back-projected with its camera info (NaN where the depth is).
        assert (cloud.height, cloud.width, cloud.point_step) == (info.height, info.width, 16)
        assert [(f.name, f.offset, f.datatype) for f in cloud.fields] == [
            ('x', 0, 7), ('y', 4, 7), ('z', 8, 7)]
        xyz = np.frombuffer(cloud.data.tobytes(), '<f4').reshape(
            cloud.height, cloud.width, 4)[..., :3]
        k = info.k.reshape(3, 3)
        v, u = np.mgrid[0:info.height, 0:info.width]
        expected_xyz = np.stack([(u - k[0, 2]) / k[0, 0] * depth,
                                 (v - k[1, 2]) / k[1, 1] * depth, depth], axis=-1)
        np.testing.assert_allclose(xyz, expected_xyz, rtol=1e-5, atol=1e-5, equal_nan=True)
        assert not cloud.is_dense  # as the node: an organized cloud may hold NaN points


def _assert_node_s_bytes(in_bag: Path, out_bag: Path, model: Path, frame: int,
                         upsample: int = 1, max_depth_m: float = 0.0,
                         cloud_filter: CloudFilter = CloudFilter()) -> None:
    """
    Check that the outputs of one frame are what the depth node publishes, byte for byte.

    The node's pipeline (``DepthPipeline`` with rclpy's message classes, as ``depth_node``
    runs it) gets the bag's image and camera info; each rclpy message is serialized by rclpy,
    read back by rosbags and serialized again (CDR padding is not zeroed by rclpy), and must be
    the bag's stored bytes.
    """
    from msdepth_ros.msgs import writers
    from msdepth_ros.msgs.images import camera_info_to_intrinsics, image_to_rgb
    from msdepth_ros.pipeline.depth import DepthPipeline, OutputRequest, PredictionSettings
    from msdepth_ros.ros.conversions import RCLPY_TYPES
    from rclpy.serialization import serialize_message
    store = get_typestore(Stores.ROS2_JAZZY)
    image = decoded(in_bag, f'{NS}/image_raw')[frame][1]
    info = {stamp_of(m): m for _, m in decoded(in_bag, f'{NS}/camera_info')}[stamp_of(image)]
    backend = load_backend(model, 'torch')
    preset = backend.preset
    node = DepthPipeline(backend, RCLPY_TYPES).process(
        image_to_rgb(image), camera_info_to_intrinsics(info),
        writers.copy_header(RCLPY_TYPES, image.header),
        PredictionSettings(upsample, True, preset.min_depth_m, max_depth_m or preset.max_depth_m),
        OutputRequest(colorized=False, cloud_filter=cloud_filter))
    stored, _ = raw_messages(out_bag)
    for topic, msg in (('depth/image', node.depth_image), ('depth/camera_info', node.camera_info),
                       ('points', node.points)):
        as_published = store.deserialize_cdr(serialize_message(msg), store.types[
            f'sensor_msgs/msg/{type(msg).__name__}'].__msgtype__)
        assert bytes(store.serialize_cdr(as_published, as_published.__msgtype__)) == \
            stored[f'{NS}/{topic}'][frame][1], topic
    assert np.isfinite(node.depth_m).any()


def test_outputs_are_the_depth_node_s_bytes(setup, inferred, tmp_path):
    _, drive, bag, model = setup
    out, _ = inferred
    for frame in range(3):
        _assert_node_s_bytes(bag, out, model, frame)
    # With upsampling, a depth range that cuts and the cloud filter: the node's, not copies.
    ranged = tmp_path / 'ranged'
    assert bag_infer.main([str(bag), str(ranged), '--model', str(model), '--backend', 'torch',
                           '--upsample', '2', '--max-depth-m', '8', '--cloud-stride', '2',
                           '--cloud-flying-pixel-threshold', '0.05', '--no-eval', '-q']) == 0
    _assert_node_s_bytes(bag, ranged, model, 1, upsample=2, max_depth_m=8.0,
                         cloud_filter=CloudFilter(flying_pixel_threshold=0.05, stride=2))


def _independent_metrics(drive, model):
    """Per-frame metrics of the predictor against the calibration files' Velodyne projection."""
    calibration = KittiCalibration.from_raw_dir(drive.drive_dir.parent)
    camera = calibration.intrinsics(2)
    predictor = DepthPredictor(load_backend(model, 'torch'), min_depth_m=0.0,
                               max_depth_m=math.inf)
    rows = []
    for rgb, scan in _frames(drive):
        gt = lidar_depth_image(read_velodyne_points(scan), calibration, 2)
        mask = valid_mask(gt, 1e-3, 80.0, KITTI_GARG_CROP)
        v, u = np.nonzero(mask)
        result = predictor.predict(rgb, camera)
        plan = predictor.plan_for(rgb.shape[1], rgb.shape[0])
        pred = depth_at_camera_pixels(result.depth_m, plan.camera_to_output, u, v).astype(float)
        covered = np.isfinite(pred) & (pred > 0)
        rows.append({'gt_pixels': int(mask.sum()), 'pixels': int(covered.sum()),
                     **compute_metrics(pred[covered], gt[v, u][covered].astype(float),
                                       min_depth_m=1e-3, max_depth_m=80.0)})
    return rows


def test_reported_metrics_equal_an_independent_evaluation(setup, inferred):
    _, drive, _, model = setup
    out, stdout = inferred
    expected_rows = _independent_metrics(drive, model)
    expected = average_metrics(expected_rows)
    eval_dir = out.with_name(out.name + '_eval')
    data = json.loads((eval_dir / 'metrics.json').read_text())
    assert data['images'] == 3
    assert data['protocol'] == {'min_depth_m': 1e-3, 'max_depth_m': 80.0, 'crop': 'garg',
                                'median_scaling': False}
    # The bag's transform is a quaternion of the calibration's not exactly orthonormal
    # rotation (points move by ~1e-8 m), so a point on a pixel border could land one pixel
    # over: one pixel of ~10^4 changes a metric by ~1e-4 at most.
    for name in METRIC_NAMES:
        assert data['metrics'][name] == pytest.approx(expected[name], rel=1e-4, abs=1e-6), name
    with open(eval_dir / 'frames.csv', newline='') as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3
    images = decoded(out, f'{NS}/image_raw')
    for i, (row, want, (_, image)) in enumerate(zip(rows, expected_rows, images)):
        assert int(row['frame']) == i
        assert int(row['stamp_ns']) == stamp_of(image)
        assert float(row['time_s']) == pytest.approx(0.1 * i)
        assert float(row['scan_offset_ms']) == pytest.approx(0.0)
        assert abs(int(row['gt_pixels']) - want['gt_pixels']) <= 0.001 * want['gt_pixels']
        for name in METRIC_NAMES:
            assert float(row[name]) == pytest.approx(want[name], rel=1e-4, abs=1e-6), name
    assert (eval_dir / 'metrics.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    # The paper's table: the measured column beside the paper's KITTI columns.
    assert 'paper coarse+fine' in stdout and 'depth 0.001-80 m, crop garg' in stdout
    abs_rel_line = next(line for line in stdout.splitlines() if line.startswith('abs rel'))
    assert abs_rel_line.split()[2] == f"{data['metrics']['abs_rel']:.3f}"
    assert abs_rel_line.split()[-3] == '0.190'  # the paper's coarse+fine


def test_occupancy_equals_cells_computed_from_the_drive_files(setup, inferred):
    """The bag's depth output and the .bin scans, binned in the IMU frame (base_link)."""
    _, drive, _, _ = setup
    out, stdout = inferred
    calibration = KittiCalibration.from_raw_dir(drive.drive_dir.parent)
    T_base_cam = invert(calibration.T_cam_imu(2))
    settings = bag_occupancy.settings_from(argparse.Namespace(
        no_occupancy=False, base_frame='base_link', occupancy_cell_m=0.1,
        occupancy_min_height_m=-0.63, occupancy_max_height_m=1.07, occupancy_max_range_m=20.0))
    depths = decoded(out, f'{NS}/depth/image')
    infos = decoded(out, f'{NS}/depth/camera_info')
    eval_dir = out.with_name(out.name + '_eval')
    with open(eval_dir / 'frames.csv', newline='') as f:
        rows = list(csv.DictReader(f))
    total = OccupancyScore()
    for row, (_, depth_msg), (_, info), (_, scan) in zip(rows, depths, infos, _frames(drive)):
        grid = Intrinsics.from_k(info.k, info.width, info.height)
        want, want_ceiling = bag_occupancy.frame_occupancy(
            depth_of(depth_msg), grid, read_velodyne_points(scan)[:, :3].astype(np.float64),
            calibration.T_cam_velo(2), T_base_cam, settings, CloudFilter())
        got = OccupancyScore(int(row['cells_tp']), int(row['cells_fp']), int(row['cells_fn']))
        # The bag's transforms are quaternions of the calibration's rotations (~1e-8 m apart):
        # a point on a cell border may fall one cell over.
        ceiling = OccupancyScore(int(row['ceiling_tp']), int(row['ceiling_fp']),
                                 int(row['ceiling_fn']))
        for a, b in ((got.tp, want.tp), (got.fp, want.fp), (got.fn, want.fn),
                     (ceiling.tp, want_ceiling.tp), (ceiling.fp, want_ceiling.fp)):
            assert abs(a - b) <= 2 + 0.01 * b, (got, want, ceiling, want_ceiling)
        assert want.tp + want.fn > 0  # the drive's scans mark cells
        total = total + got
    data = json.loads((eval_dir / 'metrics.json').read_text())['occupancy']
    assert (data['tp'], data['fp'], data['fn'], data['frames']) == (total.tp, total.fp,
                                                                    total.fn, 3)
    assert data['base_frame'] == 'base_link' and data['min_height_m'] == -0.63
    assert 'Occupancy over 3 frames (cells of 0.1 m in base_link' in stdout
    assert f'| {total.tp} | {total.fp} | {total.fn} |' in stdout
    assert '| resolution ceiling (the scan at its pixels) |' in stdout
    assert data['resolution_ceiling']['precision'] > 0.5


def test_upsampling_depth_range_and_no_velodyne(setup, tmp_path, capsys):
    tmp, drive, _, model = setup
    bag = tmp_path / 'no_velodyne'
    assert kitti2bag.main([str(drive.drive_dir), str(bag), '--no-velodyne', '-q']) == 0
    out = tmp_path / 'out'
    assert bag_infer.main([str(bag), str(out), '--model', str(model), '--backend', 'torch',
                           '--upsample', '2', '--max-depth-m', '20', '--storage', 'sqlite3',
                           '--cloud-stride', '3', '--cloud-max-range-m', '1.05', '-q']) == 0
    printed = capsys.readouterr().out
    assert 'no evaluation: the bag has no PointCloud2 topic /kitti/velodyne_points' in printed
    assert not (tmp_path / 'out_eval').exists()
    (_, depth_msg), = decoded(out, f'{NS}/depth/image')[:1]
    depth = depth_of(depth_msg)
    assert depth.shape == (2 * 27, 2 * 142)
    finite = depth[np.isfinite(depth)]
    assert finite.size and finite.max() <= 20.0
    assert (out / 'out.db3').is_file()
    # The cloud is the node's, through the cloud filter; the depth image is not filtered.
    (_, info), = decoded(out, f'{NS}/depth/camera_info')[:1]
    (_, cloud), = decoded(out, f'{NS}/points')[:1]
    grid = Intrinsics.from_k(info.k, info.width, info.height)
    expected = CloudFilter(max_range_m=1.05, stride=3).apply(
        depth, np.linalg.norm(pixel_rays(grid), axis=-1))
    assert (cloud.height, cloud.width) == expected.shape == (18, 95)
    z = np.frombuffer(cloud.data.tobytes(), '<f4').reshape(18, 95, 4)[..., 2]
    np.testing.assert_array_equal(np.isnan(z), np.isnan(expected))
    np.testing.assert_allclose(z, expected, rtol=1e-6)
    # the cap (the random model predicts about 1 m) dropped some points, not all
    assert np.isnan(depth[::3, ::3]).sum() < np.isnan(expected).sum() < expected.size


def test_static_int8_onnx_model(setup, tmp_path, capsys):
    # msdepth-export --int8's file (calibrated on one street here) is loaded like any .onnx.
    from msdepth_ros.inference.export import export_checkpoint
    from msdepth_ros.inference.quantize import export_int8
    _, drive, bag, model = setup
    fp32 = export_checkpoint(model, tmp_path / 'kitti.onnx').path
    int8, _ = export_int8(fp32, tmp_path / 'kitti.int8.onnx', scenes=1)
    out = tmp_path / 'int8_depth'
    assert bag_infer.main([str(bag), str(out), '--model', str(int8.path), '--backend',
                           'onnxruntime', '-q']) == 0
    assert '3 images' in capsys.readouterr().out
    camera = KittiCalibration.from_raw_dir(drive.drive_dir.parent).intrinsics(2)
    backend = load_backend(int8.path, 'onnxruntime')
    assert backend.info.precision == 'int8'
    predictor = DepthPredictor(backend, min_depth_m=backend.preset.min_depth_m,
                               max_depth_m=backend.preset.max_depth_m)
    depths = decoded(out, f'{NS}/depth/image')
    assert len(depths) == 3
    for (rgb, _), (_, depth_msg) in zip(_frames(drive), depths):
        expected = predictor.predict(rgb, camera).depth_m
        assert np.isfinite(expected).any()
        np.testing.assert_allclose(depth_of(depth_msg), expected, rtol=1e-5, equal_nan=True)


def test_real_kitti_frames(shared_data, setup, tmp_path, capsys):
    _, _, _, model = setup
    drive_dir = shared_data / 'kitti_raw_mini' / '2011_09_26' / '2011_09_26_drive_0000_sync'
    bag = tmp_path / 'mini'
    assert kitti2bag.main([str(drive_dir), str(bag), '-q']) == 0
    out = tmp_path / 'mini_depth'
    assert bag_infer.main([str(bag), str(out), '--model', str(model), '--backend', 'torch',
                           '-q']) == 0
    assert '2 images, depth 0.001-80 m, crop garg' in capsys.readouterr().out
    calibration = KittiCalibration.from_raw_dir(drive_dir.parent)
    scans = sorted((drive_dir / 'velodyne_points' / 'data').glob('*.bin'))
    with open(out.with_name('mini_depth_eval') / 'frames.csv', newline='') as f:
        rows = list(csv.DictReader(f))
    for row, scan in zip(rows, scans):
        gt = lidar_depth_image(read_velodyne_points(scan), calibration, 2)
        expected = int(valid_mask(gt, 1e-3, 80.0, KITTI_GARG_CROP).sum())
        assert abs(int(row['gt_pixels']) - expected) <= 0.001 * expected
    (_, depth_msg), _ = decoded(out, f'{NS}/depth/image')
    assert (depth_msg.width, depth_msg.height) == (142, 27)
    _assert_node_s_bytes(bag, out, model, 1)


# -- errors -----------------------------------------------------------------------------------

def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([console_script('msdepth-bag-infer'), *args, '-q'],
                          capture_output=True, text=True, timeout=300)


def _assert_clear_failure(proc, out: Path, *fragments: str, code: int = 1) -> None:
    assert proc.returncode == code, proc.stderr
    assert 'Traceback' not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    for fragment in fragments:
        assert fragment in last, last
    assert not out.exists()
    assert not out.with_name(out.name + '.partial').exists()


def test_errors_are_clear_and_leave_no_bag(setup, tmp_path):
    _, _, bag, model = setup
    out = tmp_path / 'out'
    _assert_clear_failure(_run(str(tmp_path / 'nothing'), str(out), '--model', str(model)),
                          out, 'msdepth-bag-infer: ', 'nothing: no such bag')
    _assert_clear_failure(_run(str(bag), str(out), '--model', str(model), '--image-topic',
                               '/cam/image'), out, 'topic /cam/image is not in the bag')
    _assert_clear_failure(_run(str(bag), str(out), '--model', str(tmp_path / 'none.pt')), out,
                          'none.pt: no such model file')
    junk = tmp_path / 'junk.onnx'
    junk.write_bytes(b'not an onnx file')
    _assert_clear_failure(_run(str(bag), str(out), '--model', str(junk), '--backend',
                               'onnxruntime'), out, 'junk.onnx')
    _assert_clear_failure(_run(str(bag), str(out), '--model', str(model), '--preset', 'nyu'),
                          out, "serves preset 'kitti', not the requested 'nyu'")
    _assert_clear_failure(_run(str(bag), str(out), '--model', str(model), '--upsample', '0'),
                          out, '--upsample must be within 1 and 8', code=2)
    out.mkdir()
    proc = _run(str(bag), str(out), '--model', str(model))
    assert proc.returncode == 1 and 'exists already' in proc.stderr
