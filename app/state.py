"""Where the dashboard keeps things: the model once per process, analyses once per (video content, model).

    model = load_model(str(checkpoint_stem()))
    clip = open_clip(source, model, progress=lambda done, total: ...)   # cached: sliders never recompute
    labels = sample_labels_for(clip)                                     # known for the bundled samples

Analyses live in a small process-wide store keyed by the SHA-256 of the video bytes and a fingerprint of
the model card, so a second user opening the same sample, or a slider moved, costs nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

from app.components.player import media_bytes, media_exists, publish_media, withdraw_media
from app.work_queue import session_alive
from vad_core import DEFAULT_CHECKPOINT, Analysis, Detector, analyze, load_checkpoint
from vad_core.io.limits import AnalysisLimits, FrameSelection
from vad_core.io.paths import ASSETS
from vad_core.io.sandbox import SandboxedDecoder, SandboxLimits
from vad_core.io.tempdirs import owned_prefix
from vad_core.pipeline.render import PreviewFrames
from vad_core.training.evaluation import load_labels

SAMPLES = ASSETS / "samples"
VIDEO_TYPES = ("mp4", "avi", "mov", "mkv", "webm")
UNSAFE_NAME_CHARS = re.compile(r"[^\w .()+-]")  # "%" too: FFmpeg reads "%d" in a file name as a pattern


def app_limits() -> AnalysisLimits:
    """What one analysis in the app may cost, counted as frames arrive: VAD_MAX_FRAMES frames (3000),
    VAD_MAX_SECONDS seconds (600), VAD_MAX_FRAME_PIXELS pixels a frame (4K) and VAD_MAX_GIGAPIXELS in all (2)."""
    env = os.environ
    return AnalysisLimits(
        max_frames=int(env.get("VAD_MAX_FRAMES") or 3000),
        max_seconds=float(env.get("VAD_MAX_SECONDS") or 600),
        max_pixels=int(env.get("VAD_MAX_FRAME_PIXELS") or 3840 * 2160),
        max_total_pixels=round(float(env.get("VAD_MAX_GIGAPIXELS") or 2) * 1e9),
    )


def app_decoder() -> SandboxedDecoder:
    """Uploads and samples alike are decoded in a child process (vad_core.io.sandbox): a crash or a hang in
    FFmpeg costs one sentence. Its memory cap and stall deadline: VAD_DECODE_MEMORY_MB, VAD_DECODE_STALL_SECONDS."""
    return SandboxedDecoder(SandboxLimits.from_env())


def upload_root() -> str | None:
    """Where uploads are written while they are analyzed: VAD_UPLOAD_DIR, else the system temp folder."""
    return os.environ.get("VAD_UPLOAD_DIR") or None


def safe_upload_name(name: str) -> str:
    """The last component of an uploaded file name, with only harmless characters: never a path elsewhere."""
    base = re.split(r"[\\/]", name)[-1]
    base = UNSAFE_NAME_CHARS.sub("_", base).strip(" .")
    return base[-120:] or "upload.mp4"


def checkpoint_stem() -> Path:
    """The model the app uses: VAD_CHECKPOINT if set (tests, your own scene), else the bundled default (Ped2's
    fused model)."""
    return Path(os.environ.get("VAD_CHECKPOINT") or DEFAULT_CHECKPOINT)


@st.cache_resource(show_spinner="Loading the model…")
def load_model(stem: str) -> Detector:
    """One model per process, on the GPU when there is one."""
    return load_checkpoint(stem)


def model_fingerprint(model: Detector) -> str:
    """Changes whenever the weights' card (training run, calibration, scoring) or the model's zones change."""
    described = json.dumps(model.card.to_dict(), sort_keys=True)
    if model.zones:  # models without zones keep the fingerprint they had before zones existed
        described += json.dumps(model.zones.to_dict())
    return hashlib.sha256(described.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ClipSource:
    """A video to analyze: a bundled sample (path) or an upload (bytes), with its content digest."""

    name: str
    digest: str
    path: Path | None = None
    data: bytes | None = None

    @classmethod
    def sample(cls, path: Path) -> ClipSource:
        return cls(path.name, _file_digest(str(path)), path=path)

    @classmethod
    def upload(cls, name: str, data: bytes) -> ClipSource:
        return cls(safe_upload_name(name), hashlib.sha256(data).hexdigest(), data=data)

    @contextmanager
    def as_file(self) -> Iterator[Path]:
        """A path to read: the sample itself, or the upload (under its sanitized name) in a private folder that
        is removed afterwards, also when the analysis fails or the script run is stopped."""
        if self.path is not None:
            yield self.path
            return
        with tempfile.TemporaryDirectory(prefix=owned_prefix("vad-upload-"), dir=upload_root()) as folder:
            path = Path(folder) / self.name
            path.write_bytes(self.data or b"")
            yield path


@dataclass(frozen=True)
class Clip:
    """One analyzed video: the Analysis, the preview frames the player and exports show, the player media."""

    key: str
    name: str
    digest: str
    analysis: Analysis
    frames: np.ndarray
    media: str
    selection: FrameSelection


class ClipStore:
    """A thread-safe store of analyzed clips under a byte budget, least recently used out first.

    A clip's bytes are its arrays (maps, inputs, reconstructions, latent, preview frames; spilled ones too) and
    its player media on disk. A clip that a live session shows is pinned (pin(session, key) on every rerun)
    and never evicted: its media stays while the player may still fetch it. An evicted clip's media is deleted.
    """

    def __init__(
        self,
        budget_bytes: int = 1024 << 20,
        pin_grace_s: float = 600.0,
        alive: Callable[[str], bool | None] = session_alive,
    ) -> None:
        """alive(session): whether a session is connected (None: the server cannot tell, as in a bare run); a pin
        of a disconnected session is dropped, one whose session nobody can tell about after pin_grace_s."""
        self._items: OrderedDict[str, Clip] = OrderedDict()
        self._bytes: dict[str, int] = {}
        self._pins: dict[str, tuple[str, float]] = {}  # session -> (clip key, when it was last pinned)
        self._recipes: dict[Hashable, str] = {}
        self._lock = threading.Lock()
        self._opening: dict[str, threading.Lock] = {}
        self.budget_bytes = budget_bytes
        self._grace = pin_grace_s
        self._alive = alive

    def opening(self, key: str) -> threading.Lock:
        """The lock that sessions opening the same clip share, so that one analyzes it and the others wait."""
        with self._lock:
            return self._opening.setdefault(key, threading.Lock())

    def get(self, key: str) -> Clip | None:
        """The stored clip, or None; a clip whose player media has vanished is dropped, to be analyzed again."""
        with self._lock:
            clip = self._items.get(key)
            if clip is not None and not media_exists(clip.media):
                self._drop(key)
                return None
            if clip is not None:
                self._items.move_to_end(key)
            return clip

    def put(self, clip: Clip) -> None:
        """Store a clip (it counts as the most recent, so it is kept even past the budget) and trim the rest."""
        size = self.clip_bytes(clip)
        with self._lock:
            self._items[clip.key] = clip
            self._items.move_to_end(clip.key)
            self._bytes[clip.key] = size
            self._trim()

    def remember(self, recipe: Hashable, key: str) -> None:
        """Note that what recipe describes (a source, model and selection) was stored under key."""
        with self._lock:
            if key in self._items:
                self._recipes[recipe] = key

    def known(self, recipe: Hashable, session: str | None = None) -> Clip | None:
        """The stored clip of a recipe, pinned for session at once when given (so it stays to be opened)."""
        with self._lock:
            key = self._recipes.get(recipe)
            clip = self._items.get(key) if key is not None else None
            if clip is not None and not media_exists(clip.media):
                self._drop(key)
                return None
            if clip is not None:
                self._items.move_to_end(key)
                if session is not None:
                    self._pins[session] = (key, time.monotonic())
            return clip

    def pin(self, session: str | None, key: str) -> None:
        """The clip session shows now (its previous one is unpinned); sessions that are gone lose their pins."""
        with self._lock:
            if session is not None and key in self._items:
                self._pins[session] = (key, time.monotonic())
            self._trim()

    def unpin(self, session: str) -> None:
        with self._lock:
            self._pins.pop(session, None)
            self._trim()

    def pinned(self) -> set[str]:
        """Keys that live sessions show."""
        with self._lock:
            return self._live_pins()

    def size_bytes(self) -> int:
        with self._lock:
            return sum(self._bytes.values())

    def _live_pins(self) -> set[str]:
        now = time.monotonic()
        for session, (_key, seen) in list(self._pins.items()):
            alive = self._alive(session)
            if alive is False or (alive is None and now - seen > self._grace):
                del self._pins[session]
        return {key for key, _seen in self._pins.values()}

    def _trim(self) -> None:
        """Evict least recently used, unpinned clips (never the newest) while past the budget."""
        total = sum(self._bytes.values())
        if total <= self.budget_bytes:
            return
        keep = self._live_pins() | {next(reversed(self._items))}
        for key in [k for k in self._items if k not in keep]:
            if total <= self.budget_bytes:
                break
            total -= self._bytes.get(key, 0)
            self._drop(key)

    def _drop(self, key: str) -> None:
        evicted = self._items.pop(key)
        self._bytes.pop(key, None)
        self._opening.pop(key, None)
        self._recipes = {r: k for r, k in self._recipes.items() if k != key}
        withdraw_media(evicted.media)

    @staticmethod
    def clip_bytes(clip: Clip) -> int:
        """The bytes a clip holds: every array of its Analysis and its preview frames, and its media file."""

        def nbytes(value: object) -> int:
            if isinstance(value, np.ndarray):
                return value.nbytes
            if isinstance(value, dict):
                return sum(nbytes(v) for v in value.values())
            if dataclasses.is_dataclass(value) and not isinstance(value, type):
                return sum(nbytes(getattr(value, f.name)) for f in dataclasses.fields(value))
            return 0

        return nbytes(clip.analysis) + nbytes(clip.frames) + media_bytes(clip.media)


@st.cache_resource
def clip_store() -> ClipStore:
    """The process's clip store: VAD_CLIP_CACHE_MB (1024) of analyses and player media."""
    return ClipStore(int(float(os.environ.get("VAD_CLIP_CACHE_MB") or 1024) * (1 << 20)))


