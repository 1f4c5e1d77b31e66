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
The LIDAR evaluation node: scores any depth image against a LIDAR with the paper's metrics.

Subscribes ``depth/image`` (32FC1 metres or 16UC1 millimetres) with ``depth/camera_info``
(paired by exact stamp, newest only: ``ros.evaluation.DepthPairing``), ``lidar_points``
(sensor_msgs/PointCloud2), and ``/tf_static`` and ``/tf`` unless the transform camera <- LIDAR
comes from parameters; with a crop also the camera's own ``camera_info`` (the crop is in camera
pixels: ``ros.eval_config``). Each depth image is scored against the scan nearest in time
(``ros.evaluation.LidarEvaluator``, on its own thread). Publishes each compared frame's metrics on
``depth_eval/metrics`` (std_msgs/Float64MultiArray, laid out as ``eval_config.METRICS_LAYOUT``,
no header: one message per frame, in the order scored) and the counts and the means over the
run and the last ``eval_window`` frames on ``/diagnostics``. The depth may come from this
package's depth node or from any other source, live or from a bag.

Run: ``ros2 run msdepth_ros lidar_eval_node --ros-args -r __ns:=/kitti/camera_color_left
-r lidar_points:=/kitti/velodyne_points``.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from msdepth_ros.core.occupancy import OCCUPANCY_NAMES, OccupancyScore
from msdepth_ros.msgs import topics
from msdepth_ros.msgs.images import camera_info_to_intrinsics, ConversionError
from msdepth_ros.ros.config import ConfigError
from msdepth_ros.ros.conversions import stamp_seconds
from msdepth_ros.ros.diagnostics import (EVAL_DEPTH, EVAL_NO_CAMERA, EVAL_NO_DEPTH_INFO,
                                         evaluation_status, FrameStats, KIND_CAMERA_INFO_SIZE,
                                         ThrottledLog)
from msdepth_ros.ros.eval_config import (EvalConfig, METRICS_LAYOUT, NODE_NAME,
                                         OCCUPANCY_LAYOUT, PARAMETERS)
from msdepth_ros.ros.evaluation import depth_metres, DepthPairing, EvalJob, LidarEvaluator
from msdepth_ros.ros.frames import stamp_key
from msdepth_ros.ros.node_runtime import log_changes, publish_status, run_node
from msdepth_ros.ros.parameters import declare_parameters, EXIT_BAD_PARAMETER, StartupError
from msdepth_ros.ros.qos import lidar_qos, MatchedSubscription, output_qos, tf_qos
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from std_msgs.msg import Float64MultiArray, MultiArrayDimension

#: How often ``auto`` reliability looks at the publishers of the input topics.
GRAPH_CHECK_PERIOD_S = 0.5
#: History depth of the depth image and camera info subscriptions (a little slack for the two
#: topics arriving out of step; the pairing keeps the newest only).
INPUT_DEPTH = 2
#: History depth of ``depth_eval/metrics`` (reliable: every compared frame reaches a plotter).
METRICS_QOS_DEPTH = 10

__all__ = ['LidarEvalNode', 'load_config', 'main', 'metrics_message']


def _has_tf2_msgs() -> bool:
    try:
        import tf2_msgs.msg  # noqa: F401
    except ImportError:
        return False
    return True


def load_config(values: dict[str, Any]) -> EvalConfig:
    """Validate the parameters; raise ``StartupError`` naming the one at fault."""
    try:
        config = EvalConfig.from_parameters(values)
    except ConfigError as exc:
        raise StartupError(str(exc), EXIT_BAD_PARAMETER) from None
    if config.eval_transform_source == 'tf':
        if not _has_tf2_msgs():
            raise StartupError(
                "parameter 'eval_transform_source': tf (the transform camera <- LIDAR from "
                '/tf_static and /tf) needs the tf2_msgs message package; install it or set '
                'eval_transform_source to parameters', EXIT_BAD_PARAMETER)
    return config


