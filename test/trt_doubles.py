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
Strict test doubles of TensorRT's and cuda-python's Python APIs, and a stand-in CUDA driver.

TensorRT and cuda-python need a CUDA GPU, which the machines these tests run on do not have;
these doubles stand in for them and say so. They offer exactly the names of each API that
msdepth_ros uses, listed once below with the version they come from, and nothing else: reading,
calling or setting any other name raises ``AttributeError``, so a misspelt property or method
fails a test instead of passing it. ``test_tensorrt_backend`` checks that the doubles offer
exactly these lists.

The doubles behave enough like the real thing to run the backend end to end on the CPU: the
ONNX parser reads the real ONNX file's inputs and outputs, the "engine" is bytes naming them,
cuda-python's "device memory" is host memory, and the engine's execution is a copy of the input
buffer's first bytes into the output buffer (what ``benchmarks/gpu_check.py`` does on a GPU).
"""

from __future__ import annotations

import ctypes
import json
from pathlib import Path
import shutil
import subprocess
import sys
import types
from typing import Any, Callable

import numpy as np

#: Every name of TensorRT's Python API that msdepth_ros uses, as TensorRT 10.3 spells it: the
#: module's names, then each class's. Read from NVIDIA/TensorRT's bindings
#: (python/src/infer/pyCore.cpp, python/src/parsers/pyOnnx.cpp) of 8.6 and of a later 10.x
#: release: each name is in both, so in 10.3. ``trt.nptype`` is deliberately not among them.
TENSORRT_10_3_API: dict[str, tuple[str, ...]] = {
    'tensorrt': ('__version__', 'Logger', 'Builder', 'OnnxParser', 'Runtime', 'BuilderFlag',
                 'MemoryPoolType', 'DeviceType', 'TensorIOMode', 'DataType'),
    'Logger': ('WARNING',),
    'Builder': ('create_network', 'num_DLA_cores', 'create_builder_config',
                'build_serialized_network'),
    'INetworkDefinition': (),
    'OnnxParser': ('parse', 'num_errors', 'get_error'),
    'IBuilderConfig': ('set_memory_pool_limit', 'builder_optimization_level', 'set_flag',
                       'default_device_type', 'DLA_core', 'create_timing_cache',
                       'set_timing_cache', 'get_timing_cache'),
    'ITimingCache': ('serialize',),
    'Runtime': ('deserialize_cuda_engine', 'DLA_core'),
    'ICudaEngine': ('num_io_tensors', 'get_tensor_name', 'get_tensor_mode', 'get_tensor_shape',
                    'get_tensor_dtype', 'create_execution_context'),
    'IExecutionContext': ('set_tensor_address', 'execute_async_v3'),
    'BuilderFlag': ('FP16', 'GPU_FALLBACK'),
    'MemoryPoolType': ('WORKSPACE',),
    'DeviceType': ('GPU', 'DLA'),
    'TensorIOMode': ('INPUT', 'OUTPUT'),
    'DataType': ('FLOAT', 'HALF'),
}

#: The properties of those that can be set (the rest are methods or read-only).
TENSORRT_WRITABLE: dict[str, tuple[str, ...]] = {
    'IBuilderConfig': ('builder_optimization_level', 'default_device_type', 'DLA_core'),
    'Runtime': ('DLA_core',),
}

#: What TensorRT 11 removed of ``TENSORRT_10_3_API`` (the weak-typing precision flags; NVIDIA's
#: "Removed Python APIs" list of the 10.x to 11.x migration guide). The backend guards these.
TENSORRT_11_REMOVED: dict[str, tuple[str, ...]] = {'BuilderFlag': ('FP16',)}

#: Every name of cuda-python's runtime bindings (``cuda.bindings.runtime``, cuda-python 12.x;
#: ``cuda.cudart`` before 12.6) that msdepth_ros uses, then the names inside its two enums.
#: Each call returns ``(cudaError_t, *values)``.
CUDART_12_API: dict[str, tuple[str, ...]] = {
    'cuda.bindings.runtime': ('cudaError_t', 'cudaGetDeviceProperties', 'cudaSetDevice',
                              'cudaStreamCreateWithFlags', 'cudaStreamNonBlocking',
                              'cudaStreamSynchronize', 'cudaStreamDestroy', 'cudaMalloc',
                              'cudaMallocHost', 'cudaFree', 'cudaFreeHost', 'cudaMemcpyAsync',
                              'cudaMemcpyKind'),
    'cudaError_t': ('cudaSuccess',),
    'cudaMemcpyKind': ('cudaMemcpyHostToDevice', 'cudaMemcpyDeviceToHost',
                       'cudaMemcpyDeviceToDevice'),
}


class _Value:
    """An enum member of a double (compares by identity, prints its name)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


