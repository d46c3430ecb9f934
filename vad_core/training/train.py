"""Train the autoencoder on normal clips, then calibrate the score on held-out normal frames.

cfg = TrainConfig(data="../shared/data/ucsd_ped2", out="models/mine", minutes=10, preset="fast")
result = train(cfg, on_step=lambda p: print(p.loss))

With zones (cfg.zones, a zones file; else, fine-tuning, the parent model's) the loss and the calibration leave the
masked places out, and the zones are written beside the new model (STEM.zones.json).

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
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from vad_core.errors import BadInput
from vad_core.io.frame_ranges import format_ranges
from vad_core.io.video import normal_clips, probe, stream_gray
from vad_core.model.autoencoder import SpatioTemporalAE
from vad_core.model.card import (
    Adaptation,
    Calibration,
    CalibrationData,
    ModelCard,
    Parent,
    Preprocess,
    TrainingRecord,
)
from vad_core.model.checkpoint import (
    LoadedModel,
    checkpoint_paths,
    load_autoencoder,
    save_checkpoint,
    save_zones,
    zones_path,
)
from vad_core.model.config import ModelConfig
from vad_core.model.inference import pick_device
from vad_core.model.preprocess import Normalizer
from vad_core.model.windows import gather_window, training_windows
from vad_core.scoring.scene import MAX_PLACE_FRAMES
from vad_core.scoring.scores import ScoringConfig
from vad_core.scoring.zones import Zones, read_zones
from vad_core.training.calibration import NormalFit, fit_normal, hold_out_tails, scene_name, spread_pieces
from vad_core.training.selection import SELECTION_CLIPS
from vad_core.version import __version__

PRESETS: dict[str, int] = {"fast": 131, "paper": 227}  # input size in px (fast: for frames of 240 rows or more)
FAST_REFERENCE_ROWS = 240  # Ped2's frame height, which the fast preset reduces to 131 px
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
    zones: str | None = None  # a zones file (vad_core.scoring.zones); None: the --init model's zones, if any
    command: str = ""  # the command line that started the run, recorded in the card
    scoring: ScoringConfig = field(default_factory=ScoringConfig)


def preset_size(preset: str, short_side: int) -> int:
    """The input size a preset gives footage whose frames' shorter side is short_side px.

    "paper" is the paper's 227 px. "fast" is 131 px, or for footage under 240 rows the 8n+19 size nearest to
    131/240 of its shorter side: small frames are reduced as far as Ped2's, and a step costs less. On Ped1
    (238 x 158) that is 83 px, where 10 minutes of training reach a higher frame AUC than at 131 px
    (docs/your-camera.md, "The input size").
    """
    if preset not in PRESETS:
        raise BadInput(f"unknown preset {preset!r}; choose from {sorted(PRESETS)}")
    if preset != "fast" or short_side >= FAST_REFERENCE_ROWS:
        return PRESETS[preset]
    return ModelConfig.nearest_valid_size(short_side * PRESETS["fast"] / FAST_REFERENCE_ROWS)


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
    verdict: str | None = None  # against the baselines on its calibration data (None: no selection was run)


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
    zones = _zones(cfg)
    net, origin = _start_model(cfg, device)
    data = _training_data(cfg, net.cfg, zones)
    use_bf16 = cfg.bf16 and (device.type == "cuda" or cpu_has_amx())
    run = _optimize(cfg, net, data, device, use_bf16, on_step, should_stop, show_progress)
    net.eval()
    fit = _fit_normal(cfg, net, data, zones)
    card = _card(cfg, net.cfg, data, run, fit, origin, training_on=(str(device), use_bf16))
    path = save_checkpoint(cfg.out, net, data.normalizer, card)
    if zones:  # the model carries its camera's zones wherever it is loaded
        save_zones(cfg.out, zones)
    _resume_path(cfg.out).unlink(missing_ok=True)
    frames_seen = run.step * cfg.batch_size * net.cfg.time_steps
    verdict = fit.selection.verdict if fit.selection else None
    return TrainResult(path, run.step, frames_seen, run.seconds, run.losses, fit.calibration, run.cancelled, verdict)


@dataclass
class _TrainingData:
    """A run's normal clips: the training part normalized, the held-out tails as decoded, their windows."""

    train_clips: list[np.ndarray]
    val_clips: list[np.ndarray]
    names: list[str]
    normalizer: Normalizer
    index: np.ndarray  # (window, 3): clip, start, stride
    source_size: tuple[int, int] = (0, 0)  # the clips' frame size (width, height): where zones are drawn
    mask: np.ndarray | None = None  # the zones' place mask at the model's size (None: every place counts)


