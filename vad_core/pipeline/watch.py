"""`python -m vad_core watch SOURCE`: score a live source as it plays, one JSON line per segment event.

    python -m vad_core watch rtsp://cam.local/stream --json-lines --out live --alert-cmd "./page-me --urgent"
    python -m vad_core watch recording.ts --follow            # a file still being written
    python -m vad_core watch clip.mp4 --realtime --frames     # a recorded clip at its own rate, every score

Segment lines: {"event": "open"|"close", "start", "end" (null while open), "peak", "peak_frame", "source_start",
"source_end", "start_s", "end_s", "source"}; start, end and peak_frame are scored frames (the rows of scores.csv,
as in segments.json), source_start and source_end the source's frame numbers (they differ only after skipped
windows). --frames adds {"event": "frame", ...} lines as scores settle; --json-lines ends with a
{"event": "summary", ...} line. A summary line also goes to stderr. Ctrl-C or SIGTERM stops the run; the
outputs (scores.csv, segments.json, error_maps.npz, as analyze writes them) are written in every case.
"""

from __future__ import annotations

import argparse
import json
import queue
import shlex
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from vad_core.errors import BadInput

ALERT_QUEUE = 100  # alerts waiting for a slow command; past that, new ones are reported and skipped


def add_parser(sub: argparse._SubParsersAction) -> None:
    from vad_core.cli import COUNT, FRAME, POSITIVE

    p = sub.add_parser("watch", help="score a live source (stream, device, growing file, clip) as it plays")
    p.add_argument("source", help="rtsp://, http(s):// or HLS URL, /dev/videoN, or a video file")
    p.add_argument("--checkpoint", default=None, help="checkpoint stem (default: bundled Ped2 model)")
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


class AlertRunner:
    """Runs a command (no shell: shlex.split) for each alert, one at a time in its own thread, each under a
    timeout, so a slow or hanging command never stalls scoring. Its stdout goes to our stderr."""

    def __init__(self, command: str, timeout: float, log: Callable[[str], None]) -> None:
        try:
            self.argv = shlex.split(command)
        except ValueError as err:
            raise BadInput(f"--alert-cmd {command!r}: {err}") from None
        if not self.argv or shutil.which(self.argv[0]) is None:
            raise BadInput(f"--alert-cmd: {self.argv[0] if self.argv else 'an empty command'}: command not found")
        self.timeout, self.log = timeout, log
        self.sent = self.failed = 0
        self._queue: queue.Queue = queue.Queue(maxsize=ALERT_QUEUE)
        self._thread = threading.Thread(target=self._work, name="vad-alerts", daemon=True)
        self._thread.start()

    def submit(self, payload: dict) -> None:
        try:
            self._queue.put_nowait(payload)
        except queue.Full:
            self.failed += 1
            self.log(f"alert skipped: {ALERT_QUEUE} alerts already wait for the command")

    def close(self, timeout: float) -> None:
        """Let queued alerts run, for at most about timeout seconds."""
        self._queue.put(None)
        self._thread.join(timeout)

    def _work(self) -> None:
        while (payload := self._queue.get()) is not None:
            try:
                done = subprocess.run(
                    self.argv,
                    input=json.dumps(payload) + "\n",
                    text=True,
                    stdout=sys.stderr,
                    stderr=subprocess.PIPE,
                    timeout=self.timeout,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                self.failed += 1
                self.log(f"alert command stopped after {self.timeout:g} s")
                continue
            except OSError as err:
                self.failed += 1
                self.log(f"alert command failed: {err}")
                continue
            self.sent += 1
            if done.returncode != 0:
                self.failed += 1
                last = (done.stderr or "").strip().splitlines()[-1:] or [""]
                self.log(f"alert command exited with status {done.returncode} {last[0]}".strip())


def _stop_on_signal(stop: threading.Event) -> None:
    """Ctrl-C or SIGTERM: stop the run, score what came, write the outputs. A second Ctrl-C aborts."""

    def request_stop(signum: int, frame: object) -> None:
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)


