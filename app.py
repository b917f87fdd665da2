"""Override-learning workbench: page config, the shared sidebar and navigation — nothing else.

``streamlit run app.py`` finds the ASGI app below and serves this same file as every
session's script (then ``__name__`` is ``"__main__"``): the shell in ``ui/app_shell.py``
draws the sidebar and runs the page the URL asks for. Imported as a module (by the server, at
start), the file only builds that app, whose start-up hook imports what the pages need, so the
first visitor after a restart does not wait for Python's imports.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parent
# (script, title, icon, URL path): every page at the URL its name suggests (/data, …).
PAGES = [
    ("pages/data.py", "Data", ":material/database:", "data"),
    ("pages/baseline.py", "Baseline vs go-live", ":material/monitoring:", "baseline"),
    ("pages/overrides.py", "Override patterns", ":material/psychology:", "overrides"),
    ("pages/why.py", "Why this fired", ":material/help:", "why"),
    ("pages/ownership.py", "Ownership & SLA", ":material/assignment_ind:", "ownership"),
    ("pages/audit.py", "Audit trail", ":material/history:", "audit"),
    ("pages/health.py", "Model health", ":material/health_metrics:", "health"),
]

if __name__ == "__main__":
    from ui.app_shell import run

    run(PAGES)
else:
    from ui.startup import lifespan_for

    app = st.App(
        __file__,
        lifespan=lifespan_for([ROOT / "ui" / "app_shell.py", *(ROOT / p for p, *_ in PAGES)]),
    )
