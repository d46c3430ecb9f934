"""The live page: score the browser's camera, a stream or a recorded clip as it plays, then open what was recorded.

    st.navigation([st.Page(live.render, title="Watch a live source")]).run()

A LiveRun (vad_core.pipeline.live: the one analysis engine, fed frame by frame) scores in its threads; this page starts
it, draws it every LIVE_REFRESH_S seconds (an st.fragment) and stops it. The camera comes through streamlit-webrtc
with no STUN or TURN server (the page makes no request off the machine); its frame callback only turns the frame
gray and puts it in a bounded queue (streamlit-webrtc issue 1494: heavy work there makes the stream lag); the
component exists only while a camera run holds its slot, so no offer is answered outside one. A run holds one of
the server's heavy-work slots (app.work_queue) while it runs; it stops itself at the app's frame and time limits
(LiveRun's own), and its watcher thread stops it once its page is left (app.viewers: not redrawn, or the session
gone) and drops what it recorded. When it stops, the recorded part opens in the analysis view (show_clip) with
the run's own scores: no rerun. Each segment goes to the event store as it opens and closes, and optionally to an
MQTT topic and a webhook, through the publisher `watch` uses (vad_core.events.live.LivePublisher); the recorded
part's thumbnails and excerpts follow when the run stops.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

import cv2
import numpy as np
import plotly.graph_objects as go
import streamlit as st

from app.state import app_decoder, app_limits, clip_store, load_model, sample_paths, store_analysis
from app.stream_hosts import HOSTS_VARIABLE, stream_hosts, stream_spec
from app.viewers import Viewer
from app.views.clip_open import load_or_stop
from app.views.clip_view import show_clip
from app.views.controls import chosen_model_stem, start_detection_at
from app.views.plot import CURVE_RGB, GRID_RGB, SEGMENT_FILL, THRESHOLD_RGB, dark_layout
from app.work_queue import LeftQueue, Ticket, session_alive, session_id, work_queue
from vad_core import BadInput, LoadedModel
from vad_core.events.live import LivePublisher, PublishTarget
from vad_core.events.notify import Notifier, make_notifiers
from vad_core.io.sandbox import SandboxLimits
from vad_core.io.sources import FileSource, LiveFrame, PushSource, Source, open_source
from vad_core.pipeline.engine import ScoredBlock
from vad_core.pipeline.live import LiveRun, LiveStatus
from vad_core.pipeline.regions import frame_regions
from vad_core.pipeline.render import colormap_lut, draw_boxes, heat_levels, overlay, preview_shape
from vad_core.pipeline.result import SegmentRule
from vad_core.scoring.scores import Segment, find_segments

LOG = logging.getLogger(__name__)
LIVE_KEY = "live_session"  # this browser session's LiveSession while it runs
CLIP_KEY = "live_clip"  # (clip key, model stem, note) of the recorded part, once the run has stopped
RULE_KEY = "live_rule"  # the live detection controls' values, kept while their widgets are not drawn
SOURCES = {
    "camera": "This browser's camera",
    "stream": "A stream URL (RTSP, HTTP, HLS)",
    "clip": "A recorded clip, played in real time",
}
LIVE_REFRESH_S = 0.75
ROLLING_FRAMES = 300  # frames the rolling plot shows
SHOWN_ALERTS = 12
THUMB_WIDTH = 96  # alert thumbnails fit a THUMB_WIDTH square
FRAME_BOX = (360, 360)  # (width, height) the current frame is drawn in
CAMERA_FPS = 10.0  # asked of the camera; the recorded part takes the rate measured
CAMERA_MAX_FPS = 15  # frames a second the server takes from a camera, whatever the browser sends
CAMERA_WAIT_S = 8.0  # no frame by then: say what the browser may be waiting for
CAMERA_BUFFER = 64  # frames between the camera callback and the run's reader; past that they are dropped
CAMERA_KEY = "live-camera"  # the camera component's key, before the run's ticket number (_camera_key)
RTC_CONFIGURATION = {"iceServers": []}  # no STUN, no TURN: host candidates only, nothing off the machine
CAMERA_CONSTRAINTS = {"video": {"frameRate": {"ideal": CAMERA_FPS, "max": 15}}, "audio": False}
ALERT_TIMEOUT_S = 5.0  # an MQTT or webhook alert waits this long at most
HEAT_COLORMAP, HEAT_OPACITY = "inferno", 0.6
INTRO = (
    "Score a camera as it plays, with the same model, the same calibrated score c(t) and the same threshold as "
    "a recorded clip. Segments open while the event is still happening; when you stop, the recorded part opens "
    "in the analysis view with its scores (nothing is scored twice)."
)


# --- sources --------------------------------------------------------------------------------------------------


class CameraCallback:
    """The WebRTC sink's frame callback: it returns at once (the frame, as BGR, into the PushSource's bounded
    buffer, where a full buffer drops it and counts it) and measures the rate the camera delivers. The server caps
    what it takes: frames past CAMERA_MAX_FPS in the last second are dropped and counted, and a frame over the
    per-frame limits ends the run before it is converted."""

    def __init__(self, source: PushSource) -> None:
        self.source = source
        self.count = 0
        self._first: float | None = None
        self._last = 0.0
        self._recent: deque[float] = deque()  # when the frames of the last second were taken

    def __call__(self, frame) -> None:  # an av.VideoFrame, on the WebRTC event loop
        now = time.monotonic()
        while self._recent and now - self._recent[0] > 1.0:
            self._recent.popleft()
        if len(self._recent) >= CAMERA_MAX_FPS:
            self.source.stats.dropped += 1
            return
        if not self.source.fits(frame.width, frame.height):
            return
        self._recent.append(now)
        self._first = now if self._first is None else self._first
        self._last = now
        self.count += 1
        self.source.push(frame.to_ndarray(format="bgr24"), now - self._first)  # gray as analyze makes it

    def measured_fps(self) -> float | None:
        """The camera's frame rate as delivered, once it has sent a second's worth."""
        span = self._last - (self._first or self._last)
        return (self.count - 1) / span if span >= 1.0 else None


class Tapped:
    """A source whose frames leave a small thumbnail behind (the alerts' peak frames) on their way to the run;
    anything else (fps, stats, lossless) is the source's own."""

    def __init__(self, source: Source, keep: int) -> None:
        self.source, self.keep = source, keep
        self.shape: tuple[int, int] | None = None
        self._thumbs: OrderedDict[int, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __getattr__(self, name: str):
        return getattr(self.source, name)

    def frames(self) -> Iterator[LiveFrame]:
        for frame in self.source.frames():
            h, w = frame.image.shape[:2]
            self.shape = (h, w)
            size = preview_shape(h, w, (THUMB_WIDTH, THUMB_WIDTH))[::-1]
            thumb = cv2.resize(frame.image, size, interpolation=cv2.INTER_AREA)
            with self._lock:
                self._thumbs[frame.index] = thumb
                while len(self._thumbs) > self.keep:
                    self._thumbs.popitem(last=False)
            yield frame

    def close(self) -> None:
        self.source.close()

    def thumbnail(self, index: int) -> np.ndarray | None:
        with self._lock:
            return self._thumbs.get(index)


# --- one live run in this session -----------------------------------------------------------------------------


@dataclass
class LiveSession:
    """A running LiveRun, what it is fed from, and the heavy-work slot it holds."""

    run: LiveRun
    tap: Tapped
    kind: str
    ticket: Ticket
    model_stem: str
    camera: CameraCallback | None = None
    sink: object | None = None  # streamlit_webrtc.CallbackSinkTrack calling camera
    rtc: object | None = None  # the camera component's streamlit_webrtc context, once drawn
    viewer: Viewer = field(default_factory=lambda: Viewer(None))
    started: float = field(default_factory=time.monotonic)
    stop_requested: bool = False
    note: str = ""
    events: LivePublisher | None = None  # the run's events into the store and out as alerts

    def close_camera(self) -> None:
        """End the camera's peer connection (streamlit-webrtc has no public stop): no frame is decoded after the
        run, whatever the browser keeps sending."""
        worker = self.rtc._get_worker() if self.rtc is not None else None
        if worker is not None:
            worker.stop()


def _watch(live: LiveSession) -> None:
    """Stops the run once its page is left (app.viewers) and drops its recording; once the run is over, for any
    reason, ends the camera's connection and gives the heavy slot back."""
    try:
        while live.run.running:
            if live.viewer.gone(session_alive):
                LOG.info("live run of %s: its page was left; stopping", live.tap.name)
                try:
                    live.run.stop(timeout=30)
                finally:
                    live.run.discard("the run was stopped: its page was left")
                    if live.events is not None:  # its events stay stored, without the recording's media
                        live.events.close(timeout=0)
                break
            time.sleep(0.5)
    except BaseException:  # the run's own error is reported on the page, if anyone is there
        LOG.debug("live run of %s ended with an error", live.tap.name, exc_info=True)
    finally:
        live.close_camera()
        work_queue().release(live.ticket)


def _take_slot(label: str) -> Ticket:
    """One of the server's heavy slots, held past this script run (released by _watch); the place in the queue
    shows while it waits."""
    queue_, session = work_queue(), session_id()
    ticket = queue_.join(label, owner=session or "")
    notice = st.empty()

    def waiting(state) -> None:
        notice.info(f"{state.message()} ({label})", icon=":material/hourglass_top:")

    try:
        queue_.acquire(ticket, waiting, lambda: session_alive(session) is False)
    except LeftQueue:
        st.stop()
    notice.empty()
    return ticket


def _opener(kind: str) -> Callable[[], Source]:
    """What opens the chosen source (read from the page now; called on the run's own thread, see _start)."""
    if kind == "stream":
        url = str(st.session_state.get("live_url") or "").strip()
        if not url:
            raise BadInput("enter the stream's URL first")
        spec = stream_spec(url)  # http(s) or rtsp only: a path here would read the server's own files
        return lambda: open_source(spec, sandbox=SandboxLimits.from_env(), frame_limits=app_limits())  # a child
    name = st.session_state.get("live_sample")
    path = next((p for p in sample_paths() if p.name == name), None)
    if path is None:
        raise BadInput("choose a clip first")
    return lambda: FileSource(path, realtime=True, decoder=app_decoder())


def _serve(open_: Callable[[], LiveSession], opened: queue.Queue) -> None:
    """The run's own thread: opens the source, starts the run, then watches it to the end. A decoder child dies
    with the thread that started it (PR_SET_PDEATHSIG), and a script run's thread ends with the script: so the
    source is opened here, on a thread that lives as long as the run."""
    try:
        live = open_()
        live.run.start()
    except BaseException as err:
        opened.put(err)
        return
    opened.put(live)
    _watch(live)


def _start(kind: str, rule: SegmentRule) -> None:
    """Open the source and start the run, holding a heavy slot; a source that cannot be opened says why."""
    stem = chosen_model_stem()
    model = load_or_stop(stem)
    try:
        open_ = _opener(kind) if kind != "camera" else None
        notifiers = _notifiers()
    except BadInput as err:
        st.error(f"**This source cannot be watched.** {err}", icon=":material/error:")
        return
    ticket = _take_slot(f"live run of {SOURCES[kind].lower()}")
    camera, sink = None, None
    if kind == "camera":
        from streamlit_webrtc import CallbackSinkTrack

        camera = CameraCallback(PushSource("camera", CAMERA_FPS, CAMERA_BUFFER, app_limits()))
        sink = CallbackSinkTrack(camera, "video")

    limits, viewer = app_limits(), Viewer(session_id())

    name = str(st.session_state.get("live_camera_name") or "").strip()

    def make() -> LiveSession:
        tap = Tapped(open_() if open_ is not None else camera.source, keep=limits.max_frames)
        events = LivePublisher(PublishTarget(None, name or tap.name, "live"), model, tap.fps or CAMERA_FPS, notifiers,
                               log=LOG.warning)  # fmt: skip
        run = LiveRun(tap, model, rule, limits=limits, on_event=events.segment)
        return LiveSession(run, tap, kind, ticket, stem, camera, sink, viewer=viewer, events=events)

    opened: queue.Queue = queue.Queue()
    threading.Thread(target=_serve, args=(make, opened), name="vad-live-run", daemon=True).start()
    with st.spinner(f"Opening {SOURCES[kind].lower()}…"):
        result = opened.get()  # a stream's open timeout bounds this
    if isinstance(result, BaseException):
        work_queue().release(ticket)
        reason = str(result) if isinstance(result, BadInput) else f"{type(result).__name__}: {result}"
        st.error(f"**This source cannot be watched.** {reason}", icon=":material/error:")
        return
    st.session_state.pop(CLIP_KEY, None)
    st.session_state[LIVE_KEY] = result


def _request_stop() -> None:
    live = st.session_state.get(LIVE_KEY)
    if live is not None:
        live.stop_requested = True


def _finish(live: LiveSession) -> None:
    """Stop the run and store its recorded part as a clip for the analysis view."""
    st.session_state.pop(LIVE_KEY, None)
    with st.spinner("Stopping and opening the recorded part…"):
        try:
            analysis = live.run.stop(timeout=120)
        except BadInput as err:
            st.error(f"**Nothing was recorded.** {err}", icon=":material/error:")
            return
        finally:
            work_queue().release(live.ticket)
        status = live.run.status()
        if status.limit:
            live.note = f"Stopped at {status.limit} (the app's VAD_MAX_FRAMES and VAD_MAX_SECONDS)."
        elif status.state == "failed":
            live.note = f"The source stopped: {status.message}"
        measured = live.camera.measured_fps() if live.camera is not None else None
        if measured:
            analysis.fps = measured
        if live.events is not None:  # thumbnails and excerpts, on the publisher's thread
            live.events.recorded(analysis, live.run.frames)
            live.events.close(timeout=0)
        name = f"live-{live.kind}-{datetime.now():%Y%m%d-%H%M%S}"
        try:
            clip = store_analysis(name, analysis, live.run.frames)
        except BadInput as err:
            st.error(f"**The recorded part cannot be shown.** {err}", icon=":material/error:")
            return
    start_detection_at(st.session_state.get(RULE_KEY) or SegmentRule())  # the analysis view's, where the live were
    st.session_state[CLIP_KEY] = (clip.key, live.model_stem, live.note)


# --- drawing --------------------------------------------------------------------------------------------------


def live_rule() -> SegmentRule:
    """The live threshold, minimum duration and merge gap (sidebar); they apply to what is drawn at once."""
    kept = st.session_state.get(RULE_KEY) or SegmentRule()
    st.sidebar.subheader("Detection")
    threshold = st.sidebar.slider(
        "Threshold on c(t)", 0.0, 5.0, float(kept.threshold), 0.05, key="live_threshold",
        help="1.0 is the calibration threshold: c(t) above 1 is beyond what normal footage produced.",
    )  # fmt: skip
    left, right = st.sidebar.columns(2)
    min_duration = left.number_input("Min. duration", 1, 100, int(kept.min_duration), key="live_min_duration")
    merge_gap = right.number_input("Merge gap", 0, 100, int(kept.merge_gap), key="live_merge_gap")
    rule = SegmentRule(float(threshold), int(min_duration), int(merge_gap))
    st.session_state[RULE_KEY] = rule
    return rule


def rolling_figure(scores: np.ndarray, rule: SegmentRule, segments: list[Segment], window: int = ROLLING_FRAMES):
    """c(t) of the last `window` scored frames, the threshold and the segments in view."""
    n = len(scores)
    first = max(0, n - window)
    frames = np.arange(first, n)
    figure = go.Figure(
        go.Scatter(x=frames, y=scores[first:], mode="lines", name="c(t)", line={"color": CURVE_RGB, "width": 2})
    )
    figure.add_hline(y=rule.threshold, line={"color": THRESHOLD_RGB, "width": 1.5, "dash": "dash"})
    for seg in segments:
        if seg.end >= first:
            figure.add_vrect(
                x0=max(seg.start, first) - 0.5, x1=seg.end + 0.5, fillcolor=SEGMENT_FILL, line_width=0, layer="below"
            )
    top = max(float(np.nanmax(scores[first:])) if n else 0.0, rule.threshold) * 1.12
    figure.update_layout(
        **dark_layout(230, {"l": 44, "r": 8, "t": 8, "b": 34}),
        showlegend=False,
        xaxis={"title": {"text": "scored frame", "standoff": 2}, "range": [first - 0.5, first + window - 0.5],
               "gridcolor": GRID_RGB, "zeroline": False, "fixedrange": True},
        yaxis={"title": {"text": "c(t)"}, "range": [0, top or 1.0], "gridcolor": GRID_RGB, "zeroline": False,
               "fixedrange": True},
    )  # fmt: skip
    return figure


def current_frame(block: ScoredBlock, model: LoadedModel, shape: tuple[int, int] | None, boxes: bool) -> np.ndarray:
    """The block's last frame as the model saw it (back at the source's aspect), its heatmap and boxes on top."""
    last = len(block.inputs) - 1
    error_map, pixel_tau = block.maps[model.scoring.kind][last], model.calibration.pixel_tau
    gray = block.inputs[last]
    if shape is not None:  # fitted into FRAME_BOX, whatever the source's aspect
        h, w = shape
        scale = min(FRAME_BOX[0] / w, FRAME_BOX[1] / h)
        gray = cv2.resize(gray, (max(2, round(w * scale)), max(2, round(h * scale))), interpolation=cv2.INTER_LINEAR)
    image = overlay(gray, heat_levels(error_map, pixel_tau), colormap_lut(HEAT_COLORMAP), HEAT_OPACITY)
    if boxes:
        draw_boxes(image, frame_regions(error_map, model.scoring.patch, pixel_tau), block.inputs.shape[1])
    return image


def _throughput(status: LiveStatus) -> None:
    """Frames in, scored and lost (the engine's skipped windows and the source's own losses), delay and state."""
    median, p95 = status.delay_quantiles()
    cols = st.columns(6)
    cols[0].metric("Received", status.received, help="frames the source delivered")
    cols[1].metric("Scored", status.scored, help="frames the model has scored")
    cols[2].metric(
        "Dropped", status.dropped + status.source_dropped,
        help=f"{status.dropped} in whole windows skipped because the machine was behind the source; "
        f"{status.source_dropped} lost by the source itself (gaps in its timestamps, a full camera buffer)",
    )  # fmt: skip
    cols[3].metric("Delay, median", f"{median:.2f} s" if np.isfinite(median) else "–", help="frame arrival to score")
    cols[4].metric("Delay, p95", f"{p95:.2f} s" if np.isfinite(p95) else "–")
    cols[5].metric("State", status.state, help=f"{status.reconnects} reconnects" if status.reconnects else None)
    for text in filter(None, (status.message, status.notice)):
        st.warning(text, icon=":material/warning:")


def _alerts(live: LiveSession, segments: list[Segment], scored: int, rule: SegmentRule, fps: float) -> None:
    """One row per segment, newest first: start, end or open, peak c(t) and its frame, a thumbnail of it."""
    st.subheader(f"Alerts ({len(segments)})", anchor=False)
    if not segments:
        st.caption(f"No segment yet: c(t) has not stayed above {rule.threshold:g} for {rule.min_duration} frames.")
        return
    for seg in reversed(segments[-SHOWN_ALERTS:]):
        is_open = live.run.segment_open(seg, scored, rule)
        peak_source = live.run.source_frame(seg.peak_frame)
        thumb = live.tap.thumbnail(peak_source) if peak_source is not None else None
        with st.container(border=True):
            left, right = st.columns([1, 4], vertical_alignment="center")
            if thumb is not None:
                left.image(thumb, width=THUMB_WIDTH)
            start = live.run.source_frame(seg.start)
            start_s = (start if start is not None else seg.start) / fps
            end = "**open**" if is_open else f"frame {seg.end}"
            right.markdown(
                f":red[**Anomaly**] · frames {seg.start} → {end} · from {start_s:.1f} s · peak c(t) "
                f"**{seg.peak:.2f}** at frame {seg.peak_frame}"
            )


@st.fragment(run_every=LIVE_REFRESH_S)
def live_panel(rule: SegmentRule, boxes: bool) -> None:
    """Redrawn every LIVE_REFRESH_S: throughput and lag, the current frame, the rolling plot and the alerts."""
    live: LiveSession | None = st.session_state.get(LIVE_KEY)
    if live is None:
        return
    live.viewer.seen()
    if not live.run.running:  # ended, failed or at a limit (the run's own): open what was recorded
        live.stop_requested = True
        st.rerun(scope="app")
    model = load_model(live.model_stem)
    status, scores = live.run.status(), live.run.scores()
    segments = find_segments(scores, rule.threshold, rule.min_duration, rule.merge_gap) if len(scores) else []
    _throughput(status)
    left, right = st.columns([2, 3], gap="medium")
    block = live.run.latest()
    with left:
        if block is None:
            st.info(f"Waiting for the first {model.window} frames…", icon=":material/hourglass_top:")
            if live.camera is not None and not status.received and time.monotonic() - live.started > CAMERA_WAIT_S:
                st.warning(
                    "No frame from the camera yet. Allow this page to use the camera when the browser asks; a page "
                    "opened over plain HTTP from another machine gets no camera (browsers want HTTPS or localhost).",
                    icon=":material/videocam_off:",
                )
        else:
            frame = block.start + len(block.inputs) - 1
            score = f" · c(t) = {scores[frame]:.2f}" if frame < len(scores) else ""
            st.image(current_frame(block, model, live.tap.shape, boxes), caption=f"scored frame {frame}{score}")
    with right:
        st.plotly_chart(
            rolling_figure(scores, rule, segments),
            config={"displayModeBar": False, "staticPlot": True},
            key="live_plot",
        )
        st.caption(f"c(t) of the last {ROLLING_FRAMES} scored frames · {len(scores)} scored so far")
    _alerts(live, segments, len(scores), rule, live.tap.fps or 10.0)


def _camera_key(live: LiveSession) -> str:
    return f"{CAMERA_KEY}-{live.ticket.number}"


def _camera(live: LiveSession | None) -> None:
    """The camera component: playing while a camera run is on; its frames go to the run's CameraCallback.

    Each run has a component of its own, asked to play once it has mounted and sent its first value. Asked at
    once, it starts again on each render that comes while its first start still loads (streamlit-webrtc 0.79),
    and the reruns its first value sets off make two or three peer connections at once: the server answers one,
    the browser keeps another, and no frame comes until the connection fails and starts over, or ever."""
    from streamlit_webrtc import WebRtcMode, webrtc_streamer
    from streamlit_webrtc.component import generate_frontend_component_key

    if live is None or live.camera is None:  # no component, so no offer answered, before a run holds its slot
        st.caption("The camera turns on when you press **Start** (and the server has a free place for the run).")
        return
    key = _camera_key(live)
    mounted = st.session_state.get(generate_frontend_component_key(key)) is not None
    try:
        live.rtc = webrtc_streamer(
            key=key,
            mode=WebRtcMode.SENDONLY,
            rtc_configuration=RTC_CONFIGURATION,
            media_stream_constraints=CAMERA_CONSTRAINTS,
            desired_playing_state=mounted and not live.stop_requested,
            sink_video_track=live.sink,
            video_html_attrs={"autoPlay": True, "muted": True, "controls": False, "style": {"width": "240px"}},
        )
    except Exception as err:  # the component needs a real Streamlit server (not a bare or test runtime)
        LOG.warning("the camera component failed: %s", err, exc_info=True)
        st.warning(
            f"The browser's camera is not available on this server ({type(err).__name__}); choose another source.",
            icon=":material/videocam_off:",
        )


def _source_controls(running: bool) -> str:
    kind = st.radio(
        "Source", list(SOURCES), format_func=SOURCES.get, key="live_source", horizontal=True, disabled=running
    )
    if kind == "stream" and not stream_hosts():
        st.info(
            f"Stream URLs are off on this server: the operator enables them by listing allowed hosts in "
            f"`{HOSTS_VARIABLE}`.",
            icon=":material/lock:",
        )
    elif kind == "stream":
        st.text_input(
            "Stream URL", key="live_url", placeholder="rtsp://camera.local:8554/stream", disabled=running,
            help="RTSP, HTTP or HLS; opened by the server, which reconnects a few times if it drops.",
        )  # fmt: skip
    elif kind == "clip":
        names = [p.name for p in sample_paths()]
        st.selectbox("Clip (UCSD Ped2), played at its own frame rate", names, key="live_sample", disabled=running)
    return str(kind)


def _alert_controls(running: bool) -> None:
    """The camera's name in the event store, and where else each event goes (optional)."""
    with st.expander("Events and alerts", icon=":material/notifications:"):
        st.text_input("Camera name", key="live_camera_name", disabled=running, placeholder="the source's own name",
                      help="The name its events are stored under (the Events page filters by it).")  # fmt: skip
        st.text_input("MQTT topic", key="live_mqtt", disabled=running, placeholder="mqtt://127.0.0.1:1883/vad/alerts",
                      help="Each event, as it opens and closes, as JSON with a link to it.")  # fmt: skip
        st.text_input("Webhook URL", key="live_webhook", disabled=running, placeholder="http://127.0.0.1:9000/hook",
                      help="Each event POSTed as JSON with a link to it.")  # fmt: skip


def _notifiers() -> list[Notifier]:
    """The MQTT and webhook alerts asked for on the page (a malformed URL is BadInput before the run starts)."""
    mqtt, webhook = (str(st.session_state.get(key) or "").strip() or None for key in ("live_mqtt", "live_webhook"))
    return make_notifiers(mqtt, webhook, ALERT_TIMEOUT_S)


def _show_recorded(key: str, stem: str, note: str) -> None:
    clip = clip_store().get(key)
    if clip is None:
        st.warning("The recorded part is no longer held by the server (its cache was full).", icon=":material/info:")
        st.session_state.pop(CLIP_KEY, None)
        return
    clip_store().pin(session_id(), key)  # kept, with its player media, while this session shows it
    st.divider()
    st.subheader(f"Recorded: {clip.name} · the live run's own scores, not rerun", anchor=False)
    if note:
        st.info(note, icon=":material/info:")
    show_clip(clip, load_or_stop(stem))


def render() -> None:
    st.title("Watch a live source", anchor=False)
    st.caption(INTRO)
    live: LiveSession | None = st.session_state.get(LIVE_KEY)
    if live is not None:
        live.viewer.seen()
    if live is not None and (live.stop_requested or not live.run.running):
        _finish(live)
        live = None
    recorded = st.session_state.get(CLIP_KEY) if live is None else None
    rule = live_rule() if recorded is None else st.session_state.get(RULE_KEY) or SegmentRule()
    boxes = True
    if recorded is None:
        boxes = st.sidebar.toggle("Anomaly boxes", value=True, key="live_boxes")
    kind = _source_controls(running=live is not None)
    _alert_controls(running=live is not None)
    if kind == "camera":
        _camera(live)
    left, right, _ = st.columns([1, 1, 4])
    start = left.button("Start", type="primary", icon=":material/play_arrow:", disabled=live is not None)
    right.button("Stop", icon=":material/stop:", disabled=live is None, on_click=_request_stop)
    if start:
        _start(kind, rule)
        if st.session_state.get(LIVE_KEY) is not None:
            st.rerun()  # draw it running: the camera asked to play, the panel, Stop enabled
    if live is not None:
        st.caption(f"Watching {SOURCES[live.kind].lower()} with model `{live.model_stem.rsplit('/', 1)[-1]}`.")
        live_panel(rule, boxes)
    elif recorded is not None:
        _show_recorded(*recorded)
    else:
        st.info("Pick a source and press **Start**.", icon=":material/videocam:")
