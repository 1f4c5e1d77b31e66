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

"""What an ament prefix holds for msdepth_ros, read from setup.py (colcon's and the venv's)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

from conftest import REPO_ROOT

PACKAGE = 'msdepth_ros'
MARKER = Path('share/ament_index/resource_index/packages') / PACKAGE


def register_ament() -> ModuleType:
    """``scripts/register_ament.py`` as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location(
        'register_ament', REPO_ROOT / 'scripts' / 'register_ament.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def console_scripts() -> list[str]:
    """Every console script of setup.py's ``entry_points``."""
    module = register_ament()
    names = module.console_scripts(module.setup_arguments(REPO_ROOT))
    assert 'depth_node' in names
    return names


def share_files() -> dict[Path, Path]:
    """
    Files that setup.py installs under ``share/msdepth_ros``: path there -> checkout file.

    Paths are relative to ``share/msdepth_ros`` (``package.xml``, ``launch/depth.launch.py``).
    """
    arguments = register_ament().setup_arguments(REPO_ROOT)
    share = Path('share') / PACKAGE
    files = {}
    for destination, sources in arguments['data_files']:
        destination = Path(destination)
        if destination == share or share in destination.parents:
            for source in sources:
                files[destination.relative_to(share) / Path(source).name] = REPO_ROOT / source
    return files


def check_prefix(prefix: Path) -> None:
    """
    Assert that ``prefix`` holds msdepth_ros as colcon installs it.

    The ament index marker; ``share/msdepth_ros`` with every file of setup.py's
    ``data_files`` (package.xml, launch/, config/, rviz/, models/) byte for byte as in the
    checkout; ``lib/msdepth_ros`` with an executable for every console script.
    """
    assert (prefix / MARKER).is_file(), f'{prefix / MARKER}: no ament index marker'
    share = prefix / 'share' / PACKAGE
    files = share_files()
    folders = {path.parts[0] for path in files if len(path.parts) > 1}
    assert {'launch', 'config', 'rviz', 'models'} <= folders
    assert Path('package.xml') in files
    for relative, source in files.items():
        installed = share / relative
        assert installed.is_file(), f'{installed}: missing'
        if installed.stat().st_size < 10**6:
            assert installed.read_bytes() == source.read_bytes(), installed
        else:
            assert installed.stat().st_size == source.stat().st_size, installed
    lib = prefix / 'lib' / PACKAGE
    scripts = console_scripts()
    assert sorted(os.listdir(lib)) == sorted(scripts)
    for name in scripts:
        assert (lib / name).is_file(), f'{lib / name}: missing'
        assert os.access(lib / name, os.X_OK), f'{lib / name}: not executable'
