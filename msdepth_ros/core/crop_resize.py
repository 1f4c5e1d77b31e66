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
Resize-then-crop computed for the crop window only, straight into the network input.

Preprocessing is "resize the camera image to ``resized`` pixels, keep ``crop`` of them". Doing
that literally builds the whole resized image: for a camera image of extreme aspect ratio that
is enormous (a 1 x 16384 image becomes 621 x 10,174,464 pixels, 19 GB), and for an ordinary
camera it is a full-image pass whose crop is thrown away. Here each axis is planned once per
camera size (``axis_taps``): which camera pixels feed each output pixel of the crop, and with
what weight. The weights are those of ``cv2.resize`` on the whole image, on the pixel-centre
convention of ``PixelMap.resize`` (``x' = (x + 0.5) * s - 0.5``):

- shrinking (``s < 1``, ``INTER_AREA``): resized pixel ``x`` covers camera pixels
  ``[x / s, (x + 1) / s]`` (pixel edges at integers); each camera pixel weighs its overlap;
- enlarging (``s > 1``, ``INTER_LINEAR``): bilinear at ``(x + 0.5) / s - 0.5``, clamped to the
  outermost pixel centres;
- ``s == 1``: the pixel itself.

``CropResampler`` applies the two axes to a frame. Work and memory scale with the crop window
(at most the camera image, which is already in memory) and the network input, never with the
resized image. Where both axes are whole-number shrinks (640x480 to 320x240) the window goes
through ``cv2.resize``'s integer area path, which is what the full-image resize computes there
too; elsewhere the two passes are weighted sums of gathered rows (chunked so that no temporary
exceeds ``CHUNK_BYTES``), in float32, so results differ from ``cv2.resize`` by its rounding to
uint8 and its fixed-point weights (below one grey level).
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
import threading

import cv2
import numpy as np

#: Largest temporary array of one pass, in bytes (the gathered rows of a chunk of outputs).
CHUNK_BYTES = 16 * 1024 * 1024

#: ``'pairs'`` serves axes that shrink by 2 within this many camera pixels per output pixel:
#: the area kernel is then a 2-pixel box within 0.6 % of its width (1242x375, 1241x376,
#: 1238x374 for the ``kitti`` preset; KITTI's 1224x370 and 1226x370, 1.5 % off, go to ``'cv2'``).
PAIRS_TOLERANCE = 0.012


@dataclass(frozen=True)
class AxisTaps:
    """
    The weights of one axis: output ``i`` is ``sum_t weights[i, t] * src[lo + start[i] + t]``.

    Attributes
    ----------
    lo, hi:
        The camera pixels ``lo .. hi - 1`` that any output reads (the crop window).
    start:
        ``(n,)`` int, first source pixel of each output, relative to ``lo``.
    weights:
        ``(n, T)`` float32, each row summing to 1; taps are consecutive source pixels.
    box:
        ``k > 0`` when output ``i`` is exactly the mean of window pixels ``k i .. k i + k - 1``
        (a whole-number shrink, or ``1``: the pixels themselves); 0 otherwise.

    """

    lo: int
    hi: int
    start: np.ndarray
    weights: np.ndarray
    box: int

    @property
    def size(self) -> int:
        """Return the number of outputs."""
        return int(self.start.shape[0])

    @property
    def taps(self) -> int:
        """Return the source pixels per output (``T``)."""
        return int(self.weights.shape[1])


def axis_taps(src_len: int, resized_len: int, crop_start: int, count: int) -> AxisTaps:
    """
    Plan one axis: resize ``src_len`` pixels to ``resized_len``, keep ``count`` of them.

    Parameters
    ----------
    src_len:
        Camera pixels along the axis.
    resized_len:
        Pixels after the (virtual) resize; ``0 <= crop_start`` and
        ``crop_start + count <= resized_len``.
    crop_start, count:
        The kept resized pixels.

    Returns
    -------
    The ``AxisTaps`` of the ``count`` kept pixels.

    """
    if src_len < 1 or resized_len < 1 or count < 1:
        raise ValueError(f'axis sizes must be positive, got {src_len} -> {resized_len}, '
                         f'{count} kept')
    if crop_start < 0 or crop_start + count > resized_len:
        raise ValueError(f'crop {crop_start}..{crop_start + count - 1} is outside the '
                         f'{resized_len} resized pixels')
    x = np.arange(crop_start, crop_start + count, dtype=np.float64)
    if resized_len == src_len:
        first = x.astype(np.int64)[:, None]
        weight = np.ones((count, 1))
    elif resized_len < src_len:
        # Area: resized pixel x covers [x S, (x + 1) S] in edge coordinates (pixel u spans
        # [u, u + 1]); S * resized_len == src_len, so the last footprint ends at the edge.
        scale = src_len / resized_len
        a = x * scale
        b = np.minimum((x + 1.0) * scale, float(src_len))
        taps = int(math.ceil(scale)) + 1
        first = np.floor(a).astype(np.int64)[:, None] + np.arange(taps)
        weight = np.minimum(b[:, None], first + 1.0) - np.maximum(a[:, None], first)
        weight = np.where((weight > 1e-9) & (first < src_len), weight, 0.0)
    else:
        # Bilinear at the pixel centre (x + 0.5) / s - 0.5, clamped to the outermost centres.
        centre = np.clip((x + 0.5) * (src_len / resized_len) - 0.5, 0.0, src_len - 1.0)
        if src_len == 1:
            first = np.zeros((count, 1), dtype=np.int64)
            weight = np.ones((count, 1))
        else:
            left = np.minimum(np.floor(centre).astype(np.int64), src_len - 2)
            frac = centre - left
            first = left[:, None] + np.arange(2)
            weight = np.stack([1.0 - frac, frac], axis=1)
    return _consecutive(first, weight, src_len, resized_len)


def _consecutive(index: np.ndarray, weight: np.ndarray, src_len: int,
                 resized_len: int) -> AxisTaps:
    """Pack ``(n, T0)`` source indices and weights into consecutive taps within one window."""
    used = weight > 0.0
    low = np.where(used, index, np.iinfo(np.int64).max).min(axis=1)
    high = np.where(used, index, -1).max(axis=1)
    taps = int((high - low).max()) + 1
    lo, hi = int(low.min()), int(high.max()) + 1
    start = np.minimum(low, hi - taps) - lo
    packed = np.zeros((index.shape[0], taps))
    rows = np.broadcast_to(np.arange(index.shape[0])[:, None], index.shape)
    np.add.at(packed, (rows[used], (index - lo - start[:, None])[used]), weight[used])
    packed /= packed.sum(axis=1, keepdims=True)
    box = 0
    if resized_len <= src_len and src_len % resized_len == 0:
        k = src_len // resized_len
        if taps == k and np.array_equal(start, k * np.arange(index.shape[0])):
            box = k
    return AxisTaps(lo=lo, hi=hi, start=start.astype(np.intp),
                    weights=packed.astype(np.float32), box=box)


@dataclass(frozen=True)
class CropResampler:
    """
    Resample a camera image's crop window into the normalised network input.

    Build it with ``crop_resampler``. ``x`` and ``y`` are the axes' taps; ``scale`` and
    ``bias`` (``3 x 1 x 1`` float32) normalise: ``input = pixel * scale + bias`` per RGB
    channel. ``method`` says how a frame is resampled:

    - ``'blocks'``: both axes are whole-number shrinks (or none); ``cv2.resize``'s integer
      area path on the window, exactly what it computes on the whole image;
    - ``'cv2'``: ``cv2.resize`` (area when shrinking, bilinear when enlarging, with the exact
      scales of the whole-image resize) of the window from the image's top-left corner (or the
      block-aligned crop start) to the crop's end, then the crop: the whole-image result,
      used only while that intermediate is no larger than the camera image (or four network
      inputs, for small cameras);
    - ``'pairs'``: both axes shrink by about 2 (within ``PAIRS_TOLERANCE``; most KITTI
      cameras for the ``kitti`` preset): the area average over ``[x S, (x + 1) S]`` is, for
      ``S = 2``, exactly the bilinear interpolation of the 2-pixel box at the footprint's
      centre. Each axis whose scale is not exactly 2 is box-filtered (``cv2.addWeighted`` of
      the window and the window shifted by one pixel), then one ``cv2.warpAffine`` samples the
      exact centres (an exact 2 needs no box filter: bilinear at a half-pixel position is the
      box).
      Differences from the whole-image area resize: the box's 2 against ``S`` (under 0.6 %
      of the kernel), rounding to uint8 twice and warpAffine's 1/32-pixel positions: at most
      2 grey levels on KITTI frames, 0.13 to 0.2 on average (test_crop_resize);
    - ``'taps'``: anything else (extreme aspect ratios): the two passes of weighted sums,
      memory bounded by the window and ``CHUNK_BYTES``.
    """

    x: AxisTaps
    y: AxisTaps
    scale: np.ndarray
    bias: np.ndarray
    method: str
    #: For ``'cv2'``: camera window ``(x0, y0, x1, y1)``, scales ``(fx, fy)``, the crop's
    #: offset in the resized window ``(x, y)`` and the interpolation flag.
    cv2_window: tuple[int, int, int, int] = (0, 0, 0, 0)
    cv2_scale: tuple[float, float] = (1.0, 1.0)
    cv2_offset: tuple[int, int] = (0, 0)
    cv2_interpolation: int = cv2.INTER_AREA
    #: For ``'pairs'``: which axes (x, y) are box-filtered, and the 2 x 3 map from network-input
    #: pixels to pixels of the filtered window (``cv2_window`` is the camera window).
    pairs: tuple[bool, bool] = (False, False)
    warp_matrix: tuple[tuple[float, float, float], tuple[float, float, float]] = (
        (1.0, 0.0, 0.0), (0.0, 1.0, 0.0))
    # Scratch arrays of this thread, reused from frame to frame (fresh multi-megabyte arrays
    # cost page faults every frame).
    _scratch: threading.local = field(default_factory=threading.local, compare=False,
                                      repr=False)

    def __getstate__(self) -> dict:
        """Pickle without the scratch arrays (plans go to data-loader processes)."""
        state = dict(self.__dict__)
        state.pop('_scratch', None)
        return state

    def __setstate__(self, state: dict) -> None:
        """Restore a pickled resampler with fresh scratch space."""
        for name, value in state.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, '_scratch', threading.local())

    def window_shape(self) -> tuple[int, int]:
        """Return the rows and columns of the camera window the input is computed from."""
        if self.method in ('cv2', 'pairs'):
            x0, y0, x1, y1 = self.cv2_window
            return y1 - y0, x1 - x0
        return self.y.hi - self.y.lo, self.x.hi - self.x.lo

    def __call__(self, image_rgb: np.ndarray, out: np.ndarray) -> np.ndarray:
        """
        Write the network input of ``image_rgb`` into ``out``.

        Parameters
        ----------
        image_rgb:
            ``H x W x 3`` uint8 RGB with any strides (a view on a message: channels reversed
            for bgr8, a stride of 4 for rgba8, a broadcast grey channel for mono8).
        out:
            ``1 x 3 x n_y x n_x`` float32.

        Returns
        -------
        ``out``.

        """
        n_x, n_y = self.x.size, self.y.size
        if self.method == 'pairs':
            x0, y0, x1, y1 = self.cv2_window
            pixels, order = _channels_first_layout(image_rgb[y0:y1, x0:x1])
            if self.pairs[1]:
                pixels = cv2.addWeighted(pixels[:-1], 0.5, pixels[1:], 0.5, 0.0)
            if self.pairs[0]:
                pixels = cv2.addWeighted(pixels[:, :-1], 0.5, pixels[:, 1:], 0.5, 0.0)
            if pixels.ndim == 3 and pixels.shape[2] == 3:
                # warpAffine samples four channels twice as fast as three (the same values):
                # a fourth channel costs one cheap pass, and the split below drops it.
                pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2RGBA, dst=_buffer(
                    self._scratch_arrays(), 'rgba', pixels.shape[:2] + (4,), np.uint8))
            sampled = cv2.warpAffine(pixels, np.array(self.warp_matrix), (n_x, n_y),
                                     flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                     borderMode=cv2.BORDER_REPLICATE)
            planes = _planes(sampled)
        elif self.method == 'cv2':
            x0, y0, x1, y1 = self.cv2_window
            pixels, order = _channels_first_layout(image_rgb[y0:y1, x0:x1])
            fx, fy = self.cv2_scale
            resized = cv2.resize(pixels, None, fx=fx, fy=fy,
                                 interpolation=self.cv2_interpolation)
            ox, oy = self.cv2_offset
            planes = _planes(resized[oy:oy + n_y, ox:ox + n_x])
        elif self.method == 'blocks':
            window = image_rgb[self.y.lo:self.y.hi, self.x.lo:self.x.hi]
            pixels, order = _channels_first_layout(window)
            if self.x.box > 1 or self.y.box > 1:
                pixels = cv2.resize(pixels, (n_x, n_y), interpolation=cv2.INTER_AREA)
            planes = _planes(pixels)
        else:
            window = image_rgb[self.y.lo:self.y.hi, self.x.lo:self.x.hi]
            pixels, order = _channels_first_layout(window)
            planes = _separable(pixels, self.y, self.x, self._scratch_arrays())
        if not isinstance(planes, np.ndarray) or planes.dtype == np.uint8:
            # uint8 planes: one table look-up per pixel writes the normalised value (the table
            # holds exactly the float32 ``pixel * scale + bias`` of every grey level).
            tables = self._tables
            for c in range(3):
                cv2.LUT(planes[order[c]], tables[c], dst=out[0, c])
        else:
            _normalise(planes, order, self.scale, self.bias, out[0])
        return out

    def _scratch_arrays(self) -> dict[str, np.ndarray]:
        """Return this thread's scratch arrays by name (``_buffer``), kept from frame to frame."""
        scratch = getattr(self._scratch, 'arrays', None)
        if scratch is None:
            scratch = self._scratch.arrays = {}
        return scratch

    @property
    def _tables(self) -> list[np.ndarray]:
        """Per RGB channel, ``1 x 256`` float32: ``level * scale + bias`` (built once)."""
        tables = getattr(self._scratch, 'tables', None)
        if tables is None:
            levels = np.arange(256, dtype=np.float32)
            tables = self._scratch.tables = [
                np.ascontiguousarray((levels * self.scale[c, 0, 0] + self.bias[c, 0, 0])
                                     .astype(np.float32).reshape(1, 256))
                for c in range(3)]
        return tables


