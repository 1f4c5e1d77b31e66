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
The LIDAR evaluation node's work, without ROS plumbing: the threads around ``core.online_eval``.

``DepthPairing`` pairs each depth image with the camera info of its stamp (exact
synchronisation, newest only); ``depth_metres`` reads a depth image. The executor thread hands
over clouds (``add_cloud``: kept as messages, the newest ``eval_scan_buffer`` only), transforms
(``add_tf``: a few numbers, put into a ``core.transforms.TransformTree`` at once) and each paired
depth image (``submit``: the newest waits, an older one still waiting is replaced and counted).
The evaluation's own thread reads the clouds (``msgs.readers``; a bad one is counted as bad input
of kind ``pointcloud``), matches each depth image with the scan nearest in time, projects it into
the depth image's grid and scores the frame, so that the executor never waits for it. Nothing
here imports rclpy: messages are read by their fields.

The transform tree keeps the latest transform of each frame (``/tf`` ones too, without
interpolation in time): meant for a LIDAR and a camera on one rigid body.

Occupancy (``occupancy``): each scored frame's predicted cloud (the depth image through the
config's ``cloud_filter``) and the scan (through TF camera <- LIDAR) are binned into the cells of
``base_frame`` (``core.occupancy``), with the transform ``base_frame`` <- camera from TF; the
cell counts are summed over the run. A frame without that transform is scored without occupancy
and counted.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
import math
import threading
from typing import Any, Callable, Generic, TypeVar

from msdepth_ros.core.intrinsics import Intrinsics
from msdepth_ros.core.occupancy import (depth_occupancy, OccupancyScore, occupied_cells,
                                        score_cells)
from msdepth_ros.core.online_eval import (frame_metrics, FrameScore, MetricsSummary,
                                          RunningMetrics, Scan, scan_depth_image, ScanBuffer)
from msdepth_ros.core.transforms import apply, TransformError, TransformTree
from msdepth_ros.msgs.images import ConversionError, image_to_numpy, KIND_ENCODING
from msdepth_ros.msgs.readers import add_tf_message, MessageError, pointcloud2_xyz
from msdepth_ros.ros.conversions import stamp_seconds
from msdepth_ros.ros.diagnostics import (EVAL_DROPPED_BUSY, EVAL_FAILED, EVAL_NO_SCAN,
                                         EVAL_NO_TRANSFORM, EVAL_SCAN_TOO_FAR, EVAL_SCANS,
                                         EVAL_SCANS_DROPPED, FrameStats, KIND_POINTCLOUD, KIND_TF)
from msdepth_ros.ros.eval_config import EvalConfig
import numpy as np

#: Log kinds of the evaluation's warnings (throttled like bad input).
LOG_NO_TRANSFORM = 'no_transform'
LOG_FAILURE = 'evaluation_failure'
LOG_NO_BASE_TRANSFORM = 'no_base_transform'
#: Depth encodings the evaluation reads (REP 118): metres, and millimetres with 0 invalid.
DEPTH_ENCODINGS = ('32FC1', '16UC1')

A = TypeVar('A')
B = TypeVar('B')


def depth_metres(msg: Any) -> np.ndarray:
    """
    Depth of a ``sensor_msgs/Image`` in metres.

    Returns ``H x W`` float32 metres, NaN where invalid (``32FC1``: as sent, non-finite and
    non-positive values invalid; ``16UC1``: millimetres, 0 invalid). Raises
    ``msgs.images.ConversionError`` for another encoding or a malformed image.
    """
    if msg.encoding not in DEPTH_ENCODINGS:
        raise ConversionError(KIND_ENCODING, f'depth image encoding {msg.encoding!r} is not a '
                                             f'depth encoding; expected one of '
                                             f'{", ".join(DEPTH_ENCODINGS)} (REP 118)')
    raw = image_to_numpy(msg, copy=True)
    if msg.encoding == '16UC1':
        depth_m = raw.astype(np.float32) / np.float32(1000.0)
    else:
        depth_m = raw.astype(np.float32, copy=False)
    with np.errstate(invalid='ignore'):
        depth_m[~(np.isfinite(depth_m) & (depth_m > 0))] = np.nan
    return depth_m


