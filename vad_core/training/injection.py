"""Inject a synthetic anomaly into a normal clip, with the injected range as ground truth.

cfg = InjectionConfig("moving_object", start=60, end=100, seed=0)
frames, labels = inject(gray_frames, cfg)          # uint8 (N, H, W) -> same shape, int8 0/1 per frame
labels = inject_file("Train001.mp4", "injected.mp4", cfg)   # also writes injected.labels.json

The range is half-open, as a Python slice: frames start .. end-1 (0-based) are injected and labelled 1.
Kinds: spatial "moving_object" (a textured blob crossing the walkway faster than a pedestrian) and
"static_intruder" (the same blob standing still); temporal "freeze" (frame start held), "reverse"
(the range played backward), "speedup" (every factor-th frame; the clip then continues from where the
fast playback got to, bouncing back at the clip's end so that its length is kept) and "brightness"
(a sudden shift of the gray level); camera faults "cover" (a dark or washed-out patch over most of the frame,
or a black frame) and "shift" (the camera pans and turns by a few degrees and stays there for the range).
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

SPATIAL_KINDS = ("moving_object", "static_intruder")
TEMPORAL_KINDS = ("freeze", "reverse", "speedup", "brightness")
CAMERA_KINDS = ("cover", "shift")  # camera faults: vad_core.scoring.health finds them, not the anomaly score
KINDS = SPATIAL_KINDS + TEMPORAL_KINDS + CAMERA_KINDS
# What choosing between detectors injects (vad_core.training.detector_choice): an object moving as no pedestrian
# does, which flow sees, and one standing where nothing stands, which only appearance sees
DETECTOR_PROXY_KINDS = ("moving_object", "static_intruder")
MAX_FRAMES = 20_000  # a whole clip is held in memory at its own resolution


@dataclass(frozen=True)
class InjectionConfig:
    """What to inject where. Frames start .. end-1 (0-based, half-open) are injected and labelled 1.

    size: the object's height in pixels (default: a sixth of the frame height; its width is 1.4x).
    speed: the moving object's speed in pixels per frame (default: width / 40, about 9 px at 360 px,
        some three times a Ped2 pedestrian's pace); it bounces off the frame's sides.
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


def _spatial(frames: np.ndarray, cfg: InjectionConfig, rng: np.random.Generator) -> np.ndarray:
    _, height, width = frames.shape
    h = min(cfg.size or max(8, height // 6), height)
    w = min(round(h * 1.4), width)
    bright = rng.random() < 0.5 if cfg.polarity == "random" else cfg.polarity == "bright"
    texture, alpha = _object(rng, h, w, bright)
    low, high = int(0.4 * height), int(0.9 * height) - h  # the lower part of the frame: a walkway in Ped2
    top = int(rng.integers(low, max(low + 1, high + 1)))
    top = min(top, height - h)
    length = cfg.end - cfg.start
    if cfg.kind == "static_intruder":
        lefts = np.full(length, rng.uniform(0, width - w))
    else:
        speed = cfg.speed or width / 40
        direction = 1 if rng.random() < 0.5 else -1
        lefts = _bounce(rng.uniform(0, width - w) + direction * speed * np.arange(length), 0, width - w)
        tops = top + np.round(0.04 * h * np.sin(np.arange(length) * 0.9))  # a slight bob, as of a rider
    out = frames.copy()
    for i, t in enumerate(range(cfg.start, cfg.end)):
        y = top if cfg.kind == "static_intruder" else int(np.clip(tops[i], 0, height - h))
        out[t] = _paste(frames[t], texture, alpha, y, int(np.round(lefts[i])))
    return out


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
