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
INT8 on the CPU: every precision and runtime side by side, and what INT8 costs in accuracy.

Speed: the paper-width KITTI network (coarse 6 of width 4096, random weights) exported to FP32
ONNX, to INT8 fully connected layers (dynamic quantization, ``export.quantize_fc_int8``) and to
the whole network in static INT8 (QDQ, ``quantize.quantize_static_int8``, what ``msdepth-export
--int8`` writes), each run by ONNX Runtime's CPU provider through the project's backend and,
where the ``openvino`` package is installed, the FP32 and static INT8 files by OpenVINO's CPU
plugin (FP32 forced to f32 arithmetic, and at its default precision, which is bf16 on CPUs with
AVX512_BF16 or AMX). Every runtime gets the same number of threads and one preprocessed
synthetic frame, round-robin frame by frame so that load from other processes hits all alike;
the table gives median and p90 per frame and each median's ratio to ONNX Runtime FP32.

Accuracy: a trained checkpoint (the demo model by default) exported and quantized the same way,
evaluated by the project's evaluation (``evaluation.evaluate``, KITTI protocol) on held-out
synthetic streets (seed 5000: the demo model was trained on seed 1 and validated on seed 1000,
models/README.md), and the per-pixel relative depth change of each INT8 model against FP32 ONNX
on those streets. Two more static variants show what each layer kept in FP32 buys.

    .venv/bin/python benchmarks/int8_cpu.py                       # 60 frames, 2 threads
    .venv/bin/python benchmarks/int8_cpu.py --frames 20 --accuracy-model none

Not a test: numbers vary with the machine and its load; record them with the command in
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
import platform
import sys
import tempfile
import time
from typing import Any, Sequence

from _report import add_output_dir_argument, bar_plot, median_p90_ms, Report, Series
import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_MODEL = REPO_ROOT / 'models' / 'demo_kitti_synthetic.pt'
#: The real sample images where the project's checkout has them (optional).
SHARED_DATA = REPO_ROOT.parent / 'shared' / 'data'
#: Held-out synthetic streets of the accuracy check (see the module docstring).
HELD_OUT_SEED = 5000
FP32_LABEL = 'ONNX Runtime FP32'


class OpenVinoModel:
    """
    An exported ``.onnx`` compiled by OpenVINO for the CPU, with the backend's ``predict``.

    ``precision``: OpenVINO's ``INFERENCE_PRECISION_HINT`` (``f32``), or None for its default.
    """

    def __init__(self, path: Path, preset: Any, threads: int, precision: str | None) -> None:
        import openvino as ov
        core = ov.Core()
        config = {'PERFORMANCE_HINT': 'LATENCY', 'INFERENCE_NUM_THREADS': int(threads)}
        if precision is not None:
            config['INFERENCE_PRECISION_HINT'] = precision
        self.compiled = core.compile_model(core.read_model(str(path)), 'CPU', config)
        self.request = self.compiled.create_infer_request()
        self.preset = preset
        hint = self.compiled.get_property('INFERENCE_PRECISION_HINT')
        self.inference_precision = hint.to_string() if hasattr(hint, 'to_string') else str(hint)

    @property
    def output_shape(self) -> tuple[int, int]:
        """``(H_out, W_out)`` of the log depth."""
        return (self.preset.output_height, self.preset.output_width)

    def check_input(self, image: np.ndarray) -> None:
        """Accept what ``predict`` takes (the backends' check, for ``DepthPredictor``)."""

    def predict(self, image: np.ndarray) -> np.ndarray:
        """Run one ``1 x 3 x H_in x W_in`` input; return the ``H_out x W_out`` log depth."""
        self.request.infer({0: image})
        return self.request.get_output_tensor(0).data[0, 0]

    def close(self) -> None:
        """Release the compiled model."""
        self.request = self.compiled = None


def openvino_version() -> str | None:
    """Return the installed OpenVINO's version, or None without it."""
    try:
        import openvino
    except ImportError:
        return None
    return openvino.__version__


