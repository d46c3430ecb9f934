"""Train the autoencoder on normal clips, then calibrate the score on held-out normal frames.

cfg = TrainConfig(data="../shared/data/ucsd_ped2", out="models/mine", minutes=10, preset="fast")
result = train(cfg, on_step=lambda p: print(p.loss))

Each clip is decoded under limits, as an analysis is: cfg.max_clip_frames frames and cfg.max_clip_seconds of
decoding, else VAD_TRAIN_MAX_FRAMES and VAD_TRAIN_MAX_SECONDS (how the app passes its limits to its training
child; the CLI has no option for them yet), else none.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from vad_core.errors import BadInput
from vad_core.io.video import normal_clips, probe, stream_gray
from vad_core.model.autoencoder import ModelConfig, SpatioTemporalAE
from vad_core.model.checkpoint import Calibration, LoadedModel, checkpoint_paths, load_checkpoint, save_checkpoint
from vad_core.model.inference import pick_device
from vad_core.model.preprocess import Normalizer
from vad_core.model.windows import gather_window, training_windows
from vad_core.scoring.scene import MAX_PLACE_FRAMES
from vad_core.scoring.scores import ScoringConfig
from vad_core.training.calibration import fit_normal, hold_out_tails, scene_name, spread_pieces
from vad_core.training.selection import SELECTION_CLIPS

PRESETS: dict[str, int] = {"fast": 131, "paper": 227}  # input size in px (fast: for frames of 240 rows or more)
FAST_REFERENCE_ROWS = 240  # Ped2's frame height, which the fast preset reduces to 131 px
SMALLEST_INPUT = 27  # the smallest 8n+19 size the encoder's strided convolutions take
MAX_NORMAL_FRAMES = 20_000  # frames marked normal in one video are held in memory at the model's size
CLIP_LIMIT_VARIABLES = ("VAD_TRAIN_MAX_FRAMES", "VAD_TRAIN_MAX_SECONDS")  # per clip; when the config sets none


@dataclass
class TrainConfig:
    """Everything a training run depends on; it is written into the model card."""

    data: str
    out: str
    preset: str = "fast"
    input_size: int | None = None
    temporal: str = "convlstm"
    epochs: int | None = None
    minutes: float | None = None
    batch_size: int = 4
    lr: float = 1e-3
    strides: tuple[int, ...] = (1, 2, 3)
    val_fraction: float = 0.15
    seed: int = 0
    device: str | None = None
    bf16: bool = True
    max_clips: int | None = None
    max_clip_frames: int | None = None  # refuse a clip (or the marked frames of a video) with more frames
    max_clip_seconds: float | None = None  # refuse a clip that takes longer to decode
    calibration_quantile: float = 0.99
    save_every_s: float = 60.0
    resume: bool = False
    select_scoring: bool = True  # calibration chooses place scales and motion form by injected anomalies
    init: str | None = None  # a checkpoint to fine-tune: its architecture and weights are the starting point
    normal_ranges: tuple[tuple[int, int], ...] = ()  # with these, data is one video and these frames are its normal
    command: str = ""  # the command line that started the run, recorded in the card
    scoring: ScoringConfig = field(default_factory=ScoringConfig)


def preset_size(preset: str, short_side: int) -> int:
    """The input size a preset gives footage whose frames' shorter side is short_side px.

    "paper" is the paper's 227 px. "fast" is 131 px, or for footage under 240 rows the 8n+19 size nearest to
    131/240 of its shorter side: small frames are reduced as far as Ped2's, and a step costs less. On Ped1
    (238 x 158) that is 83 px, where 10 minutes of training reach a higher frame AUC than at 131 px (README).
    """
    if preset not in PRESETS:
        raise BadInput(f"unknown preset {preset!r}; choose from {sorted(PRESETS)}")
    if preset != "fast" or short_side >= FAST_REFERENCE_ROWS:
        return PRESETS[preset]
    target = short_side * PRESETS["fast"] / FAST_REFERENCE_ROWS
    return max(SMALLEST_INPUT, 8 * round((target - 19) / 8) + 19)


@dataclass
class TrainProgress:
    """One optimizer step's report, for progress bars and live loss curves."""

    step: int
    epoch: int
    loss: float
    frames_seen: int
    elapsed_s: float
    fraction: float


@dataclass
class TrainResult:
    checkpoint: Path
    steps: int
    frames_seen: int
    seconds: float
    losses: list[float]
    calibration: Calibration
    cancelled: bool = False


