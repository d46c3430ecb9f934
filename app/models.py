"""Which models the app offers: the default model (bundled Ped2, or VAD_CHECKPOINT) and the user's own.

    folder = models_folder()          # VAD_MODELS_DIR, else ~/.local/share/vad/models
    for entry in available_models():  # the default first, then the user's models, newest first
        print(entry.label, entry.stem)

A user model is a STEM.safetensors plus STEM.json pair in the models folder, as `vad_core train --out` writes it;
the folder lives outside the package, so trained models survive upgrades and reinstalls.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from app.state import checkpoint_stem
from vad_core import BadInput

MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class ModelEntry:
    """A model the user can pick: its label in the picker and its checkpoint stem."""

    label: str
    stem: Path


def models_folder() -> Path:
    """Where models trained in the app go: VAD_MODELS_DIR, else $XDG_DATA_HOME/vad/models (~/.local/share)."""
    configured = os.environ.get("VAD_MODELS_DIR")
    if configured:
        return Path(configured).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data_home) / "vad" / "models"


def user_models() -> list[Path]:
    """Checkpoint stems in the models folder that have both files, newest first."""
    folder = models_folder()
    if not folder.is_dir():
        return []
    cards = [p for p in folder.glob("*.json") if p.with_suffix(".safetensors").is_file()]
    return [p.with_suffix("") for p in sorted(cards, key=lambda p: p.stat().st_mtime, reverse=True)]


def available_models() -> list[ModelEntry]:
    """The default model first (labelled as bundled when it is), then the user's models."""
    default = checkpoint_stem()
    label = f"{default.name} (bundled, UCSD Ped2)" if "VAD_CHECKPOINT" not in os.environ else default.name
    entries = [ModelEntry(label, default)]
    entries += [ModelEntry(f"{stem.name} (yours)", stem) for stem in user_models() if stem != default]
    return entries


def check_model_name(name: str) -> None:
    """A name that is safe as a file name and not taken yet, else BadInput saying what to change."""
    if not MODEL_NAME.match(name):
        raise BadInput(
            f"{name!r} is not a usable model name: use 1-64 letters, digits, '-', '_' or '.', "
            "starting with a letter or digit"
        )
    if (models_folder() / f"{name}.json").exists():
        raise BadInput(f"a model named {name!r} exists already in {models_folder()}; choose another name")
    from vad_core.checkpoint import new_checkpoint_paths  # torch comes with it: imported when a name is checked

    new_checkpoint_paths(models_folder() / name)  # the library's rule: no reserved suffix, neither file exists
