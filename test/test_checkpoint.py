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

"""Checkpoints carry their preset and load strictly; ImageNet weights for coarse 1-5."""

from msdepth_ros.core.presets import KITTI
from msdepth_ros.model.checkpoint import (CheckpointError, load_checkpoint, load_imagenet_features,
                                          read_checkpoint_file, save_checkpoint)
from msdepth_ros.model.network import build_model, ModelConfig
import pytest
import torch


@pytest.fixture
def small_model():
    torch.manual_seed(0)
    return build_model(ModelConfig.for_preset('kitti', coarse_fc_width=32)).eval()


def test_round_trip_keeps_weights_preset_and_metadata(tmp_path, small_model):
    path = save_checkpoint(tmp_path / 'm.pt', small_model,
                           metadata={'stage': 'fine', 'steps': 12})
    loaded = load_checkpoint(path)
    assert loaded.config == small_model.config
    assert loaded.config.preset == KITTI
    assert loaded.metadata == {'stage': 'fine', 'steps': 12}
    assert not loaded.model.training
    image = torch.randn(1, 3, 172, 576)
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(image), small_model(image))
    assert not list(tmp_path.glob('.*tmp*'))  # written atomically, nothing left over


def test_checkpoint_loads_with_weights_only(tmp_path, small_model, monkeypatch):
    path = save_checkpoint(tmp_path / 'm.pt', small_model)
    seen = {}
    real_load = torch.load

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real_load(*args, **kwargs)
    monkeypatch.setattr(torch, 'load', spy)
    load_checkpoint(path)
    assert seen.get('weights_only') is True


def test_bad_files_are_clear_errors(tmp_path, small_model):
    with pytest.raises(CheckpointError, match='no such checkpoint'):
        load_checkpoint(tmp_path / 'missing.pt')
    path = save_checkpoint(tmp_path / 'm.pt', small_model)
    truncated = tmp_path / 'truncated.pt'
    truncated.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(CheckpointError, match='truncated.pt: not a readable'):
        load_checkpoint(truncated)
    text = tmp_path / 'notes.pt'
    text.write_text('hello')
    with pytest.raises(CheckpointError, match='not a readable'):
        load_checkpoint(text)
    foreign = tmp_path / 'foreign.pt'
    torch.save({'weights': torch.zeros(3)}, foreign)
    with pytest.raises(CheckpointError, match='not an msdepth_ros checkpoint'):
        read_checkpoint_file(foreign)
    payload = torch.load(path, weights_only=True)
    del payload['state_dict']['fine.conv4.bias']
    broken = tmp_path / 'broken.pt'
    torch.save(payload, broken)
    with pytest.raises(CheckpointError, match='missing'):
        load_checkpoint(broken)


def test_imagenet_weights_in_torchvision_layout(tmp_path, small_model):
    sd = {}
    for i, idx in zip(range(1, 6), (0, 3, 6, 8, 10)):
        conv = getattr(small_model.coarse, f'conv{i}')
        sd[f'features.{idx}.weight'] = torch.randn_like(conv.weight)
        sd[f'features.{idx}.bias'] = torch.randn_like(conv.bias)
    sd['classifier.1.weight'] = torch.zeros(10, 10)
    path = tmp_path / 'alexnet.pth'
    torch.save(sd, path)
    fc_before = small_model.coarse.fc6.weight.clone()
    assert load_imagenet_features(small_model, path) == [f'coarse.conv{i}' for i in range(1, 6)]
    torch.testing.assert_close(small_model.coarse.conv3.weight, sd['features.6.weight'])
    torch.testing.assert_close(small_model.coarse.conv5.bias, sd['features.10.bias'])
    torch.testing.assert_close(small_model.coarse.fc6.weight, fc_before)


