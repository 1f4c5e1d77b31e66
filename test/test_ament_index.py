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
The package in an ament index outside colcon: ``scripts/register_ament.py`` and the test venv.

What works after ``colcon build`` (``get_package_share_directory``, ``get_package_prefix``,
``ros2 run``'s ``lib/msdepth_ros``) must work in the venv that ``make setup`` builds.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import subprocess
import sys

from conftest import REPO_ROOT
from package_layout import check_prefix, console_scripts, MARKER, PACKAGE
import pytest

REGISTER = REPO_ROOT / 'scripts' / 'register_ament.py'

LOOKUP = (
    'import json\n'
    'from ament_index_python.packages import get_package_prefix, get_package_share_directory\n'
    f'print(json.dumps([get_package_prefix({PACKAGE!r}), '
    f'get_package_share_directory({PACKAGE!r})]))\n')


def ament_lookup(prefixes: str) -> subprocess.CompletedProcess:
    """Run ament_index_python's look-ups of msdepth_ros in a fresh process on ``prefixes``."""
    env = dict(os.environ, AMENT_PREFIX_PATH=prefixes)
    return subprocess.run([sys.executable, '-c', LOOKUP], env=env, capture_output=True,
                          text=True, timeout=120)


def fake_venv(root: Path) -> Path:
    """Make a prefix whose ``bin/`` has each console script of setup.py (echoing its name)."""
    (root / 'bin').mkdir(parents=True)
    for name in console_scripts():
        script = root / 'bin' / name
        script.write_text(f'#!/bin/sh\necho {name} "$@"\n')
        script.chmod(0o755)
    return root


def test_register_lays_out_the_prefix_as_colcon_installs_it(tmp_path):
    prefix = fake_venv(tmp_path / 'venv')
    before = ament_lookup(str(prefix))
    assert before.returncode != 0 and 'PackageNotFoundError' in before.stderr
    for _ in range(2):  # a second run (make setup again) replaces its own links
        proc = subprocess.run([sys.executable, str(REGISTER), str(prefix)],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
    check_prefix(prefix)
    proc = ament_lookup(os.pathsep.join([str(tmp_path / 'elsewhere'), str(prefix)]))
    assert proc.returncode == 0, proc.stderr
    found_prefix, share = json.loads(proc.stdout)
    assert Path(found_prefix) == prefix.resolve()
    assert Path(share) == prefix.resolve() / 'share' / PACKAGE
    # Folders link to the checkout: a new launch file shows up without registering again.
    assert (Path(share) / 'launch').resolve() == REPO_ROOT / 'launch'
    # ros2 run executes lib/PACKAGE/NAME: the link reaches the venv's script.
    run = subprocess.run([str(prefix / 'lib' / PACKAGE / 'msdepth-kitti2bag'), '--help'],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stdout.split() == ['msdepth-kitti2bag', '--help']


def test_register_refuses_a_prefix_without_the_installed_scripts(tmp_path):
    prefix = tmp_path / 'empty'
    prefix.mkdir()
    proc = subprocess.run([sys.executable, str(REGISTER), str(prefix)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 1
    assert 'depth_node' in proc.stderr and 'pip install -e .' in proc.stderr
    assert 'Traceback' not in proc.stderr
    assert not (prefix / MARKER).exists()
    proc = subprocess.run([sys.executable, str(REGISTER), str(tmp_path / 'missing')],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and 'no such folder' in proc.stderr


def test_the_environment_of_this_run_is_an_ament_prefix_of_the_package():
    # `make test` runs with AMENT_PREFIX_PATH=.venv, registered by `make setup`; under colcon
    # the install prefix comes first. Either way the look-ups that launch files and ros2 run
    # make must find the package.
    from ament_index_python.packages import (get_package_prefix, get_package_share_directory,
                                             PackageNotFoundError)
    try:
        prefix = Path(get_package_prefix(PACKAGE))
        share = Path(get_package_share_directory(PACKAGE))
    except PackageNotFoundError:
        pytest.fail(f'{PACKAGE} is in no ament index of AMENT_PREFIX_PATH='
                    f'{os.environ.get("AMENT_PREFIX_PATH")!r}: run make setup (it calls '
                    'scripts/register_ament.py .venv) or source a colcon install')
    assert share == prefix / 'share' / PACKAGE
    check_prefix(prefix)
    script = prefix / 'lib' / PACKAGE / 'msdepth-kitti2bag'
    proc = subprocess.run([str(script), '--help'], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and 'msdepth-kitti2bag' in proc.stdout, proc.stderr
