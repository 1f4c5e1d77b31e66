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
The engine cache: keys, first-use builds, atomic files, rebuilds, read-only folders.

TensorRT's libraries and a CUDA GPU cannot exist on the machines these tests run on (its Python
bindings alone do not import), so the four TensorRT calls the cache makes (version, device
identity, build, deserialize) go through the ``TensorRTToolkit`` seam and are replaced here by
``FakeTensorRT``, which "builds" an engine as bytes that name their inputs and refuses to
deserialize anything else. Everything else (keys, files, warnings, errors) is the real code.
``benchmarks/gpu_check.py`` and ``test/test_gpu_backends.py`` run the real TensorRT path where a
GPU is present.
"""

from __future__ import annotations

from dataclasses import replace
import json
import logging
import os
from pathlib import Path
import shutil
import tempfile
import types

from msdepth_ros.core.presets import KITTI, NYU
from msdepth_ros.inference.engine_cache import (BuildSettings, DeviceIdentity, EngineBuildError,
                                                EngineCache, EngineCacheError,
                                                EngineDeserializeError, EngineKey, sidecar_path)
from msdepth_ros.inference.files import sha256_bytes
from msdepth_ros.inference.interface import BackendError
from msdepth_ros.inference.onnx_model import metadata_for
import pytest

ONNX = b'onnx model bytes v1'
SHAPE = (1, 3, KITTI.input_height, KITTI.input_width)


class FakeTensorRT:
    """Stand-in for TensorRT (see the module docstring): deterministic, counts its builds."""

    MAGIC = b'FAKE-ENGINE\n'

    def __init__(self, version: str = '10.3.0', gpu: str = 'Orin', cc: str = '8.7') -> None:
        self._version, self._device = version, DeviceIdentity(gpu, cc)
        self.builds: list[tuple[BuildSettings, bytes | None]] = []

    def version(self) -> str:
        return self._version

    def device_identity(self) -> DeviceIdentity:
        return self._device

    def build(self, onnx_bytes, settings, timing_cache):
        if onnx_bytes.startswith(b'unparsable'):
            raise EngineBuildError('TensorRT could not parse the ONNX model: fake parse error')
        self.builds.append((settings, timing_cache))
        body = json.dumps({'onnx': sha256_bytes(onnx_bytes), 'precision': settings.precision})
        timing = (timing_cache or b'timing') + b'+'
        return self.MAGIC + body.encode(), timing

    def deserialize(self, engine_bytes, dla_core):
        if not engine_bytes.startswith(self.MAGIC):
            raise EngineDeserializeError('TensorRT could not deserialize it (fake check)')
        try:
            return json.loads(engine_bytes[len(self.MAGIC):])
        except ValueError:
            raise EngineDeserializeError('truncated engine (fake check)') from None


@pytest.fixture
def fake():
    return FakeTensorRT()


@pytest.fixture
def cache(tmp_path, fake):
    return EngineCache(tmp_path / 'engines', fake)


def _load(cache, onnx=ONNX, settings=BuildSettings(), shape=SHAPE):
    return cache.load_or_build('model.onnx', onnx, settings, shape,
                               metadata_for({'preset': KITTI.to_dict()}, 'fp32'))


def test_key_changes_with_each_of_its_inputs(fake):
    base_settings = BuildSettings()
    base = EngineCache('unused', fake).key_for(ONNX, base_settings, SHAPE)
    assert EngineCache('unused', FakeTensorRT()).key_for(ONNX, base_settings, SHAPE) == base
    variants = {
        'onnx content': EngineCache('u', fake).key_for(ONNX + b' ', base_settings, SHAPE),
        'tensorrt version': EngineCache('u', FakeTensorRT(version='11.0.0')).key_for(
            ONNX, base_settings, SHAPE),
        'gpu name': EngineCache('u', FakeTensorRT(gpu='RTX 4090')).key_for(
            ONNX, base_settings, SHAPE),
        'compute capability': EngineCache('u', FakeTensorRT(cc='8.9')).key_for(
            ONNX, base_settings, SHAPE),
        'precision': EngineCache('u', fake).key_for(
            ONNX, replace(base_settings, precision='fp16'), SHAPE),
        'input shape': EngineCache('u', fake).key_for(
            ONNX, base_settings, (1, 3, NYU.input_height, NYU.input_width)),
        'workspace': EngineCache('u', fake).key_for(
            ONNX, replace(base_settings, workspace_bytes=2 << 30), SHAPE),
        'optimization level': EngineCache('u', fake).key_for(
            ONNX, replace(base_settings, optimization_level=5), SHAPE),
        'dla core': EngineCache('u', fake).key_for(
            ONNX, replace(base_settings, dla_core=0), SHAPE),
    }
    digests = {name: key.digest for name, key in variants.items()}
    for name, digest in digests.items():
        assert digest != base.digest, f'the key ignores the {name}'
    assert len(set(digests.values())) == len(digests)
    # Every field of the key is covered above (cache_format is the layout version).
    assert set(EngineKey.__dataclass_fields__) - {'cache_format'} == {
        'onnx_sha256', 'tensorrt_version', 'gpu_name', 'compute_capability', 'precision',
        'input_shape', 'workspace_bytes', 'optimization_level', 'dla_core'}


def test_first_use_builds_then_loads_from_disk(cache, fake):
    first = _load(cache)
    assert first.built and len(fake.builds) == 1
    assert first.path.is_file() and first.path.parent == cache.root
    second = _load(EngineCache(cache.root, fake))
    assert not second.built and len(fake.builds) == 1
    assert second.engine == first.engine and second.path == first.path
    side = json.loads(sidecar_path(first.path).read_text())
    assert side['key'] == first.key.to_dict()
    assert json.loads(side['metadata']['msdepth_ros.model_config'])['preset']['name'] == 'kitti'
    leftovers = [p.name for p in cache.root.iterdir() if p.name.startswith('.')]
    assert leftovers == []  # atomic writes leave no temporary files


def test_another_model_or_setting_never_loads_a_stale_engine(cache, fake):
    old = _load(cache)
    new = _load(cache, onnx=ONNX + b' retrained')
    fp16 = _load(cache, settings=BuildSettings(precision='fp16'))
    assert new.built and fp16.built and len(fake.builds) == 3
    assert len({old.path, new.path, fp16.path}) == 3
    assert new.engine['onnx'] == sha256_bytes(ONNX + b' retrained')
    assert fp16.engine['precision'] == 'fp16'


def test_timing_cache_is_kept_and_reused(cache, fake):
    _load(cache)
    _load(cache, settings=BuildSettings(optimization_level=4))
    assert fake.builds[0][1] is None
    assert fake.builds[1][1] == b'timing+'  # the first build's cache, read back from disk
    _load(cache, settings=BuildSettings(optimization_level=5, timing_cache=False))
    assert fake.builds[2][1] is None


@pytest.mark.parametrize('damage', ['garbage', 'truncated', 'empty'])
def test_corrupted_cached_engine_is_rebuilt_with_a_warning(cache, fake, caplog, damage):
    path = _load(cache).path
    good = path.read_bytes()
    path.write_bytes({'garbage': b'\x00\x01not an engine', 'truncated': good[:len(good) // 2],
                      'empty': b''}[damage])
    with caplog.at_level(logging.WARNING, logger='msdepth_ros.inference.engine_cache'):
        again = _load(cache)
    assert again.built and len(fake.builds) == 2
    assert again.rebuilt_reason and str(path) in again.rebuilt_reason
    assert any('rebuilding' in r.getMessage() and str(path) in r.getMessage()
               for r in caplog.records)
    assert path.read_bytes() == good


def test_failed_build_leaves_nothing_behind(cache):
    with pytest.raises(EngineBuildError, match='could not parse'):
        _load(cache, onnx=b'unparsable onnx')
    assert [p.name for p in cache.root.iterdir()] == []


def _read_only_checks(root: Path) -> list[str]:
    """Try a miss and a hit on the read-only cache ``root``; return what happened."""
    cache = EngineCache(root, FakeTensorRT())
    seen = []
    try:
        cache.load_or_build('model.onnx', ONNX + b' other', BuildSettings(), SHAPE)
        seen.append('built')
    except EngineCacheError as exc:
        seen.append(f'ERROR {exc}')
    hit = cache.load_or_build('model.onnx', ONNX, BuildSettings(), SHAPE)
    seen.append(f'HIT built={hit.built}')
    return seen


def _as_nobody(func, *args) -> list[str]:
    """Run ``func(*args)`` in a forked child that dropped root for 'nobody'; return its lines."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: no exec, so the interpreter and imports are the parent's
        code = 1
        try:
            os.close(read_fd)
            os.setgid(65534)
            os.setuid(65534)
            os.write(write_fd, '\n'.join(func(*args)).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    with os.fdopen(read_fd, 'rb') as pipe:
        out = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, out
    return out.splitlines()


def test_read_only_cache_serves_its_engines_and_refuses_to_build():
    """
    A read-only folder with the engine loads; one that needs a build is a clear error.

    Root ignores permission bits, so as root the checks run in a forked child as 'nobody'
    (the folder lives under /tmp, which every user can traverse).
    """
    top = Path(tempfile.mkdtemp(prefix='msdepth-ro-', dir='/tmp'))
    root = top / 'engines'
    try:
        EngineCache(root, FakeTensorRT()).load_or_build('model.onnx', ONNX, BuildSettings(),
                                                        SHAPE)
        top.chmod(0o755)
        root.chmod(0o555)
        for path in root.iterdir():
            path.chmod(0o444)
        seen = _read_only_checks(root) if os.geteuid() != 0 else _as_nobody(
            _read_only_checks, root)
        assert seen[0].startswith(f'ERROR engine cache {root} is not writable'), seen
        assert 'MSDEPTH_ENGINE_CACHE' in seen[0]
        assert seen[1] == 'HIT built=False'
    finally:
        root.chmod(0o755)
        shutil.rmtree(top)


def test_cache_under_a_file_is_a_clear_error(tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text('x')
    with pytest.raises(EngineCacheError, match='not writable'):
        _load(EngineCache(blocker / 'engines', FakeTensorRT()))


def test_settings_are_validated():
    with pytest.raises(BackendError, match='precision'):
        BuildSettings(precision='int8')
    with pytest.raises(BackendError, match='workspace'):
        BuildSettings(workspace_bytes=1000)
    with pytest.raises(BackendError, match='optimization level'):
        BuildSettings(optimization_level=6)
    with pytest.raises(BackendError, match='DLA core'):
        BuildSettings(dla_core=-1)


def test_corrupt_engine_file_loaded_directly_names_the_file(tmp_path, fake):
    from msdepth_ros.inference.tensorrt_backend import load_engine_file
    path = tmp_path / 'model.engine'
    path.write_bytes(b'corrupt')
    with pytest.raises(BackendError, match='not a usable TensorRT engine') as info:
        load_engine_file(path, fake, None)
    assert str(path) in str(info.value) and 'Load the ONNX instead' in str(info.value)


def _fake_trt_module(major: int) -> types.SimpleNamespace:
    """Build a module-like namespace shaped like TensorRT 10 (precision flags) or 11 (none)."""
    flags = {'GPU_FALLBACK': 'GPU_FALLBACK'}
    if major < 11:
        flags['FP16'] = 'FP16'
    return types.SimpleNamespace(__version__=f'{major}.1.0',
                                 BuilderFlag=types.SimpleNamespace(**flags))


@pytest.mark.parametrize('major, onnx_precision, asked, expected', [
    (10, 'fp32', 'auto', 'fp32'),
    (10, 'fp32', 'fp16', 'fp16'),      # BuilderFlag.FP16 on an FP32 ONNX
    (10, 'fp16', 'auto', 'fp16'),
    (11, 'fp16', 'auto', 'fp16'),      # strongly typed: the ONNX decides
    (11, 'fp32', 'auto', 'fp32'),
])
def test_engine_precision_follows_the_tensorrt_version(major, onnx_precision, asked, expected):
    from msdepth_ros.inference.tensorrt_backend import resolve_engine_precision
    trt = _fake_trt_module(major)
    assert resolve_engine_precision(trt, asked, onnx_precision, None, Path('m.onnx')) == expected


def test_tensorrt_11_needs_an_fp16_onnx_for_fp16():
    from msdepth_ros.inference.tensorrt_backend import resolve_engine_precision
    with pytest.raises(BackendError, match='--fp16'):
        resolve_engine_precision(_fake_trt_module(11), 'fp16', 'fp32', None, Path('m.onnx'))
    with pytest.raises(BackendError, match='ONNX Runtime only'):
        resolve_engine_precision(_fake_trt_module(10), 'auto', 'int8', None, Path('m.onnx'))
    with pytest.raises(BackendError, match='DLA runs FP16'):
        resolve_engine_precision(_fake_trt_module(10), 'fp32', 'fp32', 0, Path('m.onnx'))
    trt10 = _fake_trt_module(10)
    assert resolve_engine_precision(trt10, 'auto', 'fp32', 0, Path('m.onnx')) == 'fp16'
