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
The depth node's outputs for every image of a bag, offline (no DDS), evaluated against LIDAR.

Every image of the image topic goes through the depth node's own ``DepthPipeline`` (its
predictor, depth range, rays and message writers, with rosbags' message classes) with the
camera info of the camera-info topic (the one with the image's stamp, else the latest before
it, else the first), so the outputs are the node's, byte for byte. A copy of the input bag
(every topic as it is: same bytes, connections and QoS metadata) gets, beside the image and
stamped with its header, the node's outputs under the camera's namespace: ``depth/image``
(32FC1 metres, NaN invalid), ``depth/camera_info`` and the organized ``points``.

When the bag has LIDAR scans and ``/tf_static`` links the camera's optical frame to the
scans' frame, every frame is evaluated against the scan nearest in time: the scan is moved into
the camera frame with the bag's transforms, projected with the bag's camera info
(``core.camera.depth_image_from_points``) and compared with the prediction at those pixels by
``evaluation.evaluate`` (the paper's protocol of the model's preset: KITTI 1e-3 to 80 m, Garg
crop; predictions clipped to the caps, not cut at the depth range).

The written ``points`` go through the depth node's cloud filter. When ``/tf_static`` also links
the occupancy's base frame to the camera, each evaluated frame's cloud and scan are binned into
2D cells as Nav2's obstacle layer marks them (``bags.occupancy``).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from msdepth_ros.bags import occupancy
from msdepth_ros.bags.files import bag_qos, bag_types, BagOutput, image_rgb, open_reader
from msdepth_ros.bags.occupancy import OccupancySettings
from msdepth_ros.core.camera import depth_image_from_points
from msdepth_ros.core.cloud_filter import CloudFilter
from msdepth_ros.core.intrinsics import Intrinsics
from msdepth_ros.core.metrics import average_metrics
from msdepth_ros.core.transforms import apply, TransformError, TransformTree
from msdepth_ros.data.base import DepthDataset, DepthSample
from msdepth_ros.evaluation.evaluate import (depth_image_prediction, EvalProtocol, EvalReport,
                                             evaluate, PredictedDepth)
from msdepth_ros.msgs import topics
from msdepth_ros.msgs.images import camera_info_to_intrinsics
from msdepth_ros.msgs.readers import MessageError, pointcloud2_fields, tree_from_tf_messages
from msdepth_ros.msgs.writers import stamp_ns
from msdepth_ros.pipeline.depth import DepthPipeline, OutputRequest, PredictionSettings
import numpy as np

#: The node's output topics, relative to the camera's namespace.
OUTPUT_TOPICS = (topics.DEPTH, topics.DEPTH_INFO, topics.POINTS)

#: ``progress(iterable, total, description)``: wraps the messages of a pass (a progress bar).
Progress = Callable[[Iterable[Any], int, str], Iterable[Any]]


def _no_progress(iterable: Iterable[Any], total: int, desc: str) -> Iterable[Any]:
    return iterable


@dataclass(frozen=True)
class InferOptions:
    """
    What to run on which bag (the options of ``msdepth-bag-infer``).

    ``min_depth_m`` / ``max_depth_m`` 0 stand for the preset's; ``camera_info_topic`` is the
    image's camera info; ``evaluate`` False skips the evaluation; ``cloud_filter`` filters the
    written cloud as the node's parameters do; ``occupancy`` (None: not scored) says where and
    how the evaluated frames' cells are counted.
    """

    in_bag: Path
    out_bag: Path
    model: Path
    image_topic: str
    camera_info_topic: str
    velodyne_topic: str = topics.KITTI_VELODYNE
    backend: str = 'auto'
    preset: str = 'auto'
    upsample: int = 1
    metric_scaling: bool = True
    min_depth_m: float = 0.0
    max_depth_m: float = 0.0
    evaluate: bool = True
    max_scan_offset_ms: float = 50.0
    cloud_filter: CloudFilter = CloudFilter()
    occupancy: OccupancySettings | None = None
    storage: str = 'mcap'
    overwrite: bool = False


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
    by_topic: dict[str, list[Any]] = {}
    for conn in reader.connections:
        by_topic.setdefault(conn.topic, []).append(conn)
    return by_topic