def calibration_dir(args: argparse.Namespace) -> Path | None:
    """Return the real images' folder for calibration, or None (absent, or not wanted)."""
    if args.no_real_images:
        return None
    return args.calibration_images if args.calibration_images.is_dir() else None


def speed_candidates(folder: Path, args: argparse.Namespace) -> tuple[list[tuple], str]:
    """``(label, runner, file)`` of every runtime and file; the calibration's description."""
    from msdepth_ros.inference import load_backend
    from msdepth_ros.inference.export import export_checkpoint, quantize_fc_int8
    from msdepth_ros.inference.quantize import export_int8
    from msdepth_ros.model.checkpoint import save_checkpoint
    from msdepth_ros.model.network import build_model, ModelConfig
    import torch

    torch.manual_seed(0)
    model = build_model(ModelConfig.for_preset('kitti', coarse_fc_width=args.coarse_fc_width))
    ckpt = save_checkpoint(folder / 'kitti.pt', model.eval())
    fp32 = export_checkpoint(ckpt, folder / 'kitti.onnx').path
    fc8 = quantize_fc_int8(fp32, folder / 'kitti.fc8.onnx').path
    int8, calibration = export_int8(fp32, folder / 'kitti.int8.onnx', args.calibration_scenes,
                                    calibration_dir(args))
    ort = {'providers': ['CPUExecutionProvider'], 'threads': args.threads}
    out = [(FP32_LABEL, load_backend(fp32, 'onnxruntime', **ort), fp32),
           ('ONNX Runtime INT8 fully connected (dynamic)',
            load_backend(fc8, 'onnxruntime', **ort), fc8),
           ('ONNX Runtime INT8 whole network (static QDQ)',
            load_backend(int8.path, 'onnxruntime', **ort), int8.path)]
    if openvino_version() is not None:
        preset = out[0][1].preset
        default = OpenVinoModel(fp32, preset, args.threads, None)
        out += [('OpenVINO FP32 (f32 arithmetic)',
                 OpenVinoModel(fp32, preset, args.threads, 'f32'), fp32),
                (f'OpenVINO FP32 file, default precision ({default.inference_precision})',
                 default, fp32),
                ('OpenVINO INT8 whole network (static QDQ file)',
                 OpenVinoModel(int8.path, preset, args.threads, 'f32'), int8.path)]
    return out, calibration.describe()


def time_round_robin(candidates: Sequence[tuple], image: np.ndarray, frames: int,
                     warmup: int) -> np.ndarray:
    """Seconds per frame, ``len(candidates) x frames``, one frame of each in turn."""
    from tqdm import tqdm
    for _, runner, _ in candidates:
        for _ in range(warmup):
            runner.predict(image)
    times = np.empty((len(candidates), frames))
    for i in tqdm(range(frames), desc='speed', unit='frame', leave=False, disable=None):
        for j, (_, runner, _) in enumerate(candidates):
            t0 = time.perf_counter()
            runner.predict(image)
            times[j, i] = time.perf_counter() - t0
    return times


def run_speed(args: argparse.Namespace, report: Report) -> list[Series]:
    """Time every candidate; add the ratio table to ``report``; return the plotted series."""
    from msdepth_ros.core.presets import get_preset
    from msdepth_ros.inference.parity import network_input, scenes_for

    preset = get_preset('kitti')
    image = network_input(preset, scenes_for(preset, 1)[0])
    with tempfile.TemporaryDirectory(prefix='msdepth-int8-') as tmp:
        candidates, calibration = speed_candidates(Path(tmp), args)
        sizes = [path.stat().st_size for _, _, path in candidates]
        times = time_round_robin(candidates, image, args.frames, args.warmup)
        for _, runner, _ in candidates:
            runner.close()
    stats = [median_p90_ms(t) for t in times]
    fp32_ms = stats[0][0]
    report.line(f'## Speed: KITTI network, coarse 6 width {args.coarse_fc_width} (random '
                f'weights), batch 1, {args.threads} threads, {args.frames} frames each '
                f'(round-robin, {args.warmup} warm-up); INT8 calibrated on {calibration}')
    report.line()
    rows = []
    for (label, _, _), (median, p90), size in zip(candidates, stats, sizes):
        rows.append([label, f'{median:.1f}', f'{p90:.1f}', f'**{fp32_ms / median:.2f}x**',
                     f'{size / 1e6:.0f}'])
    report.table(['runtime and model', 'median ms', 'p90 ms', 'speed-up vs ONNX Runtime FP32',
                  'file MB'], rows)
    return [Series(label, [median], [p90])
            for (label, _, _), (median, p90) in zip(candidates, stats)]


