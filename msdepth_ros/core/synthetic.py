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
Synthetic road scenes with exact depth, seen from a car.

A ``RoadLayout`` (drawn from a seed) places a textured road on a ground plane, road-side walls
made of building segments, boxes (parked cars, crates) and a far facade that closes the street,
under a sky. ``render`` ray-casts the layout for a pinhole camera 1.65 m above the ground,
looking along the road, at any position along it: every pixel gets the exact z-depth of the
surface it sees (NaN for sky) and a colour with texture, shading and distance haze. Used by the
tests, smoke training, the KITTI-layout drive writer and the demo.

World frame = camera optical frame at the start of the road (x right, y down, z forward); the
ground is the plane ``y = camera_height_m``; a camera at ``camera_z_m`` is translated along z.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from msdepth_ros.core.intrinsics import Intrinsics
import numpy as np

#: Label values of ``SyntheticFrame.labels``.
SKY, ROAD, GROUND, WALL, FACADE, BOX = 0, 1, 2, 3, 4, 5

#: KITTI's colour camera 2 of 2011-09-26 (P_rect_02), for 1242 x 375 images.
KITTI_FX_PX = 721.5377
KITTI_CX_PX = 609.5593
KITTI_CY_PX = 172.854
KITTI_WIDTH = 1242
KITTI_HEIGHT = 375
KITTI_CAMERA_HEIGHT_M = 1.65


def kitti_like_intrinsics(width: int = KITTI_WIDTH, height: int = KITTI_HEIGHT) -> Intrinsics:
    """Return KITTI's camera 2 resized to ``width`` x ``height`` (square pixels)."""
    base = Intrinsics(KITTI_FX_PX, KITTI_FX_PX, KITTI_CX_PX, KITTI_CY_PX,
                      KITTI_WIDTH, KITTI_HEIGHT)
    scaled = base.scaled_to(width, height)
    f = scaled.fx_px
    return Intrinsics(f, f, scaled.cx_px, scaled.cy_px, width, height)


@dataclass(frozen=True)
class Box:
    """Axis-aligned box standing on the ground: x and z extents in metres, height, RGB."""

    x0: float
    x1: float
    z0: float
    z1: float
    height_m: float
    rgb: tuple[float, float, float]


@dataclass(frozen=True)
class WallSide:
    """
    Buildings along one side of the road.

    The facade plane is ``x = x_m``; segment ``i`` covers ``z`` in ``[starts[i], ends[i])`` with
    height ``heights[i]`` and colour ``colours[i]``; between segments there is no wall.
    """

    x_m: float
    starts: np.ndarray
    ends: np.ndarray
    heights: np.ndarray
    colours: np.ndarray


