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
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import plotly
import streamlit.components.v1 as components

from app.components.images import data_url
from vad_core.analysis import Analysis
from vad_core.latent import LatentTrajectory
from vad_core.regions import clip_regions
from vad_core.render import HEAT_RANGE, heat_levels

SOURCE = Path(__file__).with_name("player")
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
SAFE_KEY = re.compile(r"^[0-9a-f-]+$")


def _serve_folder() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="vad-player-"))
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


def publish_media(key: str, analysis: Analysis, frames: np.ndarray) -> str:
    """Write the clip's frames, model inputs, reconstructions, heat levels and boxes for the player."""
    if not SAFE_KEY.match(key):
        raise ValueError(f"media key {key!r} must be hexadecimal")
    path = SERVE_DIR / "media" / f"{key}.json"
    if not path.exists():
        size = analysis.inputs.shape[1]
        doc = {
            "frames": analysis.frame_count,
            "fps": analysis.fps,
            "size": [int(frames.shape[2]), int(frames.shape[1])],
            "map_size": size,
            "heat_range": HEAT_RANGE,
            "video": [data_url(f) for f in frames],
            "input": [data_url(x) for x in analysis.inputs],
            "recon": [data_url(r) for r in analysis.recons],
            "heat": {
                kind: [data_url(heat_levels(analysis, i, kind), ".png") for i in range(analysis.frame_count)]
                for kind in analysis.maps
            },
            "boxes": [[[round(v, 4) for v in b.fraction(size)] for b in boxes] for boxes in clip_regions(analysis)],
        }
        # A file of this writer's own, renamed into place: sessions publishing the same clip at once each
        # write a whole file, and the rename is atomic (the last one wins; they are the same document).
        with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".part", delete=False) as partial:
            partial.write(json.dumps(doc))
        Path(partial.name).replace(path)
    return f"media/{path.name}"


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
