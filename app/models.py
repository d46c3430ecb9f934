"""Which models the app offers (the default model, the bundled autoencoder, then the user's own), who trained them,
and the folder's upkeep.

    folder = models_folder()          # VAD_MODELS_DIR, else ~/.local/share/vad/models
    for entry in available_models():  # the default first (then the bundled autoencoder), the user models, newest first
        print(entry.label, entry.stem)   # "my-cam (trained by session 3f2a)"

A user model is a STEM.safetensors plus STEM.json pair in the models folder, as `vad_core train --out` writes it;
the folder lives outside the package, so trained models survive upgrades and reinstalls. STEM.trainer records
which browser session trained it. sweep_models_folder removes what a killed server left behind: staging folders
of runs that no process holds any more, and halves of model pairs.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from app.state import checkpoint_stem
from vad_core import BUNDLED_AUTOENCODER, BadInput
from vad_core.io.paths import data_home

LOG = logging.getLogger(__name__)
MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
RESERVED_ENDINGS = (".resume", ".trainer")  # a model named so would collide with another model's side files
SESSION_KEY = "vad_session"  # this browser session's private id, from which its public label is derived
TRAINER_SUFFIX = ".trainer"  # STEM.trainer: {"session": label, "owner_sha256": ...} of the session that trained it
RESUME_SUFFIX = ".resume.safetensors"  # what vad_core.training.train saves every minute while it trains
STAGING_PREFIX = ".staging-"  # a run's staging folder: its lock file, its model's name, its uploaded clips
RUN_LOCK = "run.lock"  # flock-ed by the server (and its training child) while the run lives
RUN_MODEL = "model"  # the name of the model the run writes
TEMP_MARKERS = re.compile(r"(^tmp|\.tmp|\.part$|\.partial$)")  # interrupted writes
KIND_NOTES = {"autoencoder": "autoencoder", "motion": "motion detector", "fused": "fused: autoencoder + motion"}


@dataclass(frozen=True)
class ModelEntry:
    """A model the user can pick: its label in the picker, its checkpoint stem and its kind of detector."""

    label: str
    stem: Path
    kind: str = "autoencoder"


def models_folder() -> Path:
    """Where models trained in the app go: VAD_MODELS_DIR, else $XDG_DATA_HOME/vad/models (~/.local/share)."""
    configured = os.environ.get("VAD_MODELS_DIR")
    if configured:
        return Path(configured).expanduser()
    return data_home() / "models"


def session_token() -> str:
    """This browser session's private id, created on first use ('' outside a Streamlit script run). It decides
    who may cancel a run; it is never shown: the page shows session_label(token)."""
    if get_script_run_ctx() is None:
        return ""
    return st.session_state.setdefault(SESSION_KEY, secrets.token_hex(16))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def session_label(token: str) -> str:
    """The public name of a session: 'session 3f2a' (from a hash: the label does not give the token away)."""
    return f"session {_digest(token)[:4]}"


def record_trainer(stem: Path, token: str) -> None:
    """Write STEM.trainer: which session trained the model at stem (written whole, then renamed into place)."""
    record = {"session": session_label(token), "owner_sha256": _digest(token)}
    partial = stem.with_name(f"{stem.name}{TRAINER_SUFFIX}.tmp")
    partial.write_text(json.dumps(record) + "\n")
    partial.replace(stem.with_name(stem.name + TRAINER_SUFFIX))


def _trained_by(stem: Path, token: str) -> str:
    """'trained in this session', 'trained by session 3f2a', or where no session is recorded (a CLI run, an older
    app), 'in the models folder'."""
    try:
        record = json.loads(stem.with_name(stem.name + TRAINER_SUFFIX).read_text())
    except (OSError, ValueError):
        return "in the models folder"
    if not isinstance(record, dict) or not isinstance(record.get("session"), str):
        return "in the models folder"
    if token and record.get("owner_sha256") == _digest(token):
        return "trained in this session"
    return f"trained by {record['session']}"


def user_models() -> list[Path]:
    """Checkpoint stems in the models folder that have both files, newest first."""
    folder = models_folder()
    if not folder.is_dir():
        return []
    cards = [p for p in folder.glob("*.json") if p.with_suffix(".safetensors").is_file()]
    return [p.with_suffix("") for p in sorted(cards, key=lambda p: p.stat().st_mtime, reverse=True)]


def _kind(stem: Path) -> str:
    """The kind of detector the card at stem says ("autoencoder" for cards from before kinds), read from its JSON
    alone, so listing the models loads none of them."""
    try:
        kind = json.loads(stem.with_name(stem.name + ".json").read_text()).get("kind")
    except (OSError, ValueError, AttributeError):
        kind = None
    return kind if isinstance(kind, str) and kind else "autoencoder"


def _bundled_label(stem: Path, kind: str, which: str) -> str:
    """'ped2-fused (bundled default, UCSD Ped2; fused: autoencoder + motion)'."""
    return f"{stem.name} ({which}, UCSD Ped2; {KIND_NOTES.get(kind, kind)})"


def _has_files(stem: Path) -> bool:
    """Whether both files of the checkpoint at stem exist (the card's JSON is read only for its kind)."""
    return stem.with_name(stem.name + ".json").is_file() and stem.with_name(stem.name + ".safetensors").is_file()


def available_models() -> list[ModelEntry]:
    """The default model first, then the user's models, each with its trainer; a motion or fused detector's label
    says its kind. When the default is the bundled one (no VAD_CHECKPOINT), both bundled models are labelled by
    kind, and the bundled autoencoder, which the Reconstruction lab teaches with, comes right after it."""
    swept_models_folder(str(models_folder()))
    default = checkpoint_stem()
    noted = {k: v for k, v in KIND_NOTES.items() if k != "autoencoder"}  # an autoencoder unless said
    kind = _kind(default)
    if "VAD_CHECKPOINT" in os.environ:
        entries = [ModelEntry(f"{default.name} ({noted[kind]})" if kind in noted else default.name, default, kind)]
    else:
        entries = [ModelEntry(_bundled_label(default, kind, "bundled default"), default, kind)]
        ae = BUNDLED_AUTOENCODER
        if default.resolve() != ae.resolve() and _has_files(ae):
            entries.append(ModelEntry(_bundled_label(ae, _kind(ae), "bundled"), ae, _kind(ae)))
    token = session_token()
    listed = {e.stem for e in entries}
    for stem in user_models():
        if stem not in listed:
            kind = _kind(stem)
            note = f"{noted[kind]}, " if kind in noted else ""
            entries.append(ModelEntry(f"{stem.name} ({note}{_trained_by(stem, token)})", stem, kind))
    return entries


def check_model_name(name: str) -> None:
    """A name that is safe as a file name and not taken yet, else BadInput saying what to change."""
    if not MODEL_NAME.match(name) or name.endswith(RESERVED_ENDINGS):
        raise BadInput(
            f"{name!r} is not a usable model name: use 1-64 letters, digits, '-', '_' or '.', "
            f"starting with a letter or digit and not ending in {' or '.join(RESERVED_ENDINGS)}"
        )
    if (models_folder() / f"{name}.json").exists():
        raise BadInput(f"a model named {name!r} exists already in {models_folder()}; choose another name")
    from vad_core.model.checkpoint import new_checkpoint_paths  # torch comes with it: imported when a name is checked

    new_checkpoint_paths(models_folder() / name)  # the library's rule: no reserved suffix, neither file exists


def run_is_live(staging: Path) -> bool:
    """Whether a process (a server, or a training child it started) still holds the staging folder's run lock."""
    try:
        with (staging / RUN_LOCK).open("rb") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released when this file closes
    except BlockingIOError:
        return True
    except OSError:
        return False  # no lock file: a staging folder of an older app
    return False


def _is_foreign_json(card: Path) -> bool:
    """A readable JSON file that is not a vad_core model card: not ours to remove."""
    try:
        content = json.loads(card.read_text())
    except (OSError, ValueError):
        return False
    return not (isinstance(content, dict) and content.get("library") == "vad_core")


def _leftover(path: Path, folder: Path) -> bool:
    """Whether path is a remnant of an interrupted run: a temp file, a resume file, a half of a model pair (or a
    pair whose card was cut short), or a trainer record without its model."""
    name = path.name
    if TEMP_MARKERS.search(name) or name.endswith(RESUME_SUFFIX):
        return True
    if name.endswith(TRAINER_SUFFIX):
        stem = folder / name.removesuffix(TRAINER_SUFFIX)
        return not (stem.with_suffix(".json").is_file() and stem.with_suffix(".safetensors").is_file())
    if path.suffix == ".safetensors":
        card = path.with_suffix(".json")
        return not card.is_file() or _leftover(card, folder)
    if path.suffix == ".json":
        if _is_foreign_json(path):
            return False
        try:
            json.loads(path.read_text())
        except (OSError, ValueError):
            return True  # cut short while it was written
        return not path.with_suffix(".safetensors").is_file()
    return False


def sweep_models_folder(folder: Path) -> list[Path]:
    """Remove what killed runs left in folder (see _leftover), sparing runs that are still live; the removed paths.

    A live run is one whose staging folder's lock is held, by this server or another one sharing the folder."""
    if not folder.is_dir():
        return []
    removed: list[Path] = []
    live: set[str] = set()
    for staging in sorted(folder.glob(STAGING_PREFIX + "*")):
        if staging.is_dir() and run_is_live(staging):
            live.add((staging / RUN_MODEL).read_text().strip() if (staging / RUN_MODEL).is_file() else "")
            continue
        if staging.is_dir():
            shutil.rmtree(staging, ignore_errors=True)
        else:
            staging.unlink(missing_ok=True)
        removed.append(staging)
    live.discard("")
    candidates = [p for p in sorted(folder.iterdir()) if p.is_file() and not p.name.startswith(STAGING_PREFIX)]
    doomed = [p for p in candidates if not any(p.name.lstrip(".").startswith(n + ".") for n in live)]
    doomed = [p for p in doomed if _leftover(p, folder)]
    for path in doomed:
        path.unlink(missing_ok=True)
        removed.append(path)
    # a trainer record whose model just went as a leftover
    for record in folder.glob("*" + TRAINER_SUFFIX):
        if record not in removed and _leftover(record, folder):
            record.unlink(missing_ok=True)
            removed.append(record)
    if removed:
        LOG.warning("removed what interrupted training runs left in %s: %s", folder, [p.name for p in removed])
    return removed


@st.cache_resource(show_spinner=False)
def swept_models_folder(folder: str) -> list[Path]:
    """sweep_models_folder once per server process and folder: at start-up, before any run of this server."""
    return sweep_models_folder(Path(folder))
