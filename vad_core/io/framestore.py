"""Append-only per-frame arrays that stay in memory while small and spill to a temporary file when long.

store = FrameStore((227, 227), np.float16, budget_bytes=64 << 20)
store.append(block)              # (n, 227, 227) blocks, in frame order
maps = store.finish()            # np.ndarray, or a read-only np.memmap once past the budget

A spilled array is an np.memmap over an unlinked temporary file (POSIX): it indexes like any array,
costs memory only for the pages read, and its disk space is freed when the last view of it goes away.
"""

from __future__ import annotations

import contextlib
import mmap
import shutil
import tempfile
import weakref
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from vad_core.io.tempdirs import owned_prefix

DEFAULT_BUDGET_BYTES = 32 << 20  # per store; an analysis keeps four (two maps, inputs, reconstructions)


class FrameStore:
    """Frames of one shape and dtype, appended in blocks; in RAM up to budget_bytes, then on disk."""

    def __init__(
        self,
        frame_shape: tuple[int, ...],
        dtype: np.dtype | type,
        budget_bytes: int = DEFAULT_BUDGET_BYTES,
        spill_dir: str | Path | None = None,
    ):
        self.frame_shape = tuple(frame_shape)
        self.dtype = np.dtype(dtype)
        self.budget_bytes = budget_bytes
        self.spill_dir = spill_dir
        self._blocks: list[np.ndarray] = []
        self._bytes = 0
        self._count = 0
        self._file = None
        self._dir: str | None = None

    def __len__(self) -> int:
        return self._count

    @property
    def spilled(self) -> bool:
        return self._file is not None

    def append(self, block: np.ndarray) -> None:
        block = np.ascontiguousarray(block, dtype=self.dtype)
        if block.shape[1:] != self.frame_shape:
            raise ValueError(f"block of frames {block.shape[1:]} appended to a store of {self.frame_shape}")
        self._count += len(block)
        if self._file is not None:
            block.tofile(self._file)
            return
        self._blocks.append(block)
        self._bytes += block.nbytes
        if self._bytes > self.budget_bytes:
            self._spill()

    def _spill(self) -> None:
        self._dir = tempfile.mkdtemp(prefix=owned_prefix("vad_frames_"), dir=self.spill_dir)  # swept if we die
        self._file = open(Path(self._dir) / "frames.bin", "wb")  # noqa: SIM115 (closed in finish/close)
        for block in self._blocks:
            block.tofile(self._file)
        self._blocks, self._bytes = [], 0

    def finish(self) -> np.ndarray:
        """All frames as one (N, *frame_shape) array; the store is empty afterwards."""
        if self._file is None:
            if not self._blocks:
                return np.zeros((0, *self.frame_shape), self.dtype)
            out = self._blocks[0] if len(self._blocks) == 1 else np.concatenate(self._blocks)
            self._blocks, self._bytes = [], 0
            return out
        path = Path(self._file.name)
        self._file.close()
        self._file = None
        shape = (self._count, *self.frame_shape)
        if self._count == 0:
            self._remove_dir()
            return np.zeros(shape, self.dtype)
        array = np.memmap(path, dtype=self.dtype, mode="r", shape=shape)
        try:  # POSIX: the mapping keeps the data; the disk space goes with the last reference
            path.unlink()
            self._remove_dir()
        except OSError:  # Windows cannot unlink a mapped file: remove the folder when the array goes
            weakref.finalize(array, shutil.rmtree, self._dir, True)
        self._dir = None
        return array

    def close(self) -> None:
        """Drop everything (after an error): close and remove a spill file."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self._remove_dir()
        self._blocks, self._bytes, self._count = [], 0, 0

    def _remove_dir(self) -> None:
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


def iter_chunks(array: np.ndarray, frames: int = 256) -> Iterator[np.ndarray]:
    """In-memory copies of consecutive frame chunks; pages of a spilled array are released after each.

    Reading a whole spilled array through its mapping would otherwise keep it all resident.
    """
    for start in range(0, len(array), frames):
        chunk = np.array(array[start : start + frames])
        _release_pages(array)
        yield chunk


def _release_pages(array: np.ndarray) -> None:
    mapping = getattr(array, "_mmap", None)
    if mapping is None or not hasattr(mapping, "madvise"):
        return
    with contextlib.suppress(OSError, ValueError, AttributeError):  # no MADV_DONTNEED on this platform
        mapping.madvise(mmap.MADV_DONTNEED)  # read-only shared mapping: pages reload from the file if needed
