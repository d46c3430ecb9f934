"""The batch results page: open a batch output folder, or score a handful of uploads as a batch; rank the
videos, see every c(t) at a glance, and open one in the analysis view with its stored scores (no rerun).

    st.navigation([st.Page(batch.render, title="Batch results")]).run()

A folder must lie under the allowed data root (app.data_root, VAD_DATA_ROOT); uploads are scored by
`python -m vad_core batch` in a child process of the server (app.batch_runs: a heavy-work slot, stopped when the
page is left), into a private folder of this session. Opening a video reads
its stored analysis (vad_core.batch.stored) and decodes only the picture, in the sandboxed decoder.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app.batch_runs import BatchJob, batch_runs
from app.data_root import ROOT_VARIABLE, allowed_folder, data_root
from app.state import (
    VIDEO_TYPES,
    Clip,
    app_decoder,
    app_limits,
    checkpoint_stem,
    clip_store,
    load_model,
    model_fingerprint,
    safe_upload_name,
    store_analysis,
    upload_root,
)
from app.views.clip_view import sample_truth, show_clip
from app.work_queue import session_id
from vad_core import BadInput, Detector
from vad_core.batch.outputs import RANKINGS, VideoRecord, load_records, load_summary, ranked
from vad_core.batch.stored import read_analysis
from vad_core.io.limits import limited
from vad_core.io.tempdirs import owned_prefix
from vad_core.pipeline.render import PreviewFrames

FOLDER_KEY = "batch_folder"  # the open batch output folder (str)
OPEN_KEY = "batch_open"  # the video opened in the analysis view (its batch name), or absent
UPLOADS_KEY = "batch_uploads"  # this session's own folder of scored uploads
JOB_KEY = "batch_job"  # this session's latest batch run of uploads (app.batch_runs.BatchJob)
ENDED_KEY = "batch_job_ended"  # whether the page has rerun once since that run ended
REDRAW_S = 0.5
MAX_UPLOADS = 10
MULTIPLES = 24  # small multiples drawn (the worst first); the table lists every video
RANKING_LABELS = {"peak": "Peak c(t)", "anomalous": "Anomalous seconds"}  # vad_core.batch.outputs.RANKINGS


def ranking_table(records: list[VideoRecord]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "video": [r.video for r in records],
            "peak c(t)": [round(r.peak, 3) for r in records],
            "peak frame": [r.peak_frame for r in records],
            "anomalous s": [round(r.anomalous_seconds, 1) for r in records],
            "segments": [r.segments for r in records],
            "frames": [r.frames for r in records],
            "scene": ["familiar" if (r.scene or {}).get("familiar", True) else "UNFAMILIAR" for r in records],
        }
    )


def small_multiple(video: str, score: np.ndarray, fps: float, threshold: float = 1.0) -> go.Figure:
    """c(t) of one video, its threshold and the frames above it, small enough for a grid."""
    seconds = np.arange(len(score)) / (fps or 1.0)
    top = max(float(np.nanmax(score)) if len(score) else 0.0, threshold) * 1.1
    fig = go.Figure(go.Scatter(x=seconds, y=score, mode="lines", line={"width": 1.5, "color": "#4c9be8"}, name=video))
    fig.add_hline(y=threshold, line={"dash": "dot", "color": "#f0c850", "width": 1})
    fig.update_layout(
        height=130,
        margin={"l": 30, "r": 6, "t": 4, "b": 20},
        showlegend=False,
        yaxis={"range": [0, top], "title": None},
        xaxis={"title": None, "ticksuffix": " s"},
    )
    return fig


def _allowed_video(path: Path, batch_folder: Path) -> Path | None:
    """The video file a record names, if the server may read it: under the data root, or in this session's
    uploads; None otherwise (the picture then comes from the stored model-size frames)."""
    roots = [r for r in (data_root(), batch_folder.parent if _is_own(batch_folder) else None) if r is not None]
    try:
        real = path.resolve()
    except OSError:
        return None
    if real.is_file() and any(real.is_relative_to(root) for root in roots):
        return real
    return None


def _is_own(folder: Path) -> bool:
    own = st.session_state.get(UPLOADS_KEY)
    return own is not None and folder.resolve().is_relative_to(Path(own).resolve())


def _preview(path: Path, frames: int) -> np.ndarray | None:
    """The player's first `frames` frames, decoded in the sandboxed child within the app's limits (a 360 px box,
    spilled to disk when long); None when the video cannot be decoded."""
    preview = PreviewFrames()
    try:
        with app_decoder().open(path) as video:
            for gray in limited(itertools.islice(video.frames, frames), app_limits(), path.name):
                preview(gray)
        return preview.finish()
    except BadInput:
        return None
    finally:
        preview.close()


def stored_clip(folder: Path, record: VideoRecord, model: Detector) -> tuple[Clip, str]:
    """The analysis view's Clip from a batch result, and a note on where its picture came from. A result longer
    than the app's frame limit opens on its first VAD_MAX_FRAMES frames (read a page at a time, never whole)."""
    limit = app_limits().max_frames
    key = f"{record.content_hash[:32]}-{model_fingerprint(model)}-{limit}-ba7c4"  # hex only; "ba7c4": from a batch
    store = clip_store()
    with store.opening(key):
        clip = store.get(key)
        if clip is None:
            analysis = read_analysis(record.location(folder), model, max_frames=limit)
            video = _allowed_video(Path(record.path), folder)
            frames = _preview(video, analysis.frame_count) if video is not None else None
            clip = store_analysis(Path(record.video).name, analysis, frames, record.content_hash, key)
        analysis = clip.analysis
    note = "" if clip.frames.shape[1:] != analysis.inputs.shape[1:] else "the model-size frames (video not readable)"
    return clip, note


