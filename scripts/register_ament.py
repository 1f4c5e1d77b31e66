#!/usr/bin/env python3
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
Register the checkout in a virtual environment's ament index, as colcon would install it.

``pip install -e .`` puts the modules and the console scripts (``PREFIX/bin``) into a venv but
nothing that ament finds: ``get_package_share_directory('msdepth_ros')`` raised and
``ros2 run`` / ``ros2 launch`` found nothing. This lays out, under ``PREFIX``:

- ``share/ament_index/resource_index/packages/msdepth_ros`` (the marker);
- ``share/msdepth_ros/``: ``package.xml`` and one folder per ``data_files`` entry of
  ``setup.py`` (``launch``, ``config``, ``rviz``, ``models``), each a symlink to the checkout's
  folder, so edits and new files show up without re-running;
- ``lib/msdepth_ros/``: a symlink to ``PREFIX/bin/NAME`` for every console script of
  ``setup.py`` (where ``ros2 run`` looks).

Everything is derived from ``setup.py`` (its ``setup()`` arguments, read without building).
Run again, it replaces its own links. usage: ``python scripts/register_ament.py PREFIX``
(the Makefile's setup step runs it for ``.venv``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
import runpy
import sys
from typing import Any, Sequence
from unittest import mock

PACKAGE = 'msdepth_ros'
REPO_ROOT = Path(__file__).resolve().parents[1]
MARKER_DIR = Path('share/ament_index/resource_index/packages')


class RegisterError(RuntimeError):
    """The prefix or the checkout is not in a state to register (message says why)."""


def setup_arguments(repo_root: Path = REPO_ROOT) -> dict[str, Any]:
    """Keyword arguments that ``repo_root/setup.py`` passes to ``setup()``, without building."""
    import setuptools

    captured: dict[str, Any] = {}
    cwd = os.getcwd()
    os.chdir(repo_root)  # setup.py globs its data files relative to the checkout
    try:
        with mock.patch.object(setuptools, 'setup', lambda **kwargs: captured.update(kwargs)):
            runpy.run_path(str(repo_root / 'setup.py'), run_name='__main__')
    finally:
        os.chdir(cwd)
    if not captured:
        raise RegisterError(f'{repo_root / "setup.py"}: setup() was not called')
    return captured


def console_scripts(arguments: dict[str, Any]) -> list[str]:
    """Names of the console scripts in ``setup()``'s ``entry_points``."""
    entries = arguments.get('entry_points', {}).get('console_scripts', [])
    return [entry.split('=', 1)[0].strip() for entry in entries]


def share_layout(arguments: dict[str, Any], repo_root: Path) -> dict[Path, Path]:
    """
    ``share/msdepth_ros`` entries (relative to the prefix) -> the checkout path to link.

    Files installed straight into ``share/msdepth_ros`` are linked one by one; a subfolder's
    files must all come from one checkout folder, which is linked whole.
    """
    share = Path('share') / PACKAGE
    layout: dict[Path, Path] = {}
    for destination, files in arguments.get('data_files', []):
        destination = Path(destination)
        if destination == share:
            for name in files:
                layout[share / Path(name).name] = repo_root / name
        elif share in destination.parents:
            folders = {(repo_root / name).parent for name in files}
            if len(folders) != 1:
                raise RegisterError(f'setup.py installs {destination} from several folders '
                                    f'({sorted(map(str, folders))}); cannot link one folder')
            layout[destination] = folders.pop()
    return layout


def _link(link: Path, target: Path) -> None:
    if link.is_symlink() or link.is_file():
        link.unlink()
    elif link.exists():
        raise RegisterError(f'{link}: exists and is not a link; remove it first')
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)


def register(prefix: Path, repo_root: Path = REPO_ROOT) -> list[Path]:
    """Lay out ``prefix`` (see the module docstring); return the paths made, relative."""
    prefix = prefix.resolve()
    arguments = setup_arguments(repo_root)
    if arguments.get('name') != PACKAGE:
        raise RegisterError(f'{repo_root / "setup.py"}: package {arguments.get("name")!r}, '
                            f'expected {PACKAGE!r}')
    scripts = console_scripts(arguments)
    missing = [name for name in scripts if not (prefix / 'bin' / name).exists()]
    if missing:
        raise RegisterError(f'{prefix / "bin"}: no {", ".join(missing)}; install the package '
                            'into this prefix first (pip install -e .)')
    made = []
    marker = prefix / MARKER_DIR / PACKAGE
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text('')
    made.append(MARKER_DIR / PACKAGE)
    for relative, target in share_layout(arguments, repo_root).items():
        if not target.exists():
            raise RegisterError(f'{target}: missing (setup.py installs it as {relative})')
        _link(prefix / relative, target)
        made.append(relative)
    lib = Path('lib') / PACKAGE
    for name in scripts:  # relative: the venv may move with its links
        _link(prefix / lib / name, Path('..') / '..' / 'bin' / name)
        made.append(lib / name)
    return made


def main(argv: Sequence[str] | None = None) -> int:
    """Register; exit 0, 1 when the prefix or checkout is not ready, 2 on bad usage."""
    parser = argparse.ArgumentParser(description=__doc__.strip().split('\n\n')[0])
    parser.add_argument('prefix', type=Path, help='virtual environment (ament prefix) to use')
    args = parser.parse_args(argv)
    if not args.prefix.is_dir():
        parser.error(f'{args.prefix}: no such folder')
    try:
        made = register(args.prefix)
    except RegisterError as exc:
        print(f'register_ament: {exc}', file=sys.stderr)
        return 1
    print(f'register_ament: {PACKAGE} in the ament index of {args.prefix.resolve()} '
          f'({len(made)} entries)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
