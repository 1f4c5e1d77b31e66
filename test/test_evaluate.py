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


"""``msdepth-eval``: perfect predictions, the mean baseline, the paper's table, the files."""

import json
import math
import subprocess

from conftest import console_script
from msdepth_ros.core.metrics import (average_metrics, compute_metrics, KITTI_GARG_CROP,
                                      METRIC_NAMES, NYU_EIGEN_CROP, PAPER_RESULTS,
                                      valid_mask)
from msdepth_ros.core.preprocess import plan_input
from msdepth_ros.core.presets import NYU
from msdepth_ros.core.synthetic import BOX, ROAD, WALL
from msdepth_ros.data.base import write_png
from msdepth_ros.data.kitti import write_split_file
from msdepth_ros.data.kitti_writer import SyntheticDriveConfig, write_synthetic_drive
from msdepth_ros.data.nyu import NYU_INTRINSICS, NyuPairsDataset
from msdepth_ros.data.synthetic import SyntheticRoadDataset
from msdepth_ros.evaluation.evaluate import EvalProtocol, evaluate, PredictedDepth
from msdepth_ros.evaluation.report import format_report, write_report
from msdepth_ros.model.checkpoint import save_checkpoint
from msdepth_ros.model.network import build_model, ModelConfig
import numpy as np
import pytest
import torch


def run_eval(*args):
    proc = subprocess.run([console_script('msdepth-eval'), *map(str, args), '--no-progress'],
                          capture_output=True, text=True, timeout=300)
    return proc


def constant_checkpoint(path, preset_name, log_depth):
    """Write a real checkpoint whose network outputs ``log_depth`` everywhere (fine 4 bias)."""
    model = build_model(ModelConfig.for_preset(preset_name, coarse_fc_width=8))
    with torch.no_grad():
        model.fine.conv4.weight.zero_()
        model.fine.conv4.bias.fill_(log_depth)
    return save_checkpoint(path, model, metadata={'note': 'constant output for tests'})


