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
The CUDA and TensorRT paths, checked on a machine with a GPU.

None of this can run where there is no CUDA GPU (the development machines of this project
have none), so this script is how those paths are exercised: both memory paths of the TensorRT
backend (PyTorch CUDA and cuda-python) with a stand-in for the engine (a device-to-device copy
of the input buffer into the output buffer on the backend's stream, through the CUDA driver),
whose bytes read back must equal the input's; PyTorch on CUDA in FP32, FP16 and FP16 with CUDA
graphs; ONNX Runtime's CUDA provider; TensorRT engines built through the engine cache, loaded
again from it, rebuilt after corruption, loaded as a bare engine file, and run on each memory
path. Each network run is compared with PyTorch on the CPU on synthetic scenes (max relative
depth error) and timed. The GPU is found by the CUDA driver, so a machine whose PyTorch is a CPU
build still runs the cuda-python and TensorRT checks.

    .venv/bin/python benchmarks/gpu_check.py                     # paper-width network
    .venv/bin/python benchmarks/gpu_check.py --coarse-fc-width 256 --presets kitti

Prints one PASS / FAIL / SKIP line per check and a latency table; exits 1 when a check fails
and 2 with 'skipped: no CUDA GPU' when the driver reports none (nothing was checked).
"""

from __future__ import annotations

import argparse
import ctypes
from pathlib import Path
import sys
import tempfile
import traceback
from typing import Any, Callable

import numpy as np

#: Largest relative depth error against PyTorch FP32 on the CPU. CUDA FP32 convolutions may
#: use TF32 (PyTorch's default for cuDNN), hence more than the ONNX Runtime CPU tolerance.
TOLERANCE = {'fp32': 5e-3, 'fp16': 3e-2}


class Checks:
    """Collects results and prints them as they come."""

    def __init__(self) -> None:
        self.failed = 0
        self.preset = ''
        self.latency: list[tuple[str, float, float]] = []

    def skip(self, name: str, why: str) -> None:
        print(f'SKIP  {name}: {why}')

    def parity(self, name: str, reference, backend, frames, precision: str, image) -> None:
        from msdepth_ros.inference.parity import compare_depth, latencies_s
        report = compare_depth(reference, backend, frames)
        ok = report.passed(TOLERANCE[precision])
        self.failed += not ok
        print(f'{"PASS" if ok else "FAIL"}  {name}: {report.summary()} '
              f'(tolerance {TOLERANCE[precision]:.0e}; {backend.info.device})')
        t = latencies_s(backend, image, frames=30)
        self.latency.append((f'{self.preset} {name}', float(np.median(t)),
                             float(np.percentile(t, 90))))

    def expect(self, name: str, ok: bool, detail: str = '') -> None:
        self.failed += not ok
        print(f'{"PASS" if ok else "FAIL"}  {name}{": " + detail if detail else ""}')

    def guard(self, name: str, func, *args) -> None:
        try:
            func(*args)
        except Exception:  # noqa: B902 - report every failure and go on to the next check
            self.failed += 1
            print(f'FAIL  {name}: raised\n{traceback.format_exc()}')


#: ``copy(dst, src, nbytes, stream)``: a device-to-device copy enqueued on ``stream``.
DeviceCopy = Callable[[int, int, int, int], None]


def driver_device_copy() -> DeviceCopy:
    """Return the CUDA driver's ``cuMemcpyDtoDAsync`` (the engine's stand-in in these checks)."""
    from msdepth_ros.inference.devices import load_cuda_driver
    lib, name = load_cuda_driver()
    func = lib.cuMemcpyDtoDAsync_v2
    func.argtypes = [ctypes.c_uint64, ctypes.c_uint64, ctypes.c_size_t, ctypes.c_void_p]

    def copy(dst: int, src: int, nbytes: int, stream: int) -> None:
        err = func(dst, src, nbytes, stream)
        if err != 0:
            raise RuntimeError(f'cuMemcpyDtoDAsync failed with CUDA error {err} ({name})')
    return copy


def memory_path_roundtrip(kind: str, image: np.ndarray, out_shape: tuple[int, ...],
                          copy: DeviceCopy) -> np.ndarray:
    """
    Run one memory path of the TensorRT backend with a stand-in engine; return what came back.

    The stand-in copies the input buffer's first bytes into the output buffer on the stream the
    backend passes to ``execute_async_v3``, so the result is ``image``'s first values exactly
    when the host-to-device copy, the stream, the addresses and the read-back are all right.
    """
    from msdepth_ros.inference.gpu_memory import open_memory
    from msdepth_ros.inference.onnx_model import INPUT_NAME, OUTPUT_NAME
    memory = open_memory(kind, 0)
    try:
        addresses = memory.allocate({INPUT_NAME: (image.shape, np.dtype(np.float32)),
                                     OUTPUT_NAME: (out_shape, np.dtype(np.float32))})
        nbytes = int(np.prod(out_shape)) * 4

        def execute(stream: int) -> bool:
            copy(addresses[OUTPUT_NAME], addresses[INPUT_NAME], nbytes, stream)
            return True
        return memory.run(execute, {INPUT_NAME: image}, OUTPUT_NAME).copy()
    finally:
        memory.free()


def check_memory_paths(checks: Checks, image: np.ndarray, out_shape: tuple[int, ...],
                       copy: DeviceCopy | None = None) -> None:
    """
    Run both memory paths, each forced, with the stand-in engine; compare bytes with the input.

    ``copy`` is the stand-in engine's device-to-device copy (the CUDA driver's when None).
    """
    from msdepth_ros.inference.devices import choose_memory_path
    copy = copy or driver_device_copy()
    expected = image.ravel()[:int(np.prod(out_shape))].reshape(out_shape)
    results: dict[str, Any] = {}
    for kind in ('torch', 'cuda-python'):
        available, why = choose_memory_path(kind)
        if available is None:
            checks.skip(f'TensorRT memory path {kind}', why)
            continue
        got = memory_path_roundtrip(kind, image, out_shape, copy)
        same = got.tobytes() == expected.tobytes()
        checks.expect(f'TensorRT memory path {kind}: bytes read back equal the input', same,
                      f'{got.nbytes} bytes' if same else
                      f'{int((got != expected).sum())} of {got.size} values differ')
        results[kind] = got
    if len(results) == 2:
        checks.expect('TensorRT memory paths agree byte for byte',
                      results['torch'].tobytes() == results['cuda-python'].tobytes())


def check_torch(checks: Checks, ckpt: Path, reference, frames, image) -> None:
    from msdepth_ros.inference import load_backend
    from msdepth_ros.inference.devices import torch_cuda_problem
    if torch_cuda_problem():
        checks.skip('PyTorch CUDA', torch_cuda_problem())
        return
    for precision, graphs in (('fp32', False), ('fp16', False), ('fp16', True)):
        name = f'PyTorch CUDA {precision.upper()}{" + CUDA graphs" if graphs else ""}'
        backend = load_backend(ckpt, 'torch', device='cuda', precision=precision,
                               cuda_graphs=graphs)
        checks.expect(f'{name} graph captured', backend.info.details['cuda_graphs'] == graphs)
        checks.parity(name, reference, backend, frames, precision, image)
        backend.close()


def check_onnxruntime(checks: Checks, onnx_path: Path, reference, frames, image) -> None:
    from msdepth_ros.inference import load_backend
    import onnxruntime as ort
    if 'CUDAExecutionProvider' not in ort.get_available_providers():
        checks.skip('ONNX Runtime CUDA', f'this build has {ort.get_available_providers()} '
                    '(install onnxruntime-gpu)')
        return
    backend = load_backend(onnx_path, 'onnxruntime', providers=['CUDAExecutionProvider'])
    checks.parity('ONNX Runtime CUDA FP32', reference, backend, frames, 'fp32', image)
    auto = load_backend(onnx_path, 'onnxruntime')
    checks.expect('ONNX Runtime picks a GPU provider', auto.info.device != 'CPUExecutionProvider',
                  f'{auto.info.details["providers"]}')


def check_tensorrt(checks: Checks, fp32: Path, fp16: Path, reference, frames, image,
                   cache: Path) -> None:
    from msdepth_ros.inference import load_backend
    from msdepth_ros.inference.devices import try_import
    trt, why = try_import('tensorrt')
    if trt is None:
        checks.skip('TensorRT', why)
        return
    from msdepth_ros.inference.devices import choose_memory_path
    auto = load_backend(fp32, cache_dir=cache)
    checks.expect('auto picks TensorRT for an ONNX with a GPU', auto.info.name == 'tensorrt',
                  f'{auto.info.reason}; warnings: {list(auto.info.warnings)}')
    checks.expect('first load builds the engine', auto.info.details['engine_built'])
    checks.parity(f'TensorRT {trt.__version__} FP32 (memory {auto.info.details["memory"]})',
                  reference, auto, frames, 'fp32', image)
    engine = Path(auto.info.details['engine'])
    auto.close()
    for kind in ('torch', 'cuda-python'):
        available, why = choose_memory_path(kind)
        if available is None:
            checks.skip(f'TensorRT on memory path {kind}', why)
            continue
        forced = load_backend(fp32, 'tensorrt', memory=kind, cache_dir=cache)
        checks.expect(f'memory={kind} runs on {kind}', forced.info.details['memory'] == kind)
        checks.parity(f'TensorRT FP32 on memory path {kind}', reference, forced, frames, 'fp32',
                      image)
        forced.close()
    again = load_backend(fp32, 'tensorrt', cache_dir=cache)
    checks.expect('second load comes from the cache', not again.info.details['engine_built'])
    again.close()
    bare = load_backend(engine, 'tensorrt')
    checks.parity('TensorRT bare engine file', reference, bare, frames, 'fp32', image)
    bare.close()
    engine.write_bytes(engine.read_bytes()[:1000])
    rebuilt = load_backend(fp32, 'tensorrt', cache_dir=cache)
    details = rebuilt.info.details
    checks.expect('a corrupted cached engine is rebuilt',
                  details['engine_built'] and 'engine_rebuilt' in details,
                  details.get('engine_rebuilt', ''))
    rebuilt.close()
    half = load_backend(fp16, 'tensorrt', cache_dir=cache)
    checks.parity(f'TensorRT {trt.__version__} FP16 (FP16 ONNX)', reference, half, frames, 'fp16',
                  image)
    half.close()
    if hasattr(trt.BuilderFlag, 'FP16'):
        flag = load_backend(fp32, 'tensorrt', precision='fp16', cache_dir=cache)
        checks.parity('TensorRT FP16 (BuilderFlag.FP16)', reference, flag, frames, 'fp16',
                      image)
        flag.close()
    else:
        checks.skip('TensorRT BuilderFlag.FP16', f'TensorRT {trt.__version__} has no precision '
                    'flags (strongly typed networks only)')


def main(argv: list[str] | None = None) -> int:
    """Run every check that this machine supports."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--presets', nargs='+', default=['kitti', 'nyu'],
                        choices=['kitti', 'nyu'])
    parser.add_argument('--coarse-fc-width', type=int, default=4096)
    parser.add_argument('--scenes', type=int, default=3)
    args = parser.parse_args(argv)

    from msdepth_ros.inference.devices import probe_gpus, torch_cuda_problem
    gpus = probe_gpus()
    if not gpus.count:
        print(f'skipped: no CUDA GPU ({gpus.describe()}); nothing checked')
        return 2

    from msdepth_ros.inference import load_backend
    from msdepth_ros.inference.export import export_checkpoint
    from msdepth_ros.inference.parity import network_input, scenes_for
    from msdepth_ros.model.checkpoint import save_checkpoint
    from msdepth_ros.model.network import build_model, ModelConfig
    import torch

    print(f'{gpus.describe()} by the CUDA driver ({gpus.driver}); PyTorch {torch.__version__}: '
          f'{torch_cuda_problem() or "CUDA " + str(torch.version.cuda)}')
    checks = Checks()
    with tempfile.TemporaryDirectory(prefix='msdepth-gpu-check-') as tmp:
        folder = Path(tmp)
        for preset in args.presets:
            print(f'\n== {preset} (coarse 6 width {args.coarse_fc_width})')
            checks.preset = preset
            torch.manual_seed(0)
            model = build_model(ModelConfig.for_preset(preset,
                                                       coarse_fc_width=args.coarse_fc_width))
            ckpt = save_checkpoint(folder / f'{preset}.pt', model.eval())
            fp32 = export_checkpoint(ckpt, folder / f'{preset}.onnx').path
            fp16 = export_checkpoint(ckpt, folder / f'{preset}.fp16.onnx', fp16=True).path
            reference = load_backend(ckpt, 'torch', device='cpu')
            frames = scenes_for(reference.preset, args.scenes)
            image = network_input(reference.preset, frames[0])
            checks.guard('TensorRT memory paths', check_memory_paths, checks, image,
                         (1, 1, *reference.output_shape))
            checks.guard('PyTorch CUDA', check_torch, checks, ckpt, reference, frames, image)
            checks.guard('ONNX Runtime CUDA', check_onnxruntime, checks, fp32, reference, frames,
                         image)
            checks.guard('TensorRT', check_tensorrt, checks, fp32, fp16, reference, frames,
                         image, folder / 'engines')
    print('\n| path | median ms | p90 ms |\n| --- | --- | --- |')
    for name, median, p90 in checks.latency:
        print(f'| {name} | {median * 1e3:.2f} | {p90 * 1e3:.2f} |')
    print(f'\n{checks.failed} check(s) failed' if checks.failed else '\nall checks passed')
    return 1 if checks.failed else 0


if __name__ == '__main__':
    sys.exit(main())
