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
Static INT8 of the whole network (``inference.quantize``) and ``msdepth-export --int8``.

A small random network (coarse 6 of width 32) and two calibration streets keep this fast;
ONNX, ONNX Runtime's quantizer and its CPU provider are real.
"""

from __future__ import annotations

import json

from msdepth_ros.inference import load_backend
from msdepth_ros.inference.export import export_checkpoint
from msdepth_ros.inference.interface import BackendError
from msdepth_ros.inference.parity import compare_depth, scenes_for
from msdepth_ros.inference.quantize import (calibration_set, DEFAULT_EXCLUDED, DEPTH_PATH,
                                            export_int8, quantize_static_int8,
                                            split_concat_conv, split_depth_channels)
from msdepth_ros.model.checkpoint import save_checkpoint
from msdepth_ros.model.network import build_model, ModelConfig
from msdepth_ros.tools.demo import PACKAGE_ROOT
from msdepth_ros.tools.export import main
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    torch.manual_seed(5)
    model = build_model(ModelConfig.for_preset('kitti', coarse_fc_width=32)).eval()
    folder = tmp_path_factory.mktemp('int8')
    checkpoint = save_checkpoint(folder / 'kitti.pt', model)
    fp32 = export_checkpoint(checkpoint, folder / 'model.onnx').path
    int8, calibration = export_int8(fp32, folder / 'model.int8.onnx', scenes=2)
    return {'checkpoint': checkpoint, 'fp32': fp32, 'int8': int8.path,
            'calibration': calibration}


def _meta(path):
    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


def _optimized_ops(path, tmp_path):
    """Operators of the graph ONNX Runtime's CPU provider actually runs."""
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / 'optimized.onnx')
    options.log_severity_level = 3
    ort.InferenceSession(str(path), options, providers=['CPUExecutionProvider'])
    return [(n.op_type, n.name) for n in onnx.load(options.optimized_model_filepath).graph.node]


def test_int8_file_keeps_the_contract_and_metadata(exported):
    fp32, int8 = _meta(exported['fp32']), _meta(exported['int8'])
    assert int8['msdepth_ros.precision'] == 'int8'
    assert json.loads(int8['msdepth_ros.model_config']) == json.loads(
        fp32['msdepth_ros.model_config'])
    model = onnx.load(str(exported['int8']))
    (inp,), (out,) = model.graph.input, model.graph.output
    assert (inp.name, out.name) == ('image', 'log_depth')
    assert inp.type.tensor_type.elem_type == out.type.tensor_type.elem_type == \
        onnx.TensorProto.FLOAT
    onnx.checker.check_model(model, full_check=True)
    assert exported['calibration'].synthetic == 2 and exported['calibration'].real == 0


def test_weights_are_int8_per_channel_except_the_fp32_layers(exported):
    model = onnx.load(str(exported['int8']))
    inits = {t.name: t for t in model.graph.initializer}
    producers = {o: n for n in model.graph.node for o in n.output}
    layers = [n for n in model.graph.node if n.op_type in ('Conv', 'Gemm')]
    assert len(layers) == 11  # coarse 1-7, fine 1, fine 3 split in two, fine 4
    for node in layers:
        dq = producers.get(node.input[1])
        if node.name in DEFAULT_EXCLUDED:
            assert node.input[1] in inits and inits[node.input[1]].data_type == \
                onnx.TensorProto.FLOAT, node.name
            continue
        assert dq is not None and dq.op_type == 'DequantizeLinear', node.name
        weight, scale = inits[dq.input[0]], inits[dq.input[1]]
        assert weight.data_type == onnx.TensorProto.INT8, node.name
        trans_b = any(a.name == 'transB' and a.i == 1 for a in node.attribute)
        channels = weight.dims[0 if node.op_type == 'Conv' or trans_b else 1]
        assert list(scale.dims) == [channels], node.name  # one scale per output channel


