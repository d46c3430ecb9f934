"""The synchronized player: frame, error heatmap and score plot in one offline HTML/JS component.

    url = publish_media(key, analysis, frames)   # once per analysis: frames, maps and boxes as a file
    player(PlayerView(media=url, figure=..., ...))  # every rerun; the iframe, its frame and playback stay

Streamlit serves the component from a per-process folder that holds the page, its script and
plotly.min.js copied from the installed plotly package, so the browser never reaches a CDN.
Reruns carry only small arguments; the frames travel once, as media/<key>.json.
With a latent trajectory (Analysis.latent_trajectory()) the player also draws the latent view beside the
score plot: each frame's bottleneck state in 2-D, coloured by c(t), its current frame ringed, clickable.
"""

from __future__ import annotations

import atexit
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import TextIO

import numpy as np
import plotly
import streamlit.components.v1 as components

from app.components.images import data_url
from vad_core.errors import BadInput
from vad_core.io.tempdirs import owned_prefix, sweep_dead
from vad_core.pipeline.regions import Box, clip_regions
from vad_core.pipeline.render import HEAT_RANGE, heat_levels
from vad_core.pipeline.result import Analysis
from vad_core.scoring.latent import LatentTrajectory

SOURCE = Path(__file__).with_name("player")
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
SAFE_KEY = re.compile(r"^[0-9a-f-]+$")
MEDIA_BUDGET_BYTES = int(os.environ.get("VAD_MEDIA_BUDGET_MB") or 512) << 20
# Temporary folders this app makes, each named for its owning process (vad_core.io.tempdirs): player media,
# uploads being analyzed (VAD_UPLOAD_DIR, else the temp folder), uploads scored as a batch, exports, frame-store spills.
TEMP_PREFIXES = ("vad-player-", "vad-upload-", "vad-batch-upload-", "vad-export-", "vad-inject-", "vad_frames_")


def _serve_folder() -> Path:
    """This process's folder; first, what killed servers left in the temp folder (theirs, uploads, spills) goes."""
    for folder in {tempfile.gettempdir(), os.environ.get("VAD_UPLOAD_DIR") or tempfile.gettempdir()}:
        sweep_dead(folder, TEMP_PREFIXES)
    folder = Path(tempfile.mkdtemp(prefix=owned_prefix("vad-player-")))
    for name in ("index.html", "player.js", "player.css"):
        shutil.copy(SOURCE / name, folder / name)
    shutil.copy(PLOTLY_JS, folder / "plotly.min.js")
    (folder / "media").mkdir()
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


SERVE_DIR = _serve_folder()
_component = components.declare_component("player", path=str(SERVE_DIR))


@dataclass(frozen=True)
class PlayerView:
    """Everything the player draws besides the frames. Lists are per frame; seek jumps once per new id."""

    media: str
    figure: dict
    score: list[float | None]
    regularity: list[float | None]
    flags: list[int]
    truth: list[int] | None
    mode: str
    kind: str
    lut: list[int]
    opacity: float
    boxes: bool
    seek: dict | None = None
    latent: LatentTrajectory | None = None  # sent as {"points": [[x, y], ...], "source": "which PCA"}


def finite_list(values: np.ndarray, digits: int = 5) -> list[float | None]:
    """JSON-safe floats: JavaScript's JSON.parse rejects NaN."""
    return [round(float(v), digits) if math.isfinite(v) else None for v in values]


