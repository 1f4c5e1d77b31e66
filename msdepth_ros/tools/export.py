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


"""``msdepth-export``: checkpoint -> ONNX (FP32, FP16, INT8) and TensorRT, with parity checks."""

from __future__ import annotations

import argparse
from pathlib import Path
import sys
from typing import Sequence

from msdepth_ros.inference.interface import BackendError

#: Exit codes: success, a parity check above its tolerance, a user error (bad file, option or
#: missing backend).
EXIT_OK, EXIT_PARITY, EXIT_USAGE = 0, 1, 2

EPILOG = """
writes OUTPUT (default: CHECKPOINT with .onnx), and with --fp16 / --int8 the files
<stem>.fp16.onnx / <stem>.int8.onnx beside it. After export, ONNX Runtime is compared with
PyTorch on synthetic road scenes through the whole depth predictor (max and median relative
depth error); the exit code is 1 when an FP32/FP16 check exceeds its tolerance, 2 for bad
input or a missing backend.
"""


def build_parser() -> argparse.ArgumentParser:
    """Return the command line of ``msdepth-export``."""
    parser = argparse.ArgumentParser(
        prog='msdepth-export', description=__doc__.strip('`'), epilog=EPILOG,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('checkpoint', type=Path, help='trained checkpoint (.pt)')
    parser.add_argument('-o', '--output', type=Path, default=None,
                        help='ONNX file to write (default: the checkpoint with .onnx)')
    parser.add_argument('--fp16', action='store_true',
                        help='also write an FP16 ONNX (float32 input and output), the '
                        'source of FP16 engines on TensorRT 11')
    parser.add_argument('--int8', action='store_true',
                        help='also write the whole network in INT8 for CPUs (static QDQ, '
                        'per-channel weights, calibrated on synthetic streets and '
                        '--calibration-images) and report its accuracy change and speed-up')
    parser.add_argument('--calibration-scenes', type=int, default=16,
                        help='--int8: synthetic streets for calibration')
    parser.add_argument('--calibration-images', type=Path, default=None,
                        help='--int8: folder of real camera images (searched recursively) '
                        'added to the calibration')
    parser.add_argument('--scenes', type=int, default=3,
                        help='synthetic scenes for the parity checks (0 skips them)')
    parser.add_argument('--tolerance', type=float, default=1e-4,
                        help='largest relative depth error of FP32 ONNX against PyTorch')
    parser.add_argument('--fp16-tolerance', type=float, default=2e-2,
                        help='largest relative depth error of FP16 models against PyTorch')
    parser.add_argument('--threads', type=int, default=0,
                        help='ONNX Runtime intra-op threads (0: its default)')
    parser.add_argument('--timing-frames', type=int, default=10,
                        help='frames timed for the INT8 speed-up')
    trt = parser.add_argument_group('TensorRT (needs TensorRT and a CUDA GPU)')
    trt.add_argument('--tensorrt', action='store_true',
                     help='build the TensorRT engine through the engine cache and check it')
    trt.add_argument('--precision', choices=('auto', 'fp32', 'fp16'), default='auto',
                     help='engine precision (auto: fp16 when --fp16 is given or on a DLA core, '
                     'else fp32)')
    trt.add_argument('--engine-cache', type=Path, default=None,
                     help='engine cache folder (default: $MSDEPTH_ENGINE_CACHE or '
                     '~/.cache/msdepth_ros/engines)')
    trt.add_argument('--workspace-mib', type=int, default=1024, help='builder workspace (MiB)')
    trt.add_argument('--opt-level', type=int, default=3, choices=range(6),
                     metavar='{0..5}', help='builder optimisation level')
    trt.add_argument('--dla-core', type=int, default=None,
                     help='Jetson DLA core (GPU fallback on)')
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Export a checkpoint and check the exports; see ``--help``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.scenes < 0 or args.timing_frames < 1 or args.threads < 0:
        parser.error('--scenes must be >= 0, --timing-frames >= 1, --threads >= 0')
    if args.calibration_scenes < 0:
        parser.error('--calibration-scenes must be >= 0')
    if args.calibration_images is not None and not args.calibration_images.is_dir():
        parser.error(f'--calibration-images: {args.calibration_images} is not a folder')
    if args.tolerance <= 0 or args.fp16_tolerance <= 0:
        parser.error('tolerances must be positive')
    output = args.output or args.checkpoint.with_suffix('.onnx')
    if output.suffix != '.onnx':
        parser.error(f'--output must end with .onnx, got {output}')
    try:
        return _run(args, output)
    except BackendError as exc:
        print(f'msdepth-export: error: {exc}', file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f'msdepth-export: error: {exc.filename or output}: {exc.strerror or exc}',
              file=sys.stderr)
        return EXIT_USAGE


def _run(args: argparse.Namespace, output: Path) -> int:
    from msdepth_ros.inference.backend import load_backend
    from msdepth_ros.inference.export import describe, export_checkpoint
    from msdepth_ros.inference.parity import scenes_for

    if not args.checkpoint.is_file():
        raise BackendError(f'{args.checkpoint}: no such checkpoint file')
    engine_precision = engine_source_precision = None
    if args.tensorrt:
        # Fail before the export, not after minutes of it: TensorRT, and the precision the
        # engine gets, decided as the node decides it (fp16 on a DLA core; from the ONNX on 11).
        from msdepth_ros.inference.tensorrt_backend import (import_tensorrt,
                                                            resolve_engine_precision)
        engine_source_precision = 'fp16' if args.fp16 and args.precision != 'fp32' else 'fp32'
        engine_precision = resolve_engine_precision(
            import_tensorrt(), args.precision, engine_source_precision, args.dla_core, output)
    results = [export_checkpoint(args.checkpoint, output)]
    print(describe(results[0]))
    fp16_path = int8_path = None
    if args.fp16:
        fp16_path = output.with_name(f'{output.stem}.fp16.onnx')
        results.append(export_checkpoint(args.checkpoint, fp16_path, fp16=True))
        print(describe(results[-1]))
    if args.int8:
        int8_path = output.with_name(f'{output.stem}.int8.onnx')
        from msdepth_ros.inference.quantize import export_int8
        result, calibration = export_int8(output, int8_path, args.calibration_scenes,
                                          args.calibration_images)
        results.append(result)
        print(f'{describe(result)}; calibrated on {calibration.describe()}')

    ok = True
    reference = load_backend(args.checkpoint, 'torch', device='cpu')
    frames = scenes_for(reference.preset, args.scenes) if args.scenes else []
    onnx_options = {'providers': ['CPUExecutionProvider'], 'threads': args.threads}
    fp32 = load_backend(output, 'onnxruntime', **onnx_options)
    if frames:
        ok &= _check('ONNX Runtime FP32 vs PyTorch', reference, fp32, frames, args.tolerance)
        if fp16_path is not None:
            fp16 = load_backend(fp16_path, 'onnxruntime', **onnx_options)
            ok &= _check('ONNX Runtime FP16 vs PyTorch', reference, fp16, frames,
                         args.fp16_tolerance)
    if int8_path is not None:
        int8 = load_backend(int8_path, 'onnxruntime', **onnx_options)
        _report_int8(fp32, int8, frames or scenes_for(reference.preset, 1),
                     args.timing_frames)
    if args.tensorrt:
        precision = engine_precision
        source = fp16_path if engine_source_precision == 'fp16' else output
        engine = load_backend(source, 'tensorrt', precision=precision,
                              cache_dir=args.engine_cache, workspace_mib=args.workspace_mib,
                              optimization_level=args.opt_level, dla_core=args.dla_core)
        details = engine.info.details
        print(f'TensorRT {details["tensorrt"]} engine {details["engine"]} '
              f'({"built now" if details["engine_built"] else "from the cache"}, '
              f'{engine.info.precision}, {engine.info.device})')
        if frames:
            tolerance = args.fp16_tolerance if precision == 'fp16' else args.tolerance
            ok &= _check(f'TensorRT {precision.upper()} vs PyTorch', reference, engine, frames,
                         tolerance)
    return EXIT_OK if ok else EXIT_PARITY


def _check(label: str, reference: object, candidate: object, frames: list,
           tolerance: float) -> bool:
    from msdepth_ros.inference.parity import compare_depth
    report = compare_depth(reference, candidate, frames, progress=_progress(label))
    passed = report.passed(tolerance)
    extra = (f', {report.validity_mismatches} pixels valid in one only'
             if report.validity_mismatches else '')
    print(f'parity {label}: {report.summary()}{extra} '
          f'[{"ok" if passed else "FAILED"}, tolerance {tolerance:.0e}]')
    return passed


def _report_int8(fp32: object, int8: object, frames: list, timing_frames: int) -> None:
    from msdepth_ros.inference.parity import accuracy, compare_depth, latencies_s, network_input
    import numpy as np
    change = compare_depth(fp32, int8, frames, progress=_progress('INT8 vs FP32'))
    print(f'INT8 vs FP32 ONNX: {change.summary()}')
    acc32, acc8 = accuracy(fp32, frames), accuracy(int8, frames)
    print("accuracy against the synthetic scenes' exact depth: "
          f'abs_rel {acc32["abs_rel"]:.4f} -> {acc8["abs_rel"]:.4f} '
          f'({acc8["abs_rel"] - acc32["abs_rel"]:+.4f}), '
          f'delta1 {acc32["delta1"]:.4f} -> {acc8["delta1"]:.4f} '
          f'({acc8["delta1"] - acc32["delta1"]:+.4f})')
    image = network_input(fp32.preset, frames[0])
    t32 = float(np.median(latencies_s(fp32, image, timing_frames)))
    t8 = float(np.median(latencies_s(int8, image, timing_frames)))
    print(f'latency (median of {timing_frames} frames, ONNX Runtime CPU): FP32 {t32 * 1e3:.1f} '
          f'ms, INT8 {t8 * 1e3:.1f} ms, speed-up {t32 / t8:.2f}x')


def _progress(label: str):
    from tqdm import tqdm

    def wrap(frames):
        return tqdm(frames, desc=label, unit='scene', leave=False, disable=None)
    return wrap


if __name__ == '__main__':
    sys.exit(main())
