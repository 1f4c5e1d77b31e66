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
The TensorRT backend against strict doubles of TensorRT and cuda-python, on a stand-in driver.

TensorRT, cuda-python and a CUDA GPU cannot exist on the machines these tests run on, so
``trt_doubles`` stands in for them: the doubles offer exactly the TensorRT 10.3 (and 11.x) and
cuda-python names the package uses and fail on any other, the ONNX files, ONNX parsing of their
inputs and outputs, PyTorch (a CPU build) and the engine cache are real, and the GPU is a
stand-in ``libcuda.so.1`` compiled here (``cuInit`` succeeds, one device). The tests check the
version-dependent build choices (``BuilderFlag.FP16`` on TensorRT 10 only), the DLA set-up, the
cuda-python memory path end to end (copies, stream, engine execution, freeing), that TensorRT
before 10 is refused by name, and that failures are clear errors. ``benchmarks/gpu_check.py``
runs the real bindings on a GPU.
"""

from __future__ import annotations

import sys

from msdepth_ros.inference import devices, load_backend
from msdepth_ros.inference.engine_cache import (BuildSettings, EngineBuildError,
                                                EngineDeserializeError)
from msdepth_ros.inference.export import export_checkpoint
from msdepth_ros.inference.interface import BackendError
from msdepth_ros.inference.tensorrt_backend import TensorRTRuntime
from msdepth_ros.model.checkpoint import save_checkpoint
from msdepth_ros.model.network import build_model, ModelConfig
import numpy as np
import pytest
import torch
from trt_doubles import (build_stub_driver, CUDART_12_API, fake_cudart, fake_tensorrt,
                         install_doubles, public_names, TENSORRT_10_3_API, TENSORRT_11_REMOVED)

CPU_TORCH = pytest.mark.skipif(torch.cuda.is_available(),
                               reason='PyTorch has CUDA here: the torch memory path is chosen')


@pytest.fixture(scope='module')
def onnx_path(tmp_path_factory):
    folder = tmp_path_factory.mktemp('trt')
    torch.manual_seed(0)
    model = build_model(ModelConfig.for_preset('kitti', coarse_fc_width=32)).eval()
    return export_checkpoint(save_checkpoint(folder / 'kitti.pt', model),
                             folder / 'kitti.onnx').path


@pytest.fixture(scope='module')
def stub_driver(tmp_path_factory):
    library = build_stub_driver(tmp_path_factory.mktemp('driver'))
    if library is None:
        pytest.skip('no C compiler to build the stand-in CUDA driver')
    return library


@pytest.fixture
def one_gpu(stub_driver, monkeypatch):
    """Put the stand-in driver (one GPU) in place of libcuda for this test."""
    monkeypatch.setattr(devices, 'DRIVER_LIBRARIES', (str(stub_driver),))
    monkeypatch.delenv('STUB_CUINIT_ERROR', raising=False)
    monkeypatch.setenv('STUB_CUDA_COUNT', '1')


def _install(monkeypatch, trt=None, cudart=None):
    modules = {}
    install_doubles(modules, trt, cudart)
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)


# -- the doubles are strict -----------------------------------------------------------------


@pytest.mark.parametrize('version', ['10.3.0', '11.1.0'])
def test_tensorrt_double_offers_exactly_the_listed_api(version):
    trt, _ = fake_tensorrt(version)
    removed = TENSORRT_11_REMOVED if version.startswith('11') else {}
    assert public_names(trt) == set(TENSORRT_10_3_API['tensorrt'])
    assert set(trt._classes) == set(TENSORRT_10_3_API) - {'tensorrt'}
    for name, cls in trt._classes.items():
        expected = set(TENSORRT_10_3_API[name]) - set(removed.get(name, ()))
        assert public_names(cls) == expected, name
    assert trt.__version__ == version


def test_cudart_double_offers_exactly_the_listed_api():
    cudart, _ = fake_cudart()
    assert public_names(cudart) == set(CUDART_12_API['cuda.bindings.runtime'])
    assert public_names(cudart.cudaError_t) == set(CUDART_12_API['cudaError_t'])
    assert public_names(cudart.cudaMemcpyKind) == set(CUDART_12_API['cudaMemcpyKind'])


def test_misspelt_names_fail():
    trt, _ = fake_tensorrt('10.3.0')
    config = trt.Builder(trt.Logger(trt.Logger.WARNING)).create_builder_config()
    with pytest.raises(AttributeError, match='cannot be set'):
        config.DLA_cores = 1
    with pytest.raises(AttributeError):
        config.set_flags(trt.BuilderFlag.FP16)
    with pytest.raises(AttributeError):
        trt.BuilderFlag.FP_16
    with pytest.raises(AttributeError):
        fake_tensorrt('11.1.0')[0].BuilderFlag.FP16


# -- builder calls --------------------------------------------------------------------------


def test_tensorrt_10_build_sets_fp16_flag_workspace_level_and_timing_cache(onnx_path):
    trt, calls = fake_tensorrt('10.3.0')
    engine, timing = TensorRTRuntime(trt).build(
        onnx_path.read_bytes(), BuildSettings(precision='fp16', workspace_bytes=256 << 20,
                                              optimization_level=4), b'old')
    assert engine.startswith(b'ENGINE-DOUBLE') and timing == b'timing:old'
    assert ('create_network', 0) in calls
    assert ('set_memory_pool_limit', trt.MemoryPoolType.WORKSPACE, 256 << 20) in calls
    assert ('IBuilderConfig.builder_optimization_level', 4) in calls
    assert ('set_flag', trt.BuilderFlag.FP16) in calls
    assert ('create_timing_cache', b'old') in calls and ('set_timing_cache', False) in calls


def test_tensorrt_11_build_sets_no_precision_flag(onnx_path):
    trt, calls = fake_tensorrt('11.1.0')
    TensorRTRuntime(trt).build(onnx_path.read_bytes(), BuildSettings(precision='fp16'), None)
    assert not [c for c in calls if c[0] == 'set_flag']
    assert ('create_timing_cache', b'') in calls


def test_dla_core_with_gpu_fallback(onnx_path):
    trt, calls = fake_tensorrt('10.3.0', dla_cores=2)
    TensorRTRuntime(trt).build(onnx_path.read_bytes(), BuildSettings(
        precision='fp16', dla_core=1, timing_cache=False), None)
    assert ('IBuilderConfig.default_device_type', trt.DeviceType.DLA) in calls
    assert ('IBuilderConfig.DLA_core', 1) in calls
    assert ('set_flag', trt.BuilderFlag.GPU_FALLBACK) in calls
    assert not [c for c in calls if c[0] == 'create_timing_cache']
    with pytest.raises(EngineBuildError, match='DLA core 2 asked for, this device has 2'):
        TensorRTRuntime(trt).build(onnx_path.read_bytes(),
                                   BuildSettings(precision='fp16', dla_core=2), None)
    runtime = TensorRTRuntime(trt)
    assert runtime.deserialize(b'ENGINE-DOUBLE[]', 0) is not None
    assert ('Runtime.DLA_core', 0) in calls


def test_parse_build_and_deserialize_failures_are_clear_errors():
    with pytest.raises(EngineBuildError, match='could not parse the ONNX model: In node 3'):
        TensorRTRuntime(fake_tensorrt(parse_ok=False)[0]).build(b'x', BuildSettings(), None)
    with pytest.raises(EngineBuildError, match='could not parse the ONNX model: not an ONNX'):
        TensorRTRuntime(fake_tensorrt()[0]).build(b'x', BuildSettings(), None)
    trt = fake_tensorrt('11.1.0', build_ok=False)[0]
    with pytest.raises(EngineBuildError, match='failed to build'):
        TensorRTRuntime(trt).build(_minimal_onnx(), BuildSettings(), None)
    with pytest.raises(EngineDeserializeError, match='another TensorRT version'):
        TensorRTRuntime(fake_tensorrt(deserialize_ok=False)[0]).deserialize(b'x', None)


def _minimal_onnx() -> bytes:
    import onnx
    from onnx import helper, TensorProto
    graph = helper.make_graph(
        [helper.make_node('Identity', ['image'], ['log_depth'])], 'g',
        [helper.make_tensor_value_info('image', TensorProto.FLOAT, [1, 3, 2, 2])],
        [helper.make_tensor_value_info('log_depth', TensorProto.FLOAT, [1, 3, 2, 2])])
    return onnx.helper.make_model(graph).SerializeToString()


# -- the backend end to end, cuda-python memory ---------------------------------------------


def test_cuda_python_path_runs_the_engine_and_frees_all(onnx_path, one_gpu, monkeypatch, tmp_path):
    trt, calls = fake_tensorrt('10.3.0')
    cudart, state = fake_cudart()
    _install(monkeypatch, trt, cudart)
    backend = load_backend(onnx_path, 'tensorrt', memory='cuda-python', cache_dir=tmp_path)
    assert backend.info.details['memory'] == 'cuda-python'
    assert backend.info.details['engine_built'] and backend.info.precision == 'fp32'
    assert backend.info.device == 'cuda:0 (Stand-in GPU)'
    assert backend.info.details['engine_key']['compute_capability'] == '8.7'
    image = np.random.default_rng(0).normal(size=backend.input_shape).astype(np.float32)
    depth = backend.predict(image)
    h, w = backend.output_shape
    # The double's engine copies the input's first bytes into the output: what comes back
    # shows both copies and the engine ran on the right buffers, in order.
    np.testing.assert_array_equal(depth, image.ravel()[:h * w].reshape(h, w))
    stream = next(c[1] for c in calls if c[0] == 'execute_async_v3')
    kinds = [c for c in state.calls if c[0] in ('cudaMemcpyAsync', 'cudaStreamSynchronize')]
    assert kinds == [('cudaMemcpyAsync', cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, stream),
                     ('cudaMemcpyAsync', cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost, stream),
                     ('cudaStreamSynchronize', stream)]
    assert {c[1] for c in calls if c[0] == 'set_tensor_address'} == {'image', 'log_depth'}
    backend.close()
    assert state.buffers == {} and state.streams == set()
    again = load_backend(onnx_path, 'tensorrt', memory='cuda-python', cache_dir=tmp_path)
    assert not again.info.details['engine_built']
    again.close()


@CPU_TORCH
def test_memory_auto_takes_cuda_python_when_pytorch_has_no_cuda(onnx_path, one_gpu,
                                                                monkeypatch, tmp_path):
    _install(monkeypatch, fake_tensorrt('10.3.0')[0], fake_cudart()[0])
    backend = load_backend(onnx_path, 'tensorrt', cache_dir=tmp_path)
    assert backend.info.details['memory'] == 'cuda-python'
    assert 'is a CPU build' in backend.info.details['memory_choice']
    backend.close()
    with pytest.raises(BackendError, match='memory torch asked for, but PyTorch .* CPU build'):
        load_backend(onnx_path, 'tensorrt', memory='torch', cache_dir=tmp_path)


@CPU_TORCH
def test_no_memory_path_names_both(onnx_path, one_gpu, monkeypatch, tmp_path):
    _install(monkeypatch, fake_tensorrt('10.3.0')[0])
    monkeypatch.setitem(sys.modules, 'cuda', None)  # cuda-python absent even if installed
    with pytest.raises(BackendError) as info:
        load_backend(onnx_path, 'tensorrt', cache_dir=tmp_path)
    assert 'PyTorch with CUDA or cuda-python' in str(info.value)
    assert 'CPU build' in str(info.value) and 'pip install cuda-python' in str(info.value)


def test_dla_engine_is_fp16_with_gpu_fallback(onnx_path, one_gpu, monkeypatch, tmp_path):
    trt, calls = fake_tensorrt('10.3.0', dla_cores=2)
    _install(monkeypatch, trt, fake_cudart()[0])
    backend = load_backend(onnx_path, 'tensorrt', dla_core=1, memory='cuda-python',
                           cache_dir=tmp_path)
    assert backend.info.precision == 'fp16' and backend.info.device == 'dla:1'
    assert ('set_flag', trt.BuilderFlag.FP16) in calls
    assert ('Runtime.DLA_core', 1) in calls
    backend.close()


def test_no_gpu_is_a_clear_error(onnx_path, monkeypatch, tmp_path):
    monkeypatch.setattr(devices, 'DRIVER_LIBRARIES', (str(tmp_path / 'no-libcuda.so'),))
    _install(monkeypatch, fake_tensorrt('10.3.0')[0], fake_cudart()[0])
    with pytest.raises(BackendError, match='no CUDA device 0 .no CUDA driver is installed'):
        load_backend(onnx_path, 'tensorrt', cache_dir=tmp_path)


# -- versions -------------------------------------------------------------------------------


@pytest.mark.parametrize('version', ['8.6.2', '8.5.2.2', '9.3.0'])
def test_tensorrt_before_10_is_refused_by_name(onnx_path, one_gpu, monkeypatch, tmp_path,
                                               version):
    _install(monkeypatch, fake_tensorrt(version)[0], fake_cudart()[0])
    with pytest.raises(BackendError) as info:
        load_backend(onnx_path, 'tensorrt', cache_dir=tmp_path)
    message = str(info.value)
    assert f'TensorRT {version} is not supported' in message
    assert 'TensorRT 10.x (JetPack 6 ships 10.3) and 11.x' in message
    auto = load_backend(onnx_path, cache_dir=tmp_path)
    assert auto.info.name == 'onnxruntime'
    assert auto.info.warnings[0].startswith('tensorrt passed over: 1 CUDA GPU found but '
                                            f'TensorRT {version} is not supported')


def test_tensorrt_11_needs_an_fp16_onnx_for_fp16(onnx_path, one_gpu, monkeypatch, tmp_path):
    _install(monkeypatch, fake_tensorrt('11.1.0')[0], fake_cudart()[0])
    with pytest.raises(BackendError, match='msdepth-export --fp16'):
        load_backend(onnx_path, 'tensorrt', precision='fp16', memory='cuda-python',
                     cache_dir=tmp_path)
    backend = load_backend(onnx_path, 'tensorrt', memory='cuda-python', cache_dir=tmp_path)
    assert backend.info.details['strongly_typed_only'] and backend.info.precision == 'fp32'
    backend.close()