@dataclass(frozen=True)
class RoadLayout:
    """Everything in a synthetic street; ``random`` draws one from a seed."""

    seed: int
    road_half_width_m: float
    left: WallSide
    right: WallSide
    facade_z_m: float
    facade_height_m: float
    facade_rgb: tuple[float, float, float]
    boxes: tuple[Box, ...]
    road_rgb: tuple[float, float, float]
    ground_rgb: tuple[float, float, float]
    haze_m: float
    sky_top_rgb: tuple[float, float, float] = (0.35, 0.55, 0.85)
    sky_horizon_rgb: tuple[float, float, float] = (0.80, 0.85, 0.90)
    light_dir: tuple[float, float, float] = field(default=(-0.4, -0.8, 0.45))

    @staticmethod
    def random(seed: int, length_m: float = 0.0) -> RoadLayout:
        """
        Draw a street whose facade stands ``length_m`` plus 35 to 78 m ahead of the start.

        A camera anywhere in the first ``length_m`` metres of the street then sees only depths
        that KITTI's 80 m cap keeps, except for the facade from the first frames of a drive.

        The same seed always gives the same street.
        """
        rng = np.random.default_rng(seed)
        half = float(rng.uniform(3.0, 6.0))
        facade_z = float(length_m + rng.uniform(35.0, 78.0))

        def side(sign: float) -> WallSide:
            x = sign * float(half + rng.uniform(1.5, 6.0))
            starts, ends = [], []
            z = float(rng.uniform(-5.0, 8.0))
            while z < facade_z:
                seg = float(rng.uniform(6.0, 25.0))
                starts.append(z)
                ends.append(min(z + seg, facade_z))
                z += seg + (float(rng.uniform(2.0, 10.0)) if rng.random() < 0.35 else 0.0)
            n = len(starts)
            return WallSide(x_m=x, starts=np.asarray(starts), ends=np.asarray(ends),
                            heights=rng.uniform(2.5, 14.0, n),
                            colours=rng.uniform(0.25, 0.85, (n, 3)))

        left, right = side(-1.0), side(1.0)
        boxes = []
        for _ in range(int(rng.integers(4, 11))):
            on_left = rng.random() < 0.5
            lane = rng.random() < 0.3
            width = float(rng.uniform(1.4, 2.2))
            if lane:
                cx = float(rng.uniform(-half + width, half - width))
            else:
                edge = half + float(rng.uniform(0.2, 1.0))
                cx = -edge - width / 2 if on_left else edge + width / 2
            z0 = float(rng.uniform(5.0, facade_z - 8.0))
            boxes.append(Box(x0=cx - width / 2, x1=cx + width / 2, z0=z0,
                             z1=z0 + float(rng.uniform(2.0, 5.0)),
                             height_m=float(rng.uniform(0.8, 2.2)),
                             rgb=tuple(float(c) for c in rng.uniform(0.1, 0.95, 3))))
        grey = float(rng.uniform(0.28, 0.42))
        return RoadLayout(
            seed=int(seed), road_half_width_m=half, left=left, right=right,
            facade_z_m=facade_z, facade_height_m=float(rng.uniform(8.0, 30.0)),
            facade_rgb=tuple(float(c) for c in rng.uniform(0.3, 0.8, 3)),
            boxes=tuple(boxes), road_rgb=(grey, grey, grey * 1.05),
            ground_rgb=tuple(float(c) for c in (rng.uniform(0.25, 0.4),
                                                rng.uniform(0.35, 0.55),
                                                rng.uniform(0.15, 0.3))),
            haze_m=float(rng.uniform(120.0, 250.0)))


@dataclass(frozen=True)
class SyntheticFrame:
    """
    One rendered view.

    ``image``: H x W x 3 uint8 RGB; ``depth_m``: H x W float32 z-depth in metres, NaN for sky;
    ``labels``: H x W uint8 (``SKY``, ``ROAD`` ...); ``intrinsics``: the camera.
    """

    image: np.ndarray
    depth_m: np.ndarray
    labels: np.ndarray
    intrinsics: Intrinsics
    camera_height_m: float
    camera_z_m: float
    camera_x_m: float = 0.0


