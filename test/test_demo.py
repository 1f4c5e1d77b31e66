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
``msdepth-demo`` end to end: kitti2bag, export, depth_node, replay and record, over real DDS.

The demo's numbers are checked against an independent computation: the same ONNX model run
offline on the drive's PNGs must give the depth images the node published, and the metrics the
demo reports must equal the metrics of those offline predictions at the truth's pixels.
"""

import json
import subprocess

from conftest import console_script, shared_data_dir
import cv2
from msdepth_ros.core.metrics import compute_metrics, CROPS, valid_mask
from msdepth_ros.core.presets import PRESETS
from msdepth_ros.core.resample import depth_at_camera_pixels
from msdepth_ros.data.kitti import KittiCalibration, read_benchmark_depth
from msdepth_ros.inference import DepthPredictor, load_backend
from msdepth_ros.model.checkpoint import save_checkpoint
from msdepth_ros.model.network import ModelConfig, MultiScaleDepthNet
from msdepth_ros.tools.demo import read_recording
import numpy as np
import pytest
import torch

pytestmark = pytest.mark.ros

FRAMES = 4


@pytest.fixture(scope='module')
def demo_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('demo')
    torch.manual_seed(3)
    model = tmp / 'small.pt'
    save_checkpoint(model, MultiScaleDepthNet(ModelConfig(preset=PRESETS['kitti'],
                                                          coarse_fc_width=16)))
    out = tmp / 'demo_output'
    proc = subprocess.run([console_script('msdepth-demo'), '--model', str(model),
                           '--output-dir', str(out), '--frames', str(FRAMES)],
                          capture_output=True, text=True, timeout=600)
    return proc, out


def test_demo_runs_to_the_end_and_writes_its_outputs(demo_run):
    proc, out = demo_run
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    for name in ('depth_grid.png', 'points.ply', 'metrics.json'):
        assert (out / name).stat().st_size > 0, name
    summary = json.loads((out / 'metrics.json').read_text())
    assert summary['frames_replayed'] == FRAMES
    assert summary['depth_images_out'] == FRAMES, 'a frame was lost between replay and record'
    assert f'{FRAMES} depth images out' in proc.stdout
    assert 'delta < 1.25' in proc.stdout and 'mean depth' in proc.stdout
    grid = cv2.imread(str(out / 'depth_grid.png'))
    assert grid is not None and grid.shape[0] > 200
    header = (out / 'points.ply').read_bytes().split(b'end_header\n')[0].decode()
    count = int(header.split('element vertex ')[1].split()[0])
    assert count == summary['ply_points'] > 0
    assert 'property uchar red' in header
    # The same model on a real KITTI frame against its Velodyne depth, where the sample data
    # is at hand; otherwise the demo says that the row is left out.
    real = summary['real_kitti_frame']
    if shared_data_dir() is not None and (shared_data_dir() / 'kitti_raw_mini').is_dir():
        assert real is not None and 'on a real KITTI frame' in proc.stdout
        assert real['name'].startswith('2011_09_26/') and 0.0 <= real['metrics']['delta1'] <= 1
        assert 'synthetic-trained model on a real image' in proc.stdout
    else:
        assert real is None and 'row is left out' in proc.stdout


def test_node_output_and_metrics_match_an_offline_run(demo_run):
    proc, out = demo_run
    assert proc.returncode == 0, proc.stderr[-2000:]
    work = out / 'work'
    drive_dir = next((work / 'kitti_raw' / '2011_09_26').glob('*_sync'))
    calibration = KittiCalibration.from_raw_dir(drive_dir.parent)
    camera = calibration.intrinsics(2)
    # The node ran config/kitti.yaml: depth range 1-80 m, metric scaling on, no upsampling.
    predictor = DepthPredictor(load_backend(str(work / 'demo_model.onnx'), 'onnxruntime'),
                               upsample=1, metric_scaling=True, min_depth_m=1.0,
                               max_depth_m=80.0)
    recording = read_recording(work / 'output_bag')
    stamps = sorted(recording.depths)
    summary = json.loads((out / 'metrics.json').read_text())
    per_frame = {row['name']: row for row in summary['per_frame']}
    assert len(stamps) == FRAMES
    compared_pixels = 0
    for i, stamp in enumerate(stamps):
        png = drive_dir / 'image_02' / 'data' / f'{i:010d}.png'
        image = cv2.cvtColor(cv2.imread(str(png)), cv2.COLOR_BGR2RGB)
        offline = predictor.predict(image, camera)
        node_depth = recording.depths[stamp][1]
        np.testing.assert_allclose(node_depth, offline.depth_m, rtol=1e-5, equal_nan=True)
        gt = read_benchmark_depth(work / 'kitti_depth' / drive_dir.name / 'proj_depth' /
                                  'groundtruth' / 'image_02' / f'{i:010d}.png')
        mask = valid_mask(gt, 1e-3, 80.0, CROPS['garg'])
        v, u = np.nonzero(mask)
        plan = predictor.plan_for(camera.width, camera.height)
        pred = depth_at_camera_pixels(offline.depth_m, plan.camera_to_output, u.astype(float),
                                      v.astype(float))
        covered = np.isfinite(pred) & (pred > 0)
        expected = compute_metrics(pred[covered], gt[v, u][covered], min_depth_m=1e-3,
                                   max_depth_m=80.0)
        row = next(r for name, r in per_frame.items() if f' {i:010d} ' in name)
        assert row['pixels'] == int(covered.sum())
        compared_pixels += row['pixels']
        for key, value in expected.items():
            assert row[key] == pytest.approx(value, rel=1e-6, abs=1e-9), key
    assert compared_pixels > 0, 'no pixel had both a prediction and a truth'