def crop_resampler(camera_size: tuple[int, int], resized_size: tuple[int, int],
                   crop_start: tuple[int, int], input_size: tuple[int, int],
                   scale: np.ndarray, bias: np.ndarray, method: str | None = None
                   ) -> CropResampler:
    """
    Plan "resize the camera image to ``resized_size``, crop ``input_size`` at ``crop_start``".

    Parameters
    ----------
    camera_size, resized_size, crop_start, input_size:
        ``(width, height)`` / ``(x, y)`` in pixels.
    scale, bias:
        ``3 x 1 x 1`` float32 normalisation (``pixel * scale + bias``).
    method:
        Force ``'cv2'``, ``'pairs'`` or ``'taps'`` (tests and benchmarks); by default the
        fastest one that matches the whole-image resize and bounds memory (``CropResampler``).

    """
    (cam_w, cam_h), (res_w, res_h) = camera_size, resized_size
    (crop_x, crop_y), (in_w, in_h) = crop_start, input_size
    x = axis_taps(cam_w, res_w, crop_x, in_w)
    y = axis_taps(cam_h, res_h, crop_y, in_h)
    scales = (cam_w / res_w, cam_h / res_h)
    if method is None:
        if x.box and y.box:
            method = 'blocks'
        elif all(abs(s - 2.0) <= PAIRS_TOLERANCE for s in scales):
            method = 'pairs'
        else:
            method = 'cv2'
    if method == 'pairs':
        return _pairs(x, y, scales, (cam_w, cam_h), (crop_x, crop_y), scale, bias)
    if method == 'cv2':
        window, offset = [], []
        for taps, cam, res, crop, size in ((x, cam_w, res_w, crop_x, in_w),
                                           (y, cam_h, res_h, crop_y, in_h)):
            # A block-aligned start keeps cv2's area cells where the whole-image resize has
            # them; elsewhere the window starts at 0. It ends one pixel past the last one read.
            start = taps.lo if taps.box else 0
            end = min(cam, taps.hi + 1)
            count = int(np.rint((end - start) * res / cam))
            first = crop - start * res // cam
            window.append((start, end))
            offset.append((first, count))
        (wx0, wx1), (wy0, wy1) = window
        (ox, count_x), (oy, count_y) = offset
        bound = max(cam_w * cam_h, 4 * in_w * in_h)
        fits = (ox + in_w <= count_x and oy + in_h <= count_y
                and count_x * count_y <= bound)
        if fits:
            return CropResampler(
                x=x, y=y, scale=scale, bias=bias, method='cv2',
                cv2_window=(wx0, wy0, wx1, wy1), cv2_scale=(res_w / cam_w, res_h / cam_h),
                cv2_offset=(ox, oy),
                cv2_interpolation=cv2.INTER_AREA if res_w < cam_w else cv2.INTER_LINEAR)
        method = 'taps'
    if method not in ('blocks', 'taps'):
        raise ValueError(f'unknown resampling method {method!r}')
    return CropResampler(x=x, y=y, scale=scale, bias=bias, method=method)


