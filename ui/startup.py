"""What the server does once when it starts, before it answers its first visitor.

Without it the first visitor after every restart pays Python's start-up: importing pandas,
pyarrow, SQLAlchemy/SQLModel, plotly and the workbench's own modules costs about two seconds of
CPU on a 2-core machine, and reading the artefacts a page opens with another second, before any
of the page's own work. ``app.py`` hands :func:`lifespan_for`'s hook to Streamlit's ASGI app,
which runs it after the runtime starts and before the server takes connections: the health
check answers once the imports are done and the store's artefacts are in memory (``ui.cache``
keeps them for every session). A failure here is only logged: the pages then import and read
what they need themselves, as they always can.
"""

from __future__ import annotations

import ast
import asyncio
import importlib
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from streamlit.logger import get_logger

LOG = get_logger(__name__)
ROOT = Path(__file__).resolve().parents[1]


def imported_by(scripts: Iterable[Path]) -> list[str]:
    """The modules the top level of ``scripts`` imports, in order and once each: for ``from a
    import b`` both ``a`` and, where it is a submodule, ``a.b``. What a function imports
    inside itself is left alone (it is lazy on purpose: scipy, scikit-learn, shap)."""
    names: dict[str, None] = {}
    for script in scripts:
        tree = ast.parse(script.read_text(encoding="utf-8"), filename=str(script))
        for node in tree.body:
            if isinstance(node, ast.Import):
                names.update(dict.fromkeys(alias.name for alias in node.names))
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                if node.module == "__future__":
                    continue
                names[node.module] = None
                names.update(dict.fromkeys(f"{node.module}.{alias.name}" for alias in node.names))
    return list(names)


def warm_imports(modules: Iterable[str]) -> tuple[int, float]:
    """Import each of ``modules`` that exists; (how many were imported, seconds taken)."""
    t0, done = time.perf_counter(), 0
    for name in modules:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a module that is there but needs something missing
                LOG.warning("start-up: importing %s failed: %s", name, exc)
            continue  # ``from a import b`` where b is a name, not a module
        except Exception as exc:  # noqa: BLE001 - never keep the server from starting
            LOG.warning("start-up: importing %s failed: %s", name, exc)
            continue
        done += 1
    return done, time.perf_counter() - t0


def warm_up(scripts: Iterable[Path]) -> None:
    """Import what ``scripts`` import, draw one chart off screen (plotly builds its validators
    on the first figure), then read what the pages open with."""
    done, seconds = warm_imports(imported_by(scripts))
    try:
        import plotly.graph_objects as go

        go.Figure(go.Scatter(x=[0, 1], y=[0, 1])).to_json()
    except Exception as exc:  # noqa: BLE001 - never keep the server from starting
        LOG.warning("start-up: the first chart failed: %s", exc)
    LOG.info("start-up: %d modules imported in %.1f s", done, seconds)
    warm_store()


def warm_store() -> None:
    """Read what the pages open with from the store the server serves (``WORKBENCH_DB``) into
    its memory; an empty store has nothing to read (its first visitor loads the sample)."""
    try:
        from store.db import resolve_url
        from store.ingest.sample import store_is_empty
        from ui import cache

        url = resolve_url(None)
        if store_is_empty(cache.engine_for(url)):
            return
        took = cache.warm(url)
        from ui import overrides_cache

        t0 = time.perf_counter()
        if overrides_cache.warm(url):
            took["theme_views"] = time.perf_counter() - t0
    except Exception as exc:  # noqa: BLE001 - never keep the server from starting
        LOG.warning("start-up: reading the store failed: %s", exc)
        return
    LOG.info(
        "start-up: %d views of the store read in %.1f s (slowest: %s)",
        len(took),
        sum(took.values()),
        ", ".join(f"{k} {v:.1f} s" for k, v in sorted(took.items(), key=lambda kv: -kv[1])[:3]),
    )


def lifespan_for(scripts: list[Path]) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """A Streamlit ``App`` lifespan that warms ``scripts``' imports before the server opens."""

    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:  # noqa: ANN401 - streamlit.App
        await asyncio.to_thread(warm_up, scripts)
        yield

    return lifespan
