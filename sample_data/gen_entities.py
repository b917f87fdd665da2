"""Entities and recommendations: who and what each rec is about, when, and how much.

Calendar, suppliers/SKUs/customers, the recs themselves (sorted by created_at),
which entity columns each rec type fills, recommended quantities, and timing
(detection, response, expiry against the owners' SLA).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sample_data.gen_io import _codes, _to_epoch_s
from sample_data.gen_world import (
    LINES_PER_SITE,
    N_CUSTOMERS,
    N_SUPPLIERS,
    OWNERS_ROWS,
    QTY_TYPES,
    REC_TYPES,
    SECONDS_PER_DAY,
    SECONDS_PER_HOUR,
    SITE_OFFSET_MIN,
    SITE_WEIGHTS,
    SITES,
    TYPE_RESPONSE_FACTOR,
    TYPE_WEIGHTS,
    UNOWNED_EXPIRY_HOURS,
    UNOWNED_TYPES,
)


def _weighted_pick(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    """Draw ``n`` indices with the given (unnormalised) weights."""
    p = np.asarray(weights, dtype=float)
    return rng.choice(len(p), size=n, p=p / p.sum())


def _lognormal_median(
    rng: np.random.Generator, median: np.ndarray | float, sigma: float, n: int
) -> np.ndarray:
    return np.asarray(median) * np.exp(rng.normal(0.0, sigma, n))


def _calendar(start: str, end: str, go_live: str) -> dict[str, Any]:
    days = np.arange(np.datetime64(start, "D"), np.datetime64(end, "D") + 1)
    return {
        "days": days,
        "go_live_day": np.datetime64(go_live, "D"),
        "go_live_s": _to_epoch_s(go_live),
        "end_s": _to_epoch_s(end) + SECONDS_PER_DAY - 1,
    }


def _quantities(
    rng: np.random.Generator, rec: pd.DataFrame, ent: dict[str, np.ndarray], has_qty: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """recommended_qty and uom; a few SKUs mix EA and CS between rows (data health)."""
    n = len(rec)
    sku = rec["sku"].to_numpy()
    factor = np.array([1.0, 0.8, 0.4, 1.5, 1.2, 0, 0])[rec["rtype"].to_numpy()]
    qty = np.maximum(np.round(ent["sku_demand"][sku] * rng.gamma(3.0, 5.0, n) * factor), 24)
    uom = np.where(ent["sku_kg"][sku], "KG", "EA").astype(object)
    counts = np.bincount(sku[has_qty], minlength=len(ent["sku_code"]))
    top = np.argsort(-counts, kind="stable")[:60]
    mixed = np.sort(rng.choice(top[~ent["sku_kg"][top]], 6, replace=False))
    cs = np.isin(sku, mixed) & (rng.random(n) < 0.35)
    uom[cs] = "CS"
    qty[cs] = np.ceil(qty[cs] / 12)
    qty = np.where(has_qty, qty, np.nan)
    uom = np.where(has_qty, uom, "")
    return qty, uom, [str(ent["sku_code"][i]) for i in mixed]


def _entities(rng: np.random.Generator, rows: int) -> dict[str, np.ndarray]:
    """Suppliers, SKUs (grouped by supplier), customers and their weights."""
    sup_w = rng.gamma(2.0, 1.0, N_SUPPLIERS)
    sup_w = sup_w / sup_w.sum() * 0.92
    sup_w[16] = 0.08  # SUP-017 is a big supplier so rule R1 has support.
    cust_w = 1.0 / np.arange(1, N_CUSTOMERS + 1) ** 0.7
    cust_w = rng.permutation(cust_w)
    cust_w = cust_w / cust_w.sum() * 0.96
    cust_w[41] = 0.04  # CUST-042 is a key account (rule R2).

    n_sku = max(80, int(round(1500 * np.sqrt(rows / 20000))))
    extra = rng.choice(N_SUPPLIERS, n_sku - N_SUPPLIERS, p=sup_w / sup_w.sum())
    sku_supplier = np.sort(np.concatenate([np.arange(N_SUPPLIERS), extra]))
    sku_count = np.bincount(sku_supplier, minlength=N_SUPPLIERS)
    sku_first = np.concatenate([[0], np.cumsum(sku_count)[:-1]])
    return {
        "sup_w": sup_w,
        "cust_w": cust_w,
        "sku_code": _codes("SKU-", rng.permutation(n_sku) + 10001, 5),
        "sku_count": sku_count,
        "sku_first": sku_first,
        "sku_abc": rng.choice(3, n_sku, p=[0.2, 0.3, 0.5]),
        "sku_demand": np.exp(rng.normal(np.log(40.0), 1.0, n_sku)),
        "sku_cost": np.exp(rng.normal(np.log(25.0), 0.8, n_sku)),
        "sku_kg": rng.random(n_sku) < 0.05,  # a few SKUs are stocked in KG throughout
        "sup_otd": 100 * rng.beta(12.0, 2.5, N_SUPPLIERS),
        "sup_lead": rng.uniform(10.0, 60.0, N_SUPPLIERS),
    }


def _day_weights(days: np.ndarray, go_live_day: np.datetime64, rec_type: str) -> np.ndarray:
    """Relative recommendation volume per day: weekdays, AI volume after go-live."""
    dow = (days.astype("datetime64[D]").astype(np.int64) + 3) % 7  # 1970-01-01 was Thu
    by_dow = np.array([1.25, 1.0, 1.0, 1.0, 0.95, 0.3, 0.2])
    if rec_type == "expedite":
        by_dow = by_dow * np.array([1.5, 1, 1, 1, 1, 1, 1])  # weekend backlog lands on Mon
    w = by_dow[dow] * np.where(days >= go_live_day, 1.25, 0.85)
    doy = (days - days.astype("datetime64[Y]")).astype(np.int64)
    return w * (1.0 + 0.1 * np.sin(2 * np.pi * doy / 365.25))


def _recommendations(
    rng: np.random.Generator, rows: int, ent: dict[str, np.ndarray], cal: dict[str, Any]
) -> pd.DataFrame:
    """Core recommendation attributes, sorted by created_at (rec_id follows)."""
    n = rows
    rtype = _weighted_pick(rng, TYPE_WEIGHTS, n)
    site = _weighted_pick(rng, SITE_WEIGHTS, n)
    days = cal["days"]
    day_idx = np.empty(n, dtype=np.int64)
    for t, name in enumerate(REC_TYPES):
        m = rtype == t
        day_idx[m] = _weighted_pick(rng, _day_weights(days, cal["go_live_day"], name), m.sum())
    # Local working hours 08:00-18:00 keep the local date equal to the UTC date for
    # every site offset, so month/quarter/weekday agree however they are derived.
    local_s = rng.integers(8 * SECONDS_PER_HOUR, 18 * SECONDS_PER_HOUR, n)
    day_s = days[day_idx].astype("datetime64[s]").astype(np.int64)
    created = day_s + local_s - SITE_OFFSET_MIN[site] * 60

    order = np.argsort(created, kind="stable")
    rtype, site, created, day_idx = rtype[order], site[order], created[order], day_idx[order]

    supplier = _weighted_pick(rng, ent["sup_w"], n)
    # Popular SKUs within a supplier: u**1.6 skews picks to the first SKUs.
    sku = ent["sku_first"][supplier] + (rng.random(n) ** 1.6 * ent["sku_count"][supplier]).astype(
        np.int64
    )
    customer = _weighted_pick(rng, ent["cust_w"], n)
    line_in_site = _weighted_pick(rng, np.array([0.3, 0.14, 0.14, 0.14, 0.14, 0.14]), n)
    resource = site * LINES_PER_SITE + line_in_site

    dates = days[day_idx]
    month = (dates.astype("datetime64[M]").astype(np.int64) % 12).astype(np.int64)
    weekday = (dates.astype("datetime64[D]").astype(np.int64) + 3) % 7
    return pd.DataFrame(
        {
            "rtype": rtype,
            "site": site,
            "created": created,
            "current": created >= cal["go_live_s"],
            "supplier": supplier,
            "sku": sku,
            "customer": customer,
            "resource": resource,
            "month": month,
            "quarter": month // 3,
            "weekday": weekday,
        }
    )


def _entity_masks(rec: pd.DataFrame) -> dict[str, np.ndarray]:
    """Which entity columns a rec type fills (the rest are empty)."""
    t = rec["rtype"].to_numpy()
    idx = {name: i for i, name in enumerate(REC_TYPES)}

    def is_(*names: str) -> np.ndarray:
        return np.isin(t, [idx[x] for x in names])

    # Expedites name a customer only when a customer order drives them.
    exp_cust = is_("expedite") & (rec["customer"].to_numpy() % 5 < 3)
    qh_res = is_("quality_hold") & (rec["resource"].to_numpy() % 2 == 0)
    return {
        "sku": ~is_("maintenance"),
        "supplier": is_("stockout_risk", "supplier_delay", "expedite", "quality_hold"),
        "customer": is_("demand_revision") | exp_cust,
        "resource": is_("production_reschedule", "maintenance") | qh_res,
        "qty": is_(*QTY_TYPES),
    }


def _timing(
    rng: np.random.Generator, rec: pd.DataFrame, sla_hours: np.ndarray
) -> dict[str, np.ndarray]:
    """Detection latency, response time and expiry, baseline vs current."""
    n = len(rec)
    cur = rec["current"].to_numpy()
    # Detection: old process found exceptions hours later; the AI within minutes,
    # with a few days-long outliers (late feeds).
    det_h = np.where(
        cur,
        _lognormal_median(rng, 8 / 60, 0.8, n),
        _lognormal_median(rng, 6.0, 0.9, n),
    )
    outlier = cur & (rng.random(n) < 0.02)
    det_h = np.where(outlier, rng.uniform(24, 120, n), det_h)
    factor = TYPE_RESPONSE_FACTOR[rec["rtype"].to_numpy()]
    resp_h = np.where(
        cur,
        _lognormal_median(rng, 14.0 * factor, 0.75, n),
        _lognormal_median(rng, 62.0 * factor, 0.65, n),
    )
    unowned = np.isin(rec["rtype"].to_numpy(), [REC_TYPES.index(t) for t in UNOWNED_TYPES])
    p_exp = np.where(cur, 0.04, 0.14) + np.where(unowned, 0.10, 0.0)
    expired = rng.random(n) < p_exp
    resp_h = np.where(expired, sla_hours, resp_h)
    return {
        "signal": rec["created"].to_numpy() - np.round(det_h * SECONDS_PER_HOUR).astype(np.int64),
        "decided": rec["created"].to_numpy() + np.round(resp_h * SECONDS_PER_HOUR).astype(np.int64),
        "expired": expired,
    }


def _sla_hours(rec: pd.DataFrame) -> np.ndarray:
    """The effective SLA per rec (exact site over ``*``), 72 h where no owner exists."""
    sla = np.full(len(rec), UNOWNED_EXPIRY_HOURS)
    rtype, site = rec["rtype"].to_numpy(), rec["site"].to_numpy()
    for exact in (False, True):  # exact-site rows applied last, so they win
        for t, s, _, _, hours in OWNERS_ROWS:
            if (s != "*") != exact:
                continue
            m = rtype == REC_TYPES.index(t)
            if exact:
                m &= site == SITES.index(s)
            sla[m] = hours
    return sla