@st.cache_data(show_spinner=False)
def _file_digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def sample_paths() -> list[Path]:
    return sorted((SAMPLES / "test").glob("*.mp4"))


def open_clip(
    source: ClipSource,
    model: Detector,
    progress: Callable[[int, int], None],
    on_prepare: Callable[[], None],
    selection: FrameSelection | None = None,
    limits: AnalysisLimits | None = None,
) -> Clip:
    """The cached clip, or analyze it now (progress per frame, then on_prepare while the player media is built).

    limits default to app_limits(); a clip over them raises vad_core.io.limits.OverLimit, and a selection
    (a sub-range, every k-th frame) makes it fit.
    """
    selection = selection or FrameSelection()
    limits = limits or app_limits()
    part = "" if selection.is_all else f"-{selection.start}-{selection.end}-{selection.step}"
    # The name is part of the key: a clip shows the name it was opened under, never another upload's.
    named = hashlib.sha256(source.name.encode()).hexdigest()[:8]
    key = f"{source.digest[:32]}-{model_fingerprint(model)}{part}-{limits.max_frames}-{named}"
    store = clip_store()
    with store.opening(key):  # several sessions opening the same clip at once: one analysis, the rest wait
        clip = store.get(key)
        if clip is None:
            preview = PreviewFrames()
            try:
                with source.as_file() as path:
                    analysis = analyze(
                        path,
                        model,
                        progress=progress,
                        name=source.name,
                        selection=selection,
                        limits=limits,
                        decoder=app_decoder(),
                        on_frame=preview,
                    )
                on_prepare()
                frames = preview.finish()
            finally:
                preview.close()
            media = publish_media(key, analysis, frames)
            clip = Clip(key, source.name, source.digest, analysis, frames, media, selection)
            store.put(clip)
    return clip


