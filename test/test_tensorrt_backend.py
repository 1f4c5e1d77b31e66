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
The TensorRT builder and runtime calls of ``TensorRTRuntime``, against a recording stand-in.

TensorRT's libraries and a CUDA GPU cannot exist on the machines these tests run on, so a
stand-in module shaped like the ``tensorrt`` bindings records the calls; the tests check the
version-dependent choices (``BuilderFlag.FP16`` on TensorRT 10 only, strongly typed networks on
11), the workspace limit, optimisation level, timing cache and DLA set-up, and that failures
become clear errors. ``benchmarks/gpu_check.py`` runs the real bindings on a GPU.
"""

from __future__ import annotations

import types

from msdepth_ros.inference.engine_cache import (BuildSettings, EngineBuildError,
                                                EngineDeserializeError)
from msdepth_ros.inference.tensorrt_backend import TensorRTRuntime
import pytest


class _Recorder:
    def __init__(self, calls: list, name: str, **attrs) -> None:
        self._calls, self._name = calls, name
        self.__dict__.update(attrs)

    def __setattr__(self, key, value):
        if not key.startswith('_') and hasattr(self, '_calls'):
            self._calls.append((f'{self._name}.{key}', value))
        object.__setattr__(self, key, value)


def fake_tensorrt(major: int, parse_ok: bool = True, build_ok: bool = True,
                  dla_cores: int = 0, deserialize_ok: bool = True):
    """Build a stand-in ``tensorrt`` module of the given major version; ``calls`` records."""
    calls: list = []
    flags = {'GPU_FALLBACK': 'GPU_FALLBACK'}
    if major < 11:
        flags['FP16'] = 'FP16'

    class Config(_Recorder):
        def set_memory_pool_limit(self, pool, size):
            calls.append(('set_memory_pool_limit', pool, size))

        def set_flag(self, flag):
            calls.append(('set_flag', flag))

        def create_timing_cache(self, data):
            calls.append(('create_timing_cache', data))
            return types.SimpleNamespace(serialize=lambda: b'new timing')

        def set_timing_cache(self, cache, ignore_mismatch):
            calls.append(('set_timing_cache', ignore_mismatch))

        def get_timing_cache(self):
            return types.SimpleNamespace(serialize=lambda: b'new timing')

    class Builder:
        num_DLA_cores = dla_cores

        def __init__(self, logger):
            pass

        def create_network(self, flags):
            calls.append(('create_network', flags))
            return 'network'

        def create_builder_config(self):
            return Config(calls, 'config')

        def build_serialized_network(self, network, config):
            return b'engine bytes' if build_ok else None

    class Parser:
        num_errors = 0 if parse_ok else 1

        def __init__(self, network, logger):
            pass

        def parse(self, data):
            return parse_ok

        def get_error(self, i):
            return 'In node 3 (Conv): unsupported'

    class Runtime(_Recorder):
        def __init__(self, logger):
            super().__init__(calls, 'runtime')

        def deserialize_cuda_engine(self, data):
            return 'engine' if deserialize_ok else None

    class Logger:
        WARNING = 'warning'

        def __init__(self, level):
            pass

    module = types.SimpleNamespace(
        __version__=f'{major}.2.0', Builder=Builder, OnnxParser=Parser, Runtime=Runtime,
        Logger=Logger, BuilderFlag=types.SimpleNamespace(**flags),
        MemoryPoolType=types.SimpleNamespace(WORKSPACE='WORKSPACE'),
        DeviceType=types.SimpleNamespace(DLA='DLA', GPU='GPU'))
    return module, calls


def test_tensorrt_10_build_sets_fp16_flag_workspace_level_and_timing_cache():
    trt, calls = fake_tensorrt(10)
    engine, timing = TensorRTRuntime(trt).build(
        b'onnx', BuildSettings(precision='fp16', workspace_bytes=256 << 20,
                               optimization_level=4), b'old timing')
    assert engine == b'engine bytes' and timing == b'new timing'
    assert ('create_network', 0) in calls
    assert ('set_memory_pool_limit', 'WORKSPACE', 256 << 20) in calls
    assert ('config.builder_optimization_level', 4) in calls
    assert ('set_flag', 'FP16') in calls
    assert ('create_timing_cache', b'old timing') in calls
    assert ('set_timing_cache', False) in calls


def test_tensorrt_11_build_sets_no_precision_flag():
    trt, calls = fake_tensorrt(11)
    TensorRTRuntime(trt).build(b'onnx', BuildSettings(precision='fp16'), None)
    assert not [c for c in calls if c[0] == 'set_flag']
    assert ('create_timing_cache', b'') in calls


def test_dla_core_with_gpu_fallback():
    trt, calls = fake_tensorrt(10, dla_cores=2)
    TensorRTRuntime(trt).build(b'onnx', BuildSettings(precision='fp16', dla_core=1,
                                                      timing_cache=False), None)
    assert ('config.default_device_type', 'DLA') in calls
    assert ('config.DLA_core', 1) in calls
    assert ('set_flag', 'GPU_FALLBACK') in calls
    assert not [c for c in calls if c[0] == 'create_timing_cache']
    with pytest.raises(EngineBuildError, match='DLA core 2 asked for, this device has 2'):
        TensorRTRuntime(trt).build(b'onnx', BuildSettings(precision='fp16', dla_core=2), None)
    trt, calls = fake_tensorrt(10)
    runtime = TensorRTRuntime(trt)
    assert runtime.deserialize(b'engine', 0) == 'engine'
    assert ('runtime.DLA_core', 0) in calls


def test_parse_build_and_deserialize_failures_are_clear_errors():
    with pytest.raises(EngineBuildError, match='could not parse the ONNX model: In node 3'):
        TensorRTRuntime(fake_tensorrt(10, parse_ok=False)[0]).build(b'x', BuildSettings(), None)
    with pytest.raises(EngineBuildError, match='failed to build'):
        TensorRTRuntime(fake_tensorrt(11, build_ok=False)[0]).build(b'x', BuildSettings(), None)
    with pytest.raises(EngineDeserializeError, match='another TensorRT version'):
        TensorRTRuntime(fake_tensorrt(10, deserialize_ok=False)[0]).deserialize(b'x', None)
