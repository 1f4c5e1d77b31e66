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


"""The README against the code: the two commands first, every parameter and launch argument."""

from pathlib import Path
import re

from launch_checks import load_launch_module
from msdepth_ros.ros import eval_config
from msdepth_ros.ros.config import PARAMETERS
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
README = (REPO_ROOT / 'README.md').read_text(encoding='utf-8')


def _table_rows(first_header: str) -> dict[str, list[str]]:
    """Rows of the Markdown table whose first header cell is ``first_header``, by name."""
    rows: dict[str, list[str]] = {}
    lines = README.splitlines()
    start = next(i for i, line in enumerate(lines)
                 if line.startswith(f'| {first_header} |'))
    for line in lines[start + 2:]:
        if not line.startswith('|'):
            break
        cells = [c.strip() for c in line.strip('|').split('|')]
        names = re.findall(r'`([^`]+)`', cells[0])
        defaults = re.findall(r'`([^`]*)`', cells[2]) if len(cells) > 2 else []
        for i, name in enumerate(names):
            # one default for several names is shared by them
            shared = defaults[min(i, len(defaults) - 1)] if defaults else cells[2]
            rows[name] = cells[:2] + [shared] + cells[3:]
    return rows


def _ros_literal(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return repr(value)
    return str(value)


def test_readme_opens_with_the_two_commands():
    head = README.split('\n## ')[0]
    commands = re.findall(r'^(make \w+)', head, flags=re.MULTILINE)
    assert commands[:2] == ['make demo', 'make test']


@pytest.mark.parametrize('spec', PARAMETERS, ids=lambda s: s.name)
def test_every_parameter_is_documented_with_its_type_and_default(spec):
    rows = _table_rows('parameter')
    assert spec.name in rows, f'{spec.name} missing from the README parameter table'
    _, type_name, default, change = rows[spec.name][:4]
    assert type_name == spec.type_name
    assert default == _ros_literal(spec.default)
    assert change == ('restart' if spec.read_only else 'run time')


def test_every_documented_parameter_exists():
    assert set(_table_rows('parameter')) == {spec.name for spec in PARAMETERS}


@pytest.mark.parametrize('spec', eval_config.PARAMETERS, ids=lambda s: s.name)
def test_every_evaluation_parameter_is_documented_with_its_type_and_default(spec):
    rows = _table_rows('evaluation parameter')
    assert spec.name in rows, f'{spec.name} missing from the README evaluation parameter table'
    _, type_name, default, change = rows[spec.name][:4]
    assert type_name == spec.type_name
    assert default == _ros_literal(spec.default)
    assert change == ('restart' if spec.read_only else 'run time')


def test_every_documented_evaluation_parameter_exists_and_the_metrics_layout_is_spelled():
    assert set(_table_rows('evaluation parameter')) == set(eval_config.PARAMETERS_BY_NAME)
    assert ', '.join(eval_config.METRICS_LAYOUT[:-1]) + ' (NaN without points), points' in README
    assert f'`{eval_config.TOPIC_METRICS}` (out)' in README


def test_every_launch_argument_of_depth_launch_is_documented():
    module = load_launch_module(REPO_ROOT / 'launch' / 'depth.launch.py')
    rows = _table_rows('argument')
    assert set(rows) == set(module.ARGUMENTS)
    for name, (default, _) in module.ARGUMENTS.items():
        assert rows[name][1] == (f'`{default}`' if default else "`''`"), name


def test_every_console_script_is_mentioned():
    setup = (REPO_ROOT / 'setup.py').read_text(encoding='utf-8')
    scripts = re.findall(r"'([\w-]+) = msdepth_ros", setup)
    assert 'depth_node' in scripts
    for name in scripts:
        assert name in README, name
