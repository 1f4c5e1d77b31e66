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
The parameters both nodes declare, as rclpy describes them, against a committed snapshot.

Each parameter's name, type, default, description, constraints, ranges and read-only flag are
read back from a real rclpy node (``describe_parameters`` after ``declare_parameters``) and
compared with ``test/snapshots/parameter_descriptors.json``. A change to a parameter is a
change of the nodes' interface: make it on purpose, then rewrite the snapshot with
``MSDEPTH_UPDATE_SNAPSHOTS=1 python -m pytest test/test_parameter_descriptors.py`` and review
its diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

from msdepth_ros.ros import config, eval_config
import pytest

SNAPSHOT = Path(__file__).resolve().parent / 'snapshots' / 'parameter_descriptors.json'
TABLES = {'depth_node': config.PARAMETERS, 'lidar_eval_node': eval_config.PARAMETERS}


def _declared(node_name: str, parameters: Sequence[Any]) -> list[dict[str, Any]]:
    """Declare ``parameters`` on a fresh rclpy node and describe each one as rclpy sees it."""
    import rclpy
    from rclpy.context import Context
    from msdepth_ros.ros.parameters import declare_parameters
    context = Context()
    rclpy.init(args=[], context=context)
    try:
        node = rclpy.create_node(node_name, context=context)
        values = declare_parameters(node, parameters=parameters)
        names = list(values)
        descriptors = node.describe_parameters(names)
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)
    rows = []
    for name, descriptor in zip(names, descriptors):
        rows.append({
            'name': descriptor.name, 'type': int(descriptor.type), 'default': values[name],
            'description': descriptor.description,
            'additional_constraints': descriptor.additional_constraints,
            'read_only': bool(descriptor.read_only),
            'integer_range': [[r.from_value, r.to_value, r.step]
                              for r in descriptor.integer_range],
            'floating_point_range': [[r.from_value, r.to_value, r.step]
                                     for r in descriptor.floating_point_range]})
    return rows


@pytest.mark.parametrize('node_name', sorted(TABLES))
def test_declared_parameters_match_the_snapshot(node_name):
    declared = _declared(node_name, TABLES[node_name])
    if os.environ.get('MSDEPTH_UPDATE_SNAPSHOTS') == '1':
        snapshot = json.loads(SNAPSHOT.read_text(encoding='utf-8')) if SNAPSHOT.is_file() else {}
        snapshot[node_name] = declared
        SNAPSHOT.write_text(json.dumps(snapshot, indent=1, sort_keys=True) + '\n',
                            encoding='utf-8')
    expected = json.loads(SNAPSHOT.read_text(encoding='utf-8'))[node_name]
    assert [row['name'] for row in declared] == [row['name'] for row in expected]
    for row, want in zip(declared, expected):
        assert row == want, row['name']
    # The default keeps its Python type (json gives 1.0 back as a float, 1 as an int).
    assert [type(row['default']) for row in declared] == \
        [type(row['default']) for row in expected]
