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
TensorRT backend: an engine built from the exported ONNX through the engine cache, or loaded.

The engine comes from the exported ONNX (built on first use and cached) or from a serialized
engine file with the JSON the cache writes beside it.

Runs with the named-tensor API (``set_tensor_address`` + ``execute_async_v3``) on a
non-default CUDA stream, which TensorRT 10 and 11 share (older versions are refused with the
versions supported; ``devices.tensorrt_version_problem``). Device memory comes from PyTorch CUDA
tensors where PyTorch has CUDA, else from cuda-python (``gpu_memory``; the ``memory`` option
forces one). Precision differs by version:
TensorRT 10 builds FP16 from an FP32 ONNX with ``BuilderFlag.FP16``; TensorRT 11 removed the
precision flags (every network is strongly typed), so FP16 comes from an FP16 ONNX
(``msdepth-export --fp16``). On a Jetson, ``dla_core`` puts the network on a DLA core with GPU
fallback for the layers DLA cannot run.

``tensorrt`` is imported only when this backend is constructed. This module cannot run without
a CUDA GPU; ``benchmarks/gpu_check.py`` exercises it where one is present.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from msdepth_ros.inference.devices import MEMORY_PATHS
from msdepth_ros.inference.engine_cache import (BuildSettings, default_cache_dir, DeviceIdentity,
                                                EngineBuildError, EngineCache,
                                                EngineDeserializeError, sidecar_path)
from msdepth_ros.inference.gpu_memory import device_identity, open_memory
from msdepth_ros.inference.interface import Backend, BackendError, BackendInfo
from msdepth_ros.inference.onnx_model import (check_io_shapes, INPUT_NAME, OUTPUT_NAME,
                                              parse_metadata, read_onnx_file)
import numpy as np

TRT_PRECISIONS = ('auto', 'fp32', 'fp16')


def import_tensorrt() -> Any:
    """Import a supported ``tensorrt`` (10.x, 11.x), or raise ``BackendError`` saying why not."""
    from msdepth_ros.inference.devices import tensorrt_version_problem, try_import
    trt, why = try_import('tensorrt')
    if trt is None:
        raise BackendError(f'backend tensorrt: {why}; install TensorRT (pip install tensorrt, '
                           'or JetPack on a Jetson) or use the onnxruntime backend')
    problem = tensorrt_version_problem(trt.__version__)
    if problem:
        raise BackendError(f'backend tensorrt: {problem}')
    return trt


def has_precision_flags(trt: Any) -> bool:
    """Whether this TensorRT still has weak typing (``BuilderFlag.FP16``; gone in 11)."""
    return hasattr(trt.BuilderFlag, 'FP16')