@dataclass
class _Run:
    """Where the optimizer is: restored from a resume file or from the start; seconds include earlier sessions."""

    step: int = 0
    epoch: int = 0
    seconds: float = 0.0
    losses: list[float] = field(default_factory=list)
    cancelled: bool = False

    def resume_meta(self) -> dict:
        """What the resume file's metadata keeps (its format is fixed: a resume state outlives a version)."""
        return {"step": self.step, "epoch": self.epoch, "elapsed_s": self.seconds, "losses": self.losses}

    @classmethod
    def resumed(cls, meta: dict) -> _Run:
        return cls(meta["step"], meta["epoch"], meta["elapsed_s"], meta["losses"])


def _zones(cfg: TrainConfig) -> Zones | None:
    """The zones to train with: cfg.zones' file, else the parent's (fine-tuning), else None."""
    if cfg.zones:
        return read_zones(cfg.zones)
    if cfg.init and zones_path(cfg.init).is_file():
        return read_zones(zones_path(cfg.init))
    return None


def _training_data(cfg: TrainConfig, model_cfg: ModelConfig, zones: Zones | None) -> _TrainingData:
    train_clips, val_clips, clip_names = _normal_clips(cfg, model_cfg.input_size)
    val_clips = [c for c in val_clips if len(c) >= model_cfg.time_steps]
    if not val_clips:
        raise BadInput("no held-out frames for calibration: clips are too short for the validation split")
    normalizer = Normalizer.fit(np.concatenate(train_clips))
    train_clips = [normalizer.apply(c) for c in train_clips]
    index = training_windows([len(c) for c in train_clips], model_cfg.time_steps, cfg.strides)
    if len(index) == 0:
        raise BadInput(f"training clips are shorter than one window of {model_cfg.time_steps} frames")
    if not zones:
        return _TrainingData(train_clips, val_clips, clip_names, normalizer, index)
    info = probe(_clip_paths(cfg)[0])
    size = (info.width, info.height)
    mask = zones.place_mask(size, model_cfg.input_size)
    return _TrainingData(train_clips, val_clips, clip_names, normalizer, index, size, mask)


def _optimize(
    cfg: TrainConfig,
    net: SpatioTemporalAE,
    data: _TrainingData,
    device: torch.device,
    use_bf16: bool,
    on_step: Callable[[TrainProgress], None] | None,
    should_stop: Callable[[], bool] | None,
    show_progress: bool,
) -> _Run:
    """Adam on shuffled windows until the budget is spent or should_stop; the state saved every save_every_s."""
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    resume_path = _resume_path(cfg.out)
    run = _Run.resumed(_load_resume(resume_path, net, opt)) if cfg.resume and resume_path.is_file() else _Run()
    elapsed_before, time_steps = run.seconds, net.cfg.time_steps
    budget_s = cfg.minutes * 60 if cfg.minutes is not None else math.inf
    steps_per_epoch = math.ceil(len(data.index) / cfg.batch_size)
    total_steps = cfg.epochs * steps_per_epoch if cfg.epochs is not None else None
    rng = np.random.default_rng(cfg.seed)
    mask = torch.from_numpy(data.mask).to(device) if data.mask is not None else None
    for _ in range(run.epoch):  # a resumed run replays the shuffles of the epochs already done
        rng.permutation(len(data.index))
    start, last_save = time.perf_counter(), time.perf_counter()
    bar = tqdm(total=total_steps, initial=run.step, desc="training", unit="step", disable=not show_progress)
    net.train()
    while True:
        order = rng.permutation(len(data.index))
        for b in range(run.step % steps_per_epoch * cfg.batch_size, len(order), cfg.batch_size):
            rows = data.index[order[b : b + cfg.batch_size]]
            batch = np.stack([gather_window(data.train_clips[c], s, k, time_steps) for c, s, k in rows])
            run.losses.append(_step(net, opt, batch, device, use_bf16, mask))
            run.step += 1
            run.seconds = elapsed_before + time.perf_counter() - start
            fraction = run.step / total_steps if total_steps else min(run.seconds / budget_s, 1.0)
            bar.update(1)
            bar.set_postfix(loss=f"{run.losses[-1]:.4f}", epoch=run.epoch)
            if on_step:
                frames = run.step * cfg.batch_size * time_steps
                on_step(TrainProgress(run.step, run.epoch, run.losses[-1], frames, run.seconds, fraction))
            if time.perf_counter() - last_save > cfg.save_every_s:
                _save_resume(resume_path, net, opt, run.resume_meta())
                last_save = time.perf_counter()
            run.cancelled = bool(should_stop and should_stop())
            if run.cancelled or run.seconds >= budget_s or (total_steps is not None and run.step >= total_steps):
                bar.close()
                run.seconds = elapsed_before + time.perf_counter() - start
                return run
        run.epoch += 1


def _step(
    net: SpatioTemporalAE,
    opt: torch.optim.Optimizer,
    batch: np.ndarray,
    device: torch.device,
    bf16: bool,
    mask: torch.Tensor | None = None,
) -> float:
    """One optimizer step on a batch of windows (B, T, H, W); its loss. mask (H, W): the zones' place weights,
    so that the masked places (a road, a tree) are not learned at all: the mean squared error over the places
    that count."""
    x = torch.from_numpy(batch).to(device).unsqueeze(2)  # (B, T, H, W) -> (B, T, 1, H, W)
    with _autocast(device, bf16):
        recon = net(x)
    loss = masked_mse(recon.float(), x, mask)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.item()


