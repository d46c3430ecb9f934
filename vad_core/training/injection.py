"""Inject a synthetic anomaly into a normal clip, with the injected range as ground truth.

cfg = InjectionConfig("moving_object", start=60, end=100, seed=0)
frames, labels = inject(gray_frames, cfg)          # uint8 (N, H, W) -> same shape, int8 0/1 per frame
labels = inject_file("Train001.mp4", "injected.mp4", cfg)   # also writes injected.labels.json

The range is half-open, as a Python slice: frames start .. end-1 (0-based) are injected and labelled 1.
Kinds: spatial "moving_object" (a textured blob crossing the walkway some nine times a Ped2 pedestrian's pace) and
"static_intruder" (the same blob standing still); person-like (upright, pedestrian-sized at its row, see
pedestrian_height) "walker" (twice a pedestrian's pace, as Ped2's cyclists and skaters), "loiterer" (staying in a small
area, drifting slowly back and forth) and "wrong_way" (a pedestrian's pace, against the clip's dominant direction of
motion, see dominant_direction); temporal "freeze" (frame start held), "reverse"
(the range played backward), "speedup" (every factor-th frame; the clip then continues from where the
fast playback got to, bouncing back at the clip's end so that its length is kept) and "brightness"
(a sudden shift of the gray level); camera faults "cover" (a dark or washed-out patch over most of the frame,
or a black frame) and "shift" (the camera pans and turns by a few degrees and stays there for the range).
Paces are fractions of the frame width per frame, from Ped2 (360 px wide, 10 fps): its pedestrians move 0.7-1.0 px
a frame (DIS optical flow on their pixels, their blobs tracked), its cyclists and skaters 2-3 (the test masks tracked).
The same config and seed always give the same frames.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from vad_core.errors import BadInput
from vad_core.io.limits import AnalysisLimits, OverLimit, limited
from vad_core.io.video import IN_PROCESS, Decoder, write_h264

PERSON_KINDS = ("walker", "loiterer", "wrong_way")  # upright, pedestrian-sized: motion finds them weakly or not at all
SPATIAL_KINDS = ("moving_object", "static_intruder", *PERSON_KINDS)
TEMPORAL_KINDS = ("freeze", "reverse", "speedup", "brightness")
CAMERA_KINDS = ("cover", "shift")  # camera faults: vad_core.scoring.health finds them, not the anomaly score
KINDS = SPATIAL_KINDS + TEMPORAL_KINDS + CAMERA_KINDS
MAX_FRAMES = 20_000  # a whole clip is held in memory at its own resolution
# What choosing between detectors and fusion rules injects (vad_core.training.detector_choice): motion- and
# appearance-found kinds in equal measure (a motion detector's own settings are chosen on walkers: motion_fit).
DETECTOR_PROXY_KINDS = ("walker", "static_intruder", "loiterer", "wrong_way")

PEDESTRIAN_PACE = 1 / 360  # of the width a frame: 1 px at Ped2's 360 px, where pedestrians move 0.7-1.0 px a frame
WALKER_PACE = 2 * PEDESTRIAN_PACE  # 2 px a frame at 360 px: Ped2's cyclists and skaters move 2-3
LOITER_PACE = PEDESTRIAN_PACE / 4  # 0.25 px a frame at 360 px
LOITER_AREA = 1 / 40  # of the width: the loiterer's centre stays within 9 px at 360 px
PERSON_BASE, PERSON_GROWTH = 0.05, 0.14  # pedestrian_height: fractions of the frame height and of the feet's row
PERSON_ASPECT = 0.4  # a person's width / height
MOVING_SPEED = PEDESTRIAN_PACE / 2  # dominant_direction counts pixels moving faster than this: 0.5 px a frame at 360 px


@dataclass(frozen=True)
class InjectionConfig:
    """What to inject where. Frames start .. end-1 (0-based, half-open) are injected and labelled 1.

    size: the object's height in pixels (default: a sixth of the frame height, its width 1.4x; for the person
        kinds pedestrian_height at the row of its feet, its width PERSON_ASPECT x).
    speed: the object's speed in pixels per frame. moving_object: default width / 40, 9 px at 360 px, some nine times
        a Ped2 pedestrian's pace; it bounces off the frame's sides. walker: width * WALKER_PACE (2 px at 360 px);
        wrong_way: width * PEDESTRIAN_PACE (1 px); loiterer: its drift, width * LOITER_PACE (0.25 px).
    factor: speed-up factor (every factor-th frame is shown in the range).
    delta: brightness shift in gray levels (clipped to 0-255).
    polarity: "bright", "dark" or "random" (chosen by the seed) for the object's tone.
    """

    kind: str
    start: int
    end: int
    seed: int = 0
    size: int | None = None
    speed: float | None = None
    factor: int = 3
    delta: float = 60.0
    polarity: str = "random"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise BadInput(f"unknown injection kind {self.kind!r}; choose one of {', '.join(KINDS)}")
        if self.start < 0 or self.end <= self.start:
            raise BadInput(f"injection range {self.start}-{self.end} is empty; need 0 <= start < end (end exclusive)")
        if self.kind in ("freeze", "reverse") and self.end - self.start < 2:
            raise BadInput(f"{self.kind} needs a range of at least 2 frames")
        if self.size is not None and self.size < 4:
            raise BadInput(f"object size {self.size} px is too small; use at least 4")
        if self.speed is not None and not 0 < self.speed <= 1000:
            raise BadInput(f"object speed {self.speed} px/frame must be in (0, 1000]")
        if not 2 <= self.factor <= 16:
            raise BadInput(f"speed-up factor {self.factor} must be between 2 and 16")
        if not (-255 <= self.delta <= 255 and self.delta != 0):
            raise BadInput(f"brightness delta {self.delta} must be non-zero, within -255..255")
        if self.polarity not in ("bright", "dark", "random"):
            raise BadInput(f"polarity {self.polarity!r} must be bright, dark or random")

    def to_dict(self) -> dict:
        return asdict(self)


def labels_for(n: int, cfg: InjectionConfig) -> np.ndarray:
    """int8 0/1 per frame: 1 inside the injected range."""
    labels = np.zeros(n, dtype=np.int8)
    labels[cfg.start : cfg.end] = 1
    return labels


def speedup_indices(n: int, start: int, end: int, factor: int) -> np.ndarray:
    """Source frame of each output frame: normal before start, factor x inside, normal after.

    The playback position runs past the clip's last frame when the range is long; it then bounces back
    (plays backward), so no frame is held and no cut appears. Such backward frames after the range are
    not labelled: choose a range that ends early enough if that matters.
    """
    t = np.arange(n)
    v = np.where(t < start, t, start + (t - start) * factor)
    v = np.where(t >= end, start + (end - start) * factor + (t - end), v)
    if n == 1:
        return np.zeros(n, dtype=np.int64)
    period = 2 * (n - 1)
    v = v % period
    return np.where(v > n - 1, period - v, v).astype(np.int64)


def _object(rng: np.random.Generator, height: int, width: int, bright: bool) -> tuple[np.ndarray, np.ndarray]:
    """A textured blob: gray levels (h, w) and a feathered alpha mask (h, w) in [0, 1]."""
    import cv2  # here, so that the CLI's parser can read KINDS without loading OpenCV

    base = rng.uniform(200, 235) if bright else rng.uniform(20, 55)
    noise = cv2.GaussianBlur(rng.normal(0, 1, (height, width)).astype(np.float32), (0, 0), max(1.0, height / 12))
    noise /= noise.std() + 1e-6
    stripes = np.sin(np.linspace(0, rng.uniform(3, 6) * np.pi, width, dtype=np.float32))[None, :]
    texture = np.clip(base + 18 * noise + 15 * stripes * (-1 if bright else 1), 0, 255)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    ellipse = ((yy - (height - 1) / 2) / (height / 2)) ** 2 + ((xx - (width - 1) / 2) / (width / 2)) ** 2
    alpha = (ellipse <= 1.0).astype(np.float32)
    alpha = cv2.GaussianBlur(alpha, (0, 0), max(0.8, height / 20))
    return texture.astype(np.float32), np.clip(alpha, 0, 1)


def _paste(frame: np.ndarray, texture: np.ndarray, alpha: np.ndarray, top: int, left: int) -> np.ndarray:
    h, w = alpha.shape
    region = frame[top : top + h, left : left + w].astype(np.float32)
    out = frame.copy()
    out[top : top + h, left : left + w] = np.clip(alpha * texture + (1 - alpha) * region + 0.5, 0, 255).astype(np.uint8)
    return out


def _bounce(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Positions reflected into [lo, hi], as a ball bouncing between two walls."""
    if hi <= lo:
        return np.full_like(x, lo)
    span = hi - lo
    y = np.mod(x - lo, 2 * span)
    return lo + np.where(y > span, 2 * span - y, y)


