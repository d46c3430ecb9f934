"""The live figure: a 640x360 camera played at rising frame rates through LiveRun, the engine `watch` runs: the
highest rate scored in full, and the delay from a frame's arrival to its score.

report = live_check(clip, [10.0, 25.0], seconds=8.0, say=print)
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from vad_core.bench.clips import make_live_clip
from vad_core.bench.models import bundled_or_random, bundled_size
from vad_core.errors import BadInput
from vad_core.io.sources import FileSource
from vad_core.pipeline.live import LiveRun

LIVE_SIZE = (640, 360)
LIVE_GOAL_FPS = 25.0
LIVE_GOAL_MARGIN_S = 0.2  # the goal: median delay under one window (T frames at the source rate) plus this


def live_rates(text: str) -> list[float]:
    """The camera rates to try, sorted: "10,25" -> [10.0, 25.0]."""
    try:
        rates = sorted({float(r) for r in text.split(",") if r.strip()})
    except ValueError:
        rates = []
    if not rates or min(rates) <= 0 or max(rates) > 1000:
        raise BadInput(f"{text!r}: give comma-separated frame rates between 0 and 1000", option="live_rates")
    return rates


def live_check(video: Path, rates: list[float], seconds: float, say: Callable[[str], None]) -> dict:
    """The bundled autoencoder (else a random one at 131 px) scoring a 640x360 camera at each rate: frames received,
    scored and dropped (whole windows), and the delay from a frame's arrival to its score."""
    model = bundled_or_random(bundled_size() or 131)
    t = model.window
    out: dict = {
        "model": model.name,
        "input_size": model.cfg.input_size,
        "source": f"{video.name} looped, upscaled to {LIVE_SIZE[0]}x{LIVE_SIZE[1]}, H.264, decoded as it plays",
        "seconds_per_rate": seconds,
        "rates": {},
    }
    with tempfile.TemporaryDirectory(prefix="vad_bench_live_") as tmp:
        frames = max(t, round(max(rates) * seconds))
        clip = make_live_clip(Path(tmp) / "camera.mp4", video, frames, LIVE_SIZE)
        for rate in rates:
            count = max(t, round(rate * seconds)) // t * t  # whole windows: a partial last one is not a drop
            source = FileSource(clip, realtime=True, fps=rate)
            limited = _FirstFrames(source, count)
            run = LiveRun(limited, model).start()
            run.wait()
            status = run.status()
            median, p95 = status.delay_quantiles()
            row = {
                "received": status.received,
                "scored": status.scored,
                "dropped": status.dropped,
                "in_full": status.dropped == 0 and status.scored == count,
                "delay_median_s": median,
                "delay_p95_s": p95,
                "window_s": t / rate,
            }
            out["rates"][f"{rate:g}"] = row
            say(f"  live {rate:g} fps: {status.scored}/{count} scored, median delay {median * 1000:.0f} ms")
    full = [float(r) for r, row in out["rates"].items() if row["in_full"]]
    out["highest_rate_in_full"] = max(full, default=0.0)
    out["highest_rate_is_the_top_tried"] = out["highest_rate_in_full"] == max(rates)  # then it is a lower bound
    goal = out["rates"].get(f"{LIVE_GOAL_FPS:g}")
    if goal is not None:
        out["goal"] = {
            "fps": LIVE_GOAL_FPS,
            "in_full": goal["in_full"],
            "delay_median_s": goal["delay_median_s"],
            "delay_p95_s": goal["delay_p95_s"],
            "delay_limit_s": t / LIVE_GOAL_FPS + LIVE_GOAL_MARGIN_S,
        }
    return out


class _FirstFrames:
    """A source's first `count` frames (the bench's camera plays a fixed number of seconds)."""

    def __init__(self, source: object, count: int) -> None:
        self.source, self.count = source, count
        self.name, self.fps, self.stats = source.name, source.fps, source.stats

    def frames(self) -> Iterator:
        frames = self.source.frames()
        try:
            yield from itertools.islice(frames, self.count)
        finally:
            frames.close()

    def close(self) -> None:
        self.source.close()


def live_acceptance(live: dict) -> dict:
    goal = live.get("goal")
    if goal is None:
        return {}
    return {
        "live_25fps_640x360_in_full": goal["in_full"],
        "live_median_delay_under_window_plus_200ms": goal["delay_median_s"] < goal["delay_limit_s"],
    }