def _batch_model(summary: dict) -> Detector:
    """The model the batch was scored with when it is one of the app's models (a path in a folder's summary.json
    is never loaded as such), else the app's model; the stored scores are shown as scored either way."""
    from app.models import available_models

    named = str(Path(summary.get("model", {}).get("checkpoint") or "").resolve())
    known = {str(Path(e.stem).resolve()): e.stem for e in available_models()}
    return load_model(str(known.get(named, checkpoint_stem())))


def _open_folder() -> None:
    root = data_root()
    text = st.text_input(
        "Batch output folder on this server",
        key="batch_folder_text",
        disabled=root is None,
        placeholder="e.g. runs/week12" if root else None,
        help=f"A folder that `python -m vad_core batch ... --out DIR` wrote, under {root}"
        if root
        else f"Folders on this server are off; the operator enables them by setting {ROOT_VARIABLE}.",
    )
    if root is None:
        st.caption(f"Folders on this server are off (set {ROOT_VARIABLE} to allow a folder).")
    if st.button("Open folder", disabled=root is None or not text.strip()):
        try:
            folder = allowed_folder(text)
            load_summary(folder)
        except BadInput as err:
            st.error(str(err), icon=":material/error:")
            return
        st.session_state[FOLDER_KEY] = str(folder)
        st.session_state.pop(OPEN_KEY, None)


def _score_uploads() -> None:
    uploads = st.file_uploader(
        f"…or score up to {MAX_UPLOADS} videos as a batch",
        type=list(VIDEO_TYPES),
        accept_multiple_files=True,
        key="batch_uploads_files",
    )
    job: BatchJob | None = st.session_state.get(JOB_KEY)
    running = job is not None and not job.finished
    if st.button("Score as a batch", disabled=not uploads or running):
        _start(uploads)
    job = st.session_state.get(JOB_KEY)
    if job is not None:
        st.fragment(_job_status, run_every=None if job.finished else REDRAW_S)(job)


def _start(uploads: list) -> None:
    """Stage the uploads in a fresh private folder of this session and start `vad_core batch` on them."""
    if len(uploads) > MAX_UPLOADS:
        st.error(
            f"{len(uploads)} files: a batch from the browser takes at most {MAX_UPLOADS}.", icon=":material/error:"
        )
        return
    old = st.session_state.pop(UPLOADS_KEY, None)
    if old:
        shutil.rmtree(old, ignore_errors=True)
    own = Path(tempfile.mkdtemp(prefix=owned_prefix("vad-batch-upload-"), dir=upload_root()))  # swept if we die
    st.session_state[UPLOADS_KEY] = str(own)
    inputs = own / "videos"
    inputs.mkdir()
    for upload in uploads:
        (inputs / safe_upload_name(upload.name)).write_bytes(upload.getvalue())
    job = batch_runs().start(inputs, own / "out", len(uploads), checkpoint_stem(), session_id() or "", app_limits())
    st.session_state[JOB_KEY] = job
    st.session_state[ENDED_KEY] = False


