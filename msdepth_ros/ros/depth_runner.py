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
The depth node's running part: subscriptions, publishers, the worker thread, its status.

``DepthRunner`` is what the plain node (``ros.depth_node``) starts at once and the managed node
(``ros.managed_node``) starts on activate and closes on deactivate. Threads: the executor thread
takes messages, validates them and puts the newest good frame into a one-frame slot (a frame
still waiting there is replaced and counted as dropped); one worker thread takes frames from the
slot, runs the network and publishes. Nothing a message contains can stop either thread: every
message is handled inside its own try, and bad ones are counted by kind and logged, throttled.
(Scoring the depth against a LIDAR is another node's work: ``ros.lidar_eval_node``.)
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Sequence

from diagnostic_msgs.msg import DiagnosticStatus
from msdepth_ros.inference.backend import Backend
from msdepth_ros.msgs import topics
from msdepth_ros.msgs.cdr import read_compressed_image, read_image
from msdepth_ros.msgs.cdr_messages import CDR_TYPES, serialize
from msdepth_ros.msgs.images import camera_info_to_intrinsics, ConversionError, image_to_rgb
from msdepth_ros.pipeline.depth import DepthPipeline, OutputRequest, PredictionSettings
from msdepth_ros.ros.config import NodeConfig
from msdepth_ros.ros.conversions import compressed_to_rgb, stamp_seconds
from msdepth_ros.ros.diagnostics import (build_status, COLORIZED, DROPPED_BUSY, FrameStats,
                                         KIND_NO_CAMERA_INFO, LOST_TRANSPORT, PUBLISHED,
                                         RECEIVED, SequenceGaps, SKIPPED_IDLE, ThrottledLog)
from msdepth_ros.ros.frames import CameraPairing, Frame, LatestSlot, Rejected
from msdepth_ros.ros.qos import MatchedSubscription, output_qos
import numpy as np
from rclpy.node import Node
from rclpy.subscription import Subscription
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, LaserScan, PointCloud2

#: rclpy hands a ``MessageInfo`` (receive time, sequence numbers) to callbacks that take two
#: arguments from Iron on (``Subscription.CallbackType``); Humble's rclpy calls every callback
#: with the message alone.
RCLPY_PASSES_MESSAGE_INFO = hasattr(Subscription, 'CallbackType')

#: How often ``auto`` reliability looks at the publishers of the input topics.
GRAPH_CHECK_PERIOD_S = 0.5
#: How long closing waits for the frame in flight (a backend call cannot be interrupted).
WORKER_JOIN_TIMEOUT_S = 30.0


def with_message_info(callback: Callable[[Any, dict[str, Any]], None],
                      supported: bool | None = None) -> Callable[..., None]:
    """
    Return a subscription callback that calls ``callback(msg, info)`` on every rclpy.

    Where rclpy passes the message info (``supported``, default: this rclpy's
    ``RCLPY_PASSES_MESSAGE_INFO``), ``callback`` itself is returned; elsewhere a one-argument
    callback that passes an empty ``info``, so the node takes its own receive time and counts
    no transport gaps (they need the publisher's sequence numbers).
    """
    if RCLPY_PASSES_MESSAGE_INFO if supported is None else supported:
        return callback

    def message_only(msg: Any) -> None:
        callback(msg, {})
    return message_only


def image_topics(node: Node) -> tuple[str, str]:
    """
    Return the resolved image topic and its compressed sibling, as image_transport names them.

    Remapping ``image`` (``-r image:=/cam/image_raw``) moves both: the compressed topic is the
    resolved image topic plus ``/compressed``.
    """
    image = node.resolve_topic_name(topics.IMAGE)
    return image, image.rstrip('/') + '/compressed'


class DepthRunner:
    """
    Subscriptions, publishers, worker and status of a depth node (DESIGN.md section 5).

    Parameters
    ----------
    node:
        The node (plain or managed) that owns the endpoints.
    config:
        Validated parameters; ``config`` may be replaced while running (run-time changes).
    backend:
        The loaded network; the caller owns it and closes it after ``close`` returned True.
    warnings:
        Lasting warnings for the status (demo model, a GPU backend ``auto`` passed over).

    """

    def __init__(self, node: Node, config: NodeConfig, backend: Backend,
                 warnings: Sequence[str] = ()) -> None:
        self.node = node
        self.config = config
        self._backend = backend
        self._warnings = tuple(warnings)
        # The outputs are built as CDR records and published as their serialized bytes
        # (msgs.cdr_messages): no rclpy message objects on the frame's path.
        self._pipeline = DepthPipeline(backend, CDR_TYPES)
        self.stats = FrameStats()
        self._gaps = SequenceGaps()
        self._log_bad = ThrottledLog(node.get_logger().warning, config.log_throttle_s)
        self._slot: LatestSlot[Frame] = LatestSlot()
        self._stopping = False
        self._fallback_noted = False
        log_info = node.get_logger().info

        image_topic, compressed_topic = image_topics(node)
        if config.input_compressed:
            self._image_sub = MatchedSubscription(
                node, CompressedImage, compressed_topic, with_message_info(self._on_compressed),
                config.input_qos_depth, config.input_reliability, log_info, raw=True)
        else:
            self._image_sub = MatchedSubscription(
                node, Image, image_topic, with_message_info(self._on_image),
                config.input_qos_depth, config.input_reliability, log_info, raw=True)
        self._info_sub: MatchedSubscription | None = None
        if config.use_camera_info:
            self._info_sub = MatchedSubscription(
                node, CameraInfo, topics.CAMERA_INFO, self._on_camera_info,
                config.input_qos_depth, config.input_reliability, log_info)
        self._pairing = CameraPairing(self._info_sub.topic_name if self._info_sub else 'none')
        qos = output_qos(config.output_reliable, config.output_qos_depth)
        self._pub_depth = node.create_publisher(Image, topics.DEPTH, qos)
        self._pub_info = node.create_publisher(CameraInfo, topics.DEPTH_INFO, qos)
        self._pub_points = node.create_publisher(PointCloud2, topics.POINTS, qos)
        self._pub_scan = node.create_publisher(LaserScan, topics.SCAN, qos)
        self._pub_colorized = node.create_publisher(Image, topics.COLORIZED, qos)
        self._endpoints: list[Any] = [self._pub_depth, self._pub_info, self._pub_points,
                                      self._pub_scan, self._pub_colorized]
        self._graph_timer = node.create_timer(GRAPH_CHECK_PERIOD_S, self._match_publishers)
        self._match_publishers()
        self._worker = threading.Thread(target=self._work, name='depth_worker', daemon=True)
        self._worker.start()

    @property
    def input_topic(self) -> str:
        """``/ns/image`` (or its compressed sibling): the resolved input topic."""
        return self._image_sub.topic_name

    @property
    def intrinsics_source(self) -> str:
        """``camera_info`` topic or ``parameters``: where the intrinsics come from."""
        return self._info_sub.topic_name if self._info_sub else 'parameters'

    def _match_publishers(self) -> None:
        try:
            for sub in (self._image_sub, self._info_sub):
                if sub is not None:
                    sub.update()
        except Exception as exc:  # noqa: B902 - a graph query must never stop the node
            self._log_bad('qos', f'could not match the input publishers: {exc}')

    def set_log_throttle(self, period_s: float) -> None:
        """Change how often each kind of bad input is logged (run-time parameter)."""
        self._log_bad.period_s = period_s

    # -- input (executor thread) ------------------------------------------------------------

    def _on_image(self, data: bytes, info: dict[str, Any]) -> None:
        self._take_frame(data, info, read_image, image_to_rgb)

    def _on_compressed(self, data: bytes, info: dict[str, Any]) -> None:
        self._take_frame(data, info, read_compressed_image, compressed_to_rgb)

    def _take_frame(self, data: bytes, info: dict[str, Any], read: Callable[[bytes], Any],
                    to_rgb: Callable[[Any], np.ndarray]) -> None:
        # The subscription is raw: ``data`` is the serialized message, read in place (msgs.cdr).
        received_ns = info.get('received_timestamp') or time.time_ns()
        stamp = 'an image'
        try:
            lost = self._gaps.update(info.get('publication_sequence_number'),
                                     self._image_sub.publisher_count() == 1)
            if lost:
                self.stats.add(LOST_TRANSPORT, lost)
            self.stats.add(RECEIVED)
            msg = read(data)
            stamp = f'image stamped {stamp_seconds(msg.header):.6f}'
            image_rgb = to_rgb(msg)
            frame, lost_waiting = self._pairing.image(image_rgb, msg.header, received_ns,
                                                      self._fallback())
        except (ConversionError, Rejected) as exc:
            self._reject(exc.kind, f'skipped {stamp}: {exc}')
            return
        except Exception as exc:  # noqa: B902 - a message must never stop the node
            self._reject('internal', f'skipped {stamp}: unexpected {type(exc).__name__}: {exc}')
            return
        if frame is None:
            # Counted as skipped only if its camera info never comes.
            if lost_waiting:
                self.stats.add_bad(KIND_NO_CAMERA_INFO)
            self._log_bad(KIND_NO_CAMERA_INFO, f'image stamped {stamp_seconds(msg.header):.6f} '
                                               f'waits: {self._pairing.waiting_message()}')
            return
        self._queue(frame)

    def _fallback(self) -> Any:
        fallback = self.config.fallback_intrinsics()
        if (fallback is not None and self._pairing.camera is None
                and self.config.use_camera_info and not self._fallback_noted):
            self._fallback_noted = True
            self.node.get_logger().info('no camera info yet: using the intrinsics of the '
                                        'camera_* parameters until it arrives')
        return fallback

    def _on_camera_info(self, msg: CameraInfo) -> None:
        try:
            camera = camera_info_to_intrinsics(msg)
        except ConversionError as exc:
            self._reject(exc.kind, f'ignored camera info stamped {stamp_seconds(msg.header):.6f} '
                                   f'(keeping the last valid one): {exc}')
            return
        except Exception as exc:  # noqa: B902 - a message must never stop the node
            self._reject('internal', f'ignored camera info: unexpected {type(exc).__name__}: '
                                     f'{exc}')
            return
        try:
            frame, lost = self._pairing.camera_info(camera, msg.header)
        except Rejected as exc:
            self._reject(exc.kind, f'skipped the image that waited for camera info stamped '
                                   f'{stamp_seconds(msg.header):.6f}: {exc}')
            return
        if lost:
            self.stats.add_bad(KIND_NO_CAMERA_INFO)  # its camera info never came
        if frame is not None:
            self._queue(frame)

    def _queue(self, frame: Frame) -> None:
        if self._slot.put(frame):
            self.stats.add(DROPPED_BUSY)

    def _reject(self, kind: str, message: str) -> None:
        self.stats.add_bad(kind)
        self._log_bad(kind, message)

    # -- work (worker thread) ---------------------------------------------------------------

    def _work(self) -> None:
        while True:
            frame = self._slot.take()
            if frame is None:
                return
            try:
                self._process(frame)
            except Exception as exc:  # noqa: B902 - a frame must never stop the worker
                if self._stopping or not self.node.context.ok():
                    return  # shutting down: publishing into a closed context fails
                self.stats.add_failure(f'{type(exc).__name__}: {exc}')
                self._log_bad('failure', f'processing the image stamped '
                                         f'{stamp_seconds(frame.header):.6f} failed: '
                                         f'{type(exc).__name__}: {exc}')

    def _process(self, frame: Frame) -> None:
        config = self.config
        request = self._request(config)
        if not request.anything:
            self.stats.add(SKIPPED_IDLE)
            return
        min_m, max_m = config.depth_range_m(self._backend.preset)
        settings = PredictionSettings(upsample=config.upsample,
                                      metric_scaling=config.metric_scaling,
                                      min_depth_m=min_m, max_depth_m=max_m)
        out = self._pipeline.process(frame.image_rgb, frame.intrinsics, frame.header, settings,
                                     request)
        if self._stopping:
            return
        for publisher, message in ((self._pub_depth, out.depth_image),
                                   (self._pub_info, out.camera_info),
                                   (self._pub_points, out.points),
                                   (self._pub_scan, out.scan),
                                   (self._pub_colorized, out.colorized)):
            if message is not None:
                publisher.publish(serialize(message))
        self.stats.add_published((time.time_ns() - frame.received_ns) * 1e-9,
                                 out.timings_s['inference'])
        if out.colorized is not None:
            self.stats.add(COLORIZED)

    def _request(self, config: NodeConfig) -> OutputRequest:
        def wanted(publisher: Any) -> bool:
            return not config.skip_unsubscribed or publisher.get_subscription_count() > 0

        return OutputRequest(
            depth=wanted(self._pub_depth), camera_info=wanted(self._pub_info),
            points=config.publish_points and wanted(self._pub_points),
            cloud_filter=config.cloud_filter(),
            scan=config.publish_scan and wanted(self._pub_scan),
            scan_height=config.scan_height, scan_frame_id=config.scan_frame_id,
            points_rgb=config.points_rgb,
            # The preview is for people looking at it: never built without a subscriber.
            colorized=(config.publish_colorized
                       and self._pub_colorized.get_subscription_count() > 0),
            colormap=config.colormap)

    # -- status -----------------------------------------------------------------------------

    def status(self, name: str, extra_static: Sequence[tuple[str, str]] = ()) -> DiagnosticStatus:
        """Return the ``/diagnostics`` status of the last period (counts, latency, warnings)."""
        report = self.stats.report()
        config = self.config
        info = self._backend.info
        camera = self._pairing.camera or config.fallback_intrinsics()
        camera_source = ('camera info' if self._pairing.camera is not None else
                         'camera_* parameters' if camera else 'none yet')
        subscribed = self._image_sub.subscription is not None
        static = [('backend', info.name), ('device', info.device),
                  ('precision', info.precision), ('model', info.model_path),
                  *([('GPU buffers', str(info.details['memory']))]
                    if 'memory' in info.details else []),
                  ('backend chosen', info.reason),
                  ('preset', self._backend.preset.name),
                  ('input topic', self._image_sub.topic_name),
                  ('input reliability', f'{self._image_sub.mode}: '
                                        f'{self._image_sub.policy_name}'),
                  ('intrinsics from', camera_source),
                  ('camera size (px)', '{}x{}'.format(*camera.size) if camera else 'none yet'),
                  *extra_static]
        idle = bool(report.window.get(SKIPPED_IDLE)) and not report.window.get(PUBLISHED)
        warnings = list(self._warnings)
        if not subscribed:
            warnings.append(f'no publisher on {self._image_sub.topic_name} yet')
        return build_status(
            report, name=name, hardware_id=f'{info.name} {info.device}', static_values=static,
            drop_warn_ratio=config.drop_warn_ratio,
            waiting_for_camera_info=(self._pairing.waiting is not None
                                     or bool(report.window_bad.get(KIND_NO_CAMERA_INFO))),
            idle=idle, warnings=warnings)

    # -- shut-down --------------------------------------------------------------------------

    def close(self, timeout_s: float | None = None) -> bool:
        """
        Stop taking frames, let the frame in flight finish, destroy the endpoints.

        Idempotent. Returns True when the worker has ended, so the backend may be freed; False
        when it is still inside a backend call after ``timeout_s`` (default
        ``WORKER_JOIN_TIMEOUT_S``; the caller must then leave the backend to the process exit).
        """
        self._stopping = True
        self._slot.close()
        if self._graph_timer is not None:
            self.node.destroy_timer(self._graph_timer)
            self._graph_timer = None
        for sub in (self._image_sub, self._info_sub):
            if sub is not None:
                sub.close()
        if self._worker.is_alive() and self._worker is not threading.current_thread():
            self._worker.join(timeout=WORKER_JOIN_TIMEOUT_S if timeout_s is None
                              else timeout_s)
        finished = not self._worker.is_alive()
        for endpoint in self._endpoints:
            destroy = (self.node.destroy_publisher if hasattr(endpoint, 'publish')
                       else self.node.destroy_subscription)
            destroy(endpoint)
        self._endpoints = []
        return finished
