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
The benchmark scripts compute what they claim and write their reports; their speed is not tested.

The scripts run as users run them (``python benchmarks/<name>.py``) on tiny configurations and
must write ``<name>.md`` and ``<name>.png`` to ``--output-dir``.
"""

from __future__ import annotations

import importlib.util
import math
import os
from pathlib import Path
import subprocess
import sys

from conftest import REPO_ROOT
import numpy as np
import pytest

BENCHMARKS = REPO_ROOT / 'benchmarks'
PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


def load(name: str):
    """Import ``benchmarks/<name>.py`` as a module (its folder on the path for ``_report``)."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.append(str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(f'benchmark_{name}', BENCHMARKS / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def run_script(name: str, output_dir: Path, *args: str, timeout_s: float = 120.0) -> str:
    """Run a benchmark script; return its output, fail with it on a non-zero exit."""
    proc = subprocess.run([sys.executable, str(BENCHMARKS / f'{name}.py'), *args,
                           '--output-dir', str(output_dir)], capture_output=True, text=True,
                          timeout=timeout_s, cwd=REPO_ROOT)
    assert proc.returncode == 0, f'{name}.py exited {proc.returncode}:\n{proc.stdout}\n' \
                                 f'{proc.stderr}'
    return proc.stdout


def assert_report(output_dir: Path, name: str, header_cell: str) -> str:
    """Check ``<name>.md`` holds a table with ``header_cell`` and ``<name>.png`` is a PNG."""
    markdown = (output_dir / f'{name}.md').read_text(encoding='utf-8')
    table = [line for line in markdown.splitlines() if line.startswith('|')]
    assert len(table) >= 3, markdown
    assert header_cell in table[0]
    assert table[1].replace(' ', '').strip('|').split('|') == ['---'] * (table[0].count('|') - 1)
    assert (output_dir / f'{name}.png').read_bytes()[:8] == PNG_SIGNATURE
    return markdown


# -- the point-cloud builders ---------------------------------------------------------------------

@pytest.fixture(scope='module')
def pointcloud():
    return load('pointcloud')


