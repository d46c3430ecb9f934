"""`python -m vad_core watch SOURCE`: score a live source as it plays, one JSON line per segment event.

    python -m vad_core watch rtsp://cam.local/stream --json-lines --out live --alert-cmd "./page-me --urgent"
    python -m vad_core watch recording.ts --follow            # a file still being written
    python -m vad_core watch clip.mp4 --realtime --frames     # a recorded clip at its own rate, every score

Segment lines: {"event": "open"|"close", "start", "end" (null while open), "peak", "peak_frame", "source_start",
"source_end", "start_s", "end_s", "source"}; start, end and peak_frame are scored frames (the rows of scores.csv,
as in segments.json), source_start and source_end the source's frame numbers (they differ only after skipped
windows). --frames adds {"event": "frame", ...} lines as scores settle; --json-lines ends with a
{"event": "summary", ...} line. A summary line also goes to stderr. Ctrl-C, SIGTERM, --max-frames or --max-seconds
stops the run; the outputs (scores.csv, segments.json, error_maps.npz, as analyze writes them) are written in every
case. --segment-minutes M cuts the recording into parts of M minutes of the source's time (vad_core.io.parts), each
scored by its own run and written to DIR/part-NNNNNN/ as it ends, the last --keep-segments kept: a watch of weeks
uses bounded disk and memory. DIR/scores.csv and DIR/segments.json then cover the part in progress when it stops.
The engine is vad_core.pipeline.live.LiveRun; the alert command runner is vad_core.pipeline.alerts.AlertRunner.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vad_core.cli.common import about, add_events_options, add_zones_option, read_zones_option, with_zones
from vad_core.cli.options import COUNT, FRAME, POSITIVE
from vad_core.errors import BadInput
from vad_core.events.notify import LINK_BASE
from vad_core.io.paths import writable_folder
from vad_core.signals import on_stop_signal

PUBLISH_CLOSE_S = 60.0  # at the end, how long queued events, alerts and excerpts may still take

if TYPE_CHECKING:
    import numpy as np

    from vad_core.events.live import LivePublisher
    from vad_core.io.sources import Source
    from vad_core.model.checkpoint import Detector
    from vad_core.pipeline.alerts import AlertRunner
    from vad_core.pipeline.live import LiveRun, LiveStatus, SegmentEvent
    from vad_core.pipeline.result import Analysis, SegmentRule


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("watch", help="score a live source (stream, device, growing file, clip) as it plays")
    p.add_argument("source", help="rtsp://, http(s):// or HLS URL, /dev/videoN, or a video file")
    p.add_argument("--checkpoint", default=None, help="checkpoint stem (default: the bundled Ped2 fused model)")
    p.add_argument("--out", default="vad_out", help="output folder for scores.csv, segments.json when it stops")
    p.add_argument("--json-lines", action="store_true", help="one JSON object per line on stdout")
    p.add_argument("--frames", action="store_true", help="also a line per scored frame")
    p.add_argument("--alert-cmd", default=None, help="command run with each opened segment as JSON on stdin")
    p.add_argument("--alert-timeout", type=POSITIVE, default=10.0, help="seconds an alert command may run (10)")
    p.add_argument("--realtime", action="store_true", help="a file: play it at its own frame rate")
    p.add_argument("--follow", action="store_true", help="a file still being written: wait for it to grow")
    p.add_argument("--idle-timeout", type=POSITIVE, default=10.0, help="--follow: end after this long unchanged")
    p.add_argument("--open-timeout", type=POSITIVE, default=10.0, help="seconds to connect to a stream (10)")
    p.add_argument("--read-timeout", type=POSITIVE, default=10.0, help="seconds without data before reconnecting")
    p.add_argument("--retries", type=FRAME, default=3, help="reconnects in a row before giving up (3)")
    p.add_argument("--isolate", action="store_true", help="decode in a capped, killable child process")
    p.add_argument("--threshold", type=POSITIVE, default=1.0, help="calibrated-score threshold (default 1.0)")
    p.add_argument("--min-duration", type=FRAME, default=3, help="a segment opens once this many frames long")
    p.add_argument("--merge-gap", type=FRAME, default=5, help="and closes after more frames than this below")
    p.add_argument("--device", default=None, help="cpu, cuda or auto (default: CUDA when available)")
    p.add_argument("--max-frames", type=COUNT, default=None, help="stop after this many frames received")
    p.add_argument("--max-seconds", type=POSITIVE, default=None, help="stop after this many seconds of wall-clock time")
    p.add_argument(
        "--segment-minutes", type=POSITIVE, default=None,
        help="cut the recording into parts of this many minutes of the source's time, each written as it ends",
    )  # fmt: skip
    p.add_argument("--keep-segments", type=COUNT, default=24, help="--segment-minutes: parts kept on disk (24)")
    add_zones_option(p)
    add_events_options(p)
    p.add_argument("--camera", default=None, help="the source's name in the event store (default: the source's)")
    p.add_argument("--mqtt", default=None, metavar="URL", help="publish each event to mqtt://HOST[:PORT]/TOPIC")
    p.add_argument("--webhook", default=None, metavar="URL", help="POST each event as JSON to this URL")
    p.add_argument("--link-base", default=LINK_BASE, help=f"the app's address in alerts' links ({LINK_BASE})")


def say(message: str) -> None:
    print(f"watch: {message}", file=sys.stderr, flush=True)


class _Lines:
    """What watch prints as the run goes: segment events (and alerts for opened ones), settled frame scores."""

    def __init__(
        self, json_lines: bool, rule: SegmentRule, alerts: AlertRunner | None, fps: float, events: LivePublisher | None
    ) -> None:
        self.json_lines, self.rule, self.alerts, self.events = json_lines, rule, alerts, events
        self.fps = fps  # the source's rate as it opened: times in seconds are frame numbers over it
        self.live: LiveRun | None = None  # set once the run exists: on_event and on_scores are its callbacks
        self.printed = 0  # --frames: rows whose final score has been printed

    def emit(self, line: dict, text: str) -> None:
        print(json.dumps(line) if self.json_lines else text, flush=True)

    def on_event(self, event: SegmentEvent) -> None:
        line = {"event": event.event} | event.to_dict()
        line |= {"start_s": event.source_start / self.fps, "end_s": None, "source": self.live.source.name}
        if event.source_end is not None:
            line["end_s"] = (event.source_end + 1) / self.fps
        ends = f"-{event.end}" if event.end is not None else "- (open)"
        self.emit(line, f"{event.event:5} frames {event.start}{ends}  peak {event.peak:.2f} at {event.peak_frame}")
        if self.alerts is not None and event.event == "open":
            self.alerts.submit(line)
        if self.events is not None:
            self.events.segment(event)

    def print_frames(self, scores: np.ndarray, upto: int) -> None:
        frames, fps = self.live.source_frames(), self.fps
        for row in range(self.printed, min(upto, len(scores), len(frames))):
            score = float(scores[row])
            line = {"event": "frame", "row": row, "frame": int(frames[row]), "time_s": int(frames[row]) / fps}
            line |= {"score": score, "anomalous": score > self.rule.threshold}
            self.emit(line, f"frame {int(frames[row])}  c={score:.3f}")
        self.printed = max(self.printed, min(upto, len(scores)))

    def on_scores(self, start: int, raw: np.ndarray, provisional: np.ndarray) -> None:
        scores = self.live.scores()
        self.print_frames(scores, len(scores) - self.live.radius)  # frames whose smoothed score is final


def run(args: argparse.Namespace) -> int:
    from vad_core.io.parts import SourceParts
    from vad_core.io.sandbox import SandboxLimits
    from vad_core.io.sources import SourceSpec, open_source
    from vad_core.model.checkpoint import load_checkpoint
    from vad_core.pipeline.alerts import AlertRunner
    from vad_core.pipeline.live import LiveRun
    from vad_core.pipeline.result import SegmentRule

    options = ("follow", "realtime", "open_timeout", "read_timeout", "retries", "idle_timeout")
    spec = SourceSpec.parse(args.source, **{name: getattr(args, name) for name in options})
    with about("out"):
        out = writable_folder(args.out)
    zones = read_zones_option(args)
    alerts = AlertRunner(args.alert_cmd, args.alert_timeout, say) if args.alert_cmd else None
    model = with_zones(load_checkpoint(args.checkpoint, device=args.device), zones)
    rule = SegmentRule(args.threshold, args.min_duration, args.merge_gap)
    stop = threading.Event()
    on_stop_signal(stop.set)
    source = open_source(spec, sandbox=SandboxLimits.from_env() if args.isolate else None)
    parts = SourceParts(source, args.segment_minutes * 60) if args.segment_minutes else None
    events = _publisher(args, model, source)

    def start(run_source: Source) -> _Lines:
        """A run of its own (and its own lines: row numbers start again in each part)."""
        lines = _Lines(args.json_lines, rule, alerts, source.fps, events)
        on_scores = lines.on_scores if args.frames else None
        lines.live = LiveRun(run_source, model, rule, on_event=lines.on_event, on_scores=on_scores).start()
        return lines

    lines, done = start(parts.next_part() if parts else source), Totals()
    budget = Budget(args.max_frames, args.max_seconds)
    while _follow(lines.live, stop, budget, done) and parts is not None and not parts.ended:
        finished, lines = lines, start(parts.next_part())  # the next part reads while this one is finished
        if _write(finished, stop, out / f"part-{done.parts + 1:06d}", args.frames, end=False):
            done.add(finished.live.status(), part=True)
            for old in sorted(out.glob("part-[0-9]*"))[: -args.keep_segments]:
                shutil.rmtree(old)
    written = _write(lines, stop, out, args.frames)
    if alerts is not None:
        alerts.close(args.alert_timeout + 1)
    if events is not None:
        events.close(PUBLISH_CLOSE_S)
    return _summary(lines.live, rule, out, args.json_lines, done) if written else 0


def _publisher(args: argparse.Namespace, model: Detector, source: Source) -> LivePublisher | None:
    """The run's events into the store (unless --no-events) and out to --mqtt and --webhook; None for neither.
    The URLs are checked now; the store opens on the publisher's thread (its trouble is a warning, never fatal)."""
    from vad_core.events.live import LivePublisher, PublishTarget
    from vad_core.events.notify import make_notifiers

    notifiers = make_notifiers(args.mqtt, args.webhook, args.alert_timeout)
    if args.no_events and not notifiers:
        return None
    name = args.camera or source.name
    target = PublishTarget(args.events_url, name, "watch", store=not args.no_events, link_base=args.link_base)
    return LivePublisher(target, model, source.fps, notifiers, log=say)