def pedestrian_height(row: np.ndarray | float, frame_height: int) -> np.ndarray | float:
    """A pedestrian's height in pixels with the feet at this row: 5 % of the frame height plus 14 % of the row
    (12 % of the frame height with the feet mid-frame, 19 % at the bottom).

    Measured by hand and by background subtraction: Ped2 (240 px high, a shallow view) 28-35 px with the feet at rows
    120-175, where the rule gives 29-36; Ped1 (158 px, strong perspective) 11-30 px at rows 50-135, the rule 15-27.
    """
    return PERSON_BASE * frame_height + PERSON_GROWTH * np.asarray(row, dtype=np.float64)


def dominant_direction(frames: np.ndarray, start: int = 0, end: int = 0, pairs: int = 8) -> np.ndarray | None:
    """The clip's dominant direction of motion, a unit vector (dx, dy) in image axes (y down), from its frames
    outside start .. end-1; None when nothing moves there.

    DIS optical flow (OpenCV's fast preset) on up to `pairs` pairs of consecutive frames spread over the clip.
    The flow vectors of pixels moving faster than MOVING_SPEED (half a pedestrian's pace) give the axis, their
    principal one, and its sense, the way their mean points along it: people walk both ways along a walkway, and the
    plain mean of a two-way crowd can point off it. Rounded to a whole degree, so that a last-bit difference in the
    flow (another OpenCV build or thread count) does not move an injected object. Fewer than 0.1 % of the pixels
    moving is nothing, and so is a frame under 32 px a side (DIS fails on some, or crashes the process).
    """
    import cv2

    frames = np.asarray(frames)
    n, height, width = frames.shape
    firsts = [t for t in range(n - 1) if t + 1 < start or t >= end]  # pairs (t, t + 1) wholly outside the range
    if not firsts or min(height, width) < 32:
        return None
    flow_of = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
    moving = []
    for i in np.unique(np.linspace(0, len(firsts) - 1, pairs).round().astype(int)):
        t = firsts[i]
        flow = flow_of.calc(frames[t], frames[t + 1], None)  # (H, W, 2): dx, dy
        moving.append(flow[np.hypot(flow[..., 0], flow[..., 1]) > MOVING_SPEED * width].astype(np.float64))  # (M, 2)
    vectors = np.concatenate(moving)
    if len(vectors) < 0.001 * len(moving) * height * width:
        return None
    axis = np.linalg.eigh(vectors.T @ vectors)[1][:, -1]  # the principal axis, either sense
    sense = 1.0 if vectors.mean(axis=0) @ axis >= 0 else -1.0
    angle = np.radians(np.round(np.degrees(np.arctan2(sense * axis[1], sense * axis[0]))))
    return np.array([np.cos(angle), np.sin(angle)])


