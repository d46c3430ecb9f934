"""Streamlit entry point: `streamlit run app/main.py`. Page setup and navigation; the views do the rest.

Add a page by appending an st.Page to PAGES; each view is a function that draws its page.
"""

import sys
from pathlib import Path

_REPO = str(Path(__file__).resolve().parent.parent)  # before vad_core can be imported: its REPO_ROOT after
if _REPO not in sys.path:  # `streamlit run` puts app/ on the path, not the repository root
    sys.path.insert(0, _REPO)

import streamlit as st  # noqa: E402

from app.errors import one_sentence_errors  # noqa: E402
from app.views import analysis, batch, events, inject, lab, live, train  # noqa: E402
from vad_core.io.paths import REPO_ROOT  # noqa: E402

ICON = REPO_ROOT / "app" / "assets" / "icon.png"  # a local file: a material-icon favicon would come from Google's CDN
COMPACT = """<style>
.block-container {padding-top: 1.2rem; padding-bottom: 2rem;}
h1 {font-size: 2rem !important; padding-bottom: 0.2rem !important;}
[data-testid="stMetricValue"] {font-size: 1.6rem;}
</style>"""  # so the title, the player and its plot fit a 1280x800 screen

st.set_page_config(page_title="Video anomaly detection", page_icon=str(ICON), layout="wide")
st.markdown(COMPACT, unsafe_allow_html=True)

PAGES = [
    st.Page(analysis.render, title="Analyze a clip", icon=":material/query_stats:", url_path="analyze", default=True),
    st.Page(lab.render, title="Reconstruction lab", icon=":material/school:", url_path="lab"),
    st.Page(inject.render, title="Inject an anomaly", icon=":material/science:", url_path="inject"),
    st.Page(train.render, title="Train your scene", icon=":material/model_training:", url_path="train"),
    st.Page(batch.render, title="Batch results", icon=":material/dataset:", url_path="batch"),
    st.Page(live.render, title="Watch a live source", icon=":material/videocam:", url_path="live"),
    st.Page(events.render, title="Events", icon=":material/notifications:", url_path="events"),
]
with one_sentence_errors():
    st.navigation(PAGES).run()
