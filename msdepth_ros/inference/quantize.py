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
Static INT8 quantization of the whole network for CPUs (QDQ, per-channel weights).

The convolutions and the fully connected layers of an FP32 export get int8 weights (one scale
per output channel) and uint8 activations whose ranges are calibrated on network inputs: the
project's synthetic streets (``core.synthetic``) and, where a folder of real images is given,
those. The result is a QDQ model (``QuantizeLinear`` / ``DequantizeLinear`` pairs around each
quantized tensor) that stays a plain ``.onnx`` of the export's contract: ``image`` float32 in,
``log_depth`` float32 out, the preset in the metadata. ONNX Runtime's CPU provider fuses each
``DQ -> Conv -> Q`` into ``QLinearConv`` (and Gemm into ``QGemm``), which run on VNNI / AVX2
integer kernels; OpenVINO reads the same file.

Activations are unsigned (U8S8): ReLU outputs are non-negative, and U8S8 is the format x86
integer kernels take directly. ``reduce_range`` stays off: it halves the weight range to avoid
saturating ``vpmaddubsw`` on CPUs without VNNI, which costs accuracy everywhere.

Two layers stay FP32 by default (``DEFAULT_EXCLUDED``; callers may exclude more): the last
convolution (fine 4), whose output is the log depth itself (256 levels over even the log of
1-80 m are steps of 1.7 % in depth) and which costs almost nothing (64 -> 1 channels); and the
part of fine 3 that reads the coarse network's log depth (``split_concat_conv``), whose input
stays float from fc 7 on (``FLOAT_OUTPUTS``). docs/benchmarks.md gives what each costs in
accuracy when quantized.