def store_analysis(
    name: str, analysis: Analysis, frames: np.ndarray | None, digest: str | None = None, key: str | None = None
) -> Clip:
    """An analysis made elsewhere (a batch result, a live run's recorded part) as a stored clip with its player
    media; nothing is rerun. frames: the player's, one per analyzed frame; None or another count: the model's own
    inputs (small, but the scores and maps are all there). digest: the video's content hash, and key: the store's
    key; by default fresh ones, so that each recording is its own clip."""
    if frames is None or len(frames) != analysis.frame_count:
        frames = np.asarray(analysis.inputs)
    digest = digest or hashlib.sha256(os.urandom(32)).hexdigest()
    key = key or digest[:32]
    media = publish_media(key, analysis, frames)
    clip = Clip(key, name, digest, analysis, frames, media, analysis.selection)
    clip_store().put(clip)
    return clip


@st.cache_data(show_spinner=False)
def _sample_labels() -> dict[str, np.ndarray]:
    return load_labels(SAMPLES)


def sample_labels_for(clip: Clip) -> tuple[str, np.ndarray] | None:
    """(sample name, frame labels) when the clip's bytes are a bundled sample's, whatever its file name."""
    for path in sample_paths():
        if _file_digest(str(path)) == clip.digest and path.stem in _sample_labels():
            return path.stem, clip.analysis.at_rows(_sample_labels()[path.stem])  # the analyzed part's labels
    return None