class _Strict:
    """Base of the doubles' classes: public attributes can be set only where TensorRT allows."""

    _writable: tuple[str, ...] = ()

    def __setattr__(self, key: str, value: Any) -> None:
        if not key.startswith('_'):
            if key not in self._writable:
                raise AttributeError(f'{type(self).__name__}.{key} cannot be set: TensorRT '
                                     '10.3 has no such writable property')
            self._calls.append((f'{type(self).__name__}.{key}', value))
        object.__setattr__(self, key, value)


def public_names(obj: Any) -> set[str]:
    """Names a double offers (its public attributes, and ``__version__``)."""
    return {n for n in dir(obj) if not n.startswith('_') or n == '__version__'}


def fake_tensorrt(version: str = '10.3.0', parse_ok: bool = True, build_ok: bool = True,
                  dla_cores: int = 0, deserialize_ok: bool = True,
                  execute: Callable[[dict[str, int], dict[str, tuple], int], bool] | None = None
                  ) -> tuple[types.ModuleType, list]:
    """
    Build a strict ``tensorrt`` double of ``version`` (11.x drops ``TENSORRT_11_REMOVED``).

    ``execute(addresses, io, stream)`` is the engine's execution (default: ``copy_kernel``).
    Returns the module and the list that records its calls.
    """
    calls: list = []
    major = int(version.split('.')[0])
    removed = TENSORRT_11_REMOVED if major >= 11 else {}
    enums = {name: type(name, (), {v: _Value(f'{name}.{v}') for v in TENSORRT_10_3_API[name]
                                   if v not in removed.get(name, ())})
             for name in ('BuilderFlag', 'MemoryPoolType', 'DeviceType', 'TensorIOMode',
                          'DataType')}
    io_mode, data_type = enums['TensorIOMode'], enums['DataType']
    run = execute or copy_kernel

    class Logger:
        WARNING = _Value('Logger.WARNING')

        def __init__(self, min_severity: Any) -> None:
            pass

    class INetworkDefinition(_Strict):
        def __init__(self) -> None:
            self._calls = calls
            self._io: list = []

    class OnnxParser(_Strict):
        def __init__(self, network: INetworkDefinition, logger: Logger) -> None:
            self._calls, self._network, self._errors = calls, network, []

        def parse(self, model: bytes) -> bool:
            if not parse_ok:
                self._errors.append('In node 3 (Conv): unsupported')
                return False
            try:
                self._network._io = onnx_io(bytes(model))
            except Exception as exc:  # noqa: B902 - the real parser reports, never raises
                self._errors.append(f'not an ONNX model: {exc}')
                return False
            return True

        @property
        def num_errors(self) -> int:
            return len(self._errors)

        def get_error(self, index: int) -> str:
            return self._errors[index]

    class ITimingCache(_Strict):
        def __init__(self, data: bytes) -> None:
            self._calls, self._data = calls, data

        def serialize(self) -> bytes:
            return b'timing:' + self._data

    class IBuilderConfig(_Strict):
        _writable = TENSORRT_WRITABLE['IBuilderConfig']
        builder_optimization_level = 3
        default_device_type = enums['DeviceType'].GPU
        DLA_core = -1

        def __init__(self) -> None:
            self._calls = calls
            self._cache = None

        def set_memory_pool_limit(self, pool: Any, pool_size: int) -> None:
            calls.append(('set_memory_pool_limit', pool, pool_size))

        def set_flag(self, flag: Any) -> None:
            calls.append(('set_flag', flag))

        def create_timing_cache(self, serialized_timing_cache: bytes) -> ITimingCache:
            calls.append(('create_timing_cache', bytes(serialized_timing_cache)))
            return ITimingCache(bytes(serialized_timing_cache))

        def set_timing_cache(self, cache: ITimingCache, ignore_mismatch: bool) -> bool:
            calls.append(('set_timing_cache', ignore_mismatch))
            self._cache = cache
            return True

        def get_timing_cache(self) -> ITimingCache:
            return self._cache

    class Builder(_Strict):
        num_DLA_cores = dla_cores

        def __init__(self, logger: Logger) -> None:
            self._calls = calls

        def create_network(self, flags: int = 0) -> INetworkDefinition:
            calls.append(('create_network', flags))
            return INetworkDefinition()

        def create_builder_config(self) -> IBuilderConfig:
            return IBuilderConfig()

        def build_serialized_network(self, network: INetworkDefinition,
                                     config: IBuilderConfig) -> bytes | None:
            calls.append(('build_serialized_network',))
            if not build_ok:
                return None
            return b'ENGINE-DOUBLE' + json.dumps(network._io).encode()

    class IExecutionContext(_Strict):
        def __init__(self, io: dict[str, tuple]) -> None:
            self._calls, self._io, self._addresses = calls, io, {}

        def set_tensor_address(self, name: str, memory: int) -> bool:
            calls.append(('set_tensor_address', name))
            self._addresses[name] = int(memory)
            return True

        def execute_async_v3(self, stream_handle: int) -> bool:
            calls.append(('execute_async_v3', int(stream_handle)))
            return run(self._addresses, self._io, int(stream_handle))

    class ICudaEngine(_Strict):
        def __init__(self, io: list) -> None:
            self._calls = calls
            self._io = {name: (mode, tuple(shape), dtype) for name, mode, shape, dtype in io}
            self._names = [entry[0] for entry in io]

        @property
        def num_io_tensors(self) -> int:
            return len(self._names)

        def get_tensor_name(self, index: int) -> str:
            return self._names[index]

        def get_tensor_mode(self, name: str) -> Any:
            return getattr(io_mode, self._io[name][0])

        def get_tensor_shape(self, name: str) -> tuple[int, ...]:
            return self._io[name][1]

        def get_tensor_dtype(self, name: str) -> Any:
            return getattr(data_type, self._io[name][2])

        def create_execution_context(self) -> IExecutionContext:
            return IExecutionContext(self._io)

    class Runtime(_Strict):
        _writable = TENSORRT_WRITABLE['Runtime']
        DLA_core = -1

        def __init__(self, logger: Logger) -> None:
            self._calls = calls

        def deserialize_cuda_engine(self, serialized_engine: bytes) -> ICudaEngine | None:
            data = bytes(serialized_engine)
            if not deserialize_ok or not data.startswith(b'ENGINE-DOUBLE'):
                return None
            try:
                return ICudaEngine(json.loads(data[len(b'ENGINE-DOUBLE'):]))
            except ValueError:
                return None

    module = types.ModuleType('tensorrt', 'Strict TensorRT double (see test/trt_doubles.py)')
    module.__version__ = version
    for cls in (Logger, Builder, OnnxParser, Runtime):
        setattr(module, cls.__name__, cls)
    for name, enum in enums.items():
        setattr(module, name, enum)
    module._classes = {cls.__name__: cls for cls in (
        Logger, Builder, INetworkDefinition, OnnxParser, IBuilderConfig, ITimingCache, Runtime,
        ICudaEngine, IExecutionContext)} | enums
    return module, calls


