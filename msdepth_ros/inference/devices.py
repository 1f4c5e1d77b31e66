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
What this machine can run: CUDA GPUs and optional frameworks, probed without side effects.

Used by ``load_backend('auto')`` to pick a backend and say why.
"""

from __future__ import annotations

import ctypes
import importlib
import sys
from types import ModuleType


def try_import(name: str) -> tuple[ModuleType | None, str]:
    """
    Import an optional framework.

    Returns ``(module, '')``, or ``(None, reason)`` when it is absent or fails to load (a
    wheel whose native libraries are missing raises ``OSError``, not ``ImportError``).
    """
    if name in sys.modules and sys.modules[name] is None:
        return None, f'{name} is blocked in this process'
    try:
        return importlib.import_module(name), ''
    except ImportError as exc:
        return None, f'{name} is not installed ({exc})'
    except OSError as exc:
        return None, f'{name} is installed but its native libraries do not load ({exc})'


def cuda_device_count() -> int:
    """
    Count the CUDA GPUs visible to this process (0 where there is no driver).

    Asks PyTorch when it is installed (what the torch and TensorRT backends use for memory);
    otherwise asks the CUDA driver directly, so that machines without torch still find their
    GPU.
    """
    torch, _ = try_import('torch')
    if torch is not None:
        return int(torch.cuda.device_count()) if torch.cuda.is_available() else 0
    return _driver_device_count()


def _driver_device_count() -> int:
    for name in ('libcuda.so.1', 'libcuda.so', 'nvcuda.dll'):
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        count = ctypes.c_int(0)
        if lib.cuInit(0) != 0 or lib.cuDeviceGetCount(ctypes.byref(count)) != 0:
            return 0
        return int(count.value)
    return 0
