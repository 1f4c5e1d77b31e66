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
Checkpoint -> ONNX (FP32, optionally FP16) and INT8 quantization of the fully connected layers.

The export uses PyTorch's TorchScript-based exporter (``torch.onnx.export(..., dynamo=False)``),
chosen deliberately over the dynamo exporter that torch 2.13 makes the default: the network is
a static-shape stack of convolutions, pools and two fully connected layers that tracing
captures exactly; the TorchScript exporter writes opset 17 directly and needs nothing beyond
torch and onnx (the dynamo exporter needs onnxscript and onnx-ir on top and would add them to
every install). PyTorch marks it deprecated; ``requirements/base.txt`` pins torch, and the
export tests fail the day it stops producing the contract of ``onnx_model``. Weights are
embedded (the model is far below protobuf's 2 GiB limit) and the result is checked to hold no
external data, so the ``.onnx`` is one self-contained file.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
import io
import logging
import os
from pathlib import Path
import tempfile
from typing import Any
import warnings

from msdepth_ros.inference.files import atomic_write_bytes
from msdepth_ros.inference.interface import BackendError
from msdepth_ros.inference.onnx_model import (FORMAT_KEY, INPUT_NAME, metadata_for,
                                              MODEL_CONFIG_KEY, OPSET, OUTPUT_NAME, PRECISION_KEY,
                                              read_onnx_file)


@dataclass(frozen=True)
class ExportResult:
    """One written model: where, which precision, its preset and size."""

    path: Path
    precision: str
    preset_name: str
    size_bytes: int


def export_onnx(model: Any, path: str | os.PathLike, fp16: bool = False) -> ExportResult:
    """
    Write ``model`` as a self-contained ONNX file with its config in the metadata.

    Parameters
    ----------
    model:
        A ``MultiScaleDepthNet`` (on the CPU); it is not modified.
    path:
        The ``.onnx`` file to write (atomically).
    fp16:
        Store weights and compute in float16; the ``image`` input and ``log_depth`` output
        stay float32 (cast inside the graph), so every backend feeds it the same way.

    Returns
    -------
    What was written.

    """
    import onnx
    import torch

    path = Path(path)
    preset = model.preset
    net = copy.deepcopy(model).cpu().eval()
    if fp16:
        net = _float16_network(torch, net)
    example = torch.zeros(1, 3, preset.input_height, preset.input_width)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The deliberate choice of the TorchScript exporter (module docstring).
        warnings.filterwarnings('ignore', category=DeprecationWarning)
        warnings.filterwarnings('ignore', message='.*legacy TorchScript-based ONNX export.*')
        with torch.inference_mode(False), torch.no_grad():
            torch.onnx.export(net, (example,), buffer, input_names=[INPUT_NAME],
                              output_names=[OUTPUT_NAME], opset_version=OPSET, dynamo=False,
                              do_constant_folding=True, export_params=True)
    proto = onnx.load_from_string(buffer.getvalue())
    precision = 'fp16' if fp16 else 'fp32'
    _set_metadata(proto, metadata_for(model.config.to_dict(), precision))
    proto.doc_string = (f'msdepth_ros multi-scale depth network (Eigen et al. 2014), preset '
                        f'{preset.name}, {precision}')
    return _write_model(proto, path, precision, preset.name)


def export_checkpoint(checkpoint_path: str | os.PathLike, onnx_path: str | os.PathLike,
                      fp16: bool = False) -> ExportResult:
    """Load a checkpoint and ``export_onnx`` it; ``BackendError`` names a bad checkpoint."""
    from msdepth_ros.model.checkpoint import CheckpointError, load_checkpoint
    try:
        checkpoint = load_checkpoint(checkpoint_path)
    except CheckpointError as exc:
        raise BackendError(str(exc)) from None
    return export_onnx(checkpoint.model, onnx_path, fp16=fp16)


def quantize_fc_int8(onnx_path: str | os.PathLike, out_path: str | os.PathLike) -> ExportResult:
    """
    Quantize the fully connected layers (coarse 6 and 7) of an FP32 export to INT8.

    ONNX Runtime's dynamic quantization stores the weights of MatMul nodes as int8 and
    quantizes their input per frame (``MatMulInteger``). Its dynamic mode does not handle
    Gemm, which is how linear layers export, so each Gemm is first rewritten as the
    equivalent MatMul + Add (``gemm_to_matmul``). The convolutions stay FP32: the fully
    connected layers hold nearly all the weights, and reading weights dominates CPU time at
    batch 1.

    Parameters
    ----------
    onnx_path:
        An FP32 export of ``export_onnx``.
    out_path:
        The INT8 ``.onnx`` to write (atomically); its metadata says ``int8``.

    Returns
    -------
    What was written.

    """
    import onnx
    try:
        from onnxruntime.quantization import quantize_dynamic, QuantType
    except ImportError:
        raise BackendError('INT8 quantization needs onnxruntime (pip install '
                           'onnxruntime)') from None
    onnx_path, out_path = Path(onnx_path), Path(out_path)
    _, info = read_onnx_file(onnx_path)
    if info.precision != 'fp32':
        raise BackendError(f'{onnx_path}: INT8 quantization starts from the FP32 export, this '
                           f'one is {info.precision}')
    proto = onnx.load(str(onnx_path))
    if gemm_to_matmul(proto) == 0 and not any(n.op_type == 'MatMul' for n in proto.graph.node):
        raise BackendError(f'{onnx_path}: no fully connected layer to quantize')
    with tempfile.TemporaryDirectory(prefix='.quantize.', dir=out_path.parent) as tmp:
        src, dst = Path(tmp) / 'fc.onnx', Path(tmp) / 'int8.onnx'
        onnx.save(proto, str(src))
        # The quantizer advises pre-processing on the root logger at WARNING; the graph is
        # already optimised by the exporter, so keep that out of the user's output.
        root = logging.getLogger()
        level = root.level
        root.setLevel(max(level, logging.ERROR))
        try:
            quantize_dynamic(src, dst, op_types_to_quantize=['MatMul'],
                             weight_type=QuantType.QInt8, per_channel=False,
                             extra_options={'MatMulConstBOnly': True})
        finally:
            root.setLevel(level)
        quantized = onnx.load(str(dst))
    _set_metadata(quantized, metadata_for(info.model_config, 'int8'))
    quantized.doc_string = proto.doc_string.replace('fp32', 'int8 fully connected layers')
    return _write_model(quantized, out_path, 'int8', info.preset.name)


def gemm_to_matmul(model: Any) -> int:
    """
    Rewrite ``Gemm(A, B, C)`` nodes with constant ``B`` as ``MatMul(A, B') + C`` in place.

    Only the plain form is rewritten (``alpha = beta = 1``, ``transA = 0``); ``transB = 1`` is
    folded into the stored weight. Returns the number of rewritten nodes.
    """
    from onnx import helper, numpy_helper

    graph = model.graph
    initializers = {t.name: t for t in graph.initializer}
    uses: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            uses[name] = uses.get(name, 0) + 1
    nodes, rewritten = [], 0
    for node in graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        plain = (node.op_type == 'Gemm' and attrs.get('transA', 0) == 0
                 and attrs.get('alpha', 1.0) == 1.0 and attrs.get('beta', 1.0) == 1.0
                 and len(node.input) >= 2 and node.input[1] in initializers
                 and uses[node.input[1]] == 1)
        if not plain:
            nodes.append(node)
            continue
        weight = initializers[node.input[1]]
        if attrs.get('transB', 0):
            transposed = numpy_helper.to_array(weight).T.copy()
            weight.CopyFrom(numpy_helper.from_array(transposed, weight.name))
        has_bias = len(node.input) > 2 and node.input[2] != ''
        product = f'{node.output[0]}_matmul' if has_bias else node.output[0]
        nodes.append(helper.make_node('MatMul', [node.input[0], node.input[1]], [product],
                                      name=f'{node.name}_MatMul'))
        if has_bias:
            nodes.append(helper.make_node('Add', [product, node.input[2]], [node.output[0]],
                                          name=f'{node.name}_Add'))
        rewritten += 1
    del graph.node[:]
    graph.node.extend(nodes)
    return rewritten


def _float16_network(torch: Any, net: Any) -> Any:
    class Float16Network(torch.nn.Module):
        """FP16 network behind the float32 ``image`` -> float32 ``log_depth`` interface."""

        def __init__(self) -> None:
            super().__init__()
            self.net = net.half()

        def forward(self, image: Any) -> Any:
            return self.net(image.half()).float()

    return Float16Network()


def _set_metadata(proto: Any, entries: dict[str, str]) -> None:
    keep = [p for p in proto.metadata_props
            if p.key not in (FORMAT_KEY, MODEL_CONFIG_KEY, PRECISION_KEY)]
    del proto.metadata_props[:]
    proto.metadata_props.extend(keep)
    for key, value in entries.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value


def _write_model(proto: Any, path: Path, precision: str, preset_name: str) -> ExportResult:
    import onnx
    from onnx.external_data_helper import uses_external_data

    external = [t.name for t in proto.graph.initializer if uses_external_data(t)]
    if external:
        raise BackendError(f'{path}: export produced external data for {external[:3]}; the '
                           'model must be one self-contained file')
    onnx.checker.check_model(proto)
    data = proto.SerializeToString()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, data)
    return ExportResult(path=path, precision=precision, preset_name=preset_name,
                        size_bytes=len(data))


def describe(result: ExportResult) -> str:
    """One line about a written model, for the command line."""
    return (f'wrote {result.path} ({result.size_bytes / 1e6:.1f} MB, opset {OPSET}, '
            f'{result.precision}, preset {result.preset_name})')
