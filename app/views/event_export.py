"""Export of the selected events on the Events page: their excerpt clips plus events.csv, as one zip to download.

    export_panel(store, ids)

The files are what `python -m vad_core events export` writes (vad_core.events.export): the page only zips them.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

import streamlit as st

from vad_core.events import EventStore
from vad_core.events.export import export_events
from vad_core.io.tempdirs import owned_prefix

EXPORT_KEY = "events_export"  # (ids, zip bytes) of the latest export this session prepared


def export_zip(store: EventStore, ids: list[int]) -> bytes:
    """The export folder of these events, zipped (the clips are H.264 already: stored, not compressed again)."""
    with tempfile.TemporaryDirectory(prefix=owned_prefix("vad-export-")) as folder:
        export_events(store, ids, Path(folder))
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
            for path in sorted(Path(folder).iterdir()):
                archive.write(path, path.name)
    return buffer.getvalue()


def _prepare(store: EventStore, ids: list[int]) -> None:
    st.session_state[EXPORT_KEY] = (ids, export_zip(store, ids))


def export_panel(store: EventStore, ids: list[int]) -> None:
    """Prepare the zip of the selection, then download it (prepared again when the selection changes)."""
    left, right = st.columns(2)
    left.button(f"Export {len(ids)} as clips + CSV", key="events_export_prepare", disabled=not ids,
                on_click=_prepare, args=(store, ids), icon=":material/archive:")  # fmt: skip
    prepared = st.session_state.get(EXPORT_KEY)
    if prepared is not None and prepared[0] == ids:
        right.download_button(
            "Download events.zip", prepared[1], file_name="events.zip", mime="application/zip",
            key="events_export_download", on_click="ignore", icon=":material/download:",
        )  # fmt: skip
