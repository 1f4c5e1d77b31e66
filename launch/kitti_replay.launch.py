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
Replay a KITTI drive (a bag from ``msdepth-kitti2bag``) into the depth node, optionally in RViz.

    ros2 launch msdepth_ros kitti_replay.launch.py bag:=drive_0001.mcap model:=/path/kitti.onnx \
        rviz:=true evaluate:=true

Starts ``depth.launch.py`` with ``config/kitti.yaml`` in the left colour camera's namespace
(``/kitti/camera_color_left``: ``image_raw`` and ``camera_info`` in, ``depth/image``,
``depth/camera_info``, ``points`` and ``depth/colorized`` out); with ``evaluate:=true`` also
``lidar_eval_node`` in the same namespace with ``config/lidar_eval_kitti.yaml``, scoring
``depth/image`` against ``/kitti/velodyne_points`` (``depth_eval/metrics`` and ``/diagnostics``
out); then, when ``bag`` is given,
``ros2 bag play`` with ``/clock`` and the QoS override file ``config/kitti_bag_qos.yaml`` (so
that ``/tf_static`` is latched), and RViz with ``rviz/kitti.rviz`` when ``rviz:=true``. The
bag player, a best-effort publisher of camera-size frames, gets the same Fast DDS profile as the
node (``transport_profile``): for a best-effort publisher it is the publisher's shared-memory
segment that decides whether large frames arrive (docs/transport.md); the evaluation node
gets the profile too. Where
``ros2 bag`` is not installed, leave ``bag`` empty and replay with ``msdepth-replay BAG --clock``.
This file only describes the launch: no side effects, no ``eval``.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

PACKAGE = 'msdepth_ros'
#: Namespace and topics of the left colour camera in bags from msdepth-kitti2bag (launch files
#: import nothing of the package: test_launch_kitti_replay checks them against msgs.topics).
CAMERA_NAMESPACE = '/kitti/camera_color_left'
IMAGE_TOPIC = 'image_raw'
CAMERA_INFO_TOPIC = 'camera_info'
VELODYNE_TOPIC = '/kitti/velodyne_points'
#: The evaluation node's executable (and node name).
EVAL_EXECUTABLE = 'lidar_eval_node'

#: Launch argument -> (default, description).
ARGUMENTS: dict[str, tuple[str, str]] = {
    'bag': ('', 'rosbag2 to play with ros2 bag play (empty: play none; replay it yourself, '
                'e.g. msdepth-replay BAG --clock)'),
    'model': ('', 'model file: a .pt checkpoint, an .onnx file or a TensorRT engine'),
    'backend': ('auto', 'auto, tensorrt, onnxruntime or torch'),
    'config': ('', 'parameter file (empty: config/kitti.yaml of this package)'),
    'rate': ('1.0', 'playback rate factor of ros2 bag play'),
    'loop': ('false', 'replay the bag again at its end (true or false)'),
    'start_delay_s': ('3.0', 'seconds between starting the node and starting the playback, '
                             'for the model to load'),
    'evaluate': ('false', 'true: also start lidar_eval_node, which scores the depth against '
                          '/kitti/velodyne_points (transforms from /tf_static) on '
                          'depth_eval/metrics and /diagnostics'),
    'eval_config': ('', 'parameter file of lidar_eval_node (empty: config/lidar_eval_kitti.yaml '
                        'of this package)'),
    'rviz': ('false', 'start RViz with rviz/kitti.rviz (true or false)'),
    'use_sim_time': ('true', 'use the /clock that ros2 bag play publishes'),
    'transport_profile': ('', 'Fast DDS profile of the node and the bag player (empty: '
                              'config/fastdds_large_frames.xml unless the environment names '
                              'one; none: no profile)'),
}

#: Arguments handed on to depth.launch.py unchanged.
DEPTH_ARGUMENTS = ('model', 'backend', 'use_sim_time', 'transport_profile')
#: The environment variables that name a Fast DDS profile (older and newer Fast DDS).
PROFILE_VARIABLES = ('FASTRTPS_DEFAULT_PROFILES_FILE', 'FASTDDS_DEFAULT_PROFILES_FILE')


def _flag(values: Mapping[str, str], name: str) -> bool:
    value = values[name].strip().lower()
    if value not in ('true', 'false'):
        raise ValueError(f"launch argument {name} must be 'true' or 'false', got "
                         f'{values[name]!r}')
    return value == 'true'


def _positive(values: Mapping[str, str], name: str) -> str:
    try:
        number = float(values[name])
    except ValueError:
        number = -1.0
    if not number > 0 and not (name == 'start_delay_s' and number == 0):
        raise ValueError(f'launch argument {name} must be a positive number, got '
                         f'{values[name]!r}')
    return values[name]


