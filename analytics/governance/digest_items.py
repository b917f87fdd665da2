"""The items a digest lists (one open recommendation each) and the deep links they carry.

A deep link opens the workbench on the thing to act on — ``APP/why?rec=REC_ID`` (the
Why page with its decision form) or ``APP/overrides?rule=RULE_ID`` — and carries
nothing else: no credential, no action. Acting still needs a signed-in user with
the right role.
"""

from __future__ import annotations

import math
import urllib.parse
from typing import Any

import numpy as np
import pandas as pd

from analytics.shared.lookups import id_positions

DUE_SOON_H = 4.0
REC_PAGE = "why"
RULE_PAGE = "overrides"


def deep_link(app_url: str | None, page: str, **params: str) -> str | None:
    """``app_url/page?k=v`` with the values URL-encoded; None without an ``app_url``."""
    if not app_url:
        return None
    query = urllib.parse.urlencode(params, quote_via=urllib.parse.quote)
    return f"{app_url.rstrip('/')}/{page}" + (f"?{query}" if query else "")


def rec_url(app_url: str | None, rec_id: str) -> str | None:
    """The link that opens the Why page on ``rec_id``."""
    return deep_link(app_url, REC_PAGE, rec=str(rec_id))


def rule_url(app_url: str | None, rule_id: str) -> str | None:
    """The link that opens the Override patterns page on rule ``rule_id``."""
    return deep_link(app_url, RULE_PAGE, rule=str(rule_id))


def open_recommendations(recommendations: pd.DataFrame, decisions: pd.DataFrame) -> pd.DataFrame:
    """The recommendations with no decision row (open), in their order.

    A digest only lists open recommendations, so judging just these (a few percent of a
    year's log) keeps a million-row digest to about a second.
    """
    if decisions.empty:
        return recommendations
    decided = id_positions(decisions["rec_id"], recommendations["rec_id"]) >= 0
    return recommendations[~decided]


def num(value: Any) -> float | None:
    """A JSON-able rounded float, None for missing or NaN."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    f = float(value)
    return None if math.isnan(f) else round(f, 2)


def text(value: Any) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def by_impact(rows: pd.DataFrame, n: int | None = None) -> pd.DataFrame:
    """Rows of ``decision_status`` largest ``est_impact_usd`` first (unknown last), then oldest."""
    out = rows.sort_values(
        ["est_impact_usd", "created_at", "rec_id"],
        ascending=[False, True, True],
        na_position="last",
        kind="stable",
    )
    return out if n is None else out.head(n)


def due_soon(
    open_rows: pd.DataFrame, *, now: pd.Timestamp, within_h: float = DUE_SOON_H
) -> pd.DataFrame:
    """Open recommendations inside their SLA that fall due within ``within_h`` hours of ``now``,
    soonest first (then largest impact)."""
    hours_left = (open_rows["due_at"] - now).dt.total_seconds() / 3600.0
    mask = (hours_left > 0) & (hours_left <= within_h)
    rows = open_rows[mask.to_numpy(dtype=bool, na_value=False)]
    return rows.sort_values(
        ["due_at", "est_impact_usd", "rec_id"],
        ascending=[True, False, True],
        na_position="last",
        kind="stable",
    )


def rec_items(
    rows: pd.DataFrame, *, now: pd.Timestamp, app_url: str | None = None
) -> list[dict[str, Any]]:
    """JSON-able items from rows of ``decision_status``.

    Each has ``rec_id, rec_type, site, sku, est_impact_usd, owner, escalation_to,
    hours_open, hours_overdue, due_at`` (ISO, None without an SLA), ``hours_to_due``
    (positive while inside the SLA) and ``url`` (None without an ``app_url``).
    """
    if rows.empty:
        return []
    hours_open = ((now - rows["created_at"]).dt.total_seconds() / 3600.0).to_numpy()
    hours_to_due = ((rows["due_at"] - now).dt.total_seconds() / 3600.0).to_numpy(
        dtype="float64", na_value=np.nan
    )
    items = []
    for i, r in enumerate(rows.itertuples(index=False)):
        due = r.due_at
        items.append(
            {
                "rec_id": str(r.rec_id),
                "rec_type": str(r.rec_type),
                "site": str(r.site),
                "sku": text(r.sku),
                "est_impact_usd": num(r.est_impact_usd),
                "owner": text(r.owner),
                "escalation_to": text(r.escalation_to),
                "hours_open": num(hours_open[i]),
                "hours_overdue": num(r.hours_overdue),
                "due_at": None if pd.isna(due) else pd.Timestamp(due).isoformat(),
                "hours_to_due": num(hours_to_due[i]) if hours_to_due[i] > 0 else None,
                "url": rec_url(app_url, str(r.rec_id)),
            }
        )
    return items


def usd(value: float | None) -> str:
    return "impact unknown" if value is None else f"${value:,.0f}"


def item_line(r: dict[str, Any]) -> str:
    """One item as a line: id, type @ site, impact, owner and how late or how soon due."""
    if r.get("hours_overdue") is not None:
        when = f", {r['hours_overdue']:,.0f} h past SLA"
    elif r.get("hours_to_due") is not None:
        when = f", due in {r['hours_to_due']:,.1f} h"
    else:
        when = ""
    who = r["owner"] or "no owner"
    sku = f" {r['sku']}" if r.get("sku") else ""
    return f"{r['rec_id']} {r['rec_type']} @ {r['site']}{sku}: {usd(r['est_impact_usd'])} — {who}{when}"
