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
Choosing a backend by name and loading a model with it.

``load_backend`` picks the implementation from the name (or ``auto``) and the model file's
type, and every failure to load is a ``BackendError`` whose message names the file and the
cause. The interface itself lives in ``inference.interface``, which the backends import; this
loader imports them (lazily), never the other way round. ``Backend`` and ``BackendError`` are
re-exported here for the callers (the ROS layer) that read them beside ``load_backend``.
"""

from __future__ import annotations

from dataclasses import replace
import os
from pathlib import Path
from typing import Any

from msdepth_ros.inference.interface import Backend, BackendError

__all__ = ['Backend', 'BACKEND_NAMES', 'BACKEND_OPTIONS', 'BackendError', 'BACKENDS_FOR_KIND',
           'choose_backend', 'gpu_warnings_after_load', 'load_backend', 'MODEL_KINDS',
           'model_kind', 'options_for']

#: Names accepted by ``load_backend`` (and the node's ``backend`` parameter).
BACKEND_NAMES = ('auto', 'tensorrt', 'onnxruntime', 'torch')

#: Model file suffix -> kind of model.
MODEL_KINDS = {'.pt': 'checkpoint', '.onnx': 'onnx', '.engine': 'engine', '.plan': 'engine'}

#: Kind of model -> the backends that load it.
BACKENDS_FOR_KIND = {'checkpoint': ('torch',), 'onnx': ('tensorrt', 'onnxruntime'),
                     'engine': ('tensorrt',)}


def model_kind(path: Path) -> str:
    """``checkpoint``, ``onnx`` or ``engine`` from the file's suffix; ``BackendError`` else."""
    kind = MODEL_KINDS.get(path.suffix.lower())
    if kind is None:
        raise BackendError(f'{path}: unknown model type {path.suffix!r}; expected a checkpoint '
                           '(.pt), an ONNX file (.onnx) or a TensorRT engine (.engine, .plan)')
    return kind


def choose_backend(path: Path, memory: str = 'auto') -> tuple[str, str, list[str]]:
    """
    Pick the backend that ``auto`` uses for ``path``, and say why.

    A checkpoint runs on PyTorch; an engine on TensorRT; an ONNX file on TensorRT where a
    supported TensorRT imports, the CUDA driver reports a GPU and a memory path for TensorRT's
    buffers is present (``memory``: see ``devices.choose_memory_path``), else on ONNX Runtime
    (which picks its best provider).

    Returns
    -------
    ``(backend name, reason, warnings)``: ``warnings`` says why TensorRT was passed over where
    a GPU exists or might. ``BackendError`` when nothing here can run the file.

    """
    from msdepth_ros.inference.devices import (choose_memory_path, probe_gpus,
                                               tensorrt_version_problem, try_import)

    kind = model_kind(path)
    if kind == 'checkpoint':
        return 'torch', 'auto: a .pt checkpoint runs on PyTorch', []
    if kind == 'engine':
        return 'tensorrt', 'auto: a serialized engine runs on TensorRT only', []
    gpus = probe_gpus()
    trt, why_not_trt = try_import('tensorrt')
    if trt is not None:
        version = trt.__version__
        why_not_trt = tensorrt_version_problem(version)
        if not why_not_trt and not gpus.count:
            why_not_trt = f'TensorRT {version} imports but no CUDA GPU is present'
        if not why_not_trt:
            memory_kind, why_memory = choose_memory_path(memory)
            if memory_kind is not None:
                return 'tensorrt', (f'auto: TensorRT {version} imports, {gpus.describe()}, '
                                    f'buffers from {memory_kind}'), []
            why_not_trt = f'TensorRT {version} cannot hold GPU buffers: {why_memory}'
    warnings = [f'tensorrt passed over: {gpus.describe()} but {why_not_trt}'] \
        if gpus.maybe else []
    ort, why_not_ort = try_import('onnxruntime')
    if ort is not None:
        return ('onnxruntime', f'auto: {why_not_trt}; ONNX Runtime {ort.__version__} is used',
                warnings)
    raise BackendError(f'{path}: no backend here can run an ONNX model: {why_not_trt}; '
                       f'{why_not_ort}. Install onnxruntime, or run the .pt checkpoint with '
                       'the torch backend')


def gpu_warnings_after_load(loaded: Backend, options: dict[str, Any]) -> list[str]:
    """
    Say why a backend that ``auto`` loaded runs on the CPU of a machine with a GPU.

    ONNX Runtime without a CUDA provider (the CPU wheel), or one that could not start it, and
    PyTorch without CUDA. Nothing when the CPU was asked for in ``options`` or no GPU exists.
    """
    from msdepth_ros.inference.devices import probe_gpus, torch_cuda_problem
    info = loaded.info
    if info.name == 'onnxruntime' and info.device == 'CPUExecutionProvider' \
            and not options.get('providers'):
        gpus = probe_gpus()
        if not gpus.maybe:
            return []
        import onnxruntime as ort
        available = ort.get_available_providers()
        if 'CUDAExecutionProvider' not in available:
            why = (f'this ONNX Runtime {ort.__version__} build has no CUDA provider (it has '
                   f'{", ".join(available)}; install onnxruntime-gpu instead of onnxruntime)')
        elif not gpus.count:
            why = 'the driver gives it no GPU to run on'
        else:
            why = ('ONNX Runtime could not start its CUDA provider (CUDA or cuDNN libraries '
                   'missing or of another version?) and runs on the CPU')
        return [f'onnxruntime CUDA provider passed over: {gpus.describe()} but {why}']
    if info.name == 'torch' and info.device == 'cpu' and options.get('device', 'auto') == 'auto':
        gpus = probe_gpus()
        if gpus.maybe:
            return [f'torch CUDA passed over: {gpus.describe()} but '
                    f'{torch_cuda_problem() or "PyTorch chose the CPU"}']
    return []


