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
The CUDA paths of the backends, where a CUDA GPU is present (skipped with a reason elsewhere).

The GPU is found by the CUDA driver; the PyTorch CUDA tests also need a PyTorch that sees it, and
the TensorRT test runs once per memory path present (PyTorch CUDA, cuda-python).

``benchmarks/gpu_check.py`` runs the same paths on paper-width networks with timings; these
tests keep them in the suite of any machine that has a GPU.
"""

from __future__ import annotations

from msdepth_ros.inference import load_backend
from msdepth_ros.inference.devices import choose_memory_path, probe_gpus, try_import
from msdepth_ros.inference.export import export_checkpoint
from msdepth_ros.inference.parity import compare_depth, scenes_for
from msdepth_ros.model.checkpoint import save_checkpoint
from msdepth_ros.model.network import build_model, ModelConfig
import pytest
import torch

GPUS = probe_gpus()
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not GPUS.count, reason=f'needs a CUDA GPU ({GPUS.describe()})'),
]


@pytest.fixture(scope='module')
def model_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp('gpu')
    torch.manual_seed(0)
    model = build_model(ModelConfig.for_preset('kitti', coarse_fc_width=64)).eval()
    ckpt = save_checkpoint(folder / 'kitti.pt', model)
    return {'pt': ckpt, 'fp32': export_checkpoint(ckpt, folder / 'kitti.onnx').path,
            'fp16': export_checkpoint(ckpt, folder / 'kitti.fp16.onnx', fp16=True).path}


@pytest.mark.parametrize('precision, graphs, tolerance', [
    ('fp32', False, 5e-3), ('fp32', True, 5e-3), ('fp16', False, 3e-2), ('fp16', True, 3e-2)])
def test_torch_cuda_matches_cpu(model_files, precision, graphs, tolerance):
    if not torch.cuda.is_available():
        pytest.skip(f'PyTorch {torch.__version__} sees no CUDA GPU')
    reference = load_backend(model_files['pt'], 'torch', device='cpu')
    cuda = load_backend(model_files['pt'], 'torch', device='cuda', precision=precision,
                        cuda_graphs=graphs)
    assert cuda.info.details['cuda_graphs'] == graphs and cuda.info.precision == precision
    report = compare_depth(reference, cuda, scenes_for(reference.preset, 2))
    assert report.passed(tolerance), report.summary()


@pytest.mark.parametrize('memory', ['torch', 'cuda-python'])
def test_tensorrt_engine_builds_caches_and_matches(model_files, memory, tmp_path):
    if try_import('tensorrt')[0] is None:
        pytest.skip('TensorRT is not installed')
    if choose_memory_path(memory)[0] is None:
        pytest.skip(choose_memory_path(memory)[1])
    cache = tmp_path / 'engines'
    reference = load_backend(model_files['pt'], 'torch', device='cpu')
    first = load_backend(model_files['fp32'], 'tensorrt', cache_dir=cache, memory=memory)
    assert first.info.details['engine_built'] and first.info.details['memory'] == memory
    report = compare_depth(reference, first, scenes_for(reference.preset, 2))
    assert report.passed(5e-3), report.summary()
    first.close()
    second = load_backend(model_files['fp32'], 'tensorrt', cache_dir=cache, memory=memory)
    assert not second.info.details['engine_built']
    second.close()
    half = load_backend(model_files['fp16'], 'tensorrt', cache_dir=cache, memory=memory)
    assert compare_depth(reference, half, scenes_for(reference.preset, 1)).passed(3e-2)
    half.close()