def _pairs(x: AxisTaps, y: AxisTaps, scales: tuple[float, float], camera_size: tuple[int, int],
           crop_start: tuple[int, int], scale: np.ndarray, bias: np.ndarray) -> CropResampler:
    """Plan the ``'pairs'`` method (see ``CropResampler``)."""
    window, rows, pairs = [], [], []
    for taps, s, size, crop in zip((x, y), scales, camera_size, crop_start):
        # Camera centre of output i: (i + crop + 0.5) s - 0.5; the 2-box j is centred on j + 0.5.
        paired = s != 2.0
        first = (crop + 0.5) * s - 0.5 - (0.5 if paired else 0.0)
        last = first + (taps.size - 1) * s
        lo = max(0, int(math.floor(first)) - 1)
        hi = min(size, int(math.floor(last)) + 3)
        window.append((lo, hi))
        rows.append((s, first - lo))
        pairs.append(paired)
    (x0, x1), (y0, y1) = window
    (sx, ox), (sy, oy) = rows
    return CropResampler(x=x, y=y, scale=scale, bias=bias, method='pairs',
                         cv2_window=(x0, y0, x1, y1), pairs=(pairs[0], pairs[1]),
                         warp_matrix=((sx, 0.0, ox), (0.0, sy, oy)))


def _planes(pixels: np.ndarray) -> list[np.ndarray] | np.ndarray:
    """``h x w x c`` (or ``h x w``) pixels as ``c`` planes of ``h x w``."""
    if pixels.ndim == 2:
        return pixels[None]
    # One contiguous plane per channel (cv2.split) reads faster than a strided transpose.
    return cv2.split(pixels)