class TensorRTRuntime:
    """
    The real ``engine_cache.TensorRTToolkit``: TensorRT's builder and runtime on one GPU.

    Parameters
    ----------
    trt:
        The imported ``tensorrt`` module.
    device_index:
        CUDA device to build for and run on.
    memory:
        The memory path (``torch`` or ``cuda-python``) that names the GPU.

    """

    def __init__(self, trt: Any, device_index: int = 0, memory: str = 'torch') -> None:
        self.trt = trt
        self.device_index = device_index
        self.memory = memory
        self.logger = trt.Logger(trt.Logger.WARNING)
        self._runtime: Any = None

    def version(self) -> str:
        """Return TensorRT's version string."""
        return str(self.trt.__version__)

    def device_identity(self) -> DeviceIdentity:
        """Name and compute capability of the GPU, through the memory path."""
        return device_identity(self.memory, self.device_index)

    def build(self, onnx_bytes: bytes, settings: BuildSettings,
              timing_cache: bytes | None) -> tuple[bytes, bytes | None]:
        """Parse the ONNX and build a serialized engine (see ``TensorRTToolkit.build``)."""
        trt = self.trt
        builder = trt.Builder(self.logger)
        # Explicit batch is the only mode since TensorRT 10 (flag 0); TensorRT 11 networks are
        # always strongly typed, so the ONNX's tensor types decide the precision there.
        network = builder.create_network(0)
        parser = trt.OnnxParser(network, self.logger)
        if not parser.parse(onnx_bytes):
            errors = '; '.join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise EngineBuildError(f'TensorRT could not parse the ONNX model: {errors}')
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, settings.workspace_bytes)
        config.builder_optimization_level = settings.optimization_level
        if settings.precision == 'fp16' and has_precision_flags(trt):
            config.set_flag(trt.BuilderFlag.FP16)
        if settings.dla_core is not None:
            if builder.num_DLA_cores <= settings.dla_core:
                raise EngineBuildError(f'DLA core {settings.dla_core} asked for, this device '
                                       f'has {builder.num_DLA_cores}')
            config.default_device_type = trt.DeviceType.DLA
            config.DLA_core = settings.dla_core
            config.set_flag(trt.BuilderFlag.GPU_FALLBACK)
        cache = None
        if settings.timing_cache:
            cache = config.create_timing_cache(timing_cache or b'')
            config.set_timing_cache(cache, ignore_mismatch=False)
        serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            raise EngineBuildError('TensorRT failed to build the engine (see its log above)')
        new_cache = None
        if cache is not None:
            new_cache = bytes(memoryview(config.get_timing_cache().serialize()))
        return bytes(memoryview(serialized)), new_cache

    def deserialize(self, engine_bytes: bytes, dla_core: int | None) -> Any:
        """Deserialize an engine; ``EngineDeserializeError`` when TensorRT refuses it."""
        # One runtime for every engine: it must outlive the engines it deserialized.
        if self._runtime is None:
            self._runtime = self.trt.Runtime(self.logger)
        runtime = self._runtime
        if dla_core is not None:
            runtime.DLA_core = dla_core
        try:
            engine = runtime.deserialize_cuda_engine(engine_bytes)
        except Exception as exc:  # noqa: B902 - the bindings raise RuntimeError or TypeError
            raise EngineDeserializeError(f'TensorRT {self.version()} could not deserialize '
                                         f'it: {exc}') from None
        if engine is None:
            raise EngineDeserializeError(
                f'TensorRT {self.version()} could not deserialize it (built by another '
                'TensorRT version or for another GPU, or corrupt)')
        return engine


