"""The page-level error handler: a user sees one sentence, the server's log keeps the traceback.

    with one_sentence_errors():
        st.navigation(PAGES).run()

With client.showErrorDetails = "none" (the shipped config) an exception that escapes a view would show
Streamlit's generic notice; this handler says what happened in the user's terms instead. Streamlit's own
control flow (st.stop, st.rerun) is a BaseException and passes through.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from vad_core import BadInput

LOG = logging.getLogger("vad_app")
INTERNAL = (
    "**Something went wrong on the server** while drawing this page. The other sessions are unaffected; "
    "reload the page to try again. (The server's log has the details: reference {ref}.)"
)


@contextmanager
def one_sentence_errors() -> Iterator[None]:
    try:
        yield
    except BadInput as err:  # the input's fault, with its own sentence
        st.error(f"**This cannot be done.** {err}", icon=":material/error:")
    except Exception as err:  # the page must survive any fault; the log keeps it
        ref = f"{id(err) & 0xFFFFFF:06x}"
        LOG.exception("page failed (reference %s)", ref)
        st.error(INTERNAL.format(ref=ref), icon=":material/error:")
