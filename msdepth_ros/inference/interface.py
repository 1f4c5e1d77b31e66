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
The interface every backend implements: ``Backend``, ``BackendInfo`` and ``BackendError``.

A backend holds a loaded model and maps one preprocessed input to log depth; it knows nothing
of cameras or metres. This module imports no backend: the backends import it, and the loader
(``inference.backend``) imports them, so no module imports another that imports it back.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any

from msdepth_ros.core.presets import Preset
import numpy as np


class BackendError(RuntimeError):
    """A model or backend that cannot be used; the message names the file and the cause."""


@dataclass(frozen=True)
class BackendInfo:
    """
    What a backend runs on, for logs and diagnostics.

    ``reason`` says why this backend was chosen (``auto``) or that it was asked for;
    ``warnings`` has one sentence per GPU backend that ``auto`` passed over while a GPU exists
    or might (empty where there is no GPU, or when a backend was asked for by name).
    """

    name: str
    device: str
    precision: str
    model_path: str
    details: dict[str, Any] = field(default_factory=dict)
    reason: str = ''
    warnings: tuple[str, ...] = ()


class Backend(abc.ABC):
    """
    A loaded network that maps a preprocessed input to log depth.

    Subclasses set ``preset`` (the geometry the model was trained with) and ``info``.
    """

    preset: Preset
    info: BackendInfo

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """``(1, 3, H_in, W_in)``: the only input shape the backend accepts."""
        return (1, 3, self.preset.input_height, self.preset.input_width)

    @property
    def output_shape(self) -> tuple[int, int]:
        """``(H_out, W_out)`` of the log depth that ``predict`` returns."""
        return (self.preset.output_height, self.preset.output_width)

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

    def check_input(self, image: np.ndarray) -> None:
        """Raise ``ValueError`` unless ``image`` is the float32 input this model takes."""
        if image.shape != self.input_shape or image.dtype != np.float32:
            raise ValueError(f'expected a {self.input_shape} float32 input, got '
                             f'{image.shape} {image.dtype}')

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