def test_onnx_runtime_runs_the_convolutions_as_integer_kernels(exported, tmp_path):
    ops = _optimized_ops(exported['int8'], tmp_path)
    integer = [name for op, name in ops if op in ('QLinearConv', 'QGemm')]
    # Coarse 1-5, fine 1 and fine 3's part on fine 1's features as QLinearConv; coarse 6, 7.
    assert len(integer) == 9, ops
    assert sum(op == 'QLinearConv' for op, _ in ops) == 7


def test_int8_runs_through_the_onnxruntime_backend_close_to_fp32(exported):
    fp32 = load_backend(exported['fp32'], 'onnxruntime')
    int8 = load_backend(exported['int8'], 'onnxruntime')
    assert int8.info.precision == 'int8' and int8.preset == fp32.preset
    frames = scenes_for(fp32.preset, 2, seed=40)
    report = compare_depth(fp32, int8, frames)
    assert report.validity_mismatches == 0
    assert 0 < report.median_rel < 1e-2 and report.max_rel < 5e-2
    log_depth = int8.predict(np.zeros(fp32.input_shape, np.float32))
    assert log_depth.shape == fp32.output_shape and np.isfinite(log_depth).all()


def test_split_concat_conv_computes_the_same(exported):
    model = onnx.load(str(exported['fp32']))
    split = onnx.load(str(exported['fp32']))
    assert split_concat_conv(split) == 1
    names = [n.name for n in split.graph.node]
    assert '/fine/conv3/Conv/in0' in names and '/fine/conv3/Conv/in1' in names
    assert 'Concat' not in [n.op_type for n in split.graph.node]
    x = np.random.default_rng(2).normal(size=(1, 3, 172, 576)).astype(np.float32)
    outputs = [ort.InferenceSession(m.SerializeToString(), providers=['CPUExecutionProvider'])
               .run(None, {'image': x})[0] for m in (model, split)]
    np.testing.assert_allclose(outputs[1], outputs[0], rtol=1e-4, atol=1e-5)


def test_calibration_reads_real_colour_images_only(shared_data, exported):
    preset = load_backend(exported['fp32'], 'onnxruntime').preset
    calibration = calibration_set(preset, scenes=1, image_dir=shared_data)
    # Colour frames: 2 KITTI raw, 1 KITTI object, 8 NYU; NYU's 16-bit depth PNGs are skipped.
    assert (calibration.synthetic, calibration.real) == (1, 11)
    assert all(x.shape == (1, 3, 172, 576) and x.dtype == np.float32
               for x in calibration.inputs)
    assert calibration.describe() == '1 synthetic streets + 11 real images'


def test_quantize_errors_name_the_problem(exported, tmp_path):
    preset = load_backend(exported['fp32'], 'onnxruntime').preset
    calibration = calibration_set(preset, scenes=1)
    with pytest.raises(BackendError, match='starts from the FP32 export'):
        quantize_static_int8(exported['int8'], tmp_path / 'x.onnx', calibration)
    with pytest.raises(BackendError, match=r"no node named \['/coarse/conv9/Conv'\]"):
        quantize_static_int8(exported['fp32'], tmp_path / 'x.onnx', calibration,
                             exclude=['/coarse/conv9/Conv'])
    with pytest.raises(BackendError, match='at least one input'):
        calibration_set(preset, scenes=0)
    assert not (tmp_path / 'x.onnx').exists()


def test_cli_int8_reports_parity_accuracy_and_speed(exported, tmp_path, capsys):
    out = tmp_path / 'kitti.onnx'
    assert main([str(exported['checkpoint']), '-o', str(out), '--int8', '--scenes', '1',
                 '--calibration-scenes', '2', '--timing-frames', '2']) == 0
    text = capsys.readouterr().out
    int8 = out.with_name('kitti.int8.onnx')
    assert f'wrote {int8} ' in text and 'int8, preset kitti' in text
    assert 'calibrated on 2 synthetic streets + 0 real images' in text
    line = next(x for x in text.splitlines() if x.startswith('INT8 vs FP32 ONNX:'))
    assert 'max relative depth error' in line and 'median' in line
    assert 'abs_rel' in text and 'delta1' in text and 'speed-up' in text
    assert _meta(int8)['msdepth_ros.precision'] == 'int8'
    assert 'QuantizeLinear' in [n.op_type for n in onnx.load(str(int8)).graph.node]


