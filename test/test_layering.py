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
The layering of DESIGN.md section 2: imports only point down; only ros/ talks to ROS.

Every import statement of every module is read from its syntax tree (including imports deferred
into functions), so a lazily imported rclpy counts as much as a top-level one.
"""

import ast
from pathlib import Path
import subprocess
import sys

from conftest import REPO_ROOT
import pytest

PACKAGE = REPO_ROOT / 'msdepth_ros'

ROS_MODULES = {'rclpy', 'sensor_msgs', 'std_msgs', 'diagnostic_msgs', 'geometry_msgs',
               'builtin_interfaces', 'tf2_msgs', 'rosgraph_msgs', 'launch', 'launch_ros',
               'rcl_interfaces'}

#: Layer -> the project layers it may import (itself included).
ALLOWED = {
    'core': {'core'},
    'msgs': {'core', 'msgs'},
    'model': {'core', 'model'},
    'data': {'core', 'data'},
    'inference': {'core', 'model', 'inference'},
    'pipeline': {'core', 'model', 'msgs', 'inference', 'pipeline'},
    'train': {'core', 'model', 'data', 'train', 'evaluation'},
    'evaluation': {'core', 'model', 'data', 'evaluation'},
    'bags': {'core', 'data', 'msgs', 'inference', 'pipeline', 'evaluation', 'bags'},
    'tools': {'core', 'model', 'data', 'msgs', 'inference', 'pipeline', 'bags', 'train',
              'evaluation', 'tools'},
    'ros': {'core', 'model', 'data', 'msgs', 'inference', 'pipeline', 'bags', 'train',
            'evaluation', 'tools', 'ros'},
}
#: Third-party packages the core may use: numpy, and OpenCV for resizing.
CORE_THIRD_PARTY = {'numpy', 'cv2'}
#: Tools that talk to ROS and so may import rclpy and message packages.
ROS_FACING_TOOLS = {'replay.py', 'record.py'}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def _modules():
    for path in sorted(PACKAGE.rglob('*.py')):
        rel = path.relative_to(PACKAGE)
        layer = rel.parts[0] if len(rel.parts) > 1 else None
        yield path, layer


def test_every_module_belongs_to_a_known_layer():
    for path, layer in _modules():
        assert layer is None or layer in ALLOWED, f'{path}: unknown layer {layer!r}'


def test_only_ros_layer_imports_ros():
    offenders = []
    for path, layer in _modules():
        if layer == 'ros' or (layer == 'tools' and path.name in ROS_FACING_TOOLS):
            continue
        ros = {n for n in _imports(path) if n.split('.')[0] in ROS_MODULES}
        if ros:
            offenders.append(f'{path.relative_to(REPO_ROOT)}: {sorted(ros)}')
    assert not offenders, 'ROS imports below msdepth_ros/ros/:\n' + '\n'.join(offenders)


def test_imports_point_down():
    offenders = []
    for path, layer in _modules():
        if layer is None:
            continue
        for name in _imports(path):
            parts = name.split('.')
            if parts[0] == 'msdepth_ros' and len(parts) > 1 and parts[1] in ALLOWED:
                if parts[1] not in ALLOWED[layer]:
                    offenders.append(f'{path.relative_to(REPO_ROOT)} ({layer}) imports {name}')
    assert not offenders, '\n'.join(offenders)


def test_core_uses_only_numpy_and_opencv():
    stdlib = set(sys.stdlib_module_names)
    offenders = []
    for path, layer in _modules():
        if layer != 'core':
            continue
        for name in _imports(path):
            top = name.split('.')[0]
            if top not in stdlib and top != 'msdepth_ros' and top not in CORE_THIRD_PARTY:
                offenders.append(f'{path.relative_to(REPO_ROOT)} imports {name}')
    assert not offenders, '\n'.join(offenders)


@pytest.mark.parametrize('module', ['msdepth_ros', 'msdepth_ros.core.preprocess',
                                    'msdepth_ros.core.metrics', 'msdepth_ros.core.synthetic'])
def test_import_is_cheap(module):
    code = (f'import sys, {module}\n'
            "heavy = [m for m in ('torch', 'onnxruntime', 'tensorrt', 'rclpy', 'matplotlib')"
            ' if m in sys.modules]\n'
            'assert not heavy, heavy\n')
    subprocess.run([sys.executable, '-c', code], check=True, cwd=REPO_ROOT)
