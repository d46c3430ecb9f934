"""A saved analysis, whole: what `analyze --out` writes plus what the player needs, read back without a rerun.

write_analysis(result, folder)            # scores.csv, segments.json, error_maps.npz (Analysis.save) + analysis.npz
again = read_analysis(folder, model)      # an Analysis equal to `result` (maps at error_maps.npz's 8-bit steps)
again.score                               # the stored c(t), bit for bit

analysis.npz holds the raw frame errors of every kind, the model-size inputs and reconstructions (uint8), the
latent states and the camera-health figures; the model supplies only what its card holds (scene reference,
latent projection). No pickles: the metadata is a JSON string.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import asdict
from pathlib import Path

import numpy as np

from vad_core.errors import BadInput
from vad_core.io.framestore import iter_chunks
from vad_core.model.checkpoint import LoadedModel
from vad_core.pipeline.result import Analysis, SegmentRule
from vad_core.scoring.scores import ScoringConfig

STATE_FILE = "analysis.npz"
MAPS_FILE = "error_maps.npz"


def write_analysis(result: Analysis, folder: str | Path, rule: SegmentRule | None = None) -> Path:
    """What `analyze --out` writes (the same code), plus analysis.npz for read_analysis."""
    out = result.save(folder, rule)
    meta = {
        "name": result.name,
        "fps": result.fps,
        "source_size": list(result.source_size),
        "scoring": result.scoring.to_dict(),
        "tau": result.tau,
        "pixel_tau": result.pixel_tau,
        "seconds": result.seconds,
        "model_name": result.model_name,
        "rule": asdict(rule or result.rule),
        "first_frame": result.first_frame,
        "frame_step": result.frame_step,
        "warnings": result.warnings,
        "background": result.background,
    }
    arrays: dict[str, np.ndarray] = {"meta": np.array(json.dumps(meta))}
    arrays |= {f"error.{key}": np.asarray(value) for key, value in result.frame_errors.items()}
    arrays |= {f"health.{key}": np.asarray(value) for key, value in (result.health or {}).items()}
    arrays["inputs"] = np.concatenate(list(iter_chunks(result.inputs)))
    arrays["recons"] = np.concatenate(list(iter_chunks(result.recons)))
    if result.latent is not None:
        arrays["latent"] = np.concatenate(list(iter_chunks(result.latent)))
        arrays["latent_position"] = np.asarray(result.latent_position)
    _write_npz(out / STATE_FILE, arrays)
    return out


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """np.savez_compressed's format at zlib level 1: half the CPU time of its default level, 13 % larger."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, value in arrays.items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asanyarray(value), allow_pickle=False)


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise BadInput(f"{path.parent.name}: {path.name} is missing (not a batch result folder?)")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise BadInput(f"{path.parent.name}/{path.name} is unreadable ({err})") from err


def read_analysis(folder: str | Path, model: LoadedModel | None = None) -> Analysis:
    """The Analysis write_analysis saved; its card's scene reference and latent projection from model."""
    folder = Path(folder)
    state = _load_npz(folder / STATE_FILE)
    maps = _load_npz(folder / MAPS_FILE)
    meta = json.loads(str(state.pop("meta")))
    scale = float(maps.pop("scale"))
    latent = state.pop("latent", None)
    return Analysis(
        name=meta["name"],
        fps=meta["fps"],
        source_size=tuple(meta["source_size"]),
        scoring=ScoringConfig.from_dict(meta["scoring"]),
        tau=meta["tau"],
        pixel_tau=meta["pixel_tau"],
        frame_errors={k.removeprefix("error."): v for k, v in state.items() if k.startswith("error.")},
        maps={kind: (levels.astype(np.float32) * (scale / 255.0)).astype(np.float16) for kind, levels in maps.items()},
        inputs=state["inputs"],
        recons=state["recons"],
        seconds=meta["seconds"],
        model_name=meta["model_name"],
        rule=SegmentRule(**meta["rule"]),
        first_frame=meta["first_frame"],
        frame_step=meta["frame_step"],
        warnings=list(meta["warnings"]),
        latent=latent,
        latent_position=state.get("latent_position"),
        latent_projection=model.projection if model is not None else None,
        scene_reference=model.scene if model is not None else None,
        background=meta["background"],
        health={k.removeprefix("health."): v for k, v in state.items() if k.startswith("health.")} or None,
    )