def load_backend(model_path: str | os.PathLike, backend: str = 'auto',
                 **options: Any) -> Backend:
    """
    Load ``model_path`` with the named backend.

    Parameters
    ----------
    model_path:
        A checkpoint (``.pt``), an ONNX file (``.onnx``) or a TensorRT engine
        (``.engine``, ``.plan``).
    backend:
        One of ``BACKEND_NAMES``; ``auto`` picks by file type and what is installed
        (``choose_backend``) and records why in ``info.reason``, and in ``info.warnings``
        why it passed over a GPU backend.
    options:
        ``preset``: the preset name the model must serve (a mismatch is an error); the
        rest go to the backend: ``torch``: ``device``, ``precision``, ``cuda_graphs``,
        ``threads``; ``onnxruntime``: ``providers``, ``threads``, ``device_index``,
        ``cache_dir``; ``tensorrt``: ``device_index``, ``precision``, ``workspace_mib``,
        ``optimization_level``, ``dla_core``, ``cache_dir``, ``timing_cache``, ``memory``
        (``auto``, ``torch``, ``cuda-python``). Options that do not apply to the chosen backend
        are ignored under ``auto``.

    Returns
    -------
    The loaded backend; ``BackendError`` (file and cause in the message) otherwise.

    """
    if backend not in BACKEND_NAMES:
        raise BackendError(f'unknown backend {backend!r}; choose one of {BACKEND_NAMES}')
    path = Path(model_path)
    if not path.exists():
        raise BackendError(f'{path}: no such model file')
    if not path.is_file():
        raise BackendError(f'{path}: not a file')
    kind = model_kind(path)
    want_preset = options.pop('preset', None)
    auto = backend == 'auto'
    warnings: list[str] = []
    if auto:
        backend, reason, warnings = choose_backend(path, options.get('memory', 'auto'))
        options = options_for(backend, options)
    else:
        reason = f'{backend}: asked for'
        if backend not in BACKENDS_FOR_KIND[kind]:
            raise BackendError(_wrong_kind_message(path, kind, backend))
    loaded = _construct(backend, path, options)
    if want_preset is not None and loaded.preset.name != want_preset:
        loaded.close()
        raise BackendError(f'{path}: the model serves preset {loaded.preset.name!r}, not the '
                           f'requested {want_preset!r}')
    if auto:
        warnings += gpu_warnings_after_load(loaded, options)
    loaded.info = replace(loaded.info, reason=reason, warnings=tuple(warnings))
    return loaded


#: Options each backend takes (``auto`` drops the others, so one config serves all).
BACKEND_OPTIONS = {
    'torch': {'device', 'precision', 'cuda_graphs', 'threads'},
    'onnxruntime': {'providers', 'threads', 'device_index', 'cache_dir'},
    'tensorrt': {'device_index', 'precision', 'workspace_mib', 'optimization_level',
                 'dla_core', 'cache_dir', 'timing_cache', 'memory'},
}


def options_for(backend: str, options: dict[str, Any]) -> dict[str, Any]:
    """Return the ``options`` that ``backend`` takes (all of them for ``auto``)."""
    if backend == 'auto':
        return dict(options)
    return {k: v for k, v in options.items() if k in BACKEND_OPTIONS[backend]}


def _construct(backend: str, path: Path, options: dict[str, Any]) -> Backend:
    unknown = set(options) - BACKEND_OPTIONS[backend]
    if unknown:
        raise BackendError(f'backend {backend}: unknown options {sorted(unknown)}; it takes '
                           f'{sorted(BACKEND_OPTIONS[backend])}')
    if backend == 'torch':
        from msdepth_ros.inference.torch_backend import TorchBackend
        return TorchBackend(path, **options)
    if backend == 'onnxruntime':
        from msdepth_ros.inference.onnx_backend import OnnxRuntimeBackend
        return OnnxRuntimeBackend(path, **options)
    from msdepth_ros.inference.tensorrt_backend import TensorRTBackend
    return TensorRTBackend(path, **options)


def _wrong_kind_message(path: Path, kind: str, backend: str) -> str:
    if kind == 'checkpoint':
        return (f'{path}: the {backend} backend does not load PyTorch checkpoints; export it '
                'to ONNX with msdepth-export, or use the torch backend')
    if kind == 'engine':
        return (f'{path}: a TensorRT engine runs only on the tensorrt backend, not '
                f'{backend}')
    return (f'{path}: the torch backend loads .pt checkpoints, not ONNX files; use the '
            'onnxruntime or tensorrt backend')
