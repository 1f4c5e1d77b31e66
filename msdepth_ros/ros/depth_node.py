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
The depth node: camera image (+ camera info) in; depth image, its camera info, points out.

Plumbing only. Messages are converted by ``ros.conversions``, frames run through
``ros.pipeline.DepthPipeline`` (the predictor and the core's geometry), and counters and the
``/diagnostics`` status come from ``ros.diagnostics``. Threads: the executor thread takes
messages, validates them and puts the newest good frame into a one-frame slot (a frame still
waiting there is replaced and counted as dropped); one worker thread takes frames from the slot,
runs the network and publishes. Nothing a message contains can stop either thread: every
message is handled inside its own try, and bad ones are counted by kind and logged, throttled.

With ``evaluate_lidar`` the node also subscribes ``lidar_points`` (and ``/tf_static`` and
``/tf`` unless the transform comes from parameters) and hands each published depth image to
``ros.evaluation.LidarEvaluator``, whose own thread scores it against the nearest scan; the
metrics join the ``/diagnostics`` status. tf2_msgs is imported only then.

Run: ``ros2 run msdepth_ros depth_node --ros-args -p model:=model.pt -r image:=/camera/image``.
"""

from __future__ import annotations

from dataclasses import dataclass
import sys
import threading
import time
from typing import Any, Callable

from diagnostic_msgs.msg import DiagnosticArray
from msdepth_ros.core.intrinsics import Intrinsics
from msdepth_ros.inference.backend import Backend, BackendError, load_backend
from msdepth_ros.ros import config as cfgmod
from msdepth_ros.ros.config import ConfigError, NodeConfig, PARAMETERS
from msdepth_ros.ros.conversions import (camera_info_to_intrinsics, compressed_to_rgb,
                                         ConversionError, image_to_rgb, stamp_seconds)
from msdepth_ros.ros.diagnostics import (build_status, COLORIZED, DROPPED_BUSY,
                                         EVALUATION_ONLY, evaluation_values, FrameStats,
                                         KIND_CAMERA_INFO_SIZE, KIND_NO_CAMERA_INFO,
                                         LOST_TRANSPORT, PUBLISHED, RECEIVED, SequenceGaps,
                                         SKIPPED_IDLE, StatsReport, ThrottledLog)
from msdepth_ros.ros.evaluation import EvalJob, LidarEvaluator
from msdepth_ros.ros.pipeline import DepthPipeline, OutputRequest, PredictionSettings
import numpy as np
from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                ParameterType, SetParametersResult)
import rclpy
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException
from rclpy.logging import get_logger
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.subscription import Subscription
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2
from std_msgs.msg import Header

NODE_NAME = 'depth_node'

#: rclpy hands a ``MessageInfo`` (receive time, sequence numbers) to callbacks that take two
#: arguments from Iron on (``Subscription.CallbackType``); Humble's rclpy calls every callback
#: with the message alone.
RCLPY_PASSES_MESSAGE_INFO = hasattr(Subscription, 'CallbackType')


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


#: Exit codes of ``main``: a parameter the node cannot run with; a model it cannot load.
EXIT_BAD_PARAMETER = 2
EXIT_BAD_MODEL = 3

_ROS_TYPES = {'bool': ParameterType.PARAMETER_BOOL, 'integer': ParameterType.PARAMETER_INTEGER,
              'double': ParameterType.PARAMETER_DOUBLE, 'string': ParameterType.PARAMETER_STRING}


class StartupError(RuntimeError):
    """
    The node cannot start; the message says why, ``exit_code`` is the process's exit status.

    Parameters
    ----------
    message:
        One line naming the parameter or file and the cause.
    exit_code:
        ``EXIT_BAD_PARAMETER`` or ``EXIT_BAD_MODEL``.

    """

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class _Rejected(Exception):
    """A frame that is skipped; ``kind`` counts it, the message is logged."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class _Frame:
    """A validated frame waiting for the worker."""

    image_rgb: np.ndarray
    intrinsics: Intrinsics
    header: Header
    received_ns: int


@dataclass(frozen=True)
class _Waiting:
    """An image that arrived before any camera info, waiting for the one of its stamp."""

    image_rgb: np.ndarray
    header: Header
    received_ns: int


def _stamp_key(header: Header) -> tuple[int, int]:
    return int(header.stamp.sec), int(header.stamp.nanosec)


class _LatestFrame:
    """One-frame slot between the executor thread and the worker: newest frame wins."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: _Frame | None = None
        self._closed = False

    def put(self, frame: _Frame) -> bool:
        """Store ``frame``; return True when it replaced a frame that was still waiting."""
        with self._cond:
            replaced = self._frame is not None
            self._frame = frame
            self._cond.notify()
            return replaced

    def take(self) -> _Frame | None:
        """Wait for a frame and take it; None once the slot is closed."""
        with self._cond:
            while self._frame is None and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            frame, self._frame = self._frame, None
            return frame

    def close(self) -> None:
        """Wake the worker and make ``take`` return None."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class DepthNode(Node):
    """
    Metric depth from a monocular camera (DESIGN.md section 5).

    Parameters
    ----------
    kwargs:
        Passed to ``rclpy.node.Node`` (``context``, ``parameter_overrides`` ...).

    Raises
    ------
    StartupError
        A parameter value or the model cannot be used; the node is destroyed.

    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        try:
            self._startup()
        except BaseException:
            self.destroy_node()
            raise

    # -- start-up ---------------------------------------------------------------------------

    def _startup(self) -> None:
        self._values = self._declare_parameters()
        try:
            config = NodeConfig.from_parameters(self._values)
        except ConfigError as exc:
            raise StartupError(str(exc), EXIT_BAD_PARAMETER) from None
        try:
            self._backend: Backend = load_backend(config.model, config.backend,
                                                  **config.backend_options())
        except BackendError as exc:
            raise StartupError(f'cannot load the model: {exc}', EXIT_BAD_MODEL) from None
        try:
            config.check_model_preset(self._backend.preset)
        except ConfigError as exc:
            self._backend.close()
            raise StartupError(str(exc), EXIT_BAD_PARAMETER) from None
        self._config = config
        self._pipeline = DepthPipeline(self._backend)
        self._stats = FrameStats()
        self._gaps = SequenceGaps()
        self._log_bad = ThrottledLog(self.get_logger().warning, config.log_throttle_s)
        self._camera: Intrinsics | None = None
        self._fallback_noted = False
        self._awaiting_info: _Waiting | None = None
        self._slot = _LatestFrame()
        self._stopping = False
        self._evaluator: LidarEvaluator | None = None

        input_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=config.input_qos_depth,
                               reliability=ReliabilityPolicy.BEST_EFFORT,
                               durability=DurabilityPolicy.VOLATILE)
        output_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=config.output_qos_depth,
                                reliability=(ReliabilityPolicy.RELIABLE if config.output_reliable
                                             else ReliabilityPolicy.BEST_EFFORT),
                                durability=DurabilityPolicy.VOLATILE)
        if config.input_compressed:
            self._image_sub = self.create_subscription(
                CompressedImage, cfgmod.TOPIC_IMAGE_COMPRESSED,
                with_message_info(self._on_compressed), input_qos)
        else:
            self._image_sub = self.create_subscription(
                Image, cfgmod.TOPIC_IMAGE, with_message_info(self._on_image), input_qos)
        self._info_sub = None
        if config.use_camera_info:
            self._info_sub = self.create_subscription(CameraInfo, cfgmod.TOPIC_CAMERA_INFO,
                                                      self._on_camera_info, input_qos)
        self._pub_depth = self.create_publisher(Image, cfgmod.TOPIC_DEPTH, output_qos)
        self._pub_info = self.create_publisher(CameraInfo, cfgmod.TOPIC_DEPTH_INFO, output_qos)
        self._pub_points = self.create_publisher(PointCloud2, cfgmod.TOPIC_POINTS, output_qos)
        self._pub_colorized = self.create_publisher(Image, cfgmod.TOPIC_COLORIZED, output_qos)
        self._pub_diagnostics = self.create_publisher(DiagnosticArray, cfgmod.TOPIC_DIAGNOSTICS,
                                                      10)
        if config.evaluate_lidar:
            self._start_evaluation(config)
        self._diagnostics_timer = self.create_timer(config.diagnostics_period_s,
                                                    self._publish_diagnostics)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._worker = threading.Thread(target=self._work, name='depth_worker', daemon=True)
        self._worker.start()

        info = self._backend.info
        self.get_logger().info(
            f'ready: {info.name} backend on {info.device} ({info.precision}), model '
            f'{info.model_path}, preset {self._backend.preset.name}; input '
            f'{self._image_sub.topic_name}, intrinsics from '
            f'{self._info_sub.topic_name if self._info_sub else "parameters"}'
            + (f'; evaluating against {self._lidar_sub.topic_name}' if self._evaluator else ''))

    def _start_evaluation(self, config: NodeConfig) -> None:
        """Subscribe the LIDAR (and TF) and start the evaluation's thread."""
        tf_type = None
        if config.eval_transform_source == 'tf':
            try:
                from tf2_msgs.msg import TFMessage
                tf_type = TFMessage
            except ImportError:
                raise StartupError(
                    "parameter 'evaluate_lidar': the transform camera <- LIDAR comes from "
                    '/tf_static and /tf (eval_transform_source tf), which needs the tf2_msgs '
                    'message package; install it or set eval_transform_source to parameters',
                    EXIT_BAD_PARAMETER) from None
        self._evaluator = LidarEvaluator(config, lambda: self._config, self._stats,
                                         self._reject, self._log_bad)
        # Best effort matches both kinds of LIDAR publisher; only the newest scans are kept.
        lidar_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=config.eval_scan_buffer,
                               reliability=ReliabilityPolicy.BEST_EFFORT,
                               durability=DurabilityPolicy.VOLATILE)
        self._lidar_sub = self.create_subscription(PointCloud2, cfgmod.TOPIC_LIDAR,
                                                   self._evaluator.add_cloud, lidar_qos)
        if tf_type is not None:
            # As tf2's listeners: reliable, and transient local for the latched static ones.
            for topic, durability in ((cfgmod.TOPIC_TF_STATIC, DurabilityPolicy.TRANSIENT_LOCAL),
                                      (cfgmod.TOPIC_TF, DurabilityPolicy.VOLATILE)):
                qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100,
                                 reliability=ReliabilityPolicy.RELIABLE, durability=durability)
                self.create_subscription(tf_type, topic, self._evaluator.add_tf, qos)

    def _declare_parameters(self) -> dict[str, Any]:
        values = {}
        for spec in PARAMETERS:
            descriptor = ParameterDescriptor(
                name=spec.name, type=_ROS_TYPES[spec.type_name], description=spec.description,
                additional_constraints=spec.constraints(), read_only=spec.read_only)
            if spec.min_value is not None and spec.type_name == 'integer':
                descriptor.integer_range = [IntegerRange(
                    from_value=int(spec.min_value), to_value=int(spec.max_value), step=1)]
            elif spec.min_value is not None:
                descriptor.floating_point_range = [FloatingPointRange(
                    from_value=float(spec.min_value), to_value=float(spec.max_value), step=0.0)]
            try:
                values[spec.name] = self.declare_parameter(spec.name, spec.default,
                                                           descriptor).value
            except ParameterException as exc:
                # rclpy's message ends with ': <name>'; say which parameter first instead.
                reason = str(exc).removesuffix(f': {spec.name}')
                raise StartupError(f'parameter {spec.name!r}: {reason}',
                                   EXIT_BAD_PARAMETER) from None
        # A misspelt name in a YAML file or on the command line is ignored by rclpy: say so.
        overrides = getattr(self, '_parameter_overrides', {}) or {}
        unknown = sorted(name for name in overrides if name not in values
                         and name != 'use_sim_time' and not name.startswith('qos_overrides.'))
        if unknown:
            self.get_logger().warning(f'ignoring unknown parameters: {", ".join(unknown)}')
        return values

    # -- run-time parameter changes ---------------------------------------------------------

    def _on_set_parameters(self, params: list[Parameter]) -> SetParametersResult:
        values = dict(self._values)
        values.update({p.name: p.value for p in params if p.name in values})
        try:
            config = NodeConfig.from_parameters(values, check_model_file=False)
            config.depth_range_m(self._backend.preset)
        except ConfigError as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        # Callbacks run on the executor thread only; the worker reads self._config once per
        # frame, so swapping the reference is enough.
        self._values, self._config = values, config
        self._log_bad.period_s = config.log_throttle_s
        changed = ', '.join(f'{p.name}={p.value!r}' for p in params if p.name in values)
        if changed:
            self.get_logger().info(f'parameters changed: {changed}')
        return SetParametersResult(successful=True)

    # -- input (executor thread) ------------------------------------------------------------

    def _on_image(self, msg: Image, info: dict[str, Any]) -> None:
        self._take_frame(msg, info, image_to_rgb)

    def _on_compressed(self, msg: CompressedImage, info: dict[str, Any]) -> None:
        self._take_frame(msg, info, compressed_to_rgb)

    def _take_frame(self, msg: Image | CompressedImage, info: dict[str, Any],
                    to_rgb: Callable[[Any], np.ndarray]) -> None:
        received_ns = info.get('received_timestamp') or time.time_ns()
        try:
            lost = self._gaps.update(info.get('publication_sequence_number'),
                                     self._image_sub.get_publisher_count() == 1)
            if lost:
                self._stats.add(LOST_TRANSPORT, lost)
            self._stats.add(RECEIVED)
            image_rgb = to_rgb(msg)
            height, width = image_rgb.shape[:2]
            intrinsics = self._intrinsics_for(width, height)
        except ConversionError as exc:
            self._reject(exc.kind, f'skipped image stamped {stamp_seconds(msg.header):.6f}: {exc}')
            return
        except _Rejected as exc:
            if exc.kind == KIND_NO_CAMERA_INFO:
                # Camera drivers publish an image and its camera info with the same stamp, in
                # either order: the newest such image waits for the camera info of its stamp.
                # It is logged now and counted as skipped only if it never gets one.
                waiting, self._awaiting_info = self._awaiting_info, _Waiting(
                    image_rgb, msg.header, received_ns)
                if waiting is not None:
                    self._stats.add_bad(exc.kind)
                self._log_bad(exc.kind, f'image stamped {stamp_seconds(msg.header):.6f} '
                                        f'waits: {exc}')
                return
            self._reject(exc.kind, f'skipped image stamped {stamp_seconds(msg.header):.6f}: {exc}')
            return
        except Exception as exc:  # noqa: B902 - a message must never stop the node
            self._reject('internal', f'skipped an image: unexpected {type(exc).__name__}: {exc}')
            return
        self._queue(_Frame(image_rgb, intrinsics, msg.header, received_ns))

    def _queue(self, frame: _Frame) -> None:
        if self._slot.put(frame):
            self._stats.add(DROPPED_BUSY)

    def _intrinsics_for(self, width: int, height: int) -> Intrinsics:
        camera = self._camera
        source = 'camera info'
        if camera is None:
            camera = self._config.fallback_intrinsics()
            source = 'the camera_* parameters'
            if camera is None:
                raise _Rejected(KIND_NO_CAMERA_INFO,
                                f'no camera info received on {self._info_sub.topic_name} yet; '
                                'waiting for it (or set the camera_* parameters)')
            if self._config.use_camera_info and not self._fallback_noted:
                self._fallback_noted = True
                self.get_logger().info('no camera info yet: using the intrinsics of the '
                                       'camera_* parameters until it arrives')
        if camera.size != (width, height):
            raise _Rejected(KIND_CAMERA_INFO_SIZE,
                            f'{source} is for {camera.width}x{camera.height} images (after ROI '
                            f'and binning), the image is {width}x{height}')
        return camera

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
        self._camera = camera
        waiting, self._awaiting_info = self._awaiting_info, None
        if waiting is None:
            return
        if _stamp_key(waiting.header) != _stamp_key(msg.header):
            self._stats.add_bad(KIND_NO_CAMERA_INFO)  # its camera info never came
            return
        height, width = waiting.image_rgb.shape[:2]
        try:
            intrinsics = self._intrinsics_for(width, height)
        except _Rejected as exc:
            self._reject(exc.kind, f'skipped image stamped '
                                   f'{stamp_seconds(waiting.header):.6f}: {exc}')
            return
        self._queue(_Frame(waiting.image_rgb, intrinsics, waiting.header, waiting.received_ns))

    def _reject(self, kind: str, message: str) -> None:
        self._stats.add_bad(kind)
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
                if self._stopping or not self.context.ok():
                    return  # shutting down: publishing into a closed context fails
                self._stats.add_failure(f'{type(exc).__name__}: {exc}')
                self._log_bad('failure', f'processing the image stamped '
                                         f'{stamp_seconds(frame.header):.6f} failed: '
                                         f'{type(exc).__name__}: {exc}')

    def _process(self, frame: _Frame) -> None:
        config = self._config
        request = self._request(config)
        evaluator = self._evaluator
        # The evaluation wants depth even while no output has a subscriber.
        if not request.anything and evaluator is None:
            self._stats.add(SKIPPED_IDLE)
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
                                   (self._pub_colorized, out.colorized)):
            if message is not None:
                publisher.publish(message)
        if request.anything:
            self._stats.add_published((time.time_ns() - frame.received_ns) * 1e-9,
                                      out.timings_s['inference'])
        else:
            self._stats.add(EVALUATION_ONLY)
        if out.colorized is not None:
            self._stats.add(COLORIZED)
        if evaluator is not None:
            evaluator.submit(EvalJob(depth_m=out.depth_m, grid=out.intrinsics,
                                     camera=frame.intrinsics,
                                     stamp_s=stamp_seconds(frame.header),
                                     frame_id=frame.header.frame_id))

    def _request(self, config: NodeConfig) -> OutputRequest:
        def wanted(publisher: Any) -> bool:
            return not config.skip_unsubscribed or publisher.get_subscription_count() > 0

        return OutputRequest(
            depth=wanted(self._pub_depth), camera_info=wanted(self._pub_info),
            points=config.publish_points and wanted(self._pub_points),
            points_rgb=config.points_rgb,
            # The preview is for people looking at it: never built without a subscriber.
            colorized=(config.publish_colorized
                       and self._pub_colorized.get_subscription_count() > 0),
            colormap=config.colormap)

    # -- diagnostics (executor thread) ------------------------------------------------------

    def _publish_diagnostics(self) -> None:
        try:
            report = self._stats.report()
            config = self._config
            info = self._backend.info
            camera_source = ('camera info' if self._camera is not None else
                             'camera_* parameters' if config.fallback_intrinsics() else 'none yet')
            static = [('backend', info.name), ('device', info.device),
                      ('precision', info.precision), ('model', info.model_path),
                      ('preset', self._backend.preset.name),
                      ('input topic', self._image_sub.topic_name),
                      ('intrinsics from', camera_source)]
            idle = bool(report.window.get(SKIPPED_IDLE)) and not report.window.get(PUBLISHED)
            status = build_status(
                report, name=f'{self.get_fully_qualified_name()}: depth',
                hardware_id=f'{info.name} {info.device}',
                static_values=static, drop_warn_ratio=config.drop_warn_ratio,
                waiting_for_camera_info=(self._awaiting_info is not None
                                         or bool(report.window_bad.get(KIND_NO_CAMERA_INFO))),
                idle=idle, extra_values=self._evaluation_values(report, config))
            array = DiagnosticArray()
            array.header.stamp = self.get_clock().now().to_msg()
            array.status = [status]
            self._pub_diagnostics.publish(array)
        except Exception as exc:  # noqa: B902 - diagnostics must never stop the node
            self._log_bad('diagnostics', f'could not publish diagnostics: {exc}')

    def _evaluation_values(self, report: StatsReport,
                           config: NodeConfig) -> list[tuple[str, str]]:
        if self._evaluator is None:
            return []
        summary, offset_ms = self._evaluator.summary()
        transform = ('parameters' if config.eval_transform_source == 'parameters'
                     else f'{cfgmod.TOPIC_TF_STATIC}, {cfgmod.TOPIC_TF}')
        static = [('lidar topic', self._lidar_sub.topic_name), ('transform from', transform),
                  ('depth range (m)', f'{config.eval_min_depth_m:g} to '
                                      f'{config.eval_max_depth_m:g}'),
                  ('crop', f'{config.eval_crop} (camera pixels)'),
                  ('tolerance (s)', f'{config.eval_tolerance_s:g}')]
        return evaluation_values(report, summary, static, offset_ms)

    # -- shut-down --------------------------------------------------------------------------

    def destroy_node(self) -> None:
        """Stop the worker (after the frame in flight), release the backend, destroy the node."""
        worker = getattr(self, '_worker', None)
        if worker is not None:
            self._stopping = True
            self._slot.close()
            # The frame in flight finishes first (a backend call cannot be interrupted).
            worker.join(timeout=10.0)
            self._backend.close()
        evaluator = getattr(self, '_evaluator', None)
        if evaluator is not None:
            evaluator.close()
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    """Run the depth node until Ctrl-C or shut-down; return the exit status."""
    try:
        rclpy.init(args=args)
    except Exception as exc:  # noqa: B902 - rcl reports bad --ros-args as a generic RCLError
        print(f'{NODE_NAME}: cannot start: {str(exc).splitlines()[0]}', file=sys.stderr)
        return EXIT_BAD_PARAMETER
    try:
        node = DepthNode()
    except StartupError as exc:
        get_logger(NODE_NAME).fatal(str(exc))
        rclpy.try_shutdown()
        return exc.exit_code
    except (KeyboardInterrupt, ExternalShutdownException):
        rclpy.try_shutdown()
        return 0
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