def render(layout: RoadLayout, intrinsics: Intrinsics, camera_z_m: float = 0.0,
           camera_height_m: float = KITTI_CAMERA_HEIGHT_M,
           camera_x_m: float = 0.0) -> SyntheticFrame:
    """
    Ray-cast ``layout`` for a camera at ``camera_z_m`` along the road, looking down it.

    ``camera_x_m`` moves the camera sideways (positive: to the right), so that the cameras of a
    stereo rig, or a sensor mounted off the car's centre line, see the same street.
    """
    w, h = intrinsics.size
    dx = ((np.arange(w) - intrinsics.cx_px) / intrinsics.fx_px)[None, :].repeat(h, 0)
    dy = ((np.arange(h) - intrinsics.cy_px) / intrinsics.fy_px)[:, None].repeat(w, 1)
    # Rays are (dx, dy, 1): the ray parameter t is the z-depth itself.
    depth = np.full((h, w), np.inf)
    labels = np.full((h, w), SKY, dtype=np.uint8)
    index = np.zeros((h, w), dtype=np.int64)
    normal = np.zeros((h, w), dtype=np.int8)  # 0: up, 1: +x, 2: -x, 3: -z (towards camera)
    hgt = camera_height_m
    cam_x = float(camera_x_m)
    z_end = layout.facade_z_m - camera_z_m

    def take(t: np.ndarray, hit: np.ndarray, label: int, idx: np.ndarray | int = 0,
             nrm: np.ndarray | int = 0) -> None:
        closer = hit & (t < depth)
        depth[closer] = t[closer]
        labels[closer] = label
        index[closer] = idx[closer] if isinstance(idx, np.ndarray) else idx
        normal[closer] = nrm[closer] if isinstance(nrm, np.ndarray) else nrm

    with np.errstate(divide='ignore', invalid='ignore'):
        # Ground plane y = hgt, in front of the facade.
        t = hgt / dy
        ground_hit = (dy > 0) & (t < z_end)
        x_ground = cam_x + t * dx
        on_road = np.abs(x_ground) <= layout.road_half_width_m
        take(t, ground_hit & on_road, ROAD)
        take(t, ground_hit & ~on_road, GROUND)
        # Facade across the street at z = facade_z.
        t = np.full((h, w), z_end)
        take(t, (z_end > 0) & (z_end * dy >= hgt - layout.facade_height_m) & (z_end * dy <= hgt),
             FACADE)
        # Road-side building segments on the planes x = x_m.
        for side, nrm in ((layout.left, 1), (layout.right, 2)):
            t = (side.x_m - cam_x) / dx
            zw = camera_z_m + t
            seg = np.clip(np.searchsorted(side.starts, zw, side='right') - 1, 0,
                          len(side.starts) - 1)
            inside = (zw >= side.starts[seg]) & (zw < side.ends[seg])
            y = t * dy
            hit = (t > 0) & inside & (y <= hgt) & (y >= hgt - side.heights[seg])
            take(t, hit, WALL, seg + (0 if nrm == 1 else 1000), nrm)
        # Boxes: slab intersection along the ray (dx, dy, 1).
        for i, box in enumerate(layout.boxes):
            z0, z1 = box.z0 - camera_z_m, box.z1 - camera_z_m
            if z1 <= 0:
                continue
            tx0, tx1 = (box.x0 - cam_x) / dx, (box.x1 - cam_x) / dx
            ty0, ty1 = (hgt - box.height_m) / dy, hgt / dy
            txn, txf = np.minimum(tx0, tx1), np.maximum(tx0, tx1)
            tyn, tyf = np.minimum(ty0, ty1), np.maximum(ty0, ty1)
            near = np.maximum(np.maximum(txn, tyn), z0)
            far = np.minimum(np.minimum(txf, tyf), z1)
            # A ray parallel to a slab is inside it or never: NaN/inf from 0/0 resolve here.
            x_in = np.where(dx == 0, (box.x0 <= cam_x) & (cam_x <= box.x1), True)
            near = np.where(np.isnan(near), -np.inf, near)
            hit = x_in & (near <= far) & (near > 0)
            face = np.where(near == z0, 3, np.where(near == txn, np.where(dx > 0, 2, 1), 0))
            take(near, hit, BOX, i, face)

    sky = labels == SKY
    depth[sky] = np.nan
    image = _shade(layout, depth, labels, index, normal, dx, dy, camera_z_m, hgt, cam_x)
    return SyntheticFrame(image=image, depth_m=depth.astype(np.float32), labels=labels,
                          intrinsics=intrinsics, camera_height_m=camera_height_m,
                          camera_z_m=camera_z_m, camera_x_m=cam_x)


def road_scene(seed: int, width: int = KITTI_WIDTH, height: int = KITTI_HEIGHT,
               intrinsics: Intrinsics | None = None, camera_z_m: float = 0.0) -> SyntheticFrame:
    """One view of the street of ``seed`` (KITTI-like intrinsics unless given)."""
    if intrinsics is None:
        intrinsics = kitti_like_intrinsics(width, height)
    elif intrinsics.size != (width, height):
        raise ValueError(f'intrinsics are for {intrinsics.size}, not {width}x{height}')
    return render(RoadLayout.random(seed), intrinsics, camera_z_m=camera_z_m)


def ground_plane_depth(intrinsics: Intrinsics, camera_height_m: float) -> np.ndarray:
    """Analytic z-depth of the ground plane for each row (inf at and above the horizon)."""
    v = np.arange(intrinsics.height, dtype=np.float64)
    with np.errstate(divide='ignore'):
        depth = camera_height_m * intrinsics.fy_px / (v - intrinsics.cy_px)
    depth[v <= intrinsics.cy_px] = np.inf
    return depth


def _hash01(a: np.ndarray, b: np.ndarray, seed: int) -> np.ndarray:
    """Deterministic per-cell noise in [0, 1) from two integer cell coordinates."""
    x = (a.astype(np.int64) * 73856093) ^ (b.astype(np.int64) * 19349663) ^ (seed * 83492791)
    x = x.astype(np.uint64) & np.uint64(0xFFFFFFFF)
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x7FEB352D)) & np.uint64(0xFFFFFFFF)
    x ^= x >> np.uint64(15)
    x = (x * np.uint64(0x846CA68B)) & np.uint64(0xFFFFFFFF)
    x ^= x >> np.uint64(16)
    return (x.astype(np.float64) / 4294967296.0)