def _require(by_topic: dict[str, list[Any]], bag: Path, topic: str, msgtype: str) -> list[Any]:
    if topic not in by_topic:
        raise InferError(f'{bag}: topic {topic} is not in the bag; it has '
                         f'{", ".join(sorted(by_topic)) or "none"}')
    wrong = [c.msgtype for c in by_topic[topic] if c.msgtype != msgtype]
    if wrong:
        raise InferError(f'{bag}: topic {topic} is {wrong[0]}, not {msgtype}')
    return by_topic[topic]


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

def infer_bag(options: InferOptions, progress: Progress = _no_progress) -> BagInference:
    """
    Write ``options.out_bag``: the input bag with the depth node's outputs of every image.

    Returns the run (counts, skipped messages, per-frame metrics). Raises ``InferError``,
    ``BagError`` or ``inference.BackendError`` for a bag, topic, setting or model it cannot
    use, before anything appears under ``out_bag``.
    """
    from msdepth_ros.inference import load_backend

    out = BagOutput(options.out_bag, options.storage, options.overwrite)
    out.check()
    reader = open_reader(options.in_bag)
    try:
        by_topic = _topics(reader)
        image_conns = _require(by_topic, options.in_bag, options.image_topic,
                               'sensor_msgs/msg/Image')
        info_conns = _require(by_topic, options.in_bag, options.camera_info_topic,
                              'sensor_msgs/msg/CameraInfo')
        namespace = camera_namespace(options.image_topic)
        outputs = {name: f'{namespace}/{name}' for name in OUTPUT_TOPICS}
        taken = sorted(set(outputs.values()) & set(by_topic))
        if taken:
            raise InferError(f'{options.in_bag}: has {", ".join(taken)} already (depth '
                             'outputs of an earlier run?)')
        scan_conns, tf_conns, note = [], [], ''
        if options.evaluate:
            scan_conns = [c for c in by_topic.get(options.velodyne_topic, [])
                          if c.msgtype == 'sensor_msgs/msg/PointCloud2']
            tf_conns = [c for c in by_topic.get(topics.TF_STATIC, [])
                        if c.msgtype == 'tf2_msgs/msg/TFMessage']
            if not scan_conns:
                note = f'the bag has no PointCloud2 topic {options.velodyne_topic}'
            elif not tf_conns:
                note = f'the bag has no {topics.TF_STATIC}'
        preset_option = {} if options.preset == 'auto' else {'preset': options.preset}
        backend = load_backend(options.model, options.backend, **preset_option)
        try:
            try:
                min_m, max_m = backend.preset.depth_range_m(options.min_depth_m,
                                                            options.max_depth_m)
            except ValueError as exc:
                raise InferError(f'--min-depth-m and --max-depth-m: {exc}') from None
            # The outputs get the depth range; evaluation clips the unbounded prediction to the
            # protocol's caps (as msdepth-eval's ModelSource does).
            settings = PredictionSettings(upsample=options.upsample,
                                          metric_scaling=options.metric_scaling,
                                          min_depth_m=min_m, max_depth_m=max_m)
            pipeline = DepthPipeline(backend, bag_types())
            index = index_bag(reader, image_conns, info_conns, scan_conns, tf_conns, progress)
            if not index.images:
                raise InferError(f'{options.in_bag}: topic {options.image_topic} has no '
                                 'messages')
            if not index.infos:
                raise InferError(f'{options.in_bag}: topic {options.camera_info_topic} has no '
                                 'messages')
            run = BagInference(options, reader, index, pipeline, settings, outputs,
                               f'{backend.info.name}: {options.model}', progress)
            run.note = note
            if scan_conns and tf_conns:
                run.note = run.plan_evaluation()
            with out:
                run.write(out, scan_conns)
        finally:
            backend.close()
    finally:
        reader.close()
    return run


