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
No module of the package is over 500 lines: a longer file usually holds more than one concern.

Lines are counted as ``wc -l`` counts them, comments, docstrings and blank lines included.
"""

from __future__ import annotations

from pathlib import Path

from conftest import REPO_ROOT

PACKAGE = REPO_ROOT / 'msdepth_ros'
MAX_LINES = 500

#: Modules allowed over the limit (none: a module that grows past it is split by concern). A
#: listed module that no longer needs the exception fails ``test_each_known_exception_...``.
KNOWN_EXCEPTIONS: set[str] = set()


def line_count(path: Path) -> int:
    """Return the number of lines of a text file (a last line without newline counts)."""
    return len(path.read_text(encoding='utf-8').splitlines())


def oversized(package: Path, max_lines: int = MAX_LINES) -> dict[str, int]:
    """Map each ``.py`` file under ``package`` (relative path) over ``max_lines`` to its length."""
    lengths = {path.relative_to(package).as_posix(): line_count(path)
               for path in sorted(package.rglob('*.py'))}
    return {name: n for name, n in lengths.items() if n > max_lines}


def test_no_module_is_over_500_lines():
    too_long = {name: n for name, n in oversized(PACKAGE).items()
                if name not in KNOWN_EXCEPTIONS}
    assert not too_long, (f'modules over {MAX_LINES} lines (split them by concern): '
                          + ', '.join(f'{name} ({n})' for name, n in sorted(too_long.items())))


def test_each_known_exception_is_still_needed():
    lengths = oversized(PACKAGE)
    stale = sorted(name for name in KNOWN_EXCEPTIONS if name not in lengths)
    assert not stale, (f'no longer over {MAX_LINES} lines (or gone): remove them from '
                       f'KNOWN_EXCEPTIONS: {stale}')


def test_the_check_finds_a_long_module(tmp_path):
    package = tmp_path / 'pkg'
    (package / 'sub').mkdir(parents=True)
    (package / 'short.py').write_text('x = 1\n' * MAX_LINES, encoding='utf-8')
    (package / 'sub' / 'long.py').write_text('x = 1\n' * MAX_LINES + 'y = 2', encoding='utf-8')
    (package / 'notes.txt').write_text('\n' * 1000, encoding='utf-8')
    assert oversized(package) == {'sub/long.py': MAX_LINES + 1}


def test_the_node_modules_are_thin():
    # A depth node is parameters, a runner and shut-down; the work lives in the layers below.
    for name in ('depth_node.py', 'managed_node.py'):
        lines = line_count(PACKAGE / 'ros' / name)
        assert lines <= 300, f'ros/{name} has {lines} lines (at most 300)'
