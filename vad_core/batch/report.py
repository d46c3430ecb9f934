"""report.html: one self-contained page for people who will never run the app; nothing is fetched off the file.

path = write_report(Path("batch_out"), model)   # batch_out/report.html

It holds the ranked table (by peak c(t), then anomalous seconds), a small multiple of each video's c(t) as
inline SVG, and for each of the worst segments its peak frame with the error heatmap and boxes (the same
drawing as the app's export, vad_core.pipeline.render), as an inline PNG. No script, no stylesheet, no font: the
page renders offline, from a mail attachment or a shared drive.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from vad_core.batch.outputs import VideoRecord, atomic_write, load_records, load_summary
from vad_core.batch.stored import read_analysis
from vad_core.errors import BadInput
from vad_core.io.video import stream_raw_gray
from vad_core.model.checkpoint import Detector
from vad_core.pipeline.render import HeatStyle, preview_shape, render_frame

REPORT = "report.html"
KEY_FRAMES = 8  # worst segments shown with their key frame
MULTIPLES = 60  # small multiples drawn, worst first
STYLE = """
body{font-family:system-ui,sans-serif;margin:24px;color:#1d2330;background:#fafbfc}
h1{margin-bottom:4px} .muted{color:#667085} table{border-collapse:collapse;font-size:14px}
th,td{padding:4px 10px;border-bottom:1px solid #e4e7ec;text-align:right} th:first-child,td:first-child{text-align:left}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:12px}
.cell{background:#fff;border:1px solid #e4e7ec;border-radius:6px;padding:8px}
.cell b{font-size:13px} .key{display:grid;grid-template-columns:repeat(auto-fill,minmax(380px,1fr));gap:16px}
.key img{max-width:100%;border-radius:4px} .bad{color:#b42318}
"""


def _svg(score: np.ndarray, flags: np.ndarray, width: int = 250, height: int = 70, threshold: float = 1.0) -> str:
    """c(t) as an inline SVG polyline, anomalous frames shaded, the threshold dotted."""
    n = max(len(score), 1)
    top = max(float(np.nanmax(score)) if len(score) else 0.0, threshold) * 1.1 or 1.0

    def x(i: float) -> float:
        return round(i / max(n - 1, 1) * (width - 2) + 1, 1)

    def y(v: float) -> float:
        return round(height - 2 - (height - 4) * min(float(v), top) / top, 1)

    shading = []
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    for start, end in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
        shading.append(f'<rect x="{x(start)}" y="0" width="{max(x(end - 1) - x(start), 1)}" height="{height}" '
                       'fill="#f04438" fill-opacity="0.18"/>')  # fmt: skip
    points = " ".join(f"{x(i)},{y(v)}" for i, v in enumerate(np.nan_to_num(score)))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">'
        f'<rect width="{width}" height="{height}" fill="#f5f7fa"/>{"".join(shading)}'
        f'<line x1="0" x2="{width}" y1="{y(threshold)}" y2="{y(threshold)}" stroke="#d4a017" stroke-dasharray="3 3"/>'
        f'<polyline points="{points}" fill="none" stroke="#2e6fd8" stroke-width="1.3"/></svg>'
    )


def _png(rgb: np.ndarray) -> str:
    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise BadInput("could not encode a key frame")
    return "data:image/png;base64," + base64.b64encode(data.tobytes()).decode()


def _frames_at(path: Path, wanted: set[int], fallback: np.ndarray) -> tuple[dict[int, np.ndarray], bool]:
    """{row: gray frame fitted to the player's box} for the wanted rows, decoded from the video; the stored
    model-size frames when the video is not readable here (False then)."""
    found: dict[int, np.ndarray] = {}
    try:
        for i, gray in enumerate(stream_raw_gray(path, threads=1)):
            if i in wanted:
                h, w = preview_shape(*gray.shape[:2])
                found[i] = cv2.resize(gray, (w, h), interpolation=cv2.INTER_AREA) if (h, w) != gray.shape else gray
                if len(found) == len(wanted):
                    break
    except (BadInput, OSError):
        found = {}
    if len(found) == len(wanted):
        return found, True
    return {i: np.asarray(fallback[i]) for i in wanted}, False


def _key_frames(root: Path, records: dict[str, VideoRecord], segments: pd.DataFrame, model: Detector) -> str:
    worst = segments[segments["kind"] == "anomaly"].sort_values("peak", ascending=False).head(KEY_FRAMES)
    cells = []
    for video, group in worst.groupby("video", sort=False):
        record = records[video]
        analysis = read_analysis(record.location(root), model)
        rows = {int(r) for r in group["peak_frame"]}
        frames, decoded = _frames_at(Path(record.path), rows, analysis.inputs)
        for seg in group.itertuples():
            # render_frame reads frames[i] only: a mapping of the few rows it draws is enough
            image = render_frame(analysis, frames, int(seg.peak_frame), HeatStyle())  # type: ignore[arg-type]
            source = "" if decoded else " (model-size frame: the video was not readable here)"
            cells.append(
                f'<figure class="cell"><img alt="{html.escape(video)} frame {seg.peak_frame}" src="{_png(image)}">'
                f"<figcaption><b>{html.escape(video)}</b> frames {seg.start}-{seg.end} "
                f"({seg.start_s:.1f}-{seg.end_s:.1f} s), peak c = {seg.peak:.2f} at frame {seg.peak_frame}"
                f"{source}</figcaption></figure>"
            )
    return f'<div class="key">{"".join(cells)}</div>' if cells else "<p>No anomalous segment in this batch.</p>"


def render_report(root: Path, model: Detector) -> str:
    """The report of a batch output folder, as one HTML string."""
    summary = load_summary(root)
    records = load_records(root)
    frames = pd.read_parquet(root / "frames.parquet")
    segments = pd.read_parquet(root / "segments.parquet")
    by_video = {name: group for name, group in frames.groupby("video", sort=False)}
    rows = "".join(
        f"<tr><td>{i}</td><td>{html.escape(r.video)}</td><td>{r.peak:.2f}</td><td>{r.peak_frame}</td>"
        f"<td>{r.anomalous_seconds:.1f}</td><td>{r.segments}</td><td>{r.frames}</td>"
        f"<td>{'familiar' if (r.scene or {}).get('familiar', True) else '<b class=bad>unfamiliar</b>'}</td></tr>"
        for i, r in enumerate(records, 1)
    )
    cells = "".join(
        f'<div class="cell"><b>{html.escape(r.video)}</b> <span class="muted">peak {r.peak:.2f} · '
        f"{r.anomalous_seconds:.1f} s</span><br>"
        f"{_svg(by_video[r.video]['score'].to_numpy(), by_video[r.video]['anomalous'].to_numpy())}</div>"
        for r in records[:MULTIPLES]
        if r.video in by_video
    )
    failed = "".join(f"<li>{html.escape(f['reason'])}</li>" for f in summary.get("failed", []))
    model_info = summary.get("model", {})
    total = summary.get("frames_total", sum(r.frames for r in records))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>Batch report: {len(records)} videos</title><style>{STYLE}</style></head><body>
<h1>Batch report</h1>
<p class="muted">{len(records)} videos scored ({total} frames), {len(summary.get("failed", []))} failed ·
model <code>{html.escape(str(model_info.get("name")))}</code> ({html.escape(str(model_info.get("hash")))}) ·
c(t) = e(t) / τ, above 1 is beyond anything normal footage produced</p>
{f"<h2>Failed</h2><ul>{failed}</ul>" if failed else ""}
<h2>Videos, worst first</h2>
<table><thead><tr><th>#</th><th>video</th><th>peak c(t)</th><th>peak frame</th><th>anomalous s</th>
<th>segments</th><th>frames</th><th>scene</th></tr></thead><tbody>{rows}</tbody></table>
<h2>c(t) of each video</h2><div class="grid">{cells}</div>
<h2>The worst segments, at their peak frame</h2>{_key_frames(root, {r.video: r for r in records}, segments, model)}
</body></html>
"""


def write_report(root: str | Path, model: Detector) -> Path:
    """Write DIR/report.html (atomically) and return its path."""
    root = Path(root)
    path = root / REPORT
    atomic_write(path, render_report(root, model))
    return path