class BagInference:
    """
    Pass 2: copy the bag, predict every image, evaluate frames as their scans arrive.

    After ``infer_bag``: ``counts`` (output topic -> messages written), ``skipped`` (why each
    image or scan was left out), ``rows`` (frame -> its metrics), ``unevaluated`` (frames with
    no scan, transform or camera info), ``no_base`` (why frames have no occupancy: no transform
    to the base frame), ``note`` (why nothing was evaluated; empty otherwise),
    ``index`` (what pass 1 read); ``report()`` averages the rows.
    """

    def __init__(self, options: InferOptions, reader: Any, index: BagIndex,
                 pipeline: DepthPipeline, settings: PredictionSettings, outputs: dict[str, str],
                 label: str, progress: Any) -> None:
        self.options, self.reader, self.index, self.pipeline = options, reader, index, pipeline
        self.settings = settings
        self.outputs = outputs
        self.label = label
        self.progress = progress
        self.protocol = EvalProtocol.for_preset(pipeline.preset.name)
        self.counts = dict.fromkeys(outputs.values(), 0)
        self.skipped: list[str] = []
        self.rows: dict[int, dict[str, Any]] = {}
        self.pending: dict[int, _Pending] = {}
        self.by_scan: dict[int, list[int]] = {}
        self.unevaluated = 0
        self.note = ''
        self.no_base: list[str] = []
        self.request = OutputRequest(depth=True, camera_info=True, points=True,
                                     points_rgb=False, colorized=False,
                                     cloud_filter=options.cloud_filter)

    def plan_evaluation(self) -> str:
        """
        Pair every frame with its nearest scan; return why, when no frame can be evaluated.

        A frame is left out (counted in ``unevaluated``) when ``/tf_static`` does not connect
        its camera frame to the scans' frame, no scan is within ``--max-scan-offset-ms``, or
        its camera info is unusable.
        """
        limit_ns = self.options.max_scan_offset_ms * 1e6
        reasons = []
        for k, (bag_ns, stamp, frame_id) in enumerate(self.index.images):
            j = self.index.nearest_scan(stamp)
            try:
                camera = camera_info_to_intrinsics(self.index.camera_info(bag_ns, stamp))
                for scan_frame in self.index.scan_frames:
                    self.index.tree.lookup(frame_id, scan_frame)
                if j is None or abs(self.index.scans[j] - stamp) > limit_ns:
                    raise ValueError(f'no scan within {self.options.max_scan_offset_ms:g} ms '
                                     '(--max-scan-offset-ms)')
            except TransformError as exc:
                reasons.append(f'{topics.TF_STATIC} does not give the camera <- LIDAR transform: '
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
        """Return the camera's pose in the base frame (None without occupancy or transform)."""
        settings = self.options.occupancy
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
                     for name, msgtype in ((topics.DEPTH, 'sensor_msgs/msg/Image'),
                                           (topics.DEPTH_INFO, 'sensor_msgs/msg/CameraInfo'),
                                           (topics.POINTS, 'sensor_msgs/msg/PointCloud2'))}
        frame = 0
        total = sum(c.msgcount for c in self.reader.connections)
        for conn, bag_ns, data in self.progress(self.reader.messages(), total, 'infer'):
            out.write(copies[id(conn)], bag_ns, data)
            if conn.topic == self.options.image_topic:
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
        result = self.pipeline.process(rgb, camera, msg.header, self.settings, self.request)
        for name, message in ((topics.DEPTH, result.depth_image),
                              (topics.DEPTH_INFO, result.camera_info),
                              (topics.POINTS, result.points)):
            out.write(out_conns[self.outputs[name]], bag_ns, message)
            self.counts[self.outputs[name]] += 1
        pending = self.pending.get(k)
        if pending is not None:
            plan = self.pipeline.predictor(self.settings).plan_for(rgb.shape[1], rgb.shape[0])
            pending.prediction = depth_image_prediction(result.unbounded_depth_m,
                                                        plan.camera_to_output)
            pending.depth_m, pending.grid = result.depth_m, result.intrinsics
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
                                               self.options.occupancy, self.options.cloud_filter)
        row.update(occupancy.row_values(scores))
        self.rows[k] = row

    def report(self) -> EvalReport:
        """Return the evaluation of every evaluated frame, averaged as ``evaluate`` does."""
        rows = [self.rows[k] for k in sorted(self.rows)]
        return EvalReport(label=self.label, protocol=self.protocol, per_image=rows,
                          metrics=average_metrics(rows))
