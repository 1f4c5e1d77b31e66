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
The interface every backend implements, and choosing one by name.

A backend holds a loaded model and maps one preprocessed input to log depth; it knows nothing
of cameras or metres. ``load_backend`` picks the implementation from the name (or ``auto``)
and the model file's type.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
import os
from pathlib import Path
from typing import Any

from msdepth_ros.core.presets import Preset
import numpy as np

#: Names accepted by ``load_backend`` (and the node's ``backend`` parameter).
BACKEND_NAMES = ('auto', 'tensorrt', 'onnxruntime', 'torch')


class BackendError(RuntimeError):
    """A model or backend that cannot be used; the message names the file and the cause."""


@dataclass(frozen=True)
class BackendInfo:
    """What a backend runs on, for logs and diagnostics."""

    name: str
    device: str
    precision: str
    model_path: str
    details: dict[str, Any] = field(default_factory=dict)


class Backend(abc.ABC):
    """
    A loaded network that maps a preprocessed input to log depth.

    Subclasses set ``preset`` (the geometry the model was trained with) and ``info``.
    """

    preset: Preset
    info: BackendInfo

    @abc.abstractmethod
    def predict(self, image: np.ndarray) -> np.ndarray:
        """
        Run the network on one input.

        Parameters
        ----------
        image:
            ``1 x 3 x H_in x W_in`` float32, C-contiguous, preprocessed by
            ``core.preprocess.InputPlan.prepare``.

        Returns
        -------
        ``H_out x W_out`` float32 natural-log depth. The array may be a buffer that the next
        call overwrites: copy it to keep it.

        """

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing to free
        """Release device memory and sessions."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
        One of ``BACKEND_NAMES``.
    options:
        Backend-specific options (device, precision, threads ...).

    """
    if backend not in BACKEND_NAMES:
        raise BackendError(f'unknown backend {backend!r}; choose one of {BACKEND_NAMES}')
    path = Path(model_path)
    if not path.is_file():
        raise BackendError(f'{path}: no such model file')
    if backend == 'auto':
        backend = 'torch'
    if backend == 'torch':
        from msdepth_ros.inference.torch_backend import TorchBackend
        return TorchBackend(path, **options)
    raise BackendError(f'backend {backend!r} is not available in this build')