def test_prediction_equal_to_the_ground_truth_is_perfect(tmp_path):
    folder = tmp_path / 'pairs'
    rng = np.random.default_rng(0)
    for i in range(2):
        write_png(folder / f'image_{i}.png', rng.integers(0, 256, (480, 640, 3), np.uint8))
        write_png(folder / f'depth_{i}.png', np.full((480, 640), 3000, np.uint16))  # 3 m
    # the network predicts at the training focal length; the evaluation rescales to the camera
    scale = plan_input(640, 480, NYU).metric_scale(NYU_INTRINSICS)
    model = constant_checkpoint(tmp_path / 'const.pt', 'nyu', math.log(3.0 / scale))
    proc = run_eval(model, '--backend', 'torch', '--dataset', 'nyu_pairs', '--root', folder,
                    '--output-dir', tmp_path / 'out')
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / 'out' / 'metrics.json').read_text())
    m = report['metrics']
    assert m['delta1'] == m['delta2'] == m['delta3'] == 1.0
    assert m['abs_rel'] < 1e-6 and m['rmse'] < 1e-5 and m['si_log'] < 1e-6
    assert report['images'] == 2 and report['protocol']['crop'] == 'nyu_eigen'
    # the network's output grid does not reach the crop's bottom rows: counted, not hidden
    assert 0.9 < report['coverage'] < 1.0
    proc = run_eval(model, '--dataset', 'nyu_pairs', '--root', folder, '--extrapolate',
                    '--output-dir', tmp_path / 'extrapolated', '--no-plot')
    assert proc.returncode == 0, proc.stderr
    extrapolated = json.loads((tmp_path / 'extrapolated' / 'metrics.json').read_text())
    assert extrapolated['coverage'] == 1.0 and extrapolated['metrics']['delta1'] == 1.0
    # the table prints the measured column beside the paper's
    out = proc.stdout
    assert 'measured' in out and 'paper coarse+fine' in out and 'paper mean' in out
    assert '0.611' in out and '0.907' in out and '1.000' in out
    assert 'warning' not in proc.stderr
    # NYU pairs label no surfaces: no table by surface
    assert report['by_surface'] == {} and 'by surface' not in out
    assert report['paper']['paper coarse']['delta1'] == PAPER_RESULTS['nyu']['coarse'][0]
    rows = (tmp_path / 'out' / 'per_image.csv').read_text().splitlines()
    assert rows[0].split(',')[:4] == ['name', 'gt_pixels', 'pixels', 'scale']
    assert len(rows) == 3
    assert (tmp_path / 'out' / 'report.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_mean_baseline_reports_what_the_metrics_module_computes(tmp_path):
    proc = run_eval('--baseline', 'mean', '--mean-depth-m', 12.5, '--dataset', 'synthetic',
                    '--synthetic-count', 3, '--synthetic-size', 310, 94, '--output-dir',
                    tmp_path, '--no-plot')
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / 'metrics.json').read_text())
    dataset = SyntheticRoadDataset(3, seed=1000, width=310, height=94)
    expected = [compute_metrics(np.full_like(dataset[i].depth_m, 12.5), dataset[i].depth_m,
                                min_depth_m=1e-3, max_depth_m=80.0, crop=KITTI_GARG_CROP)
                for i in range(3)]
    mean = average_metrics(expected)
    for name in METRIC_NAMES:
        assert report['metrics'][name] == pytest.approx(mean[name], rel=1e-9, abs=1e-12)
    assert report['coverage'] == 1.0 and report['protocol']['crop'] == 'garg'
    assert '0.692' in proc.stdout and '9.635' in proc.stdout  # KITTI's paper columns
    assert not (tmp_path / 'report.png').exists()
    rows = (tmp_path / 'per_image.csv').read_text().splitlines()[1:]
    assert [float(r.split(',')[4]) for r in rows] == pytest.approx(
        [e['delta1'] for e in expected], abs=1e-6)


class TruthWithNearBoxes:
    """Predicts each street's true depth, but the boxes at half theirs (a scripted source)."""

    label = 'truth, boxes x0.5'

    def __init__(self, dataset):
        self.truths = {}
        for i in range(len(dataset)):
            depth = dataset[i].depth_m.copy()
            depth[dataset.surfaces(i) == BOX] *= 0.5
            self.truths[dataset[i].image.tobytes()] = depth

    def predict(self, image_rgb, intrinsics):
        depth = self.truths[image_rgb.tobytes()]
        return PredictedDepth(sample=lambda u, v: depth[v.astype(int), u.astype(int)],
                              dense=lambda width, height: depth)


def test_synthetic_streets_are_scored_per_surface(tmp_path):
    dataset = SyntheticRoadDataset(3, seed=1000, width=310, height=94)
    protocol = EvalProtocol.for_preset('kitti')
    report = evaluate(TruthWithNearBoxes(dataset), dataset, protocol)
    surfaces = report.by_surface
    assert set(surfaces) == {'road', 'ground', 'wall', 'facade', 'box'}
    # the surfaces' shares are their pixels among those scored (caps and Garg crop)
    counts = np.zeros(6)
    for i in range(3):
        gt = dataset[i].depth_m
        mask = valid_mask(gt, protocol.min_depth_m, protocol.max_depth_m, KITTI_GARG_CROP)
        counts += np.bincount(dataset.surfaces(i)[mask], minlength=6)
    for name, label in (('road', ROAD), ('wall', WALL), ('box', BOX)):
        assert surfaces[name]['share'] == pytest.approx(counts[label] / counts.sum())
    assert sum(row['share'] for row in surfaces.values()) == pytest.approx(1.0)
    box = surfaces['box']
    assert box['delta1'] == 0.0 and box['abs_rel'] == pytest.approx(0.5)
    assert box['log_ratio'] == pytest.approx(-math.log(2.0))
    for name in ('road', 'ground', 'wall', 'facade'):
        assert surfaces[name]['delta1'] == 1.0 and abs(surfaces[name]['log_ratio']) < 1e-6
    # the overall delta < 1.25 lost exactly the boxes' pixels
    assert report.metrics['delta1'] < 1.0
    text = format_report(report, 'kitti')
    assert 'by surface' in text and 'box' in text and '-0.693' in text
    written = write_report(report, tmp_path, 'kitti', plot=False)
    assert json.loads(written['json'].read_text())['by_surface']['box']['delta1'] == 0.0


