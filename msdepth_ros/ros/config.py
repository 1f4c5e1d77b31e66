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
The depth node's interface as data: its topics, its parameters and their validation.

``PARAMETERS`` is the one table of parameter names, types, defaults, descriptions, ranges and
allowed values: the node declares its parameters from it, and the tests check
``config/*.yaml`` and ``launch/depth.launch.py`` against it. ``NodeConfig`` is the frozen,
validated set of values the node runs with; a run-time change builds a new one and swaps it.
``ParamSpec`` and ``checked_values`` also serve the LIDAR evaluation node's table
(``ros.eval_config``). Nothing here imports rclpy.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
import math
from pathlib import Path
from typing import Any, Mapping, Sequence, Union

from msdepth_ros.core.cloud_filter import CloudFilter, DEFAULT_FLYING_PIXEL_THRESHOLD
from msdepth_ros.core.colormap import COLORMAPS
from msdepth_ros.core.intrinsics import Intrinsics, IntrinsicsError
from msdepth_ros.core.presets import Preset, PRESETS
from msdepth_ros.inference.backend import BACKEND_NAMES, options_for
from msdepth_ros.inference.devices import MEMORY_PATHS

# -- topics (relative, so that a namespace gives one node per camera) -----------------------------

TOPIC_IMAGE = 'image'
TOPIC_IMAGE_COMPRESSED = 'image/compressed'
TOPIC_CAMERA_INFO = 'camera_info'
TOPIC_DEPTH = 'depth/image'
TOPIC_DEPTH_INFO = 'depth/camera_info'
TOPIC_POINTS = 'points'
TOPIC_SCAN = 'scan'
TOPIC_COLORIZED = 'depth/colorized'
TOPIC_DIAGNOSTICS = '/diagnostics'

#: Topics the node subscribes to (which one of the two images depends on ``input_compressed``).
INPUT_TOPICS = (TOPIC_IMAGE, TOPIC_IMAGE_COMPRESSED, TOPIC_CAMERA_INFO)
#: Topics the node publishes.
OUTPUT_TOPICS = (TOPIC_DEPTH, TOPIC_DEPTH_INFO, TOPIC_POINTS, TOPIC_SCAN, TOPIC_COLORIZED,
                 TOPIC_DIAGNOSTICS)

#: Model files the backends load: checkpoints, ONNX, TensorRT engines.
MODEL_SUFFIXES = ('.pt', '.onnx', '.engine', '.plan')

#: The demo model installed with the package (share/msdepth_ros/models/), the default model.
DEMO_MODEL_NAME = 'demo_kitti_synthetic.pt'
#: Values of ``input_reliability`` (``ros.qos`` acts on them).
RELIABILITY_CHOICES = ('auto', 'reliable', 'best_effort')
#: Said in the log and on /diagnostics while the demo model runs.
DEMO_MODEL_WARNING = ('running the demo model (no model parameter given): it was trained on '
                      'synthetic streets only, a demonstration, not for real cameras; set '
                      'model to a model trained for your camera')

#: Largest camera size the intrinsics parameters accept (matches the image conversion's limit).
MAX_CAMERA_SIDE_PX = 16384

ParamValue = Union[bool, int, float, str]


class ConfigError(ValueError):
    """A parameter value the node cannot run with; the message names the parameter."""


@dataclass(frozen=True)
class ParamSpec:
    """
    One node parameter: its name, type (that of ``default``), meaning and constraints.

    ``read_only`` parameters need a restart to change (they shape subscriptions, QoS or the
    loaded model); the others can be set while the node runs.
    """

    name: str
    default: ParamValue
    description: str
    read_only: bool = True
    choices: tuple[str, ...] = ()
    min_value: float | None = None
    max_value: float | None = None

    @property
    def type_name(self) -> str:
        """ROS parameter type: ``bool``, ``integer``, ``double`` or ``string``."""
        return _type_name(type(self.default))

    def constraints(self) -> str:
        """Human-readable constraints, for the parameter descriptor."""
        parts = []
        if self.choices:
            parts.append('one of: ' + ', '.join(self.choices))
        if self.min_value is not None:
            parts.append(f'range [{self.min_value}, {self.max_value}]')
        return '; '.join(parts)


_BACKENDS = tuple(BACKEND_NAMES)
_PRESETS = ('auto',) + tuple(sorted(PRESETS))

#: Every parameter of the depth node, in the order ``ros2 param list`` shows them.
PARAMETERS: tuple[ParamSpec, ...] = (
    ParamSpec('model', '', 'Model file: a .pt checkpoint, an .onnx file or a TensorRT engine '
              "(.engine, .plan). Empty: the package's demo model (share/msdepth_ros/models/"
              f'{DEMO_MODEL_NAME}), trained on synthetic streets only: a demonstration, not for '
              'real cameras.'),
    ParamSpec('backend', 'auto', 'Inference backend; auto picks by model file: a .onnx on '
              'TensorRT where it imports and a GPU is present, else on ONNX Runtime (best '
              'provider); a .pt on PyTorch (CUDA when present); an engine on TensorRT.',
              choices=_BACKENDS),
    ParamSpec('preset', 'auto', "Geometry preset the model must have been trained with; 'auto' "
              'accepts the one stored in the model file.', choices=_PRESETS),
    ParamSpec('upsample', 1, 'Integer upsampling of the network output (bilinear in log '
              'depth); the depth image and its camera info follow.', min_value=1, max_value=8),
    ParamSpec('metric_scaling', True, 'Scale depth by f_camera / f_training so that cameras '
              'with another focal length than the training data get metric depth.'),
    ParamSpec('precision', 'auto', "Arithmetic of the torch and tensorrt backends: 'auto' "
              '(torch: fp32; tensorrt: that of the ONNX file, fp16 on DLA), fp32 or fp16 (GPU '
              'only). ONNX Runtime runs the precision of its ONNX file.',
              choices=('auto', 'fp32', 'fp16')),
    ParamSpec('threads', 0, 'CPU threads of the torch and onnxruntime backends; 0: the '
              "library's default.", min_value=0, max_value=256),
    ParamSpec('device_index', 0, 'CUDA device of the GPU backends.', min_value=0,
              max_value=64),
    ParamSpec('dla_core', -1, 'tensorrt: run on this DLA core (Jetson), layers DLA cannot run '
              'fall back to the GPU; -1: GPU only.', min_value=-1, max_value=7),
    ParamSpec('workspace_mib', 1024, 'tensorrt: builder workspace limit in MiB.',
              min_value=16, max_value=1 << 20),
    ParamSpec('tensorrt_memory', 'auto', 'tensorrt: where the GPU buffers come from: auto '
              '(PyTorch CUDA where it works, else cuda-python), torch or cuda-python. The '
              'ready line and /diagnostics show the path in use.', choices=MEMORY_PATHS),
    ParamSpec('engine_cache_dir', '', "tensorrt (and ONNX Runtime's TensorRT provider): "
              'folder of the engine cache; empty: $MSDEPTH_ENGINE_CACHE, else '
              '~/.cache/msdepth_ros/engines.'),
    ParamSpec('min_depth_m', 0.0, "Depths below this are invalid (NaN). 0: the preset's "
              'minimum.', read_only=False, min_value=0.0, max_value=1000.0),
    ParamSpec('max_depth_m', 0.0, "Depths above this are invalid (NaN). 0: the preset's "
              'maximum.', read_only=False, min_value=0.0, max_value=1000.0),
    ParamSpec('use_camera_info', True, 'Take the intrinsics from the camera_info topic (the '
              'camera_* parameters then only serve until the first camera info arrives); false: '
              'from the camera_* parameters only.'),
    ParamSpec('camera_fx_px', 0.0, 'Fallback intrinsics: focal length x in pixels of '
              'camera_width x camera_height images; 0 = none.', min_value=0.0, max_value=1e6),
    ParamSpec('camera_fy_px', 0.0, 'Fallback intrinsics: focal length y in pixels.',
              min_value=0.0, max_value=1e6),
    ParamSpec('camera_cx_px', 0.0, 'Fallback intrinsics: principal point x in pixels (pixel '
              'centres at integer coordinates).', min_value=-1e6, max_value=1e6),
    ParamSpec('camera_cy_px', 0.0, 'Fallback intrinsics: principal point y in pixels.',
              min_value=-1e6, max_value=1e6),
    ParamSpec('camera_width', 0, 'Width of the images the fallback intrinsics describe.',
              min_value=0, max_value=MAX_CAMERA_SIDE_PX),
    ParamSpec('camera_height', 0, 'Height of the images the fallback intrinsics describe.',
              min_value=0, max_value=MAX_CAMERA_SIDE_PX),
    ParamSpec('input_compressed', False, 'Subscribe to image/compressed (sensor_msgs/'
              'CompressedImage, jpeg or png) instead of image.'),
    ParamSpec('input_reliability', 'auto', 'Reliability of the image and camera info '
              'subscriptions. auto: subscribe once a publisher is found, reliable when every '
              'publisher is reliable (large frames then arrive on default DDS settings), best '
              'effort otherwise; re-subscribes when the publishers change.',
              choices=RELIABILITY_CHOICES),
    ParamSpec('input_qos_depth', 1, 'History depth of the input subscriptions. The node always '
              'works on the newest frame and drops the others.', min_value=1, max_value=100),
    ParamSpec('output_reliable', True, 'Publish outputs reliably (matches every subscriber); '
              'false: best effort.'),
    ParamSpec('output_qos_depth', 1, 'History depth of the output publishers.',
              min_value=1, max_value=100),
    ParamSpec('skip_unsubscribed', True, 'Do no work for outputs that nobody subscribes to, and '
              'no inference while no output has a subscriber.', read_only=False),
    ParamSpec('publish_points', True, 'Publish the organized point cloud on points.',
              read_only=False),
    ParamSpec('points_rgb', False, 'Add the image colour to the point cloud (rgb field, '
              'point_step 32).', read_only=False),
    ParamSpec('cloud_flying_pixel_threshold', DEFAULT_FLYING_PIXEL_THRESHOLD, 'Drop cloud '
              "points whose 8-neighbours' depth differs from their own by more than this "
              'fraction of it (flying pixels at depth discontinuities); 0: off. The depth image '
              'is never filtered.', read_only=False, min_value=0.0, max_value=10.0),
    ParamSpec('cloud_max_range_m', 0.0, 'Drop cloud points farther than this from the camera '
              '(along the ray); 0: no cap but the depth range.', read_only=False,
              min_value=0.0, max_value=1000.0),
    ParamSpec('cloud_stride', 1, 'Keep every n-th pixel of every n-th row in the cloud (still '
              'organized, ceil(H/n) x ceil(W/n)).', read_only=False, min_value=1,
              max_value=64),
    ParamSpec('publish_scan', False, 'Publish a sensor_msgs/LaserScan on scan '
              "(depthimage_to_laserscan's semantics, +inf where a beam sees nothing).",
              read_only=False),
    ParamSpec('scan_height', 1, 'Rows of the depth image around its optical centre that the '
              'scan takes the nearest range of (cut to the rows the image has there).',
              read_only=False, min_value=1, max_value=16384),
    ParamSpec('scan_frame_id', '', 'Frame of the scan (x forward, y left); empty: the depth '
              "image's frame without _optical (camera_optical_frame -> camera_frame).",
              read_only=False),
    ParamSpec('publish_colorized', True, 'Publish a colourised depth preview on depth/colorized '
              '(built only while someone subscribes).', read_only=False),
    ParamSpec('colormap', 'turbo', 'Colour map of depth/colorized.', read_only=False,
              choices=tuple(COLORMAPS)),
    ParamSpec('diagnostics_period_s', 1.0, 'Period of the status on /diagnostics.',
              min_value=0.1, max_value=60.0),
    ParamSpec('drop_warn_ratio', 0.5, 'Diagnostics warn when more than this fraction of the '
              'frames of a period were dropped.', read_only=False, min_value=0.0, max_value=1.0),
    ParamSpec('log_throttle_s', 5.0, 'Each kind of bad input is logged at most once per this '
              'period (the first one at once).', read_only=False, min_value=0.0,
              max_value=3600.0),
)

PARAMETERS_BY_NAME: dict[str, ParamSpec] = {spec.name: spec for spec in PARAMETERS}


@dataclass(frozen=True)
class NodeConfig:
    """The depth node's validated parameters (see ``PARAMETERS`` for their meaning)."""

    model: str
    backend: str
    preset: str
    upsample: int
    metric_scaling: bool
    precision: str
    threads: int
    device_index: int
    dla_core: int
    workspace_mib: int
    tensorrt_memory: str
    engine_cache_dir: str
    min_depth_m: float
    max_depth_m: float
    use_camera_info: bool
    camera_fx_px: float
    camera_fy_px: float
    camera_cx_px: float
    camera_cy_px: float
    camera_width: int
    camera_height: int
    input_compressed: bool
    input_reliability: str
    input_qos_depth: int
    output_reliable: bool
    output_qos_depth: int
    skip_unsubscribed: bool
    publish_points: bool
    points_rgb: bool
    cloud_flying_pixel_threshold: float
    cloud_max_range_m: float
    cloud_stride: int
    publish_scan: bool
    scan_height: int
    scan_frame_id: str
    publish_colorized: bool
    colormap: str
    diagnostics_period_s: float
    drop_warn_ratio: float
    log_throttle_s: float

    @classmethod
    def defaults(cls) -> dict[str, ParamValue]:
        """Every parameter's default value."""
        return {spec.name: spec.default for spec in PARAMETERS}

    @classmethod
    def from_parameters(cls, values: Mapping[str, Any],
                        check_model_file: bool = True) -> NodeConfig:
        """
        Validate parameter values into a config.

        Parameters
        ----------
        values:
            Parameter name -> value; missing names take their defaults, names that are not
            depth-node parameters (``use_sim_time`` ...) are ignored. Integers are accepted
            for double parameters.
        check_model_file:
            Also check that ``model`` names an existing file.

        Returns
        -------
        The config.

        Raises
        ------
        ConfigError
            Naming the first parameter at fault, its value and what is allowed.

        """
        config = cls(**checked_values(PARAMETERS, values))
        config._check_combinations(check_model_file)
        return config

    def values(self) -> dict[str, ParamValue]:
        """Parameter name -> value."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def backend_options(self) -> dict[str, Any]:
        """
        Keyword options of ``inference.load_backend`` for the ``backend`` parameter.

        Only the options that backend takes (``inference.backend.options_for``); under
        ``auto`` all of them, and the chosen backend keeps its own.
        """
        options: dict[str, Any] = {'precision': self.precision, 'threads': self.threads,
                                   'device_index': self.device_index,
                                   'workspace_mib': self.workspace_mib,
                                   'memory': self.tensorrt_memory}
        if self.dla_core >= 0:
            options['dla_core'] = self.dla_core
        if self.engine_cache_dir:
            options['cache_dir'] = self.engine_cache_dir
        return options_for(self.backend, options)

    def cloud_filter(self) -> CloudFilter:
        """Return the filter of the cloud (``core.cloud_filter``)."""
        return CloudFilter(flying_pixel_threshold=self.cloud_flying_pixel_threshold,
                           max_range_m=self.cloud_max_range_m or math.inf,
                           stride=self.cloud_stride)

    @property
    def uses_demo_model(self) -> bool:
        """``model`` is empty: the package's demo model runs."""
        return not self.model

    def model_path(self) -> Path:
        """Return the model file to load: ``model``, or the demo model when it is empty."""
        return Path(self.model) if self.model else demo_model_path()

    def fallback_intrinsics(self) -> Intrinsics | None:
        """Intrinsics from the ``camera_*`` parameters, None when they are not set."""
        if self.camera_fx_px == 0.0:
            return None
        return Intrinsics(self.camera_fx_px, self.camera_fy_px, self.camera_cx_px,
                          self.camera_cy_px, self.camera_width, self.camera_height)

    def depth_range_m(self, preset: Preset) -> tuple[float, float]:
        """
        Return the valid depth range in metres, zeros replaced by the preset's limits.

        Raises ``ConfigError`` when the range is empty.
        """
        min_m = self.min_depth_m or preset.min_depth_m
        max_m = self.max_depth_m or preset.max_depth_m
        if not min_m < max_m:
            raise ConfigError(f'parameters min_depth_m and max_depth_m: need min < max, got '
                              f"{min_m} and {max_m} (0 stands for the {preset.name} preset's "
                              f'{preset.min_depth_m} / {preset.max_depth_m})')
        return min_m, max_m

    def check_model_preset(self, preset: Preset) -> None:
        """Raise ``ConfigError`` when the ``preset`` parameter contradicts the model's preset."""
        if self.preset not in ('auto', preset.name):
            raise ConfigError(f"parameter 'preset' is {self.preset!r}, but the model "
                              f'{self.model_path()} was trained with preset {preset.name!r}')
        self.depth_range_m(preset)

    def _check_combinations(self, check_model_file: bool) -> None:
        if self.backend == 'onnxruntime' and self.precision != 'auto':
            raise ConfigError(f"parameter 'precision': {self.precision!r} does not apply to the "
                              'onnxruntime backend, which runs the precision of its ONNX file '
                              '(msdepth-export --fp16 writes an FP16 one); leave it auto')
        if self.backend in ('onnxruntime', 'torch') and self.dla_core >= 0:
            raise ConfigError(f"parameter 'dla_core': DLA cores are used by the tensorrt backend "
                              f'only, not {self.backend}; leave it -1')
        if self.model and Path(self.model).suffix not in MODEL_SUFFIXES:
            raise ConfigError(f"parameter 'model': {self.model!r} is not a model file "
                              f'(expected one of {", ".join(MODEL_SUFFIXES)})')
        if check_model_file and not self.model_path().is_file():
            if not self.model:
                raise ConfigError("parameter 'model' is empty and the package's demo model "
                                  f'{self.model_path()} is not installed: set model to a .pt '
                                  'checkpoint, an .onnx file or a TensorRT engine')
            raise ConfigError(f"parameter 'model': {self.model}: no such file")
        if self.min_depth_m and self.max_depth_m and not self.min_depth_m < self.max_depth_m:
            raise ConfigError(f'parameters min_depth_m and max_depth_m: need min < max, got '
                              f'{self.min_depth_m} and {self.max_depth_m}')
        intrinsic_names = ('camera_fx_px', 'camera_fy_px', 'camera_width', 'camera_height')
        given = [name for name in intrinsic_names if getattr(self, name)]
        if given and len(given) < len(intrinsic_names):
            missing = [name for name in intrinsic_names if name not in given]
            raise ConfigError(f'fallback intrinsics are incomplete: {", ".join(given)} set but '
                              f'{", ".join(missing)} not (set all of camera_fx_px, '
                              'camera_fy_px, camera_cx_px, camera_cy_px, camera_width, '
                              'camera_height, or none)')
        if not self.use_camera_info and not given:
            raise ConfigError('use_camera_info is false but no intrinsics are given: set '
                              'camera_fx_px, camera_fy_px, camera_cx_px, camera_cy_px, '
                              'camera_width and camera_height')
        try:
            self.fallback_intrinsics()
        except IntrinsicsError as exc:
            raise ConfigError(f'fallback intrinsics (camera_* parameters): {exc}') from None


def demo_model_path() -> Path:
    """
    Return the path of the demo model.

    It is in the package's share folder (colcon, or the venv's ament index), else in the source
    checkout's ``models/`` (a plain ``pip install -e``).
    """
    try:
        from ament_index_python.packages import get_package_share_directory
    except ImportError:
        pass
    else:
        try:
            installed = Path(get_package_share_directory('msdepth_ros')) / 'models'
        except (LookupError, ValueError, OSError):
            pass  # not in an ament prefix (PackageNotFoundError), or none set
        else:
            if (installed / DEMO_MODEL_NAME).is_file():
                return installed / DEMO_MODEL_NAME
    return Path(__file__).resolve().parents[2] / 'models' / DEMO_MODEL_NAME


def _type_name(value_type: type) -> str:
    return {bool: 'bool', int: 'integer', float: 'double', str: 'string'}[value_type]


def checked_values(parameters: Sequence[ParamSpec],
                   values: Mapping[str, Any]) -> dict[str, ParamValue]:
    """
    Return every parameter of the table ``parameters``, checked: ``values`` over the defaults.

    Names ``values`` has that are not in the table are ignored; integers are accepted for
    doubles. Raises ``ConfigError`` naming the first parameter at fault.
    """
    return {spec.name: check_value(spec, values.get(spec.name, spec.default))
            for spec in parameters}


def check_value(spec: ParamSpec, value: Any) -> ParamValue:
    """Return ``value`` checked against ``spec`` (type, finite, choices, range)."""
    expected = type(spec.default)
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if type(value) is not expected:
        raise ConfigError(f'parameter {spec.name!r}: expected a {spec.type_name}, got '
                          f'{type(value).__name__} {value!r}')
    if expected is float and not math.isfinite(value):
        raise ConfigError(f'parameter {spec.name!r}: must be finite, got {value}')
    if spec.choices and value not in spec.choices:
        raise ConfigError(f'parameter {spec.name!r}: {value!r} is not one of '
                          f'{", ".join(spec.choices)}')
    if spec.min_value is not None and not spec.min_value <= value <= spec.max_value:
        raise ConfigError(f'parameter {spec.name!r}: {value} is outside '
                          f'[{spec.min_value}, {spec.max_value}]')
    return value
