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
What this machine can run: CUDA GPUs, TensorRT's memory paths and optional frameworks.

Probed without side effects beyond ``cuInit``; used by ``load_backend('auto')`` to pick a
backend and say why, and by the TensorRT backend to choose where its buffers come from.

GPUs are counted by the CUDA driver itself (``libcuda``), never by what PyTorch sees: a CPU
wheel of PyTorch, or a CUDA build newer than the driver, sees no GPU on a machine that has one.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
import importlib
import sys
from types import ModuleType
from typing import Any

#: The CUDA driver library, by the names the dynamic loader finds it under (Linux, Windows).
DRIVER_LIBRARIES = ('libcuda.so.1', 'libcuda.so', 'nvcuda.dll')

#: ``cuInit``'s answer on a machine whose driver is installed but which has no GPU.
CUDA_ERROR_NO_DEVICE = 100

#: Where the TensorRT backend's buffers come from: ``auto`` (PyTorch CUDA, else cuda-python),
#: or one forced (the ``memory`` option of the tensorrt backend).
MEMORY_PATHS = ('auto', 'torch', 'cuda-python')

#: TensorRT major versions this package runs (JetPack 6 ships 10.3).
SUPPORTED_TENSORRT_MAJORS = (10, 11)


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


@dataclass(frozen=True)
class GpuProbe:
    """
    What the CUDA driver says about this machine.

    Attributes
    ----------
    count:
        CUDA GPUs the driver reports (what ``CUDA_VISIBLE_DEVICES`` leaves visible).
    driver:
        The driver library that answered; empty where none loads.
    error_code:
        ``cuInit`` / ``cuDeviceGetCount``'s error where the driver reports no GPU, else 0.
    error:
        That error in words (``CUDA_ERROR_NO_DEVICE``, say).

    """

    count: int
    driver: str = ''
    error_code: int = 0
    error: str = ''

    @property
    def maybe(self) -> bool:
        """Whether a GPU exists or might: counted, or a driver that fails for another reason."""
        return self.count > 0 or (bool(self.driver) and self.error_code != CUDA_ERROR_NO_DEVICE)

    def describe(self) -> str:
        """Say what was found, for logs (``1 CUDA GPU found``)."""
        if self.count:
            return f'{self.count} CUDA GPU{"s" if self.count > 1 else ""} found'
        if self.driver:
            return f'the CUDA driver ({self.driver}) reports no GPU ({self.error})'
        return 'no CUDA driver is installed'


def load_cuda_driver() -> tuple[Any, str]:
    """
    Load the CUDA driver library.

    Returns ``(ctypes library, name)``, or ``(None, '')`` where no driver is installed. The
    library is looked up by name (``DRIVER_LIBRARIES``), so ``LD_LIBRARY_PATH`` decides which
    one loads, as it does for every CUDA program.
    """
    for name in DRIVER_LIBRARIES:
        try:
            return ctypes.CDLL(name), name
        except OSError:
            continue
    return None, ''


def probe_gpus() -> GpuProbe:
    """Ask the CUDA driver how many GPUs this process can use (``GpuProbe``)."""
    lib, name = load_cuda_driver()
    if lib is None:
        return GpuProbe(0)
    err = int(lib.cuInit(0))
    count = ctypes.c_int(0)
    if err == 0:
        err = int(lib.cuDeviceGetCount(ctypes.byref(count)))
    if err != 0:
        return GpuProbe(0, name, err, _driver_error_name(lib, err))
    if count.value == 0:
        return GpuProbe(0, name, CUDA_ERROR_NO_DEVICE, 'no device')
    return GpuProbe(int(count.value), name)


def cuda_device_count() -> int:
    """Count the CUDA GPUs visible to this process, from the driver (0 without one)."""
    return probe_gpus().count


def _driver_error_name(lib: Any, err: int) -> str:
    try:
        get_name = lib.cuGetErrorName
    except AttributeError:
        return f'error {err}'
    text = ctypes.c_char_p()
    if get_name(err, ctypes.byref(text)) != 0 or not text.value:
        return f'error {err}'
    return f'error {err}: {text.value.decode(errors="replace")}'


def torch_cuda_problem() -> str:
    """Say why PyTorch cannot hold CUDA memory here; empty when it can."""
    torch, why = try_import('torch')
    if torch is None:
        return f'PyTorch: {why}'
    if torch.cuda.is_available():
        return ''
    if torch.version.cuda is None:
        return f'PyTorch {torch.__version__} is a CPU build'
    return (f'PyTorch {torch.__version__} (built for CUDA {torch.version.cuda}) sees no GPU '
            '(a driver older than that CUDA?)')


def import_cudart() -> tuple[ModuleType | None, str]:
    """Import cuda-python's runtime module (new name, then the pre-12.6 one), or say why not."""
    cudart, why = try_import('cuda.bindings.runtime')
    if cudart is not None:
        return cudart, ''
    old, _ = try_import('cuda.cudart')
    if old is not None:
        return old, ''
    return None, f'cuda-python: {why}'


def choose_memory_path(memory: str = 'auto') -> tuple[str | None, str]:
    """
    Pick where TensorRT's buffers come from.

    Parameters
    ----------
    memory:
        One of ``MEMORY_PATHS``: ``auto`` takes PyTorch CUDA where it works, else cuda-python.

    Returns
    -------
    ``('torch' or 'cuda-python', why)``, or ``(None, why not)`` naming what is missing.

    """
    if memory not in MEMORY_PATHS:
        return None, f'memory must be one of {MEMORY_PATHS}, got {memory!r}'
    torch_problem = torch_cuda_problem() if memory in ('auto', 'torch') else ''
    if memory == 'torch':
        return (None, f'memory torch asked for, but {torch_problem}') if torch_problem else \
            ('torch', 'asked for')
    if memory == 'auto' and not torch_problem:
        return 'torch', 'PyTorch has CUDA'
    cudart, cudart_problem = import_cudart()
    if cudart is not None:
        return 'cuda-python', ('asked for' if memory == 'cuda-python' else
                               f'cuda-python, since {torch_problem}')
    if memory == 'cuda-python':
        return None, f'memory cuda-python asked for, but {cudart_problem}'
    return None, (f'GPU memory needs PyTorch with CUDA or cuda-python, and neither is here '
                  f'({torch_problem}; {cudart_problem}); pip install cuda-python')


def tensorrt_version_problem(version: str) -> str:
    """Say why this TensorRT version is not supported; empty when it is (10.x, 11.x)."""
    try:
        major = int(str(version).split('.')[0])
    except ValueError:
        return f'TensorRT reports an unreadable version {version!r}'
    if major in SUPPORTED_TENSORRT_MAJORS:
        return ''
    supported = 'TensorRT 10.x (JetPack 6 ships 10.3) and 11.x'
    if major < SUPPORTED_TENSORRT_MAJORS[0]:
        return (f'TensorRT {version} is not supported: this package runs {supported}. '
                f'TensorRT {major} (JetPack 5) makes implicit-batch networks that the exported '
                'ONNX does not parse into; upgrade to JetPack 6 or TensorRT 10, or use the '
                'onnxruntime backend')
    return (f'TensorRT {version} is newer than this package supports ({supported}); use the '
            'onnxruntime backend or a supported TensorRT')