def publish_media(key: str, analysis: Analysis, frames: np.ndarray, budget_bytes: int = MEDIA_BUDGET_BYTES) -> str:
    """Write the clip's frames, model inputs, reconstructions, heat levels and boxes for the player.

    The file is written piece by piece (never a whole document in memory) and refused, as BadInput, once it
    passes budget_bytes (VAD_MEDIA_BUDGET_MB, 512 MB).
    """
    if not SAFE_KEY.match(key):
        raise ValueError(f"media key {key!r} must be hexadecimal")
    path = SERVE_DIR / "media" / f"{key}.json"
    if path.exists():
        return f"media/{path.name}"
    size = analysis.inputs.shape[1]
    n = analysis.frame_count
    head = {
        "frames": n,
        "fps": analysis.fps,
        "size": [int(frames.shape[2]), int(frames.shape[1])],
        "map_size": size,
        "heat_range": HEAT_RANGE,
        "boxes": [[[round(v, 4) for v in b.fraction(size)] for b in boxes] for boxes in _regions(analysis)],
    }
    lists = {
        "video": lambda i: data_url(frames[i]),
        "input": lambda i: data_url(analysis.inputs[i]),
        "recon": lambda i: data_url(analysis.recons[i]),
    }
    heat = {kind: partial(_heat_url, analysis, kind) for kind in analysis.maps}
    # A file of this writer's own, renamed into place: sessions publishing the same clip at once each
    # write a whole file, and the rename is atomic (the last one wins; they are the same document).
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".part", delete=False) as part:
        try:
            writer = _BudgetWriter(part, budget_bytes, analysis.name)
            writer.write(json.dumps(head)[:-1])
            for name, url_of in lists.items():
                writer.write(f", {json.dumps(name)}: ")
                writer.write_list(url_of, n)
            writer.write(', "heat": {')
            for index, (kind, url_of) in enumerate(heat.items()):
                writer.write(f"{', ' if index else ''}{json.dumps(kind)}: ")
                writer.write_list(url_of, n)
            writer.write("}}")
        except BaseException:
            part.close()
            Path(part.name).unlink(missing_ok=True)
            raise
    Path(part.name).replace(path)
    return f"media/{path.name}"


class _BudgetWriter:
    """Writes JSON text and refuses, as BadInput, to pass a byte budget."""

    def __init__(self, file: TextIO, budget_bytes: int, name: str) -> None:
        self.file, self.budget_bytes, self.name, self.written = file, budget_bytes, name, 0

    def write(self, text: str) -> None:
        self.written += self.file.write(text)
        if self.written > self.budget_bytes:
            raise BadInput(
                f"{self.name}: the player's frames pass {self.budget_bytes >> 20} MB; "
                "analyze a sub-range or every k-th frame"
            )

    def write_list(self, url_of: Callable[[int], str], n: int) -> None:
        self.write("[")
        for i in range(n):
            self.write(("," if i else "") + json.dumps(url_of(i)))
        self.write("]")


def _regions(analysis: Analysis) -> list[list[Box]]:
    return clip_regions(analysis.maps[analysis.scoring.kind], analysis.scoring.patch, analysis.pixel_tau)


def _heat_url(analysis: Analysis, kind: str, frame: int) -> str:
    return data_url(heat_levels(analysis.frame_map(frame, kind), analysis.pixel_tau), ".png")


def media_exists(url: str) -> bool:
    """Whether a clip's media file is still served (a stray deletion, a full disk's cleanup: analyze it again)."""
    return (SERVE_DIR / url).is_file()


def media_bytes(url: str) -> int:
    """The size of a clip's media file on disk (0 when it is gone)."""
    try:
        return (SERVE_DIR / url).stat().st_size
    except OSError:
        return 0


def withdraw_media(url: str) -> None:
    """Delete a clip's media file when the clip leaves the cache; a later open publishes it again."""
    (SERVE_DIR / url).unlink(missing_ok=True)


def player(view: PlayerView, key: str = "player") -> None:
    """Draw the player; a stable key keeps the same iframe across reruns."""
    args = asdict(view) | {"latent": latent_args(view.latent)}
    _component(key=key, default=None, **args)


def latent_args(path: LatentTrajectory | None) -> dict | None:
    """The trajectory as JSON: points rounded to 4 decimals (non-finite ones at 0), and the caption's source."""
    if path is None:
        return None
    points = np.nan_to_num(np.asarray(path.points, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    return {"points": np.round(points, 4).tolist(), "source": path.source}