def onnx_io(model: bytes) -> list[tuple[str, str, list[int], str]]:
    """``(name, INPUT/OUTPUT, shape, FLOAT/HALF)`` of an ONNX model's graph inputs and outputs."""
    import onnx
    graph = onnx.load_from_string(model).graph
    types_ = {onnx.TensorProto.FLOAT: 'FLOAT', onnx.TensorProto.FLOAT16: 'HALF'}
    out = []
    for mode, values in (('INPUT', graph.input), ('OUTPUT', graph.output)):
        for value in values:
            tensor = value.type.tensor_type
            out.append((value.name, mode, [d.dim_value for d in tensor.shape.dim],
                        types_[tensor.elem_type]))
    return out


def copy_kernel(addresses: dict[str, int], io: dict[str, tuple], stream: int) -> bool:
    """
    Run the doubles' engine: copy the input buffer's first bytes into the output buffer.

    Host memory stands in for device memory (``fake_cudart``), so this is a plain memmove.
    """
    (inp,) = [n for n, (mode, _, _) in io.items() if mode == 'INPUT']
    (out,) = [n for n, (mode, _, _) in io.items() if mode == 'OUTPUT']
    shape, dtype = io[out][1], io[out][2]
    nbytes = int(np.prod(shape)) * (4 if dtype == 'FLOAT' else 2)
    ctypes.memmove(addresses[out], addresses[inp], nbytes)
    return True


class CudartState:
    """What the cuda-python double holds: live allocations and streams, and a record of calls."""

    def __init__(self) -> None:
        self.calls: list = []
        self.buffers: dict[int, Any] = {}
        self.streams: set[int] = set()
        self.device = 0


