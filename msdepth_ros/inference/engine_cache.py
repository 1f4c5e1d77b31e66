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
TensorRT engines built from an ONNX file on first use and cached on disk.

An engine only runs where it was built: same TensorRT version, same GPU model and compute
capability, same precision, input shape, workspace limit, builder optimisation level and DLA
core. All of these, with the SHA-256 of the ONNX bytes, form the ``EngineKey``; the engine file
is named by the key's digest, so a changed model or machine never loads a stale engine, it
builds a new one. Files are written atomically (temporary file, then rename) so that a crash or
a second process never leaves half an engine; an engine that fails to deserialize anyway
(disk corruption, a driver update) is rebuilt with a warning. A read-only cache is fine while
every engine it needs is in it, and a clear error when one must be built.

TensorRT itself sits behind ``TensorRTToolkit`` (version, device identity, build, deserialize)
so that this logic runs and is tested without TensorRT or a GPU; ``tensorrt_backend`` provides
the real one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
import json
import logging
import os
from pathlib import Path
import tempfile
from typing import Any, Protocol

from msdepth_ros.inference.files import atomic_write_bytes, sha256_bytes
from msdepth_ros.inference.interface import BackendError

LOG = logging.getLogger(__name__)

#: Environment variable that overrides the default cache folder.
CACHE_ENV = 'MSDEPTH_ENGINE_CACHE'
#: Bumped when the cache layout or the key's meaning changes.
CACHE_FORMAT = 1
ENGINE_PRECISIONS = ('fp32', 'fp16')


class EngineCacheError(BackendError):
    """The cache cannot be used (a read-only folder, say); the message names the folder."""


class EngineBuildError(BackendError):
    """TensorRT could not parse the ONNX or build an engine from it."""


class EngineDeserializeError(BackendError):
    """TensorRT could not deserialize an engine file."""


def default_cache_dir() -> Path:
    """``$MSDEPTH_ENGINE_CACHE``, else ``$XDG_CACHE_HOME/msdepth_ros/engines`` (~/.cache)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    base = os.environ.get('XDG_CACHE_HOME') or Path.home() / '.cache'
    return Path(base) / 'msdepth_ros' / 'engines'


@dataclass(frozen=True)
class DeviceIdentity:
    """The GPU an engine is built for: its name and compute capability (``8.7``)."""

    name: str
    compute_capability: str


@dataclass(frozen=True)
class BuildSettings:
    """
    How to build an engine.

    Parameters
    ----------
    precision:
        ``fp32`` or ``fp16``. TensorRT 10 reaches fp16 with a builder flag; TensorRT 11 only
        from an FP16 ONNX (``msdepth-export --fp16``).
    workspace_bytes:
        Limit of the builder's scratch memory pool on the GPU.
    optimization_level:
        Builder optimisation level 0-5 (TensorRT's default is 3; higher builds slower and
        may run faster).
    dla_core:
        Jetson DLA core to run on (layers DLA cannot run fall back to the GPU); None for the
        GPU only.
    timing_cache:
        Reuse and update the per-device timing cache beside the engines (faster rebuilds).

    """

    precision: str = 'fp32'
    workspace_bytes: int = 1 << 30
    optimization_level: int = 3
    dla_core: int | None = None
    timing_cache: bool = True

    def __post_init__(self) -> None:
        if self.precision not in ENGINE_PRECISIONS:
            raise BackendError(f'engine precision must be one of {ENGINE_PRECISIONS}, got '
                               f'{self.precision!r}')
        if self.workspace_bytes < 1 << 20:
            raise BackendError(f'engine workspace must be at least 1 MiB, got '
                               f'{self.workspace_bytes} bytes')
        if not 0 <= self.optimization_level <= 5:
            raise BackendError(f'builder optimization level must be 0-5, got '
                               f'{self.optimization_level}')
        if self.dla_core is not None and self.dla_core < 0:
            raise BackendError(f'DLA core must be >= 0, got {self.dla_core}')


class TensorRTToolkit(Protocol):
    """
    The few TensorRT calls the cache makes (the seam that tests replace with a fake).

    ``build`` returns the serialized engine and the updated timing cache (or None);
    ``deserialize`` returns a usable engine or raises ``EngineDeserializeError``.
    """

    def version(self) -> str:
        """Return TensorRT's version string."""

    def device_identity(self) -> DeviceIdentity:
        """Return the GPU engines are built for."""

    def build(self, onnx_bytes: bytes, settings: BuildSettings,
              timing_cache: bytes | None) -> tuple[bytes, bytes | None]:
        """Build a serialized engine from ONNX bytes."""

    def deserialize(self, engine_bytes: bytes, dla_core: int | None) -> Any:
        """Turn a serialized engine into a runnable one."""


