"""Data: load a bundle, see what was rejected and why, and the health of the log."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analytics.shared.safe_text import escape_markdown, safe_csv
from store import roles
from store.ingest.bundle import BundleError
from store.ingest.load import load_bundle
from store.ingest.server_paths import confined_path
from store.reads import import_batches, quarantine, quarantine_summary
from ui import cache, session
from ui.tiles import tile

session.ensure_shell()  # before anything renders: see ui/session.py

# What one load through the browser may bring (Streamlit's own per-file cap is 1 GB).
MAX_UPLOAD_BYTES = 1024**3

STATUS_ICON = {
    "ok": ":material/check_circle:",
    "warn": ":material/warning:",
    "fail": ":material/error:",
    "n/a": ":material/remove:",
}
STATUS_WORD = {"ok": "OK", "warn": "Check", "fail": "Problem", "n/a": "Not available"}

st.title("Data")
st.caption(
    "The decision log as loaded into the workbench's own store. Nothing here writes to an ERP or any "
    "source system; every import is recorded with who and when."
)

engine = cache.current_engine()
url, version = cache.current_url(), cache.current_version()
info = cache.data_overview(url, version)

# --- Counts and ranges ---------------------------------------------------------------
counts = info["counts"]
cols = st.columns(len(counts))
for col, (name, n) in zip(cols, counts.items(), strict=True):
    tile(col, name.replace("_", " ").capitalize(), f"{n:,}")
if counts["recommendations"] == 0:
    session.empty_state(
        "The store has no recommendations yet.",
        hint="Load a bundle below (a folder's CSV files, a .zip or an .xlsx), or run "
        "`python cli.py load BUNDLE`. Only recommendations.csv is required.",
    )
else:
    ranges = pd.DataFrame(
        [
            {
                "table": t,
                "rows": r["rows"],
                "first event": (r["first"] or "")[:10],
                "last event": (r["last"] or "")[:10],
            }
            for t, r in info["ranges"].items()
        ]
    )
    st.dataframe(ranges, hide_index=True, key="data_ranges")

# --- Health findings -------------------------------------------------------------------
st.subheader("Data health")
st.caption(
    "Checks drawn from why AI recommendations stall: missing reasons, no owner, late detection, "
    "missing time zones, mixed units, stale data."
)
for f in info["findings"]:
    with st.expander(
        f"{STATUS_WORD.get(f['status'], f['status'])} — {escape_markdown(f['finding'])}",
        expanded=f["status"] == "fail",
        icon=STATUS_ICON.get(f["status"]),
    ):
        st.markdown(escape_markdown(f["detail"]))  # site codes, names: from the data
        if f.get("table"):
            st.dataframe(pd.DataFrame(f["table"]), hide_index=True)

# --- Load ---------------------------------------------------------------------------------
st.subheader("Load a bundle")
can_import = roles.can(session.current_role(), "import")
if not can_import:
    st.caption(f"Your role ({session.current_role()}) can view data but not import it.")
tab_upload, tab_path = st.tabs(["Upload files", "Server path"])
with tab_upload:
    uploads = st.file_uploader(
        "The bundle's CSV files (recommendations.csv required), one .zip, or one .xlsx",
        type=["csv", "zip", "xlsx"],
        accept_multiple_files=True,
        key="data_upload",
        disabled=not can_import,
        help="Up to 1 GB per file (.streamlit/config.toml); a zip of the CSVs is smaller. "
        "Larger bundles: put them on the server and use the Server path tab.",
    )
with tab_path:
    server_path = st.text_input(
        "Folder, .zip or .xlsx in the server's import folder",
        key="data_path",
        disabled=not can_import,
        help="Paths outside the configured import folders (WORKBENCH_IMPORT_DIRS; by default "
        "imports/ beside the store) are refused.",
    )
c1, c2 = st.columns(2)
tz = c1.text_input("Time zone for timestamps without an offset", value="UTC", key="data_tz")
strict = c2.checkbox("Strict: write nothing if any row is bad", key="data_strict")

if st.button("Check and load", type="primary", key="data_load", disabled=not can_import):
    source: str | dict[str, bytes] | None = None
    problem = None
    if uploads:
        total = sum(f.size for f in uploads)
        if total > MAX_UPLOAD_BYTES:
            problem = (
                f"The upload is {total / 1024**2:,.0f} MB; at most {MAX_UPLOAD_BYTES / 1024**2:,.0f} "
                "MB load through the browser. Put larger bundles in the import folder."
            )
        else:
            source = {f.name: f.getvalue() for f in uploads}
    elif server_path.strip():
        try:
            source = str(confined_path(server_path, cache.current_url()))
        except BundleError as exc:
            problem = escape_markdown(exc)  # the path as typed: shown as text
    if problem is not None:
        # Shown as the last load's outcome: the previous load's result no longer stands in.
        st.session_state["data_last_error"] = problem
        st.session_state.pop("data_last_report", None)
    elif source is None:
        st.error("Choose files to upload or give a server path first.")
    else:
        failure: str | None = None
        with st.status("Checking the bundle against the data contract…", expanded=True) as status:
            bar = st.progress(0.0)
            try:
                report = load_bundle(
                    source,
                    engine=engine,
                    tz=tz.strip() or "UTC",
                    strict=strict,
                    actor=session.current_user(),
                    role=session.current_role(),
                    progress=lambda msg, frac: bar.progress(min(frac, 1.0), text=msg),
                )
            except BundleError as exc:
                status.update(label="The bundle could not be read", state="error")
                failure = (
                    f"The bundle could not be read, so nothing was loaded: {escape_markdown(exc)}"
                )
                report = None
            except Exception as exc:  # noqa: BLE001 - shown to the user; the load rolled back
                status.update(label="Load failed; nothing was written", state="error")
                failure = (
                    f"The load failed and nothing was written: {type(exc).__name__}: "
                    f"{escape_markdown(exc)}"
                )
                report = None
            if report is not None:
                state = (
                    "error"
                    if report.strict_failed
                    else ("complete" if not report.rejected else "error")
                )
                label = (
                    f"Strict mode: {report.n_rejected_rows:,} bad rows and "
                    f"{len(report.file_problems):,} file findings, nothing written"
                    if report.strict_failed
                    else f"Loaded {sum(report.loaded.values()):,} rows; {report.n_rejected_rows:,} rejected"
                )
                status.update(label=label, state=state)
                st.session_state["data_last_report"] = report.to_json()
                st.session_state.pop("data_last_error", None)
                cache.clear_after_write()
        if failure is not None:
            # The failed attempt is the last load now: its reason goes where the last
            # load's result is shown, not under an earlier load's table.
            st.session_state["data_last_error"] = failure
            st.session_state.pop("data_last_report", None)
        # The counts and health above were drawn before the load: draw the page again.
        st.rerun()

# The analyses of a new version build in the background after a load: nobody waits for them.
session.build_status()

if failed := st.session_state.get("data_last_error"):
    st.markdown("**Last load**")
    st.error(failed, icon=":material/error:")
last = st.session_state.get("data_last_report")
if last:
    st.markdown("**Last load**")
    summary = pd.DataFrame({"loaded": last["loaded"], "unchanged": last["unchanged"]})
    st.dataframe(summary, key="data_last_summary")
    if last.get("file_problems"):
        st.warning(
            f"{len(last['file_problems']):,} file-level findings: files, sheets or columns "
            "not read, or files refused as a whole."
        )
        st.dataframe(
            pd.DataFrame(last["file_problems"]), hide_index=True, key="data_last_file_problems"
        )
    if not last["rejected"]:
        st.success(
            f"Loaded {sum(last['loaded'].values()):,} rows "
            f"({sum(last['unchanged'].values()):,} already stored, unchanged); no row was rejected."
        )
    if last["rejected"]:
        rejected = pd.DataFrame(last["rejected"])
        st.error(
            f"{len(rejected):,} problems in {rejected[['table', 'row']].drop_duplicates().shape[0]:,} rows — "
            "kept in quarantine, not loaded."
        )
        st.dataframe(rejected, hide_index=True, key="data_last_rejected")
        st.download_button(
            "Download the rejection report (CSV)",
            lambda: safe_csv(rejected),  # built when clicked
            "rejected_rows.csv",
            "text/csv",
            key="data_dl_rejected",
            on_click="ignore",
        )

# --- History and quarantine ---------------------------------------------------------------
st.subheader("Import history and quarantine")
batches = import_batches(engine)
if batches.empty:
    session.empty_state("No imports yet.")
else:
    hist = batches.assign(
        loaded=batches["loaded"].map(lambda d: sum(d.values())),
        unchanged=batches["unchanged"].map(lambda d: sum(d.values())),
    )[["id", "started_at", "loaded_by", "source", "tz", "loaded", "unchanged", "n_rejected"]]
    st.dataframe(
        hist,
        hide_index=True,
        key="data_history",
        column_config={
            "id": st.column_config.NumberColumn("Import", format="%d"),
            "started_at": st.column_config.DatetimeColumn(
                "Started (UTC)", format="YYYY-MM-DD HH:mm"
            ),
            "loaded_by": "By",
            "source": "Source",
            "tz": "Zone for naive times",
            "loaded": st.column_config.NumberColumn("Rows loaded", format="%d"),
            "unchanged": st.column_config.NumberColumn("Already stored", format="%d"),
            "n_rejected": st.column_config.NumberColumn("Rows rejected", format="%d"),
        },
    )
    q = quarantine(engine) if can_import else quarantine_summary(engine)
    if q.empty:
        st.success("Quarantine is empty: every row of every import passed the contract.")
    elif not can_import:
        st.caption(
            f"Quarantined rows keep what the file held, which can be anything the file held "
            f"(a server path once put a line of a system file there); so their values and "
            f"reasons are shown only to roles that may load data, not to yours "
            f"({session.current_role()}). How many rows each import left, by table and column:"
        )
        st.dataframe(q, hide_index=True, key="data_quarantine_summary")
    else:
        pick = st.selectbox(
            "Quarantined rows of import",
            ["all", *sorted(q["batch_id"].unique(), reverse=True)],
            key="data_q_batch",
        )
        shown = q if pick == "all" else q[q["batch_id"] == pick]
        st.dataframe(shown, hide_index=True, key="data_quarantine")
        st.download_button(
            "Download quarantine (CSV)",
            lambda: safe_csv(shown),  # built when clicked
            "quarantine.csv",
            "text/csv",
            key="data_dl_quarantine",
            on_click="ignore",
        )
