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
Choosing the PyTorch device: one function for training and for the torch inference backend.

Both accept the same names (``auto``, ``cpu``, ``cuda``, ``cuda:N``) and fail the same way when
the device is not there; each caller wraps ``DeviceError`` into its own error with its context
(the config key, the model file).
"""

from __future__ import annotations

import torch

#: Device names that ``select_device`` accepts, besides ``cuda:N``.
DEVICE_NAMES = ('auto', 'cpu', 'cuda')


class DeviceError(ValueError):
    """A device name that is malformed, or names a device that PyTorch does not see."""


def select_device(device: str = 'auto', index: int = 0) -> torch.device:
    """
    Return the ``torch.device`` that ``device`` names, checked against what PyTorch sees.

    Parameters
    ----------
    device:
        ``auto`` (a CUDA GPU where PyTorch sees one, else the CPU), ``cpu``, ``cuda`` or
        ``cuda:N``.
    index:
        The CUDA GPU that ``auto`` and ``cuda`` mean (a ``torchrun`` rank's local rank);
        ``cuda:N`` overrides it.

    Returns
    -------
    ``cpu`` or ``cuda:N`` (always with its index). ``DeviceError`` when the name is not one of
    these, or CUDA (or GPU ``N``) is asked for and PyTorch does not see it.

    """
    if device == 'auto':
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise DeviceError(f'unknown device {device!r}; use auto, cpu or cuda[:N]') from None
    if resolved.type == 'cpu':
        return resolved
    if resolved.type != 'cuda':
        raise DeviceError(f'device must be auto, cpu or cuda[:N], got {device!r}')
    if not torch.cuda.is_available():
        raise DeviceError(f'device {device!r} asked for, but PyTorch {torch.__version__} sees '
                          'no CUDA GPU')
    gpu = resolved.index if resolved.index is not None else index
    if not 0 <= gpu < torch.cuda.device_count():
        raise DeviceError(f'no CUDA device {gpu} (found {torch.cuda.device_count()})')
    return torch.device('cuda', gpu)
