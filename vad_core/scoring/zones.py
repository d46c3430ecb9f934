"""Zones: polygons of a camera's frame where anomalies are ignored (a road, a swaying tree) or the only places
that count (a doorway), in the video's pixel coordinates; they mask the error maps before e(t) is taken.

zones = read_zones("cam.zones.json")           # {"ignore": [[[x, y], ...], ...], "only": [...]}
mask = zones.place_mask((360, 240), 131)        # float32 (131, 131): 1 where a place counts, 0 where masked
zones.zone_at(120.0, 80.0)                      # "ignore 1", "only 2" or None
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from vad_core.errors import BadInput, parse_json

MAX_ZONES_BYTES = 1 << 20  # 64 polygons of 256 points fit in well under 1 MB of JSON
MAX_POLYGONS = 64
MAX_POINTS = 256
MAX_COORDINATE = 1e5  # larger than any frame the limits let through (vad_core.io.limits)
ZONE_KINDS = ("ignore", "only")
Polygon = list[tuple[float, float]]


@dataclass(frozen=True)
class Zones:
    """Ignore and only-count polygons in source pixels; empty zones mask nothing."""

    ignore: list[Polygon] = field(default_factory=list)
    only: list[Polygon] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.ignore or self.only)

    def to_dict(self) -> dict[str, list[list[list[float]]]]:
        return {kind: [[[x, y] for x, y in polygon] for polygon in getattr(self, kind)] for kind in ZONE_KINDS}

    def to_json(self) -> str:
        return json.dumps(self.to_dict()) + "\n"

    def place_mask(self, source_size: tuple[int, int], map_size: int) -> np.ndarray:
        """float32 (map_size, map_size): 1 where a place counts, 0 where masked. Drawn at source size (width,
        height), then resized to the model's square as the frames are (vad_core.io.video.resize_scale), so a
        polygon's edge is a fraction where it cuts a map pixel."""
        width, height = source_size
        if width < 1 or height < 1:
            raise BadInput("zones need the video's frame size, and it is not known here")
        counts = np.full((height, width), 0 if self.only else 255, np.uint8)
        for kind, value in (("only", 255), ("ignore", 0)):  # ignore wins inside an only-count zone
            for polygon in getattr(self, kind):
                cv2.fillPoly(counts, [np.round(np.asarray(polygon)).astype(np.int32)], value)
        interp = cv2.INTER_AREA if height > map_size or width > map_size else cv2.INTER_LINEAR
        return cv2.resize(counts, (map_size, map_size), interpolation=interp).astype(np.float32) / 255.0

    def zone_at(self, x: float, y: float) -> str | None:
        """The zone a source pixel lies in: "ignore N" first, else "only N" (N counted from 1), else None."""
        for kind in ("ignore", "only"):
            for index, polygon in enumerate(getattr(self, kind), start=1):
                contour = np.asarray(polygon, np.float32).reshape(-1, 1, 2)
                if cv2.pointPolygonTest(contour, (float(x), float(y)), False) >= 0:
                    return f"{kind} {index}"
        return None


def _polygon(points: object, where: str) -> Polygon:
    if not isinstance(points, list) or not 3 <= len(points) <= MAX_POINTS:
        raise BadInput(f"{where} must be a list of 3 to {MAX_POINTS} [x, y] points")
    polygon = []
    for point in points:
        if not (isinstance(point, list) and len(point) == 2):
            raise BadInput(f"{where} holds {str(point)[:40]!r}, not an [x, y] point")
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in point):
            raise BadInput(f"{where} holds {str(point)[:40]!r}: x and y must be numbers")
        x, y = float(point[0]), float(point[1])
        if not (math.isfinite(x) and math.isfinite(y) and abs(x) <= MAX_COORDINATE and abs(y) <= MAX_COORDINATE):
            raise BadInput(f"{where} holds [{x}, {y}]: coordinates must be finite pixels within {MAX_COORDINATE:g}")
        polygon.append((x, y))
    return polygon


def zones_from_dict(document: object, what: str = "zones") -> Zones:
    """Zones from {"ignore": [polygon, ...], "only": [polygon, ...]} (either key may be left out); BadInput naming
    what is wrong for anything else."""
    if not isinstance(document, dict):
        raise BadInput(f'{what} must be a JSON object {{"ignore": [polygon, ...], "only": [polygon, ...]}}')
    unknown = sorted(set(document) - set(ZONE_KINDS))
    if unknown:
        raise BadInput(f"{what} has unknown key {unknown[0]!r}; only 'ignore' and 'only' are read")
    lists = {kind: document.get(kind, []) for kind in ZONE_KINDS}
    for kind, polygons in lists.items():
        if not isinstance(polygons, list):
            raise BadInput(f"{what}: {kind!r} must be a list of polygons")
    if sum(len(p) for p in lists.values()) > MAX_POLYGONS:
        raise BadInput(f"{what} has more than {MAX_POLYGONS} polygons")
    parsed = {
        kind: [_polygon(points, f"{what}: {kind} polygon {i}") for i, points in enumerate(polygons, start=1)]
        for kind, polygons in lists.items()
    }
    return Zones(**parsed)


def read_zones(path: str | Path) -> Zones:
    """A zones file (the format of zones_from_dict), refused past MAX_ZONES_BYTES before it is read."""
    path = Path(path)
    try:
        with path.open("rb") as f:  # read to the cap only: a device or a pipe may never end
            data = f.read(MAX_ZONES_BYTES + 1)
    except OSError as err:
        raise BadInput(f"cannot read zones file {path.name} ({err.strerror or err})") from err
    if len(data) > MAX_ZONES_BYTES:
        raise BadInput(f"{path.name} is larger than {MAX_ZONES_BYTES >> 20} MB; a zones file is a few KB")
    return zones_from_dict(parse_json(data, path.name), path.name)
