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

"""One device choice for training and the torch backend (``model.device.select_device``)."""

import re

from msdepth_ros.inference import BackendError, load_backend
from msdepth_ros.model.checkpoint import save_checkpoint
from msdepth_ros.model.device import DeviceError, select_device
from msdepth_ros.model.network import build_model, ModelConfig
from msdepth_ros.train.config import ConfigError
from msdepth_ros.train.distributed import setup_distributed
import pytest
import torch

HAS_CUDA = torch.cuda.is_available()


def test_cpu_and_auto_name_a_device_pytorch_has():
    assert select_device('cpu') == torch.device('cpu')
    assert select_device('auto') == (torch.device('cuda', 0) if HAS_CUDA
                                     else torch.device('cpu'))


@pytest.mark.parametrize('name', ['gpu', '', 'cuda:x', 'mps', 'meta'])
def test_other_names_are_refused_with_the_accepted_ones(name):
    with pytest.raises(DeviceError, match=r'auto, cpu or cuda\[:N\]'):
        select_device(name)


@pytest.mark.skipif(HAS_CUDA, reason='this machine has a CUDA GPU: the GPU test covers it')
def test_cuda_without_a_gpu_is_refused_by_training_and_by_the_backend(tmp_path):
    with pytest.raises(DeviceError, match="device 'cuda' asked for, but PyTorch .* sees no "
                                          'CUDA GPU'):
        select_device('cuda')
    with pytest.raises(ConfigError, match='^device: .*sees no CUDA GPU'):
        setup_distributed('cuda')
    network = build_model(ModelConfig.for_preset('kitti', coarse_fc_width=32))
    model = save_checkpoint(tmp_path / 'm.pt', network)
    with pytest.raises(BackendError, match=f'^{re.escape(str(model))}: backend torch: .*sees no '
                                           'CUDA GPU'):
        load_backend(model, 'torch', device='cuda:1')


@pytest.mark.skipif(not HAS_CUDA, reason='needs a CUDA GPU (PyTorch sees none here)')
def test_cuda_names_a_gpu_the_driver_has(monkeypatch):
    count = torch.cuda.device_count()
    assert select_device('cuda') == torch.device('cuda', 0)
    assert select_device('cuda', index=count - 1) == torch.device('cuda', count - 1)
    assert select_device(f'cuda:{count - 1}', index=0) == torch.device('cuda', count - 1)
    with pytest.raises(DeviceError, match=f'no CUDA device {count} .found {count}.'):
        select_device(f'cuda:{count}')
    # A torchrun rank whose local rank has no GPU of its own.
    monkeypatch.setenv('LOCAL_RANK', str(count))
    with pytest.raises(ConfigError, match=f'^device: no CUDA device {count}'):
        setup_distributed('cuda')
