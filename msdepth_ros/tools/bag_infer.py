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

Every image of ``--image-topic`` goes through the inference runtime (``load_backend`` and
``DepthPredictor``, as the node runs it) with the camera info of ``--camera-info-topic`` (the one
with the image's stamp, else the latest before it, else the first). A copy of the input bag
(every topic as it is: same bytes, connections and QoS metadata) gets, beside the image and
stamped with its header, the node's outputs under the camera's namespace: ``depth/image``
(32FC1 metres, NaN invalid), ``depth/camera_info`` and the organized ``points``.

When the bag has Velodyne scans and ``/tf_static`` links the camera's optical frame to the
scans' frame, every frame is evaluated against the scan nearest in time: the scan is moved into
the camera frame with the bag's transforms, projected with the bag's camera info
(``core.camera.depth_image_from_points``) and compared with the prediction at those pixels by
``evaluation.evaluate`` (the paper's protocol of the model's preset: KITTI 1e-3 to 80 m, Garg
crop; predictions clipped to the caps, not cut at the depth range). The paper's table is
printed; ``metrics.json``, ``frames.csv`` (one row per frame) and ``metrics.png`` (the metrics
over time) go to ``--output-dir``.

The written ``points`` go through the depth node's cloud filter (``--cloud-*``). When
``/tf_static`` also links ``--base-frame`` to the camera, each evaluated frame's cloud and scan
are binned into 2D cells as Nav2's obstacle layer marks them (``tools.bag_occupancy``), and
occupancy precision, recall and IoU (cells summed over the run) join the table, the CSV, the
JSON and the plot.
"""

from __future__ import annotations

import argparse
from bisect import bisect_left, bisect_right
import csv
from dataclasses import dataclass, field
import math
from pathlib import Path
import sys
from typing import Any, Sequence

from msdepth_ros.core.camera import backproject, depth_image_from_points, pixel_rays
from msdepth_ros.core.intrinsics import Intrinsics
from msdepth_ros.core.metrics import average_metrics, METRIC_LABELS, METRIC_NAMES
from msdepth_ros.core.transforms import apply, TransformError, TransformTree
from msdepth_ros.data.base import DepthDataset, DepthSample, write_atomically
from msdepth_ros.evaluation.evaluate import (depth_image_prediction, EvalProtocol, EvalReport,
                                             evaluate, PredictedDepth)
from msdepth_ros.evaluation.report import format_report, report_dict
from msdepth_ros.msgs.images import camera_info_to_intrinsics
from msdepth_ros.msgs.readers import MessageError, pointcloud2_fields, tree_from_tf_messages
from msdepth_ros.tools import bag_occupancy as occupancy
from msdepth_ros.tools.bags import (bag_qos, BagError, BagOutput, camera_info_message, header,
                                    image_message, image_rgb, open_reader,
                                    organized_pointcloud_message, run_reporting_errors,
                                    stamp_ns, STORAGES)
import numpy as np

PROG = 'msdepth-bag-infer'
DEFAULT_IMAGE_TOPIC = '/kitti/camera_color_left/image_raw'
DEFAULT_VELODYNE_TOPIC = '/kitti/velodyne_points'
TF_STATIC_TOPIC = '/tf_static'
#: The node's output topics, relative to the camera's namespace (ros/config.py).
DEPTH_TOPIC = 'depth/image'
DEPTH_INFO_TOPIC = 'depth/camera_info'
POINTS_TOPIC = 'points'
#: The metrics drawn over time in ``metrics.png`` (and the occupancy scores, in one panel).
PLOTTED_METRICS = ('delta1', 'abs_rel', 'rmse', 'si_log')
PLOTTED_OCCUPANCY = ('occupancy_precision', 'occupancy_recall', 'occupancy_iou')


class InferError(RuntimeError):
    """A run that cannot be made (topics missing, unusable settings); says which and why."""


def camera_namespace(image_topic: str) -> str:
    """Return the namespace of an image topic: ``/kitti/camera_color_left`` of its images."""
    return image_topic.rsplit('/', 1)[0]


# -- pass 1: what the bag holds -------------------------------------------------------------------

@dataclass
class BagIndex:
    """
    The small things read before inference: camera infos, static transforms, stamps.

    ``images``: (bag time, header stamp, frame id) of every image in bag order; ``infos``: (bag
    time, message) of every camera info; ``scans``: header stamps of the Velodyne scans, sorted,
    and their frame ids; ``tree``: ``/tf_static``.
    """

    images: list[tuple[int, int, str]] = field(default_factory=list)
    infos: list[tuple[int, Any]] = field(default_factory=list)
    scans: list[int] = field(default_factory=list)
    scan_frames: set[str] = field(default_factory=set)
    tree: TransformTree = field(default_factory=TransformTree)
    _by_stamp: dict[int, Any] = field(default_factory=dict, repr=False)
    _bag_times: list[int] = field(default_factory=list, repr=False)

    def camera_info(self, bag_ns: int, image_stamp: int) -> Any:
        """Return the camera info of the image's stamp, else the latest before, else the first."""
        exact = self._by_stamp.get(image_stamp)
        if exact is not None:
            return exact
        before = bisect_right(self._bag_times, bag_ns)
        return self.infos[before - 1 if before else 0][1]

    def nearest_scan(self, image_stamp: int) -> int | None:
        """Index of the scan nearest in time to ``image_stamp`` (``scans`` sorted), or None."""
        if not self.scans:
            return None
        i = bisect_left(self.scans, image_stamp)
        candidates = [j for j in (i - 1, i) if 0 <= j < len(self.scans)]
        return min(candidates, key=lambda j: abs(self.scans[j] - image_stamp))


def _topics(reader: Any) -> dict[str, list[Any]]:
    topics: dict[str, list[Any]] = {}
    for conn in reader.connections:
        topics.setdefault(conn.topic, []).append(conn)
    return topics


def _require(topics: dict[str, list[Any]], bag: Path, topic: str, msgtype: str) -> list[Any]:
    if topic not in topics:
        raise InferError(f'{bag}: topic {topic} is not in the bag; it has '
                         f'{", ".join(sorted(topics)) or "none"}')
    wrong = [c.msgtype for c in topics[topic] if c.msgtype != msgtype]
    if wrong:
        raise InferError(f'{bag}: topic {topic} is {wrong[0]}, not {msgtype}')
    return topics[topic]


def index_bag(reader: Any, image_conns: list[Any], info_conns: list[Any],
              scan_conns: list[Any], tf_conns: list[Any], progress: Any) -> BagIndex:
    """Read camera infos, ``/tf_static`` and the image and scan stamps (pass 1)."""
    index = BagIndex()
    tf_messages = []
    scans = []
    wanted = image_conns + info_conns + scan_conns + tf_conns
    total = sum(c.msgcount for c in wanted)
    for conn, bag_ns, data in progress(reader.messages(connections=wanted), total, 'index'):
        msg = reader.deserialize(data, conn.msgtype)
        if conn in image_conns:
            index.images.append((bag_ns, stamp_ns(msg.header), msg.header.frame_id.lstrip('/')))
        elif conn in info_conns:
            index.infos.append((bag_ns, msg))
        elif conn in scan_conns:
            scans.append(stamp_ns(msg.header))
            index.scan_frames.add(msg.header.frame_id.lstrip('/'))
        else:
            tf_messages.append(msg)
    index.scans = sorted(scans)
    # Camera infos by stamp and by bag time (bag order), for the lookup of every frame.
    index._by_stamp = {stamp_ns(msg.header): msg for _, msg in index.infos}
    index._bag_times = [t for t, _ in index.infos]
    index.tree = tree_from_tf_messages(tf_messages)
    return index


# -- evaluation of one frame ----------------------------------------------------------------------

class _FrameTruth(DepthDataset):
    """
    One frame as ``evaluation.evaluate`` takes it: data set and depth source at once.

    The ground truth is the projected scan; the source returns the frame's prediction. Only
    ``evaluate`` reads the sample, and it keeps no examples, so no image is held.
    """

    sparse_depth = True

    def __init__(self, name: str, gt_m: np.ndarray, camera: Intrinsics,
                 prediction: PredictedDepth, label: str) -> None:
        self.name, self.gt_m, self.camera, self.prediction = name, gt_m, camera, prediction
        self.label = label

    def __len__(self) -> int:
        return 1

    def __getitem__(self, index: int) -> DepthSample:
        self._check_index(index)
        return DepthSample(np.zeros((0, 0, 3), np.uint8), self.gt_m, self.camera)

    def sample_name(self, index: int) -> str:
        """Return the frame's name."""
        return self.name

    def predict(self, image_rgb: np.ndarray, intrinsics: Intrinsics) -> PredictedDepth:
        """Return the frame's prediction."""
        return self.prediction


@dataclass
class _Pending:
    """
    A frame to evaluate, gathering its prediction and its scan (they arrive in any order).

    ``stamp``: the image's; ``camera``: its intrinsics; ``scan``: index of its scan in
    ``BagIndex.scans``; ``points``: the scan's ``N x 3`` points in ``scan_frame``.
    """

    stamp: int
    camera: Intrinsics
    scan: int
    prediction: PredictedDepth | None = None
    camera_frame: str = ''
    points: np.ndarray | None = None
    scan_frame: str = ''
    T_base_cam: np.ndarray | None = None
    depth_m: np.ndarray | None = None
    grid: Intrinsics | None = None


# -- the run --------------------------------------------------------------------------------------

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
    topics = parser.add_argument_group('topics')
    topics.add_argument('--image-topic', default=DEFAULT_IMAGE_TOPIC,
                        help='sensor_msgs/Image topic to run on')
    topics.add_argument('--camera-info-topic', default=None,
                        help='its camera info (default: camera_info beside the image topic)')
    topics.add_argument('--velodyne-topic', default=DEFAULT_VELODYNE_TOPIC,
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
        args.camera_info_topic = f'{camera_namespace(args.image_topic)}/camera_info'
    if args.output_dir is None:
        args.output_dir = args.out_bag.with_name(args.out_bag.name + '_eval')
    from msdepth_ros.inference import BackendError
    return run_reporting_errors(PROG, lambda: _run(args), (BagError, InferError, BackendError),
                                args.out_bag)


def _progress(quiet: bool) -> Any:
    from tqdm import tqdm

    def bar(iterable: Any, total: int, desc: str) -> Any:
        return tqdm(iterable, total=total, desc=desc, unit='msg', disable=quiet,
                    dynamic_ncols=True)
    return bar


def _run(args: argparse.Namespace) -> int:
    from msdepth_ros.inference import DepthPredictor, load_backend

    out = BagOutput(args.out_bag, args.storage, args.overwrite)
    out.check()
    reader = open_reader(args.in_bag)
    try:
        topics = _topics(reader)
        image_conns = _require(topics, args.in_bag, args.image_topic, 'sensor_msgs/msg/Image')
        info_conns = _require(topics, args.in_bag, args.camera_info_topic,
                              'sensor_msgs/msg/CameraInfo')
        namespace = camera_namespace(args.image_topic)
        outputs = {name: f'{namespace}/{name}'
                   for name in (DEPTH_TOPIC, DEPTH_INFO_TOPIC, POINTS_TOPIC)}
        taken = sorted(set(outputs.values()) & set(topics))
        if taken:
            raise InferError(f'{args.in_bag}: has {", ".join(taken)} already (depth outputs '
                             'of an earlier run?)')
        scan_conns, tf_conns, note = [], [], ''
        if not args.no_eval:
            scan_conns = [c for c in topics.get(args.velodyne_topic, [])
                          if c.msgtype == 'sensor_msgs/msg/PointCloud2']
            tf_conns = [c for c in topics.get(TF_STATIC_TOPIC, [])
                        if c.msgtype == 'tf2_msgs/msg/TFMessage']
            if not scan_conns:
                note = f'the bag has no PointCloud2 topic {args.velodyne_topic}'
            elif not tf_conns:
                note = f'the bag has no {TF_STATIC_TOPIC}'
        options = {} if args.preset == 'auto' else {'preset': args.preset}
        backend = load_backend(args.model, args.backend, **options)
        try:
            preset = backend.preset
            min_m = args.min_depth_m or preset.min_depth_m
            max_m = args.max_depth_m or preset.max_depth_m
            if not min_m < max_m:
                raise InferError(f'--min-depth-m and --max-depth-m: need min < max, got '
                                 f'{min_m:g} and {max_m:g} (0 stands for the {preset.name} '
                                 f"preset's {preset.min_depth_m:g} / {preset.max_depth_m:g})")
            # No depth range in the predictor: the outputs get the range below, evaluation
            # clips to the protocol's caps (as msdepth-eval's ModelSource does).
            predictor = DepthPredictor(backend, upsample=args.upsample,
                                       metric_scaling=not args.no_metric_scaling,
                                       min_depth_m=0.0, max_depth_m=math.inf)
            progress = _progress(args.quiet)
            index = index_bag(reader, image_conns, info_conns, scan_conns, tf_conns, progress)
            if not index.images:
                raise InferError(f'{args.in_bag}: topic {args.image_topic} has no messages')
            if not index.infos:
                raise InferError(f'{args.in_bag}: topic {args.camera_info_topic} has no '
                                 'messages')
            run = _Run(args, reader, index, predictor, (min_m, max_m), outputs,
                       f'{backend.info.name}: {args.model}', progress)
            if scan_conns and tf_conns:
                note = run.plan_evaluation()
            with out:
                run.write(out, scan_conns)
        finally:
            backend.close()
    finally:
        reader.close()
    return _report(args, run, preset.name, note)


class _Run:
    """Pass 2: copy the bag, predict every image, evaluate frames as their scans arrive."""

    def __init__(self, args: argparse.Namespace, reader: Any, index: BagIndex, predictor: Any,
                 depth_range_m: tuple[float, float], outputs: dict[str, str], label: str,
                 progress: Any) -> None:
        self.args, self.reader, self.index, self.predictor = args, reader, index, predictor
        self.depth_range_m = depth_range_m
        self.outputs = outputs
        self.label = label
        self.progress = progress
        self.protocol = EvalProtocol.for_preset(predictor.preset.name)
        self.counts = dict.fromkeys(outputs.values(), 0)
        self.skipped: list[str] = []
        self.rows: dict[int, dict[str, Any]] = {}
        self.pending: dict[int, _Pending] = {}
        self.by_scan: dict[int, list[int]] = {}
        self.unevaluated = 0
        self.no_base: list[str] = []
        self._rays: tuple[Intrinsics, np.ndarray, np.ndarray] | None = None

    def plan_evaluation(self) -> str:
        """
        Pair every frame with its nearest scan; return why, when no frame can be evaluated.

        A frame is left out (counted in ``unevaluated``) when ``/tf_static`` does not connect
        its camera frame to the scans' frame, no scan is within ``--max-scan-offset-ms``, or
        its camera info is unusable.
        """
        limit_ns = self.args.max_scan_offset_ms * 1e6
        reasons = []
        for k, (bag_ns, stamp, frame_id) in enumerate(self.index.images):
            j = self.index.nearest_scan(stamp)
            try:
                camera = camera_info_to_intrinsics(self.index.camera_info(bag_ns, stamp))
                for scan_frame in self.index.scan_frames:
                    self.index.tree.lookup(frame_id, scan_frame)
                if j is None or abs(self.index.scans[j] - stamp) > limit_ns:
                    raise ValueError(f'no scan within {self.args.max_scan_offset_ms:g} ms '
                                     '(--max-scan-offset-ms)')
            except TransformError as exc:
                reasons.append(f'{TF_STATIC_TOPIC} does not give the camera <- LIDAR transform: '
                               f'{exc}')
            except ValueError as exc:
                reasons.append(str(exc))
            else:
                self.pending[k] = _Pending(stamp=stamp, camera=camera, scan=j,
                                           camera_frame=frame_id,
                                           T_base_cam=self._base_transform(frame_id))
                self.by_scan.setdefault(j, []).append(k)
        self.unevaluated = len(reasons)
        return '' if self.pending else f'no frame can be evaluated: {reasons[0]}'

    def _base_transform(self, camera_frame: str) -> np.ndarray | None:
        """Return the camera's pose in ``--base-frame`` (None without occupancy or transform)."""
        settings = self.args.occupancy
        if settings is None:
            return None
        try:
            return self.index.tree.lookup(settings.base_frame, camera_frame)
        except TransformError as exc:
            self.no_base.append(str(exc))
            return None

    def write(self, out: BagOutput, scan_conns: list[Any]) -> None:
        """Copy every message as it is, the outputs of each image right after it."""
        copies = {id(conn): out.copy_connection(conn) for conn in self.reader.connections}
        out_conns = {self.outputs[name]: out.add_connection(self.outputs[name], msgtype,
                                                            bag_qos())
                     for name, msgtype in ((DEPTH_TOPIC, 'sensor_msgs/msg/Image'),
                                           (DEPTH_INFO_TOPIC, 'sensor_msgs/msg/CameraInfo'),
                                           (POINTS_TOPIC, 'sensor_msgs/msg/PointCloud2'))}
        frame = 0
        total = sum(c.msgcount for c in self.reader.connections)
        for conn, bag_ns, data in self.progress(self.reader.messages(), total, 'infer'):
            out.write(copies[id(conn)], bag_ns, data)
            if conn.topic == self.args.image_topic:
                msg = self.reader.deserialize(data, conn.msgtype)
                self._image(out, out_conns, frame, bag_ns, msg)
                frame += 1
            elif conn in scan_conns and self.by_scan:
                self._scan(self.reader.deserialize(data, conn.msgtype))

    def _image(self, out: BagOutput, out_conns: dict[str, Any], k: int, bag_ns: int,
               msg: Any) -> None:
        stamp = stamp_ns(msg.header)
        try:
            rgb = image_rgb(msg)
            camera = camera_info_to_intrinsics(self.index.camera_info(bag_ns, stamp))
            if camera.size != (rgb.shape[1], rgb.shape[0]):
                raise ValueError(f'the image is {rgb.shape[1]}x{rgb.shape[0]}, its camera info '
                                 f'{camera.width}x{camera.height}')
        except ValueError as exc:
            self.skipped.append(f'image {k} (stamp {stamp} ns): {exc}')
            self.pending.pop(k, None)
            return
        result = self.predictor.predict(rgb, camera)
        intrinsics = result.intrinsics
        lo, hi = self.depth_range_m
        # The node's depth range (log_depth_to_metric's test) on the unbounded prediction.
        with np.errstate(invalid='ignore'):
            depth_m = np.where((result.depth_m >= lo) & (result.depth_m <= hi), result.depth_m,
                               np.float32(np.nan)).astype(np.float32)
        if self._rays is None or self._rays[0] != intrinsics:
            rays = pixel_rays(intrinsics)
            self._rays = (intrinsics, rays, np.linalg.norm(rays, axis=-1))
        cloud_filter = self.args.cloud_filter
        if cloud_filter.identity:
            xyz = backproject(depth_m, intrinsics, rays=self._rays[1])
        else:
            step = cloud_filter.stride
            xyz = np.multiply(self._rays[1][::step, ::step],
                              cloud_filter.apply(depth_m, self._rays[2])[..., None])
        out_header = header(stamp, msg.header.frame_id)
        for name, message in (
                (DEPTH_TOPIC, image_message(depth_m, '32FC1', out_header)),
                (DEPTH_INFO_TOPIC, camera_info_message(out_header, intrinsics.width,
                                                       intrinsics.height,
                                                       intrinsics.k_matrix(),
                                                       intrinsics.p_matrix())),
                (POINTS_TOPIC, organized_pointcloud_message(out_header, xyz))):
            out.write(out_conns[self.outputs[name]], bag_ns, message)
            self.counts[self.outputs[name]] += 1
        pending = self.pending.get(k)
        if pending is not None:
            plan = self.predictor.plan_for(rgb.shape[1], rgb.shape[0])
            pending.prediction = depth_image_prediction(result.depth_m, plan.camera_to_output)
            pending.depth_m, pending.grid = depth_m, intrinsics
            self._evaluate_if_ready(k)

    def _scan(self, msg: Any) -> None:
        stamp = stamp_ns(msg.header)
        frames = self.by_scan.pop(bisect_left(self.index.scans, stamp), [])
        if not frames:
            return
        try:
            points = pointcloud2_fields(msg, ('x', 'y', 'z'))
        except MessageError as exc:
            self.skipped.append(f'scan at {stamp} ns: {exc}')
            for k in frames:
                self.pending.pop(k, None)
            return
        points = points[np.isfinite(points).all(axis=1)]
        for k in frames:
            if k in self.pending:
                self.pending[k].points = points
                self.pending[k].scan_frame = msg.header.frame_id.lstrip('/')
                self._evaluate_if_ready(k)

    def _evaluate_if_ready(self, k: int) -> None:
        pending = self.pending[k]
        if pending.prediction is None or pending.points is None:
            return
        del self.pending[k]
        try:
            T_cam_scan = self.index.tree.lookup(pending.camera_frame, pending.scan_frame)
        except TransformError as exc:
            self.skipped.append(f'frame {k}: not evaluated: {exc}')
            return
        gt_m = depth_image_from_points(apply(T_cam_scan, pending.points), pending.camera)
        frame = _FrameTruth(f'frame {k}', gt_m, pending.camera, pending.prediction, self.label)
        row = dict(evaluate(frame, frame, self.protocol, keep_examples=0).per_image[0])
        row.update(frame=k, stamp_ns=pending.stamp,
                   scan_stamp_ns=self.index.scans[pending.scan])
        scores = None
        if pending.T_base_cam is not None:
            scores = occupancy.frame_occupancy(pending.depth_m, pending.grid, pending.points,
                                               T_cam_scan, pending.T_base_cam,
                                               self.args.occupancy, self.args.cloud_filter)
        row.update(occupancy.row_values(scores))
        self.rows[k] = row

    def report(self) -> EvalReport:
        """Return the evaluation of every evaluated frame, averaged as ``evaluate`` does."""
        rows = [self.rows[k] for k in sorted(self.rows)]
        return EvalReport(label=self.label, protocol=self.protocol, per_image=rows,
                          metrics=average_metrics(rows))


# -- reporting -----------------------------------------------------------------------------------

def _report(args: argparse.Namespace, run: _Run, preset_name: str, note: str) -> int:
    counts = ', '.join(f'{topic} {n}' for topic, n in run.counts.items())
    print(f'{PROG}: wrote {args.out_bag}: {counts} (and every topic of {args.in_bag})')
    if run.skipped:
        print(f'{PROG}: skipped {len(run.skipped)}: {run.skipped[0]}'
              + (' ...' if len(run.skipped) > 1 else ''), file=sys.stderr)
    if args.no_eval:
        return 0
    if note or not run.rows:
        print(f'{PROG}: no evaluation: {note or "no frame could be evaluated"}')
        return 0
    report = run.report()
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
                  f'{args.occupancy.base_frame} <- camera on {TF_STATIC_TOPIC}: '
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