class DepthPairing(Generic[A, B]):
    """
    Exact synchronisation of depth images with their camera info, by stamp, newest only.

    One image and one camera info wait at most. A pair of equal stamps comes out at once; an
    image that can no longer get its camera info (a newer image replaced it, a camera info of a
    later stamp came, or it is older than the camera info that waits) is lost and counted.
    Stamps are anything ordered (``frames.stamp_key``).
    """

    def __init__(self) -> None:
        self._image: tuple[Any, A] | None = None
        self._info: tuple[Any, B] | None = None

    def image(self, stamp: Any, image: A) -> tuple[tuple[A, B] | None, int]:
        """Take an image; return ``(pair or None, images lost)``."""
        lost = int(self._image is not None)
        self._image = None
        if self._info is not None and self._info[0] == stamp:
            info, self._info = self._info[1], None
            return (image, info), lost
        if self._info is not None and stamp < self._info[0]:
            return None, lost + 1
        self._image = (stamp, image)
        return None, lost

    def info(self, stamp: Any, info: B) -> tuple[tuple[A, B] | None, int]:
        """Take a camera info; return ``(pair or None, images lost)``."""
        if self._image is not None and self._image[0] == stamp:
            image, self._image = self._image[1], None
            return (image, info), 0
        lost = 0
        if self._image is not None and self._image[0] < stamp:
            self._image, lost = None, 1
        if self._info is None or not stamp < self._info[0]:
            self._info = (stamp, info)
        return None, lost


@dataclass(frozen=True)
class OccupancySummary:
    """
    Where the occupancy scores stand.

    ``run``: the cell counts summed over the frames scored with occupancy (``frames``);
    ``last``: the last such frame's (None before the first); ``frames_no_base``: scored frames
    without the transform base frame <- camera; ``ceiling``: the counts of the scan itself
    sampled at the depth image's pixels, summed like ``run`` (what a perfect depth image of
    that size would score: DESIGN.md section 5).
    """

    run: OccupancyScore
    last: OccupancyScore | None
    frames: int
    frames_no_base: int
    ceiling: OccupancyScore = OccupancyScore()


@dataclass(frozen=True)
class EvalJob:
    """
    One depth image to score.

    ``depth_m``: ``H x W`` float32 metres, NaN invalid; ``grid``: its intrinsics (those of its
    camera info); ``camera``: the intrinsics of the camera image it came from (the crop's
    pixels; None without a crop); ``stamp_s`` and ``frame_id``: the image's header.
    """

    depth_m: np.ndarray
    grid: Intrinsics
    camera: Intrinsics | None
    stamp_s: float
    frame_id: str


