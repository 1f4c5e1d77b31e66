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
The ONNX contract between ``msdepth-export`` and the backends.

An exported model has one input ``image`` (float32, ``1 x 3 x H_in x W_in``, normalised as in
``core.preprocess``) and one output ``log_depth`` (float32, ``1 x 1 x H_out x W_out``), opset 17,
static shapes, all weights inside the one file. Its ``metadata_props`` carry the full
``ModelConfig.to_dict()`` (preset included) as JSON, so a node needs no second file, and the
precision of the weights. This module reads that contract without importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass
import json
from pathlib import Path
from typing import Any, Mapping

from msdepth_ros.core.presets import Preset, PresetError
from msdepth_ros.inference.interface import BackendError

INPUT_NAME = 'image'
OUTPUT_NAME = 'log_depth'
OPSET = 17

#: ``metadata_props`` keys written by the export.
FORMAT_KEY = 'msdepth_ros.format'
FORMAT_VALUE = 'msdepth_ros.onnx.v1'
MODEL_CONFIG_KEY = 'msdepth_ros.model_config'
PRECISION_KEY = 'msdepth_ros.precision'
PRECISIONS = ('fp32', 'fp16', 'int8')


@dataclass(frozen=True)
class OnnxModelInfo:
    """
    What an exported ONNX file says about itself.

    ``model_config``: the ``ModelConfig.to_dict()`` it was exported from; ``precision``: of
    its weights (``fp32``, ``fp16`` with float32 input and output, ``int8``: the whole
    network as static QDQ, or the fully connected layers only, both with float32 input and
    output); ``metadata``: all ``metadata_props``.
    """

    preset: Preset
    model_config: dict[str, Any]
    precision: str
    metadata: dict[str, str]

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """``(1, 3, H_in, W_in)`` of the ``image`` input."""
        return (1, 3, self.preset.input_height, self.preset.input_width)

    @property
    def output_shape(self) -> tuple[int, int, int, int]:
        """``(1, 1, H_out, W_out)`` of the ``log_depth`` output."""
        return (1, 1, self.preset.output_height, self.preset.output_width)


def metadata_for(model_config: Mapping[str, Any], precision: str) -> dict[str, str]:
    """Return the ``metadata_props`` entries of an export of ``model_config``."""
    if precision not in PRECISIONS:
        raise ValueError(f'precision must be one of {PRECISIONS}, got {precision!r}')
    return {FORMAT_KEY: FORMAT_VALUE,
            MODEL_CONFIG_KEY: json.dumps(dict(model_config), sort_keys=True),
            PRECISION_KEY: precision}


def parse_metadata(metadata: Mapping[str, str], path: str | Path) -> OnnxModelInfo:
    """
    Read the preset and precision from an exported model's metadata.

    Parameters
    ----------
    metadata:
        The model's ``metadata_props`` as a mapping (ONNX Runtime's ``custom_metadata_map``).
    path:
        The model file, for error messages.

    Returns
    -------
    The parsed ``OnnxModelInfo``; ``BackendError`` naming the file for a foreign ONNX model
    (no metadata) or metadata that does not describe a usable preset.

    """
    if MODEL_CONFIG_KEY not in metadata:
        raise BackendError(
            f'{path}: an ONNX model, but not one exported by msdepth-export (no '
            f"'{MODEL_CONFIG_KEY}' metadata, so its preset is unknown); export the checkpoint "
            'with msdepth-export')
    try:
        config = json.loads(metadata[MODEL_CONFIG_KEY])
    except json.JSONDecodeError as exc:
        raise BackendError(f"{path}: metadata '{MODEL_CONFIG_KEY}' is not valid JSON: "
                           f'{exc}') from None
    if not isinstance(config, dict) or not isinstance(config.get('preset'), dict):
        raise BackendError(f"{path}: metadata '{MODEL_CONFIG_KEY}' has no preset")
    try:
        preset = Preset.from_dict(config['preset'])
    except (PresetError, TypeError, ValueError) as exc:
        raise BackendError(f'{path}: the preset in the metadata cannot be served: '
                           f'{exc}') from None
    precision = metadata.get(PRECISION_KEY, 'fp32')
    if precision not in PRECISIONS:
        raise BackendError(f'{path}: unknown precision {precision!r} in metadata '
                           f"'{PRECISION_KEY}'")
    return OnnxModelInfo(preset=preset, model_config=config, precision=precision,
                         metadata=dict(metadata))


def check_io_shapes(info: OnnxModelInfo, inputs: Mapping[str, tuple[Any, ...]],
                    outputs: Mapping[str, tuple[Any, ...]], path: str | Path) -> None:
    """
    Check that a model's inputs and outputs are the ones its preset needs.

    Parameters
    ----------
    info:
        The model's parsed metadata.
    inputs, outputs:
        Tensor name -> shape, as the runtime reports them.
    path:
        The model file, for error messages.

    """
    expected_in = {INPUT_NAME: info.input_shape}
    expected_out = {OUTPUT_NAME: info.output_shape}
    for kind, got, expected in (('inputs', inputs, expected_in),
                                ('outputs', outputs, expected_out)):
        got_norm = {name: tuple(int(d) if isinstance(d, int) else d for d in shape)
                    for name, shape in got.items()}
        if got_norm != expected:
            raise BackendError(
                f"{path}: cannot serve preset {info.preset.name!r}: the model's {kind} are "
                f'{got_norm}, the preset needs {expected}')


def read_onnx_file(path: str | Path) -> tuple[bytes, OnnxModelInfo]:
    """
    Read an exported ONNX file and its metadata (with the ``onnx`` package, no runtime).

    Returns the file's bytes and its parsed metadata; ``BackendError`` naming the file for a
    missing, truncated, corrupt or foreign file.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BackendError(f'{path}: cannot read the model: {exc.strerror}') from None
    try:
        import onnx
    except ImportError:
        raise BackendError(f'{path}: reading ONNX metadata needs the onnx package '
                           '(pip install onnx)') from None
    try:
        model = onnx.load_from_string(data)
    except Exception as exc:  # noqa: B902 - protobuf raises several kinds on foreign bytes
        raise BackendError(f'{path}: not a readable ONNX model (truncated, corrupt or another '
                           f'format): {_first_line(exc)}') from None
    if not model.graph.node:
        raise BackendError(f'{path}: not a readable ONNX model (truncated, corrupt or another '
                           'format): the graph is empty')
    info = parse_metadata({p.key: p.value for p in model.metadata_props}, path)
    shapes = {}
    for kind, values in (('inputs', model.graph.input), ('outputs', model.graph.output)):
        shapes[kind] = {v.name: tuple(d.dim_value if d.HasField('dim_value') else d.dim_param
                                      for d in v.type.tensor_type.shape.dim)
                        for v in values}
    check_io_shapes(info, shapes['inputs'], shapes['outputs'], path)
    return data, info


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