@dataclass(frozen=True)
class EngineKey:
    """Everything that makes an engine unportable; its ``digest`` names the cache file."""

    onnx_sha256: str
    tensorrt_version: str
    gpu_name: str
    compute_capability: str
    precision: str
    input_shape: tuple[int, ...]
    workspace_bytes: int
    optimization_level: int
    dla_core: int | None
    cache_format: int = CACHE_FORMAT

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for the JSON file beside the engine)."""
        data = asdict(self)
        data['input_shape'] = list(self.input_shape)
        return data

    @property
    def digest(self) -> str:
        """SHA-256 of the key's canonical JSON."""
        return sha256_bytes(json.dumps(self.to_dict(), sort_keys=True).encode())


@dataclass(frozen=True)
class CachedEngine:
    """
    An engine from the cache.

    ``built``: it was built now (a miss); ``rebuilt_reason``: why a cached file was replaced.
    """

    engine: Any
    path: Path
    key: EngineKey
    built: bool
    rebuilt_reason: str | None = None


class EngineCache:
    """
    Engines on disk, keyed by ``EngineKey``.

    Parameters
    ----------
    root:
        Cache folder (``default_cache_dir()`` when None); created on first build.
    toolkit:
        The TensorRT calls (``tensorrt_backend.TensorRTRuntime`` on a GPU).

    """

    def __init__(self, root: str | os.PathLike | None, toolkit: TensorRTToolkit) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()
        self.toolkit = toolkit

    def key_for(self, onnx_bytes: bytes, settings: BuildSettings,
                input_shape: tuple[int, ...]) -> EngineKey:
        """Return the key of the engine built from ``onnx_bytes`` with ``settings`` here."""
        device = self.toolkit.device_identity()
        return EngineKey(onnx_sha256=sha256_bytes(onnx_bytes),
                         tensorrt_version=self.toolkit.version(), gpu_name=device.name,
                         compute_capability=device.compute_capability,
                         precision=settings.precision, input_shape=tuple(input_shape),
                         workspace_bytes=settings.workspace_bytes,
                         optimization_level=settings.optimization_level,
                         dla_core=settings.dla_core)

    def engine_path(self, key: EngineKey) -> Path:
        """Return where the engine of ``key`` lives."""
        return self.root / f'{key.digest[:32]}.engine'

    def timing_cache_path(self, key: EngineKey) -> Path:
        """Return the timing cache shared by every engine of one TensorRT version and GPU."""
        ident = sha256_bytes(json.dumps([key.tensorrt_version, key.gpu_name,
                                         key.compute_capability]).encode())
        return self.root / f'timing-{ident[:16]}.cache'

    def load_or_build(self, onnx_path: str | os.PathLike, onnx_bytes: bytes,
                      settings: BuildSettings, input_shape: tuple[int, ...],
                      metadata: dict[str, str] | None = None) -> CachedEngine:
        """
        Return the engine of ``onnx_bytes``: cached when present and loadable, else built.

        Parameters
        ----------
        onnx_path:
            The ONNX file (for messages and the JSON beside the engine).
        onnx_bytes:
            Its content (hashed for the key, parsed by TensorRT on a miss).
        settings:
            How to build.
        input_shape:
            The static input shape (part of the key).
        metadata:
            The ONNX metadata, stored beside the engine so that the engine file alone can be
            loaded later.

        Returns
        -------
        The engine, where it is, and whether it was built now.

        """
        key = self.key_for(onnx_bytes, settings, input_shape)
        path = self.engine_path(key)
        rebuilt_reason = None
        if path.is_file():
            try:
                engine = self.toolkit.deserialize(path.read_bytes(), settings.dla_core)
            except (EngineDeserializeError, OSError) as exc:
                rebuilt_reason = f'cached engine {path} failed to load ({exc}); rebuilding it'
                LOG.warning(rebuilt_reason)
            else:
                LOG.info('loaded cached TensorRT engine %s for %s', path, onnx_path)
                return CachedEngine(engine=engine, path=path, key=key, built=False)
        self._check_writable()
        timing_path = self.timing_cache_path(key)
        timing = None
        if settings.timing_cache and timing_path.is_file():
            timing = timing_path.read_bytes()
        LOG.info('building a TensorRT engine for %s (this takes a while, once)', onnx_path)
        engine_bytes, new_timing = self.toolkit.build(onnx_bytes, settings, timing)
        atomic_write_bytes(path, engine_bytes)
        sidecar = {'key': key.to_dict(), 'onnx_path': str(onnx_path),
                   'metadata': dict(metadata or {})}
        atomic_write_bytes(sidecar_path(path), json.dumps(sidecar, indent=1).encode())
        if settings.timing_cache and new_timing:
            atomic_write_bytes(timing_path, new_timing)
        engine = self.toolkit.deserialize(engine_bytes, settings.dla_core)
        return CachedEngine(engine=engine, path=path, key=key, built=True,
                            rebuilt_reason=rebuilt_reason)

    def _check_writable(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(prefix='.write-probe.', dir=self.root)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise EngineCacheError(
                f'engine cache {self.root} is not writable ({exc.strerror or exc}), so the '
                f'engine cannot be built there; point ${CACHE_ENV} or the cache_dir option at '
                'a writable folder') from None


def sidecar_path(engine_path: Path) -> Path:
    """Return the JSON file beside an engine (key, source ONNX and its metadata)."""
    return engine_path.with_name(engine_path.name + '.json')