def _write(lines: _Lines, stop: threading.Event, folder: Path, frames: bool, end: bool = True) -> bool:
    """Finish a run (end: stop its source; else wait for its part's last scores) and write its outputs as analyze
    does; False when it had nothing to write."""
    analysis = _finish(lines.live, stop, end)
    if analysis is None:
        return False
    if frames:
        lines.print_frames(analysis.score, analysis.frame_count)
    analysis.save(folder, lines.rule)
    if lines.events is not None:
        lines.events.recorded(analysis, lines.live.frames)
    return True


@dataclass
class Budget:
    """watch's own limits over the whole run: frames received and wall-clock seconds (None: none)."""

    max_frames: int | None
    max_seconds: float | None
    started: float = 0.0

    def __post_init__(self) -> None:
        self.started = time.monotonic()

    def spent(self, received: int) -> bool:
        over_time = self.max_seconds is not None and time.monotonic() - self.started >= self.max_seconds
        return over_time or (self.max_frames is not None and received >= self.max_frames)


@dataclass
class Totals:
    """What the parts written so far received, scored and skipped, and how many were written."""

    received: int = 0
    scored: int = 0
    dropped: int = 0
    parts: int = 0

    def add(self, status: LiveStatus, part: bool) -> None:
        self.received += status.received
        self.scored += status.scored
        self.dropped += status.dropped
        self.parts += part