def test_mean_baseline_on_real_nyu_samples(shared_data, tmp_path):
    proc = run_eval('--baseline', 'mean', '--dataset', 'nyu_pairs', '--root',
                    shared_data / 'nyu_mini', '--output-dir', tmp_path, '--examples', 2)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / 'metrics.json').read_text())
    dataset = NyuPairsDataset.from_folder(shared_data / 'nyu_mini')
    crop = NYU_EIGEN_CROP.mask(480, 640)
    gts = [dataset[i].depth_m for i in range(len(dataset))]
    values = np.concatenate([g[crop & np.isfinite(g) & (g < 10.0)] for g in gts])
    mean_depth = float(values.astype(float).mean())
    assert f'{mean_depth:.3f} m' in report['label']
    expected = average_metrics(
        compute_metrics(np.full_like(g, mean_depth), g, min_depth_m=1e-3, max_depth_m=10.0,
                        crop=NYU_EIGEN_CROP) for g in gts)
    assert report['metrics']['abs_rel'] == pytest.approx(expected['abs_rel'], rel=1e-6)
    assert report['images'] == 8 and (tmp_path / 'report.png').is_file()


def test_kitti_raw_ground_truth_is_cached_once(tmp_path):
    drive = write_synthetic_drive(tmp_path / 'raw', SyntheticDriveConfig(
        frames=2, width=310, height=94, cameras=(2,), oxts=False))
    split = write_split_file(tmp_path / 'split.txt', drive.entries('l'))
    cache = tmp_path / 'gt.npz'
    args = ['--baseline', 'mean', '--mean-depth-m', 20, '--dataset', 'kitti_raw', '--root',
            tmp_path / 'raw', '--split', split, '--gt-cache', cache, '--no-plot']
    first = run_eval(*args, '--output-dir', tmp_path / 'a')
    assert first.returncode == 0, first.stderr
    assert cache.is_file() and 'wrote ground truth' in first.stdout
    second = run_eval(*args, '--output-dir', tmp_path / 'b')
    assert second.returncode == 0 and 'wrote ground truth' not in second.stdout
    a = json.loads((tmp_path / 'a' / 'metrics.json').read_text())['metrics']
    b = json.loads((tmp_path / 'b' / 'metrics.json').read_text())['metrics']
    assert a == b and 0.0 < a['delta1'] < 1.0
    # The Eigen split is scored on the published tables' pixels by default; the cache says so.
    report = json.loads((tmp_path / 'a' / 'metrics.json').read_text())
    assert report['dataset']['gt_pixels'] == 'eigen' and 'eigen pixels' in first.stdout
    other = run_eval(*args, '--gt-pixels', 'exact', '--output-dir', tmp_path / 'c')
    assert other.returncode == 1 and 'holds velodyne eigen ground truth' in other.stderr
    exact = run_eval(*args[:-3], '--gt-pixels', 'exact', '--no-plot',
                     '--output-dir', tmp_path / 'd')
    assert exact.returncode == 0, exact.stderr
    d = json.loads((tmp_path / 'd' / 'metrics.json').read_text())
    assert d['dataset']['gt_pixels'] == 'exact' and d['metrics'] != a
    proc = run_eval('--baseline', 'mean', '--dataset', 'nyu_pairs', '--root', tmp_path,
                    '--gt-pixels', 'eigen')
    assert proc.returncode == 2 and 'is for --dataset kitti_raw' in proc.stderr


