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
The package as a ROS user builds it: ``colcon build`` and ``colcon test`` in a scratch workspace.

colcon (colcon-common-extensions and colcon-ros, requirements/test.txt) runs with this Python;
the checkout is linked into the workspace's ``src/``. The install must hold what ``ros2 run``
and ``ros2 launch`` look for, and ``colcon test`` must run pytest (it fell back to unittest and
ran no test while setup.py named pytest only in ``tests_require``). About 15 s; deselect with
``-m 'not colcon'``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

from conftest import REPO_ROOT
from package_layout import check_prefix, PACKAGE
import pytest

pytestmark = [pytest.mark.colcon, pytest.mark.slow]

#: What ``colcon test`` runs: one fast test file, never this one (it would build again).
TEST_SELECTION = ['test/test_readme.py', '-m', 'not colcon']

COLCON = ('import sys\n'
          'from colcon_core.command import main\n'
          "sys.argv[0] = 'colcon'\n"
          'sys.exit(main())\n')


def colcon(workspace: Path, *args: str) -> subprocess.CompletedProcess:
    """Run colcon with this Python in ``workspace``, its logs and home kept there."""
    env = dict(os.environ, COLCON_HOME=str(workspace / '.colcon'),
               COLCON_LOG_PATH=str(workspace / 'log'))
    return subprocess.run([sys.executable, '-c', COLCON, *args], cwd=workspace, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope='module')
def workspace(tmp_path_factory) -> Path:
    """Build a colcon workspace with the checkout in ``src/`` (``colcon build``)."""
    for module in ('colcon_core', 'colcon_ros', 'colcon_test_result'):
        pytest.importorskip(module, reason=f'{module} is not installed (colcon-common-'
                                           'extensions and colcon-ros: requirements/test.txt)')
    root = tmp_path_factory.mktemp('colcon_ws')
    (root / 'src').mkdir()
    (root / 'src' / PACKAGE).symlink_to(REPO_ROOT, target_is_directory=True)
    proc = colcon(root, 'build', '--paths', f'src/{PACKAGE}', '--event-handlers',
                  'console_direct-')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root


def test_colcon_build_installs_what_ros2_run_and_launch_look_for(workspace):
    prefix = workspace / 'install' / PACKAGE
    check_prefix(prefix)
    # The installed package's modules, and its tools find the share folder through the index.
    probe = ('import json, msdepth_ros\n'
             'from ament_index_python.packages import get_package_share_directory\n'
             f'print(json.dumps([msdepth_ros.__file__, '
             f'get_package_share_directory({PACKAGE!r})]))\n')
    site = next(prefix.glob('lib/python3*/site-packages'))
    env = dict(os.environ, PYTHONPATH=str(site), AMENT_PREFIX_PATH=str(prefix))
    proc = subprocess.run([sys.executable, '-c', probe], env=env, capture_output=True,
                          text=True, timeout=120, cwd=workspace)
    assert proc.returncode == 0, proc.stderr
    module_file, share = json.loads(proc.stdout)
    assert Path(module_file).is_relative_to(site)
    assert Path(share) == prefix / 'share' / PACKAGE
    run = subprocess.run([str(prefix / 'lib' / PACKAGE / 'msdepth-kitti2bag'), '--help'],
                         env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and 'usage: msdepth-kitti2bag' in run.stdout, run.stderr


def test_colcon_test_runs_pytest(workspace):
    proc = colcon(workspace, 'test', '--paths', f'src/{PACKAGE}', '--event-handlers',
                  'console_direct-', '--pytest-args', *TEST_SELECTION)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    junit = workspace / 'build' / PACKAGE / 'pytest.xml'
    assert junit.is_file(), 'colcon test did not run pytest (no pytest.xml)'
    root = ElementTree.parse(junit).getroot()
    suite = root if root.tag == 'testsuite' else root.find('testsuite')
    tests = int(suite.get('tests'))
    assert tests > 0
    assert int(suite.get('failures')) == int(suite.get('errors')) == 0
    names = {case.get('classname') for case in suite.iter('testcase')}
    assert names and all(name.startswith(f'{PACKAGE}.test.test_readme') for name in names)
    result = colcon(workspace, 'test-result', '--test-result-base', 'build')
    assert result.returncode == 0, result.stdout + result.stderr
    assert f'Summary: {tests} tests, 0 errors, 0 failures' in result.stdout
