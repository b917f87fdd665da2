"""Override patterns: what planners know that the model does not, and whether it paid off."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analytics.charts_overrides import (
    rule_monitor_figure,
    stockout_figure,
    theme_size_figure,
    theme_trend_figure,
    value_added_band_figure,
    value_added_group_figure,
)
from analytics.override_log import describe_conditions
from analytics.override_report import CANDIDATE, theme_rows
from analytics.rule_evidence import supporting_rows
from analytics.theme_views import capture_gap, theme_concentration, theme_trend
from analytics.value_added import coaching_flags
from pages import cache, ui
from store import roles
from store.rules_store import STATUSES, RuleStatusError, rule_history, set_rule_status

DRILL_COLUMNS = [
    "rec_id",
    "created_at",
    "rec_type",
    "site",
    "sku",
    "supplier",
    "customer",
    "resource",
    "decided_by",
    "decision",
    "adjustment_pct",
    "reason",
    "actual_qty",
]
GAP_TARGET = 0.10

st.title("Override patterns")
st.caption(
    "Which undocumented rules planners apply, in their own words, and whether those overrides "
    "ended closer to what actually happened than the recommendation. Built for the S&OP review: "
    "write the good rules into the system, coach the costly habits away."
)

frames = cache.get_frames()
if frames.decisions.empty:
    ui.empty_state(
        "No decisions in the store yet, so there are no overrides to learn from.",
        hint="Load decisions.csv (with reasons) on the **Data** page.",
    )
    st.stop()

with st.expander("Mining settings"):
    left, right = st.columns(2)
    min_support_in = left.number_input(
        "Minimum support (overrides)",
        min_value=0,
        value=0,
        step=5,
        key="overrides_min_support",
        help="Fewest overrides a rule must explain. 0 = automatic (10, or 0.1% of overrides).",
    )
    max_conditions = right.segmented_control(
        "Conditions per rule (at most)",
        [1, 2, 3],
        default=3,
        key="overrides_max_conditions",
        required=True,
    )
min_support = int(min_support_in) or None
settings = (min_support, int(max_conditions), 0)

analysis = cache.override_analysis(min_support=min_support, max_conditions=int(max_conditions))
log = analysis.log
if not log["is_override"].any():
    ui.empty_state("No overrides (modified or rejected decisions) yet: nothing to learn from.")
    st.stop()

url, version = cache.current_url(), frames.version
values = cache.override_value_tables(url, version, *settings)
status_version = cache.rule_status_version()
statuses = cache.rule_statuses(url, status_version)
status_of = dict(zip(statuses["rule_key"], statuses["status"], strict=True))
labels = {0: "no reason given", **analysis.theme_labels()}
gap = capture_gap(log).iloc[0]
overall = values["overall"].iloc[0]
stock = values["stockout"].set_index("group")

n_decided = len(log)
c1, c2, c3, c4, c5 = st.columns(5)
c1.metric(
    "Overrides",
    f"{int(gap['n_overrides']):,}",
    help=f"{gap['n_overrides'] / n_decided:.0%} of {n_decided:,} decided recommendations",
)
c2.metric(
    "Reason capture gap",
    f"{gap['gap']:.0%}",
    delta_color="off",
    delta=f"target ≤ {GAP_TARGET:.0%}",
    help="Overrides with no reason: the earliest sign that a deployment is failing.",
)
c3.metric("Reason themes", f"{len(analysis.themes) - 1}")
c4.metric(
    "Candidate rules",
    f"{len(analysis.rules):,}",
    help=f"Minimum support {analysis.min_support} overrides.",
)
c5.metric(
    "Value added per override",
    f"{overall['value_added']:+,.1f} units",
    help=f"90% CI {overall['ci_low']:+,.1f} to {overall['ci_high']:+,.1f}, over "
    f"{int(overall['n_scored']):,} overrides with an outcome. Positive: people improved "
    "on the model.",
)
st.caption(
    f"Value added: **{overall['verdict']}**; win rate {overall['win_rate']:.0%}. Stockouts after "
    f"overrides {stock.at['overridden', 'stockout_rate']:.1%} vs after acceptances "
    f"{stock.at['accepted', 'stockout_rate']:.1%} "
    f"({stock.at['overridden', 'vs_accepted']:+.1f} points)."
)

tab_themes, tab_rules, tab_value, tab_adopted = st.tabs(
    ["Reason themes", "Candidate rules", "Did it pay off?", "Adopted rules"]
)

with tab_themes:
    themes = analysis.themes.copy()
    left, right = st.columns(2)
    left.plotly_chart(theme_size_figure(themes), key="overrides_theme_sizes")
    right.plotly_chart(theme_trend_figure(theme_trend(log, labels=labels)), key="overrides_trend")
    themes["representatives"] = themes["representatives"].map(" | ".join)
    st.dataframe(
        themes.drop(columns=["terms"]),
        hide_index=True,
        key="overrides_themes_table",
        column_config={"share": st.column_config.NumberColumn("share", format="percent")},
    )
    st.markdown("**Reason capture gap by planner** — a coaching prompt, not a score.")
    st.dataframe(
        capture_gap(log, by="decided_by").sort_values("gap", ascending=False),
        hide_index=True,
        key="overrides_gap_by_planner",
        column_config={"gap": st.column_config.NumberColumn("gap", format="percent")},
    )
    pick = st.selectbox(
        "Drill into a theme",
        themes["theme_id"].tolist(),
        key="overrides_theme_pick",
        format_func=lambda t: f"{t} · {labels.get(t, t)}",
    )
    st.dataframe(
        theme_concentration(log, labels=labels).query("theme_id == @pick"),
        hide_index=True,
        key="overrides_theme_concentration",
    )
    behind = log.loc[log["theme_id"] == pick, DRILL_COLUMNS]
    st.caption(f"{len(behind):,} overrides in this theme")
    st.dataframe(behind, hide_index=True, key="overrides_theme_rows")
    d1, d2 = st.columns(2)
    d1.download_button(
        "Themes (CSV)", themes.to_csv(index=False), "themes.csv", key="overrides_dl_themes"
    )
    d2.download_button(
        "Override → theme (CSV)",
        theme_rows(analysis).to_csv(index=False),
        "theme_assignments.csv",
        key="overrides_dl_assignments",
    )

with tab_rules:
    rules = analysis.rules.copy()
    rules["status"] = [status_of.get(r, CANDIDATE) for r in rules["id"]]
    rules["rule"] = rules["conditions"].map(describe_conditions)
    shown = st.multiselect(
        "Show",
        [CANDIDATE, *STATUSES],
        default=[CANDIDATE, "watch", "adopted"],
        key="overrides_status_filter",
    )
    view = rules[rules["status"].isin(shown)]
    if view.empty:
        ui.empty_state(
            "No rules with these statuses.",
            hint="Lower the minimum support or change the status filter.",
        )
    cols = [
        "id",
        "rule",
        "direction",
        "median_adjustment_pct",
        "support",
        "coverage",
        "confidence",
        "lift",
        "value_added",
        "win_rate",
        "verdict",
        "theme_label",
        "status",
        "first_seen",
        "last_seen",
    ]
    st.dataframe(
        view[cols],
        hide_index=True,
        key="overrides_rules_table",
        column_config={
            "median_adjustment_pct": st.column_config.NumberColumn("median adj. %", format="%.1f"),
            "confidence": st.column_config.NumberColumn("confidence", format="percent"),
            "lift": st.column_config.NumberColumn("lift", format="%.1f×"),
            "value_added": st.column_config.NumberColumn("value added", format="%+.1f"),
            "win_rate": st.column_config.NumberColumn("win rate", format="percent"),
        },
    )
    export = rules.drop(columns=["also"]).assign(conditions=rules["rule"])
    st.download_button(
        "Rules (CSV)", export.to_csv(index=False), "rules.csv", key="overrides_dl_rules"
    )
    if not view.empty:
        rid = st.selectbox(
            "Evidence for rule",
            view["id"].tolist(),
            key="overrides_rule_pick",
            format_func=lambda r: (
                f"{rules.set_index('id').at[r, 'rule']} → "
                f"{rules.set_index('id').at[r, 'direction']}"
            ),
        )
        rule = rules.set_index("id").loc[rid]
        st.markdown(
            f"**{rule['rule']} → {rule['direction']}** · {rule['support']:,} of "
            f"{rule['coverage']:,} matching recommendations overridden this way "
            f"({rule['confidence']:.0%}, {rule['lift']:.1f}× the base rate) · median adjustment "
            f"{rule['median_adjustment_pct']:+.1f}% · seen {rule['first_seen']:%Y-%m-%d} to "
            f"{rule['last_seen']:%Y-%m-%d}  \nTheme **{rule['theme_label']}**; "
            f"{rule['reason_share']:.0%} gave a reason. Value added {rule['value_added']:+,.1f} "
            f"units per override (90% CI {rule['ci_low']:+,.1f} to {rule['ci_high']:+,.1f}), "
            f"win rate {rule['win_rate']:.0%}: **{rule['verdict']}**."
        )
        for reason in rule["example_reasons"]:
            st.markdown(f"> {reason}")
        if rule["also"]:
            st.caption(
                "Also seen as: " + "; ".join(describe_conditions(c) for c in rule["also"][:5])
            )
        pos = supporting_rows(log, rule["conditions"], rule["direction"])
        st.dataframe(log.iloc[pos][DRILL_COLUMNS], hide_index=True, key="overrides_rule_rows")

        engine = cache.current_engine()
        allowed = roles.can(ui.current_role(), "rule_status")
        current = statuses.set_index("rule_key").loc[rid] if rid in status_of else None
        st.markdown(
            f"Status: **{status_of.get(rid, CANDIDATE)}**"
            + (
                f" — by {current['updated_by']} on {current['updated_at']:%Y-%m-%d %H:%M} UTC"
                f"; owner {current['owner'] or '—'}; note: {current['note'] or '—'}"
                if current is not None
                else ""
            )
        )
        with st.form("overrides_rule_form"):
            new_status = st.radio("Mark as", STATUSES, horizontal=True, key="overrides_new_status")
            owner = st.text_input("Owner (adopted)", key="overrides_owner")
            note = st.text_area(
                "Note: how to encode it (adopted) / why (dismissed)", key="overrides_note"
            )
            submitted = st.form_submit_button("Save", disabled=not allowed)
        if not allowed:
            st.caption("Only an S&OP lead or admin may change a rule's status.")
        if submitted:
            try:
                set_rule_status(
                    engine,
                    rule_key=rid,
                    conditions=rule["conditions"],
                    direction=rule["direction"],
                    status=new_status,
                    owner=owner,
                    note=note,
                    actor=ui.current_user(),
                    role=ui.current_role(),
                )
            except (RuleStatusError, roles.PermissionDenied) as exc:
                st.error(str(exc))
            else:
                st.rerun()
        history = rule_history(engine, rid)
        if not history.empty:
            st.dataframe(history[["at", "actor", "action"]], hide_index=True, key="overrides_hist")

with tab_value:
    st.caption(
        "Value added = mean |recommended − actual| − mean |final − actual| over overrides with an "
        "outcome: positive means the override ended closer to what happened. Intervals are 90% "
        "bootstrap; a group is flagged only when the whole interval is below zero. These are "
        "prompts for a coaching conversation about habits, not a ranking of people."
    )
    st.plotly_chart(value_added_band_figure(values["band"]), key="overrides_va_band")
    left, right = st.columns(2)
    left.plotly_chart(
        value_added_group_figure(values["planner"], name_column="decided_by", title="By planner"),
        key="overrides_va_planner",
    )
    theme_va = values["theme"].assign(theme=lambda t: t["theme_id"].map(labels))
    right.plotly_chart(
        value_added_group_figure(theme_va, name_column="theme", title="By theme"),
        key="overrides_va_theme",
    )
    left.plotly_chart(
        value_added_group_figure(
            values["rec_type"], name_column="rec_type", title="By recommendation type"
        ),
        key="overrides_va_type",
    )
    right.plotly_chart(stockout_figure(values["stockout"]), key="overrides_stockouts")
    flagged = pd.concat(
        [
            coaching_flags(values["planner"], name_column="decided_by").assign(
                kind="planner", name=lambda t: t["decided_by"].astype(str)
            ),
            coaching_flags(analysis.rules, name_column="id").assign(
                kind="rule",
                name=lambda t: t["conditions"].map(describe_conditions) + " → " + t["direction"],
            ),
        ],
        ignore_index=True,
    )
    st.markdown(f"**Costing more than they saved** ({len(flagged)})")
    for row in flagged.itertuples():
        st.markdown(f"- {row.kind} **{row.name}**: {row.effect}")

with tab_adopted:
    monitor = cache.adopted_rule_monitor(url, version, status_version, *settings)
    adopted = statuses[statuses["status"] == "adopted"] if not statuses.empty else statuses
    if adopted.empty:
        ui.empty_state(
            "No adopted rules yet.",
            hint="Adopt a candidate on the **Candidate "
            "rules** tab to follow its support and value added quarter by quarter.",
        )
    for row in adopted.itertuples():
        per_q = monitor[monitor["rule_key"] == row.rule_key]
        title = f"{describe_conditions(row.conditions)} → {row.direction}"
        st.markdown(
            f"**{title}** · owner {row.owner} · adopted by {row.updated_by} on "
            f"{row.updated_at:%Y-%m-%d}  \nEncoding: {row.note}"
        )
        st.plotly_chart(
            rule_monitor_figure(per_q, title="Support and value added by quarter"),
            key=f"overrides_monitor_{row.rule_key}",
        )