def run(args: argparse.Namespace) -> int:
    from vad_core.cli import _writable_folder
    from vad_core.io.sandbox import SandboxLimits
    from vad_core.io.sources import SourceSpec, open_source
    from vad_core.model.checkpoint import load_checkpoint
    from vad_core.pipeline.live import LiveRun, SegmentEvent
    from vad_core.pipeline.result import SegmentRule

    def say(message: str) -> None:
        print(f"watch: {message}", file=sys.stderr, flush=True)

    def emit(line: dict, text: str) -> None:
        print(json.dumps(line) if args.json_lines else text, flush=True)

    spec = SourceSpec.parse(
        args.source,
        follow=args.follow,
        realtime=args.realtime,
        open_timeout=args.open_timeout,
        read_timeout=args.read_timeout,
        retries=args.retries,
        idle_timeout=args.idle_timeout,
    )
    out = _writable_folder(args.out, "--out")
    alerts = AlertRunner(args.alert_cmd, args.alert_timeout, say) if args.alert_cmd else None
    model = load_checkpoint(args.checkpoint, device=args.device)
    rule = SegmentRule(args.threshold, args.min_duration, args.merge_gap)
    stop = threading.Event()
    _stop_on_signal(stop)
    source = open_source(spec, sandbox=SandboxLimits.from_env() if args.isolate else None)
    fps = source.fps

    def on_event(event: SegmentEvent) -> None:
        line = {"event": event.event} | event.to_dict()
        line |= {"start_s": event.source_start / fps, "end_s": None, "source": source.name}
        if event.source_end is not None:
            line["end_s"] = (event.source_end + 1) / fps
        ends = f"-{event.end}" if event.end is not None else "- (open)"
        emit(line, f"{event.event:5} frames {event.start}{ends}  peak {event.peak:.2f} at {event.peak_frame}")
        if alerts is not None and event.event == "open":
            alerts.submit(line)

    printed = 0  # --frames: rows whose final score has been printed

    def print_frames(scores: np.ndarray, upto: int) -> None:
        nonlocal printed
        frames = live.source_frames()
        for row in range(printed, min(upto, len(scores), len(frames))):
            score = float(scores[row])
            line = {"event": "frame", "row": row, "frame": int(frames[row]), "time_s": int(frames[row]) / fps}
            line |= {"score": score, "anomalous": score > rule.threshold}
            emit(line, f"frame {int(frames[row])}  c={score:.3f}")
        printed = max(printed, min(upto, len(scores)))

    def on_scores(start: int, raw: np.ndarray, provisional: np.ndarray) -> None:
        scores = live.scores()
        print_frames(scores, len(scores) - live.radius)  # frames whose smoothed score is final

    live = LiveRun(source, model, rule, on_event=on_event, on_scores=on_scores if args.frames else None)
    live.start()
    notice = ""
    while live.running and not stop.wait(0.25):
        status = live.status()
        if status.notice and status.notice != notice:
            notice = status.notice
            say(notice)
        if args.max_frames is not None and status.received >= args.max_frames:
            break
    try:
        analysis = live.stop() if live.running else live.wait()
    except BadInput:
        status = live.status()
        if status.received >= live.t:
            raise
        if stop.is_set() and status.state != "failed":
            say(f"stopped after {status.received} frames, before one window ({live.t}) was complete; nothing written")
            return 0
        short = f"{source.name}: {status.received} frames came, fewer than one window ({live.t})"
        raise BadInput(status.message if status.state == "failed" and status.received == 0 else short) from None
    if args.frames:
        print_frames(analysis.score, analysis.frame_count)
    analysis.save(out, rule)
    if alerts is not None:
        alerts.close(args.alert_timeout + 1)
    status = live.status()
    median, p95 = status.delay_quantiles()
    summary = {
        "event": "summary",
        "source": source.name,
        "state": status.state,
        "received": status.received,
        "scored": status.scored,
        "dropped": status.dropped,
        "source_dropped": status.source_dropped,
        "reconnects": status.reconnects,
        "delay_median_s": median,
        "delay_p95_s": p95,
        "segments": len(analysis.segments(rule)),
        "out": str(out),
    }
    if args.json_lines:
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