def test_user_errors_are_one_line_without_traceback(tmp_path):
    proc = run_eval(tmp_path / 'missing.pt', '--dataset', 'synthetic')
    assert proc.returncode == 1
    assert 'missing.pt: no such model file' in proc.stderr and 'Traceback' not in proc.stderr
    proc = run_eval('--dataset', 'synthetic')
    assert proc.returncode == 2 and 'give a model file or --baseline mean' in proc.stderr
    proc = run_eval('--baseline', 'mean', '--dataset', 'kitti_raw', '--root', tmp_path)
    assert proc.returncode == 1 and 'needs a split file' in proc.stderr
    assert 'Traceback' not in proc.stderr


def test_median_scaling_removes_a_global_scale_and_is_labelled(tmp_path):
    folder = tmp_path / 'pairs'
    rng = np.random.default_rng(1)
    for i in range(2):
        write_png(folder / f'image_{i}.png', rng.integers(0, 256, (480, 640, 3), np.uint8))
        write_png(folder / f'depth_{i}.png', np.full((480, 640), 3000, np.uint16))  # 3 m
    scale = plan_input(640, 480, NYU).metric_scale(NYU_INTRINSICS)
    # twice the truth everywhere: delta < 1.25 fails at every pixel without scaling
    model = constant_checkpoint(tmp_path / 'double.pt', 'nyu', math.log(6.0 / scale))
    plain = run_eval(model, '--dataset', 'nyu_pairs', '--root', folder, '--no-plot',
                     '--output-dir', tmp_path / 'plain')
    scaled = run_eval(model, '--dataset', 'nyu_pairs', '--root', folder, '--no-plot',
                      '--median-scaling', '--output-dir', tmp_path / 'scaled')
    assert plain.returncode == 0 and scaled.returncode == 0, plain.stderr + scaled.stderr
    m_plain = json.loads((tmp_path / 'plain' / 'metrics.json').read_text())
    m_scaled = json.loads((tmp_path / 'scaled' / 'metrics.json').read_text())
    assert m_plain['metrics']['delta1'] == 0.0
    assert m_plain['metrics']['abs_rel'] == pytest.approx(1.0, rel=1e-5)
    assert m_scaled['metrics']['delta1'] == 1.0 and m_scaled['metrics']['abs_rel'] < 1e-5
    assert m_scaled['protocol']['median_scaling'] is True
    assert m_plain['protocol']['median_scaling'] is False
    assert 'median-scaled' in scaled.stdout and 'median-scaled' not in plain.stdout


def test_onnx_model_on_onnxruntime_reports_what_pytorch_reports(tmp_path):
    from msdepth_ros.inference.export import export_checkpoint
    torch.manual_seed(0)
    checkpoint = save_checkpoint(tmp_path / 'random.pt', build_model(
        ModelConfig.for_preset('kitti', coarse_fc_width=8)))
    onnx_path = tmp_path / 'random.onnx'
    export_checkpoint(checkpoint, onnx_path)
    args = ('--dataset', 'synthetic', '--synthetic-count', '3', '--synthetic-seed', '77',
            '--no-plot')
    reports = {}
    for name, model, backend in (('torch', checkpoint, 'torch'),
                                 ('onnx', onnx_path, 'onnxruntime')):
        proc = run_eval(model, '--backend', backend, *args, '--output-dir', tmp_path / name)
        assert proc.returncode == 0, proc.stderr
        reports[name] = json.loads((tmp_path / name / 'metrics.json').read_text())
    assert reports['onnx']['images'] == reports['torch']['images'] == 3
    for key in METRIC_NAMES:
        assert reports['onnx']['metrics'][key] == pytest.approx(
            reports['torch']['metrics'][key], rel=1e-4, abs=1e-6), key