def test_two_group_caffe_weights_expand_to_the_same_function(tmp_path, small_model):
    torch.manual_seed(1)
    shapes = {1: (96, 3, 11, 11), 2: (256, 48, 5, 5), 3: (384, 256, 3, 3),
              4: (384, 192, 3, 3), 5: (256, 192, 3, 3)}
    sd = {}
    for i, shape in shapes.items():
        sd[f'conv{i}.weight'] = torch.randn(shape) * 0.05
        sd[f'conv{i}.bias'] = torch.randn(shape[0]) * 0.05
    path = tmp_path / 'caffe_alexnet.pt'
    torch.save({'state_dict': sd}, path)
    load_imagenet_features(small_model, path)
    x = torch.randn(1, 96, 9, 9)
    grouped = torch.nn.functional.conv2d(x, sd['conv2.weight'], sd['conv2.bias'], padding=2,
                                         groups=2)
    torch.testing.assert_close(small_model.coarse.conv2(x), grouped, rtol=1e-4, atol=1e-5)


def test_imagenet_weights_that_do_not_fit(tmp_path, small_model):
    # torchvision's AlexNet has 64 filters in its first layer, not the paper's 96
    sd = {'features.0.weight': torch.zeros(64, 3, 11, 11), 'features.0.bias': torch.zeros(64)}
    path = tmp_path / 'tv.pth'
    torch.save(sd, path)
    with pytest.raises(CheckpointError, match=r'conv1 weight must have shape \(96, 3, 11, 11\)'):
        load_imagenet_features(small_model, path)
    torch.save({'fc.weight': torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match='no weights for coarse conv1'):
        load_imagenet_features(small_model, path)


def test_float16_weights_load_back_as_float32_everywhere(tmp_path, small_model):
    """A checkpoint stored with float16 weights (half the file) runs as float32 in every reader."""
    from msdepth_ros.inference import load_backend
    from msdepth_ros.inference.export import export_checkpoint
    import numpy as np
    import onnx
    from onnx import numpy_helper
    import onnxruntime as ort

    full = save_checkpoint(tmp_path / 'full.pt', small_model)
    half = save_checkpoint(tmp_path / 'half.pt', small_model, metadata={'stage': 'fine'},
                           weights_dtype='float16')
    assert half.stat().st_size < 0.55 * full.stat().st_size
    stored = torch.load(half, map_location='cpu', weights_only=True)['state_dict']
    assert {t.dtype for t in stored.values()} == {torch.float16}
    # The same network with its weights rounded to float16 and back: what the file holds.
    rounded = build_model(small_model.config).eval()
    rounded.load_state_dict({k: v.half().float() for k, v in small_model.state_dict().items()})
    assert any(not torch.equal(a, b) for a, b in zip(
        rounded.state_dict().values(), small_model.state_dict().values()))

    # Every reader gets float32: the raw payload (resuming, summaries) ...
    payload = read_checkpoint_file(half)
    assert {t.dtype for t in payload['state_dict'].values()} == {torch.float32}
    # ... load_checkpoint (the network computes in float32, with the stored values) ...
    loaded = load_checkpoint(half)
    assert loaded.metadata == {'stage': 'fine'}
    for name, tensor in loaded.model.state_dict().items():
        assert tensor.dtype == torch.float32
        torch.testing.assert_close(tensor, rounded.state_dict()[name], rtol=0, atol=0)
    image = torch.randn(1, 3, 172, 576)
    with torch.no_grad():
        expected = rounded(image)[0, 0].numpy()
        torch.testing.assert_close(loaded.model(image), rounded(image), rtol=0, atol=0)
    # ... the torch backend ...
    backend = load_backend(half, 'torch', device='cpu')
    try:
        out = backend.predict(image.numpy())
    finally:
        backend.close()
    np.testing.assert_allclose(out.reshape(expected.shape), expected, rtol=1e-5, atol=1e-5)
    # ... and export: a float32 ONNX model (the input of ONNX Runtime and TensorRT).
    result = export_checkpoint(half, tmp_path / 'half.onnx')
    proto = onnx.load(str(result.path))
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert all(numpy_helper.to_array(t).dtype != np.float16 for t in proto.graph.initializer)
    session = ort.InferenceSession(str(result.path), providers=['CPUExecutionProvider'])
    got = session.run(None, {'image': image.numpy()})[0]
    np.testing.assert_allclose(got.reshape(expected.shape), expected, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="weights_dtype must be 'float32' or 'float16'"):
        save_checkpoint(tmp_path / 'bad.pt', small_model, weights_dtype='int8')
