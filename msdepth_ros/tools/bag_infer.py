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
``msdepth-bag-infer``: the depth node's outputs for every image of a bag, offline (no DDS).

Every image of ``--image-topic`` goes through the depth node's own ``DepthPipeline`` with the
camera info of ``--camera-info-topic``; a copy of the input bag gets the node's ``depth/image``,
``depth/camera_info`` and ``points`` under the camera's namespace, the node's bytes
(``msdepth_ros.bags.infer``, which also says how frames are evaluated). When the bag has
Velodyne scans and ``/tf_static``, every frame is evaluated against its nearest scan: the
paper's table is printed; ``metrics.json``, ``frames.csv`` (one row per frame) and
``metrics.png`` (the metrics over time) go to ``--output-dir``.

The written ``points`` go through the depth node's cloud filter (``--cloud-*``). When
``/tf_static`` also links ``--base-frame`` to the camera, each evaluated frame's cloud and scan
are binned into 2D cells as Nav2's obstacle layer marks them (``bags.occupancy``), and
occupancy precision, recall and IoU (cells summed over the run) join the table, the CSV, the
JSON and the plot.
"""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path
import sys
from typing import Any, Sequence

from msdepth_ros.bags import occupancy
from msdepth_ros.bags.files import BagError, run_reporting_errors, STORAGES
from msdepth_ros.bags.infer import (BagInference, camera_namespace, infer_bag, InferError,
                                    InferOptions)
from msdepth_ros.core.metrics import METRIC_LABELS, METRIC_NAMES
from msdepth_ros.data.base import write_atomically
from msdepth_ros.evaluation.evaluate import EvalReport
from msdepth_ros.evaluation.report import format_report, report_dict
from msdepth_ros.msgs import topics
import numpy as np

PROG = 'msdepth-bag-infer'
DEFAULT_IMAGE_TOPIC = f'{topics.KITTI_LEFT_COLOUR}/{topics.KITTI_IMAGE}'
#: The metrics drawn over time in ``metrics.png`` (and the occupancy scores, in one panel).
PLOTTED_METRICS = ('delta1', 'abs_rel', 'rmse', 'si_log')
PLOTTED_OCCUPANCY = ('occupancy_precision', 'occupancy_recall', 'occupancy_iou')


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    # Options whose default is None say in their help what they default to.
    def _get_help_string(self, action: argparse.Action) -> str:
        return action.help if action.default is None else super()._get_help_string(action)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__.strip().split('\n\n')[0].replace('``', ''),
        formatter_class=_HelpFormatter)
    parser.add_argument('in_bag', type=Path, metavar='IN_BAG', help='rosbag2 to read')
    parser.add_argument('out_bag', type=Path, metavar='OUT_BAG',
                        help='rosbag2 to write: IN_BAG plus the depth outputs')
    model = parser.add_argument_group("model (as the depth node's parameters)")
    model.add_argument('--model', required=True, type=Path,
                       help='.pt checkpoint, .onnx file or TensorRT engine')
    model.add_argument('--backend', default='auto',
                       choices=('auto', 'tensorrt', 'onnxruntime', 'torch'),
                       help='inference backend')
    model.add_argument('--preset', default='auto', choices=('auto', 'kitti', 'nyu'),
                       help="geometry preset the model must have; auto: the model's own")
    model.add_argument('--upsample', type=int, default=1,
                       help='integer upsampling of the network output (1 to 8)')
    model.add_argument('--no-metric-scaling', action='store_true',
                       help='do not scale depth by f_camera / f_training')
    model.add_argument('--min-depth-m', type=float, default=0.0,
                       help="depths below are invalid (NaN) in the outputs; 0: the preset's")
    model.add_argument('--max-depth-m', type=float, default=0.0,
                       help="depths above are invalid (NaN) in the outputs; 0: the preset's")
    topic_args = parser.add_argument_group('topics')
    topic_args.add_argument('--image-topic', default=DEFAULT_IMAGE_TOPIC,
                            help='sensor_msgs/Image topic to run on')
    topic_args.add_argument('--camera-info-topic', default=None,
                            help='its camera info (default: camera_info beside the image topic)')
    topic_args.add_argument('--velodyne-topic', default=topics.KITTI_VELODYNE,
                            help='PointCloud2 scans to evaluate against')
    evaluation = parser.add_argument_group('evaluation')
    evaluation.add_argument('--no-eval', action='store_true', help='do not evaluate')
    evaluation.add_argument('--max-scan-offset-ms', type=float, default=50.0,
                            help='evaluate a frame only when a scan is this close in time')
    evaluation.add_argument('--output-dir', type=Path, default=None,
                            help='metrics.json, frames.csv, metrics.png (default: '
                            'OUT_BAG_eval beside OUT_BAG)')
    cloud = parser.add_argument_group("cloud (as the depth node's parameters)")
    occupancy.add_arguments(cloud, evaluation)
    output = parser.add_argument_group('output')
    output.add_argument('--storage', choices=STORAGES, default='mcap', help='storage format')
    output.add_argument('--overwrite', action='store_true', help='replace an existing OUT_BAG')
    output.add_argument('--quiet', '-q', action='store_true', help='no progress bars')
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run; exit 0 with the bag written, 1 on an unusable bag or model, 2 on bad usage."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not 1 <= args.upsample <= 8:
        parser.error('--upsample must be within 1 and 8')
    for name in ('min_depth_m', 'max_depth_m'):
        value = getattr(args, name)
        if not 0.0 <= value <= 1000.0:
            parser.error(f"--{name.replace('_', '-')} must be within 0 and 1000, got {value:g}")
    if args.max_scan_offset_ms <= 0:
        parser.error('--max-scan-offset-ms must be positive')
    try:
        args.cloud_filter = occupancy.cloud_filter_from(args)
        args.occupancy = occupancy.settings_from(args)
    except ValueError as exc:
        parser.error(str(exc))
    if not args.image_topic.startswith('/'):
        args.image_topic = '/' + args.image_topic
    if args.camera_info_topic is None:
        args.camera_info_topic = f'{camera_namespace(args.image_topic)}/{topics.CAMERA_INFO}'
    if args.output_dir is None:
        args.output_dir = args.out_bag.with_name(args.out_bag.name + '_eval')
    options = InferOptions(
        in_bag=args.in_bag, out_bag=args.out_bag, model=args.model,
        image_topic=args.image_topic, camera_info_topic=args.camera_info_topic,
        velodyne_topic=args.velodyne_topic, backend=args.backend, preset=args.preset,
        upsample=args.upsample, metric_scaling=not args.no_metric_scaling,
        min_depth_m=args.min_depth_m, max_depth_m=args.max_depth_m, evaluate=not args.no_eval,
        max_scan_offset_ms=args.max_scan_offset_ms, cloud_filter=args.cloud_filter,
        occupancy=args.occupancy, storage=args.storage, overwrite=args.overwrite)
    from msdepth_ros.inference import BackendError
    return run_reporting_errors(
        PROG, lambda: _report(args, infer_bag(options, _progress(args.quiet))),
        (BagError, InferError, BackendError), args.out_bag)


def _progress(quiet: bool) -> Any:
    from tqdm import tqdm

    def bar(iterable: Any, total: int, desc: str) -> Any:
        return tqdm(iterable, total=total, desc=desc, unit='msg', disable=quiet,
                    dynamic_ncols=True)
    return bar


# -- reporting -----------------------------------------------------------------------------------

def _report(args: argparse.Namespace, run: BagInference) -> int:
    counts = ', '.join(f'{topic} {n}' for topic, n in run.counts.items())
    print(f'{PROG}: wrote {args.out_bag}: {counts} (and every topic of {args.in_bag})')
    if run.skipped:
        print(f'{PROG}: skipped {len(run.skipped)}: {run.skipped[0]}'
              + (' ...' if len(run.skipped) > 1 else ''), file=sys.stderr)
    if args.no_eval:
        return 0
    if run.note or not run.rows:
        print(f'{PROG}: no evaluation: {run.note or "no frame could be evaluated"}')
        return 0
    report = run.report()
    preset_name = run.pipeline.preset.name
    paper = preset_name if preset_name in ('nyu', 'kitti') else 'kitti'
    print(format_report(report, paper, dataset_label=f'{args.in_bag} {args.image_topic}'))
    if run.unevaluated:
        print(f'({run.unevaluated} of {len(run.index.images)} frames not evaluated: no scan '
              f'within {args.max_scan_offset_ms:g} ms, no transform or no usable camera info)')
    extra = {'bag': str(args.in_bag), 'image_topic': args.image_topic,
             'velodyne_topic': args.velodyne_topic, 'model': str(args.model)}
    if args.occupancy is not None:
        total, frames = occupancy.run_total(report.per_image)
        ceiling, _ = occupancy.run_total(report.per_image, 'ceiling')
        if frames:
            print(occupancy.summary_table(total, ceiling, frames, args.occupancy))
            extra['occupancy'] = occupancy.summary_dict(total, ceiling, frames, args.occupancy)
        if run.no_base:
            print(f'({len(run.no_base)} frames without occupancy: no transform '
                  f'{args.occupancy.base_frame} <- camera on {topics.TF_STATIC}: '
                  f'{run.no_base[0]}; --base-frame names it)')
    paths = write_outputs(args.output_dir, report, paper, extra=extra)
    print('wrote ' + ', '.join(str(p) for p in paths))
    return 0


FRAME_COLUMNS = ('frame', 'stamp_ns', 'time_s', 'scan_stamp_ns', 'scan_offset_ms', 'gt_pixels',
                 'pixels', *METRIC_NAMES, *occupancy.OCCUPANCY_COLUMNS)


def write_outputs(output_dir: Path, report: EvalReport, paper: str,
                  extra: dict[str, Any]) -> list[Path]:
    """Write ``metrics.json``, ``frames.csv`` and ``metrics.png`` into ``output_dir``."""
    import json

    output_dir.mkdir(parents=True, exist_ok=True)
    rows = report.per_image
    t0 = rows[0]['stamp_ns']
    for row in rows:
        row['time_s'] = (row['stamp_ns'] - t0) / 1e9
        row['scan_offset_ms'] = (row['scan_stamp_ns'] - row['stamp_ns']) / 1e6
    text = json.dumps(report_dict(report, paper, extra), indent=2)
    paths = [output_dir / 'metrics.json', output_dir / 'frames.csv', output_dir / 'metrics.png']
    write_atomically(paths[0], lambda tmp: tmp.write_text(text + '\n', encoding='utf-8'))

    def write_csv(tmp: Path) -> None:
        with open(tmp, 'w', newline='', encoding='utf-8') as f:
            writer = csv.writer(f)
            writer.writerow(FRAME_COLUMNS)
            for row in rows:
                writer.writerow([_cell(row.get(c, '')) for c in FRAME_COLUMNS])
    write_atomically(paths[1], write_csv)
    plot_over_time(paths[2], report)
    return paths


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return '' if math.isnan(value) else f'{value:.6g}'
    return str(value)


def plot_over_time(path: Path, report: EvalReport) -> Path:
    """PNG of ``PLOTTED_METRICS`` per frame against time, each with its sequence mean."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    time_s = np.array([row['time_s'] for row in report.per_image])
    scored = [row for row in report.per_image if row.get('cells_tp', '') != '']
    panels = len(PLOTTED_METRICS) + bool(scored)
    fig, axes = plt.subplots(panels, 1, figsize=(9, 1.8 * panels), sharex=True,
                             layout='constrained')
    if scored:
        total, _ = occupancy.run_total(scored)
        ax = axes[-1]
        for name in PLOTTED_OCCUPANCY:
            values = np.array([row.get(name, math.nan) for row in report.per_image], float)
            run_value = total.values()[name.split('_', 1)[1]]
            ax.plot(time_s, values, '.-', lw=1,
                    label=f'{name.split("_", 1)[1]} (run {run_value:.3f})')
        ax.set_ylabel('occupancy', fontsize=8)
        ax.set_ylim(-0.05, 1.05)
        ax.legend(loc='upper right', fontsize=8)
        ax.grid(alpha=0.3)
    for ax, name in zip(axes, PLOTTED_METRICS):
        values = np.array([row[name] for row in report.per_image], dtype=float)
        ax.plot(time_s, values, '.-', lw=1)
        ax.axhline(report.metrics[name], color='tab:red', ls='--', lw=1,
                   label=f'mean {report.metrics[name]:.3f}')
        ax.set_ylabel(METRIC_LABELS[name], fontsize=8)
        ax.legend(loc='upper right', fontsize=8)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel('time since the first frame (s)')
    fig.suptitle(f'{report.label}: {report.protocol.describe()}', fontsize=9)
    try:
        write_atomically(path, lambda tmp: fig.savefig(tmp, dpi=80))
    finally:
        plt.close(fig)
    return path


if __name__ == '__main__':
    sys.exit(main())