def _spatial(frames: np.ndarray, cfg: InjectionConfig, rng: np.random.Generator) -> np.ndarray:
    """A textured object pasted into each frame of the range, along its kind's path (_blob_path, _person_path)."""
    import cv2

    _, height, width = frames.shape
    bright = rng.random() < 0.5 if cfg.polarity == "random" else cfg.polarity == "bright"
    if cfg.kind in PERSON_KINDS:  # made as tall as it gets (nearest, at the lowest feet row), scaled down farther up
        heights, widths = _person_sizes(cfg, (height, width), np.array([_feet_rows(cfg, height)[1]]))
        h, w, path = int(heights[0]), int(widths[0]), _person_path
    else:
        h = min(cfg.size or max(8, height // 6), height)
        w, path = min(round(h * 1.4), width), _blob_path
    texture, alpha = _object(rng, h, w, bright)
    boxes = path(frames, cfg, rng, h, w)  # (length, 4): top, left, height, width per frame of the range
    scaled = {(h, w): (texture, alpha)}
    out = frames.copy()
    for t, (top, left, bh, bw) in zip(range(cfg.start, cfg.end), boxes.tolist(), strict=True):
        if (bh, bw) not in scaled:
            scaled[bh, bw] = tuple(cv2.resize(a, (bw, bh), interpolation=cv2.INTER_AREA) for a in (texture, alpha))
        out[t] = _paste(frames[t], *scaled[bh, bw], top, left)
    return out


def _blob_path(frames: np.ndarray, cfg: InjectionConfig, rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """moving_object and static_intruder: a place in the lower part of the frame (a walkway in Ped2); the moving one
    crosses at cfg.speed, bouncing off the sides, with a slight bob as of a rider."""
    _, height, width = frames.shape
    low, high = int(0.4 * height), int(0.9 * height) - h
    top = int(rng.integers(low, max(low + 1, high + 1)))
    top = min(top, height - h)
    length = cfg.end - cfg.start
    if cfg.kind == "static_intruder":
        lefts, tops = np.full(length, rng.uniform(0, width - w)), np.full(length, top)
    else:
        speed = cfg.speed or width / 40
        direction = 1 if rng.random() < 0.5 else -1
        lefts = _bounce(rng.uniform(0, width - w) + direction * speed * np.arange(length), 0, width - w)
        tops = np.clip(top + np.round(0.04 * h * np.sin(np.arange(length) * 0.9)), 0, height - h)
    return np.stack([tops.astype(int), np.round(lefts).astype(int), np.full(length, h), np.full(length, w)], axis=1)


def _person_path(frames: np.ndarray, cfg: InjectionConfig, rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """walker, loiterer and wrong_way: an upright object standing on the rows _feet_rows allows, its height that of a
    pedestrian there (cfg.size, if given, fixes it).

    loiterer: its centre drifts back and forth at width * LOITER_PACE within width * LOITER_AREA, feet on one row.
    walker: width * WALKER_PACE along the clip's dominant axis (dominant_direction), either way by the seed; wrong_way:
    width * PEDESTRIAN_PACE against the dominant direction. Where nothing moves outside the range, both walk across
    the frame, the way chosen by the seed. One that would leave the walkway comes back in at its other side (a new
    person entering). cfg.speed replaces the pace.
    """
    _, height, width = frames.shape
    length = cfg.end - cfg.start
    low, high = _feet_rows(cfg, height)
    left_end, right_end = w / 2, width - w / 2  # where the centre of the widest (nearest) object fits
    sign = float(rng.choice([-1.0, 1.0]))
    if cfg.kind == "loiterer":
        speed, area = cfg.speed or width * LOITER_PACE, min(width * LOITER_AREA, right_end - left_end)
        first = rng.uniform(left_end, right_end - area)
        xs = _bounce(rng.uniform(first, first + area) + sign * speed * np.arange(length), first, first + area)
        feet = np.full(length, rng.uniform(low, high))
    else:
        speed = cfg.speed or width * (WALKER_PACE if cfg.kind == "walker" else PEDESTRIAN_PACE)
        axis = dominant_direction(frames, cfg.start, cfg.end)
        way = np.array([sign, 0.0]) if axis is None else axis * (sign if cfg.kind == "walker" else -1.0)
        xs = _walk(rng, left_end, right_end, speed * way[0], length)
        feet = _walk(rng, low, high, speed * way[1], length)
    heights, widths = _person_sizes(cfg, (height, width), feet)
    tops = np.clip(np.round(feet).astype(int) - heights, 0, height - heights)
    lefts = np.clip(np.round(xs - widths / 2).astype(int), 0, width - widths)
    return np.stack([tops, lefts, heights, widths], axis=1)


def _feet_rows(cfg: InjectionConfig, height: int) -> tuple[float, float]:
    """The rows a person's feet may stand on: the lower part of the frame, as _blob_path's, its top below 0.4 of the
    frame height and its feet above 0.9."""
    high = 0.9 * height
    low = 0.4 * height + cfg.size if cfg.size else (0.4 + PERSON_BASE) * height / (1 - PERSON_GROWTH)
    return min(low, high), high


def _person_sizes(cfg: InjectionConfig, shape: tuple[int, int], feet: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Heights and widths in pixels (int arrays) of a person with the feet at these rows: cfg.size high if given,
    else pedestrian_height (at least 8 px); PERSON_ASPECT as wide. Never larger than the frame (height, width)."""
    height, width = shape
    sizes = np.full(feet.shape, float(cfg.size)) if cfg.size else np.maximum(8.0, pedestrian_height(feet, height))
    heights = np.minimum(np.round(sizes).astype(int), height)
    return heights, np.clip(np.round(heights * PERSON_ASPECT).astype(int), 2, width)


def _walk(rng: np.random.Generator, low: float, high: float, step: float, length: int) -> np.ndarray:
    """Positions within [low, high] of a steady walk of step per frame: it starts where the whole walk fits if it
    can; a longer one leaves at one end and comes back in at the other."""
    room, travel = high - low, step * (length - 1)
    if room <= 0:
        return np.full(length, low)
    if abs(travel) <= room:
        return rng.uniform(low + max(0.0, -travel), high - max(0.0, travel)) + step * np.arange(length)
    return low + np.mod(rng.uniform(low, high) + step * np.arange(length) - low, room)


def _cover(frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A black frame, or a uniform dark or washed-out patch over 80-95 % of the frame from a random corner."""
    out = frames.copy()
    level = int(rng.choice([rng.integers(0, 30), rng.integers(225, 256)]))
    if rng.random() < 0.25:
        out[:] = 0
        return out
    height, width = frames.shape[1:]
    h, w = round(height * rng.uniform(0.9, 1.0)), round(width * rng.uniform(0.88, 0.97))
    top, left = (height - h) * int(rng.integers(0, 2)), (width - w) * int(rng.integers(0, 2))
    out[:, top : top + h, left : left + w] = level
    return out


def _shift(frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The camera turned: a pan of 4-8 % of the width and a rotation of 2-4 degrees, held for the range."""
    import cv2

    height, width = frames.shape[1:]
    angle = rng.uniform(2.0, 4.0) * rng.choice([-1, 1])
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    matrix[:, 2] += (rng.uniform(0.04, 0.08) * width * rng.choice([-1, 1]), rng.uniform(-0.03, 0.03) * height)
    warp = [cv2.warpAffine(f, matrix, (width, height), borderMode=cv2.BORDER_REFLECT_101) for f in frames]
    return np.stack(warp)


def inject(frames: np.ndarray, cfg: InjectionConfig) -> tuple[np.ndarray, np.ndarray]:
    """Inject cfg's anomaly into uint8 grayscale frames (N, H, W); returns (new frames, int8 labels (N,)).

    The input is not modified. Frames outside the range are unchanged, except after a speed-up (the
    clip continues from where the fast playback got to) and at the seam after freeze/reverse (the clip
    resumes at its own frame end, so the first frame after the range jumps).
    """
    frames = np.asarray(frames)
    if frames.ndim != 3 or frames.dtype != np.uint8:
        raise BadInput(f"inject takes uint8 grayscale frames (N, H, W), got {frames.dtype} {frames.shape}")
    n = len(frames)
    if cfg.end > n:
        raise BadInput(f"injection range {cfg.start}-{cfg.end} (end exclusive) is past the clip's {n} frames")
    rng = np.random.default_rng(cfg.seed)
    if cfg.kind in SPATIAL_KINDS:
        out = _spatial(frames, cfg, rng)
    elif cfg.kind == "freeze":
        out = frames.copy()
        out[cfg.start : cfg.end] = frames[cfg.start]
    elif cfg.kind == "reverse":
        out = frames.copy()
        out[cfg.start : cfg.end] = frames[cfg.start : cfg.end][::-1]
    elif cfg.kind == "speedup":
        out = frames[speedup_indices(n, cfg.start, cfg.end, cfg.factor)]
    elif cfg.kind in CAMERA_KINDS:
        out = frames.copy()
        fault = _cover if cfg.kind == "cover" else _shift
        out[cfg.start : cfg.end] = fault(frames[cfg.start : cfg.end], rng)
    else:  # brightness
        out = frames.copy()
        shifted = frames[cfg.start : cfg.end].astype(np.float32) + cfg.delta
        out[cfg.start : cfg.end] = np.clip(np.round(shifted), 0, 255).astype(np.uint8)
    return out, labels_for(n, cfg)


def read_gray_clip(
    video: str | Path, limits: AnalysisLimits | None = None, decoder: Decoder = IN_PROCESS
) -> np.ndarray:
    """A whole clip as uint8 (N, H, W) at its own resolution; limits (default: MAX_FRAMES frames) are counted
    as the frames arrive, since a whole clip is held in memory."""
    return _decode(video, limits, decoder)[0]


def _decode(video: str | Path, limits: AnalysisLimits | None, decoder: Decoder) -> tuple[np.ndarray, float]:
    """(frames, fps) of a whole clip; see read_gray_clip."""
    name = Path(video).name
    limits = limits or AnalysisLimits(max_frames=MAX_FRAMES)
    with decoder.open(Path(video)) as opened:
        try:
            frames = list(limited(opened.frames, limits, name))
        except OverLimit:
            raise BadInput(f"{name}: longer than {limits.max_frames} frames; cut it before injecting") from None
        fps = opened.info.fps
    if not frames:
        raise BadInput(f"{name}: no frames could be decoded")
    if len({f.shape for f in frames}) > 1:
        raise BadInput(f"{name}: frames differ in size")
    return np.stack(frames), fps


def labels_path(out_mp4: str | Path) -> Path:
    """Where inject_file writes the labels: injected.mp4 -> injected.labels.json."""
    out = Path(out_mp4)
    return out.with_name(out.stem + ".labels.json")


def inject_file(
    video: str | Path,
    out_mp4: str | Path,
    cfg: InjectionConfig,
    limits: AnalysisLimits | None = None,
    decoder: Decoder = IN_PROCESS,
) -> np.ndarray:
    """Inject into a clip, write it as browser-playable H.264 and its labels as JSON; returns the labels.

    The labels file holds {"labels": [...]} (readable by vad_core.io.labels.parse_labels), the 1-based
    inclusive interval as in the dataset's labels.json, and the config.
    """
    clip, fps = _decode(video, limits, decoder)
    frames, labels = inject(clip, cfg)
    out = Path(out_mp4)
    if out.suffix.lower() != ".mp4":
        raise BadInput(f"{out.name}: the injected clip is written as .mp4")
    if not out.parent.is_dir():
        raise BadInput(f"{out.parent}: output folder not found")
    write_h264(out, (np.repeat(f[:, :, None], 3, axis=2) for f in frames), fps)
    doc = {
        "source": Path(video).name,
        "num_frames": len(labels),
        "fps": fps,
        "range_convention": "start..end-1, 0-based (end exclusive)",
        "anomalous_intervals": [[cfg.start + 1, cfg.end]],  # 1-based inclusive, as the dataset's labels.json
        "injection": cfg.to_dict(),
        "labels": labels.tolist(),
    }
    labels_path(out).write_text(json.dumps(doc))
    return labels