A third part stays FP32 where a trained model needs it (``split_depth_channels``): the output
channels of fine 3's int8 part that fine 4 weighs far above the others. A fine network started
as a pass-through of the coarse depth (``init_fine_identity``) carries the log depth itself in
two such channels; rounded to the int8 output scale of all 64 channels, they shifted the demo
model's depth by 3 % (median) instead of 0.4 %.
"""

from __future__ import annotations

from dataclasses import dataclass
import logging
import os
from pathlib import Path
import tempfile
from typing import Any, Iterable, Iterator, Sequence

from msdepth_ros.core.presets import Preset
from msdepth_ros.inference.export import _set_metadata, _write_model, ExportResult
from msdepth_ros.inference.interface import BackendError
from msdepth_ros.inference.onnx_model import INPUT_NAME, metadata_for, read_onnx_file
import numpy as np

LOG = logging.getLogger(__name__)

#: ONNX node names kept in FP32 by default (see the module docstring): fine 4, and the part of
#: fine 3 that reads the coarse network's log depth (``split_concat_conv``).
DEFAULT_EXCLUDED = ('/fine/conv4/Conv', '/fine/conv3/Conv/in1')
#: Nodes whose outputs stay float: the coarse network's log depth on its way into fine 3
#: (fc 7, its reshape, the FP32 part of fine 3). An int8 log depth would round every depth by
#: up to half a step of its range. (The int8 part of fine 3 keeps its quantized output: ONNX
#: Runtime fuses a convolution into ``QLinearConv`` only with one.)
FLOAT_OUTPUTS = ('/coarse/fc7/Gemm', '/coarse/Reshape', '/fine/conv3/Conv/in1')
#: ``split_depth_channels``: fine 3's int8 part and the convolution after it (fine 4, FP32).
DEPTH_PATH = ('/fine/conv3/Conv/in0', '/fine/conv4/Conv')
#: An output channel of fine 3's int8 part stays FP32 when fine 4's weights on it (their L2
#: norm) are this many times the median channel's: its rounding error reaches the log depth
#: that much more strongly. In the demo model the two channels that carry the log depth stand
#: at 72 times the median, its strongest feature channels at 6 to 10 times.
DEPTH_CHANNEL_RATIO = 20.0
#: At most this many channels stay FP32 (their convolution's cost grows with their number).
DEPTH_CHANNEL_MAX = 8
#: Operators whose weights and inputs are quantized; pools, Concat and the reshapes between
#: them carry the int8 tensors through, so that no DQ -> Q pair sits between two layers.
QUANTIZED_OPS = ('Conv', 'Gemm', 'MaxPool', 'Concat', 'Flatten', 'Reshape', 'Slice', 'Relu')
#: First seed of the calibration streets (``core.synthetic.road_scene``): a range no training,
#: validation or evaluation set of the project draws from (those use ``SyntheticRoadDataset``).
CALIBRATION_SEED = 70_000
#: Camera sizes of the calibration streets (width, height): KITTI's and two others.
CALIBRATION_SIZES = ((1242, 375), (640, 480), (1920, 1080))


@dataclass(frozen=True)
class CalibrationSet:
    """Network inputs for calibration and where they came from (for the report)."""

    inputs: list[np.ndarray]
    synthetic: int
    real: int

    def describe(self) -> str:
        """One line: how many inputs of each kind."""
        return f'{self.synthetic} synthetic streets + {self.real} real images'


def calibration_set(preset: Preset, scenes: int = 16, image_dir: str | os.PathLike | None = None,
                    max_images: int = 32) -> CalibrationSet:
    """
    Preprocessed network inputs for calibration.

    Parameters
    ----------
    preset:
        The model's preset: inputs are prepared as the node prepares camera frames.
    scenes:
        Synthetic streets (seeds from ``CALIBRATION_SEED``), cycling through
        ``CALIBRATION_SIZES``.
    image_dir:
        Optional folder searched recursively for 8-bit colour images (``.png``, ``.jpg``);
        16-bit and single-channel files (depth maps) are skipped. None or a missing folder
        adds none.
    max_images:
        Most real images used (the first in sorted path order).

    Returns
    -------
    ``1 x 3 x H_in x W_in`` float32 inputs, synthetic first.

    """
    import cv2
    from msdepth_ros.core.preprocess import plan_input
    from msdepth_ros.core.synthetic import road_scene

    inputs = []
    for i in range(scenes):
        width, height = CALIBRATION_SIZES[i % len(CALIBRATION_SIZES)]
        frame = road_scene(CALIBRATION_SEED + i, width, height)
        inputs.append(plan_input(width, height, preset).prepare(frame.image))
    real = 0
    if image_dir is not None and Path(image_dir).is_dir():
        paths = sorted(p for p in Path(image_dir).rglob('*')
                       if p.suffix.lower() in ('.png', '.jpg', '.jpeg'))
        for path in paths:
            if real >= max_images:
                break
            bgr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
            if bgr is None or bgr.dtype != np.uint8 or bgr.ndim != 3 or bgr.shape[2] != 3:
                continue
            rgb = np.ascontiguousarray(bgr[..., ::-1])
            inputs.append(plan_input(rgb.shape[1], rgb.shape[0], preset).prepare(rgb))
            real += 1
    if not inputs:
        raise BackendError('calibration needs at least one input: give synthetic scenes or '
                           'a folder with images')
    return CalibrationSet(inputs=inputs, synthetic=scenes, real=real)


def _reader(inputs: Sequence[np.ndarray]) -> Any:
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):
        """Feeds the calibration inputs one at a time."""

        def __init__(self) -> None:
            self._it: Iterator[np.ndarray] = iter(inputs)

        def get_next(self) -> dict[str, np.ndarray] | None:
            image = next(self._it, None)
            return None if image is None else {INPUT_NAME: image}

        def rewind(self) -> None:
            self._it = iter(inputs)

    return Reader()


def quantize_static_int8(onnx_path: str | os.PathLike, out_path: str | os.PathLike,
                         calibration: CalibrationSet,
                         exclude: Iterable[str] = DEFAULT_EXCLUDED,
                         method: str = 'minmax',
                         keep_depth_channels: bool = True) -> ExportResult:
    """
    Quantize the convolutions and fully connected layers of an FP32 export to INT8 (QDQ).

    Parameters
    ----------
    onnx_path:
        An FP32 export of ``export_onnx``.
    out_path:
        The INT8 ``.onnx`` to write (atomically); its metadata says ``int8`` and carries the
        export's model config (preset included).
    calibration:
        Network inputs (``calibration_set``) whose activations set the ranges.
    exclude:
        ONNX node names kept in FP32 (``DEFAULT_EXCLUDED``: fine 4).
    method:
        Range estimate: ``minmax`` or ``percentile`` (99.999th percentile of each
        activation's magnitudes).
    keep_depth_channels:
        Keep the output channels of fine 3's int8 part that fine 4 weighs far above the others
        in FP32 (``split_depth_channels``; False rounds them with the rest, for comparison).

    Returns
    -------
    What was written.

    """
    import onnx
    try:
        from onnxruntime.quantization import (CalibrationMethod, QuantFormat, quantize_static,
                                              QuantType)
    except ImportError:
        raise BackendError('INT8 quantization needs onnxruntime (pip install '
                           'onnxruntime)') from None
    methods = {'minmax': CalibrationMethod.MinMax, 'percentile': CalibrationMethod.Percentile}
    if method not in methods:
        raise BackendError(f'calibration method must be one of {sorted(methods)}, got '
                           f'{method!r}')
    onnx_path, out_path = Path(onnx_path), Path(out_path)
    _, info = read_onnx_file(onnx_path)
    if info.precision != 'fp32':
        raise BackendError(f'{onnx_path}: INT8 quantization starts from the FP32 export, this '
                           f'one is {info.precision}')
    shape = info.input_shape
    bad = [x.shape for x in calibration.inputs if tuple(x.shape) != shape]
    if bad:
        raise BackendError(f'calibration inputs must be {shape}, got {bad[0]}')
    proto = onnx.load(str(onnx_path))
    split_concat_conv(proto)
    names = {n.name for n in proto.graph.node}
    exclude = list(exclude)
    float_parts = split_depth_channels(proto, *DEPTH_PATH) if keep_depth_channels and all(
        n in names for n in DEPTH_PATH) else []
    unknown = [n for n in exclude if n not in names]
    if unknown:
        layers = sorted(n.name for n in proto.graph.node if n.op_type in ('Conv', 'Gemm'))
        raise BackendError(f'{onnx_path}: no node named {unknown} to keep in FP32 (layers: '
                           f'{layers})')
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix='.quantize.', dir=out_path.parent) as tmp:
        src, dst = Path(tmp) / 'split.onnx', Path(tmp) / 'int8.onnx'
        onnx.save(proto, str(src))
        root = logging.getLogger()
        level = root.level
        root.setLevel(max(level, logging.ERROR))
        try:
            quantize_static(
                src, dst, _reader(calibration.inputs), quant_format=QuantFormat.QDQ,
                op_types_to_quantize=list(QUANTIZED_OPS), per_channel=True,
                reduce_range=False, activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8, nodes_to_exclude=exclude + float_parts,
                calibrate_method=methods[method],
                calibration_providers=['CPUExecutionProvider'],
                extra_options={'CalibTensorRangeSymmetric': False})
        finally:
            root.setLevel(level)
        quantized = onnx.load(str(dst))
    drop_output_qdq(quantized, [n for n in FLOAT_OUTPUTS if n in names] + float_parts)
    _set_metadata(quantized, metadata_for(info.model_config, 'int8'))
    quantized.doc_string = (f'msdepth_ros multi-scale depth network (Eigen et al. 2014), preset '
                            f'{info.preset.name}, int8 static QDQ (calibration: '
                            f'{calibration.describe()}; FP32: '
                            f'{", ".join(exclude + float_parts) or "none"})')
    return _write_model(quantized, out_path, 'int8', info.preset.name)


def split_concat_conv(model: Any) -> int:
    """
    Rewrite ``Conv(Concat(a, b, ...))`` as ``Conv_a(a) + Conv_b(b) + ...`` in place.

    A convolution over channels concatenated from several tensors is the sum of convolutions
    over each of them with the matching slices of its weight (the bias goes to the first).
    Fine 3 reads fine 1's 63 feature maps and the coarse network's log depth as one tensor;
    int8 activations have one scale per tensor, so quantized together the log depth would
    share the features' range. Split, each part gets its own input scale, and the one-channel
    part that reads the log depth can stay FP32 (``DEFAULT_EXCLUDED``). The parts are named
    ``<conv name>/in<i>``, and the sum keeps the convolution's output name. Only a Concat along
    channels that feeds nothing but one plain convolution (group 1, constant weight) is split.
    Returns the number of convolutions split.
    """
    from onnx import helper, numpy_helper, shape_inference

    graph = model.graph
    inferred = shape_inference.infer_shapes(model)
    channels = {}
    for value in (*inferred.graph.value_info, *inferred.graph.input):
        dims = value.type.tensor_type.shape.dim
        if len(dims) == 4 and dims[1].HasField('dim_value'):
            channels[value.name] = dims[1].dim_value
    producers = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            consumers[name] = consumers.get(name, 0) + 1
    initializers = {t.name: t for t in graph.initializer}
    nodes, split = [], 0
    for node in graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        concat = producers.get(node.input[0]) if node.op_type == 'Conv' else None
        usable = (concat is not None and concat.op_type == 'Concat'
                  and {a.name: helper.get_attribute_value(a)
                       for a in concat.attribute}.get('axis') == 1
                  and consumers.get(concat.output[0]) == 1 and attrs.get('group', 1) == 1
                  and node.input[1] in initializers
                  and all(name in channels for name in concat.input))
        if not usable:
            nodes.append(node)
            continue
        weight = numpy_helper.to_array(initializers[node.input[1]])
        start, parts = 0, []
        for i, name in enumerate(concat.input):
            stop = start + channels[name]
            w_name = f'{node.input[1]}_in{i}'
            graph.initializer.append(numpy_helper.from_array(
                np.ascontiguousarray(weight[:, start:stop]), w_name))
            inputs = [name, w_name] + (list(node.input[2:3]) if i == 0 else [])
            out = f'{node.output[0]}_in{i}'
            nodes.append(helper.make_node('Conv', inputs, [out], name=f'{node.name}/in{i}',
                                          **attrs))
            parts.append(out)
            start = stop
        if start != weight.shape[1]:
            raise BackendError(f'{node.name}: its weight has {weight.shape[1]} input channels, '
                               f'the concatenated inputs {start}')
        total = parts[0]
        for i, part in enumerate(parts[1:], 1):
            out = node.output[0] if i == len(parts) - 1 else f'{node.output[0]}_sum{i}'
            nodes.append(helper.make_node('Add', [total, part], [out],
                                          name=f'{node.name}/sum{i}'))
            total = out
        split += 1
    if split:
        used = {name for node in nodes for name in node.input}
        keep = [n for n in nodes if n.op_type != 'Concat' or n.output[0] in used]
        del graph.node[:]
        graph.node.extend(keep)
        _drop_unused_initializers(graph)
    return split


def split_depth_channels(model: Any, conv_name: str, next_conv_name: str,
                         ratio: float = DEPTH_CHANNEL_RATIO,
                         max_channels: int = DEPTH_CHANNEL_MAX) -> list[str]:
    """
    Move the output channels of ``conv_name`` that ``next_conv_name`` weighs most to FP32.

    Rounding ``conv_name``'s int8 output adds an error of one output scale (that of all its
    channels) to every channel; the next convolution passes channel c's on in proportion to its
    weights on c. The channels whose weights there have an L2 norm ``ratio`` times the median
    channel's (``max_channels`` at most, the strongest first) are computed by an FP32
    convolution of the same input (``<conv_name>/fp32``) and added back by a one-hot 1 x 1
    convolution (``<conv_name>/fp32_scatter``); ``conv_name`` keeps the other channels, with
    zero weights and bias on these. The graph computes the same in float. Returns the names of
    the two new FP32 nodes (empty when no channel stands out: nothing is changed).
    """
    from onnx import helper, numpy_helper

    graph = model.graph
    nodes = {n.name: n for n in graph.node}
    conv, after = nodes[conv_name], nodes[next_conv_name]
    initializers = {t.name: t for t in graph.initializer}
    if conv.input[1] not in initializers or after.input[1] not in initializers:
        return []
    weight = numpy_helper.to_array(initializers[conv.input[1]])
    following = numpy_helper.to_array(initializers[after.input[1]])
    if following.shape[1] != weight.shape[0]:
        return []
    norms = np.sqrt((following.astype(np.float64) ** 2).sum(axis=(0, 2, 3)))
    strong = np.flatnonzero(norms > ratio * np.median(norms))
    chosen = sorted(strong[np.argsort(-norms[strong])][:max_channels].tolist())
    if not chosen:
        return []
    bias = (numpy_helper.to_array(initializers[conv.input[2]]) if len(conv.input) > 2
            else np.zeros(weight.shape[0], weight.dtype))
    rest_weight, rest_bias = weight.copy(), bias.copy()
    rest_weight[chosen], rest_bias[chosen] = 0, 0
    scatter = np.zeros((weight.shape[0], len(chosen), 1, 1), weight.dtype)
    scatter[chosen, np.arange(len(chosen))] = 1
    base = conv.input[1]
    for name, array in ((f'{base}_int8', rest_weight), (f'{base}_int8_bias', rest_bias),
                        (f'{base}_fp32', np.ascontiguousarray(weight[chosen])),
                        (f'{base}_fp32_bias', np.ascontiguousarray(bias[chosen])),
                        (f'{base}_fp32_scatter', scatter)):
        graph.initializer.append(numpy_helper.from_array(array, name))
    out = conv.output[0]
    attrs = {a.name: helper.get_attribute_value(a) for a in conv.attribute}
    fp32_name, scatter_name = f'{conv_name}/fp32', f'{conv_name}/fp32_scatter'
    new = [helper.make_node('Conv', [conv.input[0], f'{base}_int8', f'{base}_int8_bias'],
                            [f'{out}_int8'], name=conv_name, **attrs),
           helper.make_node('Conv', [conv.input[0], f'{base}_fp32', f'{base}_fp32_bias'],
                            [f'{out}_fp32'], name=fp32_name, **attrs),
           helper.make_node('Conv', [f'{out}_fp32', f'{base}_fp32_scatter'],
                            [f'{out}_fp32_scatter'], name=scatter_name, kernel_shape=[1, 1]),
           helper.make_node('Add', [f'{out}_int8', f'{out}_fp32_scatter'], [out],
                            name=f'{conv_name}/sum')]
    kept = []
    for node in graph.node:
        kept.extend(new if node.name == conv_name else [node])
    del graph.node[:]
    graph.node.extend(kept)
    _drop_unused_initializers(graph)
    LOG.info('%s: output channels %s stay FP32 (%s weighs them %s times the median '
             'channel)', conv_name, chosen, next_conv_name,
             ', '.join(f'{norms[c] / np.median(norms):.0f}' for c in chosen))
    return [fp32_name, scatter_name]


def drop_output_qdq(model: Any, node_names: Sequence[str]) -> int:
    """
    Remove the ``QuantizeLinear -> DequantizeLinear`` pairs on the outputs of ``node_names``.

    Consumers of each removed pair read the float tensor instead; returns the pairs removed.
    """
    graph = model.graph
    producers = {out: node.name for node in graph.node for out in node.output}
    wanted = set(node_names)
    by_input: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            by_input.setdefault(name, []).append(node)
    drop, rename = set(), {}
    for node in graph.node:
        if node.op_type != 'QuantizeLinear' or producers.get(node.input[0]) not in wanted:
            continue
        dqs = by_input.get(node.output[0], [])
        if not dqs or any(d.op_type != 'DequantizeLinear' for d in dqs):
            continue
        drop.add(id(node))
        for dq in dqs:
            drop.add(id(dq))
            rename[dq.output[0]] = node.input[0]
    kept = [n for n in graph.node if id(n) not in drop]
    for node in kept:
        for i, name in enumerate(node.input):
            if name in rename:
                node.input[i] = rename[name]
    del graph.node[:]
    graph.node.extend(kept)
    _drop_unused_initializers(graph)
    return len(rename)


def _drop_unused_initializers(graph: Any) -> None:
    used = {name for node in graph.node for name in node.input}
    kept = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)


def export_int8(onnx_path: str | os.PathLike, out_path: str | os.PathLike, scenes: int = 16,
                image_dir: str | os.PathLike | None = None,
                exclude: Iterable[str] = DEFAULT_EXCLUDED) -> tuple[ExportResult, CalibrationSet]:
    """
    Calibrate on ``scenes`` synthetic streets and the images under ``image_dir`` and quantize.

    The FP32 export ``onnx_path`` gives the preset; returns what was written and the
    calibration set's description (``quantize_static_int8`` documents the rest).
    """
    _, info = read_onnx_file(onnx_path)
    calibration = calibration_set(info.preset, scenes, image_dir)
    return quantize_static_int8(onnx_path, out_path, calibration, exclude), calibration