def _shade(layout: RoadLayout, depth: np.ndarray, labels: np.ndarray,
           index: np.ndarray, normal: np.ndarray, dx: np.ndarray, dy: np.ndarray,
           camera_z_m: float, hgt: float, camera_x_m: float = 0.0) -> np.ndarray:
    h, w = depth.shape
    rgb = np.zeros((h, w, 3))
    t = np.where(np.isfinite(depth), depth, 0.0)
    # world coordinates of the hit points
    x, y, z = camera_x_m + t * dx, t * dy, t + camera_z_m
    seed = layout.seed

    road = labels == ROAD
    fine = _hash01(np.floor(x[road] * 8), np.floor(z[road] * 8), seed)
    lane = (np.abs(x[road]) < 0.08) & (np.mod(z[road], 8.0) < 4.0)
    edge = np.abs(np.abs(x[road]) - (layout.road_half_width_m - 0.25)) < 0.08
    col = np.asarray(layout.road_rgb) * (0.8 + 0.4 * fine)[:, None]
    col[lane | edge] = (0.92, 0.92, 0.85)
    rgb[road] = col

    grnd = labels == GROUND
    patch = _hash01(np.floor(x[grnd] * 2), np.floor(z[grnd] * 2), seed + 1)
    fine = _hash01(np.floor(x[grnd] * 10), np.floor(z[grnd] * 10), seed + 2)
    rgb[grnd] = np.asarray(layout.ground_rgb) * (0.7 + 0.35 * patch + 0.15 * fine)[:, None]

    wall = labels == WALL
    idx = index[wall]
    colours = np.where((idx >= 1000)[:, None], layout.right.colours[np.minimum(idx % 1000,
                       len(layout.right.colours) - 1)],
                       layout.left.colours[np.minimum(idx, len(layout.left.colours) - 1)])
    height_above = hgt - y[wall]
    row = np.floor(height_above / 0.25)
    brick = np.floor((z[wall] + 0.2 * (row % 2)) / 0.5)
    mortar = ((height_above % 0.25) < 0.03) | (((z[wall] + 0.2 * (row % 2)) % 0.5) < 0.03)
    window = (((height_above - 1.0) % 3.0) < 1.4) & ((z[wall] % 4.0) < 1.8) & (height_above > 1)
    col = colours * (0.85 + 0.25 * _hash01(brick, row, seed + 3))[:, None]
    col[mortar] *= 0.6
    col[window] = np.asarray((0.15, 0.2, 0.28)) + 0.1 * _hash01(
        np.floor(z[wall][window] / 4.0), np.floor((height_above[window] - 1.0) / 3.0),
        seed + 4)[:, None]
    rgb[wall] = col

    fac = labels == FACADE
    stripe = _hash01(np.floor(x[fac] / 1.5), np.floor((hgt - y[fac]) / 3.0), seed + 5)
    rgb[fac] = np.asarray(layout.facade_rgb) * (0.75 + 0.35 * stripe)[:, None]

    box = labels == BOX
    if np.any(box):
        box_rgb = np.asarray([b.rgb for b in layout.boxes])[index[box]]
        speck = _hash01(np.floor(x[box] * 6), np.floor(y[box] * 6 + z[box] * 6), seed + 6)
        rgb[box] = box_rgb * (0.9 + 0.2 * speck)[:, None]

    # Lambertian shading by surface normal, then distance haze.
    light = np.asarray(layout.light_dir) / np.linalg.norm(layout.light_dir)
    normals = np.array([[0, -1, 0], [1, 0, 0], [-1, 0, 0], [0, 0, -1]], dtype=np.float64)
    lambert = 0.45 + 0.55 * np.clip(normals @ light, 0.0, 1.0)
    solid = labels != SKY
    rgb[solid] *= lambert[normal[solid]][:, None]
    haze = 1.0 - np.exp(-t[solid] / layout.haze_m)
    rgb[solid] = rgb[solid] * (1 - haze)[:, None] + np.asarray(
        layout.sky_horizon_rgb) * haze[:, None]

    sky = ~solid
    elevation = np.clip(-dy[sky] * 3.0, 0.0, 1.0)[:, None]
    rgb[sky] = (np.asarray(layout.sky_horizon_rgb) * (1 - elevation)
                + np.asarray(layout.sky_top_rgb) * elevation)
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)
