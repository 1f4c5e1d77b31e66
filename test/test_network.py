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

"""The network of DESIGN.md section 3: every layer size and parameter count, both presets."""

from msdepth_ros.core.presets import (fine_output_length, get_preset, KITTI, NYU,
                                      OUTPUT_FIRST_CENTRE, OUTPUT_STRIDE, Preset, PresetError)
from msdepth_ros.model.network import build_model, ModelConfig
from msdepth_ros.model.summary import layer_table
import pytest
import torch

# (name, channels, width, height) from DESIGN.md's table; sizes are width x height.
EXPECTED = {
    'nyu': [('coarse 1', 96, 37, 27), ('coarse 2', 256, 18, 13), ('coarse 3', 384, 18, 13),
            ('coarse 4', 384, 18, 13), ('coarse 5', 256, 8, 6), ('coarse 6', 4096, 1, 1),
            ('coarse 7', 1, 74, 55), ('fine 1', 63, 74, 55), ('fine 2 (concat)', 64, 74, 55),
            ('fine 3', 64, 74, 55), ('fine 4', 1, 74, 55)],
    'kitti': [('coarse 1', 96, 71, 20), ('coarse 2', 256, 35, 9), ('coarse 3', 384, 35, 9),
              ('coarse 4', 384, 35, 9), ('coarse 5', 256, 17, 4), ('coarse 6', 4096, 1, 1),
              ('coarse 7', 1, 142, 27), ('fine 1', 63, 142, 27),
              ('fine 2 (concat)', 64, 142, 27), ('fine 3', 64, 142, 27),
              ('fine 4', 1, 142, 27)],
}


@pytest.mark.parametrize('name', ['nyu', 'kitti'])
def test_every_layer_size(name):
    rows = layer_table(ModelConfig.for_preset(name))
    assert [(r.name, r.channels, r.width, r.height) for r in rows] == EXPECTED[name]


def _count(module):
    return sum(p.numel() for p in module.parameters())


def test_parameter_counts():
    nyu = build_model(ModelConfig.for_preset('nyu'))
    kitti = build_model(ModelConfig.for_preset('kitti'))
    conv = sum(_count(getattr(nyu.coarse, f'conv{i}')) for i in range(1, 6))
    fc = _count(nyu.coarse.fc6) + _count(nyu.coarse.fc7)
    assert conv == 3_747_200
    assert fc == 67_010_534
    assert _count(nyu.coarse) == 70_757_734
    assert _count(kitti.coarse) == 90_762_362
    assert _count(nyu.fine) == _count(kitti.fine) == 119_437


def test_forward_returns_plain_log_depth_and_coarse_entry_point():
    model = build_model(ModelConfig.for_preset('kitti', coarse_fc_width=64)).eval()
    image = torch.randn(2, 3, 172, 576)
    log_depth = model(image)
    assert isinstance(log_depth, torch.Tensor)
    assert log_depth.shape == (2, 1, 27, 142)
    fine, coarse = model.forward_with_coarse(image)
    assert coarse.shape == fine.shape == (2, 1, 27, 142)
    torch.testing.assert_close(fine, log_depth)
    torch.testing.assert_close(coarse, model.coarse(image))


def test_kitti_fine_network_sees_only_the_bottom_rows():
    model = build_model(ModelConfig.for_preset('kitti', coarse_fc_width=16)).eval()
    image = torch.randn(1, 3, 172, 576)
    changed = image.clone()
    changed[:, :, :KITTI.fine_crop_top] = 0.0  # rows only the coarse network sees
    with torch.no_grad():
        a = model.fine(image[:, :, KITTI.fine_crop_top:], model.coarse(image))
        b = model.fine(changed[:, :, KITTI.fine_crop_top:], model.coarse(image))
    torch.testing.assert_close(a, b)


def _centre_map(conv, pool):
    # Centre of output pixel k on the layer's input: conv j -> s j + (k - 1) / 2 - p,
    # pool k -> s k + (k - 1) / 2 on the conv's grid.
    cs, ck, cp = conv.stride[0], conv.kernel_size[0], conv.padding[0]
    ps, pk = pool.stride, pool.kernel_size
    scale = cs * ps
    first = cs * (pk - 1) / 2 + (ck - 1) / 2 - cp
    return scale, first


def test_output_grid_constants_match_the_fine_layers():
    model = build_model(ModelConfig.for_preset('nyu', coarse_fc_width=8))
    centre = _centre_map(model.fine.conv1, model.fine.pool1)
    assert centre == (OUTPUT_STRIDE, OUTPUT_FIRST_CENTRE)
    for layer in (model.fine.conv3, model.fine.conv4):  # size-preserving, centred
        assert layer.stride == (1, 1) and layer.padding[0] == (layer.kernel_size[0] - 1) // 2


def test_kitti_fine_crop_is_the_smallest_bottom_crop_for_27_rows():
    rows = KITTI.input_height - KITTI.fine_crop_top
    assert rows == 4 * KITTI.output_height + 7 == 115
    assert fine_output_length(rows) == 27 and fine_output_length(rows - 1) == 26


@pytest.mark.parametrize('preset', [NYU, KITTI])
def test_preset_round_trips_through_plain_data(preset):
    assert Preset.from_dict(preset.to_dict()) == preset
    config = ModelConfig(preset, coarse_fc_width=128, dropout=0.25)
    assert ModelConfig.from_dict(config.to_dict()) == config


def test_bad_presets_are_clear_errors():
    with pytest.raises(PresetError, match='unknown preset'):
        get_preset('cityscapes')
    data = NYU.to_dict()
    data['output_width'] = 75
    with pytest.raises(PresetError, match='fine network maps'):
        Preset.from_dict(data)
    with pytest.raises(PresetError, match='unknown preset fields'):
        Preset.from_dict({**NYU.to_dict(), 'colour': 'red'})
