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
No module of the package imports another that imports it back (directly or around a circle).

The graph is read from the syntax tree of every module: every ``import`` and ``from ... import``
anywhere in a file counts, those deferred into functions too, since a lazy import hides a
circle without removing it. Relative imports are resolved against the importing module. An
import of a package counts as an import of its ``__init__``; ``from pkg import name`` counts as
an import of ``pkg.name`` where that is a submodule, and of ``pkg`` otherwise.
"""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO_ROOT

PACKAGE = 'msdepth_ros'


def module_names(root: Path, package: str) -> dict[str, Path]:
    """Dotted module name -> file for every module under ``root / package``."""
    names = {}
    for path in sorted((root / package).rglob('*.py')):
        parts = list(path.relative_to(root).with_suffix('').parts)
        if parts[-1] == '__init__':
            parts.pop()
        names['.'.join(parts)] = path
    return names


def _known_prefix(name: str, modules: dict[str, Path]) -> str | None:
    """Return the longest dotted prefix of ``name`` that is one of ``modules``."""
    parts = name.split('.')
    for end in range(len(parts), 0, -1):
        candidate = '.'.join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def _resolve_from(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """Return the absolute module a ``from ... import`` reads from."""
    if not node.level:
        return node.module or ''
    base = module.split('.') if is_package else module.split('.')[:-1]
    if node.level > 1:
        base = base[:len(base) - (node.level - 1)]
    return '.'.join(base + ([node.module] if node.module else []))


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """
    Map each module to the package modules it imports, anywhere in its file.

    Parameters
    ----------
    root:
        The folder that holds the package folder (what ``sys.path`` would hold).
    package:
        The top-level package name; imports of anything else are left out.

    """
    modules = module_names(root, package)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == '__init__.py'
        for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve_from(node, name, is_package)
                targets = [f'{base}.{alias.name}' if f'{base}.{alias.name}' in modules else base
                           for alias in node.names]
            for target in targets:
                known = _known_prefix(target, modules)
                if known is not None and known != name:
                    graph[name].add(known)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """Return one import circle as ``[a, b, ..., a]``, or ``None`` where there is none."""
    done: set[str] = set()
    for start in sorted(graph):
        if start in done:
            continue
        # Depth-first search with an explicit stack of (module, its neighbours not yet seen).
        path = [start]
        stack = [iter(sorted(graph[start]))]
        while stack:
            step = next(stack[-1], None)
            if step is None:
                stack.pop()
                done.add(path.pop())
            elif step in path:
                return path[path.index(step):] + [step]
            elif step not in done:
                path.append(step)
                stack.append(iter(sorted(graph.get(step, ()))))
    return None


def test_the_package_has_no_import_cycle():
    graph = import_graph(REPO_ROOT, PACKAGE)
    assert len(graph) > 50 and any(graph.values())
    cycle = find_cycle(graph)
    assert cycle is None, 'import cycle: ' + ' -> '.join(cycle)


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding='utf-8')


def test_a_lazy_two_module_cycle_is_found(tmp_path):
    _write(tmp_path, {
        'pkg/__init__.py': '',
        'pkg/sub/__init__.py': '',
        'pkg/sub/a.py': 'from pkg.sub.b import helper\n',
        # The way back is deferred into a function and written relative: still a circle.
        'pkg/sub/b.py': 'def helper():\n    from . import a\n    return a\n',
    })
    graph = import_graph(tmp_path, 'pkg')
    assert graph['pkg.sub.a'] == {'pkg.sub.b'}
    assert graph['pkg.sub.b'] == {'pkg.sub.a'}
    assert find_cycle(graph) in (['pkg.sub.a', 'pkg.sub.b', 'pkg.sub.a'],
                                 ['pkg.sub.b', 'pkg.sub.a', 'pkg.sub.b'])


def test_a_cycle_through_a_package_init_is_found(tmp_path):
    _write(tmp_path, {
        'pkg/__init__.py': 'from pkg.impl import run\n',
        'pkg/impl.py': 'import pkg.util\n',
        'pkg/util.py': 'def f():\n    from pkg import run\n    return run\n',
    })
    graph = import_graph(tmp_path, 'pkg')
    assert graph['pkg.util'] == {'pkg'}
    cycle = find_cycle(graph)
    assert cycle is not None and cycle[0] == cycle[-1] and set(cycle) == {
        'pkg', 'pkg.impl', 'pkg.util'}


def test_imports_without_a_circle_pass(tmp_path):
    _write(tmp_path, {
        'pkg/__init__.py': 'from pkg.a import f\n',
        'pkg/a.py': 'from pkg import b\nfrom .b import g\nimport os\n',
        'pkg/b.py': 'import numpy\nfrom pkg.c import h\n',
        'pkg/c.py': '',
    })
    graph = import_graph(tmp_path, 'pkg')
    assert graph == {'pkg': {'pkg.a'}, 'pkg.a': {'pkg.b'}, 'pkg.b': {'pkg.c'}, 'pkg.c': set()}
    assert find_cycle(graph) is None
