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
ONNX Runtime backend: an exported ``.onnx`` on the best execution provider present.

Providers are tried in the order TensorRT, CUDA, CPU, keeping those that this ONNX Runtime
build has (and the GPU ones only where a CUDA GPU is present). Idle spinning of ONNX Runtime's
thread pools is off: at camera rates the pool would otherwise burn a core between frames that
the rest of the robot needs. The output is written into one preallocated buffer through an
I/O binding.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from msdepth_ros.inference.interface import Backend, BackendError, BackendInfo
from msdepth_ros.inference.onnx_model import (check_io_shapes, INPUT_NAME, OUTPUT_NAME,
                                              parse_metadata)
import numpy as np

#: Execution providers in order of preference.
PREFERRED_PROVIDERS = ('TensorrtExecutionProvider', 'CUDAExecutionProvider',
                       'CPUExecutionProvider')
GPU_PROVIDERS = ('TensorrtExecutionProvider', 'CUDAExecutionProvider')


def choose_providers(available: Sequence[str], gpu_count: int,
                     requested: Sequence[str] | None = None) -> tuple[list[str], str]:
    """
    Choose the providers of a session, best first, and say why.

    Parameters
    ----------
    available:
        ``onnxruntime.get_available_providers()``.
    gpu_count:
        CUDA GPUs present (GPU providers are skipped without one).
    requested:
        Providers asked for explicitly (each must be available); None to choose.

    Returns
    -------
    ``(providers, reason)``.

    """
    if requested:
        missing = [p for p in requested if p not in available]
        if missing:
            raise BackendError(f'backend onnxruntime: providers {missing} are not in this '
                               f'ONNX Runtime build (it has {list(available)})')
        return list(requested), 'providers asked for'
    chosen = [p for p in PREFERRED_PROVIDERS if p in available
              and (gpu_count > 0 or p not in GPU_PROVIDERS)]
    if 'CPUExecutionProvider' not in chosen:
        chosen.append('CPUExecutionProvider')
    skipped = [p for p in PREFERRED_PROVIDERS[:2] if p in available and p not in chosen]
    absent = [p for p in PREFERRED_PROVIDERS[:2] if p not in available]
    why = []
    if absent:
        why.append(f'not in this build: {", ".join(absent)}')
    if skipped:
        why.append(f'no CUDA GPU for {", ".join(skipped)}')
    return chosen, 'best available provider' + (f' ({"; ".join(why)})' if why else '')


class OnnxRuntimeBackend(Backend):
    """
    Runs an exported ONNX model with ONNX Runtime.

    Parameters
    ----------
    model_path:
        An ONNX file written by ``msdepth-export`` (its metadata holds the preset).
    providers:
        Execution providers to use, best first; None picks from ``PREFERRED_PROVIDERS``.
    threads:
        Intra-op threads (0: ONNX Runtime's default, one per physical core).
    device_index:
        CUDA device for the GPU providers.
    cache_dir:
        Folder for the TensorRT provider's engine and timing caches (default: the engine
        cache folder, ``engine_cache.default_cache_dir()``).

    """

    def __init__(self, model_path: Path, providers: Sequence[str] | None = None,
                 threads: int = 0, device_index: int = 0,
                 cache_dir: str | Path | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise BackendError(f'{model_path}: backend onnxruntime: ONNX Runtime is not '
                               'installed (pip install onnxruntime, or onnxruntime-gpu for '
                               'CUDA and TensorRT)') from None
        if model_path.suffix != '.onnx':
            raise BackendError(f'{model_path}: the onnxruntime backend loads .onnx files')
        if threads < 0:
            raise BackendError(f'backend onnxruntime: threads must be >= 0, got {threads}')
        available = ort.get_available_providers()
        gpu_count = 0
        if any(p in available for p in GPU_PROVIDERS):
            from msdepth_ros.inference.devices import cuda_device_count
            gpu_count = cuda_device_count()
        chosen, why = choose_providers(available, gpu_count, providers)

        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry('session.intra_op.allow_spinning', '0')
        options.add_session_config_entry('session.inter_op.allow_spinning', '0')
        options.log_severity_level = 3  # errors only: provider fallbacks are reported in info
        provider_args = [(p, self._provider_options(p, device_index, cache_dir)) for p in chosen]
        try:
            session = ort.InferenceSession(str(model_path), sess_options=options,
                                           providers=provider_args)
        except Exception as exc:  # noqa: B902 - ORT raises its own exception kinds
            raise BackendError(f'{model_path}: not a readable ONNX model (truncated, corrupt '
                               f'or another format): {_first_line(exc)}') from None
        meta = parse_metadata(session.get_modelmeta().custom_metadata_map, model_path)
        check_io_shapes(meta, {i.name: tuple(i.shape) for i in session.get_inputs()},
                        {o.name: tuple(o.shape) for o in session.get_outputs()}, model_path)
        for tensor in (*session.get_inputs(), *session.get_outputs()):
            if tensor.type != 'tensor(float)':
                raise BackendError(f'{model_path}: tensor {tensor.name!r} is {tensor.type}, '
                                   'expected tensor(float)')
        self.preset = meta.preset
        self._session = session
        self._output = np.empty((1, 1, *self.output_shape), dtype=np.float32)
        self._binding = session.io_binding()
        self._binding.bind_output(OUTPUT_NAME, 'cpu', 0, np.float32, self._output.shape,
                                  self._output.ctypes.data)
        used = session.get_providers()
        self.info = BackendInfo(
            name='onnxruntime', device=used[0], precision=meta.precision,
            model_path=str(model_path),
            details={'onnxruntime': ort.__version__, 'providers': used,
                     'provider_choice': why, 'threads': int(threads),
                     'model_config': meta.model_config})

    @staticmethod
    def _provider_options(provider: str, device_index: int,
                          cache_dir: str | Path | None) -> dict[str, Any]:
        if provider == 'CUDAExecutionProvider':
            return {'device_id': device_index}
        if provider == 'TensorrtExecutionProvider':
            from msdepth_ros.inference.engine_cache import default_cache_dir
            folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
            folder = folder / 'onnxruntime-trt'
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise BackendError(f'backend onnxruntime: TensorRT cache folder {folder} cannot '
                                   f'be created ({exc.strerror or exc}); set cache_dir') from None
            return {'device_id': device_index, 'trt_engine_cache_enable': True,
                    'trt_engine_cache_path': str(folder), 'trt_timing_cache_enable': True,
                    'trt_timing_cache_path': str(folder)}
        return {}

    def predict(self, image: np.ndarray) -> np.ndarray:
        """Run the network on one preprocessed input (see ``Backend.predict``)."""
        self.check_input(image)
        # Binding the input costs a pointer, and the caller may pass another buffer each time.
        self._binding.bind_cpu_input(INPUT_NAME, image)
        self._session.run_with_iobinding(self._binding)
        return self._output[0, 0]

    def close(self) -> None:
        """Release the session."""
        self._binding = None
        self._session = None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
