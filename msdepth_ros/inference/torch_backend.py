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
PyTorch backend: a checkpoint on the CPU or a CUDA GPU.

On CUDA the network can run in FP16, and its static-shape forward pass is captured once as a
CUDA graph and replayed for every frame, which removes the per-layer launch overhead that
dominates a small network at batch 1. Input and output go through pinned host buffers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from msdepth_ros.inference.interface import Backend, BackendError, BackendInfo
import numpy as np

TORCH_PRECISIONS = ('auto', 'fp32', 'fp16')


class TorchBackend(Backend):
    """
    Runs a ``.pt`` checkpoint with PyTorch.

    Parameters
    ----------
    model_path:
        The checkpoint.
    device:
        ``auto`` (the first CUDA GPU where PyTorch sees one, else the CPU), ``cpu``, ``cuda``
        or ``cuda:N``.
    precision:
        ``fp32``, ``fp16`` (CUDA only) or ``auto`` (fp32).
    cuda_graphs:
        Capture the forward pass as a CUDA graph (CUDA only); default on with CUDA.
    threads:
        CPU threads for PyTorch's intra-op pool (0: PyTorch's default). This is a process-wide
        setting of PyTorch.

    """

    def __init__(self, model_path: Path, device: str = 'auto', precision: str = 'auto',
                 cuda_graphs: bool | None = None, threads: int = 0) -> None:
        try:
            import torch
        except ImportError:
            raise BackendError(f'{model_path}: backend torch: PyTorch is not installed') from None
        from msdepth_ros.model.checkpoint import CheckpointError, load_checkpoint
        if model_path.suffix != '.pt':
            raise BackendError(f'{model_path}: the torch backend loads .pt checkpoints')
        if precision not in TORCH_PRECISIONS:
            raise BackendError(f'backend torch: precision must be one of {TORCH_PRECISIONS}, '
                               f'got {precision!r}')
        self._torch = torch
        from msdepth_ros.model.device import DeviceError, select_device
        try:
            self._device = select_device(device)
        except DeviceError as exc:
            raise BackendError(f'{model_path}: backend torch: {exc}') from None
        on_cuda = self._device.type == 'cuda'
        precision = 'fp32' if precision == 'auto' else precision
        if precision == 'fp16' and not on_cuda:
            raise BackendError(f'{model_path}: backend torch: fp16 needs a CUDA device, not '
                               f'{self._device}')
        if cuda_graphs and not on_cuda:
            raise BackendError(f'{model_path}: backend torch: CUDA graphs need a CUDA device, '
                               f'not {self._device}')
        if threads:
            torch.set_num_threads(int(threads))
        try:
            checkpoint = load_checkpoint(model_path, device='cpu')
        except CheckpointError as exc:
            raise BackendError(str(exc)) from None
        self.preset = checkpoint.config.preset
        model = checkpoint.model.to(self._device)
        self._dtype = torch.float16 if precision == 'fp16' else torch.float32
        if precision == 'fp16':
            model = model.half()
        self._model = model.eval()
        self._graph: Any = None
        details: dict[str, Any] = {'torch': torch.__version__,
                                   'model_config': checkpoint.config.to_dict()}
        if on_cuda:
            self._setup_cuda(bool(cuda_graphs is None or cuda_graphs))
            details['cuda_graphs'] = self._graph is not None
            details['gpu'] = torch.cuda.get_device_name(self._device)
        else:
            details['threads'] = torch.get_num_threads()
        self.info = BackendInfo(name='torch', device=str(self._device), precision=precision,
                                model_path=str(model_path), details=details)

    def _setup_cuda(self, capture_graph: bool) -> None:
        torch = self._torch
        # Static buffers: the graph (when captured) reads and writes these addresses.
        self._host_in = torch.empty(self.input_shape, dtype=torch.float32, pin_memory=True)
        self._host_out = torch.empty(self.output_shape, dtype=torch.float32, pin_memory=True)
        self._dev_in = torch.empty(self.input_shape, dtype=self._dtype, device=self._device)
        self._stream = torch.cuda.Stream(device=self._device)
        # The weights were copied to the GPU on the default stream: wait for them.
        self._stream.wait_stream(torch.cuda.current_stream(self._device))
        # no_grad rather than inference_mode for the capture: the graph's static output must
        # stay an ordinary tensor that later calls may read under any mode.
        with torch.no_grad(), torch.cuda.stream(self._stream):
            # Warm up on the side stream (cuDNN picks its algorithms) before any capture.
            for _ in range(3):
                self._dev_out = self._model(self._dev_in)
            self._stream.synchronize()
            if capture_graph:
                graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(graph, stream=self._stream):
                    self._dev_out = self._model(self._dev_in)
                self._graph = graph
        self._stream.synchronize()

    def predict(self, image: np.ndarray) -> np.ndarray:
        """Run the network on one preprocessed input (see ``Backend.predict``)."""
        self.check_input(image)
        torch = self._torch
        if self._device.type == 'cpu':
            with torch.inference_mode():
                return self._model(torch.from_numpy(image))[0, 0].numpy()
        with torch.inference_mode(), torch.cuda.stream(self._stream):
            self._host_in.numpy()[...] = image
            self._dev_in.copy_(self._host_in, non_blocking=True)
            if self._graph is not None:
                self._graph.replay()
            else:
                self._dev_out = self._model(self._dev_in)
            self._host_out.copy_(self._dev_out[0, 0], non_blocking=True)
        self._stream.synchronize()
        return self._host_out.numpy()

    def close(self) -> None:
        """Drop the graph and device buffers."""
        self._graph = None
        for name in ('_dev_in', '_dev_out', '_host_in', '_host_out'):
            if hasattr(self, name):
                delattr(self, name)
