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
Launch the depth node for one camera.

    ros2 launch msdepth_ros depth.launch.py model:=/path/kitti.pt camera:=/kitti/camera_02 \
        config:=$(ros2 pkg prefix msdepth_ros)/share/msdepth_ros/config/kitti.yaml

The node runs in the camera's namespace: it reads ``<camera>/<image>`` (or, with
``input_compressed``, ``<camera>/<image>/compressed``, as image_transport names it) and
``<camera>/<camera_info>`` and publishes ``<camera>/depth/image``, ``<camera>/depth/camera_info``,
``<camera>/points`` and ``<camera>/depth/colorized``. ``image`` and ``camera_info`` may also be
absolute topics. Parameters come from the config file; ``model``, ``backend`` and ``preset``
override it when given. Without any argument the package's demo model runs (with a warning:
it knows synthetic streets only). ``managed:=true`` starts the lifecycle variant
(``depth_node_managed``) for Nav2's lifecycle_manager. The node gets the package's Fast DDS
profile for large frames (``config/fastdds_large_frames.xml``) unless the environment names
one or ``transport_profile:=none``. This file only describes the launch: no side effects, no
``eval``.

The launch packages are imported inside the functions so that the argument mapping
(``node_arguments``) can be checked where ROS's launch is not installed (the package's tests).
"""

from __future__ import annotations

import os
from typing import Any, Mapping

PACKAGE = 'msdepth_ros'

#: Launch argument -> (default, description).
ARGUMENTS: dict[str, tuple[str, str]] = {
    'model': ('', 'model file: a .pt checkpoint, an .onnx file or a TensorRT engine (empty: '
                  "as in the config file, whose empty model is the package's demo model)"),
    'backend': ('', 'auto, tensorrt, onnxruntime or torch (empty: as in the config file)'),
    'preset': ('', 'auto, nyu or kitti: the preset the model must have (empty: as in the '
                   'config file)'),
    'camera': ('camera', 'camera namespace; the node runs in it'),
    'image': ('image_rect_color', 'input image topic, relative to the camera namespace or '
                                  'absolute (its /compressed sibling serves compressed input)'),
    'camera_info': ('camera_info', 'camera info topic, relative to the camera namespace or '
                                   'absolute'),
    'config': ('', 'parameter file (empty: config/depth.yaml of this package)'),
    'use_sim_time': ('false', 'use /clock (true when replaying a rosbag with --clock)'),
    'managed': ('false', 'true: the lifecycle node depth_node_managed (configure and activate '
                         "it, e.g. with Nav2's lifecycle_manager); false: depth_node"),
    'transport_profile': ('', 'Fast DDS profile of the node (empty: '
                              'config/fastdds_large_frames.xml unless FASTRTPS_DEFAULT_PROFILES_'
                              'FILE or FASTDDS_DEFAULT_PROFILES_FILE is set; none: no profile)'),
}

#: Launch arguments that set node parameters of the same name (when not empty).
PARAMETER_ARGUMENTS = ('model', 'backend', 'preset', 'use_sim_time')
#: Parameter arguments that are booleans ('true' or 'false'; empty: not set).
BOOL_ARGUMENTS = ('use_sim_time',)
#: Topic remappings: (the node's topic, the launch argument that names it, suffix).
#: The node derives its compressed topic from the resolved image topic (image_transport's rule),
#: so remapping ``image`` moves both.
REMAPPINGS: tuple[tuple[str, str, str], ...] = (
    ('image', 'image', ''),
    ('camera_info', 'camera_info', ''),
)
#: Launch arguments that set the node's namespace and its parameter file.
NAMESPACE_ARGUMENT = 'camera'
CONFIG_ARGUMENT = 'config'
#: Launch arguments that choose the executable and the node's environment.
PROCESS_ARGUMENTS = ('managed', 'transport_profile')
#: The environment variables that name a Fast DDS profile (older and newer Fast DDS).
PROFILE_VARIABLES = ('FASTRTPS_DEFAULT_PROFILES_FILE', 'FASTDDS_DEFAULT_PROFILES_FILE')
EXECUTABLES = {'false': 'depth_node', 'true': 'depth_node_managed'}


def transport_environment(value: str, share_dir: str,
                          environ: Mapping[str, str]) -> dict[str, str]:
    """
    Return the environment variables that give the node its Fast DDS profile.

    Large camera frames reach a best-effort subscriber reliably only with a shared-memory
    segment larger than Fast DDS's 512 KiB default (docs/transport.md): the package's profile
    sets 32 MiB. A profile the user already set in the environment is kept; ``none`` sets none.
    """
    if value == 'none':
        return {}
    if not value and any(environ.get(name) for name in PROFILE_VARIABLES):
        return {}
    profile = value or os.path.join(share_dir, 'config', 'fastdds_large_frames.xml')
    return {name: profile for name in PROFILE_VARIABLES}


def node_arguments(values: Mapping[str, str], share_dir: str,
                   environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """
    Return the keyword arguments of the depth node's ``launch_ros.actions.Node``.

    Parameters
    ----------
    values:
        Every launch argument's value (strings, as launch gives them).
    share_dir:
        The package's share folder (holds ``config/depth.yaml``).
    environ:
        The launching environment (default: this process's).

    Returns
    -------
    ``executable``, ``namespace``, ``parameters`` (the config file, then the overrides),
    ``remappings`` and ``additional_env``.

    """
    overrides: dict[str, Any] = {name: values[name] for name in PARAMETER_ARGUMENTS
                                 if name not in BOOL_ARGUMENTS and values[name]}
    for name in BOOL_ARGUMENTS:
        flag = values[name].strip().lower()
        if flag not in ('true', 'false') and (flag or name == 'use_sim_time'):
            raise ValueError(f"launch argument {name} must be 'true' or 'false', got "
                             f'{values[name]!r}')
        if flag:
            overrides[name] = flag == 'true'
    managed = values['managed'].strip().lower()
    if managed not in EXECUTABLES:
        raise ValueError(f"launch argument managed must be 'true' or 'false', got "
                         f'{values["managed"]!r}')
    config = values[CONFIG_ARGUMENT] or os.path.join(share_dir, 'config', 'depth.yaml')
    remappings = [(topic, values[argument] + suffix) for topic, argument, suffix in REMAPPINGS]
    env = transport_environment(values['transport_profile'].strip(), share_dir,
                                os.environ if environ is None else environ)
    return {'executable': EXECUTABLES[managed], 'namespace': values[NAMESPACE_ARGUMENT],
            'parameters': [config, overrides], 'remappings': remappings,
            'additional_env': env}


def _launch_node(context: Any) -> list:
    from ament_index_python.packages import get_package_share_directory
    from launch.substitutions import LaunchConfiguration
    from launch_ros.actions import Node

    values = {name: LaunchConfiguration(name).perform(context) for name in ARGUMENTS}
    return [Node(package=PACKAGE, name='depth_node', output='screen', emulate_tty=True,
                 **node_arguments(values, get_package_share_directory(PACKAGE)))]


def generate_launch_description() -> Any:
    """Declare the arguments and the depth node."""
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument, OpaqueFunction

    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=description)
         for name, (default, description) in ARGUMENTS.items()]
        + [OpaqueFunction(function=_launch_node)])