def test_cli_int8_bad_calibration_folder_exits_2(exported, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main([str(exported['checkpoint']), '-o', str(tmp_path / 'm.onnx'), '--int8',
              '--calibration-images', str(tmp_path / 'missing')])
    assert info.value.code == 2
    assert 'is not a folder' in capsys.readouterr().err


DEMO_MODEL = PACKAGE_ROOT / 'models' / 'demo_kitti_synthetic.pt'


@pytest.fixture(scope='module')
def demo_fp32(tmp_path_factory):
    """Export the shipped demo model (its fine network started as a pass-through) to FP32."""
    return export_checkpoint(DEMO_MODEL, tmp_path_factory.mktemp('demo') / 'demo.onnx').path


def _run(model, x):
    session = ort.InferenceSession(model.SerializeToString(),
                                   providers=['CPUExecutionProvider'])
    return session.run(None, {'image': x})[0]


def test_split_depth_channels_moves_the_depth_carrying_channels_and_computes_the_same(
        demo_fp32, exported):
    original = onnx.load(str(demo_fp32))
    split = onnx.load(str(demo_fp32))
    split_concat_conv(split)
    moved = split_depth_channels(split, *DEPTH_PATH)
    assert moved == [f'{DEPTH_PATH[0]}/fp32', f'{DEPTH_PATH[0]}/fp32_scatter']
    inits = {t.name: t for t in split.graph.initializer}
    nodes = {n.name: n for n in split.graph.node}
    # The demo's fine network started as a pass-through: channels 0 and 1 carry the log depth.
    fp32_weight = onnx.numpy_helper.to_array(inits[nodes[f'{DEPTH_PATH[0]}/fp32'].input[1]])
    assert fp32_weight.shape[0] == 2
    int8_weight = onnx.numpy_helper.to_array(inits[nodes[DEPTH_PATH[0]].input[1]])
    assert not int8_weight[:2].any() and int8_weight[2:].any()
    x = np.random.default_rng(3).normal(size=(1, 3, 172, 576)).astype(np.float32)
    np.testing.assert_allclose(_run(split, x), _run(original, x), rtol=1e-4, atol=1e-5)
    # A network whose fine 4 weighs its channels alike (random weights) is left as it is.
    random = onnx.load(str(exported['fp32']))
    split_concat_conv(random)
    before = random.SerializeToString()
    assert split_depth_channels(random, *DEPTH_PATH) == []
    assert random.SerializeToString() == before


def test_int8_keeps_the_demo_models_depth_within_one_percent(demo_fp32, tmp_path):
    preset = load_backend(demo_fp32, 'onnxruntime').preset
    calibration = calibration_set(preset, scenes=4)
    kept = quantize_static_int8(demo_fp32, tmp_path / 'kept.onnx', calibration).path
    ops = _optimized_ops(kept, tmp_path)  # ONNX Runtime names fused nodes <name>_token_<n>
    # the other 62 channels still run on int8, the two in float
    assert [op for op, name in ops if name.startswith(f'{DEPTH_PATH[0]}_token')] == [
        'QLinearConv'], ops
    assert ('Conv', f'{DEPTH_PATH[0]}/fp32') in ops
    # The same quantization with every channel of fine 3's int8 part rounded alike.
    rounded = quantize_static_int8(demo_fp32, tmp_path / 'rounded.onnx', calibration,
                                   keep_depth_channels=False).path
    fp32 = load_backend(demo_fp32, 'onnxruntime')
    frames = scenes_for(preset, 3, seed=41)
    with_split = compare_depth(fp32, load_backend(kept, 'onnxruntime'), frames)
    without = compare_depth(fp32, load_backend(rounded, 'onnxruntime'), frames)
    assert with_split.median_rel < 0.01, with_split
    assert without.median_rel > 2 * with_split.median_rel, (without, with_split)
