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
Counting GPUs from the CUDA driver, TensorRT's memory path, and what ``auto`` says it passed over.

No machine here has a GPU, so the CUDA driver is a stand-in ``libcuda.so.1`` compiled in the
test (``trt_doubles.build_stub_driver``: ``cuInit`` and ``cuDeviceGetCount`` answer from
environment variables), found the way the real one is: by name on ``LD_LIBRARY_PATH`` in a
subprocess, or by path in this process. PyTorch is the real CPU build (2.13.0+cpu here), ONNX
Runtime the real CPU build; TensorRT and cuda-python are the strict doubles of ``trt_doubles``
where a test says so.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import subprocess
import sys
import textwrap

from msdepth_ros.inference import devices, load_backend
from msdepth_ros.inference.export import export_checkpoint
from msdepth_ros.model.checkpoint import save_checkpoint
from msdepth_ros.model.network import build_model, ModelConfig
import onnxruntime as ort
import pytest
import torch
from trt_doubles import build_stub_driver

REPO_ROOT = Path(__file__).resolve().parents[1]
CPU_TORCH = pytest.mark.skipif(torch.cuda.is_available(),
                               reason='PyTorch has CUDA here; these tests need a CPU build')
ORT_CPU_ONLY = 'CUDAExecutionProvider' not in ort.get_available_providers()


@pytest.fixture(scope='module')
def stub_driver(tmp_path_factory):
    library = build_stub_driver(tmp_path_factory.mktemp('driver'))
    if library is None:
        pytest.skip('no C compiler to build the stand-in CUDA driver')
    return library


@pytest.fixture(scope='module')
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp('models')
    torch.manual_seed(0)
    model = build_model(ModelConfig.for_preset('kitti', coarse_fc_width=32)).eval()
    pt = save_checkpoint(folder / 'kitti.pt', model)
    return pt, export_checkpoint(pt, folder / 'kitti.onnx').path


def _driver(monkeypatch, library, count=1, init_error=0):
    monkeypatch.setattr(devices, 'DRIVER_LIBRARIES', (str(library),))
    monkeypatch.setenv('STUB_CUDA_COUNT', str(count))
    monkeypatch.setenv('STUB_CUINIT_ERROR', str(init_error))


def test_the_driver_counts_the_gpus(stub_driver, monkeypatch):
    _driver(monkeypatch, stub_driver, count=2)
    probe = devices.probe_gpus()
    assert probe.count == 2 and probe.maybe and probe.describe() == '2 CUDA GPUs found'
    assert devices.cuda_device_count() == 2


def test_a_driver_without_a_gpu_and_a_failing_driver(stub_driver, monkeypatch):
    _driver(monkeypatch, stub_driver, init_error=devices.CUDA_ERROR_NO_DEVICE)
    probe = devices.probe_gpus()
    assert probe.count == 0 and not probe.maybe  # a driver, but certainly no GPU
    _driver(monkeypatch, stub_driver, count=0)
    assert not devices.probe_gpus().maybe
    _driver(monkeypatch, stub_driver, init_error=999)  # CUDA_ERROR_UNKNOWN: a GPU may exist
    probe = devices.probe_gpus()
    assert probe.count == 0 and probe.maybe and 'error 999' in probe.describe()
    monkeypatch.setattr(devices, 'DRIVER_LIBRARIES', ('libcuda-that-is-not-there.so.1',))
    assert devices.probe_gpus() == devices.GpuProbe(0)
    assert not devices.GpuProbe(0).maybe


@CPU_TORCH
def test_memory_path_with_cpu_pytorch(monkeypatch):
    monkeypatch.setitem(sys.modules, 'cuda', None)  # no cuda-python either
    kind, why = devices.choose_memory_path('auto')
    assert kind is None
    assert f'PyTorch {torch.__version__} is a CPU build' in why and 'cuda-python' in why
    assert devices.choose_memory_path('torch')[0] is None
    assert 'memory cuda-python asked for' in devices.choose_memory_path('cuda-python')[1]
    assert 'must be one of' in devices.choose_memory_path('cupy')[1]


def test_tensorrt_versions():
    assert devices.tensorrt_version_problem('10.3.0.30') == ''
    assert devices.tensorrt_version_problem('11.1.0') == ''
    assert 'JetPack 5' in devices.tensorrt_version_problem('8.6.2')
    assert 'newer than' in devices.tensorrt_version_problem('12.0.0')


