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

"""A parameter written once as a config field: the table, defaults and checks derived from it."""

from __future__ import annotations

from dataclasses import dataclass, FrozenInstanceError

from msdepth_ros.ros.param_table import ConfigError, param, ParameterSet
import pytest


@dataclass(frozen=True)
class _Config(ParameterSet):
    rate_hz: float = param(5.0, 'Rate.', read_only=False, min_value=0.5, max_value=50.0)
    mode: str = param('fast', 'Mode.', choices=('fast', 'slow'))
    count: int = param(3, 'Count.')


def test_the_table_follows_the_fields_in_order_with_their_metadata():
    rate, mode, count = _Config.parameters()
    assert [s.name for s in _Config.parameters()] == ['rate_hz', 'mode', 'count']
    assert (rate.default, rate.read_only, rate.min_value, rate.max_value, rate.type_name) == \
        (5.0, False, 0.5, 50.0, 'double')
    assert mode.choices == ('fast', 'slow') and mode.read_only
    assert count.type_name == 'integer' and count.constraints() == ''
    assert _Config.defaults() == {'rate_hz': 5.0, 'mode': 'fast', 'count': 3}


def test_checked_values_build_the_config_and_bad_ones_name_the_parameter():
    config = _Config.checked({'rate_hz': 10, 'other_node_parameter': 1})
    assert config.values() == {'rate_hz': 10.0, 'mode': 'fast', 'count': 3}
    assert type(config.rate_hz) is float
    with pytest.raises(FrozenInstanceError):
        config.mode = 'slow'
    with pytest.raises(ConfigError, match="'rate_hz': 60.0 is outside"):
        _Config.checked({'rate_hz': 60.0})
    with pytest.raises(ConfigError, match="'mode': 'medium' is not one of fast, slow"):
        _Config.checked({'mode': 'medium'})
    with pytest.raises(ConfigError, match="'count': expected a integer, got str"):
        _Config.checked({'count': '3'})


def test_an_annotation_that_contradicts_the_default_is_refused():
    @dataclass(frozen=True)
    class Wrong(ParameterSet):
        period_s: int = param(1.0, 'Period.')

    with pytest.raises(TypeError, match='Wrong.period_s: annotated int, default 1.0'):
        Wrong.parameters()
