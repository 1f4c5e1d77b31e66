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


"""Checks shared by the tests of the launch files (they are read where ROS launch is absent)."""

import ast
import importlib.util
from pathlib import Path
from types import ModuleType

#: Calls a launch file must never make: launch files describe, they do not act.
FORBIDDEN_CALLS = {'eval', 'exec', 'compile', 'system', 'popen', 'run', 'call', 'check_call',
                   'check_output', 'Popen', 'open', 'remove', 'unlink', 'rmtree', 'makedirs',
                   'mkdir', 'install', 'main'}
#: Modules a launch file may import.
ALLOWED_MODULES = {'__future__', 'os', 'typing', 'launch', 'launch_ros', 'ament_index_python'}


def load_launch_module(path: Path) -> ModuleType:
    """Import a launch file as ``ros2 launch`` does (by path, not as a package)."""
    spec = importlib.util.spec_from_file_location(path.name.split('.')[0] + '_launch', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_no_side_effects(path: Path) -> None:
    """Fail when the launch file calls something that acts or imports beyond launch's own."""
    tree = ast.parse(path.read_text(encoding='utf-8'))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, 'id', '')
            assert name not in FORBIDDEN_CALLS, f'{path.name} line {node.lineno}: calls {name}'
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = ([a.name for a in node.names] if isinstance(node, ast.Import)
                       else [node.module])
            for module in modules:
                assert module.split('.')[0] in ALLOWED_MODULES, f'{path.name}: imports {module}'
    # Importing it (as ros2 launch does) declares things and does nothing else.
    assert callable(load_launch_module(path).generate_launch_description)