def fake_cudart(gpu_name: str = 'Stand-in GPU', capability: tuple[int, int] = (8, 7)
                ) -> tuple[types.ModuleType, CudartState]:
    """
    Build a strict ``cuda.bindings.runtime`` double; "device" memory is host memory.

    Every call returns ``(cudaError_t, *values)`` as cuda-python does.
    """
    state = CudartState()
    error = type('cudaError_t', (), {'cudaSuccess': _Value('cudaError_t.cudaSuccess')})
    kinds = type('cudaMemcpyKind', (), {k: _Value(f'cudaMemcpyKind.{k}')
                                        for k in CUDART_12_API['cudaMemcpyKind']})
    ok = error.cudaSuccess

    class Stream:
        def __init__(self, handle: int) -> None:
            self._handle = handle

        def __int__(self) -> int:
            return self._handle

    def alloc(size: int) -> tuple:
        buf = ctypes.create_string_buffer(max(int(size), 1))
        state.buffers[ctypes.addressof(buf)] = buf
        return ok, ctypes.addressof(buf)

    def free(ptr: int) -> tuple:
        state.buffers.pop(int(ptr))
        return (ok,)

    def set_device(device: int) -> tuple:
        state.calls.append(('cudaSetDevice', device))
        state.device = device
        return (ok,)

    def create_stream(flags: int) -> tuple:
        handle = 0x5000 + len(state.calls)
        state.streams.add(handle)
        state.calls.append(('cudaStreamCreateWithFlags', flags))
        return ok, Stream(handle)

    def destroy_stream(stream: Stream) -> tuple:
        state.streams.remove(int(stream))
        return (ok,)

    def memcpy_async(dst: int, src: int, count: int, kind: Any, stream: Stream) -> tuple:
        assert int(stream) in state.streams, 'copy on a stream that does not exist'
        state.calls.append(('cudaMemcpyAsync', kind, int(stream)))
        ctypes.memmove(int(dst), int(src), int(count))
        return (ok,)

    def synchronize(stream: Stream) -> tuple:
        state.calls.append(('cudaStreamSynchronize', int(stream)))
        return (ok,)

    def properties(device: int) -> tuple:
        return ok, types.SimpleNamespace(name=gpu_name.encode() + b'\x00' * 3,
                                         major=capability[0], minor=capability[1])

    module = types.ModuleType('cuda.bindings.runtime', 'Strict cuda-python double')
    for name, value in {'cudaError_t': error, 'cudaGetDeviceProperties': properties,
                        'cudaSetDevice': set_device, 'cudaStreamCreateWithFlags': create_stream,
                        'cudaStreamNonBlocking': 1, 'cudaStreamSynchronize': synchronize,
                        'cudaStreamDestroy': destroy_stream, 'cudaMalloc': alloc,
                        'cudaMallocHost': alloc, 'cudaFree': free, 'cudaFreeHost': free,
                        'cudaMemcpyAsync': memcpy_async, 'cudaMemcpyKind': kinds}.items():
        setattr(module, name, value)
    return module, state


def install_doubles(modules: dict[str, Any], trt: types.ModuleType | None = None,
                    cudart: types.ModuleType | None = None) -> None:
    """Put the doubles in ``modules`` (``sys.modules``, or a monkeypatched copy of it)."""
    if trt is not None:
        modules['tensorrt'] = trt
    if cudart is not None:
        cuda = types.ModuleType('cuda')
        bindings = types.ModuleType('cuda.bindings')
        cuda.bindings, bindings.runtime = bindings, cudart
        modules.update({'cuda': cuda, 'cuda.bindings': bindings,
                        'cuda.bindings.runtime': cudart})


#: A stand-in CUDA driver: ``cuInit`` returns $STUB_CUINIT_ERROR (default 0) and
#: ``cuDeviceGetCount`` gives $STUB_CUDA_COUNT GPUs (default 1).
STUB_DRIVER_SOURCE = r"""
#include <stdlib.h>
static int env_int(const char *name, int fallback) {
    const char *value = getenv(name);
    return value ? atoi(value) : fallback;
}
int cuInit(unsigned int flags) { (void)flags; return env_int("STUB_CUINIT_ERROR", 0); }
int cuDeviceGetCount(int *count) { *count = env_int("STUB_CUDA_COUNT", 1); return 0; }
"""


def build_stub_driver(folder: Path) -> Path | None:
    """Compile the stand-in ``libcuda.so.1`` into ``folder``; None where no C compiler is."""
    compiler = shutil.which('cc') or shutil.which('gcc')
    if compiler is None or not sys.platform.startswith('linux'):
        return None
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / 'stub_cuda.c'
    source.write_text(STUB_DRIVER_SOURCE)
    library = folder / 'libcuda.so.1'
    subprocess.run([compiler, '-shared', '-fPIC', '-o', str(library), str(source)], check=True)
    return library