def relative_change(reference: Any, candidate: Any, dataset: Any) -> np.ndarray:
    """``|d_cand - d_ref| / d_ref`` over every depth pixel finite in both, all images."""
    from msdepth_ros.inference.predictor import DepthPredictor
    ref, cand = DepthPredictor(reference), DepthPredictor(candidate)
    changes = []
    for i in range(len(dataset)):
        image, _, intrinsics = dataset[i]
        a = ref.predict(image, intrinsics).depth_m
        b = cand.predict(image, intrinsics).depth_m
        ok = np.isfinite(a) & np.isfinite(b)
        changes.append(np.abs(b[ok].astype(np.float64) - a[ok]) / a[ok])
    return np.concatenate(changes)


def run_accuracy(args: argparse.Namespace, report: Report) -> None:
    """Quantize the trained model, evaluate FP32 and INT8, report metrics and depth change."""
    from msdepth_ros.data.registry import DataSpec, open_dataset
    from msdepth_ros.evaluation.evaluate import EvalProtocol, evaluate
    from msdepth_ros.inference import load_backend
    from msdepth_ros.inference.export import export_checkpoint, quantize_fc_int8
    from msdepth_ros.inference.quantize import (calibration_set, DEFAULT_EXCLUDED,
                                                quantize_static_int8)
    from msdepth_ros.tools.evaluate import ModelSource

    dataset = open_dataset(DataSpec(kind='synthetic', count=args.held_out, seed=HELD_OUT_SEED,
                                    width=621, height=188))
    with tempfile.TemporaryDirectory(prefix='msdepth-int8-acc-') as tmp:
        folder = Path(tmp)
        fp32 = export_checkpoint(args.accuracy_model, folder / 'model.onnx').path
        fc8 = quantize_fc_int8(fp32, folder / 'fc8.onnx').path
        files = {'FP32': fp32, 'INT8 fully connected (dynamic)': fc8}
        preset = load_backend(fp32, 'onnxruntime').preset
        calibration = calibration_set(preset, args.calibration_scenes, calibration_dir(args))
        variants = {'INT8 whole network (static; shipped: fine 4, fine 3 on the coarse depth '
                    "and fine 3's depth-carrying channels in FP32)": (DEFAULT_EXCLUDED, True),
                    "INT8 static, fine 3's depth-carrying channels also INT8": (
                        DEFAULT_EXCLUDED, False),
                    'INT8 static, fine 3 on the coarse depth also INT8': (
                        ('/fine/conv4/Conv',), True),
                    'INT8 static, fine 4 also INT8': (('/fine/conv3/Conv/in1',), True)}
        for i, (label, (exclude, keep)) in enumerate(variants.items()):
            files[label] = quantize_static_int8(fp32, folder / f'static{i}.onnx', calibration,
                                                exclude, keep_depth_channels=keep).path
        protocol = EvalProtocol.for_preset('kitti')
        metrics, changes = {}, {}
        reference = load_backend(fp32, 'onnxruntime')
        for label, path in files.items():
            source = ModelSource(str(path), 'onnxruntime')
            metrics[label] = evaluate(source, dataset, protocol, keep_examples=0).metrics
            if label != 'FP32':
                changes[label] = relative_change(reference, source.backend, dataset)
            source.backend.close()
        if openvino_version() is not None:
            ov = OpenVinoModel(files[next(iter(variants))], preset, args.threads, 'f32')
            changes['OpenVINO INT8 whole network (same static file)'] = relative_change(
                reference, ov, dataset)
    report.line(f'## Accuracy: {args.accuracy_model.name} on {len(dataset)} held-out synthetic '
                f'streets (seed {HELD_OUT_SEED}, 621x188), {protocol.describe()}; INT8 '
                f'calibrated on {calibration.describe()}')
    report.line()
    names = ['delta1', 'delta2', 'delta3', 'abs_rel', 'sq_rel', 'rmse', 'rmse_log']
    labels = list(files)
    rows = [[name] + [f'{metrics[label][name]:.4f}' for label in labels]
            + [f'{metrics[labels[2]][name] - metrics["FP32"][name]:+.4f}'] for name in names]
    report.table(['metric'] + labels + ['static INT8 - FP32'], rows)
    report.line('Relative depth change against FP32 ONNX, |d_int8 - d_fp32| / d_fp32 over every '
                'depth pixel of those streets:')
    report.line()
    rows = []
    for label, change in changes.items():
        rows.append([label, f'{100 * np.median(change):.2f} %',
                     f'{100 * np.percentile(change, 90):.2f} %', f'{100 * change.max():.2f} %',
                     str(change.size)])
    report.table(['model', 'median', 'p90', 'max', 'pixels'], rows)


