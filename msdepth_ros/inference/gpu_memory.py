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
The TensorRT backend's buffers: pinned host and CUDA device memory, and one CUDA stream.

Two paths serve the same calls: PyTorch CUDA tensors (``torch``), and cuda-python's runtime
bindings (``cuda-python``) where PyTorch has no CUDA (a CPU wheel, or a CUDA build newer than the
driver). ``devices.choose_memory_path`` picks one; ``open_memory`` opens it. Each copies the input
to the device, runs the engine and copies the output back on one non-default stream, then waits
for that stream only.
"""

from __future__ import annotations

import ctypes
from typing import Any, Callable

from msdepth_ros.inference.engine_cache import DeviceIdentity
from msdepth_ros.inference.interface import BackendError
import numpy as np

#: ``{tensor name: (shape, numpy dtype)}`` of the engine's inputs and outputs.
TensorSpecs = dict[str, tuple[tuple[int, ...], np.dtype]]

#: ``execute(stream_handle) -> bool``: enqueue the engine on that stream (``execute_async_v3``).
Execute = Callable[[int], bool]


class TorchMemory:
    """Pinned host and CUDA device buffers from PyTorch, on a non-default stream."""

    kind = 'torch'

    def __init__(self, device_index: int) -> None:
        import torch
        self._torch = torch
        self._device = torch.device('cuda', device_index)
        self._stream = torch.cuda.Stream(device=self._device)
        self._dev: dict[str, Any] = {}

    def allocate(self, tensors: TensorSpecs) -> dict[str, int]:
        """Allocate a device buffer per tensor and a pinned host buffer per input and output."""
        torch = self._torch
        table = {np.dtype(np.float32): torch.float32, np.dtype(np.float16): torch.float16}
        self._host = {}
        for name, (shape, dtype) in tensors.items():
            self._dev[name] = torch.empty(shape, dtype=table[np.dtype(dtype)],
                                          device=self._device)
            self._host[name] = torch.empty(shape, dtype=table[np.dtype(dtype)],
                                           pin_memory=True)
        return {name: tensor.data_ptr() for name, tensor in self._dev.items()}

    def run(self, execute: Execute, inputs: dict[str, np.ndarray],
            output: str) -> np.ndarray:
        """Copy ``inputs`` in, ``execute`` on the stream, copy ``output`` back; wait; return it."""
        torch = self._torch
        with torch.cuda.stream(self._stream):
            for name, array in inputs.items():
                self._host[name].numpy()[...] = array  # casts to the engine's input type
                self._dev[name].copy_(self._host[name], non_blocking=True)
            if not execute(self._stream.cuda_stream):
                raise BackendError('TensorRT execute_async_v3 failed (see its log)')
            self._host[output].copy_(self._dev[output], non_blocking=True)
        self._stream.synchronize()
        return self._host[output].numpy().astype(np.float32, copy=False)

    def free(self) -> None:
        """Drop the buffers (PyTorch's caching allocator reclaims them)."""
        self._dev = {}
        self._host = {}


class CudaPythonMemory:
    """Pinned host and device buffers from cuda-python's runtime, on a non-blocking stream."""

    kind = 'cuda-python'

    def __init__(self, device_index: int, cudart: Any) -> None:
        self._cudart = cudart
        self._device_index = device_index
        check_cuda(cudart, cudart.cudaSetDevice(device_index))
        self._stream = check_cuda(cudart, cudart.cudaStreamCreateWithFlags(
            cudart.cudaStreamNonBlocking))[0]
        self._allocations: list[tuple[str, int]] = []
        self._dev: dict[str, int] = {}
        self._host: dict[str, np.ndarray] = {}

    def allocate(self, tensors: TensorSpecs) -> dict[str, int]:
        """Allocate a device buffer per tensor and a pinned host buffer per input and output."""
        cudart = self._cudart
        for name, (shape, dtype) in tensors.items():
            dtype = np.dtype(dtype)
            nbytes = int(np.prod(shape)) * dtype.itemsize
            dev = int(check_cuda(cudart, cudart.cudaMalloc(nbytes))[0])
            self._allocations.append(('device', dev))
            host_ptr = int(check_cuda(cudart, cudart.cudaMallocHost(nbytes))[0])
            self._allocations.append(('host', host_ptr))
            buf = (ctypes.c_byte * nbytes).from_address(host_ptr)
            self._host[name] = np.frombuffer(buf, dtype=dtype).reshape(shape)
            self._dev[name] = dev
        return dict(self._dev)

    def run(self, execute: Execute, inputs: dict[str, np.ndarray],
            output: str) -> np.ndarray:
        """Copy ``inputs`` in, ``execute`` on the stream, copy ``output`` back; wait; return it."""
        cudart = self._cudart
        # The current device is per thread, and the node predicts on its own worker thread.
        check_cuda(cudart, cudart.cudaSetDevice(self._device_index))
        for name, array in inputs.items():
            host = self._host[name]
            host[...] = array  # casts to the engine's input type
            check_cuda(cudart, cudart.cudaMemcpyAsync(
                self._dev[name], host.ctypes.data, host.nbytes,
                cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, self._stream))
        if not execute(int(self._stream)):
            raise BackendError('TensorRT execute_async_v3 failed (see its log)')
        host_out = self._host[output]
        check_cuda(cudart, cudart.cudaMemcpyAsync(
            host_out.ctypes.data, self._dev[output], host_out.nbytes,
            cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost, self._stream))
        check_cuda(cudart, cudart.cudaStreamSynchronize(self._stream))
        return host_out.astype(np.float32, copy=False)

    def free(self) -> None:
        """Free every buffer and the stream."""
        cudart = self._cudart
        for kind, ptr in self._allocations:
            (cudart.cudaFree if kind == 'device' else cudart.cudaFreeHost)(ptr)
        self._allocations = []
        self._dev, self._host = {}, {}
        if self._stream is not None:
            cudart.cudaStreamDestroy(self._stream)
            self._stream = None


def open_memory(kind: str, device_index: int) -> TorchMemory | CudaPythonMemory:
    """Make ``device_index`` current and open the ``torch`` or ``cuda-python`` memory path."""
    if kind == 'torch':
        import torch
        torch.cuda.set_device(device_index)
        return TorchMemory(device_index)
    return CudaPythonMemory(device_index, require_cudart())


def device_identity(kind: str, device_index: int) -> DeviceIdentity:
    """Name and compute capability of the GPU, through the memory path ``kind``."""
    if kind == 'torch':
        import torch
        major, minor = torch.cuda.get_device_capability(device_index)
        return DeviceIdentity(torch.cuda.get_device_name(device_index), f'{major}.{minor}')
    cudart = require_cudart()
    props = check_cuda(cudart, cudart.cudaGetDeviceProperties(device_index))[0]
    name = props.name.decode() if isinstance(props.name, bytes) else str(props.name)
    return DeviceIdentity(name.rstrip('\x00'), f'{props.major}.{props.minor}')


def require_cudart() -> Any:
    """Import cuda-python's runtime, or raise ``BackendError`` saying how to install it."""
    from msdepth_ros.inference.devices import import_cudart
    cudart, why = import_cudart()
    if cudart is None:
        raise BackendError(f'backend tensorrt: {why}; pip install cuda-python')
    return cudart


def check_cuda(cudart: Any, result: Any) -> tuple[Any, ...]:
    """Return the values of a cuda-python call's ``(error, *values)``; ``BackendError`` else."""
    err, *values = result if isinstance(result, tuple) else (result,)
    if err != cudart.cudaError_t.cudaSuccess:
        raise BackendError(f'CUDA error: {err}')
    return tuple(values)
