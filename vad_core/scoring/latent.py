"""The latent view: each frame's bottleneck state, projected to 2-D by a PCA fitted on normal frames.

projection = LatentProjection.fit(normal_latents, positions)   # (N, D) pooled bottleneck states, (N,) places
xy = projection.project(result.latent, result.latent_position)  # (N, 2): a trajectory
path = trajectory(result.latent, result.latent_position, result.score, model.projection)   # or the clip's own PCA

The latents are the middle ConvLSTM's output (the encoder's, for a model without a temporal block),
average-pooled to a LATENT_GRID x LATENT_GRID grid per channel: C * 16 numbers a frame, kept as float16.
The ConvLSTM starts every T-frame window from a zero state, so its output also depends on the frame's place
in its window (the first place most); each place is centred on its own mean over normal frames, so that the
trajectory follows the scene and not the window tiling (without it, it jumps every T frames).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vad_core.errors import BadInput
from vad_core.io.card_arrays import decode_array, encode_array
from vad_core.io.framestore import iter_chunks

LATENT_GRID = 4  # bottleneck maps (14 x 14 at 131 px) are pooled to 4 x 4 per channel
MIN_FIT_FRAMES = 3  # a 2-D PCA needs at least three points to mean anything
MAX_FIT_FRAMES = 5000  # a clip's own PCA is fitted on at most this many of its frames, evenly spaced


def _places(positions: np.ndarray | None, n: int) -> np.ndarray:
    return np.zeros(n, np.int64) if positions is None else np.asarray(positions, dtype=np.int64)


@dataclass(frozen=True)
class LatentProjection:
    """PCA to two dimensions of latents centred per window place: project(z)[i] = (z[i] - mean[p_i]) @ components.T,
    p_i the frame's place in its window. explained is each axis's share of the variance."""

    mean: np.ndarray  # (P, D): the mean latent at each window place (P = T; P = 1 without places)
    components: np.ndarray  # (2, D)
    explained: np.ndarray  # (2,)
    frames: int = 0  # how many frames it was fitted on

    @classmethod
    def fit(
        cls, features: np.ndarray, positions: np.ndarray | None = None, places: int | None = None
    ) -> LatentProjection:
        """Fit on (N, D) latents, N >= 3. positions: each frame's place in its window (None: all alike);
        places: how many there are (default: the largest + 1). A place without frames gets the overall mean."""
        from sklearn.decomposition import PCA  # imported when used: the app and the CLI start faster

        z = np.asarray(features, dtype=np.float32)
        if z.ndim != 2 or len(z) < MIN_FIT_FRAMES:
            raise BadInput(f"a latent projection needs at least {MIN_FIT_FRAMES} frames of (N, D) latents")
        pos = _places(positions, len(z))
        means = np.repeat(z.mean(axis=0, keepdims=True), places or int(pos.max()) + 1, axis=0)
        for place in np.unique(pos):
            means[place] = z[pos == place].mean(axis=0)
        pca = PCA(n_components=2, svd_solver="full").fit(z - means[pos])
        return cls(
            mean=(means + pca.mean_).astype(np.float32),  # the PCA's own centring (about 0) folded in
            components=pca.components_.astype(np.float32),
            explained=pca.explained_variance_ratio_.astype(np.float32),
            frames=len(z),
        )

    @property
    def dims(self) -> int:
        return int(self.mean.shape[1])

    @property
    def places(self) -> int:
        return int(self.mean.shape[0])

    def project(self, features: np.ndarray, positions: np.ndarray | None = None) -> np.ndarray:
        """(N, D) latents (an array or a spilled memory map, read in chunks) and their places -> float32 (N, 2)."""
        if features.ndim != 2 or features.shape[1] != self.dims:
            shape = tuple(features.shape)
            raise BadInput(f"latents of shape {shape} do not fit a projection fitted on {self.dims} dimensions")
        pos = _places(positions, len(features))
        if len(pos) != len(features) or (len(pos) and (pos.min() < 0 or pos.max() >= self.places)):
            raise BadInput(f"window places must be one per frame, in 0..{self.places - 1}")
        parts, start = [], 0
        for chunk in iter_chunks(features, 4096):
            centred = chunk.astype(np.float32) - self.mean[pos[start : start + len(chunk)]]
            parts.append(centred @ self.components.T)
            start += len(chunk)
        return np.concatenate(parts) if parts else np.zeros((0, 2), np.float32)

    def to_dict(self) -> dict:
        return {
            "method": f"PCA(2) of the bottleneck state average-pooled to {LATENT_GRID}x{LATENT_GRID} per channel, "
            "each place in the window centred on its own mean",
            "frames": self.frames,
            "explained": [round(float(v), 6) for v in self.explained],
            "mean": encode_array(self.mean),
            "components": encode_array(self.components),
        }

    @classmethod
    def from_dict(cls, data: dict) -> LatentProjection:
        """The card's entry back; ValueError (with what is wrong) for a malformed one."""
        if not isinstance(data, dict):
            raise ValueError("latent_projection must be an object")
        mean = decode_array(data.get("mean"), "latent_projection.mean")
        components = decode_array(data.get("components"), "latent_projection.components")
        mean = mean[None] if mean.ndim == 1 else mean
        explained = np.asarray(data.get("explained", [0.0, 0.0]), dtype=np.float32)
        if mean.ndim != 2 or components.shape != (2, mean.shape[1]) or explained.shape != (2,):
            raise ValueError(f"latent_projection shapes do not fit: mean {mean.shape}, components {components.shape}")
        return cls(mean, components, explained, int(data.get("frames", 0)))


@dataclass(frozen=True)
class LatentTrajectory:
    """A clip's frames as 2-D points, and which PCA placed them (for the plot's caption)."""

    points: np.ndarray  # float32 (N, 2)
    source: str


def trajectory(
    latent: np.ndarray,
    positions: np.ndarray | None,
    score: np.ndarray,
    projection: LatentProjection | None = None,
    cut: float = 1.0,
) -> LatentTrajectory:
    """The model's projection (fitted on held-out normal frames) when it has one that fits; otherwise a PCA
    fitted on this clip's own frames with c(t) < cut (all frames when fewer than three are below)."""
    pos = _places(positions, len(latent))
    if projection is not None and projection.dims == latent.shape[1] and pos.max(initial=0) < projection.places:
        source = f"PCA fitted on {projection.frames} held-out normal frames (model card)"
        return LatentTrajectory(projection.project(latent, pos), source)
    below = np.flatnonzero(np.asarray(score) < cut)
    if len(below) >= MIN_FIT_FRAMES:
        source = f"PCA fitted on this clip's {len(below)} frames with c < {cut:g} (the model card has none)"
    else:
        below = np.arange(len(latent))
        source = f"PCA fitted on all of this clip's frames (the model card has none; few have c < {cut:g})"
    if len(below) > MAX_FIT_FRAMES:
        below = below[np.linspace(0, len(below) - 1, MAX_FIT_FRAMES).round().astype(int)]
    fitted = LatentProjection.fit(latent[below], pos[below], int(pos.max(initial=0)) + 1)
    return LatentTrajectory(fitted.project(latent, pos), source)