def run(args: argparse.Namespace) -> int:
    """Run the speed and accuracy parts; print, write and plot."""
    import onnxruntime
    report = Report(args.output_dir, 'int8_cpu')
    report.line(f'# INT8 on the CPU: {platform.processor() or platform.machine()}, '
                f'{os.cpu_count()} CPUs, ONNX Runtime {onnxruntime.__version__}, OpenVINO '
                f'{openvino_version() or "not installed"}; load average '
                f'{" ".join(f"{v:.2f}" for v in os.getloadavg())}')
    report.line()
    series = run_speed(args, report) if args.frames else []
    if args.accuracy_model is not None:
        run_accuracy(args, report)
    report.write()
    if series:
        bar_plot(report.png_path, ['kitti'], series, 'ms per frame (median, whisker: p90)',
                 f'FP32 and INT8 on the CPU, batch 1 ({args.threads} threads)', log=False)
        print(f'wrote {report.markdown_path} and {report.png_path}')
    else:
        print(f'wrote {report.markdown_path}')
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--frames', type=int, default=60,
                        help='timed frames per runtime (0 skips the speed part)')
    parser.add_argument('--warmup', type=int, default=5, help='untimed frames per runtime')
    parser.add_argument('--threads', type=int, default=2, help='CPU threads of every runtime')
    parser.add_argument('--coarse-fc-width', type=int, default=4096,
                        help='width of coarse layer 6 (4096 in the paper)')
    parser.add_argument('--calibration-scenes', type=int, default=16,
                        help='synthetic streets for calibration')
    parser.add_argument('--calibration-images', type=Path, default=SHARED_DATA,
                        help='real images added to the calibration where the folder exists')
    parser.add_argument('--no-real-images', action='store_true',
                        help='calibrate on synthetic streets only')
    parser.add_argument('--accuracy-model', default=str(DEMO_MODEL),
                        help="trained checkpoint for the accuracy part ('none' skips it)")
    parser.add_argument('--held-out', type=int, default=64, help='held-out synthetic streets')
    add_output_dir_argument(parser)
    args = parser.parse_args(argv)
    if args.frames < 0 or args.warmup < 0 or args.threads < 1 or args.held_out < 1:
        parser.error('--frames and --warmup must be >= 0, --threads and --held-out >= 1')
    args.accuracy_model = (None if args.accuracy_model == 'none'
                           else Path(args.accuracy_model))
    return run(args)


if __name__ == '__main__':
    sys.exit(main())