def _follow(live: LiveRun, stop: threading.Event, budget: Budget, done: Totals) -> bool:
    """Until the run's part has been read (True: go on with the next part), or the source ends, a stop signal or
    the budget is spent (False); the run's notices (reconnecting...) on stderr."""
    notice, part_done = "", getattr(live.source, "done", None)
    while live.running and not stop.wait(0.25):
        status = live.status()
        if status.notice and status.notice != notice:
            notice = status.notice
            say(notice)
        if budget.spent(done.received + status.received):
            return False
        if part_done is not None and part_done.is_set() and status.state != "failed":
            return True
    # a part may be read and scored whole before the first look (the previous part's writing took a while): that
    # is a part done, not the source's end
    finished_part = part_done is not None and part_done.is_set() and live.status().state != "failed"
    return finished_part and not stop.is_set() and not budget.spent(done.received + live.status().received)


def _finish(live: LiveRun, stop: threading.Event, end: bool = True) -> Analysis | None:
    """The run's analysis; None when it was stopped before one window came (nothing to write)."""
    try:
        return live.stop() if live.running and end else live.wait()
    except BadInput:
        status = live.status()
        if status.received >= live.t:
            raise
        if stop.is_set() and status.state != "failed":
            say(f"stopped after {status.received} frames, before one window ({live.t}) was complete; nothing written")
            return None
        short = f"{live.source.name}: {status.received} frames came, fewer than one window ({live.t})"
        raise BadInput(status.message if status.state == "failed" and status.received == 0 else short) from None


def _summary(live: LiveRun, rule: SegmentRule, out: Path, json_lines: bool, done: Totals) -> int:
    """The summary line: counts over the whole watch (every part), delays and segments of the last part."""
    analysis = live.wait()
    status = live.status()
    done.add(status, part=False)
    status.received, status.scored, status.dropped = done.received, done.scored, done.dropped
    median, p95 = status.delay_quantiles()
    summary = {
        "event": "summary",
        "source": live.source.name,
        "state": status.state,
        "received": status.received,
        "scored": status.scored,
        "dropped": status.dropped,
        "parts_written": done.parts,
        "source_dropped": status.source_dropped,
        "reconnects": status.reconnects,
        "delay_median_s": median,
        "delay_p95_s": p95,
        "segments": len(analysis.segments(rule)),
        "out": str(out),
    }
    if json_lines:
        print(json.dumps(summary), flush=True)
    say(
        f"{status.state}: {status.received} frames received, {status.scored} scored, {status.dropped} skipped "
        f"(windows the machine could not keep up with), {status.source_dropped} lost by the source, "
        f"{status.reconnects} reconnects; delay median {median * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms; "
        f"{summary['segments']} segments; wrote {Path(out)}"
    )
    if status.state == "failed":  # the source gave up mid-run: what came was scored and written
        raise BadInput(status.message)
    return 0