def masked_mse(recon: torch.Tensor, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """The mean squared error, over the places the mask weights (None: everywhere, the plain MSE)."""
    if mask is None:
        return torch.nn.functional.mse_loss(recon, x)
    weights = mask.expand_as(x)
    return (torch.square(recon - x) * weights).sum() / weights.sum().clamp_min(1e-6)


def _fit_normal(cfg: TrainConfig, net: SpatioTemporalAE, data: _TrainingData, zones: Zones | None) -> NormalFit:
    """Calibration, latent projection and scene reference from the held-out tails (see fit_normal), on maps
    masked by the zones."""
    time_steps = net.cfg.time_steps
    loaded = LoadedModel.uncalibrated(net, data.normalizer, cfg.scoring, Path(cfg.out).name, cfg.calibration_quantile)
    loaded = replace(loaded, zones=zones)
    pieces = spread_pieces(data.train_clips, MAX_PLACE_FRAMES, 2 * time_steps)
    place_clips = [data.normalizer.invert(piece) for piece in pieces]  # back to [0, 1] frames, as analysis takes
    chosen = data.train_clips[: 2 * SELECTION_CLIPS] if cfg.select_scoring else None
    select = [data.normalizer.invert(c) for c in chosen] if chosen is not None else None
    quantile = cfg.calibration_quantile
    return fit_normal(loaded, data.val_clips, quantile, _scene(cfg), place_clips, select, data.source_size)


def _card(
    cfg: TrainConfig,
    model_cfg: ModelConfig,
    data: _TrainingData,
    run: _Run,
    fit: NormalFit,
    origin: Parent | None,
    training_on: tuple[str, bool],
) -> ModelCard:
    """The new model's card: how it was trained, its preprocessing, and what calibration fitted."""
    device, bf16 = training_on
    training = TrainingRecord(
        data=str(cfg.data),
        clips=data.names,
        command=cfg.command,
        config=asdict(cfg),
        device=device,
        bf16=bf16,
        steps=run.step,
        epochs_completed=run.epoch,
        frames_seen=run.step * cfg.batch_size * model_cfg.time_steps,
        seconds=round(run.seconds, 1),
        final_loss=float(np.mean(run.losses[-50:])) if run.losses else None,
        cancelled=run.cancelled,
    )
    adaptation = None
    if cfg.normal_ranges:  # what the analysis view draws as "learned as normal" on this clip
        ranges = [list(r) for r in cfg.normal_ranges]
        adaptation = Adaptation(clip=Path(cfg.data).name, ranges=ranges, minutes=cfg.minutes)
    return ModelCard(
        model=model_cfg,
        calibration=fit.calibration,
        kind="autoencoder",
        scoring=fit.scoring,
        preprocess=Preprocess(
            grayscale=True, input_size=model_cfg.input_size, scale="x / 255", mean_frame_subtracted=True
        ),
        name=Path(cfg.out).name,
        library="vad_core",
        library_version=__version__,
        training=training,
        calibration_data=CalibrationData(val_fraction=cfg.val_fraction, clips=data.names),
        latent_projection=fit.projection,  # the latent view's PCA, fitted on the same held-out frames
        scene_reference=fit.scene,
        scoring_selection=fit.selection,
        parent=origin,
        adaptation=adaptation,
    )


def _start_model(cfg: TrainConfig, device: torch.device) -> tuple[SpatioTemporalAE, Parent | None]:
    """A new network of the preset's size, or (with cfg.init) the checkpoint's network and where it came from."""
    if cfg.init is None:
        return SpatioTemporalAE(ModelConfig(input_size=_new_model_size(cfg), temporal=cfg.temporal)).to(device), None
    parent = load_autoencoder(cfg.init, str(device), purpose="fine-tuning (adapt, train --init)", part=True)
    if cfg.input_size and cfg.input_size != parent.cfg.input_size:
        raise BadInput(f"{cfg.input_size} differs from {parent.name}'s {parent.cfg.input_size} px", option="input_size")
    weights, _ = checkpoint_paths(cfg.init)
    origin = Parent(
        model=parent.name,
        checkpoint=str(cfg.init),
        weights_sha256=hashlib.sha256(weights.read_bytes()).hexdigest(),
        trained_on=parent.card.training.data if parent.card.training else None,
    )
    return parent.net, origin


def check_start(cfg: TrainConfig) -> None:
    """What train refuses before any work, without training: the zones file, the network's size or the parent
    (train --kind best checks it before it fits its motion detector)."""
    _zones(cfg)
    _start_model(cfg, torch.device("cpu"))


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
    return f"the normal frames {format_ranges(cfg.normal_ranges)} of {Path(cfg.data).name}"
