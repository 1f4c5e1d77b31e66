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

"""Shared fixtures: the real sample data beside the checkout, and an isolated DDS domain."""

from __future__ import annotations

import os
from pathlib import Path
import random
import shutil
import sys

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

# Tests that start nodes talk over real DDS: give this run its own domain so that parallel runs
# on one machine (and other ROS systems on the network) never see each other's topics.
os.environ.setdefault('ROS_DOMAIN_ID', str(random.SystemRandom().randint(1, 101)))
os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')


def shared_data_dir() -> Path | None:
    """``../shared/data`` beside the checkout (or $MSDEPTH_SHARED_DATA), if present."""
    env = os.environ.get('MSDEPTH_SHARED_DATA')
    path = Path(env) if env else REPO_ROOT.parent / 'shared' / 'data'
    return path if path.is_dir() else None


@pytest.fixture(scope='session')
def shared_data() -> Path:
    """Real KITTI and NYU samples; tests that use them skip cleanly where they are absent."""
    path = shared_data_dir()
    if path is None:
        pytest.skip('real sample data ../shared/data is absent (a user clone has none); '
                    'set MSDEPTH_SHARED_DATA to its folder to run this test')
    return path


@pytest.fixture(scope='session')
def repo_root() -> Path:
    """Return the repository root (where package.xml lives)."""
    return REPO_ROOT


def console_script(name: str) -> str:
    """
    Path of an installed console script.

    Beside this Python (a venv or ``pip install``), else in ``lib/msdepth_ros`` of an ament
    prefix (``colcon build`` installs the scripts there, where ``ros2 run`` finds them), else on
    PATH.
    """
    candidates = [Path(sys.executable).parent / name]
    candidates += [Path(prefix) / 'lib' / 'msdepth_ros' / name
                   for prefix in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep)
                   if prefix]
    for path in candidates:
        if path.exists():
            return str(path)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f'console script {name!r} is not installed (looked beside {sys.executable}, '
                    'in the ament prefixes and on PATH); install the package first (make test '
                    'does, or colcon build)')
    return found
