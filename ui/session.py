"""Small UI helpers shared by the pages: the sidebar's go-live, the acting user, empty states."""

from __future__ import annotations

import getpass
import runpy
import threading
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from ui import cache

APP = Path(__file__).resolve().parents[1] / "app.py"
_run = threading.local()


@contextmanager
def shell() -> Iterator[None]:
    """Mark the page run as happening inside ``app.py``'s shell (sidebar, sign-in, navigation)."""
    _run.in_shell = True
    try:
        yield
    finally:
        _run.in_shell = False


def ensure_shell() -> None:
    """Run the app through ``app.py`` when Streamlit ran a file of ``pages/`` on its own.

    Because a ``pages/`` folder sits beside ``app.py``, a fresh Streamlit server
    serves its first request with the old folder-based multipage mode until
    ``app.py`` has called ``st.navigation`` once: opening ``/why`` on a freshly
    started server would run ``pages/why.py`` bare — no sign-in gate, no sidebar,
    every helper module listed as a page. This runs the shell instead, which
    switches Streamlit to ``app.py``'s navigation and renders the asked-for page.
    """
    if getattr(_run, "in_shell", False):
        return
    runpy.run_path(str(APP), run_name="__main__")
    st.stop()


def go_live() -> date | None:
    """The go-live date chosen in the shared sidebar (None when the store has no data)."""
    return st.session_state.get("go_live_value")


def go_live_inferred() -> bool:
    return bool(st.session_state.get("go_live_inferred", False))


def current_user() -> str:
    """Who is acting: the signed-in user, else the local OS user name."""
    return st.session_state.get("user") or getpass.getuser()


def current_role() -> str:
    """The acting role the sign-in gate set; read-only when none was set (fail closed)."""
    return st.session_state.get("role") or "exec"


def opened(
    label: str, *, key: str, icon: str | None = None, expanded: bool = False
) -> DeltaGenerator | None:
    """An expander whose content is drawn only once it is opened (opening it reruns the page):
    the browser draws a closed expander's tables and charts all the same. The container to
    draw into while it is open, else None."""
    box = st.expander(label, expanded, key=key, icon=icon, on_change="rerun")
    return box if box.open else None


# A widget not drawn on a run (its tab closed) loses its state, and the user's choice should
# not go with it: the page saves each such choice with ``keep`` and gives it back with ``kept``
# (as the widget's default) or ``restore`` (into its state, for widgets without a default).


def keep(key: str, value: Any) -> None:  # noqa: ANN401 - any widget's value
    """Remember the choice just made in widget ``key`` beyond the runs that do not draw it."""
    st.session_state[f"{key}_kept"] = value


def _last(key: str, options: Collection[Any] | None) -> Any | None:  # noqa: ANN401
    """The choice last kept for ``key`` if it is still offered (any, with no ``options``)."""
    value = st.session_state.get(f"{key}_kept")
    wanted = value if isinstance(value, list) else [value]
    offered = value is not None and (options is None or all(v in options for v in wanted))
    return value if offered else None


def kept(key: str, options: Collection[Any] | None, default: Any) -> Any:  # noqa: ANN401
    """The choice last kept for widget ``key`` if it is still offered, else ``default``."""
    value = _last(key, options)
    return default if value is None else value


def restore(key: str, options: Collection[Any]) -> None:
    """Give widget ``key`` back its last kept choice, if still offered, when it is drawn again
    after a run without it. Call it before the widget; the widget takes no default then."""
    value = _last(key, options)
    if key not in st.session_state and value is not None:
        st.session_state[key] = value


def empty_state(message: str, *, hint: str | None = None) -> None:
    st.info(message + (f"\n\n{hint}" if hint else ""), icon=":material/inbox:")


def preparing(what: str) -> None:
    """Say that ``what`` ("The readiness gates") is being prepared for the latest data, with
    the background build's progress; the page draws itself again when the build is done."""
    st.info(
        f"Preparing {what[:1].lower()}{what[1:]} for the latest data: built once per data "
        "version, in the background. This page fills in by itself when the build is done.",
        icon=":material/hourglass_top:",
    )
    build_status()


def build_status() -> None:
    """The background build's progress while it runs (polled; the page is drawn again when it
    is done), its error if it failed, else nothing."""
    job = cache.build_job()
    if job is None:
        return
    if job.running:
        _progress()
        return
    failed = {n: r["error"] for n, r in job.report.items() if r.get("outcome") == "failed"}
    if job.error or failed:
        problems = job.error or "; ".join(f"{n}: {e}" for n, e in failed.items())
        st.error(f"Preparing the analyses failed ({problems}).", icon=":material/error:")


@st.fragment(run_every=2)
def _progress() -> None:
    job = cache.build_job()
    if job is not None and job.running:
        st.progress(min(job.fraction, 1.0), text=f"Preparing the analyses: {job.message}…")
    elif _fragment_run():  # done since the page was drawn: draw it again, polling stops
        st.rerun(scope="app")


def _fragment_run() -> bool:
    """Whether this run is the fragment's own timer run (not the page's full run)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return bool(ctx is not None and ctx.fragment_ids_this_run)
