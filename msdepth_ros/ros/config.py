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

``NodeConfig`` is the frozen, validated set of values the node runs with; a run-time change
builds a new one and swaps it. Its fields are the parameters, each written once with its
default, description, range, allowed values and read-only flag (``ros.param_table.param``).
``PARAMETERS``, the table derived from them, is what the node declares, and the tests check
``config/*.yaml`` and ``launch/depth.launch.py`` against it. Nothing here imports rclpy.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from pathlib import Path
from typing import Any, Mapping

from msdepth_ros.core.cloud_filter import CloudFilter, DEFAULT_FLYING_PIXEL_THRESHOLD
from msdepth_ros.core.colormap import COLORMAPS
from msdepth_ros.core.intrinsics import Intrinsics, IntrinsicsError
from msdepth_ros.core.presets import Preset, PRESETS
from msdepth_ros.inference.backend import BACKEND_NAMES, options_for
from msdepth_ros.inference.devices import MEMORY_PATHS
from msdepth_ros.msgs import topics
from msdepth_ros.ros.param_table import ConfigError, param, ParameterSet, ParamSpec

# -- topics (``msgs.topics``; relative, so that a namespace gives one node per camera) -----------

#: Topics the node subscribes to (which one of the two images depends on ``input_compressed``).
INPUT_TOPICS = (topics.IMAGE, topics.IMAGE_COMPRESSED, topics.CAMERA_INFO)
#: Topics the node publishes.
OUTPUT_TOPICS = (topics.DEPTH, topics.DEPTH_INFO, topics.POINTS, topics.SCAN, topics.COLORIZED,
                 topics.DIAGNOSTICS)

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

_BACKENDS = tuple(BACKEND_NAMES)
_PRESETS = ('auto',) + tuple(sorted(PRESETS))


@dataclass(frozen=True)
class NodeConfig(ParameterSet):
    """
    The depth node's parameters, validated: each field is one parameter, written once.

    ``param(default, description, ...)`` gives its default, meaning and constraints;
    ``parameters()`` (``PARAMETERS``) is the declaration table derived from the fields.
    """

    model: str = param(
        '', 'Model file: a .pt checkpoint, an .onnx file or a TensorRT engine '
        "(.engine, .plan). Empty: the package's demo model (share/msdepth_ros/models/"
        f'{DEMO_MODEL_NAME}), trained on synthetic streets only: a demonstration, not for '
        'real cameras.')
    backend: str = param('auto', 'Inference backend; auto picks by model file: a .onnx on '
                         'TensorRT where it imports and a GPU is present, else on ONNX Runtime '
                         '(best provider); a .pt on PyTorch (CUDA when present); an engine on '
                         'TensorRT.', choices=_BACKENDS)
    preset: str = param('auto', "Geometry preset the model must have been trained with; 'auto' "
                        'accepts the one stored in the model file.', choices=_PRESETS)
    upsample: int = param(1, 'Integer upsampling of the network output (bilinear in log depth); '
                          'the depth image and its camera info follow.', min_value=1, max_value=8)
    metric_scaling: bool = param(True, 'Scale depth by f_camera / f_training so that cameras '
                                 'with another focal length than the training data get metric '
                                 'depth.')
    precision: str = param('auto', "Arithmetic of the torch and tensorrt backends: 'auto' "
                           '(torch: fp32; tensorrt: that of the ONNX file, fp16 on DLA), fp32 or '
                           'fp16 (GPU only). ONNX Runtime runs the precision of its ONNX file.',
                           choices=('auto', 'fp32', 'fp16'))
    threads: int = param(0, "CPU threads of the torch and onnxruntime backends; 0: the library's "
                         'default.', min_value=0, max_value=256)
    device_index: int = param(0, 'CUDA device of the GPU backends.', min_value=0, max_value=64)
    dla_core: int = param(-1, 'tensorrt: run on this DLA core (Jetson), layers DLA cannot run '
                          'fall back to the GPU; -1: GPU only.', min_value=-1, max_value=7)
    workspace_mib: int = param(1024, 'tensorrt: builder workspace limit in MiB.',
                               min_value=16, max_value=1 << 20)
    tensorrt_memory: str = param('auto', 'tensorrt: where the GPU buffers come from: auto '
                                 '(PyTorch CUDA where it works, else cuda-python), torch or '
                                 'cuda-python. The ready line and /diagnostics show the path in '
                                 'use.', choices=MEMORY_PATHS)
    engine_cache_dir: str = param('', "tensorrt (and ONNX Runtime's TensorRT provider): folder "
                                  'of the engine cache; empty: $MSDEPTH_ENGINE_CACHE, else '
                                  '~/.cache/msdepth_ros/engines.')
    min_depth_m: float = param(0.0, "Depths below this are invalid (NaN). 0: the preset's "
                               'minimum.', read_only=False, min_value=0.0, max_value=1000.0)
    max_depth_m: float = param(0.0, "Depths above this are invalid (NaN). 0: the preset's "
                               'maximum.', read_only=False, min_value=0.0, max_value=1000.0)
    use_camera_info: bool = param(True, 'Take the intrinsics from the camera_info topic (the '
                                  'camera_* parameters then only serve until the first camera '
                                  'info arrives); false: from the camera_* parameters only.')
    camera_fx_px: float = param(0.0, 'Fallback intrinsics: focal length x in pixels of '
                                'camera_width x camera_height images; 0 = none.',
                                min_value=0.0, max_value=1e6)
    camera_fy_px: float = param(0.0, 'Fallback intrinsics: focal length y in pixels.',
                                min_value=0.0, max_value=1e6)
    camera_cx_px: float = param(0.0, 'Fallback intrinsics: principal point x in pixels (pixel '
                                'centres at integer coordinates).', min_value=-1e6, max_value=1e6)
    camera_cy_px: float = param(0.0, 'Fallback intrinsics: principal point y in pixels.',
                                min_value=-1e6, max_value=1e6)
    camera_width: int = param(0, 'Width of the images the fallback intrinsics describe.',
                              min_value=0, max_value=MAX_CAMERA_SIDE_PX)
    camera_height: int = param(0, 'Height of the images the fallback intrinsics describe.',
                               min_value=0, max_value=MAX_CAMERA_SIDE_PX)
    input_compressed: bool = param(False, 'Subscribe to image/compressed '
                                   '(sensor_msgs/CompressedImage, jpeg or png) instead of image.')
    input_reliability: str = param('auto', 'Reliability of the image and camera info '
                                   'subscriptions. auto: subscribe once a publisher is found, '
                                   'reliable when every publisher is reliable (large frames then '
                                   'arrive on default DDS settings), best effort otherwise; '
                                   're-subscribes when the publishers change.',
                                   choices=RELIABILITY_CHOICES)
    input_qos_depth: int = param(1, 'History depth of the input subscriptions. The node always '
                                 'works on the newest frame and drops the others.',
                                 min_value=1, max_value=100)
    output_reliable: bool = param(True, 'Publish outputs reliably (matches every subscriber); '
                                  'false: best effort.')
    output_qos_depth: int = param(1, 'History depth of the output publishers.',
                                  min_value=1, max_value=100)
    skip_unsubscribed: bool = param(True, 'Do no work for outputs that nobody subscribes to, and '
                                    'no inference while no output has a subscriber.',
                                    read_only=False)
    publish_points: bool = param(True, 'Publish the organized point cloud on points.',
                                 read_only=False)
    points_rgb: bool = param(False, 'Add the image colour to the point cloud (rgb field, '
                             'point_step 32).', read_only=False)
    cloud_flying_pixel_threshold: float = param(
        DEFAULT_FLYING_PIXEL_THRESHOLD, "Drop cloud points whose 8-neighbours' depth differs "
        'from their own by more than this fraction of it (flying pixels at depth '
        'discontinuities); 0: off. The depth image is never filtered.', read_only=False,
        min_value=0.0, max_value=10.0)
    cloud_max_range_m: float = param(0.0, 'Drop cloud points farther than this from the camera '
                                     '(along the ray); 0: no cap but the depth range.',
                                     read_only=False, min_value=0.0, max_value=1000.0)
    cloud_stride: int = param(1, 'Keep every n-th pixel of every n-th row in the cloud (still '
                              'organized, ceil(H/n) x ceil(W/n)).', read_only=False,
                              min_value=1, max_value=64)
    publish_scan: bool = param(False, 'Publish a sensor_msgs/LaserScan on scan '
                               "(depthimage_to_laserscan's semantics, +inf where a beam sees "
                               'nothing).', read_only=False)
    scan_height: int = param(1, 'Rows of the depth image around its optical centre that the scan '
                             'takes the nearest range of (cut to the rows the image has there).',
                             read_only=False, min_value=1, max_value=16384)
    scan_frame_id: str = param('', 'Frame of the scan (x forward, y left); empty: the depth '
                               "image's frame without _optical (camera_optical_frame -> "
                               'camera_frame).', read_only=False)
    publish_colorized: bool = param(True, 'Publish a colourised depth preview on depth/colorized '
                                    '(built only while someone subscribes).', read_only=False)
    colormap: str = param('turbo', 'Colour map of depth/colorized.',
                          read_only=False, choices=tuple(COLORMAPS))
    diagnostics_period_s: float = param(1.0, 'Period of the status on /diagnostics.',
                                        min_value=0.1, max_value=60.0)
    drop_warn_ratio: float = param(0.5, 'Diagnostics warn when more than this fraction of the '
                                   'frames of a period were dropped.',
                                   read_only=False, min_value=0.0, max_value=1.0)
    log_throttle_s: float = param(5.0, 'Each kind of bad input is logged at most once per this '
                                  'period (the first one at once).',
                                  read_only=False, min_value=0.0, max_value=3600.0)

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
        config = cls.checked(values)
        config._check_combinations(check_model_file)
        return config

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
        try:
            return preset.depth_range_m(self.min_depth_m, self.max_depth_m)
        except ValueError as exc:
            raise ConfigError(f'parameters min_depth_m and max_depth_m: {exc}') from None

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


#: Every parameter of the depth node, in the order ``ros2 param list`` shows them.
PARAMETERS: tuple[ParamSpec, ...] = NodeConfig.parameters()
PARAMETERS_BY_NAME: dict[str, ParamSpec] = {spec.name: spec for spec in PARAMETERS}


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
