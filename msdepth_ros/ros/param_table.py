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
A node's parameters written once: as the fields of its frozen config dataclass.

Each field of a ``ParameterSet`` dataclass is declared with ``param(default, description, ...)``,
which keeps the parameter's default, description, range, allowed values and read-only flag in
the field's metadata. ``ParameterSet.parameters()`` derives the node's declaration table
(``ParamSpec`` entries, in field order) from the fields, and ``checked()`` validates values
against it into the config. ``ros.parameters.declare_parameters`` declares such a table on a
node. Nothing here imports rclpy.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
import functools
import math
from typing import Any, Mapping, Sequence, TypeVar, Union

ParamValue = Union[bool, int, float, str]

_TYPE_NAMES = {bool: 'bool', int: 'integer', float: 'double', str: 'string'}
_METADATA_KEY = 'msdepth_parameter'

Self = TypeVar('Self', bound='ParameterSet')


class ConfigError(ValueError):
    """A parameter value the node cannot run with; the message names the parameter."""


@dataclass(frozen=True)
class ParamSpec:
    """
    One node parameter: its name, type (that of ``default``), meaning and constraints.

    ``read_only`` parameters need a restart to change (they shape subscriptions, QoS or the
    loaded model); the others can be set while the node runs.
    """

    name: str
    default: ParamValue
    description: str
    read_only: bool = True
    choices: tuple[str, ...] = ()
    min_value: float | None = None
    max_value: float | None = None

    @property
    def type_name(self) -> str:
        """ROS parameter type: ``bool``, ``integer``, ``double`` or ``string``."""
        return _TYPE_NAMES[type(self.default)]

    def constraints(self) -> str:
        """Human-readable constraints, for the parameter descriptor."""
        parts = []
        if self.choices:
            parts.append('one of: ' + ', '.join(self.choices))
        if self.min_value is not None:
            parts.append(f'range [{self.min_value}, {self.max_value}]')
        return '; '.join(parts)


def param(default: ParamValue, description: str, *, read_only: bool = True,
          choices: Sequence[str] = (), min_value: float | None = None,
          max_value: float | None = None) -> Any:
    """
    Declare a config field that is a node parameter (its name is the field's name).

    Returns a ``dataclasses.field`` without a default (a config is built from every value);
    the parameter's default and constraints ride in its metadata.
    """
    return field(metadata={_METADATA_KEY: {
        'default': default, 'description': description, 'read_only': read_only,
        'choices': tuple(choices), 'min_value': min_value, 'max_value': max_value}})


class ParameterSet:
    """
    Base of a frozen config dataclass whose fields are ``param(...)`` parameters.

    Gives the declaration table, the defaults, validation into the config, and its values.
    """

    @classmethod
    def parameters(cls) -> tuple[ParamSpec, ...]:
        """Every parameter, in field order (the order ``ros2 param list`` shows them)."""
        return _table(cls)

    @classmethod
    def defaults(cls) -> dict[str, ParamValue]:
        """Every parameter's default value."""
        return {spec.name: spec.default for spec in cls.parameters()}

    @classmethod
    def checked(cls: type[Self], values: Mapping[str, Any]) -> Self:
        """
        Return the config of ``values`` over the defaults, each value checked on its own.

        Names that are not parameters of this set are ignored. Raises ``ConfigError``.
        """
        return cls(**checked_values(cls.parameters(), values))

    def values(self) -> dict[str, ParamValue]:
        """Parameter name -> value."""
        return {spec.name: getattr(self, spec.name) for spec in self.parameters()}


@functools.lru_cache(maxsize=None)
def _table(cls: type) -> tuple[ParamSpec, ...]:
    table = []
    for config_field in fields(cls):
        spec = ParamSpec(name=config_field.name, **config_field.metadata[_METADATA_KEY])
        # The annotation must name the default's type (annotations are strings here).
        default_type_name = type(spec.default).__name__
        if config_field.type != default_type_name:
            raise TypeError(f'{cls.__name__}.{spec.name}: annotated {config_field.type}, '
                            f'default {spec.default!r}')
        table.append(spec)
    return tuple(table)


def checked_values(parameters: Sequence[ParamSpec],
                   values: Mapping[str, Any]) -> dict[str, ParamValue]:
    """
    Return every parameter of the table ``parameters``, checked: ``values`` over the defaults.

    Names ``values`` has that are not in the table are ignored; integers are accepted for
    doubles. Raises ``ConfigError`` naming the first parameter at fault.
    """
    return {spec.name: check_value(spec, values.get(spec.name, spec.default))
            for spec in parameters}


def check_value(spec: ParamSpec, value: Any) -> ParamValue:
    """Return ``value`` checked against ``spec`` (type, finite, choices, range)."""
    expected = type(spec.default)
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if type(value) is not expected:
        raise ConfigError(f'parameter {spec.name!r}: expected a {spec.type_name}, got '
                          f'{type(value).__name__} {value!r}')
    if expected is float and not math.isfinite(value):
        raise ConfigError(f'parameter {spec.name!r}: must be finite, got {value}')
    if spec.choices and value not in spec.choices:
        raise ConfigError(f'parameter {spec.name!r}: {value!r} is not one of '
                          f'{", ".join(spec.choices)}')
    if spec.min_value is not None and not spec.min_value <= value <= spec.max_value:
        raise ConfigError(f'parameter {spec.name!r}: {value} is outside '
                          f'[{spec.min_value}, {spec.max_value}]')
    return value
