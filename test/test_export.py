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
``msdepth-export`` and the export library: the ONNX contract, FP16, INT8 and the command line.

Small random networks (coarse layer 6 of width 32) keep these fast; ONNX, ONNX Runtime and
PyTorch are real.
"""

from __future__ import annotations

import json
import subprocess

from conftest import console_script
from msdepth_ros.inference import load_backend
from msdepth_ros.inference.export import export_checkpoint, gemm_to_matmul, quantize_fc_int8
from msdepth_ros.inference.interface import BackendError
from msdepth_ros.inference.parity import compare_depth, scenes_for
from msdepth_ros.model.checkpoint import save_checkpoint
from msdepth_ros.model.network import build_model, ModelConfig
from msdepth_ros.tools.export import main
import numpy as np
import onnx
from onnx.external_data_helper import uses_external_data
import onnxruntime as ort
import pytest
import torch


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    torch.manual_seed(3)
    model = build_model(ModelConfig.for_preset('kitti', coarse_fc_width=32)).eval()
    return save_checkpoint(tmp_path_factory.mktemp('ckpt') / 'kitti.pt', model)


@pytest.fixture(scope='module')
def exported(checkpoint, tmp_path_factory):
    folder = tmp_path_factory.mktemp('onnx')
    fp32 = export_checkpoint(checkpoint, folder / 'model.onnx')
    fp16 = export_checkpoint(checkpoint, folder / 'model.fp16.onnx', fp16=True)
    int8 = quantize_fc_int8(fp32.path, folder / 'model.int8.onnx')
    return {'fp32': fp32, 'fp16': fp16, 'int8': int8, 'folder': folder}


def _meta(model):
    return {p.key: p.value for p in model.metadata_props}


def test_onnx_contract(exported):
    result = exported['fp32']
    model = onnx.load(str(result.path))
    assert [o.version for o in model.opset_import if o.domain in ('', 'ai.onnx')] == [17]
    (inp,), (out,) = model.graph.input, model.graph.output
    assert inp.name == 'image' and out.name == 'log_depth'
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert out.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert [d.dim_value for d in inp.type.tensor_type.shape.dim] == [1, 3, 172, 576]
    assert [d.dim_value for d in out.type.tensor_type.shape.dim] == [1, 1, 27, 142]
    meta = _meta(model)
    expected = ModelConfig.for_preset('kitti', coarse_fc_width=32).to_dict()
    assert json.loads(meta['msdepth_ros.model_config']) == json.loads(json.dumps(expected))
    assert meta['msdepth_ros.precision'] == 'fp32'
    # One self-contained file: no external data, nothing else written, no temporary files.
    assert not any(uses_external_data(t) for t in model.graph.initializer)
    assert sorted(p.name for p in exported['folder'].iterdir()) == [
        'model.fp16.onnx', 'model.int8.onnx', 'model.onnx']
    assert result.size_bytes == result.path.stat().st_size
    onnx.checker.check_model(model, full_check=True)


def test_fp16_export_keeps_float32_io_and_stays_close(checkpoint, exported):
    model = onnx.load(str(exported['fp16'].path))
    big = [t for t in model.graph.initializer if len(t.dims) > 1]
    assert big and all(t.data_type == onnx.TensorProto.FLOAT16 for t in big)
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert model.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert _meta(model)['msdepth_ros.precision'] == 'fp16'
    assert exported['fp16'].size_bytes < 0.6 * exported['fp32'].size_bytes
    reference = load_backend(checkpoint, 'torch')
    fp16 = load_backend(exported['fp16'].path, 'onnxruntime')
    assert fp16.info.precision == 'fp16'
    report = compare_depth(reference, fp16, scenes_for(reference.preset, 1))
    assert report.max_rel < 2e-2 and report.validity_mismatches == 0


def test_int8_quantizes_the_fully_connected_layers(exported):
    model = onnx.load(str(exported['int8'].path))
    ops = [n.op_type for n in model.graph.node]
    assert ops.count('MatMulInteger') == 2 and 'Gemm' not in ops
    assert 'ConvInteger' not in ops  # convolutions stay FP32
    assert _meta(model)['msdepth_ros.precision'] == 'int8'
    fp32 = load_backend(exported['fp32'].path, 'onnxruntime')
    int8 = load_backend(exported['int8'].path, 'onnxruntime')
    assert int8.info.precision == 'int8' and int8.preset == fp32.preset
    report = compare_depth(fp32, int8, scenes_for(fp32.preset, 1))
    assert 0 < report.max_rel < 1e-2


def test_int8_needs_the_fp32_export(exported, tmp_path):
    with pytest.raises(BackendError, match='starts from the FP32 export'):
        quantize_fc_int8(exported['fp16'].path, tmp_path / 'x.onnx')


def test_gemm_rewrite_computes_the_same(exported):
    model = onnx.load(str(exported['fp32'].path))
    rewritten = onnx.load(str(exported['fp32'].path))
    assert gemm_to_matmul(rewritten) == 2
    assert [n.op_type for n in rewritten.graph.node].count('MatMul') == 2
    x = np.random.default_rng(1).normal(size=(1, 3, 172, 576)).astype(np.float32)
    outputs = [ort.InferenceSession(m.SerializeToString(), providers=['CPUExecutionProvider'])
               .run(None, {'image': x})[0] for m in (model, rewritten)]
    np.testing.assert_allclose(outputs[1], outputs[0], rtol=1e-5, atol=1e-5)


def test_cli_exports_checks_parity_and_reports_int8(checkpoint, tmp_path, capsys):
    out = tmp_path / 'deploy' / 'kitti.onnx'
    assert main([str(checkpoint), '-o', str(out), '--int8', '--scenes', '1',
                 '--timing-frames', '2']) == 0
    text = capsys.readouterr().out
    assert f'wrote {out} ' in text and 'preset kitti' in text
    line = next(x for x in text.splitlines() if x.startswith('parity ONNX Runtime FP32'))
    assert 'max relative depth error' in line and 'median' in line and '[ok' in line
    assert 'INT8 vs FP32 ONNX: max relative depth error' in text
    assert 'abs_rel' in text and 'speed-up' in text
    assert _meta(onnx.load(str(out)))['msdepth_ros.precision'] == 'fp32'
    assert _meta(onnx.load(str(out.with_name('kitti.int8.onnx'))))['msdepth_ros.precision'] \
        == 'int8'


def test_cli_parity_failure_exits_1(checkpoint, tmp_path, capsys):
    code = main([str(checkpoint), '-o', str(tmp_path / 'm.onnx'), '--fp16', '--scenes', '1',
                 '--fp16-tolerance', '1e-9'])
    assert code == 1
    assert 'parity ONNX Runtime FP16 vs PyTorch' in capsys.readouterr().out
    assert (tmp_path / 'm.fp16.onnx').is_file()


def test_cli_user_errors_exit_2_without_traceback(checkpoint, tmp_path):
    script = console_script('msdepth-export')
    text_file = tmp_path / 'notes.pt'
    text_file.write_text('not a checkpoint\n')
    cases = [
        ([str(tmp_path / 'missing.pt')], 'no such checkpoint file'),
        ([str(text_file)], 'not a readable PyTorch checkpoint'),
        ([str(checkpoint), '--tensorrt', '-o', str(tmp_path / 'never.onnx')],
         'tensorrt is not installed'),
    ]
    for args, expected in cases:
        proc = subprocess.run([script, *args], capture_output=True, text=True)
        assert proc.returncode == 2, proc.stderr
        assert expected in proc.stderr and 'Traceback' not in proc.stderr
    assert not (tmp_path / 'never.onnx').exists()  # checked before any work


def test_cli_bad_options_exit_2(checkpoint, capsys):
    for args in (['-o', 'model.txt'], ['--scenes', '-1'], ['--tolerance', '0']):
        with pytest.raises(SystemExit) as info:
            main([str(checkpoint), *args])
        assert info.value.code == 2
    assert 'must end with .onnx' in capsys.readouterr().err


def test_tensorrt_export_on_a_dla_core_without_fp16(checkpoint, tmp_path, monkeypatch, capsys):
    """
    ``--tensorrt --dla-core N`` without ``--fp16`` builds FP16 (DLA runs FP16), as the node does.

    TensorRT, cuda-python and the GPU cannot exist here: TensorRT and cuda-python are the strict
    doubles of ``trt_doubles`` and the CUDA driver a stand-in library compiled for the test.
    """
    import sys

    from msdepth_ros.inference import devices
    from trt_doubles import build_stub_driver, fake_cudart, fake_tensorrt, install_doubles
    library = build_stub_driver(tmp_path / 'driver')
    if library is None:
        pytest.skip('no C compiler to build the stand-in CUDA driver')
    monkeypatch.setattr(devices, 'DRIVER_LIBRARIES', (str(library),))
    monkeypatch.setenv('STUB_CUDA_COUNT', '1')
    monkeypatch.setenv('STUB_CUINIT_ERROR', '0')
    monkeypatch.setitem(sys.modules, 'cuda', None)  # cuda-python only where the test puts it

    def install(version):
        trt, calls = fake_tensorrt(version, dla_cores=2)
        modules = {}
        install_doubles(modules, trt, fake_cudart()[0])
        for name, module in modules.items():
            monkeypatch.setitem(sys.modules, name, module)
        return trt, calls

    trt, calls = install('10.3.0')
    args = [str(checkpoint), '-o', str(tmp_path / 'm.onnx'), '--scenes', '0', '--tensorrt',
            '--dla-core', '0', '--engine-cache', str(tmp_path / 'engines')]
    assert main(args) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert 'fp16, dla:0' in out
    assert ('set_flag', trt.BuilderFlag.FP16) in calls
    assert ('IBuilderConfig.DLA_core', 0) in calls
    # TensorRT 11 has no FP16 flag: refused before any export, naming the fix.
    install('11.1.0')
    args[2] = str(tmp_path / 'never.onnx')
    assert main(args) == 2
    assert 'export with msdepth-export --fp16' in capsys.readouterr().err
    assert not (tmp_path / 'never.onnx').exists()
    args[2] = str(tmp_path / 'm11.onnx')
    assert main([*args, '--fp16']) == 0, capsys.readouterr().err
    assert 'fp16, dla:0' in capsys.readouterr().out
