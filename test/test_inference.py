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
Backends and the depth predictor: parity, geometry, ``auto`` selection and every load error.

Models are small (coarse layer 6 of width 32) with random weights; ONNX Runtime, PyTorch and
the synthetic scenes are real. TensorRT cannot be installed here: its absence is real, and the
one test that needs it to import uses a stand-in module, as its docstring says.
"""

from __future__ import annotations

import json
import math
import sys
import types

from msdepth_ros.core.camera import backproject
from msdepth_ros.core.presets import get_preset
from msdepth_ros.core.synthetic import road_scene
from msdepth_ros.inference import Backend, BackendError, DepthPredictor, load_backend
from msdepth_ros.inference.backend import choose_backend
from msdepth_ros.inference.export import export_checkpoint
from msdepth_ros.inference.interface import BackendInfo
from msdepth_ros.inference.onnx_backend import choose_providers
from msdepth_ros.inference.parity import compare_depth, scenes_for
from msdepth_ros.model.checkpoint import save_checkpoint
from msdepth_ros.model.network import build_model, ModelConfig
import numpy as np
import onnx
import pytest
import torch

CPU = ['CPUExecutionProvider']


@pytest.fixture(scope='module')
def models(tmp_path_factory):
    """Checkpoint and FP32 ONNX export of a small random network per preset."""
    folder = tmp_path_factory.mktemp('models')
    out = {}
    for i, name in enumerate(('kitti', 'nyu')):
        torch.manual_seed(i)
        model = build_model(ModelConfig.for_preset(name, coarse_fc_width=32)).eval()
        pt = save_checkpoint(folder / f'{name}.pt', model)
        out[name] = (pt, export_checkpoint(pt, folder / f'{name}.onnx').path)
    return out


@pytest.mark.parametrize('preset', ['kitti', 'nyu'])
def test_onnxruntime_matches_pytorch_on_synthetic_scenes(models, preset):
    pt, onnx_path = models[preset]
    reference = load_backend(pt, 'torch', device='cpu')
    candidate = load_backend(onnx_path, 'onnxruntime', providers=CPU)
    report = compare_depth(reference, candidate, scenes_for(reference.preset, 2, seed=7))
    assert report.pixels > 0.9 * 2 * np.prod(reference.output_shape)
    assert report.validity_mismatches == 0
    assert report.max_rel < 1e-4, report.summary()
    # Raw log depth on a random input agrees as well (no help from the depth range).
    x = np.random.default_rng(0).normal(size=reference.input_shape).astype(np.float32)
    np.testing.assert_allclose(candidate.predict(x), reference.predict(x), atol=1e-5)


class ExactDepthBackend(Backend):
    """
    A stand-in for a perfect network: returns the log depth it was given.

    The network's weights are random here, so no real backend can predict a scene's depth;
    this one lets the test check the predictor's own work (exp, metric scale, range, the depth
    image's intrinsics) against ``core`` with known answers.
    """

    def __init__(self, preset, log_depth):
        self.preset = preset
        self.log_depth = log_depth
        self.info = BackendInfo('exact', 'cpu', 'fp64', 'none')

    def predict(self, image):
        self.check_input(image)
        return self.log_depth


@pytest.mark.parametrize('preset_name', ['kitti', 'nyu'])
@pytest.mark.parametrize('camera_scale', [1, 3])
def test_predictor_depth_and_intrinsics_agree_with_core(preset_name, camera_scale):
    """
    The scene's exact depth at the output grid back-projects to the scene's own 3D points.

    Cameras at 1x and 3x the preset's resize size map every depth-image pixel onto a camera
    pixel centre exactly, so the depth there is known without interpolation.
    """
    preset = get_preset(preset_name)
    width = math.ceil(preset.resize_width) * camera_scale
    height = math.ceil(preset.resize_height) * camera_scale
    scene = road_scene(3, width, height)
    placeholder = ExactDepthBackend(preset, None)
    predictor = DepthPredictor(placeholder, max_depth_m=1e4)
    plan = predictor.plan_for(width, height)
    u_out, v_out = np.meshgrid(np.arange(plan.output_width, dtype=float),
                               np.arange(plan.output_height, dtype=float))
    u_cam, v_cam = plan.camera_to_output.inverse().apply(u_out, v_out)
    np.testing.assert_allclose(u_cam, np.rint(u_cam), atol=1e-9)
    np.testing.assert_allclose(v_cam, np.rint(v_cam), atol=1e-9)
    u, v = np.rint(u_cam).astype(int), np.rint(v_cam).astype(int)
    exact = scene.depth_m[v, u]
    scale = plan.metric_scale(scene.intrinsics)
    with np.errstate(invalid='ignore'):
        placeholder.log_depth = np.log(exact.astype(np.float64) / scale).astype(np.float32)

    result = predictor.predict(scene.image, scene.intrinsics)

    assert result.depth_m.shape == exact.shape
    assert result.metric_scale == pytest.approx(scale)
    np.testing.assert_array_equal(np.isnan(result.depth_m), np.isnan(exact))
    np.testing.assert_allclose(result.depth_m, exact, rtol=1e-5)
    points = backproject(result.depth_m, result.intrinsics)
    truth = backproject(scene.depth_m, scene.intrinsics)[v, u]
    valid = np.isfinite(exact)
    assert valid.mean() > 0.3
    np.testing.assert_allclose(points[valid], truth[valid], rtol=1e-4, atol=1e-4)


def test_auto_picks_by_file_and_says_why(models):
    pt, onnx_path = models['kitti']
    torch_backend = load_backend(pt)
    assert torch_backend.info.name == 'torch' and torch_backend.info.device == 'cpu'
    assert 'checkpoint runs on PyTorch' in torch_backend.info.reason
    ort_backend = load_backend(onnx_path, threads=1, device='cpu')  # unrelated options dropped
    assert ort_backend.info.name == 'onnxruntime'
    assert ort_backend.info.device == 'CPUExecutionProvider'
    assert 'tensorrt' in ort_backend.info.reason and 'ONNX Runtime' in ort_backend.info.reason
    assert load_backend(onnx_path, 'onnxruntime').info.reason == 'onnxruntime: asked for'


def test_auto_skips_tensorrt_without_a_gpu(models, monkeypatch):
    """
    A TensorRT that imports on a machine without a GPU is passed over for ONNX Runtime.

    TensorRT cannot be installed here, so a stand-in module named ``tensorrt`` plays one that
    imports; the GPU's absence is real.
    """
    monkeypatch.setitem(sys.modules, 'tensorrt', types.SimpleNamespace(__version__='10.9.0'))
    name, reason, warnings = choose_backend(models['kitti'][1])
    assert name == 'onnxruntime'
    assert 'TensorRT 10.9.0 imports but no CUDA GPU is present' in reason
    assert warnings == []  # no driver here at all: nothing was passed over


def test_onnxruntime_session_settings(models):
    backend = load_backend(models['nyu'][1], 'onnxruntime', threads=1)
    options = backend._session.get_session_options()
    assert options.get_session_config_entry('session.intra_op.allow_spinning') == '0'
    assert options.get_session_config_entry('session.inter_op.allow_spinning') == '0'
    assert options.intra_op_num_threads == 1
    assert backend.preset == get_preset('nyu') and backend.info.precision == 'fp32'
    assert backend.info.details['model_config']['coarse_fc_width'] == 32


def test_provider_order():
    every = ['TensorrtExecutionProvider', 'CUDAExecutionProvider', 'CPUExecutionProvider']
    assert choose_providers(every[::-1], gpu_count=1)[0] == every
    chosen, why = choose_providers(every, gpu_count=0)
    assert chosen == ['CPUExecutionProvider'] and 'no CUDA GPU' in why
    chosen, why = choose_providers(['CPUExecutionProvider'], gpu_count=0)
    assert chosen == ['CPUExecutionProvider'] and 'not in this build' in why
    with pytest.raises(BackendError, match='not in this ONNX Runtime build'):
        choose_providers(['CPUExecutionProvider'], 0, ['CUDAExecutionProvider'])


# -- errors: one message naming the file and the cause -----------------------------------------


def _error(path, backend='auto', **options):
    with pytest.raises(BackendError) as info:
        load_backend(path, backend, **options)
    message = str(info.value)
    assert '\n' not in message
    return message


def test_missing_and_unknown_files(tmp_path):
    for name in ('missing.onnx', 'missing.pt', 'missing.engine'):
        message = _error(tmp_path / name)
        assert str(tmp_path / name) in message and 'no such model file' in message
    (tmp_path / 'model.bin').write_bytes(b'x')
    assert 'unknown model type' in _error(tmp_path / 'model.bin')
    assert 'unknown backend' in _error(tmp_path / 'model.bin', 'tflite')
    assert 'not a file' in _error(tmp_path)


def test_text_file_renamed_onnx(tmp_path):
    path = tmp_path / 'notes.onnx'
    path.write_text('these are not the weights you are looking for\n' * 20)
    for backend in ('auto', 'onnxruntime'):
        message = _error(path, backend)
        assert str(path) in message and 'not a readable ONNX model' in message


def test_truncated_onnx(models, tmp_path):
    data = models['kitti'][1].read_bytes()
    for fraction in (0.5, 0.999):
        path = tmp_path / f'cut{fraction}.onnx'
        path.write_bytes(data[:int(len(data) * fraction)])
        message = _error(path, 'onnxruntime')
        assert str(path) in message and 'not a readable ONNX model' in message


def test_foreign_onnx_without_our_metadata(tmp_path):
    x = onnx.helper.make_tensor_value_info('x', onnx.TensorProto.FLOAT, [1, 3, 4, 4])
    y = onnx.helper.make_tensor_value_info('y', onnx.TensorProto.FLOAT, [1, 3, 4, 4])
    graph = onnx.helper.make_graph([onnx.helper.make_node('Relu', ['x'], ['y'])], 'g', [x], [y])
    path = tmp_path / 'foreign.onnx'
    onnx.save(onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid('', 17)]),
              str(path))
    message = _error(path, 'onnxruntime')
    assert str(path) in message and 'not one exported by msdepth-export' in message


def _with_metadata(src, dst, key, value):
    model = onnx.load(str(src))
    for prop in model.metadata_props:
        if prop.key == key:
            prop.value = value
    onnx.save(model, str(dst))
    return dst


def test_preset_the_model_cannot_serve(models, tmp_path):
    src = models['kitti'][1]
    config = ModelConfig.for_preset('nyu', coarse_fc_width=32).to_dict()
    wrong = _with_metadata(src, tmp_path / 'wrong.onnx', 'msdepth_ros.model_config',
                           json.dumps(config))
    message = _error(wrong, 'onnxruntime')
    assert str(wrong) in message and "cannot serve preset 'nyu'" in message
    config['preset']['fine_crop_top'] = 999
    broken = _with_metadata(src, tmp_path / 'broken.onnx', 'msdepth_ros.model_config',
                            json.dumps(config))
    assert 'preset in the metadata cannot be served' in _error(broken, 'onnxruntime')
    garbled = _with_metadata(src, tmp_path / 'garbled.onnx', 'msdepth_ros.model_config', '{')
    assert 'not valid JSON' in _error(garbled, 'onnxruntime')
    message = _error(src, 'onnxruntime', preset='nyu')
    assert "serves preset 'kitti', not the requested 'nyu'" in message


def test_truncated_or_foreign_checkpoint(models, tmp_path):
    cut = tmp_path / 'cut.pt'
    cut.write_bytes(models['kitti'][0].read_bytes()[:5000])
    message = _error(cut)
    assert str(cut) in message and 'not a readable PyTorch checkpoint' in message
    foreign = tmp_path / 'foreign.pt'
    torch.save({'weights': torch.zeros(3)}, foreign)
    assert 'not an msdepth_ros checkpoint' in _error(foreign, 'torch')


def test_model_and_backend_that_do_not_fit(models):
    pt, onnx_path = models['kitti']
    assert 'does not load PyTorch checkpoints' in _error(pt, 'onnxruntime')
    assert 'loads .pt checkpoints, not ONNX' in _error(onnx_path, 'torch')
    assert 'unknown options' in _error(onnx_path, 'onnxruntime', device='cpu')


def test_backends_that_are_not_installed_or_have_no_device(models, monkeypatch):
    pt, onnx_path = models['kitti']
    message = _error(onnx_path, 'tensorrt')  # TensorRT is really absent here
    assert 'tensorrt is not installed' in message
    message = _error(pt, 'torch', device='cuda')  # and so is a GPU
    assert str(pt) in message and 'sees no CUDA GPU' in message
    assert 'fp16 needs a CUDA device' in _error(pt, 'torch', precision='fp16', device='cpu')
    monkeypatch.setitem(sys.modules, 'onnxruntime', None)  # as if it were not installed
    message = _error(onnx_path, 'onnxruntime')
    assert 'ONNX Runtime is not installed' in message
    message = _error(onnx_path)
    assert 'no backend here can run an ONNX model' in message and 'onnxruntime' in message
