"""Audit trail: every write (import, decision, rule status, ownership, settings, users), browsable."""

from __future__ import annotations

import streamlit as st

from analytics.shared.safe_text import safe_csv
from ui import cache, session
from ui.tiles import tile

session.ensure_shell()  # before anything renders: see ui/session.py

st.title("Audit trail")
st.caption(
    "Every change made through the workbench, with who, when, and the record before and after. "
    "Events are append-only and hash-chained: an edit or deletion made outside the workbench "
    "breaks the chain at that event."
)

engine = cache.current_engine()
url, version = cache.current_url(), cache.current_version()

c1, c2 = st.columns([4, 1])
if c2.button("Verify now", key="audit_verify", help="Re-check every hash now (else once a minute)"):
    cache.audit_chain.clear()
chain = cache.audit_chain(url, cache.audit_version())
if chain["ok"]:
    head = (chain["head_hash"] or "")[:16]
    c1.success(
        f"Chain intact: {chain['n_events']:,} event{'' if chain['n_events'] == 1 else 's'} verified. Head hash `{head}…` — note it "
        "elsewhere to pin today's history.",
        icon=":material/verified:",
    )
else:
    event = chain["event"] or {}
    what = (
        f" ({event.get('action')} by {event.get('actor')} on {event.get('entity')} "
        f"{event.get('entity_id') or ''}, as stored now)"
        if event
        else ""
    )
    c1.error(
        f"**Chain broken at event #{chain['first_broken_id']}**{what}: {chain['problem']}. "
        "Events from there on cannot be trusted.",
        icon=":material/gpp_bad:",
    )

events = cache.audit_events(url, version)
if events.empty:
    session.empty_state(
        "No audit events yet.",
        hint="Imports, decisions, rule status changes, ownership edits, settings and user "
        "changes each add one.",
    )
    st.stop()

f1, f2, f3 = st.columns(3)
actors = f1.multiselect("Who", sorted(events["actor"].unique()), key="audit_actor")
actions = f2.multiselect("What", sorted(events["action"].unique()), key="audit_action")
entities = f3.multiselect("On", sorted(events["entity"].unique()), key="audit_entity")
g1, g2 = st.columns([1, 2])
first, last = events["at"].min().date(), events["at"].max().date()
span = g1.date_input("Between", (first, last), min_value=first, max_value=last, key="audit_dates")
text = g2.text_input(
    "Contains", key="audit_text", placeholder="an id, a name, a value in before/after…"
)

mask = events["at"].notna()
if actors:
    mask &= events["actor"].isin(actors)
if actions:
    mask &= events["action"].isin(actions)
if entities:
    mask &= events["entity"].isin(entities)
if isinstance(span, tuple) and len(span) == 2:
    day = events["at"].dt.date
    mask &= (day >= span[0]) & (day <= span[1])
if text:
    needle = text.strip().lower()
    haystack = (
        events["entity_id"].fillna("")
        + " "
        + events["before"].fillna("")
        + " "
        + events["after"].fillna("")
        + " "
        + events["actor"].fillna("")
    ).str.lower()
    mask &= haystack.str.contains(needle, regex=False)
shown = events[mask]

tile(st, "Events shown", f"{len(shown):,}", help=f"of {len(events):,} in the trail")
st.dataframe(
    shown,
    hide_index=True,
    key="audit_table",
    column_config={"at": st.column_config.DatetimeColumn("at (UTC)", format="YYYY-MM-DD HH:mm:ss")},
)
st.download_button(
    "Download these events (CSV)",
    data=lambda: safe_csv(shown).encode("utf-8"),  # built when clicked
    file_name="audit_events.csv",
    mime="text/csv",
    key="audit_download",
    on_click="ignore",
)
