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
The LIDAR evaluation node's interface as data: its topics, its parameters, the metrics layout.

``PARAMETERS`` is the node's one parameter table (``ros.config.ParamSpec`` entries, declared by
``ros.parameters.declare_parameters`` like the depth node's); ``EvalConfig`` is the frozen,
validated set of values the node runs with. ``METRICS_LAYOUT`` names the elements of the
per-frame metrics message. Nothing here imports rclpy.

Crops. ``eval_crop`` (a crop of ``core.metrics.CROPS``) is applied in *camera* pixels, as the
paper's protocol defines Garg's and Eigen's crops: fractions of the camera image the depth was
predicted from, not of the depth image, whose grid may cover only part of the camera image at
a coarser pitch (``core.online_eval``'s docstring has the KITTI numbers). The camera's
intrinsics come from the camera's own ``camera_info``, which the node subscribes only when a
crop is set. For a depth image on the camera's own grid, remap ``camera_info`` to
``depth/camera_info``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
import math
from typing import Any, Mapping

from msdepth_ros.core.cloud_filter import CloudFilter, DEFAULT_FLYING_PIXEL_THRESHOLD
from msdepth_ros.core.metrics import (Crop, CROPS, KITTI_MAX_DEPTH_M, KITTI_MIN_DEPTH_M,
                                      METRIC_NAMES)
from msdepth_ros.core.occupancy import DEFAULT_CELL_M, OCCUPANCY_NAMES, OccupancySpec
from msdepth_ros.core.transforms import quaternion_to_matrix, rigid_transform
from msdepth_ros.ros.config import (checked_values, ConfigError, ParamSpec, ParamValue,
                                    RELIABILITY_CHOICES)
import numpy as np

NODE_NAME = 'lidar_eval_node'

# -- topics (relative, so that the node runs in a camera's namespace) -----------------------------

#: The depth image to score (32FC1 metres, or 16UC1 millimetres: REP 118) and its camera info.
TOPIC_DEPTH = 'depth/image'
TOPIC_DEPTH_INFO = 'depth/camera_info'
#: The camera's own camera info: the crop's pixels (subscribed only with ``eval_crop``).
TOPIC_CAMERA_INFO = 'camera_info'
TOPIC_LIDAR = 'lidar_points'
TOPIC_TF = '/tf'
TOPIC_TF_STATIC = '/tf_static'
#: Per-frame metrics, std_msgs/Float64MultiArray laid out as ``METRICS_LAYOUT``.
TOPIC_METRICS = 'depth_eval/metrics'
TOPIC_DIAGNOSTICS = '/diagnostics'

#: Topics the node subscribes to (``camera_info`` only with a crop; TF only from ``tf``).
INPUT_TOPICS = (TOPIC_DEPTH, TOPIC_DEPTH_INFO, TOPIC_CAMERA_INFO, TOPIC_LIDAR)
#: Topics the node publishes.
OUTPUT_TOPICS = (TOPIC_METRICS, TOPIC_DIAGNOSTICS)

#: The occupancy elements of each ``depth_eval/metrics`` message: precision, recall and IoU of
#: the occupied cells (``core.occupancy``; NaN where undefined or not scored), then the cells
#: marked by both clouds, by the prediction only and by the LIDAR only (0 when not scored).
OCCUPANCY_LAYOUT = (*(f'occupancy_{name}' for name in OCCUPANCY_NAMES),
                    'cells_tp', 'cells_fp', 'cells_fn')
#: The elements of each ``depth_eval/metrics`` message, in order: the metrics of
#: ``core.metrics.METRIC_NAMES``, the pixels compared, then ``OCCUPANCY_LAYOUT``. The message's
#: one layout dimension carries these names, comma-separated, as its label.
METRICS_LAYOUT = (*METRIC_NAMES, 'points', *OCCUPANCY_LAYOUT)

#: Where the transform camera optical frame <- LIDAR frame comes from.
TRANSFORM_SOURCES = ('tf', 'parameters')
#: How far from 1 the norm of the fixed transform's quaternion may be.
QUATERNION_NORM_TOLERANCE = 1e-3

_CROPS = ('none',) + tuple(sorted(CROPS))
_TRANSLATION = ('x', 'y', 'z')
_ROTATION = ('qx', 'qy', 'qz', 'qw')

#: Every parameter of the evaluation node, in the order ``ros2 param list`` shows them. All need
#: a restart but the warnings and the log throttle.
PARAMETERS: tuple[ParamSpec, ...] = (
    ParamSpec('eval_transform_source', 'tf', 'The transform camera optical frame <- LIDAR frame '
              "from 'tf' (/tf_static and /tf, between the depth image's and the cloud's frame "
              "ids) or from 'parameters' (eval_lidar_*, whatever the frame ids).",
              choices=TRANSFORM_SOURCES),
    *(ParamSpec(f'eval_lidar_{axis}_m', 0.0, 'Fixed transform: position of the LIDAR origin '
                f'in the camera optical frame, {axis} (m).', min_value=-1000.0,
                max_value=1000.0) for axis in _TRANSLATION),
    *(ParamSpec(f'eval_lidar_{name}', 1.0 if name == 'qw' else 0.0, 'Fixed transform: rotation '
                'of the LIDAR frame in the camera optical frame, unit quaternion component '
                f'{name[1]}.', min_value=-1.0, max_value=1.0) for name in _ROTATION),
    ParamSpec('eval_tolerance_s', 0.05, 'Largest time between the stamps of a depth image and '
              'the scan it is scored against; frames without a scan that near are counted, not '
              'scored.', min_value=0.0, max_value=10.0),
    ParamSpec('eval_min_depth_m', KITTI_MIN_DEPTH_M, 'LIDAR depths at or below this are not '
              'scored; predictions are clipped to [min, max].', min_value=0.0, max_value=1000.0),
    ParamSpec('eval_max_depth_m', KITTI_MAX_DEPTH_M, 'LIDAR depths at or above this are not '
              "scored (80 m: KITTI's cap).", min_value=0.0, max_value=1000.0),
    ParamSpec('eval_crop', 'none', 'Evaluation crop (core.metrics.CROPS) in camera pixels: '
              "fractions of the camera image (the camera's camera_info, subscribed only with a "
              'crop), not of the depth image.', choices=_CROPS),
    ParamSpec('eval_window', 20, 'The recent means cover this many of the latest scored '
              'frames.', min_value=1, max_value=10000),
    ParamSpec('eval_scan_buffer', 5, 'Only the newest this many LIDAR scans are kept to match '
              'depth images against.', min_value=1, max_value=100),
    ParamSpec('eval_warn_no_transform', True, 'Log a warning (throttled by log_throttle_s) '
              'while no transform camera <- LIDAR is available.', read_only=False),
    ParamSpec('occupancy', True, 'Score occupancy too: the cells of a 2D grid in base_frame that '
              'the predicted cloud and the LIDAR mark, as a Nav2 obstacle layer would. Needs the '
              'transform base_frame <- the depth image frame on /tf_static or /tf.'),
    ParamSpec('base_frame', 'base_link', "The robot's base frame: the grid's frame, in which "
              'the obstacle heights are measured.'),
    ParamSpec('occupancy_cell_m', DEFAULT_CELL_M, 'Cell size of the occupancy grid (m).',
              min_value=0.01, max_value=10.0),
    ParamSpec('occupancy_min_height_m', 0.1, 'Points below this height in base_frame mark no '
              "cell (the obstacle layer's min_obstacle_height, m).", min_value=-100.0,
              max_value=100.0),
    ParamSpec('occupancy_max_height_m', 2.0, 'Points above this height in base_frame mark no '
              "cell (the obstacle layer's max_obstacle_height, m).", min_value=-100.0,
              max_value=100.0),
    ParamSpec('occupancy_max_range_m', 10.0, 'Points farther than this from the camera mark no '
              "cell (the obstacle layer's obstacle_max_range, m).", min_value=0.1,
              max_value=1000.0),
    ParamSpec('occupancy_flying_pixel_threshold', DEFAULT_FLYING_PIXEL_THRESHOLD, 'The '
              "predicted cloud's flying-pixel filter (core.cloud_filter; 0: off): set it as the "
              "depth node's cloud_flying_pixel_threshold to score the cloud a costmap gets.",
              min_value=0.0, max_value=10.0),
    ParamSpec('input_reliability', 'auto', 'Reliability of the depth image and camera info '
              'subscriptions. auto: subscribe once a publisher is found, reliable when every '
              'publisher is reliable, best effort otherwise.', choices=RELIABILITY_CHOICES),
    ParamSpec('diagnostics_period_s', 1.0, 'Period of the status on /diagnostics.',
              min_value=0.1, max_value=60.0),
    ParamSpec('log_throttle_s', 5.0, 'Each kind of bad input is logged at most once per this '
              'period (the first one at once).', read_only=False, min_value=0.0,
              max_value=3600.0),
)

PARAMETERS_BY_NAME: dict[str, ParamSpec] = {spec.name: spec for spec in PARAMETERS}


@dataclass(frozen=True)
class EvalConfig:
    """The evaluation node's validated parameters (see ``PARAMETERS`` for their meaning)."""

    eval_transform_source: str
    eval_lidar_x_m: float
    eval_lidar_y_m: float
    eval_lidar_z_m: float
    eval_lidar_qx: float
    eval_lidar_qy: float
    eval_lidar_qz: float
    eval_lidar_qw: float
    eval_tolerance_s: float
    eval_min_depth_m: float
    eval_max_depth_m: float
    eval_crop: str
    eval_window: int
    eval_scan_buffer: int
    eval_warn_no_transform: bool
    occupancy: bool
    base_frame: str
    occupancy_cell_m: float
    occupancy_min_height_m: float
    occupancy_max_height_m: float
    occupancy_max_range_m: float
    occupancy_flying_pixel_threshold: float
    input_reliability: str
    diagnostics_period_s: float
    log_throttle_s: float

    @classmethod
    def defaults(cls) -> dict[str, ParamValue]:
        """Every parameter's default value."""
        return {spec.name: spec.default for spec in PARAMETERS}

    @classmethod
    def from_parameters(cls, values: Mapping[str, Any]) -> EvalConfig:
        """
        Validate parameter values (missing ones take their defaults, others are ignored).

        Raises ``ConfigError`` naming the first parameter at fault, its value and what is
        allowed.
        """
        config = cls(**checked_values(PARAMETERS, values))
        config._check_combinations()
        return config

    def values(self) -> dict[str, ParamValue]:
        """Parameter name -> value."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def crop(self) -> Crop | None:
        """Return the evaluation crop, in camera pixels; None for ``none``."""
        return CROPS.get(self.eval_crop)

    def occupancy_spec(self) -> OccupancySpec | None:
        """Return how the clouds mark cells (``core.occupancy``); None without ``occupancy``."""
        if not self.occupancy:
            return None
        return OccupancySpec(cell_m=self.occupancy_cell_m,
                             min_height_m=self.occupancy_min_height_m,
                             max_height_m=self.occupancy_max_height_m,
                             max_range_m=self.occupancy_max_range_m)

    def cloud_filter(self) -> CloudFilter:
        """Return the filter of the predicted cloud whose occupancy is scored."""
        return CloudFilter(flying_pixel_threshold=self.occupancy_flying_pixel_threshold,
                           max_range_m=self.occupancy_max_range_m)

    def fixed_T_cam_lidar(self) -> np.ndarray | None:
        """Return ``T_cam_lidar`` (4x4) of the ``eval_lidar_*`` parameters; None from ``tf``."""
        if self.eval_transform_source != 'parameters':
            return None
        rotation = quaternion_to_matrix(self.eval_lidar_qx, self.eval_lidar_qy,
                                        self.eval_lidar_qz, self.eval_lidar_qw)
        return rigid_transform(rotation, (self.eval_lidar_x_m, self.eval_lidar_y_m,
                                          self.eval_lidar_z_m))

    def _check_combinations(self) -> None:
        if not self.eval_min_depth_m < self.eval_max_depth_m:
            raise ConfigError(f'parameters eval_min_depth_m and eval_max_depth_m: need min < '
                              f'max, got {self.eval_min_depth_m} and {self.eval_max_depth_m}')
        if not self.occupancy_min_height_m < self.occupancy_max_height_m:
            raise ConfigError(f'parameters occupancy_min_height_m and occupancy_max_height_m: '
                              f'need min < max, got {self.occupancy_min_height_m} and '
                              f'{self.occupancy_max_height_m}')
        if self.occupancy and not self.base_frame.strip('/'):
            raise ConfigError("parameter 'base_frame': empty; name the robot's base frame or "
                              'set occupancy to false')
        quaternion = [getattr(self, f'eval_lidar_{name}') for name in _ROTATION]
        norm = math.sqrt(sum(q * q for q in quaternion))
        if abs(norm - 1.0) > QUATERNION_NORM_TOLERANCE:
            raise ConfigError(f'parameters eval_lidar_qx, eval_lidar_qy, eval_lidar_qz, '
                              f'eval_lidar_qw: need a unit quaternion, got {quaternion} (norm '
                              f'{norm:.6g})')