def cpu_has_amx() -> bool:
    """bf16 autocast pays off on CPUs with AMX tiles; on plain AVX2 it is emulated and ~7x slower."""
    try:
        return "amx_bf16" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


def _autocast(device: torch.device, enabled: bool):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled)


def _resume_path(out: str) -> Path:
    weights, _ = checkpoint_paths(out)
    return weights.with_name(weights.stem + ".resume.safetensors")


def _save_resume(path: Path, net: torch.nn.Module, opt: torch.optim.Optimizer, meta: dict) -> None:
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    for i, state in opt.state_dict()["state"].items():
        for key, value in state.items():
            tensors[f"opt.{i}.{key}"] = torch.as_tensor(value).detach().cpu().contiguous()
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata={"meta": json.dumps(meta)})


def _load_resume(path: Path, net: torch.nn.Module, opt: torch.optim.Optimizer) -> dict:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = json.loads(f.metadata()["meta"])
    tensors = load_file(str(path))
    net.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    state = opt.state_dict()
    for key, value in tensors.items():
        if key.startswith("opt."):
            _, i, name = key.split(".", 2)
            state["state"].setdefault(int(i), {})[name] = value
    opt.load_state_dict(state)
    return meta


def train(
    cfg: TrainConfig,
    on_step: Callable[[TrainProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    show_progress: bool = True,
) -> TrainResult:
    """Train until the epoch or time budget is spent (or should_stop), calibrate, save STEM.safetensors/json."""
    if cfg.epochs is None and cfg.minutes is None:
        raise BadInput("give a budget: epochs or minutes")
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    device = pick_device(cfg.device)
    net, origin = _start_model(cfg, device)
    model_cfg = net.cfg
    train_clips, val_clips, clip_names = _normal_clips(cfg, model_cfg.input_size)
    val_clips = [c for c in val_clips if len(c) >= model_cfg.time_steps]
    if not val_clips:
        raise BadInput("no held-out frames for calibration: clips are too short for the validation split")
    normalizer = Normalizer.fit(np.concatenate(train_clips))
    train_clips = [normalizer.apply(c) for c in train_clips]
    index = training_windows([len(c) for c in train_clips], model_cfg.time_steps, cfg.strides)
    if len(index) == 0:
        raise BadInput(f"training clips are shorter than one window of {model_cfg.time_steps} frames")

    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    use_bf16 = cfg.bf16 and (device.type == "cuda" or cpu_has_amx())
    resume_path = _resume_path(cfg.out)
    step, epoch, elapsed_before, losses = 0, 0, 0.0, []
    if cfg.resume and resume_path.is_file():
        meta = _load_resume(resume_path, net, opt)
        step, epoch, elapsed_before, losses = meta["step"], meta["epoch"], meta["elapsed_s"], meta["losses"]

    budget_s = cfg.minutes * 60 if cfg.minutes is not None else math.inf
    frames_per_step = cfg.batch_size * model_cfg.time_steps
    steps_per_epoch = math.ceil(len(index) / cfg.batch_size)
    total_steps = cfg.epochs * steps_per_epoch if cfg.epochs is not None else None
    rng = np.random.default_rng(cfg.seed)
    for _ in range(epoch):  # a resumed run replays the shuffles of the epochs already done
        rng.permutation(len(index))
    start, last_save, cancelled = time.perf_counter(), time.perf_counter(), False
    bar = tqdm(total=total_steps, initial=step, desc="training", unit="step", disable=not show_progress)
    net.train()
    done = False
    while not done:
        order = rng.permutation(len(index))
        for b in range(step % steps_per_epoch * cfg.batch_size, len(order), cfg.batch_size):
            rows = index[order[b : b + cfg.batch_size]]
            batch = np.stack([gather_window(train_clips[c], s, k, model_cfg.time_steps) for c, s, k in rows])
            x = torch.from_numpy(batch).to(device).unsqueeze(2)  # (B, T, H, W) -> (B, T, 1, H, W)
            with _autocast(device, use_bf16):
                recon = net(x)
            loss = torch.nn.functional.mse_loss(recon.float(), x)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            losses.append(loss.item())
            elapsed = elapsed_before + time.perf_counter() - start
            fraction = step / total_steps if total_steps else min(elapsed / budget_s, 1.0)
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.4f}", epoch=epoch)
            if on_step:
                on_step(TrainProgress(step, epoch, losses[-1], step * frames_per_step, elapsed, fraction))
            if time.perf_counter() - last_save > cfg.save_every_s:
                meta = {"step": step, "epoch": epoch, "elapsed_s": elapsed, "losses": losses}
                _save_resume(resume_path, net, opt, meta)
                last_save = time.perf_counter()
            cancelled = bool(should_stop and should_stop())
            if cancelled or elapsed >= budget_s or (total_steps is not None and step >= total_steps):
                done = True
                break
        else:
            epoch += 1
    bar.close()
    seconds = elapsed_before + time.perf_counter() - start

    net.eval()
    scoring = cfg.scoring
    uncalibrated = Calibration(tau=1.0, pixel_tau=1.0, quantile=cfg.calibration_quantile, frames=0)
    loaded = LoadedModel(net, normalizer, scoring, uncalibrated, {}, Path(cfg.out).name)
    pieces = spread_pieces(train_clips, MAX_PLACE_FRAMES, 2 * model_cfg.time_steps)
    place_clips = [normalizer.invert(piece) for piece in pieces]  # back to [0, 1] frames, as analysis takes
    select = [normalizer.invert(c) for c in train_clips[: 2 * SELECTION_CLIPS]] if cfg.select_scoring else None
    fit = fit_normal(loaded, val_clips, cfg.calibration_quantile, _scene(cfg), place_clips, select)
    calibration = fit.calibration
    card = {
        "name": Path(cfg.out).name,
        "library": "vad_core",
        "library_version": _version(),
        "training": {
            "data": str(cfg.data),
            "clips": clip_names,
            "command": cfg.command,
            "config": asdict(cfg),  # json writes its tuples as lists
            "device": str(device),
            "bf16": use_bf16,
            "steps": step,
            "epochs_completed": epoch,
            "frames_seen": step * frames_per_step,
            "seconds": round(seconds, 1),
            "final_loss": float(np.mean(losses[-50:])) if losses else None,
            "cancelled": cancelled,
        },
        "preprocess": {
            "grayscale": True,
            "input_size": model_cfg.input_size,
            "scale": "x / 255",
            "mean_frame_subtracted": True,
        },
        "scoring": fit.scoring.to_dict(),
        "calibration_data": {"val_fraction": cfg.val_fraction, "clips": clip_names},
        "calibration": asdict(calibration),
        "latent_projection": fit.projection.to_dict(),  # the latent view's PCA, fitted on the same held-out frames
        "scene_reference": fit.scene.to_dict(),
    }
    if fit.selection is not None:
        card["scoring_selection"] = fit.selection
    if origin is not None:
        card["parent"] = origin
    if cfg.normal_ranges:  # what the analysis view draws as "learned as normal" on this clip
        ranges = [list(r) for r in cfg.normal_ranges]
        card["adaptation"] = {"clip": Path(cfg.data).name, "ranges": ranges, "minutes": cfg.minutes}
    path = save_checkpoint(cfg.out, net, normalizer, card)
    resume_path.unlink(missing_ok=True)
    return TrainResult(path, step, step * frames_per_step, seconds, losses, calibration, cancelled)


def _start_model(cfg: TrainConfig, device: torch.device) -> tuple[SpatioTemporalAE, dict | None]:
    """A new network of the preset's size, or (with cfg.init) the checkpoint's network and where it came from."""
    if cfg.init is None:
        return SpatioTemporalAE(ModelConfig(input_size=_new_model_size(cfg), temporal=cfg.temporal)).to(device), None
    parent = load_checkpoint(cfg.init, device=str(device))
    if cfg.input_size and cfg.input_size != parent.cfg.input_size:
        raise BadInput(f"--input-size {cfg.input_size} differs from {parent.name}'s {parent.cfg.input_size} px")
    weights, _ = checkpoint_paths(cfg.init)
    origin = {
        "model": parent.name,
        "checkpoint": str(cfg.init),
        "weights_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
        "trained_on": parent.card.get("training", {}).get("data"),
    }
    return parent.net, origin


def default_normal_range(frames: int, fps: float) -> tuple[int, int]:
    """The frames to adapt on when none are marked: the first 30 seconds, or the first half of a shorter clip
    (frames 0 when the container does not say how many it has: the first 30 seconds then)."""
    thirty = round(30 * (fps or 10.0))
    return 0, max(2, min(thirty, frames // 2) if frames else thirty)


def clip_limits(cfg: TrainConfig) -> tuple[int | None, float | None]:
    """(frames, seconds) that one clip may have and take to decode: the config's, else the environment's."""
    frames, seconds = cfg.max_clip_frames, cfg.max_clip_seconds
    texts = [os.environ.get(name, "").strip() for name in CLIP_LIMIT_VARIABLES]
    try:
        if frames is None and texts[0]:
            frames = int(texts[0])
        if seconds is None and texts[1]:
            seconds = float(texts[1])
    except ValueError as err:
        raise BadInput(f"{' or '.join(CLIP_LIMIT_VARIABLES)} is not a number ({err})") from err
    return frames, seconds


def _timed(frames: Iterator[np.ndarray], name: str, seconds: float | None) -> Iterator[np.ndarray]:
    """frames, until decoding them has taken longer than seconds: then BadInput."""
    started = time.monotonic()
    for count, frame in enumerate(frames, start=1):
        if seconds is not None and time.monotonic() - started > seconds:
            message = f"{name}: decoding stopped after {seconds:g} s (the time limit) at frame {count}"
            raise BadInput(message + "; train on shorter clips")
        yield frame


def _read_clip(path: Path, size: int, limits: tuple[int | None, float | None]) -> np.ndarray:
    """A whole training clip as float32 (N, size, size), refused past the per-clip limits."""
    max_frames, max_seconds = limits
    frames = []
    for frame in _timed(stream_gray(path, size), path.name, max_seconds):
        if max_frames is not None and len(frames) == max_frames:
            raise BadInput(
                f"{path.name}: more than {max_frames} frames (the limit per clip); cut it into shorter clips"
            )
        frames.append(frame)
    if not frames:
        raise BadInput(f"{path.name}: no frames could be decoded")
    return np.stack(frames)


def _new_model_size(cfg: TrainConfig) -> int:
    """--input-size, else the preset's size for the smallest shorter side among the clips (probed, not decoded)."""
    if cfg.input_size:
        return cfg.input_size
    return preset_size(cfg.preset, min(min(info.height, info.width) for info in map(probe, _clip_paths(cfg))))


def _clip_paths(cfg: TrainConfig) -> list[Path]:
    """The clips to train on: a dataset's train/ clips or a folder's (at most max_clips), or the one video."""
    data = Path(cfg.data)
    if cfg.normal_ranges:
        return [data]
    return normal_clips(data)[: cfg.max_clips]


def _normal_clips(cfg: TrainConfig, size: int) -> tuple[list[np.ndarray], list[np.ndarray], list[str]]:
    """(training part, held-out tail, name) of each normal clip: the clips of a folder, or a video's normal ranges."""
    data = Path(cfg.data)
    limits = clip_limits(cfg)
    if not cfg.normal_ranges:
        paths = _clip_paths(cfg)
        loading = tqdm(paths, desc="loading clips", unit="clip", leave=False, disable=None)
        train_part, held_out = hold_out_tails([_read_clip(path, size, limits) for path in loading], cfg.val_fraction)
        return train_part, held_out, [p.name for p in paths]
    ranges = cfg.normal_ranges
    marked = sum(end - start for start, end in ranges)
    if marked > MAX_NORMAL_FRAMES:
        raise BadInput(f"the normal ranges hold more than {MAX_NORMAL_FRAMES} frames; mark fewer")
    if limits[0] is not None and marked > limits[0]:
        raise BadInput(f"the normal ranges hold {marked} frames, more than the limit of {limits[0]}; mark fewer")
    for start, end in ranges:
        if not 0 <= start < end:
            raise BadInput(f"normal range {start}:{end} is empty; give START:END with 0 <= START < END")
    kept: list[list[np.ndarray]] = [[] for _ in ranges]
    count = 0
    decoded = _timed(stream_gray(data, size), data.name, limits[1])
    for count, frame in enumerate(itertools.islice(decoded, max(e for _, e in ranges)), start=1):
        for (start, end), frames in zip(ranges, kept, strict=True):  # only the marked frames are kept
            if start <= count - 1 < end:
                frames.append(frame)
    for start, end in ranges:
        if end > count:
            raise BadInput(f"normal range {start}:{end} ends after the clip's last frame ({count} frames)")
    train_part, held_out = hold_out_tails([np.stack(frames) for frames in kept], cfg.val_fraction)
    return train_part, held_out, [f"{data.name}[{start}:{end}]" for start, end in ranges]


def _scene(cfg: TrainConfig) -> str:
    """The scene as the scene check names it: a dataset's footage, or a clip's marked normal frames."""
    if not cfg.normal_ranges:
        return scene_name(cfg.data)
    ranges = ", ".join(f"{start}-{end - 1}" for start, end in cfg.normal_ranges)
    return f"the normal frames {ranges} of {Path(cfg.data).name}"


def _version() -> str:
    from vad_core import __version__

    return __version__
