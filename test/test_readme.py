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
import shlex

from launch_checks import load_launch_module
from msdepth_ros.msgs import topics
from msdepth_ros.ros import eval_config
from msdepth_ros.ros.config import PARAMETERS
import pytest
import yaml

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
    layout = eval_config.METRICS_LAYOUT
    points = layout.index('points')
    assert (', '.join(layout[:points]) + ' (NaN without points), points compared, then '
            + ', '.join(layout[points + 1:])) in README
    assert layout[points + 1:] == eval_config.OCCUPANCY_LAYOUT
    assert f'`{topics.METRICS}` (out)' in README


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


# -- commands and the Nav2 snippet -----------------------------------------------------------

def _section(title: str) -> str:
    """Text of the README section ``## title`` up to the next ``## ``."""
    return README.split(f'\n## {title}\n', 1)[1].split('\n## ', 1)[0]


def _blocks(text: str, language: str) -> list[str]:
    return re.findall(rf'^```{language}\n(.*?)^```', text, flags=re.MULTILINE | re.DOTALL)


def _commands(block: str) -> list[list[str]]:
    """Shell commands of a bash block (continuations joined, comments dropped), as words."""
    joined = block.replace('\\\n', ' ')
    commands = []
    for line in joined.splitlines():
        line = line.split(' #', 1)[0].strip()
        if line and not line.startswith('#'):
            commands.append(shlex.split(line, comments=True))
    return commands


def _console_scripts() -> list[str]:
    setup = (REPO_ROOT / 'setup.py').read_text(encoding='utf-8')
    return re.findall(r"'([\w-]+) = msdepth_ros", setup)


def test_every_command_runs_a_tool_where_it_is_installed():
    # After colcon the tools are in lib/msdepth_ros (ros2 run), not on PATH; in the venv they
    # are in .venv/bin. A bare `msdepth-kitti2bag ...` runs in neither.
    scripts = set(_console_scripts())
    found = 0
    for block in _blocks(README, 'bash'):
        for words in _commands(block):
            starts = {0} | {i + 1 for i, w in enumerate(words) if w in ('&&', '||', ';', '|')}
            for i, word in enumerate(words):
                if words[i - 3:i] == ['ros2', 'run', 'msdepth_ros'] and i >= 3:
                    assert word in scripts, f'{" ".join(words)}: no executable {word}'
                    found += 1
                elif Path(word).name in scripts and (i in starts or word.endswith(
                        f'bin/{Path(word).name}')):
                    name = Path(word).name
                    assert word == f'.venv/bin/{name}', \
                        f'{" ".join(words)}: run {name} as `ros2 run msdepth_ros {name}` ' \
                        f'(colcon) or `.venv/bin/{name}` (venv)'
                    found += 1
    assert found >= 5


def _node_points_topic(words: list[str]) -> str:
    """Resolve the ``points`` topic of the depth node that a ros2 launch or run command starts."""
    if words[:4] == ['ros2', 'launch', 'msdepth_ros', 'depth.launch.py']:
        module = load_launch_module(REPO_ROOT / 'launch' / 'depth.launch.py')
        values = {name: default for name, (default, _) in module.ARGUMENTS.items()}
        for word in words[4:]:
            name, value = word.split(':=', 1)
            assert name in values, f'{name}: not an argument of depth.launch.py'
            values[name] = value
        arguments = module.node_arguments(values, str(REPO_ROOT))
        namespace, remappings = arguments['namespace'], dict(arguments['remappings'])
    else:
        assert words[:4] == ['ros2', 'run', 'msdepth_ros', 'depth_node'], words
        remaps = [words[i + 1] for i, w in enumerate(words) if w in ('-r', '--remap')]
        remappings = dict(r.split(':=', 1) for r in remaps)
        namespace = remappings.pop('__ns', '')
    topic = remappings.get(topics.POINTS, topics.POINTS)
    if topic.startswith('/'):
        return topic
    return '/'.join(['', *[p for p in namespace.split('/') if p], topic])


def test_nav2_snippet_is_valid_yaml_fed_by_the_command_beside_it():
    section = _section('Feeding Nav2')
    (command_block,) = _blocks(section, 'bash')
    (yaml_block,) = _blocks(section, 'yaml')
    (command,) = _commands(command_block)
    points = _node_points_topic(command)
    assert points == '/camera/points'
    assert f'`{points}`' in section
    params = yaml.safe_load(yaml_block)['local_costmap']['local_costmap']['ros__parameters']
    assert params['plugins']
    sources = 0
    for name in params['plugins']:
        layer = params[name]
        assert str(layer.get('plugin', '')).startswith('nav2_costmap_2d::'), name
        for source in str(layer.get('observation_sources', '')).split():
            sources += 1
            assert layer[source]['data_type'] == 'PointCloud2'
            assert layer[source]['topic'] == points, source
    assert sources >= 1


def test_troubleshooting_gives_the_node_s_exit_codes():
    from msdepth_ros.ros.parameters import EXIT_BAD_MODEL, EXIT_BAD_PARAMETER
    line = next(p for p in _section('Troubleshooting').split('\n- ') if 'exits at start' in p)
    line = ' '.join(line.split())
    bad_parameter = line.split(f' {EXIT_BAD_PARAMETER}: ', 1)[1].split(f'; {EXIT_BAD_MODEL}: ')
    # A missing model file fails the parameter check (test_depth_node_params runs the node).
    assert 'does not exist' in bad_parameter[0] and 'does not exist' not in bad_parameter[1]
    assert 'could not be loaded' in bad_parameter[1]