def _run_auto(model: Path, library_dir: Path, cache: Path, doubles: str,
              options: str = '') -> dict:
    """Load ``model`` with ``auto`` in a fresh process whose libcuda is the stand-in."""
    script = textwrap.dedent(f"""
        import json, sys
        import numpy as np
        import trt_doubles
        {doubles}
        from msdepth_ros.inference import load_backend
        backend = load_backend({str(model)!r}, 'auto', cache_dir={str(cache)!r}{options})
        image = np.random.default_rng(0).normal(size=backend.input_shape).astype(np.float32)
        h, w = backend.output_shape
        out = backend.predict(image)
        print(json.dumps({{'name': backend.info.name, 'reason': backend.info.reason,
                          'warnings': list(backend.info.warnings),
                          'memory': backend.info.details.get('memory'),
                          'copied': bool((out == image.ravel()[:h * w].reshape(h, w)).all())}}))
        backend.close()
    """)
    env = dict(os.environ, LD_LIBRARY_PATH=str(library_dir), STUB_CUDA_COUNT='1',
               STUB_CUINIT_ERROR='0',
               PYTHONPATH=os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / 'test')]))
    proc = subprocess.run([sys.executable, '-c', script], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


TRT_AND_CUDART = ('trt_doubles.install_doubles(sys.modules, trt_doubles.fake_tensorrt()[0], '
                  'trt_doubles.fake_cudart()[0])')


@CPU_TORCH
def test_cpu_pytorch_and_a_driver_gpu_give_tensorrt_on_cuda_python(models, stub_driver,
                                                                   tmp_path):
    """
    The bug this fixes: PyTorch 2.13.0+cpu counted 0 GPUs and auto quietly ran on the CPU.

    The driver is the stand-in (libcuda.so.1 by name on LD_LIBRARY_PATH); TensorRT and
    cuda-python are the strict doubles; PyTorch is the real CPU build.
    """
    result = _run_auto(models[1], stub_driver.parent, tmp_path, TRT_AND_CUDART)
    assert result['name'] == 'tensorrt' and result['memory'] == 'cuda-python'
    assert '1 CUDA GPU found' in result['reason'] and result['warnings'] == []
    assert result['copied']  # the double engine ran on cuda-python's buffers


@CPU_TORCH
def test_auto_says_why_it_passes_over_the_gpu(models, stub_driver, tmp_path):
    """Without TensorRT (and with this CPU build of ONNX Runtime) auto warns, never silently."""
    result = _run_auto(models[1], stub_driver.parent, tmp_path, '')
    assert result['name'] == 'onnxruntime'
    assert result['warnings'][0].startswith('tensorrt passed over: 1 CUDA GPU found but '
                                            'tensorrt is not installed')
    if ORT_CPU_ONLY:
        assert result['warnings'][1].startswith('onnxruntime CUDA provider passed over: 1 CUDA '
                                                'GPU found but this ONNX Runtime')
        assert 'install onnxruntime-gpu' in result['warnings'][1]
    # No GPU memory path: TensorRT imports, but neither PyTorch CUDA nor cuda-python is here.
    result = _run_auto(models[1], stub_driver.parent, tmp_path,
                       'trt_doubles.install_doubles(sys.modules, trt_doubles.fake_tensorrt()[0])'
                       "; sys.modules['cuda'] = None")
    assert result['name'] == 'onnxruntime'
    assert 'TensorRT 10.3.0 cannot hold GPU buffers' in result['warnings'][0]
    assert 'pip install cuda-python' in result['warnings'][0]


@CPU_TORCH
def test_a_checkpoint_on_cpu_pytorch_with_a_gpu_is_a_warning(models, stub_driver, monkeypatch):
    _driver(monkeypatch, stub_driver)
    backend = load_backend(models[0])
    assert backend.info.name == 'torch' and backend.info.device == 'cpu'
    assert backend.info.warnings == (
        f'torch CUDA passed over: 1 CUDA GPU found but PyTorch {torch.__version__} is a CPU '
        'build',)
    assert load_backend(models[0], device='cpu').info.warnings == ()  # the CPU was asked for
    assert load_backend(models[0], 'torch').info.warnings == ()  # not auto


def test_no_gpu_no_warning(models, monkeypatch, tmp_path):
    monkeypatch.setattr(devices, 'DRIVER_LIBRARIES', (str(tmp_path / 'absent.so'),))
    for model in models:
        assert load_backend(model).info.warnings == ()
