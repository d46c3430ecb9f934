"""The anomaly injection page: put a known anomaly into a normal clip, analyze it, and see whether the model finds it.

    st.navigation([..., st.Page(inject.render, title="Inject an anomaly", url_path="inject")]).run()

The injected range is the ground truth: the plot shows it as a band and the page reports the clip's frame AUC.
The frames come from vad_core.training.injection (the same code as `python -m vad_core inject`); the rest is the
analysis page's view of a clip.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import streamlit as st

from app.state import SAMPLES, VIDEO_TYPES, ClipSource, app_decoder, app_limits
from app.views.clip_open import compared_analysis, open_with_progress, sidebar_models
from app.views.clip_view import show_clip
from vad_core import BadInput
from vad_core.io.limits import AnalysisLimits, OverLimit
from vad_core.io.tempdirs import owned_prefix
from vad_core.io.video import count_frames
from vad_core.training.injection import KINDS, InjectionConfig, inject_file

INTRO = (
    "Take a clip with nothing abnormal in it, inject an anomaly of a kind you choose over the frames you choose, "
    "and watch the score react. The injected frames are the ground truth: the orange band on the plot, and the "
    "frame AUC says how well c(t) separates them from the rest."
)
KIND_TEXT = {
    "moving_object": "Moving object: a textured blob crossing the scene fast",
    "static_intruder": "Static intruder: the same blob, standing still",
    "walker": "Walker: a person-sized object at twice a pedestrian's pace, as a cyclist",
    "loiterer": "Loiterer: a person-sized object staying in one place, drifting slowly",
    "wrong_way": "Wrong way: a person-sized object at a pedestrian's pace, against the crowd",
    "freeze": "Frozen frames: the first frame of the range held",
    "reverse": "Reversed playback",
    "speedup": "Speed-up: every k-th frame",
    "brightness": "Sudden brightness change",
    "cover": "Camera fault: lens covered (a dark or washed-out patch, or a black frame)",
    "shift": "Camera fault: the camera turned a few degrees and stayed there",
}
STATE_KEY = "injected"
MAX_FRAMES = 1000  # a whole clip is held in memory at its own resolution while it is injected
MAX_PIXELS = 100_000_000  # frames x width x height: 100 MB of gray frames
COUNTS_KEY = "inject_frame_counts"


@dataclass(frozen=True)
class Injected:
    """An injected clip as H.264 bytes, its labels (1 inside the range) and what made it."""

    name: str
    data: bytes
    labels: np.ndarray
    config: InjectionConfig
    source_digest: str


def _normal_source() -> ClipSource:
    st.sidebar.subheader("Normal clip")
    paths = sorted((SAMPLES / "train").glob("*.mp4"))
    sample = st.sidebar.selectbox("Sample clip (UCSD Ped2 training)", [p.name for p in paths], key="inject_sample")
    upload = st.sidebar.file_uploader(
        "…or upload a normal clip", type=list(VIDEO_TYPES), key="inject_upload",
        help="Footage without anomalies, of the scene the chosen model was trained on.",
    )  # fmt: skip
    if upload is not None:
        return ClipSource.upload(upload.name, upload.getvalue())
    return ClipSource.sample(next(p for p in paths if p.name == sample))


def _limits() -> AnalysisLimits:
    """The app's limits, tightened: the whole clip is held in memory while it is injected."""
    return replace(app_limits(), max_frames=MAX_FRAMES, max_total_pixels=MAX_PIXELS)


def _frame_count(source: ClipSource) -> int:
    """Frames of the clip, counted by decoding it in the decoder child (once per clip and session)."""
    counts = st.session_state.setdefault(COUNTS_KEY, {})
    if source.digest not in counts:
        with source.as_file() as path:
            try:
                counts[source.digest] = count_frames(path, _limits(), app_decoder())
            except OverLimit:
                raise BadInput(f"{source.name}: injection takes clips of up to {MAX_FRAMES} frames") from None
    return counts[source.digest]


def _config(frame_count: int) -> InjectionConfig:
    """The kind, range and seed (and the kind's own setting) from the page's inputs."""
    left, right = st.columns([2, 3], gap="large")
    kind = left.selectbox("Anomaly", KINDS, format_func=KIND_TEXT.get, key="inject_kind")
    seed = left.number_input("Seed", 0, 2**31 - 1, 0, key="inject_seed", help="The same seed gives the same clip.")
    default = (frame_count * 2 // 5, frame_count * 3 // 5)
    start, end = right.slider(
        "Injected frames", 0, frame_count, default, key="inject_range", help="From the first up to, not including,"
        " the second: like a Python slice, and like `vad_core inject --start --end`.",
    )  # fmt: skip
    options = {}
    if kind == "speedup":
        options["factor"] = right.slider("Speed-up factor", 2, 8, 3, key="inject_factor")
    elif kind == "brightness":
        options["delta"] = right.slider("Brightness change (gray levels)", -120, 120, 60, 10, key="inject_delta")
    return InjectionConfig(kind, int(start), int(end), seed=int(seed), **options)


def _inject(source: ClipSource, cfg: InjectionConfig) -> Injected:
    """Write the injected clip as H.264 in a private folder and keep its bytes; the folder is removed."""
    name = f"{Path(source.name).stem}-{cfg.kind}-{cfg.start}-{cfg.end}-seed{cfg.seed}.mp4"
    with source.as_file() as path, tempfile.TemporaryDirectory(prefix=owned_prefix("vad-inject-")) as folder:
        out = Path(folder) / name
        labels = inject_file(path, out, cfg, _limits(), app_decoder())
        return Injected(name, out.read_bytes(), labels, cfg, source.digest)


def render() -> None:
    st.title("Inject an anomaly", anchor=False)
    st.caption(INTRO)
    model, compare = sidebar_models()
    source = _normal_source()
    try:
        cfg = _config(_frame_count(source))
    except BadInput as err:
        st.error(f"**Cannot inject.** {err}", icon=":material/error:")
        return
    if st.button("Inject and analyze", type="primary", icon=":material/science:"):
        with st.spinner(f"Injecting {KIND_TEXT[cfg.kind].split(':')[0].lower()} into {source.name}…"):
            try:
                st.session_state[STATE_KEY] = _inject(source, cfg)
            except BadInput as err:
                st.error(f"**Cannot inject.** {err}", icon=":material/error:")
                return
    injected: Injected | None = st.session_state.get(STATE_KEY)
    if injected is None or injected.source_digest != source.digest:
        st.info("Choose an anomaly and its frames, then press **Inject and analyze**.", icon=":material/info:")
        return
    cfg = injected.config
    st.markdown(f"**{injected.name}**: {KIND_TEXT[cfg.kind]}, frames {cfg.start}–{cfg.end - 1}, seed {cfg.seed}.")
    injected_source = ClipSource.upload(injected.name, injected.data)
    clip = open_with_progress(injected_source, model)
    truth = injected.labels[: clip.analysis.frame_count].astype(int)
    show_clip(clip, model, truth, "injected range", lambda: compared_analysis(injected_source, clip, compare))
