"""The batch command's local-user faults and limits (issue 30): lock files that no symlink redirects, stored folder
names that stay inside the output folder, Ray's token kept private, the app's limits and sandbox in the workers,
and a long stored result read a page at a time."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
import pytest

from tests.helpers.batch import batch_env
from tests.helpers.long_result import long_clip, long_result
from tests.helpers.paths import REPO, SAMPLES
from vad_core.batch.outputs import load_records
from vad_core.batch.stored import read_analysis, stored_frames, write_analysis
from vad_core.errors import BadInput

CLAIM = "from vad_core.batch.worker import claim_core; print(claim_core())"


def _claim(tmp) -> str:
    """claim_core in a fresh process whose temp folder is tmp."""
    env = os.environ | {"TMPDIR": str(tmp), "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", CLAIM], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_symlinked_lock_file_is_not_followed(tmp_path):
    folder = tmp_path / f"vad-batch-cores-{os.getuid()}"
    folder.mkdir(mode=0o700)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    for core in os.sched_getaffinity(0):
        (folder / f"{core}.lock").symlink_to(victim)
    assert _claim(tmp_path) == "None"  # unpinned: no lock file could be opened
    assert victim.read_text() == "precious\n"
    assert all((folder / f"{core}.lock").is_symlink() for core in os.sched_getaffinity(0))


def test_the_cores_folder_is_private_and_a_foreign_one_refused(tmp_path):
    assert _claim(tmp_path).startswith("(")  # a core taken, in a folder made 0700
    folder = tmp_path / f"vad-batch-cores-{os.getuid()}"
    assert folder.stat().st_mode & 0o777 == 0o700
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in folder.iterdir())
    folder.chmod(0o777)  # ours, from an older version: made private again
    _claim(tmp_path)
    assert folder.stat().st_mode & 0o777 == 0o700
    shutil.rmtree(folder)
    folder.symlink_to(tmp_path, target_is_directory=True)  # a symlink where the folder should be: refused
    assert _claim(tmp_path) == "None" and not list(tmp_path.glob("*.lock"))
    if os.getuid() == 0:  # root can play the other user: a folder someone else made is refused
        folder.unlink()
        folder.mkdir(mode=0o777)
        os.chown(folder, 65534, 65534)
        assert _claim(tmp_path) == "None" and not list(folder.iterdir())


@pytest.mark.parametrize("name", ["../x", "/etc", "videos/../../x", "link"])
def test_stored_folder_names_outside_the_output_folder_are_refused(tmp_path, name):
    out = tmp_path / "out"
    (out / "videos").mkdir(parents=True)
    (out / "link").symlink_to("/etc")
    record = {"video": "a.mp4", "path": "/x/a.mp4", "folder": name, "content_hash": "0", "model_hash": "0",
              "frames": 1, "fps": 1.0, "seconds": 0.0, "peak": 0.0, "peak_frame": 0, "anomalous_seconds": 0.0,
              "segments": 0}  # fmt: skip
    (out / "summary.json").write_text(json.dumps({"done": [record], "failed": [], "skipped": []}))
    with pytest.raises(BadInput, match=r"^a\.mp4: its folder .* (is not a folder inside|leads outside) the batch"):
        for stored in load_records(out):
            read_analysis(stored.location(out))


def test_a_long_stored_result_is_read_a_page_at_a_time(tmp_path, analysis_model):
    """50,000 stored frames (3.4 GB of pictures and maps): the headers say so without loading; reading the first
    3,000 stays far under the whole (a child process measures its own peak RSS: 340 MB, 270 of them imports)."""
    from vad_core import analyze

    clip = long_clip(tmp_path / "long.mp4")
    assert clip.stat().st_size < 3 << 20
    out = long_result(tmp_path / "out", clip, analyze(SAMPLES / "test" / "Test004.mp4", analysis_model))
    folder = load_records(out)[0].location(out)
    assert stored_frames(folder) == 50_000
    code = (
        "from pathlib import Path; from vad_core.batch.stored import read_analysis\n"
        f"a = read_analysis({str(folder)!r}, max_frames=3000)\n"  # VmHWM: this program's peak (ru_maxrss spans exec)
        "print(a.frame_count, a.warnings[-1], Path('/proc/self/status').read_text().split('VmHWM:')[1].split()[0])"
    )
    env = os.environ | {"PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    frames, *words, peak_kb = done.stdout.split()
    assert int(frames) == 3000 and "first 3000 of 50000 frames" in " ".join(words)
    assert int(peak_kb) < 500 << 10, f"peak RSS {int(peak_kb) >> 10} MB reading 3,000 of 50,000 frames"
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss < 3 << 20  # this process never loaded it either


def test_batch_passes_limits_and_sandbox_to_the_workers_and_keeps_ray_token_private(tmp_path):
    """A real local Ray run, as the app starts it: the 50,000-frame clip is refused at --max-frames in one
    sentence, the short one scored (decoded in the sandbox), and the token Ray writes for the new cluster is 0600
    in a 0700 folder (HOME is a fresh folder, so Ray writes one)."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    long_clip(inputs / "long.mp4")
    shutil.copy(SAMPLES / "test" / "Test004.mp4", inputs / "short.mp4")
    home = tmp_path / "home"
    home.mkdir()
    command = [sys.executable, "-m", "vad_core", "batch", str(inputs), "--out", str(tmp_path / "out"), "--json",
               "--workers", "1", "--max-frames", "3000", "--max-seconds", "300", "--max-gigapixels", "2",
               "--max-frame-pixels", str(3840 * 2160), "--sandbox"]  # fmt: skip
    env = batch_env() | {"HOME": str(home), "TMPDIR": tempfile.gettempdir()}
    env.pop("RAY_AUTH_MODE", None)
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 2, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    assert [r["video"] for r in summary["done"]] == ["short.mp4"]
    assert [f["reason"] for f in summary["failed"]] == [
        "long.mp4: 50000 frames (33.3 min) is over the limit of 3000 frames; analyze a sub-range, or every k-th "
        "frame with k = 17"
    ]
    token = home / ".ray" / "auth_token"
    assert token.is_file(), "Ray wrote no token for the new cluster"
    assert token.stat().st_mode & 0o777 == 0o600 and token.parent.stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize("lie", ["short", "void"])
def test_a_stored_array_whose_header_lies_is_refused_before_loading(tmp_path, analysis_model, lie):
    """An inputs array that declares 10^9 frames of 131x131 in 1 KB, or a 1 GB void: one sentence, nothing read."""
    from vad_core import analyze

    folder = write_analysis(analyze(SAMPLES / "test" / "Test004.mp4", analysis_model), tmp_path / "stored")
    header = {"descr": "|u1", "fortran_order": False, "shape": (10**9, 131, 131)}
    if lie == "void":
        header = {"descr": "|V1000000000", "fortran_order": False, "shape": ()}
    with zipfile.ZipFile(folder / "analysis.npz", "a") as archive, archive.open("extra.npy", "w") as member:
        np.lib.format.write_array_header_1_0(member, header)
        member.write(b"\0" * 1024)
    with pytest.raises(BadInput, match=r"^stored/analysis\.npz: extra\.npy is not an array this program wrote$"):
        read_analysis(folder)