class TensorRTBackend(Backend):
    """
    Runs an engine with TensorRT.

    Parameters
    ----------
    model_path:
        An exported ONNX file (the engine is built and cached from it) or a serialized engine
        (``.engine``, ``.plan``) with the JSON the cache writes beside it.
    device_index:
        CUDA device.
    precision:
        ``fp32``, ``fp16`` or ``auto`` (the ONNX's own precision).
    workspace_mib:
        Builder workspace limit in MiB.
    optimization_level:
        Builder optimisation level 0-5.
    dla_core:
        DLA core on a Jetson (GPU fallback on); None for the GPU.
    cache_dir:
        Engine cache folder (``engine_cache.default_cache_dir()`` when None).
    timing_cache:
        Keep a timing cache beside the engines.
    memory:
        Where the buffers come from: ``auto`` (PyTorch CUDA, else cuda-python), ``torch`` or
        ``cuda-python`` (``devices.MEMORY_PATHS``); ``info.details['memory']`` says which ran.
    toolkit:
        The TensorRT seam (``TensorRTRuntime`` when None).

    """

    def __init__(self, model_path: Path, device_index: int = 0, precision: str = 'auto',
                 workspace_mib: int = 1024, optimization_level: int = 3,
                 dla_core: int | None = None, cache_dir: str | Path | None = None,
                 timing_cache: bool = True, memory: str = 'auto', toolkit: Any = None) -> None:
        from msdepth_ros.inference.devices import choose_memory_path, probe_gpus
        trt = import_tensorrt()
        if precision not in TRT_PRECISIONS:
            raise BackendError(f'backend tensorrt: precision must be one of {TRT_PRECISIONS}, '
                               f'got {precision!r}')
        if memory not in MEMORY_PATHS:
            raise BackendError(f'backend tensorrt: memory must be one of {MEMORY_PATHS}, got '
                               f'{memory!r}')
        gpus = probe_gpus()
        if gpus.count <= device_index:
            raise BackendError(f'{model_path}: backend tensorrt: no CUDA device {device_index} '
                               f'({gpus.describe()})')
        memory_kind, why = choose_memory_path(memory)
        if memory_kind is None:
            raise BackendError(f'{model_path}: backend tensorrt: {why}')
        self._trt = trt
        self._memory = open_memory(memory_kind, device_index)
        try:
            self._load(model_path, trt, device_index, precision, workspace_mib,
                       optimization_level, dla_core, cache_dir, timing_cache,
                       toolkit or TensorRTRuntime(trt, device_index, memory_kind))
        except BaseException:
            self.close()
            raise
        self.info.details['memory_choice'] = why

    def _load(self, model_path: Path, trt: Any, device_index: int, precision: str,
              workspace_mib: int, optimization_level: int, dla_core: int | None,
              cache_dir: str | Path | None, timing_cache: bool, toolkit: Any) -> None:
        details: dict[str, Any] = {'tensorrt': trt.__version__,
                                   'strongly_typed_only': not has_precision_flags(trt)}
        if model_path.suffix == '.onnx':
            onnx_bytes, meta = read_onnx_file(model_path)
            settings = BuildSettings(
                precision=resolve_engine_precision(trt, precision, meta.precision, dla_core,
                                                   model_path),
                workspace_bytes=int(workspace_mib) << 20,
                optimization_level=optimization_level, dla_core=dla_core,
                timing_cache=timing_cache)
            cache = EngineCache(cache_dir if cache_dir is not None else default_cache_dir(),
                                toolkit)
            cached = cache.load_or_build(model_path, onnx_bytes, settings, meta.input_shape,
                                         meta.metadata)
            engine, engine_path = cached.engine, cached.path
            details.update(engine=str(cached.path), engine_built=cached.built,
                           engine_key=cached.key.to_dict())
            if cached.rebuilt_reason:
                details['engine_rebuilt'] = cached.rebuilt_reason
            engine_precision = settings.precision
        else:
            meta, key = _engine_description(model_path)
            if dla_core is None:
                dla_core = key.get('dla_core')  # an engine built for a DLA core runs there
            engine = load_engine_file(model_path, toolkit, dla_core)
            engine_path = model_path
            engine_precision = key.get('precision', meta.precision)
            details.update(engine=str(model_path), engine_built=False, engine_key=key)
        self.preset = meta.preset
        self._engine = engine
        self._context = engine.create_execution_context()
        if self._context is None:
            raise BackendError(f'{engine_path}: TensorRT could not create an execution context '
                               '(out of GPU memory?)')
        shapes: dict[str, dict[str, tuple[int, ...]]] = {'inputs': {}, 'outputs': {}}
        dtypes = {}
        for i in range(engine.num_io_tensors):
            name = engine.get_tensor_name(i)
            kind = 'inputs' if engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT \
                else 'outputs'
            shapes[kind][name] = tuple(engine.get_tensor_shape(name))
            dtypes[name] = _numpy_dtype(trt, engine.get_tensor_dtype(name), engine_path)
        check_io_shapes(meta, shapes['inputs'], shapes['outputs'], engine_path)
        addresses = self._memory.allocate({
            INPUT_NAME: (self.input_shape, dtypes[INPUT_NAME]),
            OUTPUT_NAME: ((1, 1, *self.output_shape), dtypes[OUTPUT_NAME])})
        for name, address in addresses.items():
            self._context.set_tensor_address(name, address)
        details.update(memory=self._memory.kind, dla_core=dla_core,
                       model_config=meta.model_config)
        gpu = toolkit.device_identity()
        self.info = BackendInfo(name='tensorrt', device=f'cuda:{device_index} ({gpu.name})'
                                if dla_core is None else f'dla:{dla_core}',
                                precision=engine_precision, model_path=str(model_path),
                                details=details)

    def predict(self, image: np.ndarray) -> np.ndarray:
        """Run the engine on one preprocessed input (see ``Backend.predict``)."""
        self.check_input(image)
        return self._memory.run(self._context.execute_async_v3, {INPUT_NAME: image},
                                OUTPUT_NAME)[0, 0]

    def close(self) -> None:
        """Free device memory, the context and the engine."""
        if getattr(self, '_memory', None) is not None:
            self._memory.free()
            self._memory = None
        self._context = None
        self._engine = None