def depth_launch_arguments(values: Mapping[str, str], share_dir: str) -> dict[str, str]:
    """Return the arguments of ``depth.launch.py``: the KITTI camera, topics and config."""
    args = {name: values[name] for name in DEPTH_ARGUMENTS}
    args['use_sim_time'] = str(_flag(values, 'use_sim_time')).lower()
    args.update(preset='kitti', camera=CAMERA_NAMESPACE, image=IMAGE_TOPIC,
                camera_info=CAMERA_INFO_TOPIC,
                config=values['config'] or os.path.join(share_dir, 'config', 'kitti.yaml'))
    return args


def eval_node_arguments(values: Mapping[str, str], share_dir: str,
                        environ: Mapping[str, str]) -> dict[str, Any] | None:
    """
    Return the keyword arguments of ``lidar_eval_node``'s ``launch_ros.actions.Node``.

    None unless ``evaluate`` is true. The node runs in the camera's namespace, so that
    ``depth/image``, ``depth/camera_info`` and ``camera_info`` (the crop's camera pixels) are
    the depth node's outputs and the camera's info; ``lidar_points`` is the Velodyne.
    """
    if not _flag(values, 'evaluate'):
        return None
    config = values['eval_config'] or os.path.join(share_dir, 'config', 'lidar_eval_kitti.yaml')
    return {'package': PACKAGE, 'executable': EVAL_EXECUTABLE, 'name': EVAL_EXECUTABLE,
            'namespace': CAMERA_NAMESPACE,
            'parameters': [config, {'use_sim_time': _flag(values, 'use_sim_time')}],
            'remappings': [('camera_info', CAMERA_INFO_TOPIC), ('lidar_points', VELODYNE_TOPIC)],
            'additional_env': bag_play_environment(values, share_dir, environ)}


def bag_play_command(values: Mapping[str, str], share_dir: str) -> list[str] | None:
    """Return the ``ros2 bag play`` command line, or None when no bag is given."""
    if not values['bag']:
        return None
    command = ['ros2', 'bag', 'play', values['bag'], '--rate', _positive(values, 'rate'),
               '--qos-profile-overrides-path',
               os.path.join(share_dir, 'config', 'kitti_bag_qos.yaml')]
    if _flag(values, 'use_sim_time'):
        command += ['--clock', '100']
    if _flag(values, 'loop'):
        command.append('--loop')
    return command


def bag_play_environment(values: Mapping[str, str], share_dir: str,
                         environ: Mapping[str, str]) -> dict[str, str]:
    """
    Return the Fast DDS profile variables of the bag player and the evaluation node.

    The same as ``depth.launch.py`` gives the depth node.
    """
    value = values['transport_profile'].strip()
    if value == 'none' or (not value and any(environ.get(n) for n in PROFILE_VARIABLES)):
        return {}
    profile = value or os.path.join(share_dir, 'config', 'fastdds_large_frames.xml')
    return {name: profile for name in PROFILE_VARIABLES}


def rviz_config(share_dir: str) -> str:
    """Return the RViz configuration file shown with ``rviz:=true``."""
    return os.path.join(share_dir, 'rviz', 'kitti.rviz')


def _launch(context: Any) -> list:
    from ament_index_python.packages import get_package_share_directory
    from launch.actions import ExecuteProcess, IncludeLaunchDescription, TimerAction
    from launch.launch_description_sources import PythonLaunchDescriptionSource
    from launch.substitutions import LaunchConfiguration
    from launch_ros.actions import Node

    share_dir = get_package_share_directory(PACKAGE)
    values = {name: LaunchConfiguration(name).perform(context) for name in ARGUMENTS}
    actions: list = [IncludeLaunchDescription(
        PythonLaunchDescriptionSource(os.path.join(share_dir, 'launch', 'depth.launch.py')),
        launch_arguments=depth_launch_arguments(values, share_dir).items())]
    evaluation = eval_node_arguments(values, share_dir, os.environ)
    if evaluation is not None:
        actions.append(Node(output='screen', emulate_tty=True, **evaluation))
    play = bag_play_command(values, share_dir)
    if play is not None:
        actions.append(TimerAction(period=float(_positive(values, 'start_delay_s')),
                                   actions=[ExecuteProcess(
                                       cmd=play, output='screen',
                                       additional_env=bag_play_environment(
                                           values, share_dir, os.environ))]))
    if _flag(values, 'rviz'):
        actions.append(Node(package='rviz2', executable='rviz2', name='rviz2',
                            arguments=['-d', rviz_config(share_dir)],
                            parameters=[{'use_sim_time': _flag(values, 'use_sim_time')}]))
    return actions


def generate_launch_description() -> Any:
    """Declare the arguments, the depth node, the evaluation node, the playback and RViz."""
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument, OpaqueFunction

    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=description)
         for name, (default, description) in ARGUMENTS.items()]
        + [OpaqueFunction(function=_launch)])