def _channels_first_layout(window: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int]]:
    """
    Return the window with contiguous channels, and which of its channels hold R, G, B.

    ``pixels`` is ``h x w`` (grey) or ``h x w x c`` with channel stride 1 and pixel stride
    ``c``, so that a row is one run of bytes; reversed channels (bgr8) are undone by a view, a
    broadcast grey channel becomes one channel, anything else is copied (the window only).
    """
    if window.strides[2] == 0:
        return window[..., 0], (0, 0, 0)
    if window.strides[2] == -1 and window.strides[1] == 3:
        return window[..., ::-1], (2, 1, 0)
    if window.strides[2] == 1 and window.strides[1] == 3:
        return window, (0, 1, 2)
    return np.ascontiguousarray(window), (0, 1, 2)


def _buffer(scratch: dict[str, np.ndarray], name: str, shape: tuple[int, ...],
            dtype: np.dtype = np.float32) -> np.ndarray:
    """Return the scratch array ``name`` of ``shape`` and ``dtype``, allocated once."""
    array = scratch.get(name)
    if array is None or array.shape != shape or array.dtype != dtype:
        array = scratch[name] = np.empty(shape, dtype=dtype)
    return array


def _rows(source: np.ndarray, taps: AxisTaps, scratch: dict[str, np.ndarray],
          name: str) -> np.ndarray:
    """
    Weighted sums of rows: ``out[i] = sum_t w[i, t] * source[start[i] + t]``.

    ``source`` is ``rows x K`` (uint8 or float32); returns ``n x K`` float32. Rows are gathered
    a chunk of outputs at a time (at most ``CHUNK_BYTES``), then one batched matrix product.
    The result and the temporaries are ``scratch`` arrays named after ``name``.
    """
    n, count = taps.size, taps.taps
    k = source.shape[1]
    out = _buffer(scratch, name, (n, k))
    per_chunk = min(n, max(1, CHUNK_BYTES // max(1, count * k * 4)))
    gathered = _buffer(scratch, name + ' rows', (per_chunk, count, k))
    raw = (gathered if source.dtype == np.float32 else
           _buffer(scratch, name + ' raw rows', (per_chunk, count, k), source.dtype))
    offsets = np.arange(count)
    for i in range(0, n, per_chunk):
        j = min(n, i + per_chunk)
        part = gathered[:j - i]
        np.take(source, taps.start[i:j, None] + offsets, axis=0, out=raw[:j - i],
                mode='clip')
        if raw is not gathered:
            np.copyto(part, raw[:j - i])
        np.matmul(taps.weights[i:j, None, :], part, out=out[i:j, None, :])
    return out


def _separable(pixels: np.ndarray, y: AxisTaps, x: AxisTaps,
               scratch: dict[str, np.ndarray]) -> np.ndarray:
    """Both passes by weighted row sums; returns ``c x n_y x n_x`` float32."""
    h, w = pixels.shape[:2]
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    by_rows = _rows(pixels.reshape(h, w * channels), y, scratch, 'y')
    # cv2.transpose turns the columns into rows (w * c x n_y, i.e. w rows of c x n_y), and the
    # result of the second pass (n_x x c * n_y) into the channel-first planes.
    columns = cv2.transpose(by_rows).reshape(w, channels * y.size)
    both = cv2.transpose(_rows(columns, x, scratch, 'x'))
    return both.reshape(channels, y.size, x.size)


def _normalise(planes: np.ndarray | list[np.ndarray], order: tuple[int, int, int],
               scale: np.ndarray, bias: np.ndarray, out: np.ndarray) -> None:
    """``out[c] = planes[order[c]] * scale[c] + bias[c]`` (``3 x h x w`` float32 ``out``)."""
    if order == (0, 1, 2) and isinstance(planes, np.ndarray) and planes.shape[0] == 3:
        np.multiply(planes, scale, out=out, casting='unsafe')
    else:
        for c in range(3):
            np.multiply(planes[order[c]], scale[c], out=out[c], casting='unsafe')
    out += bias
