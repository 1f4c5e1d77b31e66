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

"""PyTorch backend: a checkpoint on the CPU."""

from __future__ import annotations

from pathlib import Path

from msdepth_ros.inference.backend import Backend, BackendError, BackendInfo
import numpy as np


class TorchBackend(Backend):
    """Runs a ``.pt`` checkpoint with PyTorch."""

    def __init__(self, model_path: Path, device: str = 'cpu') -> None:
        try:
            import torch
        except ImportError:
            raise BackendError('backend torch: PyTorch is not installed') from None
        from msdepth_ros.model.checkpoint import CheckpointError, load_checkpoint
        if model_path.suffix != '.pt':
            raise BackendError(f'{model_path}: the torch backend loads .pt checkpoints')
        try:
            checkpoint = load_checkpoint(model_path, device=device)
        except CheckpointError as exc:
            raise BackendError(str(exc)) from None
        self._torch = torch
        self._model = checkpoint.model
        self._device = torch.device(device)
        self.preset = checkpoint.config.preset
        self.info = BackendInfo(name='torch', device=str(self._device), precision='fp32',
                                model_path=str(model_path))

    def predict(self, image: np.ndarray) -> np.ndarray:
        """Run the network on one preprocessed input (see ``Backend.predict``)."""
        torch = self._torch
        with torch.inference_mode():
            x = torch.from_numpy(image).to(self._device)
            return self._model(x)[0, 0].float().cpu().numpy()