def test_kitti_model_on_nyu_pairs_is_scored_with_nyus_protocol_and_a_warning(tmp_path):
    folder = tmp_path / 'pairs'
    rng = np.random.default_rng(2)
    depth_mm = np.full((480, 640), 3000, np.uint16)
    depth_mm[240:] = 15000  # 15 m: beyond NYU's 10 m cap, within KITTI's 80 m
    for i in range(2):
        write_png(folder / f'image_{i}.png', rng.integers(0, 256, (480, 640, 3), np.uint8))
        write_png(folder / f'depth_{i}.png', depth_mm)
    model = constant_checkpoint(tmp_path / 'kitti.pt', 'kitti', math.log(3.0))
    proc = run_eval(model, '--dataset', 'nyu_pairs', '--root', folder, '--no-plot',
                    '--output-dir', tmp_path / 'out')
    assert proc.returncode == 0, proc.stderr
    assert "warning: the model's preset is 'kitti', the data set is NYU" in proc.stderr
    report = json.loads((tmp_path / 'out' / 'metrics.json').read_text())
    assert report['protocol'] == {'min_depth_m': 1e-3, 'max_depth_m': 10.0,
                                  'crop': 'nyu_eigen', 'median_scaling': False}
    assert report['model_preset'] == 'kitti'
    # NYU's paper table (Table 1), not KITTI's, beside the measured column
    assert report['paper']['paper coarse+fine']['delta1'] == PAPER_RESULTS['nyu'][
        'coarse+fine'][0]
    assert '0.611' in proc.stdout and '0.692' not in proc.stdout
    # only the 3 m half of the crop is scored: the 15 m rows are beyond the cap
    crop = NYU_EIGEN_CROP.mask(480, 640)
    assert report['coverage'] < 1.0
    rows = (tmp_path / 'out' / 'per_image.csv').read_text().splitlines()[1:]
    assert int(rows[0].split(',')[1]) == int((crop & (np.arange(480) < 240)[:, None]).sum())


def test_report_colour_bar_shows_the_depths_of_the_pictures_colours():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from msdepth_ros.core.colormap import colorize_depth, colormap_lut
    from msdepth_ros.evaluation.report import depth_colorbar, visible_depth
    fig, ax = plt.subplots()
    try:
        bar = depth_colorbar(fig, ax, 2.0, 60.0)
        labels = [t.get_text() for t in bar.ax.get_yticklabels()]
        assert labels == ['2', '3', '5', '10', '20', '30', '50'] and 'm' in bar.ax.get_ylabel()
        depths = np.array([2.0, 5.0, 20.0, 60.0], np.float32)
        bar_rgb = np.rint(bar.mappable.to_rgba(depths)[:, :3] * 255).astype(np.uint8)
        picture_rgb = colorize_depth(depths[None], 2.0, 60.0)[0]
        # the same entry of the 256-colour table, or its neighbour (floor against rounding)
        lut = colormap_lut('turbo').astype(int)
        for got, want in zip(bar_rgb, picture_rgb):
            i = int(np.argmin(np.abs(lut - want).sum(axis=1)))
            assert min(np.abs(lut[j] - got).sum() for j in (i - 1, i, min(i + 1, 255))) == 0
    finally:
        plt.close(fig)
    # Sparse points are spread into squares, the nearest winning; dense depth is untouched.
    sparse = np.full((90, 1200), np.nan, np.float32)
    sparse[40, 100], sparse[41, 101] = 7.0, 9.0
    shown, k = visible_depth(sparse)
    assert k == 5 and shown[40, 100] == 7.0 and shown[38:43, 98:103].min() == 7.0
    assert np.isfinite(shown).sum() == 25 + 25 - 16 and np.nanmax(shown) == 9.0
    dense = np.full((90, 1200), 4.0, np.float32)
    assert visible_depth(dense)[1] == 1 and visible_depth(dense)[0] is not None