@pytest.mark.parametrize('with_rgb', [False, True])
def test_cloud_builders_give_identical_bytes_with_nans(pointcloud, with_rgb):
    points, rgb = pointcloud.sample_cloud(7, 5, seed=3, invalid_fraction=0.3)
    assert np.isnan(points).any() and np.isfinite(points).any()
    colour = rgb if with_rgb else None
    assert pointcloud.check_identical(points, colour) == []
    messages = [build(points, colour) for build in pointcloud.BUILDER_FUNCTIONS.values()]
    assert len({bytes(m.data) for m in messages}) == 1
    msg = messages[0]
    step = 32 if with_rgb else 16
    assert (msg.height, msg.width, msg.point_step, msg.row_step) == (5, 7, step, 7 * step)
    # The bytes hold the points (NaN where invalid) and the packed colours.
    floats = np.frombuffer(bytes(msg.data), dtype='=f4').reshape(5, 7, step // 4)
    np.testing.assert_array_equal(floats[..., :3], points)
    if with_rgb:
        packed = floats[..., 4].view(np.uint32)
        np.testing.assert_array_equal(packed >> 16, rgb[..., 0])
        np.testing.assert_array_equal((packed >> 8) & 255, rgb[..., 1])
        np.testing.assert_array_equal(packed & 255, rgb[..., 2])


def test_cloud_check_reports_a_builder_that_differs(pointcloud, monkeypatch):
    points, rgb = pointcloud.sample_cloud(4, 3, seed=1)
    honest = pointcloud.cloud_structured_array

    def off_by_one_byte(points, rgb=None, header=None):
        msg = honest(points, rgb, header)
        msg.data[5] ^= 1
        return msg

    monkeypatch.setitem(pointcloud.BUILDER_FUNCTIONS, 'structured array', off_by_one_byte)
    problems = pointcloud.check_identical(points, rgb)
    assert len(problems) == 1 and problems[0].startswith('structured array: data differs')


def test_per_point_loop_repeats(pointcloud):
    assert pointcloud.loop_repeats(50, 3834, 1_000_000) == 50
    assert pointcloud.loop_repeats(50, 65120, 1_000_000) == 15
    assert pointcloud.loop_repeats(50, 307200, 1_000_000) == 3
    assert pointcloud.loop_repeats(1, 307200, 1_000_000) == 1


# -- shared report code and the node's diagnostics ------------------------------------------------

def test_report_helpers(tmp_path):
    report = load('_report')
    assert report.median_p90_ms([0.001, 0.002, 0.003]) == pytest.approx((2.0, 2.8))
    assert all(math.isnan(v) for v in report.median_p90_ms([]))
    assert report.markdown_table(['a', 'b'], [[1, 2]]) == '| a | b |\n| --- | --- |\n| 1 | 2 |'
    with pytest.raises(ValueError):
        report.markdown_table(['a', 'b'], [[1]])
    assert report.wants_log_scale([report.Series('s', [1.0, 200.0])])
    assert not report.wants_log_scale([report.Series('s', [10.0, 20.0], [15.0, float('nan')])])
    out = report.Report(tmp_path / 'new', 'demo')
    out.line('# title')
    out.table(['x'], [['1']])
    assert out.write().read_text() == '# title\n| x |\n| --- |\n| 1 |\n'
    series = [report.Series('a', [1.0, float('nan')], [2.0, float('nan')]),
              report.Series('b', [3.0, 400.0])]
    report.bar_plot(out.png_path, ['one', 'two'], series, 'ms', 'bars')
    assert out.png_path.read_bytes()[:8] == PNG_SIGNATURE
    report.line_plot(tmp_path / 'lines.png', [10, 100], series, 'points', 'ms', 'lines')
    assert (tmp_path / 'lines.png').read_bytes()[:8] == PNG_SIGNATURE


def test_node_figures_count_each_frame_of_a_period_once():
    dds = load('dds_latency')

    def status(published, inference_ms, latency_ms):
        return {'frames published': str(published), 'inference mean (ms)': str(inference_ms),
                'latency receive-to-publish mean (ms)': str(latency_ms)}

    statuses = [status(0, 0.0, 0.0), status(1, 90.0, 95.0), status(2, 40.0, 45.0),
                status(2, 0.0, 0.0), status(4, 30.0, 36.0), status(5, 20.0, 26.0)]
    inference, latency, alone = dds.node_figures(statuses, skip=1)
    assert inference == pytest.approx([0.040, 0.030, 0.030, 0.020])
    assert latency == pytest.approx([0.045, 0.036, 0.036, 0.026])
    assert alone == 2


# -- each script on a tiny configuration ----------------------------------------------------------

def test_pointcloud_script_writes_table_and_plot(tmp_path):
    out = run_script('pointcloud', tmp_path, '--sizes', '8x4', '5x3', '--repeats', '1')
    markdown = assert_report(tmp_path, 'pointcloud', 'per-point loop median')
    assert '| 8x4 | 32 | xyz+rgb |' in markdown and '| 5x3 | 15 | xyz |' in markdown
    assert 'pointcloud.md' in out


@pytest.mark.slow
def test_backends_script_writes_table_and_plot(tmp_path):
    run_script('backends', tmp_path, '--presets', 'nyu', '--frames', '1', '--warmup', '0',
               '--coarse-fc-width', '32', '--threads', '1', '--bandwidth-mib', '8')
    markdown = assert_report(tmp_path, 'backends', 'bandwidth floor ms')
    assert '| nyu | ONNX Runtime CPU FP32 |' in markdown


@pytest.mark.slow
def test_node_overhead_script_writes_table_and_plot(tmp_path):
    run_script('node_overhead', tmp_path, '--repeats', '1', '--presets', 'nyu',
               '--coarse-fc-width', '32')
    markdown = assert_report(tmp_path, 'node_overhead', 'node overhead')
    rows = [line for line in markdown.splitlines() if line.startswith('| 640x480 |')]
    assert len(rows) == 16  # two upsampling factors, two backends, four variants
    assert sum('onnxruntime' in row for row in rows) == 8
    assert all(sum(f'| {variant} |' in row for row in rows) == 4
               for variant in ('now', 'warp3', 'message', 'whole'))


@pytest.mark.slow
def test_bad_input_memory_script_writes_table_and_plot(tmp_path):
    run_script('bad_input_memory', tmp_path, timeout_s=300.0)
    markdown = assert_report(tmp_path, 'bad_input_memory', 'peak RSS growth (MiB)')
    rows = [line.split('|')[1:-1] for line in markdown.splitlines()
            if line.startswith('| 1x') or line.startswith('| 2048x') or line.startswith('| 16000')]
    assert len(rows) == 6
    for name, _, outcome, growth_mib in rows:
        # This checkout: thin images served, bombs refused, nothing near the old gigabytes.
        assert ('served' in outcome) != ('PNG' in name), (name, outcome)
        assert float(growth_mib) < 64.0, (name, growth_mib)


@pytest.mark.ros
@pytest.mark.slow
def test_dds_latency_script_writes_table_and_plot(tmp_path):
    run_script('dds_latency', tmp_path, '--presets', 'nyu', '--frames', '2', '--warmup', '1',
               '--coarse-fc-width', '32', timeout_s=180.0)
    markdown = assert_report(tmp_path, 'dds_latency', 'node inference median')
    assert '| nyu | 640x480 | 74x55 | 2/2 |' in markdown


@pytest.mark.ros
@pytest.mark.slow
def test_dds_receipt_script_writes_table_and_plot(tmp_path):
    run_script('dds_receipt', tmp_path, '--sizes', '640x480', '--profiles', 'none',
               '--reliabilities', 'reliable', '--frames', '3', timeout_s=300.0)
    markdown = assert_report(tmp_path, 'dds_receipt', 'Fast DDS profile on')
    row = [line for line in markdown.splitlines() if line.startswith('| reliable | none |')]
    assert len(row) == 1 and '/3 (' in row[0] and 'node got' in row[0]


def test_gpu_check_without_a_gpu_says_skipped(tmp_path):
    """The driver is a stand-in that reports no GPU (compiled here), whatever this machine has."""
    import os
    from trt_doubles import build_stub_driver
    library = build_stub_driver(tmp_path / 'driver')
    if library is None:
        pytest.skip('no C compiler to build the stand-in CUDA driver')
    env = dict(os.environ, LD_LIBRARY_PATH=str(library.parent), STUB_CUDA_COUNT='0',
               PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.run([sys.executable, str(BENCHMARKS / 'gpu_check.py')], env=env,
                          capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout.startswith('skipped: no CUDA GPU (the CUDA driver (libcuda.so.1) '
                                  'reports no GPU')


def test_gpu_check_memory_paths_on_the_cuda_python_double(monkeypatch, capsys):
    """
    The memory-path check, with cuda-python's strict double (host memory as device memory).

    The stand-in engine's device-to-device copy is a memmove here (the GPU run uses the CUDA
    driver's); a copy that misses a byte must fail the check.
    """
    import ctypes
    from trt_doubles import fake_cudart, install_doubles
    import torch
    modules = {}
    install_doubles(modules, cudart=fake_cudart()[0])
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    gpu_check = load('gpu_check')
    image = np.random.default_rng(1).normal(size=(1, 3, 8, 12)).astype(np.float32)

    def copy(dst, src, nbytes, stream):
        ctypes.memmove(dst, src, nbytes)

    checks = gpu_check.Checks()
    gpu_check.check_memory_paths(checks, image, (1, 1, 4, 6), copy)
    out = capsys.readouterr().out
    assert checks.failed == 0, out
    assert 'PASS  TensorRT memory path cuda-python: bytes read back equal the input' in out
    if not torch.cuda.is_available():
        assert 'SKIP  TensorRT memory path torch: memory torch asked for' in out

    def short_copy(dst, src, nbytes, stream):
        ctypes.memmove(dst, src, nbytes - 1)

    gpu_check.check_memory_paths(checks, image, (1, 1, 4, 6), short_copy)
    assert checks.failed == 1 and '1 of 24 values differ' in capsys.readouterr().out


@pytest.mark.slow
def test_int8_cpu_script_writes_ratio_and_accuracy_tables(tmp_path):
    run_script('int8_cpu', tmp_path, '--frames', '1', '--warmup', '0', '--coarse-fc-width', '32',
               '--calibration-scenes', '1', '--no-real-images', '--held-out', '1',
               timeout_s=300.0)
    markdown = assert_report(tmp_path, 'int8_cpu', 'speed-up vs ONNX Runtime FP32')
    assert '| ONNX Runtime FP32 |' in markdown and '| **1.00x** |' in markdown
    assert '| ONNX Runtime INT8 whole network (static QDQ) |' in markdown
    assert 'calibrated on 1 synthetic streets + 0 real images' in markdown
    assert '| delta1 |' in markdown and '| median | p90 | max | pixels |' in markdown


def test_dds_latency_camera_option():
    dds = load('dds_latency')
    assert dds.parse_camera('kitti:1920x1080') == ('kitti', (1920, 1080))
    assert dds.parse_camera('nyu') == ('nyu', (640, 480))
    for bad in ('city:640x480', 'kitti:640', 'kitti:8x8'):
        with pytest.raises(Exception, match='640|city|16x16'):
            dds.parse_camera(bad)


def test_soak_growth_is_from_the_warm_up_to_the_median_of_the_last_tenth():
    soak = load('soak')
    frames = list(range(0, 120, 10))
    rss = [50.0, 100.0] + [100.0] * 8 + [104.0, 106.0]
    base, end, growth = soak.growth_pct(frames, rss, warmup=10)
    assert (base, end) == (100.0, 106.0)  # 11 samples after the warm-up: the last one
    assert growth == pytest.approx(6.0)
    assert soak.growth_pct(frames, [100.0] * 12, warmup=0)[2] == 0.0
    with pytest.raises(ValueError, match='no RSS sample'):
        soak.growth_pct(frames, rss, warmup=500)
    assert soak.rss_mib(os.getpid()) > 1.0  # this process, from /proc


@pytest.mark.ros
@pytest.mark.slow
def test_dds_latency_default_transport_any_camera_size(tmp_path):
    run_script('dds_latency', tmp_path, '--transport', 'default', '--cameras', 'kitti:400x120',
               'kitti:300x200', '--frames', '2', '--warmup', '1', '--coarse-fc-width', '32',
               timeout_s=240.0)
    markdown = assert_report(tmp_path, 'dds_latency', 'node inference median')
    assert 'transport default (profile none), camera publishers reliable keep-last 10' in markdown
    assert '| kitti | 400x120 | 142x27 | 2/2 |' in markdown
    assert '| kitti | 300x200 | 142x27 | 2/2 |' in markdown


@pytest.mark.ros
@pytest.mark.slow
def test_soak_script_writes_table_and_rss_plot(tmp_path):
    run_script('soak', tmp_path, '--frames', '20', '--warmup', '5', '--sample-every', '5',
               '--size', '320x96', '--max-growth-pct', '1000', '--progress-every', '10',
               timeout_s=300.0)
    markdown = assert_report(tmp_path, 'soak', 'RSS at the end (MiB)')
    assert '| 20 | 20 |' in markdown  # every frame's depth came back


# -- occupancy per cloud filter -----------------------------------------------------------------

def test_occupancy_script_scores_every_filter_and_the_resolution_ceiling(tmp_path):
    run_script('occupancy', tmp_path, '--sources', 'synthetic', '--drives', '1', '--frames', '2',
               '--thresholds', '0.1', '0.3')
    markdown = assert_report(tmp_path, 'occupancy', 'precision')
    rows = {cells[3]: cells for cells in (
        [c.strip() for c in line.strip('|').split('|')] for line in markdown.splitlines()
        if line.startswith('| synthetic'))}
    assert set(rows) == {'no filter', 'flying pixels 0.1', 'flying pixels 0.3', 'range 10 m',
                         'stride 2', 'all three (0.1, 10 m, 2)', 'resolution ceiling',
                         'resolution ceiling, flying pixels 0.1'}
    for label, cells in rows.items():
        tp, fp, fn = (int(c) for c in cells[7:10])
        assert cells[1] == '2' and cells[2] == '142 x 27 vs exact depth'
        if tp + fp:
            assert float(cells[4]) == pytest.approx(tp / (tp + fp), abs=5e-4), label
        else:  # a cloud that marks no cell has no precision
            assert cells[4] == 'n/a', label
        assert float(cells[6]) == pytest.approx(tp / (tp + fp + fn), abs=5e-4), label
        # The truth is the same for every row.
        assert tp + fn == int(rows['no filter'][7]) + int(rows['no filter'][9])
    # Exact depth on the depth image's pixels marks obstacles where they are.
    assert float(rows['resolution ceiling'][4]) > 0.8
