"""What the world answers: rec outcomes, customer order lines and weekly KPIs.

Outcomes follow the right rules and punish the wrong ones; orders and KPI periods
carry the baseline -> current improvement (OTIF, expedite cost, stockouts).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sample_data.gen_entities import _weighted_pick
from sample_data.gen_io import _codes, _frame, _iso_local
from sample_data.gen_rules import RULES
from sample_data.gen_world import (
    SECONDS_PER_DAY,
    SECONDS_PER_HOUR,
    SITE_OFFSET_MIN,
    SITE_WEIGHTS,
    SITES,
)


def _outcomes(
    rng: np.random.Generator,
    rec: pd.DataFrame,
    qty: np.ndarray,
    has_qty: np.ndarray,
    dec: dict[str, np.ndarray],
    rule_masks: list[np.ndarray],
) -> dict[str, np.ndarray]:
    """actual_qty, stockout and expedite spend; the world follows the right rules."""
    n = len(rec)
    cur = rec["current"].to_numpy()
    truth = qty * np.exp(rng.normal(0, 0.15, n))  # the model is unbiased elsewhere
    decision = dec["decision"]
    planted = {r["id"]: dec["theme"] == r["id"] for r in RULES}
    stock_p = np.where(cur, 0.05, 0.10) + np.where(decision == "expired", 0.15, 0.0)
    for rule, m in zip(RULES, rule_masks, strict=True):
        if rule["right"] and rule["adjustment_pct"] is not None:
            truth[m] = (
                qty[m] * (1 + rule["adjustment_pct"] / 100) * np.exp(rng.normal(0, 0.06, m.sum()))
            )
        elif rule["right"]:  # right rejection: the move was not needed
            truth[m] = qty[m] * 0.1 * np.exp(rng.normal(0, 0.3, m.sum()))
        else:  # wrong rules: the model was right
            truth[m] = qty[m] * np.exp(rng.normal(0, 0.06, m.sum()))
    # Right rules: following them avoids stockouts, ignoring them causes some.
    r1, r3 = rule_masks[0], rule_masks[2]
    stock_p = np.where((r1 | r3) & (decision == "accepted"), 0.35, stock_p)
    stock_p = np.where(planted["R1"] | planted["R3"], 0.03, stock_p)
    # Wrong rules and noise cuts starve the item.
    stock_p = np.where(planted["R4"], 0.5, stock_p)
    stock_p = np.where(planted["R5"], 0.35, stock_p)
    noise_cut = (dec["theme"] == "noise") & (decision != "modified")
    stock_p = np.where(noise_cut, stock_p + 0.1, stock_p)
    stockout = rng.random(n) < stock_p
    base_exp = np.where(cur, 1.0, 1.4)
    expedite = np.where(
        stockout,
        np.exp(rng.normal(np.log(3000.0), 0.8, n)) * base_exp,
        np.where(rng.random(n) < 0.08, np.exp(rng.normal(np.log(400.0), 0.7, n)), 0.0),
    )
    return {
        "actual": np.where(has_qty, np.round(truth), np.nan),
        "stockout": stockout,
        "expedite": np.round(expedite, 2),
    }


def _orders(
    rng: np.random.Generator, rows: int, cal: dict[str, Any], ent: dict
) -> dict[str, pa.Array]:
    """Customer order lines with OTIF ~88% before go-live, ~94% after."""
    n_lines = rows
    per_order = rng.integers(1, 5, n_lines)  # more than enough orders
    order_of_line = np.repeat(np.arange(n_lines), per_order)[:n_lines]
    line_no = np.arange(n_lines) - np.searchsorted(order_of_line, order_of_line)
    n_orders = int(order_of_line[-1]) + 1
    o_site = _weighted_pick(rng, SITE_WEIGHTS, n_orders)
    o_cust = _weighted_pick(rng, ent["cust_w"], n_orders)
    n_days = len(cal["days"])
    o_day = rng.integers(0, n_days, n_orders)
    site = o_site[order_of_line]
    promised = (
        cal["days"][o_day[order_of_line]].astype("datetime64[s]").astype(np.int64)
        + 17 * SECONDS_PER_HOUR
        - SITE_OFFSET_MIN[site] * 60
    )
    qty = np.maximum(np.round(np.exp(rng.normal(np.log(60), 0.9, n_lines))), 1)
    cur = promised >= cal["go_live_s"]
    ok = rng.random(n_lines) < np.where(cur, 0.94, 0.88)
    late = ~ok & (rng.random(n_lines) < 0.65)
    short = ~ok & ~late
    delivered = promised - rng.integers(0, 3 * SECONDS_PER_DAY, n_lines)
    delivered = np.where(late, promised + rng.integers(1, 10, n_lines) * SECONDS_PER_DAY, delivered)
    qty_del = np.where(short, np.floor(qty * rng.uniform(0.5, 0.95, n_lines)), qty)
    pending = (delivered > cal["end_s"]) | (
        (promised > cal["end_s"] - 14 * SECONDS_PER_DAY) & (rng.random(n_lines) < 0.5)
    )
    sku = rng.integers(0, len(ent["sku_code"]), n_lines)
    return _frame(
        {
            "order_id": _codes("SO-", order_of_line + 1, 7),
            "line": ((line_no + 1) * 10).astype(str).astype(object),
            "site": np.array(SITES, dtype=object)[site],
            "customer": _codes("CUST-", o_cust[order_of_line] + 1, 3),
            "sku": ent["sku_code"][sku],
            "qty_ordered": qty.astype(np.int64),
            "promised_date": _iso_local(promised, site),
            "delivered_date": pc.if_else(
                pa.array(pending), pa.scalar(None, pa.string()), _iso_local(delivered, site)
            ),
            "qty_delivered": pd.array(np.where(pending, np.nan, qty_del), dtype="Int64"),
        }
    )


def _kpi_periods(rng: np.random.Generator, cal: dict[str, Any]) -> dict[str, pa.Array]:
    """Weekly figures per site: expedite % of COGS 4.5% -> 2.8%, fewer stockouts."""
    days = cal["days"]
    monday = days[(days.astype(np.int64) + 3) % 7 == 0]
    weeks = np.repeat(monday, len(SITES))
    site = np.tile(np.arange(len(SITES)), len(monday))
    n = len(weeks)
    cur = weeks >= cal["go_live_day"]
    scale = np.array([3.2e6, 2.8e6, 1.6e6, 1.3e6, 2.1e6])[site]
    doy = (weeks - weeks.astype("datetime64[Y]")).astype(np.int64)
    cogs = scale * (1 + 0.08 * np.sin(2 * np.pi * doy / 365.25)) * rng.normal(1, 0.06, n)
    rate = np.where(cur, rng.normal(0.028, 0.004, n), rng.normal(0.045, 0.006, n))
    # Monthly totals over all sites: ~8 stockouts before go-live, ~2.8 after.
    lam = np.where(cur, 2.8, 8.0) / (len(SITES) * 52 / 12)
    return _frame(
        {
            "period_start": np.datetime_as_string(weeks, unit="D"),
            "site": np.array(SITES, dtype=object)[site],
            "cogs_usd": np.round(cogs, 2),
            "expedite_usd": np.round(cogs * np.clip(rate, 0.003, None), 2),
            "stockout_events": rng.poisson(lam),
            "revenue_usd": np.round(cogs / rng.uniform(0.70, 0.75, n), 2),
        }
    )
