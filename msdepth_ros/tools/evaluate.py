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


"""``msdepth-eval``: evaluate a model (or the mean-depth baseline) with the paper's protocol."""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any, Callable, Sequence

from msdepth_ros.core.intrinsics import Intrinsics
from msdepth_ros.core.metrics import CROPS
import numpy as np

DATASET_KINDS = ('nyu_labeled', 'nyu_pairs', 'kitti_raw', 'kitti_object', 'synthetic')


class ModelSource:
    """
    A model file through the inference runtime (``load_backend`` + ``DepthPredictor``).

    Parameters
    ----------
    model_path:
        Checkpoint, ONNX file or TensorRT engine.
    backend:
        Backend name (``auto``, ``torch``, ``onnxruntime``, ``tensorrt``).
    metric_scaling:
        Correct for the camera's focal length (on by default, as the node does).
    extrapolate:
        Predict beyond the output grid's area by repeating its edge.

    """

    def __init__(self, model_path: str, backend: str = 'auto', metric_scaling: bool = True,
                 extrapolate: bool = False) -> None:
        from msdepth_ros.inference import DepthPredictor, load_backend
        self.backend = load_backend(model_path, backend)
        # No depth range here: the protocol caps and clips, as the metrics module does.
        self.predictor = DepthPredictor(self.backend, upsample=1, metric_scaling=metric_scaling,
                                        min_depth_m=0.0, max_depth_m=math.inf)
        self.preset = self.backend.preset
        self.extrapolate = extrapolate
        self.label = f'{self.backend.info.name}: {model_path}'

    def predict(self, image_rgb: np.ndarray, intrinsics: Intrinsics) -> Any:
        """Run the network; return its depth image read through ``camera_to_output``."""
        from msdepth_ros.evaluation.evaluate import depth_image_prediction
        h, w = image_rgb.shape[:2]
        result = self.predictor.predict(image_rgb, intrinsics)
        return depth_image_prediction(result.depth_m,
                                      self.predictor.plan_for(w, h).camera_to_output,
                                      self.extrapolate)

    def close(self) -> None:
        """Release the backend."""
        self.backend.close()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='msdepth-eval',
        description="Evaluate depth predictions against ground truth at the ground truth's "
                    "pixels and print the paper's table beside the measured numbers.")
    parser.add_argument('model', nargs='?', default=None,
                        help='checkpoint (.pt), ONNX file (.onnx) or TensorRT engine')
    parser.add_argument('--backend', default='auto',
                        help='inference backend: auto, torch, onnxruntime, tensorrt')
    parser.add_argument('--baseline', choices=['mean'], default=None,
                        help='evaluate the mean-depth baseline instead of a model')
    parser.add_argument('--mean-depth-m', type=float, default=None,
                        help='depth of the mean baseline (default: the mean of the evaluated '
                             'ground truth)')
    data = parser.add_argument_group('data set')
    data.add_argument('--dataset', required=True, choices=DATASET_KINDS, help='data set kind')
    data.add_argument('--root', default='', help='data folder or file (see docs/training.md)')
    data.add_argument('--split', default='',
                      help='KITTI: split file; NYU labeled: train/test/all; NYU pairs: CSV or '
                           'folder')
    data.add_argument('--splits-file', default='', help='NYU labeled: splits.mat')
    data.add_argument('--ground-truth', choices=['velodyne', 'benchmark'], default='velodyne',
                      help='KITTI raw: project the Velodyne or read the depth benchmark')
    data.add_argument('--gt-pixels', choices=['exact', 'eigen'], default=None,
                      help='KITTI raw, Velodyne ground truth: pixel convention; eigen (the '
                           "default) is the published tables' (one pixel up and left of "
                           'exact, see docs/training.md)')
    data.add_argument('--benchmark-root', default='', help='KITTI depth benchmark folder')
    data.add_argument('--gt-cache', default='',
                      help="KITTI raw: .npz of the split's ground truth; written on the first "
                           'run, read afterwards')
    data.add_argument('--limit', type=int, default=0, help='evaluate the first N samples only')
    data.add_argument('--synthetic-count', type=int, default=64, help='synthetic: samples')
    data.add_argument('--synthetic-seed', type=int, default=1000, help='synthetic: seed')
    data.add_argument('--synthetic-size', type=int, nargs=2, default=(621, 188),
                      metavar=('W', 'H'), help='synthetic: image size')
    proto = parser.add_argument_group('protocol')
    proto.add_argument('--preset', choices=['nyu', 'kitti'], default=None,
                       help="protocol defaults and paper table (default: the data set's: nyu "
                            'for NYU, kitti for KITTI and synthetic data)')
    proto.add_argument('--min-depth', type=float, default=None, help='lower cap (m)')
    proto.add_argument('--max-depth', type=float, default=None,
                       help='upper cap (m); KITTI 80, NYU 10 by default')
    proto.add_argument('--crop', choices=sorted(CROPS) + ['none'], default=None,
                       help='evaluation crop (KITTI: garg by default; NYU: nyu_eigen)')
    proto.add_argument('--median-scaling', action='store_true',
                       help='scale each prediction by median(gt)/median(pred) (labelled)')
    proto.add_argument('--extrapolate', action='store_true',
                       help='predict ground-truth pixels beyond the output grid by repeating '
                            'its edge (as resizing the prediction to the image does)')
    proto.add_argument('--no-metric-scaling', action='store_true',
                       help="do not correct depth for the camera's focal length")
    out = parser.add_argument_group('output')
    out.add_argument('--output-dir', default='', help='write metrics.json, per_image.csv, '
                                                      'report.png here')
    out.add_argument('--examples', type=int, default=4, help='example images in the PNG')
    out.add_argument('--no-plot', action='store_true', help='no PNG')
    out.add_argument('--no-progress', action='store_true', help='no progress bar')
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Evaluate and print the table; exit 2 for bad arguments, 1 for unusable files."""
    parser = _parser()
    args = parser.parse_args(argv)
    if (args.model is None) == (args.baseline is None):
        parser.error('give a model file or --baseline mean (one of the two)')
    if args.limit < 0 or args.examples < 0:
        parser.error('--limit and --examples must be >= 0')
    if args.mean_depth_m is not None and not args.mean_depth_m > 0:
        parser.error('--mean-depth-m must be positive')
    velodyne = args.dataset == 'kitti_raw' and args.ground_truth == 'velodyne'
    if args.gt_pixels == 'eigen' and not velodyne:
        parser.error('--gt-pixels eigen is for --dataset kitti_raw with Velodyne ground truth')
    gt_pixels = args.gt_pixels or ('eigen' if velodyne else 'exact')
    # The protocol (caps, crop) and the paper's table are the data set's, whatever the model.
    data_preset = 'nyu' if args.dataset.startswith('nyu') else 'kitti'
    preset_name = args.preset or data_preset

    from msdepth_ros.data.base import DatasetError
    from msdepth_ros.data.registry import DataSpec, open_dataset
    from msdepth_ros.evaluation.evaluate import ConstantSource, EvalProtocol, evaluate
    from msdepth_ros.evaluation.report import format_report, write_report
    from tqdm import tqdm

    def bar(desc: str) -> Callable[[Any], Any]:
        return lambda it: tqdm(it, desc=desc, disable=args.no_progress, dynamic_ncols=True)

    source = None
    model_preset = None
    try:
        spec = DataSpec(kind=args.dataset, root=args.root, split=args.split,
                        splits_file=args.splits_file, ground_truth=args.ground_truth,
                        gt_pixels=gt_pixels,
                        benchmark_root=args.benchmark_root, limit=args.limit,
                        count=args.synthetic_count, seed=args.synthetic_seed,
                        width=args.synthetic_size[0], height=args.synthetic_size[1])
        if args.gt_cache:
            spec = _with_gt_cache(spec, args.gt_cache, bar)
        dataset = open_dataset(spec)
        if args.model is not None:
            from msdepth_ros.inference import BackendError
            try:
                source = ModelSource(args.model, args.backend,
                                     metric_scaling=not args.no_metric_scaling,
                                     extrapolate=args.extrapolate)
            except BackendError as exc:
                print(f'msdepth-eval: error: {exc}', file=sys.stderr)
                return 1
            model_preset = source.preset.name
        protocol = _protocol(args, preset_name, EvalProtocol)
        if model_preset is not None and model_preset != data_preset:
            kind = 'synthetic (KITTI geometry)' if args.dataset == 'synthetic' else \
                data_preset.upper()
            print(f"msdepth-eval: warning: the model's preset is {model_preset!r}, the data "
                  f'set is {kind}: the model sees images unlike its training data; scored '
                  f'with the {preset_name.upper()} protocol ({protocol.describe()})',
                  file=sys.stderr)
        if source is None:
            depth = args.mean_depth_m or _mean_ground_truth(dataset, protocol,
                                                            bar('mean of ground truth'))
            label = ('mean baseline' if args.mean_depth_m else
                     'mean baseline (mean of this ground truth)') + f' {depth:.3f} m'
            source = ConstantSource(depth, label)
        report = evaluate(source, dataset, protocol, keep_examples=args.examples,
                          progress=bar('evaluating'))
    except (DatasetError, ValueError) as exc:
        print(f'msdepth-eval: error: {exc}', file=sys.stderr)
        return 1
    finally:
        if source is not None and hasattr(source, 'close'):
            source.close()
    paper = preset_name
    print(format_report(report, paper, dataset_label=_dataset_label(spec)))
    if args.output_dir:
        paths = write_report(report, args.output_dir, paper, plot=not args.no_plot,
                             extra={'model': args.model, 'backend': args.backend,
                                    'model_preset': model_preset, 'dataset': spec.__dict__})
        print('wrote ' + ', '.join(str(p) for p in paths.values()))
    return 0


def _protocol(args: argparse.Namespace, preset_name: str, protocol_cls: type) -> Any:
    base = protocol_cls.for_preset(preset_name)
    crop = base.crop if args.crop is None else (None if args.crop == 'none' else args.crop)
    return protocol_cls(min_depth_m=base.min_depth_m if args.min_depth is None
                        else args.min_depth,
                        max_depth_m=base.max_depth_m if args.max_depth is None
                        else args.max_depth,
                        crop=crop, median_scaling=args.median_scaling)


def _mean_ground_truth(dataset: Any, protocol: Any, progress: Callable[[Any], Any]) -> float:
    from msdepth_ros.core.metrics import CROPS as crops, valid_mask
    crop = crops[protocol.crop] if protocol.crop else None
    total, count = 0.0, 0
    for i in progress(range(len(dataset))):
        gt = dataset[i].depth_m
        mask = valid_mask(gt, protocol.min_depth_m, protocol.max_depth_m, crop)
        total += float(gt[mask].astype(float).sum())
        count += int(mask.sum())
    if count == 0:
        raise ValueError('the ground truth has no valid pixel within the caps and crop')
    return total / count


def _with_gt_cache(spec: Any, path: str, bar: Callable[[str], Any]) -> Any:
    from dataclasses import replace
    from pathlib import Path

    from msdepth_ros.data.registry import open_dataset
    if spec.kind != 'kitti_raw':
        raise ValueError('--gt-cache is for kitti_raw (other ground truth is read directly)')
    if not Path(path).is_file():
        from msdepth_ros.data.kitti import save_ground_truth
        save_ground_truth(path, open_dataset(spec), progress=bar('ground truth'))
        print(f'wrote ground truth of {spec.split} to {path}')
    return replace(spec, gt_cache=path)


def _dataset_label(spec: Any) -> str:
    parts = [spec.kind]
    if spec.split:
        parts.append(spec.split)
    if spec.kind == 'kitti_raw':
        parts.append(f'({spec.ground_truth} ground truth' + (
            f', {spec.gt_pixels} pixels)' if spec.ground_truth == 'velodyne' else ')'))
    if spec.limit:
        parts.append(f'first {spec.limit}')
    return ' '.join(parts)


if __name__ == '__main__':
    sys.exit(main())
