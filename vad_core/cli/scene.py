"""`python -m vad_core scene INPUTS...`: clip by clip, does the model know the scene, and is the camera healthy?"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from vad_core.cli.common import progress
from vad_core.errors import BadInput


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("scene", help="does the model know these clips' scene, is the camera healthy? clip by clip")
    p.add_argument("inputs", nargs="+", help="video files, frame folders, or folders of clips")
    p.add_argument("--checkpoint", default=None, help="checkpoint stem (default: the bundled Ped2 fused model)")
    p.add_argument("--device", default=None)
    p.add_argument("--json", action="store_true", help="one JSON object with every clip's check on stdout")


def run(args: argparse.Namespace) -> int:
    from vad_core.io.video import image_files, list_clips
    from vad_core.model.checkpoint import load_checkpoint
    from vad_core.pipeline.analysis import analyze

    model = load_checkpoint(args.checkpoint, device=args.device)
    if model.scene is None:
        raise BadInput(f"{model.name} has no scene reference in its card; re-fit it with the calibrate command")
    paths = []
    for item in map(Path, args.inputs):
        paths += list_clips(item) if item.is_dir() and not image_files(item) else [item]
    checks = {}
    with progress(args, desc="checking", unit="clip", total=len(paths)) as bar:
        for path in paths:
            result = analyze(path, model)
            check = result.scene_check()
            health = [fault.to_dict(result.fps) for fault in result.health_segments()]
            checks[str(path)] = check.to_dict() | {"figures": check.figures, "health": health}
            bar.update(1)
    unfamiliar = [p for p, c in checks.items() if not c["familiar"]]
    faulty = [p for p, c in checks.items() if c["health"]]
    if args.json:
        counts = {"clips": len(checks), "unfamiliar": len(unfamiliar), "camera_faults": len(faulty)}
        print(json.dumps({"model": model.name, **counts, "checks": checks}))
        return 0
    for path, check in checks.items():
        faults = ", ".join(f"{f['kind']} {f['start']}-{f['end']}" for f in check["health"]) or "camera ok"
        print(f"{'familiar  ' if check['familiar'] else 'UNFAMILIAR'} {check['score']:7.2f}  {faults:<20} {path}")
    print(f"{len(unfamiliar)} of {len(checks)} clips unfamiliar to {model.name}; {len(faulty)} with camera faults")
    return 0