def _job_status(job: BatchJob) -> None:
    """The run's progress while it runs (redrawn every REDRAW_S, which tells its watcher the page is still open);
    once it ends, the page reruns once and, if it scored, shows the batch."""
    job.viewer.seen()
    if not job.finished:
        with st.status(f"Scoring {job.videos} videos as a batch…", expanded=True):
            st.write(job.progress())
        return
    if not st.session_state.get(ENDED_KEY):
        st.session_state[ENDED_KEY] = True
        if job.state == "done":
            st.session_state[FOLDER_KEY] = str(job.out)
            st.session_state.pop(OPEN_KEY, None)
        st.rerun(scope="app")
    if job.state == "done":
        st.status("Batch scored", state="complete", expanded=False)
    else:
        st.status("The batch failed", state="error")
        st.error(job.message, icon=":material/error:")


def _open(video: str) -> None:
    st.session_state[OPEN_KEY] = video


def _close() -> None:
    st.session_state.pop(OPEN_KEY, None)


def _show_batch(folder: Path) -> None:
    summary = load_summary(folder)
    records = load_records(folder)
    model = summary.get("model", {})
    st.caption(
        f"`{folder}` · model `{model.get('name', '?')}` ({model.get('hash', '?')}) · "
        f"{len(records)} videos scored, {len(summary.get('failed', []))} failed"
        + ("" if summary.get("complete") else " · **incomplete** (the run was interrupted; rerun it to resume)")
    )
    for failure in summary.get("failed", []):
        st.warning(f"Failed: {failure['reason']}", icon=":material/error:")
    if not records:
        st.info("No video of this batch was scored.")
        return
    by = st.radio("Rank by", list(RANKINGS), format_func=RANKING_LABELS.get, horizontal=True, key="batch_rank")
    order = ranked(records, by)
    st.dataframe(ranking_table(order), hide_index=True, width="stretch")
    frames = pd.read_parquet(folder / "frames.parquet", columns=["video", "score"])
    scores = {name: group["score"].to_numpy() for name, group in frames.groupby("video", sort=False)}
    shown = order[:MULTIPLES]
    st.subheader("c(t) of each video, worst first", anchor=False)
    if len(order) > MULTIPLES:
        st.caption(f"The {MULTIPLES} worst of {len(order)}; every video is in the table.")
    for i, record in enumerate(shown):
        if i % 4 == 0:  # a row of columns at a time: reading order (and the page's order) is rank order
            columns = st.columns(4)
        with columns[i % 4]:
            st.markdown(f"**{record.video}** · peak {record.peak:.2f} · {record.anomalous_seconds:.1f} s anomalous")
            st.plotly_chart(
                small_multiple(record.video, scores.get(record.video, np.zeros(0)), record.fps),
                width="stretch",
                config={"displayModeBar": False, "staticPlot": True},
                key=f"multiple-{i}",
            )
            st.button(f"Open {record.video}", key=f"open-{i}", on_click=_open, args=(record.video,))


def _show_video(folder: Path, name: str) -> None:
    summary = load_summary(folder)
    record = next((r for r in load_records(folder) if r.video == name), None)
    if record is None:
        st.session_state.pop(OPEN_KEY, None)
        st.rerun()
    st.button("← Back to the batch", on_click=_close)
    st.subheader(f"{record.video} · stored scores, not rerun", anchor=False)
    model = _batch_model(summary)
    try:
        clip, note = stored_clip(folder, record, model)
    except BadInput as err:
        st.error(f"**This result cannot be opened.** {err}", icon=":material/error:")
        return
    if note:
        st.caption(f"Shown on {note}.")
    for warning in clip.analysis.warnings:  # a truncated video; a result cut at the app's frame limit
        st.warning(warning, icon=":material/warning:")
    show_clip(clip, model, *sample_truth(clip))  # the analysis view itself, fed the stored analysis


def render() -> None:
    st.title("Batch results", anchor=False)
    st.caption(
        "Many videos scored at once by `python -m vad_core batch` (on Ray: this machine or a cluster). "
        "Videos are ranked by their peak calibrated score c(t) or by their anomalous seconds; open one to "
        "watch it with its stored scores."
    )
    folder_text = st.session_state.get(FOLDER_KEY)
    opened = st.session_state.get(OPEN_KEY)
    if folder_text and opened:
        job = st.session_state.get(JOB_KEY)
        if job is not None and not job.finished:  # still looked at while a video is open
            st.fragment(_job_status, run_every=REDRAW_S)(job)
        _show_video(Path(folder_text), opened)
        return
    left, right = st.columns(2, gap="large")
    with left:
        _open_folder()
    with right:
        _score_uploads()
    folder_text = st.session_state.get(FOLDER_KEY)
    if folder_text:
        try:
            _show_batch(Path(folder_text))
        except BadInput as err:
            st.error(str(err), icon=":material/error:")
