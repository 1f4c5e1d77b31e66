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
Atomic model files get the permissions of any new file: readable by a node under another user.

An exported ``.onnx`` and a cached engine used to be written through ``tempfile.mkstemp``, which
creates files ``0600`` whatever the umask, so a node running as another user (systemd, a
container) could not load them while the ``.pt`` files beside them were readable. The engine
cache's TensorRT calls go through ``FakeTensorRT`` (test_engine_cache.py: TensorRT cannot exist
here); the files, the export and the other user are real.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
import shutil
import stat
import tempfile

from msdepth_ros.core.presets import KITTI
from msdepth_ros.inference.engine_cache import BuildSettings, EngineCache, sidecar_path
from msdepth_ros.inference.export import export_onnx
from msdepth_ros.inference.files import atomic_write, atomic_write_bytes
from msdepth_ros.model.checkpoint import save_checkpoint
from msdepth_ros.model.network import build_model, ModelConfig
import pytest
from test_engine_cache import _as_nobody, FakeTensorRT
import torch


@contextlib.contextmanager
def _umask(mask: int):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize('mask', [0o022, 0o027, 0o077, 0o002])
def test_atomic_write_gets_the_mode_of_any_new_file(tmp_path, mask):
    with _umask(mask):
        atomic_write_bytes(tmp_path / 'a.bin', b'data')
        atomic_write(tmp_path / 'b.bin', lambda f: f.write(b'more'))
        with open(tmp_path / 'plain.bin', 'wb') as f:
            f.write(b'x')
    assert _mode(tmp_path / 'a.bin') == 0o666 & ~mask
    assert _mode(tmp_path / 'b.bin') == _mode(tmp_path / 'plain.bin')
    assert (tmp_path / 'a.bin').read_bytes() == b'data'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['a.bin', 'b.bin', 'plain.bin']


def test_replacing_a_file_keeps_it_atomic_and_readable(tmp_path):
    target = tmp_path / 'model.onnx'
    target.write_bytes(b'old')
    with _umask(0o022):
        atomic_write_bytes(target, b'new')
    assert target.read_bytes() == b'new' and _mode(target) == 0o644
    with pytest.raises(RuntimeError), _umask(0o022):
        atomic_write(target, lambda f: (_ for _ in ()).throw(RuntimeError('write failed')))
    assert target.read_bytes() == b'new'
    assert [p.name for p in tmp_path.iterdir()] == ['model.onnx']


def _read_all(paths: list[str]) -> list[str]:
    lines = []
    for path in paths:
        try:
            with open(path, 'rb') as f:
                lines.append(f'{Path(path).name} {len(f.read())}')
        except OSError as exc:
            lines.append(f'{Path(path).name} {type(exc).__name__}')
    return lines


@pytest.mark.skipif(os.geteuid() != 0, reason='reading as another user needs root to switch')
def test_exported_models_and_engines_are_readable_by_another_user():
    # A folder every user can enter (pytest's tmp_path is private to its user).
    folder = Path(tempfile.mkdtemp(prefix='msdepth-files-'))
    try:
        folder.chmod(0o755)
        torch.manual_seed(0)
        model = build_model(ModelConfig.for_preset('kitti', coarse_fc_width=8)).eval()
        with _umask(0o022):
            checkpoint = save_checkpoint(folder / 'model.pt', model)
            onnx_path = export_onnx(model, folder / 'model.onnx').path
            cache = EngineCache(folder / 'engines', FakeTensorRT())
            shape = (1, 3, KITTI.input_height, KITTI.input_width)
            engine = cache.load_or_build(str(onnx_path), onnx_path.read_bytes(),
                                         BuildSettings(), shape)
        files = [checkpoint, onnx_path, engine.path, sidecar_path(engine.path)]
        modes = {p.name: oct(_mode(p)) for p in files}
        assert set(modes.values()) == {oct(0o644)}, modes
        lines = _as_nobody(_read_all, [str(p) for p in files])
        assert lines == [f'{p.name} {p.stat().st_size}' for p in files]
    finally:
        shutil.rmtree(folder)