def metrics_message(metrics: dict[str, float], pixels: int,
                    occupancy: OccupancyScore | None = None) -> Float64MultiArray:
    """
    Return one frame's ``depth_eval/metrics`` message.

    ``data`` holds ``METRICS_LAYOUT``'s values in its order (the metrics, NaN without pixels,
    the pixels compared, then the occupancy scores: NaN ratios and 0 cells without them); its
    one dimension is labelled with the names, comma-separated.
    """
    msg = Float64MultiArray()
    msg.layout.dim = [MultiArrayDimension(label=','.join(METRICS_LAYOUT),
                                          size=len(METRICS_LAYOUT), stride=len(METRICS_LAYOUT))]
    cells = OccupancyScore() if occupancy is None else occupancy
    ratios = [math.nan] * len(OCCUPANCY_NAMES) if occupancy is None else \
        [float(occupancy.values()[name]) for name in OCCUPANCY_NAMES]
    msg.data = ([float(metrics[name]) for name in METRICS_LAYOUT[:-len(OCCUPANCY_LAYOUT) - 1]]
                + [float(pixels)] + ratios + [float(cells.tp), float(cells.fp), float(cells.fn)])
    return msg


class LidarEvalNode(Node):
    """
    Online evaluation of a depth image stream against a LIDAR (see the module docstring).

    Parameters
    ----------
    kwargs:
        Passed to ``rclpy.node.Node`` (``context``, ``parameter_overrides`` ...).

    Raises
    ------
    StartupError
        A parameter value cannot be used; the node is destroyed.

    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        self._evaluator: LidarEvaluator | None = None
        self._subs: list[MatchedSubscription] = []
        self._destroyed = False
        try:
            self._values = declare_parameters(self, parameters=PARAMETERS)
            self.config = load_config(self._values)
        except BaseException:
            self.destroy_node()
            raise
        if self.config.occupancy and not _has_tf2_msgs():
            self.get_logger().warning('occupancy is not scored: the transform base frame <- '
                                      'camera comes from /tf_static and /tf, which need the '
                                      'tf2_msgs message package')
            self.config = dataclasses.replace(self.config, occupancy=False)
        config = self.config
        self.stats = FrameStats()
        self._log_bad = ThrottledLog(self.get_logger().warning, config.log_throttle_s)
        self._pairing: DepthPairing[Any, Any] = DepthPairing()
        self._camera = None
        self._pub_metrics = self.create_publisher(Float64MultiArray, topics.METRICS,
                                                  output_qos(True, METRICS_QOS_DEPTH))
        self._evaluator = LidarEvaluator(config, lambda: self.config, self.stats, self._reject,
                                         self._log_bad, self._publish_score)
        log_info = self.get_logger().info
        self._depth_sub = MatchedSubscription(self, Image, topics.DEPTH, self._on_depth,
                                              INPUT_DEPTH, config.input_reliability, log_info)
        self._subs = [self._depth_sub, MatchedSubscription(
            self, CameraInfo, topics.DEPTH_INFO, self._on_depth_info, INPUT_DEPTH,
            config.input_reliability, log_info)]
        self._camera_topic = None
        if config.crop is not None:
            camera_sub = MatchedSubscription(self, CameraInfo, topics.CAMERA_INFO,
                                             self._on_camera_info, 1, config.input_reliability,
                                             log_info)
            self._subs.append(camera_sub)
            self._camera_topic = camera_sub.topic_name
        self._lidar_topic = self.create_subscription(
            PointCloud2, topics.LIDAR, self._evaluator.add_cloud,
            lidar_qos(config.eval_scan_buffer)).topic_name
        if config.eval_transform_source == 'tf' or config.occupancy:
            from tf2_msgs.msg import TFMessage  # checked above
            for topic, static in ((topics.TF_STATIC, True), (topics.TF, False)):
                self.create_subscription(TFMessage, topic, self._evaluator.add_tf,
                                         tf_qos(static))
        self.create_timer(GRAPH_CHECK_PERIOD_S, self._match_publishers)
        self._match_publishers()
        self._pub_diagnostics = self.create_publisher(DiagnosticArray, topics.DIAGNOSTICS,
                                                      10)
        self.create_timer(config.diagnostics_period_s, self._publish_diagnostics)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.get_logger().info(
            f'ready: scoring {self._depth_sub.topic_name} against {self._lidar_topic}, '
            f'transform from {self._transform_source()}, crop {config.eval_crop}'
            + (f' in the pixels of {self._camera_topic}' if self._camera_topic else ''))

    # -- input (executor thread) ------------------------------------------------------------

    def _on_depth(self, msg: Image) -> None:
        self.stats.add(EVAL_DEPTH)
        try:
            depth_m = depth_metres(msg)
        except ConversionError as exc:
            self._reject(exc.kind, f'skipped the depth image stamped '
                                   f'{stamp_seconds(msg.header):.6f}: {exc}')
            return
        except Exception as exc:  # noqa: B902 - a message must never stop the node
            self._reject('internal', f'skipped a depth image: unexpected '
                                     f'{type(exc).__name__}: {exc}')
            return
        self._paired(*self._pairing.image(stamp_key(msg.header), (depth_m, msg.header)))

    def _on_depth_info(self, msg: CameraInfo) -> None:
        grid = self._intrinsics(msg, 'the depth image camera info')
        if grid is not None:
            self._paired(*self._pairing.info(stamp_key(msg.header), grid))

    def _on_camera_info(self, msg: CameraInfo) -> None:
        camera = self._intrinsics(msg, 'the camera info of the crop')
        if camera is not None:
            self._camera = camera

    def _intrinsics(self, msg: CameraInfo, what: str) -> Any:
        try:
            return camera_info_to_intrinsics(msg)
        except ConversionError as exc:
            self._reject(exc.kind, f'ignored {what} stamped {stamp_seconds(msg.header):.6f}: '
                                   f'{exc}')
        except Exception as exc:  # noqa: B902 - a message must never stop the node
            self._reject('internal', f'ignored {what}: unexpected {type(exc).__name__}: {exc}')
        return None

    def _paired(self, pair: Any, lost: int) -> None:
        if lost:
            self.stats.add(EVAL_NO_DEPTH_INFO, lost)
            self._log_bad(EVAL_NO_DEPTH_INFO, f'{lost} depth image(s) without the camera info '
                                              f'of their stamp on {self._subs[1].topic_name}')
        if pair is None:
            return
        (depth_m, header), grid = pair
        height, width = depth_m.shape
        if grid.size != (width, height):
            self._reject(KIND_CAMERA_INFO_SIZE, f'skipped the depth image stamped '
                                                f'{stamp_seconds(header):.6f}: its camera info is '
                                                f'for {grid.width}x{grid.height} images, the '
                                                f'image is {width}x{height}')
            return
        camera = self._camera
        if self.config.crop is not None and camera is None:
            self.stats.add(EVAL_NO_CAMERA)
            self._log_bad(EVAL_NO_CAMERA, f'no camera info on {self._camera_topic} yet: the '
                                          f'crop {self.config.eval_crop} is in camera pixels; '
                                          'frames are not scored until it arrives')
            return
        self._evaluator.submit(EvalJob(depth_m=depth_m, grid=grid, camera=camera,
                                       stamp_s=stamp_seconds(header), frame_id=header.frame_id))

    def _reject(self, kind: str, message: str) -> None:
        self.stats.add_bad(kind)
        self._log_bad(kind, message)

    def _match_publishers(self) -> None:
        try:
            for sub in self._subs:
                sub.update()
        except Exception as exc:  # noqa: B902 - a graph query must never stop the node
            self._log_bad('qos', f'could not match the input publishers: {exc}')

    # -- output ----------------------------------------------------------------------------

    def _publish_score(self, job: EvalJob, score: Any, offset_s: float,
                       occupancy: OccupancyScore | None) -> None:
        """Publish a compared frame's metrics (on the evaluation's thread)."""
        if not self._destroyed:
            self._pub_metrics.publish(metrics_message(score.metrics, score.pixels, occupancy))

    def _transform_source(self) -> str:
        return ('parameters' if self.config.eval_transform_source == 'parameters'
                else f'{topics.TF_STATIC}, {topics.TF}')

    def _status(self) -> Any:
        config = self.config
        summary, offset_ms = self._evaluator.summary()
        crop = config.eval_crop + (f' (camera pixels of {self._camera_topic})'
                                   if self._camera_topic else '')
        static = [('depth topic', self._depth_sub.topic_name),
                  ('lidar topic', self._lidar_topic),
                  ('transform from', self._transform_source()),
                  ('depth range (m)', f'{config.eval_min_depth_m:g} to '
                                      f'{config.eval_max_depth_m:g}'),
                  ('crop', crop), ('tolerance (s)', f'{config.eval_tolerance_s:g}')]
        if self._camera_topic:
            camera = self._camera
            static.append(('crop camera', 'none yet' if camera is None
                           else f'{camera.width}x{camera.height}'))
        static += self._occupancy_status()
        warnings = ([] if self._depth_sub.subscription is not None
                    else [f'no publisher on {self._depth_sub.topic_name} yet'])
        return evaluation_status(self.stats.report(), summary,
                                 f'{self.get_fully_qualified_name()}: evaluation', static,
                                 offset_ms, warnings)

    def _occupancy_status(self) -> list[tuple[str, str]]:
        config = self.config
        if not config.occupancy:
            return [('occupancy', 'off')]
        occupancy = self._evaluator.occupancy()
        run, last = occupancy.run, occupancy.last
        values = [('occupancy', f'cells of {config.occupancy_cell_m:g} m in {config.base_frame}, '
                                f'heights {config.occupancy_min_height_m:g} to '
                                f'{config.occupancy_max_height_m:g} m, within '
                                f'{config.occupancy_max_range_m:g} m'),
                  ('occupancy frames scored', str(occupancy.frames)),
                  ('occupancy frames without base transform', str(occupancy.frames_no_base))]
        values += [(f'occupancy {name} (run)', f'{value:.6g}')
                   for name, value in run.values().items()]
        values += [(f'occupancy {name} (last frame)', 'nan' if last is None else f'{value:.6g}')
                   for name, value in (last or run).values().items()]
        values.append(('occupancy cells tp/fp/fn (run)', f'{run.tp}/{run.fp}/{run.fn}'))
        values += [(f'occupancy {name} (ceiling: the LIDAR at the depth pixels, run)',
                    f'{value:.6g}') for name, value in occupancy.ceiling.values().items()]
        return values

    def _publish_diagnostics(self) -> None:
        publish_status(self, self._pub_diagnostics, self._status)

    def _on_set_parameters(self, params: list[Parameter]) -> SetParametersResult:
        merged = dict(self._values)
        merged.update({p.name: p.value for p in params if p.name in merged})
        try:
            config = EvalConfig.from_parameters(merged)
        except ConfigError as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        if not self.config.occupancy:  # read-only, but off when tf2_msgs is missing
            config = dataclasses.replace(config, occupancy=False)
        self._values, self.config = merged, config
        self._log_bad.period_s = config.log_throttle_s
        log_changes(self, params, merged)
        return SetParametersResult(successful=True)

    def destroy_node(self) -> None:
        """Stop the evaluation's thread (after the frame in flight), destroy the node."""
        if self._destroyed:
            return
        self._destroyed = True
        if self._evaluator is not None:
            self._evaluator.close()
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    """Run the LIDAR evaluation node until Ctrl-C or shut-down; return the exit status."""
    return run_node(LidarEvalNode, NODE_NAME, args)


if __name__ == '__main__':
    sys.exit(main())
