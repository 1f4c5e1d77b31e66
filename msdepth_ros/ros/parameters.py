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
What the plain and the managed depth node share before they run: parameters and the model.

``declare_parameters`` declares a parameter table (``ros.config.PARAMETERS`` by default; the
LIDAR evaluation node gives its own) with their descriptors;
``load_model`` validates them into a ``NodeConfig`` and loads the backend, or raises
``StartupError`` with the exit status the process should end with; ``changed_config`` checks a
run-time change.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from msdepth_ros.inference.backend import Backend, BackendError, load_backend
from msdepth_ros.ros.config import ConfigError, DEMO_MODEL_WARNING, NodeConfig, PARAMETERS
from msdepth_ros.ros.param_table import ParamSpec
from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                ParameterType)
from rclpy.exceptions import ParameterException
from rclpy.node import Node

#: Exit codes of the nodes' ``main``: a parameter the node cannot run with (a missing model
#: file included); a model file it cannot load.
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


def declare_parameters(node: Node, read_only: bool = True,
                       parameters: Sequence[ParamSpec] = PARAMETERS) -> dict[str, Any]:
    """
    Declare every parameter of the table ``parameters`` on ``node`` and return their values.

    The table defaults to the depth node's (``ros.config.PARAMETERS``).
    ``read_only`` False declares even the parameters that need a restart as writable (the
    managed node lets them change while unconfigured and refuses them otherwise itself).
    Raises ``StartupError`` for a value of the wrong type; warns about unknown names.
    """
    values = {}
    for spec in parameters:
        descriptor = ParameterDescriptor(
            name=spec.name, type=_ROS_TYPES[spec.type_name], description=spec.description,
            additional_constraints=spec.constraints(), read_only=spec.read_only and read_only)
        if spec.min_value is not None and spec.type_name == 'integer':
            descriptor.integer_range = [IntegerRange(
                from_value=int(spec.min_value), to_value=int(spec.max_value), step=1)]
        elif spec.min_value is not None:
            descriptor.floating_point_range = [FloatingPointRange(
                from_value=float(spec.min_value), to_value=float(spec.max_value), step=0.0)]
        try:
            values[spec.name] = node.declare_parameter(spec.name, spec.default,
                                                       descriptor).value
        except ParameterException as exc:
            # rclpy's message ends with ': <name>'; say which parameter first instead.
            reason = str(exc).removesuffix(f': {spec.name}')
            raise StartupError(f'parameter {spec.name!r}: {reason}', EXIT_BAD_PARAMETER) from None
    # A misspelt name in a YAML file or on the command line is ignored by rclpy: say so.
    overrides = getattr(node, '_parameter_overrides', {}) or {}
    unknown = sorted(name for name in overrides if name not in values
                     and name != 'use_sim_time' and not name.startswith('qos_overrides.'))
    if unknown:
        node.get_logger().warning(f'ignoring unknown parameters: {", ".join(unknown)}')
    return values


def load_model(values: Mapping[str, Any]) -> tuple[NodeConfig, Backend, list[str]]:
    """
    Validate the parameters and load the model.

    Returns ``(config, backend, notes)``: ``notes`` are lasting warnings for the log and
    ``/diagnostics`` (the demo model runs; ``auto`` passed over a GPU backend, and why).
    Raises ``StartupError``.
    """
    try:
        config = NodeConfig.from_parameters(values)
    except ConfigError as exc:
        raise StartupError(str(exc), EXIT_BAD_PARAMETER) from None
    try:
        backend = load_backend(config.model_path(), config.backend, **config.backend_options())
    except BackendError as exc:
        raise StartupError(f'cannot load the model: {exc}', EXIT_BAD_MODEL) from None
    try:
        config.check_model_preset(backend.preset)
    except ConfigError as exc:
        backend.close()
        raise StartupError(str(exc), EXIT_BAD_PARAMETER) from None
    notes = list(getattr(backend.info, 'warnings', ()))
    if config.uses_demo_model:
        notes.insert(0, DEMO_MODEL_WARNING)
    return config, backend, notes


def changed_config(values: Mapping[str, Any], changes: Mapping[str, Any],
                   backend: Backend | None) -> tuple[dict[str, Any], NodeConfig]:
    """
    Apply run-time parameter ``changes`` to ``values``; return the new values and config.

    Raises ``ConfigError`` when the result cannot run (the change is then refused).
    """
    merged = dict(values)
    merged.update({name: value for name, value in changes.items() if name in merged})
    config = NodeConfig.from_parameters(merged, check_model_file=False)
    if backend is not None:
        config.depth_range_m(backend.preset)
    return merged, config
