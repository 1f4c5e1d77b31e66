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

``EvalConfig`` is the frozen, validated set of values the node runs with; its fields are the
parameters, each written once (``ros.param_table.param``). ``PARAMETERS``, the table derived
from them, is declared by ``ros.parameters.declare_parameters`` like the depth node's.
``METRICS_LAYOUT`` names the elements of the per-frame metrics message. Nothing here imports rclpy.

Crops. ``eval_crop`` (a crop of ``core.metrics.CROPS``) is applied in *camera* pixels, as the
paper's protocol defines Garg's and Eigen's crops: fractions of the camera image the depth was
predicted from, not of the depth image, whose grid may cover only part of the camera image at
a coarser pitch (``core.online_eval``'s docstring has the KITTI numbers). The camera's
intrinsics come from the camera's own ``camera_info``, which the node subscribes only when a
crop is set. For a depth image on the camera's own grid, remap ``camera_info`` to
``depth/camera_info``.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Any, Mapping

from msdepth_ros.core.cloud_filter import CloudFilter, DEFAULT_FLYING_PIXEL_THRESHOLD
from msdepth_ros.core.metrics import (Crop, CROPS, KITTI_MAX_DEPTH_M, KITTI_MIN_DEPTH_M,
                                      METRIC_NAMES)
from msdepth_ros.core.occupancy import DEFAULT_CELL_M, OCCUPANCY_NAMES, OccupancySpec
from msdepth_ros.core.transforms import quaternion_to_matrix, rigid_transform
from msdepth_ros.msgs import topics
from msdepth_ros.ros.config import RELIABILITY_CHOICES
from msdepth_ros.ros.param_table import ConfigError, param, ParameterSet, ParamSpec
import numpy as np

NODE_NAME = 'lidar_eval_node'

# -- topics (``msgs.topics``; relative, so that the node runs in a camera's namespace) -----------

#: Topics the node subscribes to: the depth image to score (32FC1 metres, or 16UC1
#: millimetres: REP 118) and its camera info, the camera's own camera info (the crop's pixels;
#: subscribed only with ``eval_crop``), the LIDAR cloud; TF (``/tf_static``, ``/tf``) only from
#: ``tf``.
INPUT_TOPICS = (topics.DEPTH, topics.DEPTH_INFO, topics.CAMERA_INFO, topics.LIDAR)
#: Topics the node publishes: per-frame metrics (std_msgs/Float64MultiArray laid out as
#: ``METRICS_LAYOUT``) and /diagnostics.
OUTPUT_TOPICS = (topics.METRICS, topics.DIAGNOSTICS)

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
_ROTATION = ('qx', 'qy', 'qz', 'qw')


def _lidar_position(axis: str) -> Any:
    return param(0.0, 'Fixed transform: position of the LIDAR origin in the camera optical '
                 f'frame, {axis} (m).', min_value=-1000.0, max_value=1000.0)


def _lidar_rotation(name: str) -> Any:
    return param(1.0 if name == 'qw' else 0.0, 'Fixed transform: rotation of the LIDAR frame in '
                 f'the camera optical frame, unit quaternion component {name[1]}.',
                 min_value=-1.0, max_value=1.0)


@dataclass(frozen=True)
class EvalConfig(ParameterSet):
    """
    The evaluation node's parameters, validated: each field is one parameter, written once.

    In the order ``ros2 param list`` shows them. All need a restart but the warnings and the
    log throttle.
    """

    eval_transform_source: str = param('tf', 'The transform camera optical frame <- LIDAR frame '
                                       "from 'tf' (/tf_static and /tf, between the depth image's "
                                       "and the cloud's frame ids) or from 'parameters' "
                                       '(eval_lidar_*, whatever the frame ids).',
                                       choices=TRANSFORM_SOURCES)
    eval_lidar_x_m: float = _lidar_position('x')
    eval_lidar_y_m: float = _lidar_position('y')
    eval_lidar_z_m: float = _lidar_position('z')
    eval_lidar_qx: float = _lidar_rotation('qx')
    eval_lidar_qy: float = _lidar_rotation('qy')
    eval_lidar_qz: float = _lidar_rotation('qz')
    eval_lidar_qw: float = _lidar_rotation('qw')
    eval_tolerance_s: float = param(0.05, 'Largest time between the stamps of a depth image and '
                                    'the scan it is scored against; frames without a scan that '
                                    'near are counted, not scored.', min_value=0.0, max_value=10.0)
    eval_min_depth_m: float = param(KITTI_MIN_DEPTH_M, 'LIDAR depths at or below this are not '
                                    'scored; predictions are clipped to [min, max].',
                                    min_value=0.0, max_value=1000.0)
    eval_max_depth_m: float = param(KITTI_MAX_DEPTH_M, 'LIDAR depths at or above this are not '
                                    "scored (80 m: KITTI's cap).", min_value=0.0, max_value=1000.0)
    eval_crop: str = param('none', 'Evaluation crop (core.metrics.CROPS) in camera pixels: '
                           "fractions of the camera image (the camera's camera_info, subscribed "
                           'only with a crop), not of the depth image.', choices=_CROPS)
    eval_window: int = param(20, 'The recent means cover this many of the latest scored frames.',
                             min_value=1, max_value=10000)
    eval_scan_buffer: int = param(5, 'Only the newest this many LIDAR scans are kept to match '
                                  'depth images against.', min_value=1, max_value=100)
    eval_warn_no_transform: bool = param(True, 'Log a warning (throttled by log_throttle_s) '
                                         'while no transform camera <- LIDAR is available.',
                                         read_only=False)
    occupancy: bool = param(True, 'Score occupancy too: the cells of a 2D grid in base_frame '
                            'that the predicted cloud and the LIDAR mark, as a Nav2 obstacle '
                            'layer would. Needs the transform base_frame <- the depth image '
                            'frame on /tf_static or /tf.')
    base_frame: str = param('base_link', "The robot's base frame: the grid's frame, in which the "
                            'obstacle heights are measured.')
    occupancy_cell_m: float = param(DEFAULT_CELL_M, 'Cell size of the occupancy grid (m).',
                                    min_value=0.01, max_value=10.0)
    occupancy_min_height_m: float = param(0.1, 'Points below this height in base_frame mark no '
                                          "cell (the obstacle layer's min_obstacle_height, m).",
                                          min_value=-100.0, max_value=100.0)
    occupancy_max_height_m: float = param(2.0, 'Points above this height in base_frame mark no '
                                          "cell (the obstacle layer's max_obstacle_height, m).",
                                          min_value=-100.0, max_value=100.0)
    occupancy_max_range_m: float = param(10.0, 'Points farther than this from the camera mark no '
                                         "cell (the obstacle layer's obstacle_max_range, m).",
                                         min_value=0.1, max_value=1000.0)
    occupancy_flying_pixel_threshold: float = param(
        DEFAULT_FLYING_PIXEL_THRESHOLD, "The predicted cloud's flying-pixel filter "
        "(core.cloud_filter; 0: off): set it as the depth node's cloud_flying_pixel_threshold to "
        'score the cloud a costmap gets.', min_value=0.0, max_value=10.0)
    input_reliability: str = param('auto', 'Reliability of the depth image and camera info '
                                   'subscriptions. auto: subscribe once a publisher is found, '
                                   'reliable when every publisher is reliable, best effort '
                                   'otherwise.', choices=RELIABILITY_CHOICES)
    diagnostics_period_s: float = param(1.0, 'Period of the status on /diagnostics.',
                                        min_value=0.1, max_value=60.0)
    log_throttle_s: float = param(5.0, 'Each kind of bad input is logged at most once per this '
                                  'period (the first one at once).',
                                  read_only=False, min_value=0.0, max_value=3600.0)

    @classmethod
    def from_parameters(cls, values: Mapping[str, Any]) -> EvalConfig:
        """
        Validate parameter values (missing ones take their defaults, others are ignored).

        Raises ``ConfigError`` naming the first parameter at fault, its value and what is
        allowed.
        """
        config = cls.checked(values)
        config._check_combinations()
        return config

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


#: Every parameter of the evaluation node, in the order ``ros2 param list`` shows them.
PARAMETERS: tuple[ParamSpec, ...] = EvalConfig.parameters()
PARAMETERS_BY_NAME: dict[str, ParamSpec] = {spec.name: spec for spec in PARAMETERS}