def load_engine_file(path: Path, toolkit: Any, dla_core: int | None) -> Any:
    """Deserialize an engine file; ``BackendError`` naming the file when it cannot be used."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BackendError(f'{path}: cannot read the engine: {exc.strerror}') from None
    try:
        return toolkit.deserialize(data, dla_core)
    except EngineDeserializeError as exc:
        raise BackendError(f'{path}: not a usable TensorRT engine: {exc}. Load the ONNX '
                           'instead: the engine is then rebuilt for this machine') from None


def _engine_description(path: Path) -> tuple[Any, dict[str, Any]]:
    side = sidecar_path(path)
    if not side.is_file():
        raise BackendError(f'{path}: a bare engine carries no preset and {side.name} is not '
                           'beside it; load the exported ONNX with the tensorrt backend (the '
                           'engine is built and cached from it)')
    try:
        data = json.loads(side.read_text(encoding='utf-8'))
        return parse_metadata(data['metadata'], side), dict(data.get('key', {}))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BackendError(f'{side}: unreadable engine description: {exc}') from None


def resolve_engine_precision(trt: Any, precision: str, onnx_precision: str,
                             dla_core: int | None, path: Path) -> str:
    """
    Decide the engine precision for ``precision`` (``auto``, ``fp32``, ``fp16``).

    ``auto`` is the ONNX file's precision, and FP16 on a DLA core (DLA runs FP16 or INT8 only).
    TensorRT 11 has no precision flags, so there the ONNX must already be the precision asked
    for; ``BackendError`` otherwise. The node (through this backend) and
    ``msdepth-export --tensorrt`` both decide here.
    """
    if onnx_precision == 'int8':
        raise BackendError(f'{path}: an INT8 (dynamically quantized) ONNX runs on ONNX '
                           'Runtime only; build TensorRT engines from the FP32 or FP16 export')
    if precision == 'auto':
        precision = 'fp16' if dla_core is not None else onnx_precision
    if not has_precision_flags(trt) and precision != onnx_precision:
        raise BackendError(
            f'{path}: TensorRT {trt.__version__} takes precision from the ONNX (no precision '
            f'flags since TensorRT 11), and this ONNX is {onnx_precision}; for {precision} '
            f'export with msdepth-export{" --fp16" if precision == "fp16" else ""}')
    if dla_core is not None and precision != 'fp16':
        raise BackendError(f'{path}: DLA runs FP16 (or INT8), not {precision}')
    return precision


def _numpy_dtype(trt: Any, trt_dtype: Any, path: Path) -> np.dtype:
    # Not trt.nptype: in some TensorRT releases its table names np.bool, which numpy 1.24-1.26
    # lack, so it raises for every type there.
    table = {trt.DataType.FLOAT: np.dtype(np.float32), trt.DataType.HALF: np.dtype(np.float16)}
    if trt_dtype not in table:
        raise BackendError(f'{path}: engine tensor type {trt_dtype} is not float32 or float16')
    return table[trt_dtype]