class LidarEvaluator:
    """
    Score depth images against the LIDAR scan nearest in time, on a thread of its own.

    Parameters
    ----------
    config:
        The node's config at start-up (``ros.eval_config.EvalConfig``; read-only settings).
    current_config:
        Returns the node's config now (for ``eval_warn_no_transform``, a run-time parameter).
    stats:
        The node's counters: ``EVAL_*`` counts and bad input go there.
    reject:
        ``reject(kind, message)`` counts and logs a bad message (the node's own).
    log:
        ``log(kind, message)`` logs a warning, throttled per kind.
    on_score:
        Called on the evaluation's thread with each frame compared against a scan (with pixels
        to compare or without), its score, ``image stamp - scan stamp`` in seconds and its
        occupancy score (``core.occupancy.OccupancyScore``; None when occupancy is off or the
        transform base frame <- camera is missing).

    """

    def __init__(self, config: EvalConfig, current_config: Callable[[], EvalConfig],
                 stats: FrameStats,
                 reject: Callable[[str, str], None], log: Callable[[str, str], Any],
                 on_score: Callable[[EvalJob, FrameScore, float, OccupancyScore | None], None]
                 | None = None) -> None:
        self._current_config = current_config
        self._stats = stats
        self._reject = reject
        self._log = log
        self._on_score = on_score
        self._tolerance_s = config.eval_tolerance_s
        self._depth_range_m = (config.eval_min_depth_m, config.eval_max_depth_m)
        self._crop = config.crop
        self._fixed_T_cam_lidar = config.fixed_T_cam_lidar()
        self._occupancy_spec = config.occupancy_spec()
        self._cloud_filter = config.cloud_filter()
        self._base_frame = config.base_frame.strip('/')
        self._occupancy = OccupancySummary(OccupancyScore(), None, 0, 0)
        self._tree = TransformTree()
        self._tree_lock = threading.Lock()
        self._scans = ScanBuffer(config.eval_scan_buffer)
        self._running = RunningMetrics(config.eval_window)
        self._summary = self._running.summary()
        self._last_offset_ms = math.nan
        self._summary_lock = threading.Lock()
        self._cond = threading.Condition()
        self._clouds: deque[Any] = deque(maxlen=config.eval_scan_buffer)
        self._job: EvalJob | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._run, name='depth_evaluation', daemon=True)
        self._thread.start()

    # -- input (executor thread) ---------------------------------------------------------

    def add_cloud(self, msg: Any) -> None:
        """Take a ``sensor_msgs/PointCloud2`` of the LIDAR (read later, on this thread)."""
        self._stats.add(EVAL_SCANS)
        with self._cond:
            if len(self._clouds) == self._clouds.maxlen:
                self._stats.add(EVAL_SCANS_DROPPED)
            self._clouds.append(msg)
            self._cond.notify()

    def add_tf(self, msg: Any) -> None:
        """Add the transforms of a ``tf2_msgs/TFMessage`` (from ``/tf_static`` or ``/tf``)."""
        try:
            with self._tree_lock:
                add_tf_message(self._tree, msg)
        except Exception as exc:  # noqa: B902 - a message must never stop the node
            self._reject(KIND_TF, f'ignored a transform message: {type(exc).__name__}: {exc}')

    def submit(self, job: EvalJob) -> None:
        """Queue a depth image for scoring (replacing one that still waits)."""
        with self._cond:
            if self._job is not None:
                self._stats.add(EVAL_DROPPED_BUSY)
            self._job = job
            self._cond.notify()

    def summary(self) -> tuple[MetricsSummary, float]:
        """Return the metrics so far and the last scored frame's image-minus-scan time (ms)."""
        with self._summary_lock:
            return self._summary, self._last_offset_ms

    def occupancy(self) -> OccupancySummary:
        """Return the occupancy scores so far."""
        with self._summary_lock:
            return self._occupancy

    def close(self) -> None:
        """Stop the thread (after the frame in flight)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=10.0)

    # -- work (evaluation thread) --------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._clouds and self._job is None and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                clouds = list(self._clouds)
                self._clouds.clear()
                job, self._job = self._job, None
            # Scans first: one that arrived before the depth image is a candidate for it.
            for msg in clouds:
                self._take_scan(msg)
            if job is None:
                continue
            try:
                self._score(job)
            except Exception as exc:  # noqa: B902 - a frame must never stop the evaluation
                self._stats.add(EVAL_FAILED)
                self._log(LOG_FAILURE, f'evaluating the depth image stamped {job.stamp_s:.6f} '
                                       f'failed: {type(exc).__name__}: {exc}')

    def _take_scan(self, msg: Any) -> None:
        stamp_s = math.nan
        try:
            stamp_s = stamp_seconds(msg.header)
            scan = Scan(stamp_s, msg.header.frame_id.lstrip('/'), pointcloud2_xyz(msg))
        except MessageError as exc:
            self._reject(KIND_POINTCLOUD, f'ignored the point cloud stamped {stamp_s:.6f}: {exc}')
            return
        except Exception as exc:  # noqa: B902 - a message must never stop the evaluation
            self._reject(KIND_POINTCLOUD, f'ignored a point cloud: unexpected '
                                          f'{type(exc).__name__}: {exc}')
            return
        self._scans.add(scan)

    def _score(self, job: EvalJob) -> None:
        match = self._scans.nearest(job.stamp_s)
        if match is None:
            self._stats.add(EVAL_NO_SCAN)
            return
        scan, offset_s = match
        if abs(offset_s) > self._tolerance_s:
            self._stats.add(EVAL_SCAN_TOO_FAR)
            return
        T_cam_lidar = self._transform(job.frame_id.lstrip('/'), scan.frame_id)
        if T_cam_lidar is None:
            self._stats.add(EVAL_NO_TRANSFORM)
            return
        gt_m = scan_depth_image(scan.points_m, T_cam_lidar, job.grid, job.camera, self._crop)
        score = frame_metrics(job.depth_m, gt_m, *self._depth_range_m)
        occupancy = ceiling = None
        if self._occupancy_spec is not None:
            occupancy, ceiling = self._score_occupancy(job, scan.points_m, T_cam_lidar)
        self._running.add(score)
        summary = self._running.summary()
        with self._summary_lock:
            self._summary = summary
            if score.scored:
                self._last_offset_ms = 1e3 * offset_s
            before = self._occupancy
            if occupancy is None:
                self._occupancy = OccupancySummary(
                    before.run, before.last, before.frames,
                    before.frames_no_base + int(self._occupancy_spec is not None),
                    before.ceiling)
            else:
                self._occupancy = OccupancySummary(before.run + occupancy, occupancy,
                                                   before.frames + 1, before.frames_no_base,
                                                   before.ceiling + ceiling)
        if self._on_score is not None:
            self._on_score(job, score, offset_s, occupancy)

    def _score_occupancy(self, job: EvalJob, points_lidar: np.ndarray, T_cam_lidar: np.ndarray
                         ) -> tuple[OccupancyScore | None, OccupancyScore | None]:
        """
        Score the cells both clouds mark in the base frame, and the resolution ceiling.

        ``(None, None)`` without the transform base frame <- camera.
        """
        camera_frame = job.frame_id.lstrip('/')
        try:
            with self._tree_lock:
                T_base_cam = self._tree.lookup(self._base_frame, camera_frame)
        except TransformError as exc:
            if self._current_config().eval_warn_no_transform:
                self._log(LOG_NO_BASE_TRANSFORM, f'occupancy: no transform from the camera frame '
                                                 f'{camera_frame!r} to the base frame '
                                                 f'{self._base_frame!r} on /tf_static or /tf '
                                                 f'({exc}); frames are scored without occupancy '
                                                 'until one arrives')
            return None, None
        spec = self._occupancy_spec
        predicted = depth_occupancy(job.depth_m, job.grid, T_base_cam, spec, self._cloud_filter)
        truth = occupied_cells(apply(T_base_cam @ T_cam_lidar, points_lidar), T_base_cam,
                               job.grid, spec)
        sampled = depth_occupancy(scan_depth_image(points_lidar, T_cam_lidar, job.grid),
                                  job.grid, T_base_cam, spec)
        return score_cells(predicted, truth), score_cells(sampled, truth)

    def _transform(self, camera_frame: str, lidar_frame: str) -> np.ndarray | None:
        """``T_cam_lidar``, or None (warned, throttled) while TF has no such transform."""
        if self._fixed_T_cam_lidar is not None:
            return self._fixed_T_cam_lidar
        try:
            with self._tree_lock:
                return self._tree.lookup(camera_frame, lidar_frame)
        except TransformError as exc:
            if self._current_config().eval_warn_no_transform:
                self._log(LOG_NO_TRANSFORM, f'evaluation: no transform from the LIDAR frame '
                                            f'{lidar_frame!r} to the camera frame '
                                            f'{camera_frame!r} on /tf_static or /tf ({exc}); '
                                            'frames are not scored until one arrives (or set '
                                            'eval_transform_source to parameters)')
            return None
